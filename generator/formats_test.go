package generator_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/threadline-go/threadline/harness/pgtest"
)

const formatDDL = `
CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);
CREATE TABLE "Odd {{table}}" (k text PRIMARY KEY, "v{{x}}" text);`

func formatConfig(format string) string {
	return `version: 1
schema:
  files: [schema.sql]
migrations:
  dir: migrations
  format: ` + format + `
package:
  dir: audit
tables:
  users:
    mask: [email]
    mask_placeholder: "{{masked}}"
  "Odd {{table}}": {}
`
}

// applier applies the generated migrations of one format with the tool
// itself (goose, golang-migrate) or the way the tool reads its files.
type applier struct {
	up, down func(t *testing.T, db *pgtest.DB, dir string)
}

var appliers = map[string]applier{
	"goose": {
		up: func(t *testing.T, db *pgtest.DB, dir string) {
			p := gooseProvider(t, db, dir)
			if _, err := p.Up(context.Background()); err != nil {
				t.Fatalf("goose up: %v", err)
			}
		},
		down: func(t *testing.T, db *pgtest.DB, dir string) {
			p := gooseProvider(t, db, dir)
			if _, err := p.DownTo(context.Background(), 0); err != nil {
				t.Fatalf("goose down: %v", err)
			}
		},
	},
	"golang-migrate": {
		up: func(t *testing.T, db *pgtest.DB, dir string) {
			if err := migrator(t, db, dir).Up(); err != nil {
				t.Fatalf("migrate up: %v", err)
			}
		},
		down: func(t *testing.T, db *pgtest.DB, dir string) {
			if err := migrator(t, db, dir).Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
				t.Fatalf("migrate down: %v", err)
			}
		},
	},
	"tern": {
		up:   func(t *testing.T, db *pgtest.DB, dir string) { applyEach(t, db, dir, ".sql", false, ternPart(true)) },
		down: func(t *testing.T, db *pgtest.DB, dir string) { applyEach(t, db, dir, ".sql", true, ternPart(false)) },
	},
	"dbmate": {
		up: func(t *testing.T, db *pgtest.DB, dir string) {
			applyEach(t, db, dir, ".sql", false, section("-- migrate:up", "-- migrate:down"))
		},
		down: func(t *testing.T, db *pgtest.DB, dir string) {
			applyEach(t, db, dir, ".sql", true, section("-- migrate:down", ""))
		},
	},
	"atlas": {
		up: func(t *testing.T, db *pgtest.DB, dir string) { applyEach(t, db, dir, ".sql", false, whole) },
		down: func(t *testing.T, db *pgtest.DB, dir string) {
			applyEach(t, db, filepath.Join(dir, "down"), ".sql", true, whole)
		},
	},
	"plain": {
		up:   func(t *testing.T, db *pgtest.DB, dir string) { applyEach(t, db, dir, ".up.sql", false, whole) },
		down: func(t *testing.T, db *pgtest.DB, dir string) { applyEach(t, db, dir, ".down.sql", true, whole) },
	},
}

func gooseProvider(t *testing.T, db *pgtest.DB, dir string) *goose.Provider {
	t.Helper()
	sqlDB, err := sql.Open("pgx", db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, os.DirFS(dir))
	if err != nil {
		t.Fatalf("goose: %v", err)
	}
	return p
}

func migrator(t *testing.T, db *pgtest.DB, dir string) *migrate.Migrate {
	t.Helper()
	src, err := iofs.New(os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, strings.Replace(db.URL, "postgres://", "pgx5://", 1))
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func whole(t *testing.T, s string) string { return s }

func section(start, end string) func(*testing.T, string) string {
	return func(t *testing.T, s string) string {
		i := strings.Index(s, start)
		if i < 0 {
			t.Fatalf("no %q in migration", start)
		}
		s = s[i+len(start):]
		if end != "" {
			if j := strings.Index(s, end); j >= 0 {
				s = s[:j]
			}
		}
		return s
	}
}

// ternPart renders the file as tern does (text/template), then splits it.
func ternPart(up bool) func(*testing.T, string) string {
	return func(t *testing.T, s string) string {
		tmpl, err := template.New("m").Parse(s)
		if err != nil {
			t.Fatalf("tern template: %v", err)
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, nil); err != nil {
			t.Fatalf("tern template: %v", err)
		}
		parts := strings.SplitN(b.String(), "---- create above / drop below ----", 2)
		if len(parts) != 2 {
			t.Fatal("tern migration has no separator")
		}
		if up {
			return parts[0]
		}
		return parts[1]
	}
}

func applyEach(t *testing.T, db *pgtest.DB, dir, suffix string, reverse bool, part func(*testing.T, string) string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), suffix) {
			names = append(names, e.Name())
		}
	}
	if reverse {
		for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
			names[i], names[j] = names[j], names[i]
		}
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(context.Background(), part(t, string(b))); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
}

func TestMigrationFormatsApplyAndRevert(t *testing.T) {
	for format, a := range appliers {
		t.Run(format, func(t *testing.T) {
			p := newProject(t, formatConfig(format), formatDDL)
			p.mustGenerate()
			// A second migration: one more column changes the capture.
			p.write("schema.sql", formatDDL+"\nALTER TABLE users ADD COLUMN nickname text;")
			if files := p.mustGenerate(); len(files) == 0 {
				t.Fatal("schema change generated nothing")
			}
			dir := filepath.Join(p.dir, "migrations")
			db := pgtest.NewDB(t, formatDDL, "ALTER TABLE users ADD COLUMN nickname text")
			a.up(t, db, dir)
			db.Exec(t, `INSERT INTO users VALUES (1, 'a@b', 'Ann', 'annie')`)
			db.Exec(t, `INSERT INTO "Odd {{table}}" VALUES ('k', 'v')`)
			var after string
			if err := db.Pool.QueryRow(context.Background(),
				`SELECT string_agg(data_after::text, ' | ' ORDER BY id) FROM threadline.audit_changes`).Scan(&after); err != nil {
				t.Fatal(err)
			}
			want := `{"id": 1, "name": "Ann", "email": "{{masked}}", "nickname": "annie"} | {"k": "k", "v{{x}}": "v"}`
			if after != want {
				t.Errorf("captured %s\nwant     %s", after, want)
			}
			a.down(t, db, dir)
			if objects := threadlineObjects(t, db); objects != 0 {
				t.Errorf("after down, %d Threadline objects remain", objects)
			}
		})
	}
}

// installUp extracts, per format, the up SQL of the install migration as
// the tool runs it.
var installUp = map[string]struct {
	suffix string
	part   func(*testing.T, string) string
}{
	"goose":          {".sql", section("-- +goose Up", "-- +goose Down")},
	"golang-migrate": {".up.sql", whole},
	"tern":           {".sql", ternPart(true)},
	"dbmate":         {".sql", section("-- migrate:up", "-- migrate:down")},
	"atlas":          {".sql", whole},
	"plain":          {".up.sql", whole},
}

// TestFreshInstallPrintsNoNotice applies the install migration of every
// format to a fresh database and listens for notices: a first install
// has nothing to drop, so it must not say "does not exist, skipping".
func TestFreshInstallPrintsNoNotice(t *testing.T) {
	for format, up := range installUp {
		t.Run(format, func(t *testing.T) {
			p := newProject(t, formatConfig(format), formatDDL)
			files := p.mustGenerate()
			db := pgtest.NewDB(t, formatDDL)
			cfg, err := pgx.ParseConfig(db.URL)
			if err != nil {
				t.Fatal(err)
			}
			var notices []string
			cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Severity+": "+n.Message) }
			conn, err := pgx.ConnectConfig(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			applied := 0
			for _, f := range files {
				if !strings.HasSuffix(f.Path, up.suffix) || strings.Contains(f.Path, "/") {
					continue
				}
				if _, err := conn.Exec(context.Background(), up.part(t, string(f.Content))); err != nil {
					t.Fatalf("%s: %v", f.Path, err)
				}
				applied++
			}
			if applied != 1 {
				t.Fatalf("applied %d install files, want 1", applied)
			}
			if len(notices) != 0 {
				t.Errorf("a fresh install printed %d notices:\n%s", len(notices), strings.Join(notices, "\n"))
			}
			var triggers int
			if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'threadline%'`).Scan(&triggers); err != nil || triggers != 8 {
				t.Fatalf("installed %d triggers (%v), want 8", triggers, err)
			}
		})
	}
}

// TestPlainFilesAreAtomic runs a plain install with psql, as its users
// do, into a database where its last statement fails: the file's own
// transaction leaves nothing behind.
func TestPlainFilesAreAtomic(t *testing.T) {
	p := newProject(t, formatConfig("plain"), formatDDL)
	files := p.mustGenerate()
	// The second table is missing: creating its trigger fails late in
	// the file, after the audit schema and the users capture.
	db := pgtest.NewDB(t, `CREATE TABLE users (id bigint PRIMARY KEY, email text, name text)`)
	for _, f := range files {
		body := string(f.Content)
		if !strings.Contains(body, "\nBEGIN;\n") || !strings.HasSuffix(body, "\nCOMMIT;\n") {
			t.Errorf("%s is not wrapped in BEGIN … COMMIT", f.Path)
		}
		if !strings.HasSuffix(f.Path, ".up.sql") {
			continue
		}
		path := filepath.Join(p.dir, "migrations", f.Path)
		out, err := osexec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db.URL, "-f", path).CombinedOutput()
		if err == nil {
			t.Fatalf("psql applied %s to a database without its table:\n%s", f.Path, out)
		}
		if !strings.Contains(string(out), `relation "public.Odd {{table}}" does not exist`) {
			t.Fatalf("psql failed otherwise:\n%s", out)
		}
	}
	if objects := threadlineObjects(t, db); objects != 0 {
		t.Fatalf("a failed plain install left %d Threadline objects", objects)
	}
}

// threadlineObjects counts the audit schema and the capture triggers in db.
func threadlineObjects(t *testing.T, db *pgtest.DB) int {
	t.Helper()
	var objects int
	if err := db.Pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'threadline')
		     + (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'threadline%')`).Scan(&objects); err != nil {
		t.Fatal(err)
	}
	return objects
}
