package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/runtime/threadlineops"
	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/sqltemplates"
)

func coverageFlags(fs *flag.FlagSet) func(*cli) int {
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(c *cli) int { return c.coverage(*asJSON) }
}

// resolved is what the current config and live schema say about the
// configured tables.
type resolved struct {
	// captures of the tables that resolve, by table.
	captures map[schema.QualifiedName]sqltemplates.Capture
	// fingerprints the generator would install, in Filter.Table form.
	fingerprints map[string]string
	// problems of tables that no longer resolve (dropped table, column
	// named in the config gone), in Filter.Table form.
	problems map[string]string
}

// unresolvable is an expected fingerprint no function carries: a table
// whose config no longer matches the schema is stale.
const unresolvable = "unresolvable"

// resolve loads the live schema of the connected database and resolves
// every configured table on its own, so one broken table does not hide
// the others.
func (c *cli) resolve() (resolved, error) {
	r := resolved{captures: map[schema.QualifiedName]sqltemplates.Capture{}, fingerprints: map[string]string{}, problems: map[string]string{}}
	s, err := schema.LoadLive(c.ctx, c.pool, schema.LiveOptions{ExcludeSchemas: []string{c.cfg.AuditSchema}})
	if err != nil {
		return r, err
	}
	for _, t := range c.cfg.Tables {
		key := t.Qualified().Text()
		capture, err := generator.ResolveTable(c.cfg, t, s)
		if err != nil {
			r.problems[key] = err.Error()
			r.fingerprints[key] = unresolvable
			continue
		}
		u, err := sqltemplates.CaptureUnit(capture)
		if err != nil {
			r.problems[key] = err.Error()
			r.fingerprints[key] = unresolvable
			continue
		}
		r.captures[t.Qualified()] = capture
		r.fingerprints[key] = u.Fingerprint
	}
	return r, nil
}

// checkCoverage runs the coverage check of the config against the
// database: expected_tables must be covered by the capture the current
// config and schema generate; other configured tables are compared too,
// informatively.
func (c *cli) checkCoverage() (threadlineops.CoverageReport, resolved, error) {
	res, expected, err := c.expectations()
	if err != nil {
		return threadlineops.CoverageReport{}, res, err
	}
	rep, err := c.ops().Coverage(c.ctx, c.pool, expected, threadlineops.CoverageOptions{Fingerprints: res.fingerprints, Ignored: c.ignoredTables()})
	if err != nil {
		return rep, res, err
	}
	if err := c.walCoverage(&rep); err != nil {
		return rep, res, err
	}
	for i := range rep.Tables {
		t := &rep.Tables[i]
		if p, ok := res.problems[t.Table]; ok && t.Status != threadlineops.CoverageMissing {
			t.Detail = "threadline.yaml no longer matches the schema: " + p
		}
	}
	for i := range rep.Violations {
		if p, ok := res.problems[rep.Violations[i].Table]; ok && rep.Violations[i].Status != threadlineops.CoverageMissing {
			rep.Violations[i].Detail = "threadline.yaml no longer matches the schema: " + p
		}
	}
	return rep, res, nil
}

// expectations resolves the config against the live schema and returns
// the expected tables (coverage.expected_tables) with the fingerprints
// their captures must carry.
func (c *cli) expectations() (resolved, map[string]string, error) {
	res, err := c.resolve()
	if err != nil {
		return res, nil, err
	}
	expected := map[string]string{}
	for _, n := range c.cfg.Coverage.ExpectedTables {
		q, err := contract.ParseQualifiedName(n.Value, "public")
		if err != nil {
			return res, nil, config.Errorf(n.Pos, "%v", err)
		}
		expected[q.Text()] = res.fingerprints[q.Text()]
	}
	return res, expected, nil
}

// ignoredTables lists coverage.ignore_tables as written.
func (c *cli) ignoredTables() []string {
	out := make([]string, len(c.cfg.Coverage.IgnoreTables))
	for i, n := range c.cfg.Coverage.IgnoreTables {
		out[i] = n.Value
	}
	return out
}

func (c *cli) coverage(asJSON bool) int {
	if code, ok := c.setup(); !ok {
		return code
	}
	rep, _, err := c.checkCoverage()
	if err != nil {
		return c.fail("%v", err)
	}
	if asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return c.fail("%v", err)
		}
	} else {
		printCoverage(c.stdout, rep, len(c.cfg.Coverage.ExpectedTables) == 0)
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// printCoverage prints the aligned table and the summary.
func printCoverage(w io.Writer, rep threadlineops.CoverageReport, noExpected bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tSTATUS\tEXPECTED\tDETAIL")
	for _, t := range rep.Tables {
		exp := ""
		if t.Expected {
			exp = "yes"
		}
		detail := t.Detail
		if t.PartitionOf != "" && t.Status == threadlineops.CoverageCovered {
			detail = "partition, captured by " + t.PartitionOf
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Table, t.Status, exp, detail)
	}
	tw.Flush()
	s := rep.Summary
	fmt.Fprintf(w, "\n%d tables: %d covered, %d uncovered, %d disabled, %d stale, %d ignored (partitions counted with their parent)\n",
		s.Tables, s.Covered, s.Uncovered, s.Disabled, s.Stale, s.Ignored)
	switch {
	case noExpected:
		fmt.Fprintln(w, "coverage.expected_tables is empty: nothing is required (list the tables that must be audited)")
	case rep.OK:
		fmt.Fprintf(w, "OK: all %d expected tables are covered\n", s.Expected)
	default:
		var v []string
		for _, t := range rep.Violations {
			v = append(v, t.Table+" ("+string(t.Status)+")")
		}
		sort.Strings(v)
		fmt.Fprintf(w, "FAIL: %d of %d expected tables are not covered: %s\n", len(rep.Violations), s.Expected, strings.Join(v, ", "))
	}
}

// coveredShare says how many of the tables meant to be audited are: the
// ignored ones (migration tools' tables, coverage.ignore_tables) left
// out.
func coveredShare(s threadlineops.CoverageSummary) string {
	share := fmt.Sprintf("%d of %d tables covered", s.Covered, s.Tables-s.Ignored)
	if s.Ignored > 0 {
		share += fmt.Sprintf(", %d ignored", s.Ignored)
	}
	return share
}
