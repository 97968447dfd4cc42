package generator_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/threadline-go/threadline/internal/pgtest"
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
			var objects int
			if err := db.Pool.QueryRow(context.Background(), `
				SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'threadline')
				     + (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'threadline%')`).Scan(&objects); err != nil {
				t.Fatal(err)
			}
			if objects != 0 {
				t.Errorf("after down, %d Threadline objects remain", objects)
			}
		})
	}
}
