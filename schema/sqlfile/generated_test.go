package sqlfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/threadline-go/threadline/internal/contract"
)

// TestGeneratedMigrationsSkipped: threadline-gen's own migrations touch
// only the audit schema, some of it inside DO blocks the loader cannot
// follow (the switch to partitioned storage renames the audit tables and
// creates new ones under the old names). The loader skips them, so the
// application's migrations around them load.
func TestGeneratedMigrationsSkipped(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"001_app.sql": "-- +goose Up\nCREATE TABLE items (id bigint PRIMARY KEY);\n",
		"002_threadline_install.sql": contract.GeneratedSQLHeader + "\n-- threadline:checksum sha256:00\n\n-- +goose Up\n" +
			"CREATE SCHEMA threadline;\nCREATE TABLE threadline.audit_changes (id bigint);\n",
		"003_threadline_update.sql": contract.GeneratedSQLHeader + "\n-- threadline:checksum sha256:00\n\n-- +goose Up\n" +
			"DO $$ BEGIN EXECUTE 'ALTER TABLE threadline.audit_changes RENAME TO audit_changes_unpartitioned'; END $$;\n" +
			"CREATE TABLE threadline.audit_changes (id bigint) PARTITION BY RANGE (id);\n",
		"004_app.sql": "-- +goose Up\nALTER TABLE items ADD COLUMN note text;\n",
	}
	var paths []string
	for _, name := range []string{"001_app.sql", "002_threadline_install.sql", "003_threadline_update.sql", "004_app.sql"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	s, err := LoadFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	if got := tableNames(s); len(got) != 1 || got[0] != "public.items" || s.Tables[0].Column("note") == nil {
		t.Fatalf("tables %v, want public.items with note", got)
	}
}
