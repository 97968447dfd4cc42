package generator_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4"

	"github.com/threadline-go/threadline/harness/pgtest"
)

// secondDayApp is the application's own first migration, per format: the
// offline schema (schema.files) is the migrations directory itself, as
// in a project that keeps everything in db/migrations.
var secondDayApp = map[string]struct{ path, body string }{
	"goose":          {"20260101000000_app.sql", "-- +goose Up\nCREATE TABLE items (id bigint PRIMARY KEY, v int);\n-- +goose Down\nDROP TABLE items;\n"},
	"golang-migrate": {"20260101000000_app.up.sql", "CREATE TABLE items (id bigint PRIMARY KEY, v int);\n"},
	"tern":           {"001_app.sql", "CREATE TABLE items (id bigint PRIMARY KEY, v int);\n---- create above / drop below ----\nDROP TABLE items;\n"},
	"dbmate":         {"20260101000000_app.sql", "-- migrate:up\nCREATE TABLE items (id bigint PRIMARY KEY, v int);\n-- migrate:down\nDROP TABLE items;\n"},
	"atlas":          {"20260101000000_app.sql", "CREATE TABLE items (id bigint PRIMARY KEY, v int);\n"},
	"plain":          {"20260101000000_app.up.sql", "CREATE TABLE items (id bigint PRIMARY KEY, v int);\n"},
}

func secondDayConfig(format, extra string) string {
	return "version: 1\nschema:\n  files: [migrations/*.sql]\nmigrations:\n  dir: migrations\n  format: " + format +
		"\npackage:\n  dir: audit\ntables:\n  items: {}\n" + extra
}

// TestOfflineAfterPartitionSwitch: with schema.files covering the
// generated migrations, the switch to partitioned storage (which renames
// the audit tables inside a DO block) must not break the next offline
// run: generating again, and check, find everything current.
func TestOfflineAfterPartitionSwitch(t *testing.T) {
	for format, app := range secondDayApp {
		t.Run(format, func(t *testing.T) {
			p := newProject(t, secondDayConfig(format, ""), "")
			p.write("migrations/"+app.path, app.body)
			p.mustGenerate()
			p.write("threadline.yaml", secondDayConfig(format, "storage:\n  partitions: daily\n"))
			files := p.mustGenerate()
			if len(files) == 0 || !strings.Contains(string(files[0].Content), "-- threadline:storage day") {
				t.Fatalf("the switch generated %v", files)
			}
			// The day after: an application migration adds a column.
			more := map[string]string{
				"goose":  "-- +goose Up\nALTER TABLE items ADD COLUMN note text;\n-- +goose Down\nALTER TABLE items DROP COLUMN note;\n",
				"dbmate": "-- migrate:up\nALTER TABLE items ADD COLUMN note text;\n-- migrate:down\nALTER TABLE items DROP COLUMN note;\n",
			}[format]
			name := map[string]string{"golang-migrate": "29990101000000_note.up.sql", "plain": "29990101000000_note.up.sql", "tern": "004_note.sql"}[format]
			if more == "" {
				more = "ALTER TABLE items ADD COLUMN note text;\n"
			}
			if name == "" {
				name = "29990101000000_note.sql"
			}
			out, err := p.run()
			if err != nil {
				t.Fatalf("offline run after the switch: %v", err)
			}
			if len(out.Migrations) != 0 {
				t.Fatalf("offline run after the switch is not current: %v", out.Plan)
			}
			p.write("migrations/"+name, more)
			out, err = p.run()
			if err != nil {
				t.Fatalf("offline run after a column was added: %v", err)
			}
			if strings.Join(out.Plan, "\n") != "replace capture on public.items" {
				t.Fatalf("plan after a column was added: %q", out.Plan)
			}
			if out, err = p.run(); err != nil || len(out.Migrations) != 0 {
				t.Fatalf("offline run after the column's capture: %v %v", err, out)
			}
		})
	}
}

const upDownDDL = "CREATE TABLE items (id bigint PRIMARY KEY, v int, note text);\n"

// upDownProject generates, per format, an install, a capture change (a
// new column), a retention window (an update of the helper functions) and,
// with partitions, the switch to partitioned storage.
func upDownProject(t *testing.T, format string, partitions bool) string {
	cfg := "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: " + format +
		"\npackage:\n  dir: audit\ntables:\n  items: {}\n"
	p := newProject(t, cfg, "CREATE TABLE items (id bigint PRIMARY KEY, v int);\n")
	p.mustGenerate()
	p.write("schema.sql", upDownDDL)
	p.mustGenerate()
	cfg += "retention:\n  keep_days: 10\n"
	p.write("threadline.yaml", cfg)
	p.mustGenerate()
	if partitions {
		p.write("threadline.yaml", cfg+"storage:\n  partitions: daily\n")
		p.mustGenerate()
	}
	return filepath.Join(p.dir, "migrations")
}

// captured writes a row and returns how many changes the audit tables
// hold.
func captured(t *testing.T, db *pgtest.DB, id int) int {
	t.Helper()
	db.Exec(t, "INSERT INTO items VALUES ($1, 1, 'n')", id)
	var n int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM threadline.audit_changes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMigrationsUpDownUp applies every generated migration with each
// tool, reverts them all, and applies them again: every down reverses its
// up, so the second up finds nothing in its way.
func TestMigrationsUpDownUp(t *testing.T) {
	for format, a := range appliers {
		t.Run(format, func(t *testing.T) {
			dir := upDownProject(t, format, false)
			db := pgtest.NewDB(t, upDownDDL)
			a.up(t, db, dir)
			if n := captured(t, db, 1); n != 1 {
				t.Fatalf("after up: %d changes", n)
			}
			a.down(t, db, dir)
			if objects := threadlineObjects(t, db); objects != 0 {
				t.Fatalf("after down, %d Threadline objects remain", objects)
			}
			a.up(t, db, dir)
			if n := captured(t, db, 2); n != 1 {
				t.Fatalf("after up, down, up: %d changes", n)
			}
		})
	}
}

// downOne reverts the newest migration of dir the way each tool does,
// returning the tool's error.
func downOne(t *testing.T, format string, db *pgtest.DB, dir string) error {
	t.Helper()
	switch format {
	case "goose":
		_, err := gooseProvider(t, db, dir).Down(context.Background())
		return err
	case "golang-migrate":
		return migrator(t, db, dir).Steps(-1)
	}
	pick := map[string]struct {
		dir, suffix string
		part        func(*testing.T, string) string
	}{
		"tern":   {dir, ".sql", ternPart(false)},
		"dbmate": {dir, ".sql", section("-- migrate:down", "")},
		"atlas":  {filepath.Join(dir, "down"), ".sql", whole},
		"plain":  {dir, ".down.sql", whole},
	}[format]
	entries, err := os.ReadDir(pick.dir)
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), pick.suffix) {
			last = e.Name()
		}
	}
	b, err := os.ReadFile(filepath.Join(pick.dir, last))
	if err != nil {
		t.Fatal(err)
	}
	// Each tool runs a migration in one transaction (plain files hold
	// their own).
	tx, err := db.Pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), pick.part(t, string(b))); err != nil {
		return err
	}
	return tx.Commit(context.Background())
}

// TestSwitchDownRefuses: the switch to partitioned storage cannot be
// undone by a down migration. Its down says so and fails, so no tool
// records a rollback that did nothing; the next up finds the database as
// it was and goes on.
func TestSwitchDownRefuses(t *testing.T) {
	for format, a := range appliers {
		t.Run(format, func(t *testing.T) {
			dir := upDownProject(t, format, true)
			db := pgtest.NewDB(t, upDownDDL)
			a.up(t, db, dir)
			err := downOne(t, format, db, dir)
			if err == nil || !strings.Contains(err.Error(), "threadline: the switch of audit schema threadline to partitioned storage cannot be undone by a down migration") {
				t.Fatalf("down of the switch: %v", err)
			}
			switch format {
			case "goose":
				if v, err := gooseProvider(t, db, dir).GetDBVersion(context.Background()); err != nil || v != 20260301120400 {
					t.Fatalf("goose version after the refused down: %d %v", v, err)
				}
			case "golang-migrate":
				// golang-migrate marks the version before dirty; the
				// hint says how to put it back.
				if !strings.Contains(err.Error(), "migrate force 20260301120400") {
					t.Fatalf("no hint for golang-migrate: %v", err)
				}
				if err := migrator(t, db, dir).Force(20260301120400); err != nil {
					t.Fatal(err)
				}
			}
			var parts int
			if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_inherits
				WHERE inhparent = 'threadline.audit_changes'::regclass`).Scan(&parts); err != nil || parts == 0 {
				t.Fatalf("after the refused down: %d partitions (%v)", parts, err)
			}
			// The tools that record versions find nothing to apply.
			switch format {
			case "goose":
				a.up(t, db, dir)
			case "golang-migrate":
				if err := migrator(t, db, dir).Up(); !errors.Is(err, migrate.ErrNoChange) {
					t.Fatalf("migrate up after the refused down: %v", err)
				}
			}
			if n := captured(t, db, 1); n != 1 {
				t.Fatalf("after the refused down: %d changes", n)
			}
		})
	}
}

// TestMigrationVersioning: migrations.versioning numbers new migrations
// by timestamp or sequentially; unset, it follows the numbered files
// already in the directory. Sequential versions keep the width of the
// files there, or the tool's own (goose 00001, golang-migrate 000001).
func TestMigrationVersioning(t *testing.T) {
	const app = "CREATE TABLE items (id bigint PRIMARY KEY, v int);\n"
	for _, tc := range []struct {
		name, format, versioning string
		existing                 []string
		want                     []string // the install, then the update
	}{
		{"goose follows 00001", "goose", "", []string{"00001_app.sql"}, []string{"00002_threadline_install.sql", "00003_threadline_update.sql"}},
		{"golang-migrate follows 000001", "golang-migrate", "", []string{"000001_app.up.sql", "000001_app.down.sql"},
			[]string{"000002_threadline_install.up.sql", "000003_threadline_update.up.sql"}},
		{"dbmate follows 001", "dbmate", "", []string{"001_app.sql"}, []string{"002_threadline_install.sql", "003_threadline_update.sql"}},
		{"atlas follows 1", "atlas", "", []string{"1_app.sql"}, []string{"2_threadline_install.sql", "3_threadline_update.sql"}},
		{"goose follows timestamps", "goose", "", []string{"20260101000000_app.sql"},
			[]string{"20260301120100_threadline_install.sql", "20260301120200_threadline_update.sql"}},
		{"nothing to follow", "goose", "", nil, []string{"20260301120100_threadline_install.sql", "20260301120200_threadline_update.sql"}},
		{"goose sequential", "goose", "sequential", nil, []string{"00001_threadline_install.sql", "00002_threadline_update.sql"}},
		{"golang-migrate sequential", "golang-migrate", "sequential", nil,
			[]string{"000001_threadline_install.up.sql", "000002_threadline_update.up.sql"}},
		{"plain sequential", "plain", "sequential", []string{"0007_app.up.sql"},
			[]string{"0008_threadline_install.up.sql", "0009_threadline_update.up.sql"}},
		{"timestamp over sequential files", "goose", "timestamp", []string{"00001_app.sql"},
			[]string{"20260301120100_threadline_install.sql", "20260301120200_threadline_update.sql"}},
		{"tern", "tern", "", []string{"20260101000000_app.sql"}, []string{"20260101000001_threadline_install.sql", "20260101000002_threadline_update.sql"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: " + tc.format + "\n"
			if tc.versioning != "" {
				cfg += "  versioning: " + tc.versioning + "\n"
			}
			cfg += "package:\n  dir: audit\ntables:\n  items: {}\n"
			p := newProject(t, cfg, app)
			for _, f := range tc.existing {
				p.write("migrations/"+f, "SELECT 1;\n")
			}
			var got []string
			for i, ddl := range []string{app, app + "ALTER TABLE items ADD COLUMN note text;\n"} {
				p.write("schema.sql", ddl)
				files := p.mustGenerate()
				if len(files) == 0 {
					t.Fatalf("run %d wrote nothing", i+1)
				}
				got = append(got, files[0].Path)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("wrote %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSequentialAfterTimestamps: versioning: sequential cannot follow a
// timestamp version (the next number would be the timestamp plus one,
// which no tool's -seq accepts); the error names the setting and the file.
func TestSequentialAfterTimestamps(t *testing.T) {
	cfg := "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: golang-migrate\n" +
		"  versioning: sequential\npackage:\n  dir: audit\ntables:\n  items: {}\n"
	p := newProject(t, cfg, "CREATE TABLE items (id bigint PRIMARY KEY);\n")
	p.write("migrations/20261206230336_threadline_install.up.sql", "SELECT 1;\n")
	_, err := p.generate()
	if err == nil || !strings.Contains(err.Error(), "threadline.yaml:7:15: migrations.versioning: sequential, but 20261206230336_threadline_install.up.sql has a timestamp version") {
		t.Fatalf("sequential after a timestamp: %v", err)
	}
}

// TestSchemaChangeOneDeploy follows the README's "Changing the schema":
// the application migration adding a column and the config masking it
// are one change; threadline-gen, reading the migrations offline, writes
// the capture after it; one goose up applies both, and the column is
// masked from its first write.
func TestSchemaChangeOneDeploy(t *testing.T) {
	cfg := "version: 1\nschema:\n  files: [db/migrations/*.sql]\nmigrations:\n  dir: db/migrations\n  format: goose\npackage:\n  dir: audit\ntables:\n  users: {}\n"
	p := newProject(t, cfg, "")
	p.write("db/migrations/20260101000000_users.sql", "-- +goose Up\nCREATE TABLE users (id bigint PRIMARY KEY, name text);\n-- +goose Down\nDROP TABLE users;\n")
	p.mustGenerate()
	dir := filepath.Join(p.dir, "db", "migrations")
	db := pgtest.NewDB(t)
	if _, err := gooseProvider(t, db, dir).Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.write("db/migrations/20260301130000_users_ssn.sql", "-- +goose Up\nALTER TABLE users ADD COLUMN ssn text;\n-- +goose Down\nALTER TABLE users DROP COLUMN ssn;\n")
	p.write("threadline.yaml", strings.Replace(cfg, "users: {}", "users:\n    mask: [ssn]", 1))
	p.now = time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	if files := p.mustGenerate(); len(files) != 1 || files[0].Path != "20260301130100_threadline_update.sql" {
		t.Fatalf("generated %v", files)
	}
	res, err := gooseProvider(t, db, dir).Up(context.Background())
	if err != nil || len(res) != 2 {
		t.Fatalf("one deploy: %v %v", res, err)
	}
	db.Exec(t, "INSERT INTO users VALUES (1, 'Ann', '078-05-1120')")
	var after string
	if err := db.Pool.QueryRow(context.Background(), "SELECT data_after::text FROM threadline.audit_changes").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(after, "078-05-1120") || !strings.Contains(after, `"ssn": "[REDACTED]"`) {
		t.Fatalf("first write after the deploy: %s", after)
	}
}
