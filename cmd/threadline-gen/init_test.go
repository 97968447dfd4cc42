package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The starter config reads the schema from the migrations directory it
// writes to, as the quick start does: init, one migration of the
// application, and the generator runs with the config as written.
func TestInitConfigGeneratesFromMigrationsDir(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "threadline.yaml")
	if code, _, errs := runIn(t, "init", "-config", cfg); code != 0 {
		t.Fatalf("init: %s", errs)
	}
	starter := mustRead(t, cfg)
	for _, line := range []string{"\n  files: [db/migrations/*.sql] ", "\n  dir: db/migrations\n"} {
		if !strings.Contains(starter, line) {
			t.Errorf("starter config lacks %q:\n%s", line, starter)
		}
	}
	migrations := filepath.Join(dir, "db", "migrations")
	if err := os.MkdirAll(migrations, 0o755); err != nil {
		t.Fatal(err)
	}
	app := "-- +goose Up\nCREATE TABLE users (id bigint PRIMARY KEY, email text);\n\n-- +goose Down\nDROP TABLE users;\n"
	if err := os.WriteFile(filepath.Join(migrations, "20260101000000_create_users.sql"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runIn(t, "-config", cfg); code != 0 || out != "" || errs != "" {
		t.Fatalf("generate with the starter config: exit %d\n%s%s", code, out, errs)
	}
	entries, err := os.ReadDir(migrations)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := "20260101000000_create_users.sql 20260401090000_threadline_install.sql"; strings.Join(names, " ") != want {
		t.Errorf("db/migrations: %s, want %s", strings.Join(names, " "), want)
	}
	if _, err := os.Stat(filepath.Join(dir, "internal", "audit", "users.go")); err != nil {
		t.Errorf("generated package: %v", err)
	}
	if code, out, errs := runIn(t, "check", "-config", cfg); code != 0 {
		t.Errorf("check after generate: exit %d\n%s%s", code, out, errs)
	}
}
