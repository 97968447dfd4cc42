package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threadline-go/threadline/harness/pgtest"
)

var fixedNow = func() time.Time { return time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC) }

func runIn(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runEnv(context.Background(), args, &out, &errb, env{getenv: func(string) string { return "" }, now: fixedNow})
	return code, out.String(), errb.String()
}

const cliDDL = `CREATE TABLE users (id bigint PRIMARY KEY, email text);`

func cliProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: golang-migrate\npackage:\n  dir: audit\ntables:\n  users: {}\n"
	os.WriteFile(filepath.Join(dir, "threadline.yaml"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, "schema.sql"), []byte(cliDDL), 0o644)
	return dir
}

func TestGenerateCheckDryRun(t *testing.T) {
	dir := cliProject(t)
	cfg := filepath.Join(dir, "threadline.yaml")

	code, out, errs := runIn(t, "check", "-config", cfg)
	if code != 1 || !strings.Contains(errs, "generated files are stale") || !strings.Contains(errs, "+++ migrations/20260401090000_threadline_install.up.sql (new file)") {
		t.Fatalf("check before generate: code=%d stderr=%s", code, errs)
	}
	code, out, errs = runIn(t, "-config", cfg, "--dry-run")
	if code != 0 || !strings.Contains(out, "plan: capture public.users") || !strings.Contains(out, "would write migrations/20260401090000_threadline_install.up.sql") {
		t.Fatalf("dry-run: code=%d out=%s err=%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "migrations")); !os.IsNotExist(err) {
		t.Fatal("dry-run wrote files")
	}
	code, out, errs = runIn(t, "-config", cfg)
	if code != 0 || out != "" || errs != "" {
		t.Fatalf("generate: code=%d out=%q err=%q (must be silent)", code, out, errs)
	}
	code, _, errs = runIn(t, "check", "-config", cfg)
	if code != 0 {
		t.Fatalf("check after generate: code=%d %s", code, errs)
	}
	// A config edit makes the output stale.
	os.WriteFile(cfg, []byte(strings.Replace(mustRead(t, cfg), "users: {}", "users:\n    mask: [email]", 1)), 0o644)
	code, _, errs = runIn(t, "check", "-config", cfg)
	if code != 1 || !strings.Contains(errs, "_threadline_update.up.sql (new file)") {
		t.Fatalf("check after config edit: code=%d %s", code, errs)
	}
}

func TestCheckFailsOnHandEdit(t *testing.T) {
	dir := cliProject(t)
	cfg := filepath.Join(dir, "threadline.yaml")
	if code, _, errs := runIn(t, "-config", cfg); code != 0 {
		t.Fatal(errs)
	}
	p := filepath.Join(dir, "migrations", "20260401090000_threadline_install.up.sql")
	os.WriteFile(p, []byte(mustRead(t, p)+"\n-- my edit\n"), 0o644)
	code, _, errs := runIn(t, "check", "-config", cfg)
	if code != 1 || !strings.Contains(errs, "migrations/20260401090000_threadline_install.up.sql: generated file was edited by hand") {
		t.Fatalf("check: code=%d %s", code, errs)
	}
	code, _, errs = runIn(t, "-config", cfg)
	if code != 1 || !strings.Contains(errs, "edited by hand") {
		t.Fatalf("generate over an edit: code=%d %s", code, errs)
	}
}

func TestUsageAndErrors(t *testing.T) {
	dir := cliProject(t)
	cases := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"-nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"check", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-config", filepath.Join(dir, "missing.yaml")}, 1, "missing.yaml"},
	}
	for _, c := range cases {
		code, _, errs := runIn(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.contains) {
			t.Errorf("%v: code=%d stderr=%q, want %d and %q", c.args, code, errs, c.code, c.contains)
		}
	}
	// A usage error is one line and a hint, not the whole usage.
	code, _, errs := runIn(t, "-nope")
	if want := "threadline-gen: flag provided but not defined: -nope\nrun \"threadline-gen -help\" for usage\n"; code != 2 || errs != want {
		t.Errorf("-nope: %d %q, want %q", code, errs, want)
	}
	code, out, _ := runIn(t, "-version")
	if code != 0 || !strings.HasPrefix(out, "threadline-gen ") {
		t.Errorf("-version: %d %q", code, out)
	}
	// Help goes to standard output, for every command.
	for _, args := range [][]string{{"-h"}, {"check", "-help"}, {"init", "--help"}} {
		code, out, errs := runIn(t, args...)
		if code != 0 || !strings.Contains(out, "usage:") || !strings.Contains(out, "-config") || errs != "" {
			t.Errorf("%v: %d stdout=%q stderr=%q", args, code, out, errs)
		}
	}
}

// TestFlagsBeforeCommand: "threadline-gen -config X check" is "check
// -config X".
func TestFlagsBeforeCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		cmd  string
		rest []string
	}{
		{nil, "generate", nil},
		{[]string{"-config", "x.yaml", "check"}, "check", []string{"-config", "x.yaml"}},
		{[]string{"--config", "check"}, "generate", []string{"--config", "check"}},
		{[]string{"-config=x.yaml", "init", "-force"}, "init", []string{"-config=x.yaml", "-force"}},
		{[]string{"-dry-run", "-config", "a", "generate"}, "generate", []string{"-dry-run", "-config", "a"}},
		{[]string{"bogus", "check"}, "generate", []string{"bogus", "check"}},
		{[]string{"--", "check"}, "generate", []string{"--", "check"}},
	} {
		cmd, rest := splitCommand(tc.args)
		if cmd != tc.cmd || strings.Join(rest, " ") != strings.Join(tc.rest, " ") {
			t.Errorf("%q: %s %q, want %s %q", tc.args, cmd, rest, tc.cmd, tc.rest)
		}
	}
	dir := cliProject(t)
	cfg := filepath.Join(dir, "threadline.yaml")
	if code, _, errs := runIn(t, "-config", cfg, "check"); code != 1 || !strings.Contains(errs, "generated files are stale") {
		t.Fatalf("-config X check before generating: %d %s", code, errs)
	}
	if code, _, errs := runIn(t, "-config", cfg); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := runIn(t, "-config", cfg, "check"); code != 0 {
		t.Fatalf("-config X check: %d %s", code, errs)
	}
}

func TestInitWritesStarterAndRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "threadline.yaml")
	if code, _, errs := runIn(t, "init", "-config", cfg); code != 0 {
		t.Fatalf("init: %s", errs)
	}
	if !strings.Contains(mustRead(t, cfg), "version: 1") {
		t.Error("starter config lacks version")
	}
	if code, _, errs := runIn(t, "init", "-config", cfg); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("second init: %d %s", code, errs)
	}
}

func TestBundledExampleIsCurrent(t *testing.T) {
	code, _, errs := runIn(t, "check", "-config", filepath.Join("..", "..", "examples", "quickstart", "threadline.yaml"))
	if code != 0 {
		t.Fatalf("examples/quickstart is stale; run go run ./cmd/threadline-gen -config examples/quickstart/threadline.yaml\n%s", errs)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUnreachableDatabaseHidesPassword(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "threadline.yaml")
	os.WriteFile(cfg, []byte("version: 1\nschema:\n  database_url: ${APP_DB}\nmigrations:\n  dir: m\n  format: goose\npackage:\n  dir: a\ntables:\n  users: {}\n"), 0o644)
	var out, errb bytes.Buffer
	code := runEnv(context.Background(), []string{"-config", cfg}, &out, &errb, env{
		getenv: func(k string) string {
			if k == "APP_DB" {
				return "postgres://app:s3cr3t-pw@127.0.0.1:1/app?connect_timeout=2"
			}
			return ""
		},
		now: fixedNow,
	})
	if code != 1 || !strings.Contains(errb.String(), "127.0.0.1:1") || strings.Contains(errb.String(), "s3cr3t-pw") {
		t.Fatalf("code=%d stderr=%s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "m")); !os.IsNotExist(err) {
		t.Error("files written on error")
	}
}

func TestSQLSyntaxErrorIsPositioned(t *testing.T) {
	dir := cliProject(t)
	os.WriteFile(filepath.Join(dir, "schema.sql"), []byte("CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABEL oops (id int);\n"), 0o644)
	code, _, errs := runIn(t, "-config", filepath.Join(dir, "threadline.yaml"))
	if code != 1 || !strings.Contains(errs, "schema.sql:2:8: syntax error at or near \"TABEL\"") {
		t.Fatalf("code=%d stderr=%s", code, errs)
	}
}

func TestLiveAndOfflineGenerateTheSameMigration(t *testing.T) {
	db := pgtest.NewDB(t, cliDDL)
	offline := cliProject(t)
	if code, _, errs := runIn(t, "-config", filepath.Join(offline, "threadline.yaml")); code != 0 {
		t.Fatal(errs)
	}
	live := t.TempDir()
	cfg := filepath.Join(live, "threadline.yaml")
	os.WriteFile(cfg, []byte("version: 1\nschema:\n  database_url: ${APP_DB}\nmigrations:\n  dir: migrations\n  format: golang-migrate\npackage:\n  dir: audit\ntables:\n  users: {}\n"), 0o644)
	var out, errb bytes.Buffer
	code := runEnv(context.Background(), []string{"-config", cfg}, &out, &errb, env{
		getenv: func(k string) string {
			if k == "APP_DB" {
				return db.URL
			}
			return ""
		},
		now: fixedNow,
	})
	if code != 0 {
		t.Fatal(errb.String())
	}
	for _, name := range []string{"20260401090000_threadline_install.up.sql", "20260401090000_threadline_install.down.sql"} {
		a := mustRead(t, filepath.Join(offline, "migrations", name))
		b := mustRead(t, filepath.Join(live, "migrations", name))
		if a != b {
			t.Errorf("%s differs between offline and live schema loading", name)
		}
	}
}
