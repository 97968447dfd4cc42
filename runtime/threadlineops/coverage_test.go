package threadlineops_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/sqltemplates"
)

const coverageDDL = `
CREATE TABLE a_b (id int PRIMARY KEY);
CREATE TABLE axb (id int PRIMARY KEY);
CREATE TABLE plain (id int PRIMARY KEY);
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id int PRIMARY KEY, total int);
CREATE SCHEMA app;
CREATE TABLE app.flags (id int PRIMARY KEY);
CREATE TABLE events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
`

const coverageTables = `  a_b: {}
  billing.invoices: {}
  app.flags: {}
  events: {}
`

// liveFingerprints computes what the current schema of db and the tables
// config would generate, per table, as the CLI does.
func liveFingerprints(t testing.TB, db *pgtest.DB, tablesYAML string) map[string]string {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "threadline.yaml"), []byte("version: 1\nschema:\n  files: [x.sql]\n"+
		"migrations: {dir: m, format: plain}\npackage: {dir: audit}\ntables:\n"+tablesYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.LoadLive(context.Background(), db.Pool, schema.LiveOptions{ExcludeSchemas: []string{"threadline"}})
	if err != nil {
		t.Fatal(err)
	}
	caps, err := generator.Resolve(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range caps {
		u, err := sqltemplates.CaptureUnit(c)
		if err != nil {
			t.Fatal(err)
		}
		out[c.Table.String()] = u.Fingerprint
	}
	return out
}

// statuses renders a report as "table status [partition of] [expected]"
// lines.
func statuses(r threadlineops.CoverageReport) []string {
	var out []string
	for _, tc := range r.Tables {
		s := tc.Table + " " + string(tc.Status)
		if tc.PartitionOf != "" {
			s += " <" + tc.PartitionOf
		}
		if tc.Expected {
			s += " !"
		}
		out = append(out, s)
	}
	return out
}

// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestCoverageStatuses(t *testing.T) {
	db := capturetest.Setup(t, coverageDDL, coverageTables)
	ctx := context.Background()
	a := threadlineops.Audit{}
	fps := liveFingerprints(t, db, coverageTables)

	expected := map[string]string{
		"a_b": "", "axb": "", "billing.invoices": fps["billing.invoices"], "app.flags": "",
		"public.events": fps["public.events"], "nosuch": "",
	}
	r, err := a.Coverage(ctx, db.Pool, expected, threadlineops.CoverageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "fresh install", statuses(r), []string{
		"app.flags covered !", "billing.invoices covered !", "public.a_b covered !", "public.axb uncovered !",
		"public.events covered !", "public.events_2025 covered <public.events", "public.events_2026 covered <public.events",
		"public.plain uncovered", "public.nosuch missing !",
	})

	// Drift: a column added to an audited table after generation, a
	// disabled trigger, a disabled partition trigger.
	db.Exec(t, "ALTER TABLE billing.invoices ADD COLUMN note text")
	db.Exec(t, "ALTER TABLE app.flags DISABLE TRIGGER threadline_capture_update")
	db.Exec(t, "ALTER TABLE events_2026 DISABLE TRIGGER threadline_capture_row")
	drifted := liveFingerprints(t, db, coverageTables)
	if drifted["billing.invoices"] == fps["billing.invoices"] || drifted["public.a_b"] != fps["public.a_b"] {
		t.Fatal("adding a column must change the fingerprint of that table only")
	}
	expected["billing.invoices"] = drifted["billing.invoices"]
	var ev threadlineops.CoverageCheckedEvent
	hooked := a
	hooked.Hooks.CoverageChecked = func(_ context.Context, e threadlineops.CoverageCheckedEvent) { ev = e }
	r, err = hooked.Coverage(ctx, db.Pool, expected, threadlineops.CoverageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "after drift", statuses(r), []string{
		"app.flags disabled !", "billing.invoices stale !", "public.a_b covered !", "public.axb uncovered !",
		"public.events covered !", "public.events_2025 covered <public.events", "public.events_2026 disabled <public.events",
		"public.plain uncovered", "public.nosuch missing !",
	})
	capturetest.Equal(t, "summary", r.Summary, threadlineops.CoverageSummary{Tables: 6, Covered: 2, Uncovered: 2, Disabled: 1, Stale: 1, Expected: 6, Missing: 1})
	capturetest.Equal(t, "ok", r.OK, false)
	var v []string
	for _, x := range r.Violations {
		v = append(v, x.Table)
	}
	// A partition of an expected table whose capture is disabled is a
	// violation too: writes to it go unrecorded.
	capturetest.Equal(t, "violations", v, []string{"app.flags", "billing.invoices", "public.axb", "public.events_2026", "public.nosuch"})
	capturetest.Equal(t, "event", [4]any{ev.Tables, ev.Stale, ev.Missing, ev.Violations}, [4]any{6, 1, 1, v})
	err = r.Err()
	if !errors.Is(err, threadlineops.ErrCoverage) || !strings.Contains(err.Error(), "app.flags disabled, billing.invoices stale, public.axb uncovered, public.events_2026 disabled, public.nosuch missing") {
		t.Fatalf("Err: %v", err)
	}
	inv := r.Tables[1]
	capturetest.Equal(t, "invoices fingerprints", [2]string{inv.Fingerprint, inv.ExpectedFingerprint}, [2]string{fps["billing.invoices"], drifted["billing.invoices"]})
	if !strings.HasPrefix(inv.Function, "threadline.capture_billing_invoices_") || len(inv.Triggers) != 4 {
		t.Fatalf("invoices: %+v", inv)
	}
	if r.Tables[0].Detail != "disabled: threadline_capture_update" {
		t.Fatalf("flags detail: %q", r.Tables[0].Detail)
	}

	// Stale for a table that is not expected is informative; a missing
	// trigger makes a table stale.
	db.Exec(t, "DROP TRIGGER threadline_capture_delete ON a_b")
	r, err = a.Coverage(ctx, db.Pool, map[string]string{"public.events": ""},
		threadlineops.CoverageOptions{Fingerprints: map[string]string{"billing.invoices": drifted["billing.invoices"]}})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "informative", statuses(r), []string{
		"app.flags disabled", "billing.invoices stale", "public.a_b stale", "public.axb uncovered",
		"public.events covered !", "public.events_2025 covered <public.events", "public.events_2026 disabled <public.events",
		"public.plain uncovered",
	})
	capturetest.Equal(t, "a_b detail", r.Tables[2].Detail, "missing trigger: threadline_capture_delete")
	// events is covered, but one of its partitions has capture disabled.
	if r.OK || len(r.Violations) != 1 || r.Violations[0].Table != "public.events_2026" {
		t.Fatalf("events is expected, its partition events_2026 is disabled: %+v", r.Violations)
	}
	db.Exec(t, "ALTER TABLE events_2026 ENABLE TRIGGER threadline_capture_row")
	r, err = a.Coverage(ctx, db.Pool, map[string]string{"public.events": ""}, threadlineops.CoverageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Err() != nil {
		t.Fatalf("only events is expected and it is covered: %+v", r.Violations)
	}
	db.Exec(t, "ALTER TABLE events_2026 DISABLE TRIGGER threadline_capture_row")

	// An uncovered root makes its partitions uncovered.
	db.Exec(t, "DROP TRIGGER threadline_capture_row ON events")
	db.Exec(t, "DROP TRIGGER threadline_capture_truncate ON events")
	r, err = a.Coverage(ctx, db.Pool, nil, threadlineops.CoverageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "partitions of an uncovered root", statuses(r)[4:7], []string{
		"public.events uncovered", "public.events_2025 uncovered <public.events", "public.events_2026 uncovered <public.events",
	})
	if _, err := a.Coverage(ctx, db.Pool, map[string]string{"a.b.c": ""}, threadlineops.CoverageOptions{}); !errors.Is(err, threadline.ErrInvalidFilter) {
		t.Fatalf("bad expected name: %v", err)
	}
}

func TestCoverageOtherAuditSchemaAndSimilarNames(t *testing.T) {
	// The audit schema is excluded by name; a table named like a LIKE
	// pattern is matched exactly.
	db := pgtest.NewDB(t, `CREATE SCHEMA audit; CREATE TABLE audit.x (id int PRIMARY KEY);
		CREATE TABLE "a%b" (id int PRIMARY KEY); CREATE TABLE "aZZb" (id int PRIMARY KEY);`)
	r, err := (threadlineops.Audit{Schema: "audit"}).Coverage(context.Background(), db.Pool, map[string]string{`a%b`: ""}, threadlineops.CoverageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "tables", statuses(r), []string{"public.a%b uncovered !", "public.aZZb uncovered"})
	capturetest.Equal(t, "schema", r.Schema, "audit")
}
