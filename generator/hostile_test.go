package generator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/format"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/dburl"
	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/sqltemplates"
)

// hostileText is put in every text value: quotes, backslashes, dollar
// quotes, template braces, unicode.
const hostileText = `it's "q" \n \\ $threadline$ $$ {{.S}} }} 日本 é`

// hcol is a column of a hostile table: int or text.
type hcol struct {
	name string
	int  bool
}

// htable is one audited table with hostile names, and its config.
type htable struct {
	schema, name string
	// yamlKey is the key in threadline.yaml as written (YAML text); empty:
	// the SQL-quoted name as a JSON (= YAML double-quoted) string.
	yamlKey     string
	cols        []hcol
	key         []string
	exclude     []string
	mask        []string
	except      []string
	placeholder string
	changedFrom bool
}

func (t htable) q() schema.QualifiedName { return schema.QualifiedName{Schema: t.schema, Name: t.name} }

func (t htable) ident() string { return t.q().Quoted() }

// jsonString quotes s as a YAML double-quoted scalar (which is also a JSON
// string): every rune outside printable ASCII is escaped (\uXXXX or
// \UXXXXXXXX), since YAML forbids raw control characters and folds raw
// line separators.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func sqlQuoted(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (t htable) yaml() string {
	key := t.yamlKey
	if key == "" {
		n := sqlQuoted(t.name)
		if t.schema != "public" {
			n = sqlQuoted(t.schema) + "." + n
		}
		key = jsonString(n)
	}
	var b strings.Builder
	b.WriteString("  " + key + ":")
	list := func(field string, names []string) {
		if len(names) == 0 {
			return
		}
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = jsonString(n)
		}
		b.WriteString("\n    " + field + ": [" + strings.Join(q, ", ") + "]")
	}
	list("exclude", t.exclude)
	list("mask", t.mask)
	list("except_columns", t.except)
	if t.placeholder != "" {
		b.WriteString("\n    mask_placeholder: " + jsonString(t.placeholder))
	}
	if t.changedFrom {
		b.WriteString("\n    store_changed_from: true")
	}
	if b.Len() == len("  "+key+":") {
		b.WriteString(" {}")
	}
	return b.String() + "\n"
}

func (t htable) ddl() string {
	var cols []string
	for _, c := range t.cols {
		typ := "text"
		if c.int {
			typ = "integer"
		}
		cols = append(cols, sqlQuoted(c.name)+" "+typ)
	}
	key := make([]string, len(t.key))
	for i, k := range t.key {
		key[i] = sqlQuoted(k)
	}
	return "CREATE TABLE " + t.ident() + " (\n    " + strings.Join(cols, ",\n    ") +
		",\n    PRIMARY KEY (" + strings.Join(key, ", ") + ")\n);\n"
}

func (t htable) isKey(c string) bool { return slices.Contains(t.key, c) }

// row returns the values of row i (key columns = i).
func (t htable) row(i int) map[string]any {
	r := map[string]any{}
	for _, c := range t.cols {
		switch {
		case c.int:
			r[c.name] = int64(i)
		case slices.Contains(t.exclude, c.name):
			r[c.name] = fmt.Sprintf("SECRET-%d-%s", i, c.name)
		default:
			r[c.name] = fmt.Sprintf("r%d %s %s", i, c.name, hostileText)
		}
	}
	return r
}

func (t htable) redact(r map[string]any) string {
	out := maps.Clone(r)
	for _, c := range t.exclude {
		delete(out, c)
	}
	for _, c := range t.mask {
		if out[c] != nil {
			out[c] = t.placeholderOrDefault()
		}
	}
	return canonicalMap(out)
}

func (t htable) placeholderOrDefault() string {
	if t.placeholder == "" {
		return "[REDACTED]"
	}
	return t.placeholder
}

func (t htable) pk(r map[string]any) string {
	m := map[string]any{}
	for _, k := range t.key {
		m[k] = r[k]
	}
	return canonicalMap(m)
}

func canonicalMap(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// canonicalText re-encodes JSON text with sorted keys ("" stays "").
func canonicalText(t testing.TB, s string) string {
	t.Helper()
	if s == "" {
		return ""
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostileTables returns the tables of the hostile-identifier test.
func hostileTables() []htable {
	p60 := strings.Repeat("p", 50) + "_prefix_6" + "0" // 60 bytes
	long63 := "a_table_name_that_is_exactly_sixty_three_bytes_long_" + "abcdefghijk"
	col63 := "a_column_name_that_is_exactly_sixty_three_bytes_long_abcdefghij"
	return []htable{
		{schema: "public", name: `we"ird`, yamlKey: `'"we""ird"'`,
			cols: []hcol{{`i"d`, true}, {`va l`, false}, {`e'mail`, false}}, key: []string{`i"d`},
			mask: []string{`e'mail`}, placeholder: `[$threadline$ '\x' {{.S}} "q"]`},
		{schema: "public", name: "MixedCase", yamlKey: "MixedCase",
			cols: []hcol{{"Id", true}, {"Value", false}, {"Note", false}}, key: []string{"Id"},
			except: []string{"Value"}},
		{schema: "public", name: "mixedcase", yamlKey: "mixedcase",
			cols: []hcol{{"id", true}, {"value", false}}, key: []string{"id"}},
		{schema: "public", name: "select", yamlKey: "select",
			cols: []hcol{{"order", true}, {"user", false}, {"from", true}, {"group", false}}, key: []string{"from", "order"},
			exclude: []string{"user"}},
		{schema: "user", name: "order", yamlKey: "user.order",
			cols: []hcol{{"table", true}, {"where", false}}, key: []string{"table"}},
		{schema: "public", name: "café 日本", yamlKey: "café 日本",
			cols: []hcol{{"é", true}, {"日本", false}, {"naïve col", false}}, key: []string{"é"},
			mask: []string{"naïve col"}, changedFrom: true},
		{schema: "public", name: long63, cols: []hcol{{col63, true}, {"v", false}}, key: []string{col63}},
		{schema: "public", name: p60 + "_aa", cols: []hcol{{"id", true}, {"v", false}}, key: []string{"id"}},
		{schema: "public", name: p60 + "_bb", cols: []hcol{{"id", true}, {"v", false}}, key: []string{"id"}},
		{schema: "public", name: p60 + "_é", cols: []hcol{{"id", true}, {"v", false}}, key: []string{"id"}},
		{schema: "public", name: "$threadline$",
			cols: []hcol{{"$threadline$", true}, {"{{ .S }}", false}, {"}}{{", false}, {"$threadline1$", false}, {"$$", false}},
			key:  []string{"$threadline$"}, mask: []string{"$threadline1$"}, placeholder: "$threadline1$", changedFrom: true},
		{schema: "public", name: `back\slash`, yamlKey: `'back\slash'`,
			cols: []hcol{{`\`, true}, {`a\'b`, false}, {`\\x`, false}}, key: []string{`\`},
			exclude: []string{`\\x`}, changedFrom: true},
		{schema: "My Schema", name: "a.b", yamlKey: `'"My Schema"."a.b"'`,
			cols: []hcol{{"it's", true}, {"x.y", false}}, key: []string{"it's"}, changedFrom: true},
		{schema: "public", name: `x"y`, yamlKey: `'"x""y"'`,
			cols: []hcol{{"id", true}, {`"`, false}}, key: []string{"id"}},
		{schema: "public", name: `t; DROP TABLE "select"; --`,
			cols: []hcol{{"/* c */", true}, {"-- d", false}, {"'); DROP TABLE x; --", false}}, key: []string{"/* c */"},
			mask: []string{"-- d"}},
		{schema: "public", name: "new\nline",
			cols: []hcol{{"a\nb", true}, {"c\td", false}}, key: []string{"a\nb"}},
	}
}

// TestHostileIdentifiers generates capture (offline) for tables and
// columns with hostile names, applies it, and checks the exact audit rows
// of INSERT, UPDATE, DELETE and TRUNCATE on each, the capture function
// names (distinct, at most 63 bytes, not truncated by PostgreSQL) and the
// down migration.
//
// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestHostileIdentifiers(t *testing.T) {
	tables := hostileTables()
	ddl := `CREATE SCHEMA "My Schema"; CREATE SCHEMA "user";` + "\n"
	var cfg strings.Builder
	cfg.WriteString("version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: plain\npackage:\n  dir: audit\ntables:\n")
	for _, tb := range tables {
		ddl += tb.ddl()
		cfg.WriteString(tb.yaml())
	}
	p := newProject(t, cfg.String(), ddl)
	files := p.mustGenerate()
	var up, down string
	for _, f := range files {
		switch {
		case strings.HasSuffix(f.Path, ".up.sql"):
			up = string(f.Content)
		case strings.HasSuffix(f.Path, ".down.sql"):
			down = string(f.Content)
		}
	}
	if up == "" || down == "" {
		t.Fatalf("generated %v", paths(files))
	}
	if again := p.mustGenerate(); len(again) != 0 {
		t.Errorf("second run wrote %v", paths(again))
	}
	if strings.Contains(up, "{{") && !strings.Contains(up, "{{ .S }}") {
		t.Errorf("up migration holds an unexpected {{")
	}

	db := pgtest.NewDB(t, ddl)
	db.Exec(t, up)
	ctx := context.Background()

	// Function names: one per table, distinct, <= 63 bytes, exactly what
	// FunctionName says (PostgreSQL did not truncate them), four triggers.
	type trig struct{ fn string }
	rows, err := db.Pool.Query(ctx, `
		SELECT n.nspname, c.relname, t.tgname, p.proname, pn.nspname
		FROM pg_trigger t
		JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
		WHERE NOT t.tgisinternal`)
	if err != nil {
		t.Fatal(err)
	}
	fnOf := map[schema.QualifiedName]map[string]bool{}
	trigOf := map[schema.QualifiedName][]string{}
	for rows.Next() {
		var q schema.QualifiedName
		var tg, fn, fns string
		if err := rows.Scan(&q.Schema, &q.Name, &tg, &fn, &fns); err != nil {
			t.Fatal(err)
		}
		if fns != "threadline" {
			t.Errorf("trigger %s on %s calls a function in schema %q", tg, q, fns)
		}
		if fnOf[q] == nil {
			fnOf[q] = map[string]bool{}
		}
		fnOf[q][fn] = true
		trigOf[q] = append(trigOf[q], tg)
	}
	rows.Close()
	seen := map[string]schema.QualifiedName{}
	for _, tb := range tables {
		q := tb.q()
		want := sqltemplates.FunctionName(q)
		if len(want) > 63 {
			t.Errorf("%s: function name %q is %d bytes", q, want, len(want))
		}
		if other, dup := seen[want]; dup {
			t.Errorf("%s and %s share function name %s", q, other, want)
		}
		seen[want] = q
		if got := slices.Sorted(maps.Keys(fnOf[q])); len(got) != 1 || got[0] != want {
			t.Errorf("%q: triggers call %q, want %q", q.String(), got, want)
		}
		if n := len(trigOf[q]); n != 4 {
			t.Errorf("%q: %d triggers, want 4", q.String(), n)
		}
	}
	if len(fnOf) != len(tables) {
		t.Errorf("triggers on %d tables, want %d", len(fnOf), len(tables))
	}

	// Writes, each table in its own transactions.
	for _, tb := range tables {
		r1, r2 := tb.row(1), tb.row(2)
		var cols, vals1, vals2, set, exceptSet, where1, where2 []string
		var args []any
		for _, c := range tb.cols {
			cols = append(cols, sqlQuoted(c.name))
			args = append(args, r1[c.name])
			vals1 = append(vals1, fmt.Sprintf("$%d", len(args)))
		}
		for _, c := range tb.cols {
			args = append(args, r2[c.name])
			vals2 = append(vals2, fmt.Sprintf("$%d", len(args)))
		}
		updated := maps.Clone(r1)
		var changed []string
		for _, c := range tb.cols {
			switch {
			case tb.isKey(c.name):
				where1 = append(where1, fmt.Sprintf("%s = 1", sqlQuoted(c.name)))
				where2 = append(where2, fmt.Sprintf("%s = 2", sqlQuoted(c.name)))
			case slices.Contains(tb.except, c.name):
				exceptSet = append(exceptSet, fmt.Sprintf("%s = %s || ' again'", sqlQuoted(c.name), sqlQuoted(c.name)))
				fallthrough
			default:
				set = append(set, fmt.Sprintf("%s = 'u ' || %s", sqlQuoted(c.name), sqlQuoted(c.name)))
				updated[c.name] = "u " + r1[c.name].(string)
				// An excluded column that changed is named, without its value.
				if !slices.Contains(tb.except, c.name) {
					changed = append(changed, c.name)
				}
			}
		}
		sort.Strings(changed)
		stmts := []struct {
			sql  string
			args []any
		}{
			{"INSERT INTO " + tb.ident() + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals1, ", ") + "), (" + strings.Join(vals2, ", ") + ")", args},
			{"UPDATE " + tb.ident() + " SET " + strings.Join(set, ", ") + " WHERE " + strings.Join(where1, " AND "), nil},
			{"DELETE FROM " + tb.ident() + " WHERE " + strings.Join(where2, " AND "), nil},
		}
		if len(exceptSet) > 0 {
			// An UPDATE changing only except columns writes no audit row.
			stmts = append(stmts, struct {
				sql  string
				args []any
			}{"UPDATE " + tb.ident() + " SET " + strings.Join(exceptSet, ", "), nil})
		}
		stmts = append(stmts, struct {
			sql  string
			args []any
		}{"TRUNCATE " + tb.ident(), nil})
		for _, s := range stmts {
			if _, err := db.Pool.Exec(ctx, s.sql, s.args...); err != nil {
				t.Fatalf("%q: %s: %v", tb.q().String(), s.sql, err)
			}
		}

		var changedFrom string
		if tb.changedFrom {
			m := map[string]any{}
			for _, c := range changed {
				if slices.Contains(tb.exclude, c) {
					continue
				}
				m[c] = r1[c]
				if slices.Contains(tb.mask, c) {
					m[c] = tb.placeholderOrDefault()
				}
			}
			changedFrom = canonicalMap(m)
		}
		want := []string{
			"insert|" + tb.pk(r1) + "||" + tb.redact(r1) + "|||",
			"insert|" + tb.pk(r2) + "||" + tb.redact(r2) + "|||",
			"update|" + tb.pk(r1) + "||" + tb.redact(updated) + "||" + strings.Join(changed, "\x1f") + "|" + changedFrom,
			"delete|" + tb.pk(r2) + "|||" + tb.redact(r2) + "||",
			"truncate||||||",
		}
		rows, err := db.Pool.Query(ctx, `
			SELECT op, coalesce(table_pk::text, ''), coalesce(table_pk_before::text, ''), coalesce(data_after::text, ''),
			       coalesce(data_before::text, ''), changed_fields, coalesce(changed_from::text, '')
			FROM threadline.audit_changes WHERE table_schema = $1 AND table_name = $2 ORDER BY id`, tb.schema, tb.name)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var op, pk, pkb, after, before, from string
			var changedFields []string
			if err := rows.Scan(&op, &pk, &pkb, &after, &before, &changedFields, &from); err != nil {
				t.Fatal(err)
			}
			ch := strings.Join(changedFields, "\x1f")
			got = append(got, strings.Join([]string{op, canonicalText(t, pk), canonicalText(t, pkb), canonicalText(t, after),
				canonicalText(t, before), ch, canonicalText(t, from)}, "|"))
		}
		rows.Close()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%q: audit rows\n%s\nwant\n%s", tb.q().String(), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	total := 0
	for range tables {
		total += 5
	}
	if n := countRows(t, db, "threadline.audit_changes"); n != total {
		t.Errorf("audit_changes holds %d rows, want %d", n, total)
	}
	var secrets int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM threadline.audit_changes c WHERE c::text LIKE '%SECRET-%'`).Scan(&secrets); err != nil {
		t.Fatal(err)
	}
	if secrets != 0 {
		t.Errorf("%d audit rows hold an excluded value", secrets)
	}

	// tern runs migrations through text/template: the tern file, rendered
	// like tern does, applies to a fresh database and installs the same
	// capture functions ("{{" in names must be escaped).
	tp := newProject(t, strings.Replace(cfg.String(), "format: plain", "format: tern", 1), ddl)
	ternFiles := tp.mustGenerate()
	if len(ternFiles) != 1 {
		t.Fatalf("tern: generated %v", paths(ternFiles))
	}
	tmpl, err := template.New("tern").Parse(string(ternFiles[0].Content))
	if err != nil {
		t.Fatalf("tern: the migration is not a valid template: %v", err)
	}
	var rendered strings.Builder
	if err := tmpl.Execute(&rendered, nil); err != nil {
		t.Fatalf("tern: render: %v", err)
	}
	ternUp, _, ok := strings.Cut(rendered.String(), "---- create above / drop below ----")
	if !ok {
		t.Fatal("tern: no create/drop separator")
	}
	tdb := pgtest.NewDB(t, ddl)
	tdb.Exec(t, ternUp)
	var ternFns, plainFns []string
	for _, x := range []struct {
		db  *pgtest.DB
		dst *[]string
	}{{tdb, &ternFns}, {db, &plainFns}} {
		rows, err := x.db.Pool.Query(ctx, `SELECT proname || ':' || md5(prosrc) FROM pg_proc
			WHERE pronamespace = 'threadline'::regnamespace ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		*x.dst, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(ternFns, plainFns) || len(ternFns) < len(tables) {
		t.Errorf("tern installs functions %v, plain %v", ternFns, plainFns)
	}

	// The down migration removes every trigger and function, and the schema.
	db.Exec(t, down)
	var left int
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal)
		+ (SELECT count(*) FROM pg_namespace WHERE nspname = 'threadline')`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d triggers or schemas left after the down migration", left)
	}
}

func countRows(t testing.TB, db *pgtest.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHostileQuotingInDatabase round-trips hostile strings through
// QuoteLiteral and QuoteIdent in PostgreSQL, with standard_conforming_strings
// on and off.
func TestHostileQuotingInDatabase(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	values := []string{"", "plain", `it's`, `"`, `\`, `\'`, `'\`, `\\''\\`, "$threadline$", "$$", "{{.S}}", "日本 é",
		"new\nline\ttab", `E'x'`, `U&"d\0061t\+000061"`, strings.Repeat("x", 63), strings.Repeat("é", 31) + "x",
		strings.Repeat("y", 64)}
	for _, scs := range []string{"on", "off"} {
		if _, err := conn.Exec(ctx, "SET standard_conforming_strings = "+scs); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			var lit string
			if err := conn.QueryRow(ctx, "SELECT "+sqltemplates.QuoteLiteral(v)).Scan(&lit); err != nil {
				t.Fatalf("scs=%s: literal %q: %v", scs, v, err)
			}
			if lit != v {
				t.Errorf("scs=%s: QuoteLiteral(%q) read back as %q", scs, v, lit)
			}
			if v == "" {
				continue // a zero-length identifier is an error, as it should be
			}
			rows, err := conn.Query(ctx, "SELECT 1 AS "+sqltemplates.QuoteIdent(v))
			if err != nil {
				t.Fatalf("scs=%s: ident %q: %v", scs, v, err)
			}
			name := rows.FieldDescriptions()[0].Name
			rows.Close()
			if want := truncateIdent(v); name != want {
				t.Errorf("scs=%s: QuoteIdent(%q) read back as %q, want %q", scs, v, name, want)
			}
		}
	}
	if _, err := conn.Exec(ctx, "RESET standard_conforming_strings"); err != nil {
		t.Fatal(err)
	}
}

// truncateIdent truncates s like PostgreSQL does: to at most 63 bytes,
// at a character boundary.
func truncateIdent(s string) string {
	if len(s) <= 63 {
		return s
	}
	n := 63
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// FuzzQuoting checks that QuoteIdent and QuoteLiteral round-trip any
// string through PostgreSQL's parser (pg_query): the statement
// SELECT <literal> AS <ident> FROM <schema>.<table> parses to exactly one
// statement whose constant, column alias and table name are the input
// (the identifiers truncated to 63 bytes as PostgreSQL does).
func FuzzQuoting(f *testing.F) {
	for _, s := range []string{"", "a", `it's`, `"`, `""`, `\`, `\'`, `'\`, "$threadline$", "$$", "{{.S}}", "}}",
		"日本", "new\nline", "a.b", `x"y`, "select", "-- c", "/* c */", "; DROP TABLE t; --", `E'\x41'`,
		`U&'\0041'`, strings.Repeat("é", 40), "\u00a0", "\r\n", "\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return // PostgreSQL text cannot hold these
		}
		lit := sqltemplates.QuoteLiteral(s)
		sql := "SELECT " + lit + " AS " + sqltemplates.QuoteIdent(s+"c") + " FROM " +
			schema.QualifiedName{Schema: s + "s", Name: s + "t"}.Quoted()
		res, err := pg_query.Parse(sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if len(res.Stmts) != 1 {
			t.Fatalf("%s: %d statements", sql, len(res.Stmts))
		}
		sel := res.Stmts[0].Stmt.GetSelectStmt()
		if sel == nil || len(sel.TargetList) != 1 || len(sel.FromClause) != 1 {
			t.Fatalf("%s: not a one-column select from one table", sql)
		}
		rt := sel.TargetList[0].GetResTarget()
		if got := rt.GetVal().GetAConst().GetSval().GetSval(); got != s {
			t.Fatalf("literal %s parsed as %q, want %q", lit, got, s)
		}
		if got, want := rt.GetName(), truncateIdent(s+"c"); got != want {
			t.Fatalf("alias parsed as %q, want %q", got, want)
		}
		rv := sel.FromClause[0].GetRangeVar()
		if rv.GetSchemaname() != truncateIdent(s+"s") || rv.GetRelname() != truncateIdent(s+"t") {
			t.Fatalf("table parsed as %q.%q", rv.GetSchemaname(), rv.GetRelname())
		}
	})
}

// TestPasswordNeverInErrors connects with database URLs and DSNs holding a
// password, through schema.Connect and generator.LoadSchema, in ways that
// fail (unreachable port, unknown database, unparsable URL): no error
// message holds the password, raw or percent-encoded.
func TestPasswordNeverInErrors(t *testing.T) {
	const raw = "Pw@MARK:ER/9%z"         // as the server would see it
	const enc = "Pw%40MARK%3AER%2F9%25z" // percent-encoded in a URL
	host := "127.0.0.1"
	urls := []string{
		"postgres://postgres:" + enc + "@" + host + ":1/app?sslmode=disable&connect_timeout=5",
		"postgres://postgres:" + enc + "@" + host + ":5432/no_such_database_tl?sslmode=disable",
		"postgres://postgres@" + host + ":1/app?sslmode=disable&password=" + enc,
		"postgres://postgres:" + enc + "@" + host + ":notaport/app",
		"postgres://postgres:" + enc + "@" + host + ":5432/app?sslmode=bogus",
		"host=" + host + " port=1 user=postgres password=" + raw + " dbname=app sslmode=disable",
		"host=" + host + " port=1 user=postgres password='" + raw + " x' dbname=app sslmode=disable",
	}
	ctx := context.Background()
	for _, u := range urls {
		var msgs []string
		conn, err := schema.Connect(ctx, u)
		if err == nil {
			conn.Close(ctx)
			t.Errorf("%s: connected", dburl.Redact(u))
			continue
		}
		msgs = append(msgs, err.Error(), fmt.Sprintf("%+v", err), dburl.Redact(u))

		dir := t.TempDir()
		cfgText := "version: 1\nschema:\n  database_url: ${DATABASE_URL}\nmigrations:\n  dir: migrations\n  format: plain\n" +
			"package:\n  dir: audit\ntables:\n  users: {}\n"
		getenv := func(k string) string {
			if k == "DATABASE_URL" {
				return u
			}
			return ""
		}
		cfg, err := config.Parse(filepath.Join(dir, "threadline.yaml"), []byte(cfgText), getenv)
		if err != nil {
			msgs = append(msgs, err.Error())
		} else {
			_, src, err := generator.LoadSchema(ctx, cfg, getenv, pgParser)
			if err == nil {
				t.Errorf("%s: LoadSchema succeeded", dburl.Redact(u))
			} else {
				msgs = append(msgs, err.Error(), fmt.Sprintf("%+v", err), src.URL)
			}
		}
		for _, m := range msgs {
			for _, pw := range []string{raw, enc, "MARK:ER", "MARK%3AER"} {
				if strings.Contains(m, pw) {
					t.Errorf("message holds the password (%q): %s", pw, m)
				}
			}
		}
		t.Logf("%s\n  -> %s", dburl.Redact(u), msgs[0])
	}
}

// FuzzGoNaming generates the Go package for a table and a column with
// arbitrary names (the Go naming rules of naming.go are unexported, so
// they are exercised through Generate): generation must not fail or panic
// for any valid PostgreSQL identifier, and every generated file must parse
// and be gofmt-clean.
func FuzzGoNaming(f *testing.F) {
	for _, s := range [][2]string{{"users", "email"}, {"Users", "userId"}, {"123", "2fa"}, {"名前", "é"}, {"type", "func"},
		{"a.b", `x"y`}, {"new\nline", "tab\tcol"}, {"$threadline$", "{{.S}}"}, {"_", "__"}, {"X", "x"}, {"😀", "MarshalJSON"},
		{"go", "len"}, {"data", "ID"}, {"status", "ids"}, {"a b c", "-"}, {"\u00a0", "\u200b"}, {"\x7f", "0"},
		{"\u0085\u2028", "\ufeff"}, {"\U0001F600x", "\x01"}, {"new\n line", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, table, column string) {
		for _, n := range []string{table, column} {
			if n == "" || len(n) > 63 || !utf8.ValidString(n) || strings.ContainsRune(n, 0) {
				return // not a PostgreSQL identifier
			}
		}
		if column == "id" || table == "threadline" {
			return // inputs outside the target's domain
		}
		cfgText := "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: plain\n" +
			"package:\n  dir: audit\n  name: audit\ntables:\n  " + jsonString(sqlQuoted(table)) + ":\n    mask: [" + jsonString(column) + "]\n"
		cfg, err := config.Parse("threadline.yaml", []byte(cfgText), func(string) string { return "" })
		if err != nil {
			t.Fatalf("config for table %q column %q: %v\n%s", table, column, err, cfgText)
		}
		s := &schema.Schema{Tables: []*schema.Table{{
			QualifiedName: schema.QualifiedName{Schema: "public", Name: table},
			Columns: []*schema.Column{
				{Name: "id", Type: schema.Type{Schema: "pg_catalog", Name: "int4"}, NotNull: true},
				{Name: column, Type: schema.Type{Schema: "pg_catalog", Name: "text"}},
			},
			PrimaryKey: []string{"id"},
		}}}
		out, err := generator.Generate(generator.Input{Config: cfg, Schema: s,
			Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }, Migrations: map[string][]byte{}})
		if err != nil {
			t.Fatalf("generate for table %q column %q: %v", table, column, err)
		}
		if len(out.Package) == 0 || len(out.Migrations) == 0 {
			t.Fatalf("table %q column %q: generated %d package files, %d migrations", table, column, len(out.Package), len(out.Migrations))
		}
		for _, file := range out.Package {
			if _, err := parser.ParseFile(token.NewFileSet(), file.Path, file.Content, parser.AllErrors); err != nil {
				t.Fatalf("table %q column %q: %s does not parse: %v\n%s", table, column, file.Path, err, file.Content)
			}
			if formatted, err := format.Source(file.Content); err != nil || string(formatted) != string(file.Content) {
				t.Fatalf("table %q column %q: %s is not gofmt-clean (%v)", table, column, file.Path, err)
			}
		}
	})
}

// TestHostileCarriageReturnInTableName: a table name holding a carriage
// return (found by FuzzGoNaming). The capture function's header comment
// ("-- Capture for public.<name>: ...") replaces newlines in the name but
// not carriage returns, and PostgreSQL ends a -- comment at \r too: the
// rest of the line becomes code and generation fails with "generated
// PL/pgSQL does not parse (a threadline-gen bug)".
func TestHostileCarriageReturnInTableName(t *testing.T) {
	tb := htable{schema: "public", name: "cr\rname: x", cols: []hcol{{"id", true}, {"v\rw", false}}, key: []string{"id"}}
	cfg := "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: plain\npackage:\n  dir: audit\ntables:\n" + tb.yaml()
	p := newProject(t, cfg, tb.ddl())
	files, err := p.generate()
	if err != nil {
		t.Fatalf("BUG: generation fails for a table name with a carriage return: %.300v", err)
	}
	var up string
	for _, f := range files {
		if strings.HasSuffix(f.Path, ".up.sql") {
			up = string(f.Content)
		}
	}
	db := pgtest.NewDB(t, tb.ddl())
	db.Exec(t, up)
	db.Exec(t, `INSERT INTO `+tb.ident()+` VALUES (1, 'x')`)
	var name string
	if err := db.Pool.QueryRow(context.Background(), `SELECT table_name FROM threadline.audit_changes`).Scan(&name); err != nil || name != tb.name {
		t.Errorf("captured table_name %q (%v), want %q", name, err, tb.name)
	}
}
