package main

import (
	"strings"
	"testing"
)

// coverage, doctor and -json agree: migration tools' tables and
// coverage.ignore_tables are ignored, not uncovered.
func TestCoverageIgnoredTables(t *testing.T) {
	ddl := projectDDL + `CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL);
CREATE TABLE notes (id int PRIMARY KEY);
`
	cfg := strings.Replace(projectConfig, "  expected_tables: [users, posts, billing.invoices]\n",
		"  expected_tables: [users, posts, billing.invoices]\n  ignore_tables: [scratch]\n", 1)
	p := newProject(t, ddl, cfg)
	code, out, errb := p.cli(t, "coverage")
	expectCode(t, "coverage", code, 0, out, errb)
	want := `TABLE                    STATUS     EXPECTED  DETAIL
billing.invoices         covered    yes       
public.goose_db_version  ignored              goose's version table
public.notes             uncovered            no capture trigger
public.posts             covered    yes       
public.scratch           ignored              in the ignore list (coverage.ignore_tables)
public.users             covered    yes       

6 tables: 3 covered, 1 uncovered, 0 disabled, 0 stale, 2 ignored (partitions counted with their parent)
OK: all 3 expected tables are covered
`
	if out != want {
		t.Errorf("coverage:\n%s\nwant:\n%s", out, want)
	}
	code, out, errb = p.cli(t, "coverage", "-json")
	expectCode(t, "coverage -json", code, 0, out, errb)
	mustContain(t, "coverage -json", out, `"table": "public.goose_db_version",`, `"status": "ignored",`, `"ignored": 2,`)
	code, out, errb = p.cli(t, "doctor")
	expectCode(t, "doctor", code, 0, out, errb)
	mustContain(t, "doctor", out, "PASS  coverage         all 3 expected tables covered (3 of 4 tables covered, 2 ignored)\n")
}
