package threadlineui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
)

// keyKind is the JSON a key column's values take in table_pk: the
// capture builds it from to_jsonb of the row, so integers and other
// numbers are JSON numbers, booleans true or false, json and jsonb any
// JSON, arrays arrays, composites objects, and every other type (text,
// uuid, dates, times, enums) a string. Domains take their base type's.
type keyKind string

const (
	kindInteger keyKind = "integer"
	kindFloat   keyKind = "float"
	kindNumeric keyKind = "numeric"
	kindBoolean keyKind = "boolean"
	kindJSON    keyKind = "json"
	kindArray   keyKind = "array"
	kindObject  keyKind = "object"
	kindString  keyKind = "string"
)

// keyColumn is one column of a table's row key.
type keyColumn struct {
	// Name is the column's name, Type its type as PostgreSQL writes it
	// (format_type).
	Name, Type string
	Kind       keyKind
	// Bits is the size of an integer type: 16, 32 or 64.
	Bits int
	// Nullable is set for a column without NOT NULL (a key configured with
	// key: in threadline.yaml may have one).
	Nullable bool
}

// keyColumnsSQL reads columns of the table named $1.$2 with their types,
// domains resolved to their base type: the columns named in $3, or the
// primary key's when $3 is NULL. pos orders them as the key lists them.
const keyColumnsSQL = `SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
    b.oid::int8, b.typtype::text, b.typcategory::text,
    CASE WHEN $3::text[] IS NULL THEN pg_catalog.array_position(i.indkey::int2[], a.attnum)
        ELSE pg_catalog.array_position($3::text[], a.attname::text) END AS pos
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_index AS i ON i.indrelid = c.oid AND i.indisprimary
CROSS JOIN LATERAL (
    WITH RECURSIVE d AS (
        SELECT t.oid, t.typtype, t.typbasetype, t.typcategory FROM pg_catalog.pg_type AS t WHERE t.oid = a.atttypid
        UNION ALL
        SELECT t.oid, t.typtype, t.typbasetype, t.typcategory FROM pg_catalog.pg_type AS t JOIN d ON t.oid = d.typbasetype
        WHERE d.typtype = 'd')
    SELECT d.oid, d.typtype, d.typcategory FROM d WHERE d.typtype <> 'd') AS b
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
    AND CASE WHEN $3::text[] IS NULL THEN a.attnum = ANY (i.indkey::int2[]) ELSE a.attname = ANY ($3::text[]) END
ORDER BY pos`

// tableKey returns the key columns of table t as the capture writes them
// into table_pk: Options.Keys' when it names t, else the primary key's,
// with their types from the catalog (no privilege on the table is
// needed). It returns none for a table without a primary key that
// Options.Keys does not name: its key is unknown.
func (h *handler) tableKey(ctx context.Context, db threadline.DBTX, t contract.QualifiedName) ([]keyColumn, error) {
	var names []string // nil: the primary key
	if k, ok := h.keys[t]; ok {
		names = k
	}
	rows, err := db.Query(ctx, keyColumnsSQL, t.Schema, t.Name, names)
	if err != nil {
		return nil, fmt.Errorf("read the key columns of %s: %w", t.Text(), err)
	}
	return scanKeyColumns(t, rows, names)
}

// keyNames returns the configured key columns of t (Options.Keys), nil for
// the primary key.
func (h *handler) keyNames(t contract.QualifiedName) []string {
	if k, ok := h.keys[t]; ok {
		return k
	}
	return nil
}

// tableKeys is tableKey for each of tables, in one round trip.
func (h *handler) tableKeys(ctx context.Context, tx pgx.Tx, tables []contract.QualifiedName) ([][]keyColumn, error) {
	b := &pgx.Batch{}
	for _, t := range tables {
		b.Queue(keyColumnsSQL, t.Schema, t.Name, h.keyNames(t))
	}
	res := tx.SendBatch(ctx, b)
	out := make([][]keyColumn, len(tables))
	for i, t := range tables {
		rows, err := res.Query()
		if err != nil {
			_ = res.Close()
			return nil, fmt.Errorf("read the key columns of %s: %w", t.Text(), err)
		}
		if out[i], err = scanKeyColumns(t, rows, h.keyNames(t)); err != nil {
			_ = res.Close()
			return nil, err
		}
	}
	if err := res.Close(); err != nil {
		return nil, fmt.Errorf("read the key columns: %w", err)
	}
	return out, nil
}

// scanKeyColumns reads the rows of keyColumnsSQL for table t, whose
// configured key columns are names (nil for the primary key), and closes
// them.
func scanKeyColumns(t contract.QualifiedName, rows pgx.Rows, names []string) ([]keyColumn, error) {
	defer rows.Close()
	var out []keyColumn
	for rows.Next() {
		var c keyColumn
		var oid int64
		var typtype, category string
		var pos *int
		if err := rows.Scan(&c.Name, &c.Type, &c.Nullable, &oid, &typtype, &category, &pos); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the key columns of %s: %w", t.Text(), err)
		}
		c.Kind, c.Bits = kindOf(oid, typtype, category)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the key columns of %s: %w", t.Text(), err)
	}
	if names != nil && len(out) != len(names) {
		// A configured key column the table no longer has: the key cannot
		// be checked.
		return nil, nil
	}
	return out, nil
}

// kindOf maps a base type (its oid, typtype and typcategory) to the JSON
// to_jsonb makes of its values.
func kindOf(oid int64, typtype, category string) (keyKind, int) {
	switch oid {
	case 21:
		return kindInteger, 16
	case 23:
		return kindInteger, 32
	case 20:
		return kindInteger, 64
	case 700, 701:
		return kindFloat, 0
	case 1700:
		return kindNumeric, 0
	case 16:
		return kindBoolean, 0
	case 114, 3802:
		return kindJSON, 0
	}
	switch {
	case category == "A":
		return kindArray, 0
	case typtype == "c":
		return kindObject, 0
	}
	return kindString, 0
}

// describeKey lists key columns with their types: "tenant_id bigint,
// order_no integer".
func describeKey(cols []keyColumn) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.Name + " " + c.Type
	}
	return strings.Join(parts, ", ")
}

// notAnObject is keyProblems' problem of a key that is no JSON object.
const notAnObject = "it is not a JSON object of the key columns"

// keyProblems checks key, JSON text, against the key columns and returns
// what makes it unable to match any row: not an object, a key column
// missing, a member that is no key column, a value of the wrong JSON type
// or out of the column type's range. It returns none for a key that can
// match.
func keyProblems(key string, cols []keyColumn) []string {
	dec := json.NewDecoder(strings.NewReader(key))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return []string{notAnObject}
	}
	var out []string
	known := map[string]bool{}
	for _, c := range cols {
		known[c.Name] = true
		v, ok := obj[c.Name]
		if !ok {
			out = append(out, c.Name+" is missing")
			continue
		}
		if p := valueProblem(c, v); p != "" {
			out = append(out, p)
		}
	}
	var extra []string
	for k := range obj {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		out = append(out, strconv.Quote(k)+" is not a key column")
	}
	return out
}

// valueProblem says what is wrong with v, a decoded JSON value (numbers as
// json.Number), as a value of key column c, or "".
func valueProblem(c keyColumn, v any) string {
	if v == nil {
		if c.Nullable {
			return ""
		}
		return c.Name + " must not be null"
	}
	bad := func(want string) string {
		return fmt.Sprintf("%s (%s) must be %s, not %s", c.Name, c.Type, want, describeValue(v))
	}
	switch c.Kind {
	case kindInteger:
		n, ok := v.(json.Number)
		if !ok {
			return bad("a JSON integer")
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil && !strings.ContainsAny(n.String(), ".eE") {
			return fmt.Sprintf("%s (%s): %s is out of its range", c.Name, c.Type, n)
		}
		if err != nil {
			return bad("a JSON integer")
		}
		if lim := int64(1) << (c.Bits - 1); c.Bits < 64 && (i < -lim || i >= lim) {
			return fmt.Sprintf("%s (%s): %s is out of its range", c.Name, c.Type, n)
		}
	case kindFloat, kindNumeric:
		if _, ok := v.(json.Number); ok {
			return ""
		}
		if s, ok := v.(string); ok && (s == "NaN" || (c.Kind == kindFloat && (s == "Infinity" || s == "-Infinity"))) {
			return ""
		}
		return bad("a JSON number")
	case kindBoolean:
		if _, ok := v.(bool); !ok {
			return bad("true or false")
		}
	case kindString:
		if _, ok := v.(string); !ok {
			return bad("a JSON string")
		}
	case kindArray:
		if _, ok := v.([]any); !ok {
			return bad("a JSON array")
		}
	case kindObject:
		if _, ok := v.(map[string]any); !ok {
			return bad("a JSON object")
		}
	}
	return ""
}

// describeValue names a decoded JSON value for a message: the string
// "42", the number 4.5, true, an object, an array.
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return "the string " + strconv.Quote(x)
	case json.Number:
		return "the number " + x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

// checkKey fails with a 400 naming the key columns and their types when
// key can never match a row of table t (a missing or extra member, a
// value of the wrong type), with a link to the lookup form. A table whose
// key is unknown (no primary key, not in Options.Keys) is not checked.
func (h *handler) checkKey(ctx context.Context, db threadline.DBTX, table string, key string) error {
	t, err := contract.ParseQualifiedName(table, "public")
	if err != nil {
		return err
	}
	cols, err := h.tableKey(ctx, db, t)
	if err != nil || len(cols) == 0 {
		return err
	}
	problems := keyProblems(key, cols)
	if len(problems) == 0 {
		return nil
	}
	e := &httpError{status: http.StatusBadRequest,
		msg: fmt.Sprintf("key %s can never match a row of %s: %s. Its key columns are %s: write the key as %s",
			truncate(compactKey([]byte(key)), 200), t.Text(), strings.Join(problems, "; "), describeKey(cols), keyExample(cols)),
		linkURL: links{h.o.Prefix}.lookup(t.Text()), linkText: "Look a row of " + t.Text() + " up by its key columns"}
	if problems[0] == notAnObject {
		e.msg = fmt.Sprintf("key %q: not a JSON object of the key columns (%s), like %s", truncate(key, 200), describeKey(cols), keyExample(cols))
	}
	return e
}

// keyExample is a key of the columns' shape: {"tenant_id":1,"order_no":1}.
func keyExample(cols []keyColumn) string {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(c.Name)
		b.Write(name)
		b.WriteByte(':')
		switch c.Kind {
		case kindInteger, kindFloat, kindNumeric:
			b.WriteString("1")
		case kindBoolean:
			b.WriteString("true")
		case kindJSON:
			b.WriteString("…")
		case kindArray:
			b.WriteString("[…]")
		case kindObject:
			b.WriteString("{…}")
		default:
			b.WriteString(`"…"`)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// truncate cuts s to at most n bytes, at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// lookupParam is the query parameter of key column name in the lookup
// form.
func lookupParam(name string) string { return "k." + name }

// lookupField is one input of the lookup form.
type lookupField struct {
	Name, Type, Param, Value, Hint string
}

type lookupData struct {
	Table     string
	TableURL  string
	Fields    []lookupField
	Problems  []string
	KeyKnown  bool
	RowAction string
	// Key is the JSON key field of a table whose key columns are unknown.
	Key string
}

// lookup: the row lookup form of a table, one input per key column, each
// labelled with its type. Submitted, it leads to the row's history page
// (303); a value that can never match is a 400 showing the form again,
// saying what is wrong. Without a table, it asks for one.
func (h *handler) lookup(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	table := strings.TrimSpace(q.Get("table"))
	l := links{h.o.Prefix}
	var d lookupData
	var target string
	err := h.readOnly(r.Context(), func(tx pgx.Tx) error {
		if table == "" {
			return checkParams(q, []string{"table"})
		}
		if err := h.checkTable(r.Context(), tx, table); err != nil {
			return err
		}
		t, err := contract.ParseQualifiedName(table, "public")
		if err != nil {
			return err
		}
		cols, err := h.tableKey(r.Context(), tx, t)
		if err != nil {
			return err
		}
		allowed := []string{"table"}
		for _, c := range cols {
			allowed = append(allowed, lookupParam(c.Name))
		}
		if err := checkParams(q, allowed); err != nil {
			return err
		}
		d = lookupData{Table: t.Text(), TableURL: l.timeline(url.Values{"table": {t.Text()}}), KeyKnown: len(cols) > 0, RowAction: l.prefix + "/row"}
		submitted := false
		for _, c := range cols {
			f := lookupField{Name: c.Name, Type: c.Type, Param: lookupParam(c.Name), Hint: kindHint(c.Kind)}
			if vs, ok := q[f.Param]; ok {
				submitted = true
				f.Value = vs[0]
			}
			d.Fields = append(d.Fields, f)
		}
		if !submitted {
			return nil
		}
		key, problems := formKey(cols, d.Fields)
		if len(problems) > 0 {
			d.Problems = problems
			return nil
		}
		target = l.row(t.Text(), []byte(key), nil)
		return nil
	})
	switch {
	case err != nil:
		h.fail(w, r, err)
	case target != "":
		http.Redirect(w, r, target, http.StatusSeeOther)
	default:
		status := http.StatusOK
		if len(d.Problems) > 0 {
			status = http.StatusBadRequest
		}
		title := "Look up a row"
		if d.Table != "" {
			title += " of " + d.Table
		}
		h.render(w, r, status, view{name: "lookup", title: title, data: d})
	}
}

// kindHint says what a key column's input takes.
func kindHint(k keyKind) string {
	switch k {
	case kindInteger:
		return "an integer"
	case kindFloat, kindNumeric:
		return "a number"
	case kindBoolean:
		return "true or false"
	case kindJSON:
		return "JSON"
	case kindArray:
		return "a JSON array"
	case kindObject:
		return "a JSON object"
	}
	return "text, as written"
}

// formKey builds the JSON key of the lookup form's values, each converted
// to its column's JSON type, or says what is wrong with them.
func formKey(cols []keyColumn, fields []lookupField) (string, []string) {
	var b bytes.Buffer
	var problems []string
	b.WriteByte('{')
	for i, c := range cols {
		v := fields[i].Value
		if c.Kind != kindString {
			v = strings.TrimSpace(v)
		}
		if v == "" {
			problems = append(problems, c.Name+" is required")
			continue
		}
		var raw []byte
		switch c.Kind {
		case kindString:
			raw, _ = json.Marshal(v)
		case kindBoolean:
			switch strings.ToLower(v) {
			case "true", "t", "yes", "on", "1":
				raw = []byte("true")
			case "false", "f", "no", "off", "0":
				raw = []byte("false")
			default:
				problems = append(problems, fmt.Sprintf("%s (%s) takes true or false, not %q", c.Name, c.Type, v))
				continue
			}
		case kindInteger, kindFloat, kindNumeric:
			switch {
			case isNumberText(v):
				raw = []byte(v)
			case v == "NaN" || v == "Infinity" || v == "-Infinity":
				raw, _ = json.Marshal(v) // to_jsonb writes them as strings
			default:
				problems = append(problems, fmt.Sprintf("%s (%s) takes a number, not %q", c.Name, c.Type, v))
				continue
			}
		default:
			if !json.Valid([]byte(v)) {
				problems = append(problems, fmt.Sprintf("%s (%s) takes JSON, not %q", c.Name, c.Type, v))
				continue
			}
			raw = []byte(v)
		}
		var dv any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_ = dec.Decode(&dv)
		if p := valueProblem(c, dv); p != "" {
			problems = append(problems, p)
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(c.Name)
		b.Write(name)
		b.WriteByte(':')
		b.Write(raw)
	}
	b.WriteByte('}')
	return b.String(), problems
}

// isNumberText reports whether s is a JSON number.
func isNumberText(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// lookup links the row lookup form of table ("" for the form that asks
// for a table).
func (l links) lookup(table string) string {
	if table == "" {
		return l.prefix + "/lookup"
	}
	return withQuery(l.prefix+"/lookup", url.Values{"table": {table}})
}
