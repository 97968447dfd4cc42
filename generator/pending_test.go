package generator_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/harness/pgtest"
)

// pendingCase is a project in live mode whose migrations directory holds
// an applied migration and a newer one the database has not applied,
// recorded in the way of one migration tool.
type pendingCase struct {
	format       string
	first, newer string // file names
	// apply records the first migration as applied (with the tool, or
	// its table as the tool writes it).
	apply func(t *testing.T, db *pgtest.DB, dir string)
}

var pendingCases = []pendingCase{
	{"goose", "20260101000000_items.sql", "20260102000000_note.sql", func(t *testing.T, db *pgtest.DB, dir string) {
		if _, err := gooseProvider(t, db, dir).UpTo(context.Background(), 20260101000000); err != nil {
			t.Fatal(err)
		}
	}},
	{"golang-migrate", "000001_items.up.sql", "000003_note.up.sql", func(t *testing.T, db *pgtest.DB, dir string) {
		if err := migrator(t, db, dir).Migrate(1); err != nil {
			t.Fatal(err)
		}
	}},
	{"tern", "001_items.sql", "003_note.sql", func(t *testing.T, db *pgtest.DB, dir string) {
		db.Exec(t, "CREATE TABLE items (id bigint PRIMARY KEY)")
		db.Exec(t, "CREATE TABLE public.schema_version (version int4 NOT NULL); INSERT INTO schema_version VALUES (1)")
	}},
	{"dbmate", "20260101000000_items.sql", "20260102000000_note.sql", func(t *testing.T, db *pgtest.DB, dir string) {
		db.Exec(t, "CREATE TABLE items (id bigint PRIMARY KEY)")
		db.Exec(t, "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY); INSERT INTO schema_migrations VALUES ('20260101000000')")
	}},
	{"atlas", "20260101000000_items.sql", "20260102000000_note.sql", func(t *testing.T, db *pgtest.DB, dir string) {
		db.Exec(t, "CREATE TABLE items (id bigint PRIMARY KEY)")
		db.Exec(t, `CREATE SCHEMA atlas_schema_revisions;
			CREATE TABLE atlas_schema_revisions.atlas_schema_revisions (version varchar NOT NULL PRIMARY KEY, description varchar NOT NULL,
				type bigint NOT NULL DEFAULT 2, applied bigint NOT NULL DEFAULT 0, total bigint NOT NULL DEFAULT 0);
			INSERT INTO atlas_schema_revisions.atlas_schema_revisions VALUES ('20260101000000', 'items', 2, 1, 1)`)
	}},
}

// pendingBodies are the two migrations of a pending case, per format.
func pendingBodies(format string) (first, newer string) {
	const create, alter = "CREATE TABLE items (id bigint PRIMARY KEY);\n", "ALTER TABLE items ADD COLUMN ssn text;\n"
	switch format {
	case "goose":
		return "-- +goose Up\n" + create, "-- +goose Up\n" + alter
	case "tern":
		return create + "---- create above / drop below ----\n", alter + "---- create above / drop below ----\n"
	case "dbmate":
		return "-- migrate:up\n" + create, "-- migrate:up\n" + alter
	}
	return create, alter
}

// TestPendingMigrationsWarn: in live mode, a migration in the migrations
// directory that the database has not applied (by the tool's own table)
// is named in a warning: the run reads the schema without it, so a new
// column would be captured, unmasked, only after a second run. Threadline's
// own migrations are not named; with no tool table there is no warning.
func TestPendingMigrationsWarn(t *testing.T) {
	for _, tc := range pendingCases {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			first, newer := pendingBodies(tc.format)
			p := &project{t: t, dir: dir, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			p.write("threadline.yaml", "version: 1\nschema:\n  database_url: ${DATABASE_URL}\nmigrations:\n  dir: db/migrations\n  format: "+
				tc.format+"\npackage:\n  dir: audit\ntables:\n  items: {}\n")
			p.write("db/migrations/"+tc.first, first)
			db := pgtest.NewDB(t)
			tc.apply(t, db, filepath.Join(dir, "db", "migrations"))
			warnings := livePending(t, p, db)
			if len(warnings) != 0 {
				t.Fatalf("warnings with every migration applied: %q", warnings)
			}
			p.write("db/migrations/"+tc.newer, newer)
			warnings = livePending(t, p, db)
			if len(warnings) != 1 || !strings.Contains(warnings[0], "the database has not applied 1 migration in db/migrations") ||
				!strings.Contains(warnings[0], tc.newer) || strings.Contains(warnings[0], tc.first) || strings.Contains(warnings[0], "threadline_install") {
				t.Fatalf("warnings: %q", warnings)
			}
		})
	}
	t.Run("no tool table", func(t *testing.T) {
		p := &project{t: t, dir: t.TempDir(), now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		p.write("threadline.yaml", "version: 1\nschema:\n  database_url: ${DATABASE_URL}\nmigrations:\n  dir: db/migrations\n  format: plain\npackage:\n  dir: audit\ntables:\n  items: {}\n")
		p.write("db/migrations/20260101000000_items.up.sql", "CREATE TABLE items (id bigint PRIMARY KEY);\n")
		if warnings := livePending(t, p, pgtest.NewDB(t, "CREATE TABLE items (id bigint PRIMARY KEY)")); len(warnings) != 0 {
			t.Fatalf("warnings without a tool table: %q", warnings)
		}
	})
}

// livePending runs the generator on p against db (writing its
// migrations) and returns its warnings.
func livePending(t *testing.T, p *project, db *pgtest.DB) []string {
	t.Helper()
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return db.URL
		}
		return ""
	}
	cfg, err := config.LoadEnv(filepath.Join(p.dir, "threadline.yaml"), getenv)
	if err != nil {
		t.Fatal(err)
	}
	p.now = p.now.Add(time.Minute)
	now := p.now
	res, err := generator.Run(context.Background(), cfg, generator.Env{Getenv: getenv, Now: func() time.Time { return now }, Parser: pgParser})
	if err != nil {
		t.Fatal(err)
	}
	if err := generator.Write(cfg.Migrations.Dir, res.Migrations); err != nil {
		t.Fatal(err)
	}
	return res.Warnings
}
