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

// writeFiles writes files (path → content) below dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckAfterPartitionSwitch: a project whose offline schema is its
// migrations directory switches to partitioned storage; threadline-gen,
// -dry-run and check then find everything current (they used to fail on
// the generated switch: "relation … already exists").
func TestCheckAfterPartitionSwitch(t *testing.T) {
	dir := t.TempDir()
	cfg := "version: 1\nschema:\n  files: [db/migrations/*.sql]\nmigrations:\n  dir: db/migrations\n  format: goose\npackage:\n  dir: audit\ntables:\n  items: {}\n"
	writeFiles(t, dir, map[string]string{
		"threadline.yaml":                        cfg,
		"db/migrations/20260101000000_items.sql": "-- +goose Up\nCREATE TABLE items (id bigint PRIMARY KEY);\n-- +goose Down\nDROP TABLE items;\n",
	})
	path := filepath.Join(dir, "threadline.yaml")
	if code, _, errs := runIn(t, "-config", path); code != 0 {
		t.Fatalf("install: %s", errs)
	}
	writeFiles(t, dir, map[string]string{"threadline.yaml": cfg + "storage:\n  partitions: daily\n"})
	code, out, errs := runIn(t, "-config", path, "-dry-run")
	if code != 0 || !strings.Contains(out, "plan: its down migration fails on purpose") {
		t.Fatalf("dry-run of the switch: %d %s %s", code, out, errs)
	}
	runAt := func(now string, args ...string) (int, string, string) {
		t.Helper()
		at, _ := time.Parse(time.RFC3339, now)
		var o, e bytes.Buffer
		c := runEnv(context.Background(), args, &o, &e, env{getenv: func(string) string { return "" }, now: func() time.Time { return at }})
		return c, o.String(), e.String()
	}
	if code, _, errs := runAt("2026-04-01T09:01:00Z", "-config", path); code != 0 {
		t.Fatalf("switch: %s", errs)
	}
	for _, args := range [][]string{{"-config", path}, {"-config", path, "-dry-run"}, {"check", "-config", path}} {
		code, out, errs := runAt("2026-04-01T09:02:00Z", args...)
		if code != 0 || errs != "" || (len(args) == 3 && args[2] == "-dry-run" && !strings.Contains(out, "nothing to do")) {
			t.Fatalf("%v after the switch: %d %q %q", args, code, out, errs)
		}
	}
}

// TestCheckWarnsOfUnappliedMigrations: in live mode, generate and check
// name on standard error a migration the database has not applied
// (goose's table says so), since the schema they read lacks it.
func TestCheckWarnsOfUnappliedMigrations(t *testing.T) {
	db := pgtest.NewDB(t, "CREATE TABLE items (id bigint PRIMARY KEY)",
		`CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
		INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (20260101000000, true)`)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"threadline.yaml":                        "version: 1\nschema:\n  database_url: ${DATABASE_URL}\nmigrations:\n  dir: db/migrations\n  format: goose\npackage:\n  dir: audit\ntables:\n  items: {}\n",
		"db/migrations/20260101000000_items.sql": "-- +goose Up\nCREATE TABLE items (id bigint PRIMARY KEY);\n",
		"db/migrations/20260102000000_ssn.sql":   "-- +goose Up\nALTER TABLE items ADD COLUMN ssn text;\n",
	})
	path := filepath.Join(dir, "threadline.yaml")
	e := env{getenv: func(k string) string {
		if k == "DATABASE_URL" {
			return db.URL
		}
		return ""
	}, now: fixedNow}
	want := "threadline-gen: warning: the database has not applied 1 migration in db/migrations (by goose_db_version): 20260102000000_ssn.sql;"
	for _, args := range [][]string{{"-config", path}, {"check", "-config", path}} {
		var o, errb bytes.Buffer
		code := runEnv(context.Background(), args, &o, &errb, e)
		if code != 0 || !strings.HasPrefix(errb.String(), want) {
			t.Fatalf("%v: %d\n%s", args, code, errb.String())
		}
	}
}
