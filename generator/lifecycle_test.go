package generator_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
)

const lifeDDL = `
CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);
CREATE TABLE posts (id bigint PRIMARY KEY, title text);
CREATE TABLE tags (name text PRIMARY KEY);`

func lifeConfig(tables string) string {
	return "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: goose\npackage:\n  dir: audit\ntables:\n" + tables
}

func TestGenerateIsIdempotent(t *testing.T) {
	p := newProject(t, lifeConfig("  users: {}\n  posts: {}\n"), lifeDDL)
	first := p.mustGenerate()
	if len(first) != 1 || !strings.HasSuffix(first[0].Path, "_threadline_install.sql") {
		t.Fatalf("first run wrote %v", paths(first))
	}
	before := p.read("migrations/" + first[0].Path)
	info, _ := os.Stat(filepath.Join(p.dir, "migrations", first[0].Path))
	if again := p.mustGenerate(); len(again) != 0 {
		t.Fatalf("second run wrote %v", paths(again))
	}
	if p.read("migrations/"+first[0].Path) != before {
		t.Fatal("second run changed the migration")
	}
	info2, _ := os.Stat(filepath.Join(p.dir, "migrations", first[0].Path))
	if !info.ModTime().Equal(info2.ModTime()) {
		t.Error("second run rewrote an unchanged file")
	}
}

func TestGenerateDeltas(t *testing.T) {
	p := newProject(t, lifeConfig("  users: {}\n  posts: {}\n"), lifeDDL)
	p.mustGenerate()

	// Config change: mask a column of users, add tags.
	p.write("threadline.yaml", lifeConfig("  users:\n    mask: [email]\n  posts: {}\n  tags: {}\n"))
	delta := p.mustGenerate()
	if len(delta) != 1 || !strings.HasSuffix(delta[0].Path, "_threadline_update.sql") {
		t.Fatalf("config change wrote %v", paths(delta))
	}
	up := upPart(string(delta[0].Content))
	for _, want := range []string{`ON "public"."users"`, `ON "public"."tags"`} {
		if !strings.Contains(up, want) {
			t.Errorf("delta lacks %s", want)
		}
	}
	if strings.Contains(up, `"posts"`) || strings.Contains(up, "CREATE TABLE") {
		t.Errorf("delta touches unchanged objects:\n%s", up)
	}

	// Schema change: a new column on posts changes only posts' capture.
	p.write("schema.sql", lifeDDL+"\nALTER TABLE posts ADD COLUMN body text;")
	delta = p.mustGenerate()
	if len(delta) != 1 {
		t.Fatalf("schema change wrote %v", paths(delta))
	}
	up = upPart(string(delta[0].Content))
	if !strings.Contains(up, `ON "public"."posts"`) || strings.Contains(up, `"users"`) || strings.Contains(up, `"tags"`) {
		t.Errorf("schema delta should touch posts only:\n%s", up)
	}

	// Table removed from config: its trigger and function are dropped.
	p.write("threadline.yaml", lifeConfig("  users:\n    mask: [email]\n  posts: {}\n"))
	delta = p.mustGenerate()
	if len(delta) != 1 {
		t.Fatalf("removal wrote %v", paths(delta))
	}
	up = upPart(string(delta[0].Content))
	if !strings.Contains(up, `DROP TRIGGER IF EXISTS "threadline_capture_insert" ON "public"."tags"`) ||
		!strings.Contains(up, `DROP FUNCTION IF EXISTS "threadline"."capture_public_tags_`) {
		t.Errorf("removal migration:\n%s", up)
	}
	if got := len(p.migrations()); got != 4 {
		t.Errorf("%d migrations, want 4: %v", got, p.migrations())
	}
	if again := p.mustGenerate(); len(again) != 0 {
		t.Fatalf("re-run after removal wrote %v", paths(again))
	}
}

func TestGenerateRefusesHandEditedMigration(t *testing.T) {
	p := newProject(t, lifeConfig("  users: {}\n"), lifeDDL)
	files := p.mustGenerate()
	path := "migrations/" + files[0].Path
	p.write(path, strings.Replace(p.read(path), "clock_timestamp()", "now()", 1))
	p.write("threadline.yaml", lifeConfig("  users: {}\n  posts: {}\n"))
	_, err := p.generate()
	var edited *generator.EditedError
	if !errors.As(err, &edited) || edited.Path != files[0].Path {
		t.Fatalf("err = %v, want EditedError for %s", err, files[0].Path)
	}
	if n := len(p.migrations()); n != 1 {
		t.Errorf("generate wrote despite the edit: %v", p.migrations())
	}
}

func TestGenerateConfigErrors(t *testing.T) {
	cases := []struct {
		name, tables, want string
	}{
		{"unknown table", "  userz: {}\n", `threadline.yaml:10:3: table public.userz not found in the schema (did you mean public.users?)`},
		{"unknown table, no near name", "  comments: {}\n", `threadline.yaml:10:3: table public.comments not found in the schema`},
		{"unknown table, case", "  Posts: {}\n", `threadline.yaml:10:3: table public.Posts not found in the schema (did you mean public.posts or public.parts?)`},
		{"unknown column", "  users:\n    exclude: [pasword]\n", `threadline.yaml:11:15: table public.users has no column "pasword" (columns: id, email, name)`},
		{"unknown mask column", "  users:\n    mask: [Email]\n", `threadline.yaml:11:12: table public.users has no column "Email" (did you mean "email"?)`},
		{"unknown key column", "  nokey:\n    key: [nope]\n", `threadline.yaml:11:11: table public.nokey has no column "nope" (columns: a, b)`},
		{"no primary key", "  nokey: {}\n", `threadline.yaml:10:3: table public.nokey has no primary key: set key: [column, ...] to the columns that identify a row`},
		{"statement capture of a partitioned table", "  parts:\n    capture: statement\n", `threadline.yaml:11:14: table public.parts is partitioned: it is captured with a row-level trigger (PostgreSQL clones it to every partition); remove capture: statement`},
		{"partition", "  parts_1: {}\n", `threadline.yaml:10:3: table public.parts_1 is a partition of public.parts: audit the partitioned table public.parts instead (its capture covers every partition)`},
		{"masked key", "  users:\n    mask: [email, id]\n", `threadline.yaml:11:19: table public.users: column "id" is part of the key (id), which is stored in clear in table_pk: it cannot be in mask`},
		{"excluded configured key", "  nokey:\n    key: [a, b]\n    exclude: [b]\n", `threadline.yaml:12:15: table public.nokey: column "b" is part of the key (a, b), which is stored in clear in table_pk: it cannot be in exclude`},
		{"masked configured key", "  nokey:\n    key: [a]\n    mask: [a]\n", `threadline.yaml:12:12: table public.nokey: column "a" is part of the key (a), which is stored in clear in table_pk: it cannot be in mask`},
		{"excluded NOT NULL domain", "  secrets:\n    exclude: [token]\n", `threadline.yaml:11:15: table public.secrets: excluded column "token" has the NOT NULL domain type public.token_text, which Threadline cannot build images without (it sets excluded columns to NULL first); mask it instead, or drop NOT NULL from the domain and put it on the column`},
	}
	ddl := lifeDDL + `
CREATE TABLE nokey (a int, b text);
CREATE TABLE parts (id int, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (10);
CREATE DOMAIN token_text AS text NOT NULL;
CREATE TABLE secrets (id int PRIMARY KEY, token token_text);`
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newProject(t, lifeConfig(c.tables), ddl)
			_, err := p.generate()
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("err = %v (%T), want *config.Error", err, err)
			}
			got := strings.TrimPrefix(err.Error(), p.dir+string(filepath.Separator))
			if got != c.want {
				t.Errorf("error:\n got %s\nwant %s", got, c.want)
			}
			if n := len(p.migrations()); n != 0 {
				t.Errorf("files written on error: %v", p.migrations())
			}
		})
	}
}

func TestCheckSealedFilesDetectsEdits(t *testing.T) {
	p := newProject(t, lifeConfig("  users: {}\n"), lifeDDL)
	p.mustGenerate()
	names := p.migrations()
	if !reflect.DeepEqual(len(names), 1) {
		t.Fatalf("migrations: %v", names)
	}
	content := p.read("migrations/" + names[0])
	if !strings.HasPrefix(content, generator.Header+"\n") || !strings.Contains(content, "-- threadline:checksum sha256:") {
		t.Errorf("missing header or checksum:\n%.300s", content)
	}
}

func paths(fs []generator.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func upPart(s string) string {
	if i := strings.Index(s, "-- +goose Down"); i >= 0 {
		return s[:i]
	}
	return s
}
