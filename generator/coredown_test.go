package generator_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/pgtest"
)

// TestCoreUpdateDownReverses: an update of the helper functions and
// grants (a new reader role, a retention window) is undone by its down
// with every migration tool: the role loses what it was granted and the
// purge functions forget the window; the next up gives both back.
func TestCoreUpdateDownReverses(t *testing.T) {
	for format, a := range appliers {
		t.Run(format, func(t *testing.T) {
			r := pgtest.Roles(t, "reader")
			cfg := "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: " + format +
				"\npackage:\n  dir: audit\ntables:\n  items: {}\n"
			p := newProject(t, cfg, upDownDDL)
			p.mustGenerate()
			p.write("threadline.yaml", cfg+"retention:\n  keep_days: 10\nprivileges:\n  reader_roles: ["+r["reader"]+"]\n")
			p.mustGenerate()
			dir := filepath.Join(p.dir, "migrations")
			db := pgtest.NewDB(t, upDownDDL)

			a.up(t, db, dir)
			assertCore(t, db, r["reader"], true)
			if err := downOne(t, format, db, dir); err != nil {
				t.Fatalf("down of the update: %v", err)
			}
			assertCore(t, db, r["reader"], false)
			if n := captured(t, db, 1); n != 1 {
				t.Fatalf("after the down: %d changes", n)
			}
			// The next up: the tools that record versions apply the
			// update again (the test's appliers of the others run every
			// file).
			if format == "goose" || format == "golang-migrate" {
				a.up(t, db, dir)
				assertCore(t, db, r["reader"], true)
			}
		})
	}
}

// assertCore checks whether the update of TestCoreUpdateDownReverses is
// in place: reader may read the changes, and the purge functions hold
// the window of 10 days (864000 seconds).
func assertCore(t *testing.T, db *pgtest.DB, reader string, applied bool) {
	t.Helper()
	var read bool
	var def string
	err := db.Pool.QueryRow(context.Background(), `SELECT has_table_privilege($1, 'threadline.audit_changes', 'SELECT'),
		pg_get_functiondef('threadline.purge_cutoff'::regproc)`, reader).Scan(&read, &def)
	if err != nil {
		t.Fatal(err)
	}
	if window := strings.Contains(def, "864000"); read != applied || window != applied {
		t.Fatalf("update applied %v: reader may read %v, window in purge_cutoff %v", applied, read, window)
	}
}
