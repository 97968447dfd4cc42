package threadlineops_test

import (
	"context"
	"testing"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// The tables migration tools keep their state in are ignored, not
// uncovered, in any schema; so are the tables CoverageOptions.Ignored names. An
// expected table is never ignored, nor is one with capture.
func TestCoverageIgnoresMigrationToolTables(t *testing.T) {
	ddl := `
CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);
CREATE SCHEMA atlas_schema_revisions;
CREATE TABLE atlas_schema_revisions.atlas_schema_revisions (version text PRIMARY KEY);
CREATE TABLE schema_version (version int4 NOT NULL);
CREATE SCHEMA app;
CREATE TABLE app.schema_migrations (version text PRIMARY KEY);
CREATE TABLE scratch (id int PRIMARY KEY);
CREATE TABLE staging (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE staging_2026 PARTITION OF staging FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE plain (id int PRIMARY KEY);
`
	db := capturetest.Setup(t, ddl, "  users: {}\n  schema_migrations: {}\n")
	r, err := threadlineops.Audit{}.Coverage(context.Background(), db.Pool,
		map[string]string{"users": "", "app.schema_migrations": ""}, threadlineops.CoverageOptions{Ignored: []string{"scratch", "public.staging"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tc := range r.Tables {
		got = append(got, tc.Table+" "+string(tc.Status)+": "+tc.Detail)
	}
	capturetest.Equal(t, "statuses", got, []string{
		"app.schema_migrations uncovered: no capture trigger",
		"atlas_schema_revisions.atlas_schema_revisions ignored: atlas's revision table",
		"public.goose_db_version ignored: goose's version table",
		"public.plain uncovered: no capture trigger",
		"public.schema_migrations covered: ",
		"public.schema_version ignored: tern's version table",
		"public.scratch ignored: in the ignore list (coverage.ignore_tables)",
		"public.staging ignored: in the ignore list (coverage.ignore_tables)",
		"public.staging_2026 ignored: partition of public.staging (ignored)",
		"public.users covered: ",
	})
	capturetest.Equal(t, "summary", r.Summary, threadlineops.CoverageSummary{Tables: 9, Covered: 2, Uncovered: 2, Ignored: 5, Expected: 2})
	capturetest.Equal(t, "violations", len(r.Violations), 1)
	if err := r.Err(); err == nil || err.Error() != "threadline: audit coverage check failed: app.schema_migrations uncovered" {
		t.Errorf("Err() = %v", err)
	}

	_, err = threadlineops.Audit{}.Coverage(context.Background(), db.Pool, nil, threadlineops.CoverageOptions{Ignored: []string{"a.b.c"}})
	if want := `threadline: coverage: ignored table: invalid filter: table: "a.b.c": want table or schema.table`; err == nil || err.Error() != want {
		t.Errorf("malformed ignored name: %v, want %s", err, want)
	}
}
