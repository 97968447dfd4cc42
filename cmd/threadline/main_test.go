package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
	"github.com/threadline-go/threadline/schema"
)

const projectDDL = `
CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text, password_hash text);
CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint NOT NULL, title text NOT NULL);
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id bigint PRIMARY KEY, total numeric NOT NULL);
CREATE TABLE scratch (id int PRIMARY KEY);
`

const projectConfig = `version: 1
schema:
  files: [schema.sql]
migrations:
  dir: db/migrations
  format: plain
package:
  dir: internal/audit
  name: audit
tables:
  users:
    exclude: [password_hash]
    mask: [email]
  posts: {}
  billing.invoices: {}
coverage:
  expected_tables: [users, posts, billing.invoices]
retention:
  enabled: true
  keep_days: 30
  batch_size: 2
  max_batches: 100
`

// project is a Threadline project on disk (config, schema, generated
// migrations and package) with its database.
type project struct {
	dir string
	db  *pgtest.DB
}

// newProject writes the project, generates with the real generator,
// creates the database and applies the generated migration. The test's
// working directory becomes the project directory.
func newProject(t *testing.T, ddl, cfgText string, rowsBeforeCapture ...string) *project {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("schema.sql", ddl)
	write("threadline.yaml", cfgText)
	cfg, err := config.Load(filepath.Join(dir, "threadline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	db := pgtest.NewDB(t, append([]string{ddl}, rowsBeforeCapture...)...)
	s, err := schema.LoadLive(context.Background(), db.Pool, schema.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Now: capturetest.Clock, Migrations: map[string][]byte{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := generator.Write(cfg.Migrations.Dir, out.Migrations); err != nil {
		t.Fatal(err)
	}
	if err := generator.Write(cfg.Package.Dir, out.Package); err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Migrations {
		if strings.HasSuffix(f.Path, ".up.sql") {
			db.Exec(t, string(f.Content))
		}
	}
	t.Chdir(dir)
	return &project{dir: dir, db: db}
}

// cli runs the operator CLI with DATABASE_URL pointing at the project's
// database.
func (p *project) cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return p.cliEnv(t, context.Background(), env{}, args...)
}

func (p *project) cliEnv(t *testing.T, ctx context.Context, e env, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e.getenv = func(k string) string {
		if k == "DATABASE_URL" && p != nil {
			return p.db.URL
		}
		return ""
	}
	code = runEnv(ctx, args, &out, &errb, e)
	return code, out.String(), errb.String()
}

func expectCode(t *testing.T, what string, code, want int, stdout, stderr string) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, code, want, stdout, stderr)
	}
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

// seed writes attributed history into the project's tables.
func (p *project) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	err := threadline.InTx(ctx, p.db.Pool, threadline.TxOptions{Actor: threadline.Admin("ops"), CorrelationID: "imp-1"}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO users VALUES (1, 'Ann', 'ann@example.com', 'hash1'), (2, 'Bob', NULL, 'hash2')`); err != nil {
			return err
		}
		_, err := threadline.RecordAction(ctx, tx, "users.import", threadline.ActionOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p.db.Exec(t, `INSERT INTO posts VALUES (1, 1, '=1+1'), (2, 2, 'hello, world')`)
	p.db.Exec(t, `UPDATE users SET name = 'Ann B', password_hash = 'hash3' WHERE id = 1`)
	p.db.Exec(t, `INSERT INTO billing.invoices VALUES (1, 12.50)`)
	p.db.Exec(t, `DELETE FROM posts WHERE id = 2`)
}

func TestHelpForEveryCommand(t *testing.T) {
	for _, name := range []string{"export", "purge", "coverage", "continuity", "doctor"} {
		for _, h := range []string{"-h", "--help"} {
			var out, errb bytes.Buffer
			code := runEnv(context.Background(), []string{name, h}, &out, &errb, env{})
			expectCode(t, name+" "+h, code, 0, out.String(), errb.String())
			// Help asked for goes to standard output, like threadline -help.
			mustContain(t, name+" help", out.String(), "usage: threadline "+name, "-config", "-database-url")
			if errb.Len() != 0 {
				t.Errorf("%s %s wrote to stderr: %s", name, h, errb.String())
			}
		}
	}
	var out, errb bytes.Buffer
	expectCode(t, "help", runEnv(context.Background(), []string{"--help"}, &out, &errb, env{}), 0, out.String(), errb.String())
	mustContain(t, "help", out.String(), "export", "purge", "coverage", "continuity", "doctor")
	out.Reset()
	expectCode(t, "version", runEnv(context.Background(), []string{"version"}, &out, &errb, env{}), 0, out.String(), errb.String())
	mustContain(t, "version", out.String(), "threadline devel")
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"export", "-bogus"},
		{"export", "-format", "csv"},
		{"export", "-output", "x.csv"},
		{"export", "-format", "xml", "-output", "x"},
		{"export", "-format", "csv", "-output", "x.csv", "-from", "yesterday"},
		{"export", "-format", "csv", "-output", "x.csv", "-to", "2026-13-01"},
		{"export", "-format", "csv", "-output", "x.csv", "-actor", "42"},
		{"export", "-format", "csv", "-output", "x.csv", "-actor", "wizard:1"},
		{"export", "-format", "csv", "-output", "x.csv", "-table", "a.b.c"},
		{"export", "-format", "csv", "-output", "x.csv", "-from", "2026-02-01T00:00:00Z", "-to", "2026-01-01T00:00:00Z"},
		{"export", "-format", "csv", "-output", "x.csv", "-max-rows", "-5"},
		{"export", "-format", "csv", "-output", "x.csv", "-max-rows", "ten"},
		{"purge"},
		{"purge", "-dry-run", "-execute"},
		{"purge", "-dry-run", "-batch-size", "-1"},
		{"coverage", "extra"},
		{"continuity", "-batch-size", "0"},
	} {
		var out, errb bytes.Buffer
		code := runEnv(context.Background(), args, &out, &errb, env{})
		expectCode(t, strings.Join(args, " "), code, 2, out.String(), errb.String())
		if errb.Len() == 0 {
			t.Errorf("%v: no message", args)
		}
		// One message and a hint, not the flag list.
		if len(args) > 0 && (strings.Count(errb.String(), "\n") != 2 || strings.Contains(errb.String(), "-database-url")) {
			t.Errorf("%v: want one message and a hint:\n%s", args, errb.String())
		}
	}
	var out, errb bytes.Buffer
	runEnv(context.Background(), []string{"export", "-format", "csv"}, &out, &errb, env{})
	if want := "threadline export: -output is required (a file, or - for standard output)\nrun \"threadline export -help\" for its flags\n"; errb.String() != want {
		t.Errorf("usage error:\n%s\nwant:\n%s", errb.String(), want)
	}
	errb.Reset()
	runEnv(context.Background(), []string{"export", "-max-rows", "-5"}, &out, &errb, env{})
	mustContain(t, "-max-rows -5", errb.String(), `invalid value "-5" for flag -max-rows: want 0 (no cap) or a positive number of changes`)
	// The help of -max-rows states its default once (six flags state one).
	out.Reset()
	runEnv(context.Background(), []string{"export", "-h"}, &out, &errb, env{})
	if n := strings.Count(out.String(), "(default"); n != 6 || strings.Contains(out.String(), "(default -1)") {
		t.Errorf("export help: %d defaults:\n%s", n, out.String())
	}
	// No files were written by any of them.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("usage errors wrote files: %v", entries)
	}
}

func TestConfigAndConnectionFailures(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var out, errb bytes.Buffer
	code := runEnv(context.Background(), []string{"coverage"}, &out, &errb, env{})
	expectCode(t, "missing config", code, 1, out.String(), errb.String())
	mustContain(t, "missing config", errb.String(), "threadline.yaml: cannot read config")

	os.WriteFile("threadline.yaml", []byte(projectConfig), 0o644)
	errb.Reset()
	code = runEnv(context.Background(), []string{"coverage"}, &out, &errb, env{})
	expectCode(t, "no URL", code, 1, out.String(), errb.String())
	mustContain(t, "no URL", errb.String(), "no database URL")

	// The password never shows, whichever source the URL came from.
	bad := "postgres://someone:Sup3rSecret@127.0.0.1:1/nodb?sslmode=disable&connect_timeout=2"
	for _, e := range []struct {
		args []string
		env  env
	}{
		{[]string{"coverage", "-database-url", bad}, env{}},
		{[]string{"export", "-format", "csv", "-output", "x.csv"}, env{getenv: func(k string) string { return map[string]string{"DATABASE_URL": bad}[k] }}},
		{[]string{"doctor", "-database-url", bad}, env{}},
	} {
		out.Reset()
		errb.Reset()
		code := runEnv(context.Background(), e.args, &out, &errb, e.env)
		expectCode(t, e.args[0]+" bad URL", code, 1, out.String(), errb.String())
		all := out.String() + errb.String()
		if strings.Contains(all, "Sup3rSecret") {
			t.Fatalf("%v printed the password:\n%s", e.args, all)
		}
		mustContain(t, "bad URL", all, "xxxxx")
	}
	if _, err := os.Stat("x.csv"); err == nil {
		t.Fatal("a failed export left x.csv")
	}
}

// readCSV parses an exported CSV file.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestExportCommand(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	// An unknown table is an error naming it and the audited tables.
	code, out, errb := p.cli(t, "export", "-format", "csv", "-output", "nosuch.csv", "-table", "nosuch")
	expectCode(t, "unknown table", code, 1, out, errb)
	mustContain(t, "unknown table", errb, "threadline export: -table nosuch: public.nosuch is not an audited table and has no captured changes; audited tables: billing.invoices, public.posts, public.users")
	if _, err := os.Stat("nosuch.csv"); err == nil {
		t.Fatal("an unknown table wrote nosuch.csv")
	}

	code, out, errb = p.cli(t, "export", "-format", "csv", "-output", "users.csv", "-table", "users")
	expectCode(t, "export", code, 0, out, errb)
	mustContain(t, "summary", out, "exported 3 changes to users.csv: csv, ")
	recs := readCSV(t, "users.csv")
	if len(recs) != 4 || strings.Join(recs[0], ",") != strings.Join(threadline.CSVColumns, ",") {
		t.Fatalf("users.csv: %q", recs)
	}
	for _, r := range recs[1:] {
		// The excluded column's name may appear (changed_fields); its values never.
		if r[4] != "users" || strings.Contains(strings.Join(r, ","), "hash1") || strings.Contains(strings.Join(r, ","), "hash3") ||
			strings.Contains(strings.Join(r, ","), "ann@example.com") {
			t.Fatalf("row %q", r)
		}
	}
	if st, _ := os.Stat("users.csv"); st.Mode().Perm() != 0o600 {
		t.Fatalf("users.csv mode %v, want 0600", st.Mode().Perm())
	}

	// Refuses to overwrite; -force overwrites.
	before, _ := os.ReadFile("users.csv")
	code, out, errb = p.cli(t, "export", "-format", "csv", "-output", "users.csv")
	expectCode(t, "overwrite", code, 1, out, errb)
	mustContain(t, "overwrite", errb, "users.csv exists; pass -force")
	if after, _ := os.ReadFile("users.csv"); !bytes.Equal(before, after) {
		t.Fatal("users.csv changed without -force")
	}
	code, out, errb = p.cli(t, "export", "-format", "csv", "-output", "users.csv", "-force", "-csv-formula-guard=false")
	expectCode(t, "force", code, 0, out, errb)
	recs = readCSV(t, "users.csv")
	if len(recs) != 8 {
		t.Fatalf("all changes: %d records", len(recs))
	}

	// Filters: actor, correlation id, time window.
	code, out, errb = p.cli(t, "export", "-format", "ndjson", "-output", "imp.ndjson", "-actor", "admin:ops", "-correlation-id", "imp-1",
		"-from", "2000-01-01T00:00:00Z", "-to", "2999-01-01T00:00:00+02:00")
	expectCode(t, "filtered", code, 0, out, errb)
	b, _ := os.ReadFile("imp.ndjson")
	if n := bytes.Count(b, []byte("\n")); n != 2 {
		t.Fatalf("imp.ndjson: %d lines\n%s", n, b)
	}

	// Truncation: in the document, in the summary, on stderr and in the
	// exit status.
	code, out, errb = p.cli(t, "export", "-format", "json", "-output", "cap.json", "-max-rows", "2")
	expectCode(t, "capped", code, exitTruncated, out, errb)
	mustContain(t, "capped summary", out, "exported 2 changes to cap.json (TRUNCATED at -max-rows 2)")
	mustContain(t, "capped warning", errb, "threadline export: WARNING: the export is incomplete: it stopped at 2 changes and more changes match the filter")
	var doc struct {
		MaxRows   int64             `json:"max_rows"`
		Changes   []json.RawMessage `json:"changes"`
		Truncated bool              `json:"truncated"`
	}
	b, _ = os.ReadFile("cap.json")
	if err := json.Unmarshal(b, &doc); err != nil || !doc.Truncated || len(doc.Changes) != 2 || doc.MaxRows != 2 {
		t.Fatalf("cap.json: %+v %v", doc, err)
	}
	// The default cap of json exports, lifted by -stream.
	code, out, errb = p.cli(t, "export", "-format", "json", "-output", "all.json")
	expectCode(t, "default cap", code, 0, out, errb)
	b, _ = os.ReadFile("all.json")
	mustContain(t, "default cap", string(b), `"max_rows":100000`)
	code, out, errb = p.cli(t, "export", "-format", "json", "-output", "stream.json", "-stream")
	expectCode(t, "stream", code, 0, out, errb)
	b, _ = os.ReadFile("stream.json")
	mustContain(t, "stream", string(b), `"max_rows":null`, `"truncated":false,"rows":7}`)

	// To standard output: the summary goes to stderr.
	code, out, errb = p.cli(t, "export", "-format", "ndjson", "-output", "-", "-table", "billing.invoices")
	expectCode(t, "stdout", code, 0, out, errb)
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"table_name":"invoices"`) {
		t.Fatalf("stdout export: %s", out)
	}
	mustContain(t, "stdout summary", errb, "exported 1 change to standard output")

	// No temporary file is left behind.
	entries, _ := os.ReadDir(".")
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("left %s", e.Name())
		}
	}
}

func TestExportInterruptedLeavesNoFile(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.db.Exec(t, `INSERT INTO posts SELECT g, 1, 'post ' || g FROM generate_series(1, 5000) AS g`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code, out, errb := p.cliEnv(t, ctx, env{exportProgress: func(n int64) {
		if n == 1000 {
			cancel()
		}
	}}, "export", "-format", "csv", "-output", "posts.csv", "-stream")
	expectCode(t, "interrupted", code, 1, out, errb)
	mustContain(t, "interrupted", errb, "context canceled")
	entries, _ := os.ReadDir(".")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "posts") || strings.HasPrefix(e.Name(), ".posts") {
			t.Fatalf("an interrupted export left %s", e.Name())
		}
	}
	// Uninterrupted, the same export completes.
	code, out, errb = p.cli(t, "export", "-format", "csv", "-output", "posts.csv", "-stream")
	expectCode(t, "complete", code, 0, out, errb)
	if recs := readCSV(t, "posts.csv"); len(recs) != 5001 {
		t.Fatalf("posts.csv: %d records", len(recs))
	}
}

// age moves every audit row back by the given interval.
func (p *project) age(t *testing.T, interval string) {
	p.db.Exec(t, "UPDATE threadline.audit_changes SET captured_at = captured_at - interval '"+interval+"'")
	p.db.Exec(t, "UPDATE threadline.audit_transactions SET started_at = started_at - interval '"+interval+"'")
	p.db.Exec(t, "UPDATE threadline.audit_actions SET inserted_at = inserted_at - interval '"+interval+"'")
}

func TestPurgeCommand(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	p.age(t, "40 days")
	p.db.Exec(t, `INSERT INTO posts VALUES (3, 1, 'young')`)

	code, out, errb := p.cli(t, "purge", "-dry-run")
	expectCode(t, "dry run", code, 0, out, errb)
	mustContain(t, "dry run", out, "dry run (keep_days 30): would delete 7 changes and 5 transactions captured before ", "in 7 batches of at most 2")
	code, out, errb = p.cli(t, "purge", "-dry-run", "-max-batches", "2")
	expectCode(t, "capped dry run", code, 0, out, errb)
	mustContain(t, "capped dry run", out, "would delete 4 changes and 2 transactions", "3 more eligible changes would remain")

	code, out, errb = p.cli(t, "purge", "-execute", "-max-batches", "2", "-v")
	expectCode(t, "capped execute", code, 0, out, errb)
	mustContain(t, "capped execute", out, "purged 4 changes and 2 transactions captured before ", "stopped at max_batches (2): 3 eligible changes remain")
	if n := strings.Count(errb, `level=DEBUG msg="threadline retention purge batch"`); n != 3 {
		t.Fatalf("-v: %d batch log lines:\n%s", n, errb)
	}
	mustContain(t, "purge log", errb, `msg="threadline retention purge finished"`, "deleted_changes=4", "capped=true")

	// Without -v: the summary only, no log lines.
	code, out, errb = p.cli(t, "purge", "-execute", "-batch-size", "500")
	expectCode(t, "execute", code, 0, out, errb)
	mustContain(t, "execute", out, "purged 3 changes and 3 transactions captured before ", "in 2 batches")
	if errb != "" || strings.Count(out, "\n") != 1 {
		t.Fatalf("purge without -v: want one summary line on stdout, nothing on stderr\nstdout:\n%s\nstderr:\n%s", out, errb)
	}
	var left int
	p.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM threadline.audit_changes").Scan(&left)
	if left != 1 {
		t.Fatalf("%d changes left, want the young one", left)
	}

	// Another purge holds the lock: a clear message, exit 1.
	lock, err := p.db.Pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(context.Background(), "LOCK TABLE threadline.audit_purge_lock IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	code, out, errb = p.cli(t, "purge", "-execute")
	expectCode(t, "locked", code, 1, out, errb)
	mustContain(t, "locked", errb, "another purge of this audit schema is running")
	lock.Rollback(context.Background())

	// Disabled retention: the dry run works, execute refuses.
	os.WriteFile("threadline.yaml", []byte(strings.Replace(projectConfig, "enabled: true", "enabled: false", 1)), 0o644)
	code, out, errb = p.cli(t, "purge", "-dry-run")
	expectCode(t, "disabled dry run", code, 0, out, errb)
	mustContain(t, "disabled dry run", out, "would delete 0 changes", "-execute will refuse")
	code, out, errb = p.cli(t, "purge", "-execute")
	expectCode(t, "disabled execute", code, 1, out, errb)
	mustContain(t, "disabled execute", errb, "retention.enabled is false")
	// No retention section at all.
	os.WriteFile("threadline.yaml", []byte(projectConfig[:strings.Index(projectConfig, "retention:")]), 0o644)
	code, out, errb = p.cli(t, "purge", "-dry-run")
	expectCode(t, "no retention", code, 1, out, errb)
	mustContain(t, "no retention", errb, "has no retention section")
}

func TestCoverageCommand(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	code, out, errb := p.cli(t, "coverage")
	expectCode(t, "covered", code, 0, out, errb)
	mustContain(t, "covered", out, "TABLE", "billing.invoices  covered    yes", "public.scratch    uncovered",
		"4 tables: 3 covered, 1 uncovered, 0 disabled, 0 stale", "OK: all 3 expected tables are covered")
	code, out, errb = p.cli(t, "coverage", "-json")
	expectCode(t, "covered json", code, 0, out, errb)
	mustContain(t, "covered json", out, `"violations": [],`)

	// Schema drift: a column added after generation makes users stale.
	p.db.Exec(t, "ALTER TABLE users ADD COLUMN nickname text")
	code, out, errb = p.cli(t, "coverage")
	expectCode(t, "drift", code, 1, out, errb)
	mustContain(t, "drift", out, "public.users      stale", "FAIL: 1 of 3 expected tables are not covered: public.users (stale)")

	// A disabled trigger, and the JSON form.
	p.db.Exec(t, "ALTER TABLE posts DISABLE TRIGGER threadline_capture_insert")
	code, out, errb = p.cli(t, "coverage", "-json")
	expectCode(t, "json", code, 1, out, errb)
	var rep threadlineops.CoverageReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tc := range rep.Tables {
		got[tc.Table] = string(tc.Status)
	}
	want := map[string]string{"billing.invoices": "covered", "public.posts": "disabled", "public.scratch": "uncovered", "public.users": "stale"}
	if len(got) != len(want) || got["public.posts"] != "disabled" || got["public.users"] != "stale" || rep.OK {
		t.Fatalf("report: %v", got)
	}

	// A column named in the config dropped from the schema: stale, with
	// the reason.
	p.db.Exec(t, "ALTER TABLE posts ENABLE TRIGGER threadline_capture_insert")
	p.db.Exec(t, "ALTER TABLE users DROP COLUMN nickname, DROP COLUMN email")
	code, out, errb = p.cli(t, "coverage")
	expectCode(t, "dropped column", code, 1, out, errb)
	mustContain(t, "dropped column", out, "public.users      stale", `threadline.yaml no longer matches the schema:`, `has no column "email"`)
}

func TestContinuityCommand(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig,
		`INSERT INTO users VALUES (1, 'Old', 'old@example.com', 'h'), (2, 'Older', NULL, 'h')`)
	p.db.Exec(t, `INSERT INTO users VALUES (3, 'New', NULL, 'h')`)
	p.db.Exec(t, `INSERT INTO posts VALUES (1, 3, 'p')`)
	code, out, errb := p.cli(t, "continuity", "-exact")
	expectCode(t, "continuity", code, 0, out, errb)
	mustContain(t, "continuity", out, "public.users\n  capture:                ready (triggers present and enabled)\n  rows:                   3\n  rows predate capture:   yes, 2 rows without a captured insert",
		"public.posts\n  capture:                ready (triggers present and enabled)\n  rows:                   1\n  rows predate capture:   no",
		"History starts at the first audited write.")

	code, out, errb = p.cli(t, "continuity", "-table", "users", "-baseline", "-label", "go-live snapshot", "-batch-size", "2")
	expectCode(t, "baseline", code, 0, out, errb)
	mustContain(t, "baseline", out, `baseline of public.users: 3 rows in 2 batches, label "go-live snapshot"`)
	var data []string
	rows, _ := p.db.Pool.Query(context.Background(), "SELECT data::text FROM threadline.audit_baselines ORDER BY id")
	data, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"id": 1, "name": "Old", "email": "[REDACTED]"}`, `{"id": 2, "name": "Older", "email": null}`, `{"id": 3, "name": "New", "email": null}`}
	if strings.Join(data, "\n") != strings.Join(want, "\n") {
		t.Fatalf("baseline data:\n%s", strings.Join(data, "\n"))
	}

	p.db.Exec(t, "ALTER TABLE users DISABLE TRIGGER threadline_capture_update")
	code, out, errb = p.cli(t, "continuity", "-table", "users")
	expectCode(t, "not ready", code, 1, out, errb)
	mustContain(t, "not ready", out, "NOT READY (disabled)")
	code, out, errb = p.cli(t, "continuity", "-table", "posts", "-json")
	expectCode(t, "posts ready", code, 0, out, errb)
	var doc struct {
		Tables []threadlineops.TableContinuity
		Ready  bool
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || !doc.Ready || len(doc.Tables) != 1 || doc.Tables[0].PredatesCapture {
		t.Fatalf("json: %+v %v", doc, err)
	}
	code, out, errb = p.cli(t, "continuity", "-table", "scratch")
	expectCode(t, "unaudited table", code, 1, out, errb)
	mustContain(t, "unaudited table", errb, "public.scratch is not an audited table")
}

func TestDoctorCommand(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	code, out, errb := p.cli(t, "doctor")
	expectCode(t, "doctor", code, 0, out, errb)
	for _, check := range []string{"config", "database", "audit schema", "coverage", "generated files", "retention"} {
		mustContain(t, "doctor", out, "PASS  "+check)
	}
	mustContain(t, "doctor", out, "keep_days 30, batch_size 2, max_batches 100, delete_empty_transactions true, enabled")

	// The schema file changes (a column added): generated files are stale;
	// the database drifts too: coverage fails.
	os.WriteFile("schema.sql", []byte(projectDDL+"ALTER TABLE posts ADD COLUMN body text;\n"), 0o644)
	p.db.Exec(t, "ALTER TABLE posts ADD COLUMN body text")
	code, out, errb = p.cli(t, "doctor")
	expectCode(t, "doctor drift", code, 1, out, errb)
	mustContain(t, "doctor drift", out, "FAIL  coverage", "public.posts stale", "FAIL  generated files  stale: run threadline-gen", "PASS  database")

	os.WriteFile("threadline.yaml", []byte("version: 1\nbogus: true\n"), 0o644)
	code, out, errb = p.cli(t, "doctor")
	expectCode(t, "bad config", code, 1, out, errb)
	mustContain(t, "bad config", out, "FAIL  config", "SKIP  database")
}

func TestProgressOnlyOnTerminals(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.db.Exec(t, `INSERT INTO posts SELECT g, 1, 'x' FROM generate_series(1, 3000) AS g`)
	_, _, errb := p.cliEnv(t, context.Background(), env{}, "export", "-format", "ndjson", "-output", "a.ndjson")
	if strings.Contains(errb, "\r") {
		t.Fatalf("progress drawn on a non-terminal: %q", errb)
	}
	_, out, errb := p.cliEnv(t, context.Background(), env{terminal: func(io.Writer) bool { return true }}, "export", "-format", "ndjson", "-output", "b.ndjson")
	mustContain(t, "terminal progress", errb, "\rexporting: 1000 changes")
	mustContain(t, "summary", out, "exported 3000 changes")
	p.age(t, "40 days")
	_, _, errb = p.cliEnv(t, context.Background(), env{terminal: func(io.Writer) bool { return true }}, "purge", "-execute", "-batch-size", "1000")
	mustContain(t, "purge progress", errb, "\rpurging [##########", "/3000 changes")
	if strings.Contains(errb, "level=") {
		t.Fatalf("log lines interleaved with the progress display: %q", errb)
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Fatal("a buffer is not a terminal")
	}
}

func TestDatabaseURLPrecedence(t *testing.T) {
	getenv := func(k string) string { return map[string]string{"DATABASE_URL": "postgres://env/db"}[k] }
	cfg := &config.Config{Schema: config.SchemaSource{DatabaseURL: "postgres://config/db"}}
	for _, tc := range []struct {
		flag string
		cfg  *config.Config
		want string
	}{
		{"postgres://flag/db", cfg, "postgres://flag/db"},
		{"", cfg, "postgres://config/db"},
		{"", &config.Config{}, "postgres://env/db"},
	} {
		c := &cli{databaseURL: tc.flag, cfg: tc.cfg, env: env{getenv: getenv}}
		got, err := c.databaseSource()
		if err != nil || got != tc.want {
			t.Errorf("flag %q: got %q, %v; want %q", tc.flag, got, err, tc.want)
		}
	}
	c := &cli{cfg: &config.Config{}, env: env{getenv: func(string) string { return "" }}}
	if _, err := c.databaseSource(); err == nil {
		t.Fatal("no source must be an error")
	}
	c = &cli{databaseURL: "postgres://u:hunter2@h/db"}
	if got := c.redact("failed: password hunter2 rejected"); strings.Contains(got, "hunter2") {
		t.Fatalf("redact: %s", got)
	}
}
