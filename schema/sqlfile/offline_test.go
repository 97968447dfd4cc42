package sqlfile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/schema"
)

func TestMigrationFormats(t *testing.T) {
	for _, tc := range []struct{ dir, table string }{
		{"goose", "goose_users"},
		{"dbmate", "dbmate_users"},
		{"tern", "tern_users"},
		{"golang-migrate", "gm_users"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			s, err := LoadGlobs([]string{filepath.Join("testdata/migrations", tc.dir, "*.sql")})
			if err != nil {
				t.Fatal(err)
			}
			tb := s.Table(qn("public", tc.table))
			if tb == nil {
				t.Fatalf("table %s missing (down section applied?); tables: %v", tc.table, tableNames(s))
			}
			var cols []string
			for _, c := range tb.Columns {
				cols = append(cols, c.Name)
			}
			if !slices.Equal(cols, []string{"id", "name", "email"}) || !slices.Equal(tb.PrimaryKey, []string{"id"}) {
				t.Errorf("%s: columns %v PK %v", tc.table, cols, tb.PrimaryKey)
			}
			if len(s.Tables) != 1 {
				t.Errorf("tables = %v, want only %s", tableNames(s), tc.table)
			}
		})
	}
}

func tableNames(s *schema.Schema) []string {
	var out []string
	for _, t := range s.Tables {
		out = append(out, t.QualifiedName.String())
	}
	return out
}

func TestLoadGlobsOrderAndDuplicates(t *testing.T) {
	// The second pattern matches files already loaded; they are applied once
	// (a second CREATE TABLE would fail).
	s, err := LoadGlobs([]string{"testdata/migrations/goose/*.sql", "testdata/migrations/goose/00001_*.sql"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Table(qn("public", "goose_users")).Column("email") == nil {
		t.Errorf("00002 not applied after 00001")
	}
}

func TestLoadGlobsNoMatch(t *testing.T) {
	_, err := LoadGlobs([]string{"testdata/migrations/goose/*.sql", "testdata/nothing-here/*.sql"})
	if err == nil || !strings.Contains(err.Error(), `"testdata/nothing-here/*.sql"`) || !strings.Contains(err.Error(), "matches no files") {
		t.Fatalf("err = %v, want an error naming the pattern", err)
	}
}

func TestLoadFilesMissingFile(t *testing.T) {
	_, err := LoadFiles([]string{"testdata/does-not-exist.sql"})
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.sql") {
		t.Fatalf("err = %v", err)
	}
}

// writeSQL writes content to name in a temporary directory.
func writeSQL(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Long on purpose: a table of cases, one line each; splitting it would only scatter them.
func TestErrorPositions(t *testing.T) {
	for _, tc := range []struct {
		name, file, sql string
		line, col       int
		msg             string
	}{
		{
			name: "syntax error",
			file: "syntax.sql",
			sql: "-- line 1\n" +
				"CREATE TABLE ok (id int);\n" +
				"CREATE TABLE bad (id int,, x text);\n",
			// "CREATE TABLE bad (id int," is 25 characters: the second comma is column 26.
			line: 3, col: 26, msg: `syntax error at or near ","`,
		},
		{
			name: "syntax error in goose up section after multi-byte characters",
			file: "00003_cafe.sql",
			sql: "-- +goose Up\n" +
				"-- héllo wörld\n" +
				"CREATE TABLE ok (id int);\n" +
				"-- +goose StatementBegin\n" +
				"CREATE TABLE café (id int) x;\n" +
				"-- +goose StatementEnd\n" +
				"-- +goose Down\n" +
				"DROP TABLE café;\n",
			// "CREATE TABLE café (id int) " is 27 characters (28 bytes): x is column 28.
			line: 5, col: 28, msg: `syntax error at or near "x"`,
		},
		{
			name: "syntax error at end of input",
			file: "eof.sql",
			sql:  "CREATE TABLE t (\n  id int",
			line: 2, col: 9, msg: "syntax error at end of input",
		},
		{
			name: "alter of unknown table",
			file: "alter.sql",
			sql: "CREATE TABLE t (id int);\n" +
				"\n" +
				"  /* a comment */ -- and another\n" +
				"  ALTER TABLE missing ADD COLUMN x int;\n",
			line: 4, col: 3, msg: `relation "public.missing" does not exist`,
		},
		{
			name: "duplicate table",
			file: "dup.sql",
			sql:  "CREATE TABLE t (id int);\nCREATE TABLE IF NOT EXISTS t (id int);\ncreate table T (x int);\n",
			line: 3, col: 1, msg: `relation "public.t" already exists`,
		},
		{
			name: "drop of unknown column",
			file: "dropcol.sql",
			sql:  "CREATE TABLE t (id int);\nALTER TABLE t DROP COLUMN IF EXISTS nope;\nALTER TABLE t DROP COLUMN nope;\n",
			line: 3, col: 1, msg: `column "nope" of relation "public.t" does not exist`,
		},
		{
			name: "dbmate semantic error maps to the file line",
			file: "20240101_x.sql",
			sql:  "-- migrate:up\n\nALTER TABLE t RENAME COLUMN a TO b;\n-- migrate:down\n",
			line: 3, col: 1, msg: `relation "public.t" does not exist`,
		},
		{
			name: "NUL byte",
			file: "nul.sql",
			sql:  "CREATE TABLE t (id int);\nSELECT 1\x00;\n",
			line: 2, col: 9, msg: "invalid NUL byte",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeSQL(t, tc.file, tc.sql)
			_, err := LoadFiles([]string{path})
			want := &PosError{Path: path, Line: tc.line, Col: tc.col, Msg: tc.msg}
			var pe *PosError
			if !errors.As(err, &pe) || !reflect.DeepEqual(pe, want) {
				t.Fatalf("err = %v\nwant  %v", err, want)
			}
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Errorf("error %q does not start with path:line:col", err)
			}
		})
	}
}

func TestOfflineSemantics(t *testing.T) {
	path := writeSQL(t, "s.sql", `
CREATE TABLE p (id int, k int, v text, PRIMARY KEY (k, id)) PARTITION BY LIST (k);
CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1);
ALTER TABLE p DROP CONSTRAINT p_pkey;
ALTER TABLE p ALTER COLUMN v SET NOT NULL, DROP COLUMN v;  -- drop runs first in PostgreSQL
CREATE TABLE t (id int);
ALTER TABLE ONLY t ADD COLUMN x int PRIMARY KEY;
CREATE TYPE e AS ENUM ('a');
CREATE DOMAIN d AS e[];
CREATE TABLE u (d d, e e);
ALTER TYPE e RENAME TO e2;
`)
	_, err := LoadFiles([]string{path})
	var pe *PosError
	if !errors.As(err, &pe) || pe.Line != 5 || !strings.Contains(pe.Msg, `column "v"`) {
		t.Fatalf("err = %v, want SET NOT NULL on the dropped column to fail at line 5", err)
	}

	path = writeSQL(t, "ok.sql", `
CREATE TABLE p (id int, k int, PRIMARY KEY (k, id)) PARTITION BY LIST (k);
CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1);
ALTER TABLE p DROP CONSTRAINT p_pkey;
CREATE TYPE e AS ENUM ('a');
CREATE DOMAIN d AS e[];
CREATE TABLE u (d d, e e);
ALTER TYPE e RENAME TO e2;
DROP TYPE IF EXISTS e, not_a_type;
`)
	s, err := LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if pk := s.Table(qn("public", "p1")).PrimaryKey; pk != nil {
		t.Errorf("p1 PK = %v, want dropped with the parent's", pk)
	}
	u := s.Table(qn("public", "u"))
	want := schema.Type{Schema: "public", Name: "e2", ArrayDims: 1, Enum: true, Domain: &schema.QualifiedName{Schema: "public", Name: "d"}}
	if got := u.Column("d").Type; !reflect.DeepEqual(got, want) {
		t.Errorf("u.d = %+v, want %+v", got, want)
	}
	if got := u.Column("e").Type; got != (schema.Type{Schema: "public", Name: "e2", Enum: true}) {
		t.Errorf("u.e = %+v", got)
	}
}

func TestTypeNames(t *testing.T) {
	cases := map[string]string{
		"integer": "int4", "int": "int4", "int4": "int4", "bigint": "int8", "smallint": "int2",
		"boolean": "bool", "bool": "bool", "character varying(10)": "varchar", "varchar": "varchar",
		"character(2)": "bpchar", "char": "bpchar", `"char"`: "char", "text": "text",
		"double precision": "float8", "real": "float4", "float": "float8", "float(3)": "float4",
		"decimal(3,1)": "numeric", "numeric": "numeric", "timestamp with time zone": "timestamptz",
		"timestamptz": "timestamptz", "timestamp": "timestamp", "timestamp(3) without time zone": "timestamp",
		"time": "time", "time with time zone": "timetz", "timetz": "timetz", "date": "date",
		"interval": "interval", "interval year to month": "interval", "uuid": "uuid", "json": "json",
		"jsonb": "jsonb", "bytea": "bytea", "inet": "inet", "cidr": "cidr", "macaddr": "macaddr",
		"xml": "xml", "money": "money", "oid": "oid", "bit varying(3)": "varbit", "serial": "int4",
		"bigserial": "int8", "smallserial": "int2", "pg_catalog.int4": "int4", "_int4": "int4",
	}
	for decl, want := range cases {
		path := writeSQL(t, "t.sql", "CREATE TABLE t (c "+decl+");")
		s, err := LoadFiles([]string{path})
		if err != nil {
			t.Fatalf("%s: %v", decl, err)
		}
		got := s.Tables[0].Columns[0].Type
		if got.Schema != "pg_catalog" || got.Name != want {
			t.Errorf("%s → %s, want pg_catalog.%s", decl, got, want)
		}
	}
	path := writeSQL(t, "u.sql", "CREATE TABLE t (a int[], b integer ARRAY[4], c mytype, d other.thing[]);")
	s, err := LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range s.Tables[0].Columns {
		got = append(got, c.Type.String())
	}
	if want := []string{"int4[]", "int4[]", "public.mytype", "other.thing[]"}; !slices.Equal(got, want) {
		t.Errorf("types = %v, want %v", got, want)
	}
}
