package generator_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
)

// plainCase is the end-to-end case whose expected migrations (plain
// format) TestGoldenMigrationsApply runs; cmd/threadline-gen's TestCases
// pins them.
const plainCase = "../testdata/cases/migrations-plain"

// TestGoldenMigrationsApply applies the plain migrations the case expects
// to PostgreSQL, writes through the hostile-named table, and migrates
// down again.
func TestGoldenMigrationsApply(t *testing.T) {
	ddl, err := os.ReadFile(filepath.Join(plainCase, "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	goldens, err := filepath.Glob(filepath.Join(plainCase, "expected", "migrations__*.sql.golden"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no expected migrations (%v)", err)
	}
	dir := t.TempDir()
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(g), "migrations__"), ".golden")
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := pgtest.NewDB(t, string(ddl))
	appliers["plain"].up(t, db, dir)
	db.Exec(t, `INSERT INTO "Weird ""Name"" $threadline$" VALUES ('k1', 'secret'), ('k2', NULL)`)
	db.Exec(t, `INSERT INTO users VALUES (1, 'a@b', 'hash', 'A', now())`)
	got := capturetest.Changes(t, db)
	if len(got) != 3 || got[0].After != `{"K": "k1", "it's": "[REDACTED]"}` || got[1].After != `{"K": "k2", "it's": null}` ||
		got[2].After != `{"id": 1, "name": "A", "email": "it's \\ hidden", "updated_at": `+got[2].After[strings.Index(got[2].After, `"updated_at": `)+14:] {
		t.Fatalf("changes: %s", dump(got))
	}
	appliers["plain"].down(t, db, dir)
}
