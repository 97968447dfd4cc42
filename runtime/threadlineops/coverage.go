package threadlineops

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/tlerr"
	threadline "github.com/threadline-go/threadline/runtime"
)

// CoverageStatus is the capture state of one table.
type CoverageStatus string

// The coverage states.
const (
	// CoverageCovered: every capture trigger is present and enabled, and
	// the capture function is the expected one (when an expected
	// fingerprint is known).
	CoverageCovered CoverageStatus = "covered"
	// CoverageUncovered: no capture trigger on the table.
	CoverageUncovered CoverageStatus = "uncovered"
	// CoverageDisabled: a capture trigger exists but is disabled
	// (ALTER TABLE … DISABLE TRIGGER; tgenabled 'D', or 'R' which fires
	// only in replica sessions).
	CoverageDisabled CoverageStatus = "disabled"
	// CoverageStale: the installed capture differs from what the current
	// config and schema generate: the capture function's fingerprint is
	// not the expected one (a column added or removed, a config change not
	// migrated), or one of its triggers is missing.
	CoverageStale CoverageStatus = "stale"
	// CoverageMissing: an expected table does not exist.
	CoverageMissing CoverageStatus = "missing"
)

// TableCoverage is the coverage of one table.
type TableCoverage struct {
	// Table is the qualified name in threadline.Filter.Table form ("public.users").
	Table  string `json:"table"`
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Status is the table's capture state.
	Status CoverageStatus `json:"status"`
	// Expected is true when the table was in the expected set: its
	// status then decides CoverageReport.OK.
	Expected bool `json:"expected"`
	// PartitionOf names the root partitioned table of a partition (in
	// Table form); a partition is captured by its root's capture, so its
	// status is the root's unless its own (cloned) triggers are disabled or
	// missing.
	PartitionOf string `json:"partition_of,omitempty"`
	// Function is the capture function the triggers call (schema-qualified,
	// unquoted), "" when uncovered.
	Function string `json:"function,omitempty"`
	// Fingerprint is the installed capture function's fingerprint;
	// ExpectedFingerprint the one compared against ("" when any will do).
	Fingerprint         string `json:"fingerprint,omitempty"`
	ExpectedFingerprint string `json:"expected_fingerprint,omitempty"`
	// Triggers lists the table's capture triggers.
	Triggers []CaptureTrigger `json:"triggers,omitempty"`
	// Detail explains a status other than covered.
	Detail string `json:"detail,omitempty"`
}

// CaptureTrigger is one capture trigger of a table.
type CaptureTrigger struct {
	Name string `json:"name"`
	// Enabled is false for a trigger that does not fire in ordinary
	// sessions (tgenabled 'D' or 'R').
	Enabled bool `json:"enabled"`
}

// CoverageReport is the result of Coverage.
type CoverageReport struct {
	// Schema is the audit schema.
	Schema string `json:"audit_schema"`
	// Tables lists every user table of every non-system schema (the audit
	// schema and extension-owned tables excluded), partitions included, in
	// (schema, name) order; then expected tables that do not exist.
	Tables []TableCoverage `json:"tables"`
	// Counts of tables by status; partitions are not counted (they are
	// attributed to their root).
	Summary CoverageSummary `json:"summary"`
	// Violations are the expected tables, and the partitions of expected
	// tables, whose status is not covered (empty, not nil, when there are
	// none).
	Violations []TableCoverage `json:"violations"`
	// OK is true when there are no violations.
	OK bool `json:"ok"`
	// CheckedAt is when the check ran.
	CheckedAt time.Time `json:"checked_at"`
}

// CoverageSummary counts tables by status.
type CoverageSummary struct {
	Tables    int `json:"tables"`
	Covered   int `json:"covered"`
	Uncovered int `json:"uncovered"`
	Disabled  int `json:"disabled"`
	Stale     int `json:"stale"`
	Ignored   int `json:"ignored"`
	Expected  int `json:"expected"`
	Missing   int `json:"missing"`
}

// ErrCoverage is wrapped by CoverageReport.Err when expected tables are
// not covered.
var ErrCoverage = errors.New("threadline: audit coverage check failed")

// Err returns nil when the report is OK, else an error wrapping
// ErrCoverage that names every violation: the one-liner a health
// endpoint or a startup check needs.
func (r CoverageReport) Err() error {
	if r.OK {
		return nil
	}
	parts := make([]string, len(r.Violations))
	for i, v := range r.Violations {
		parts[i] = v.Table + " " + string(v.Status)
	}
	return fmt.Errorf("%w: %s", ErrCoverage, strings.Join(parts, ", "))
}

// CoverageOptions adjust Coverage. The zero value checks the expected
// tables and reports every other table as it finds it.
type CoverageOptions struct {
	// Fingerprints gives expected fingerprints for tables that are not in
	// the expected set: such a table whose capture differs is reported
	// stale (informative; it does not fail the report). Keys are table
	// names as in threadline.Filter.Table.
	Fingerprints map[string]string
	// Ignored names tables that are not meant to be captured (the
	// threadline CLI passes coverage.ignore_tables of threadline.yaml):
	// such a table without capture is reported ignored instead of
	// uncovered. Names are as in threadline.Filter.Table; a malformed one
	// makes Coverage fail.
	Ignored []string
}

// Coverage reports the capture state of every user table (see
// CoverageReport) by reading the catalog, and checks the expected tables:
// expected maps a table name ("users" for public.users, or
// "schema.table", as threadline.Filter.Table) to the fingerprint its capture
// function must carry, or "" to accept any Threadline capture. The
// report is OK when every expected table exists and is covered.
//
// It needs no generator and no config, so a health endpoint can call it:
//
//	report, err := audit.Coverage(ctx, pool, map[string]string{"users": "", "posts": ""}, threadlineops.CoverageOptions{})
//	if err == nil { err = report.Err() }
//
// The threadline CLI passes the fingerprints the current config and
// schema would generate, so schema drift shows as stale.
func (a Audit) Coverage(ctx context.Context, db threadline.DBTX, expected map[string]string, o CoverageOptions) (CoverageReport, error) {
	start := time.Now()
	r, err := a.coverage(ctx, db, expected, o)
	e := CoverageCheckedEvent{
		Schema: a.schemaName(), Tables: r.Summary.Tables, Covered: r.Summary.Covered, Uncovered: r.Summary.Uncovered,
		Disabled: r.Summary.Disabled, Stale: r.Summary.Stale, Ignored: r.Summary.Ignored, Expected: r.Summary.Expected, Missing: r.Summary.Missing,
		Start: start, Duration: time.Since(start), Err: err,
	}
	for _, v := range r.Violations {
		e.Violations = append(e.Violations, v.Table)
	}
	call(ctx, a.Hooks.CoverageChecked, e)
	return r, err
}

// expectation is a parsed entry of the expected or fingerprint maps.
type expectation struct {
	fingerprint string
	expected    bool
}

func parseExpectations(expected, fingerprints map[string]string) (map[tableName]expectation, error) {
	out := map[tableName]expectation{}
	for _, src := range []struct {
		m        map[string]string
		expected bool
	}{{fingerprints, false}, {expected, true}} {
		for _, k := range slices.Sorted(maps.Keys(src.m)) {
			t, err := parseTableName(k)
			if err != nil {
				return nil, tlerr.Wrap(err, "coverage: expected table")
			}
			out[t] = expectation{fingerprint: src.m[k], expected: src.expected}
		}
	}
	return out, nil
}

func (a Audit) coverage(ctx context.Context, db threadline.DBTX, expected map[string]string, o CoverageOptions) (CoverageReport, error) {
	// Empty lists encode as [], never null.
	r := CoverageReport{Schema: a.schemaName(), CheckedAt: time.Now().UTC(), Tables: []TableCoverage{}, Violations: []TableCoverage{}}
	want, err := parseExpectations(expected, o.Fingerprints)
	if err != nil {
		return r, err
	}
	ignored, err := parseIgnored(o.Ignored)
	if err != nil {
		return r, err
	}
	byName, err := r.readCatalog(ctx, db, want)
	if err != nil {
		return r, err
	}
	r.statuses(byName, ignored)
	r.addMissing(want, byName)
	r.summarize()
	r.OK = len(r.Violations) == 0
	return r, nil
}

// readCatalog appends every user table to r.Tables with its capture
// triggers, and returns the index of each by name.
func (r *CoverageReport) readCatalog(ctx context.Context, db threadline.DBTX, want map[tableName]expectation) (map[tableName]int, error) {
	rows, err := db.Query(ctx, `SELECT n.nspname, c.relname, c.relispartition,
    coalesce(rn.nspname, ''), coalesce(r.relname, ''),
    coalesce(array_agg(t.tgname ORDER BY t.tgname) FILTER (WHERE t.oid IS NOT NULL), '{}'),
    coalesce(array_agg(t.tgenabled::text ORDER BY t.tgname) FILTER (WHERE t.oid IS NOT NULL), '{}'),
    coalesce(array_agg(pn.nspname || '.' || p.proname ORDER BY t.tgname) FILTER (WHERE t.oid IS NOT NULL), '{}'),
    coalesce(array_agg(coalesce(obj_description(p.oid, 'pg_proc'), '') ORDER BY t.tgname) FILTER (WHERE t.oid IS NOT NULL), '{}')
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class AS r ON c.relispartition AND r.oid = pg_catalog.pg_partition_root(c.oid)
LEFT JOIN pg_catalog.pg_namespace AS rn ON rn.oid = r.relnamespace
LEFT JOIN (pg_catalog.pg_trigger AS t
    JOIN pg_catalog.pg_proc AS p ON p.oid = t.tgfoid
    JOIN pg_catalog.pg_namespace AS pn ON pn.oid = p.pronamespace)
  ON t.tgrelid = c.oid AND t.tgname = ANY ($2::text[]) AND pn.nspname = $1
WHERE c.relkind IN ('r', 'p')
  AND n.nspname <> $1
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND left(n.nspname, 8) <> 'pg_temp_' AND left(n.nspname, 14) <> 'pg_toast_temp_'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
GROUP BY c.oid, n.nspname, c.relname, c.relispartition, rn.nspname, r.relname
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`, r.Schema, contract.TriggerNames)
	if err != nil {
		return nil, tlerr.Wrap(err, "coverage: read the catalog")
	}
	defer rows.Close()
	byName := map[tableName]int{}
	for rows.Next() {
		var tc TableCoverage
		var partition bool
		var rootSchema, rootName string
		var names, enabled, funcs, comments []string
		if err := rows.Scan(&tc.Schema, &tc.Name, &partition, &rootSchema, &rootName, &names, &enabled, &funcs, &comments); err != nil {
			return nil, tlerr.Wrap(err, "coverage: read the catalog")
		}
		tn := tableName{Schema: tc.Schema, Name: tc.Name}
		tc.Table = tn.Text()
		if partition {
			tc.PartitionOf = tableName{Schema: rootSchema, Name: rootName}.Text()
		}
		for i, name := range names {
			tc.Triggers = append(tc.Triggers, CaptureTrigger{Name: name, Enabled: enabled[i] != "D" && enabled[i] != "R"})
		}
		if len(funcs) > 0 {
			tc.Function = funcs[0]
			tc.Fingerprint = contract.ParseFingerprint(comments[0])
			for i := range funcs {
				if funcs[i] != funcs[0] {
					tc.Detail = fmt.Sprintf("triggers call different functions (%s, %s)", funcs[0], funcs[i])
				}
			}
		}
		if w, ok := want[tn]; ok {
			tc.Expected, tc.ExpectedFingerprint = w.expected, w.fingerprint
		}
		byName[tn] = len(r.Tables)
		r.Tables = append(r.Tables, tc)
	}
	if err := rows.Err(); err != nil {
		return nil, tlerr.Wrap(err, "coverage: read the catalog")
	}
	return byName, nil
}

// statuses decides the status of every table: roots first, then
// partitions, which take their root's status.
func (r *CoverageReport) statuses(byName map[tableName]int, ignored map[tableName]bool) {
	for i := range r.Tables {
		if r.Tables[i].PartitionOf == "" {
			tableStatus(&r.Tables[i])
			ignoreStatus(&r.Tables[i], ignored)
		}
	}
	for i := range r.Tables {
		t := &r.Tables[i]
		if t.PartitionOf == "" {
			continue
		}
		root, _ := parseTableName(t.PartitionOf)
		if j, ok := byName[root]; ok {
			partitionStatus(t, r.Tables[j])
		}
	}
}

// addMissing appends the expected tables that do not exist.
func (r *CoverageReport) addMissing(want map[tableName]expectation, byName map[tableName]int) {
	var missing []tableName
	for tn, w := range want {
		if _, ok := byName[tn]; !ok && w.expected {
			missing = append(missing, tn)
		}
	}
	sort.Slice(missing, func(i, j int) bool {
		if missing[i].Schema != missing[j].Schema {
			return missing[i].Schema < missing[j].Schema
		}
		return missing[i].Name < missing[j].Name
	})
	for _, tn := range missing {
		r.Tables = append(r.Tables, TableCoverage{
			Table: tn.Text(), Schema: tn.Schema, Name: tn.Name, Status: CoverageMissing, Expected: true,
			ExpectedFingerprint: want[tn].fingerprint, Detail: "no such table",
		})
	}
}

// summarize counts the tables by status and lists the violations.
func (r *CoverageReport) summarize() {
	expectedRoots := map[string]bool{}
	for _, t := range r.Tables {
		if t.Expected {
			expectedRoots[t.Table] = true
		}
	}
	for _, t := range r.Tables {
		if t.Expected {
			r.Summary.Expected++
		}
		// A partition of an expected table counts too: one created after
		// the capture was generated has no TRUNCATE trigger (PostgreSQL
		// clones row triggers to new partitions, not TRUNCATE triggers).
		if (t.Expected || expectedRoots[t.PartitionOf]) && t.Status != CoverageCovered {
			r.Violations = append(r.Violations, t)
		}
		if t.Status == CoverageMissing {
			r.Summary.Missing++
			continue
		}
		if t.PartitionOf != "" {
			continue
		}
		r.Summary.Tables++
		switch t.Status {
		case CoverageCovered:
			r.Summary.Covered++
		case CoverageUncovered:
			r.Summary.Uncovered++
		case CoverageDisabled:
			r.Summary.Disabled++
		case CoverageStale:
			r.Summary.Stale++
		case CoverageIgnored:
			r.Summary.Ignored++
		}
	}
}

// tableStatus sets the status of a table that is not a partition.
func tableStatus(t *TableCoverage) {
	if len(t.Triggers) == 0 {
		t.Status, t.Detail = CoverageUncovered, "no capture trigger"
		return
	}
	if off := disabledTriggers(t.Triggers); off != "" {
		t.Status, t.Detail = CoverageDisabled, "disabled: "+off
		return
	}
	want := contract.Triggers(contract.ModeStatement)
	if hasTrigger(t.Triggers, contract.TriggerRow) {
		want = contract.Triggers(contract.ModeRow)
	}
	if miss := missingTriggers(t.Triggers, want); miss != "" {
		t.Status, t.Detail = CoverageStale, "missing trigger: "+miss
		return
	}
	if t.Detail != "" {
		t.Status = CoverageStale
		return
	}
	if t.ExpectedFingerprint != "" && t.Fingerprint != t.ExpectedFingerprint {
		t.Status = CoverageStale
		if t.Fingerprint == "" {
			t.Detail = "the capture function carries no Threadline fingerprint"
		} else {
			t.Detail = fmt.Sprintf("installed capture %s, current config and schema generate %s: generate and apply a migration", t.Fingerprint, t.ExpectedFingerprint)
		}
		return
	}
	t.Status = CoverageCovered
}

// partitionStatus sets the status of a partition from its root's.
func partitionStatus(t *TableCoverage, root TableCoverage) {
	switch {
	case root.Status != CoverageCovered:
		t.Status, t.Detail = root.Status, "partition of "+root.Table+" ("+string(root.Status)+")"
	case disabledTriggers(t.Triggers) != "":
		t.Status, t.Detail = CoverageDisabled, "disabled on the partition: "+disabledTriggers(t.Triggers)
	case missingTriggers(t.Triggers, contract.Triggers(contract.ModeRow)) != "":
		t.Status, t.Detail = CoverageStale, "missing trigger on the partition: "+missingTriggers(t.Triggers, contract.Triggers(contract.ModeRow))
	default:
		t.Status, t.Detail = CoverageCovered, "captured by "+root.Table
	}
}

func hasTrigger(ts []CaptureTrigger, name string) bool {
	for _, t := range ts {
		if t.Name == name {
			return true
		}
	}
	return false
}

func disabledTriggers(ts []CaptureTrigger) string {
	var off []string
	for _, t := range ts {
		if !t.Enabled {
			off = append(off, t.Name)
		}
	}
	return strings.Join(off, ", ")
}

func missingTriggers(ts []CaptureTrigger, want []string) string {
	var miss []string
	for _, w := range want {
		if !hasTrigger(ts, w) {
			miss = append(miss, w)
		}
	}
	return strings.Join(miss, ", ")
}
