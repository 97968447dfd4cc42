package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

type continuityArgs struct {
	table           string
	exact, baseline bool
	label           string
	batchSize       int
	asJSON          bool
}

func continuityFlags(fs *flag.FlagSet) func(*cli) int {
	var a continuityArgs
	fs.StringVar(&a.table, "table", "", "check only this table (exit 1 unless its capture is ready)")
	fs.BoolVar(&a.exact, "exact", false, "count rows exactly (count(*)) and count every row without a captured insert")
	fs.BoolVar(&a.baseline, "baseline", false, "also snapshot the current rows (redacted like the capture) into <audit_schema>.audit_baselines")
	fs.StringVar(&a.label, "label", "", `label of the baseline (default "threadline continuity baseline <time>")`)
	fs.IntVar(&a.batchSize, "batch-size", 1000, "rows per baseline batch")
	fs.BoolVar(&a.asJSON, "json", false, "print the report as JSON")
	return func(c *cli) int { return c.continuity(a) }
}

const continuityNote = `History starts at the first audited write. Rows that existed before the capture
triggers were installed (or were written while they were disabled) have no captured
insert: their earlier states were never recorded, and Threadline does not invent them.
A baseline (-baseline) stores their current state, labelled, in audit_baselines,
separate from the captured history in audit_changes.`

func (c *cli) continuity(a continuityArgs) int {
	if a.batchSize <= 0 {
		return c.usageError("-batch-size must be positive")
	}
	if code, ok := c.setup(); !ok {
		return code
	}
	tables := c.cfg.Tables
	if a.table != "" {
		q, err := contract.ParseQualifiedName(a.table, "public")
		if err != nil {
			return c.usageError("-table %q: %v", a.table, err)
		}
		t := c.cfg.TableByName(q)
		if t == nil {
			return c.fail("%s is not an audited table in %s", q, c.configPath)
		}
		tables = []*config.Table{t}
	}
	res, err := c.resolve()
	if err != nil {
		return c.fail("%v", err)
	}
	var specs []threadlineops.ContinuityTable
	for _, t := range tables {
		spec := threadlineops.ContinuityTable{Table: t.Qualified().Text()}
		if capt, ok := res.captures[t.Qualified()]; ok {
			spec.Key = capt.Key
		}
		specs = append(specs, spec)
	}
	report, err := c.ops().Continuity(c.ctx, c.pool, specs, threadlineops.ContinuityOptions{Exact: a.exact})
	if err != nil {
		return c.fail("%v", err)
	}
	var baselines []threadlineops.BaselineResult
	if a.baseline {
		if baselines, err = c.baselines(a, tables, res, report); err != nil {
			return c.fail("%v", err)
		}
	}
	ready := true
	for _, t := range report {
		ready = ready && t.Ready
	}
	if a.asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Tables    []threadlineops.TableContinuity `json:"tables"`
			Baselines []threadlineops.BaselineResult  `json:"baselines,omitempty"`
			Ready     bool                            `json:"ready"`
			Note      string                          `json:"note"`
		}{report, baselines, ready, continuityNote}); err != nil {
			return c.fail("%v", err)
		}
	} else {
		c.printContinuity(report, baselines, a.exact)
	}
	if !ready {
		return 1
	}
	return 0
}

// baselines takes a baseline of each of tables (continuity -baseline).
func (c *cli) baselines(a continuityArgs, tables []*config.Table, res resolved, report []threadlineops.TableContinuity) ([]threadlineops.BaselineResult, error) {
	label := a.label
	if label == "" {
		label = "threadline continuity baseline " + time.Now().UTC().Format(time.RFC3339)
	}
	var out []threadlineops.BaselineResult
	for i, t := range tables {
		capt, ok := res.captures[t.Qualified()]
		if !ok || !report[i].Exists {
			return nil, fmt.Errorf("baseline of %s: the table does not match threadline.yaml: %s", t.Qualified(), res.problems[t.Qualified().Text()])
		}
		p := newProgress(c.stderr, c.env.terminal(c.stderr))
		b, err := c.ops().Baseline(c.ctx, c.pool, threadlineops.BaselineSpec{
			Table: capt.Table.Text(), Key: capt.Key, Exclude: capt.Exclude, Mask: capt.Mask, Placeholder: capt.Placeholder,
			Label: label, BatchSize: a.batchSize,
			Progress: func(n int64) { p.draw(fmt.Sprintf("baseline of %s: %d rows", capt.Table, n)) },
		})
		p.clear()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// printContinuity prints the continuity report for people.
func (c *cli) printContinuity(report []threadlineops.TableContinuity, baselines []threadlineops.BaselineResult, exact bool) {
	for _, t := range report {
		fmt.Fprintf(c.stdout, "%s\n", t.Table)
		if !t.Exists {
			fmt.Fprintf(c.stdout, "  table does not exist\n\n")
			continue
		}
		rows := fmt.Sprintf("about %d (estimate; -exact to count)", t.Rows)
		switch {
		case t.RowsExact:
			rows = fmt.Sprintf("%d", t.Rows)
		case t.Rows < 0:
			rows = "unknown (never analyzed; -exact to count)"
		}
		first := "none yet"
		if t.FirstChangeAt != nil {
			first = t.FirstChangeAt.Format(time.RFC3339Nano)
		}
		predates := "no"
		if t.PredatesCapture {
			predates = "yes"
			if exact {
				predates = fmt.Sprintf("yes, %d rows without a captured insert", t.RowsWithoutOrigin)
			}
		}
		readiness := "ready (triggers present and enabled)"
		if !t.Ready {
			readiness = "NOT READY (" + string(t.Capture) + ")"
		}
		fmt.Fprintf(c.stdout, "  capture:                %s\n", readiness)
		fmt.Fprintf(c.stdout, "  rows:                   %s\n", rows)
		fmt.Fprintf(c.stdout, "  rows predate capture:   %s\n", predates)
		fmt.Fprintf(c.stdout, "  first captured change:  %s\n", first)
		if len(t.Gaps) > 0 {
			fmt.Fprintf(c.stdout, "  breaks in coverage:     %d (engine wal: changes committed in them are not in the trail)\n", len(t.Gaps))
			for _, g := range t.Gaps {
				fmt.Fprintf(c.stdout, "    WAL %s to %s: %s\n", g.From, g.To, gapTimes(g))
			}
		}
		fmt.Fprintf(c.stdout, "  %s\n\n", t.Explanation)
	}
	for _, b := range baselines {
		fmt.Fprintf(c.stdout, "baseline of %s: %d rows in %d batches, label %q, taken at %s (in %s.audit_baselines)\n",
			b.Table, b.Rows, b.Batches, b.Label, b.TakenAt.Format(time.RFC3339), c.cfg.AuditSchema)
	}
	fmt.Fprintln(c.stdout, continuityNote)
}

// gapTimes says why a gap is there and when: the trail's last write
// before it and its detection.
func gapTimes(g threadlineops.CaptureGap) string {
	last := "unknown"
	if g.LastWrittenAt != nil {
		last = g.LastWrittenAt.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s; last written %s, detected %s", g.Reason, last, g.DetectedAt.Format(time.RFC3339Nano))
}
