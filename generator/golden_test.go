package generator_test

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sebdah/goldie/v2"

	"github.com/threadline-go/threadline/internal/capturetest"
	"github.com/threadline-go/threadline/internal/pgtest"
)

// goldenDDL exercises every capture feature that changes the SQL: a
// composite key, exclude, mask with a placeholder needing escapes,
// except_columns, store_changed_from, row-level capture of an ordinary
// table, a partitioned table and a hostile table name.
const goldenDDL = `
CREATE TABLE users (id bigint PRIMARY KEY, email text, password_hash text, name text, updated_at timestamptz);
CREATE TABLE memberships (org_id int, user_id bigint, role text, PRIMARY KEY (org_id, user_id));
CREATE TABLE events (id bigint, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE "Weird ""Name"" $threadline$" ("K" text PRIMARY KEY, "it's" text);`

const goldenTables = `  users:
    exclude: [password_hash]
    mask: [email]
    mask_placeholder: "it's \\ hidden"
    store_changed_from: true
    except_columns: [updated_at]
  memberships:
    capture: row
  events: {}
  '"Weird ""Name"" $threadline$"':
    mask: ["it's"]
`

func goldenConfig(format string) string {
	return "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: " + format +
		"\npackage:\n  dir: audit\ntables:\n" + goldenTables
}

// TestGoldenMigrations pins the exact files of every migration format: an
// install, then a delta that changes one table and drops another.
func TestGoldenMigrations(t *testing.T) {
	for _, format := range []string{"goose", "golang-migrate", "tern", "dbmate", "atlas", "plain"} {
		t.Run(format, func(t *testing.T) {
			p := newProject(t, goldenConfig(format), goldenDDL)
			p.mustGenerate()
			p.write("threadline.yaml", strings.Replace(strings.Replace(goldenConfig(format),
				"  memberships: {}\n", "", 1), "  events: {}\n", "  events:\n    except_columns: [at]\n", 1))
			p.mustGenerate()
			g := goldie.New(t, goldie.WithFixtureDir(filepath.Join("..", "testdata", "golden", "migrations", format)),
				goldie.WithNameSuffix(".golden"))
			names := p.migrations()
			sort.Strings(names)
			g.Assert(t, "files", []byte(strings.Join(names, "\n")+"\n"))
			for _, n := range names {
				g.Assert(t, strings.ReplaceAll(n, "/", "__"), []byte(p.read("migrations/"+n)))
			}
		})
	}
}

// TestGoldenMigrationsApply applies the golden fixture's plain migrations
// to PostgreSQL and writes through the hostile-named table.
func TestGoldenMigrationsApply(t *testing.T) {
	p := newProject(t, goldenConfig("plain"), goldenDDL)
	p.mustGenerate()
	db := pgtest.NewDB(t, goldenDDL)
	dir := filepath.Join(p.dir, "migrations")
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
