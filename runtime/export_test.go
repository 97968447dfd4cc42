package threadline_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// The operations tests (export, retention, coverage, continuity, hooks)
// share these helpers; their names start with ops to keep clear of the
// other test files of the package.

const opsDDL = `
CREATE TABLE people (id bigint PRIMARY KEY, name text, email text, secret text, tags text[], prefs jsonb);
CREATE SCHEMA crm;
CREATE TABLE crm.notes (org text, id int, body text, PRIMARY KEY (org, id));
`

const opsTables = `  people:
    exclude: [secret]
    mask: [email]
    store_changed_from: true
  crm.notes: {}
`

// seedExport writes a varied history: two schemas, a composite key,
// masked, excluded and changed_from columns, actors, request and
// correlation ids, actions, text that needs CSV quoting and looks like a
// spreadsheet formula, and a write with no attribution at all.
func seedExport(t testing.TB) *pgtest.DB {
	db := capturetest.Setup(t, opsDDL, opsTables)
	capturetest.Tx(t, db, threadline.TxOptions{Actor: threadline.User("1"), RequestID: "req-1", CorrelationID: "corr-A"}, "people.create",
		`INSERT INTO people VALUES (1, 'Ann, "the" boss', 'ann@example.com', 's3cret', '{a,"b c"}', '{"a": [1, 2], "=x": "+1"}')`)
	capturetest.Tx(t, db, threadline.TxOptions{Actor: threadline.ServiceAccount("sync")}, "",
		`INSERT INTO crm.notes VALUES ('acme', 1, E'line1\nline2\r\nline3'), ('acme', 2, '=HYPERLINK("x")')`,
		`UPDATE people SET name = '-Ann B', secret = 'other' WHERE id = 1`)
	db.Exec(t, `DELETE FROM crm.notes WHERE id = 2`)
	db.Exec(t, `UPDATE people SET email = NULL WHERE id = 1`)
	ctx := context.Background()
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.User("2"), CorrelationID: "corr-B"}, func(tx pgx.Tx) error {
		for _, s := range []string{`UPDATE crm.notes SET body = '@sum' WHERE id = 1`, `UPDATE crm.notes SET id = 3 WHERE id = 1`} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		_, err := threadline.RecordAction(ctx, tx, "notes.edit", threadline.ActionOptions{Reason: "ticket 7, \"urgent\"", Status: threadline.ActionError, Verb: "edit", Category: "crm", Comment: "=cmd", JobID: "job-9"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// dbExportRows reads audit_changes with its transaction and action
// straight from the database, newest first, as the export columns (NULL
// as "").
// JSON columns are normalized with normJSON.
func dbExportRows(t testing.TB, db *pgtest.DB) [][]string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
SELECT c.id::text, c.transaction_id::text,
       to_char(c.captured_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       c.table_schema, c.table_name, c.op,
       c.table_pk::text, c.table_pk_before::text, t.actor_ref::text, t.request_id, t.correlation_id,
       to_jsonb(c.changed_fields)::text, c.data_after::text, c.data_before::text, c.changed_from::text,
       a.id::text, a.name, a.status, a.verb, a.category, a.reason, a.comment, a.job_id
FROM threadline.audit_changes AS c JOIN threadline.audit_transactions AS t ON t.id = c.transaction_id
LEFT JOIN threadline.audit_actions AS a ON a.id = t.action_id
ORDER BY c.captured_at DESC, c.id DESC`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]*string, len(threadline.CSVColumns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			if v != nil {
				row[i] = *v
			}
		}
		out = append(out, normRow(t, row))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// jsonColumns are the indexes of CSVColumns holding JSON.
var jsonColumns = map[int]bool{6: true, 7: true, 8: true, 11: true, 12: true, 13: true, 14: true}

func normRow(t testing.TB, row []string) []string {
	for i := range row {
		if jsonColumns[i] && row[i] != "" {
			row[i] = capturetest.NormJSON(t, row[i])
		}
	}
	return row
}

// objectRow turns one exported change object into the export columns, and
// checks that its keys are CSVColumns, in order.
func objectRow(t testing.TB, raw []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("change is not an object: %s", raw)
	}
	var keys []string
	row := make([]string, 0, len(threadline.CSVColumns))
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		switch {
		case string(v) == "null":
			row = append(row, "")
		case v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				t.Fatal(err)
			}
			row = append(row, s)
		default:
			row = append(row, string(v))
		}
	}
	capturetest.Equal(t, "object keys", keys, threadline.CSVColumns)
	return normRow(t, row)
}

func exportTo(t testing.TB, db *pgtest.DB, format threadline.ExportFormat, f threadline.Filter, o threadline.ExportOptions) ([]byte, threadline.ExportResult) {
	t.Helper()
	var buf bytes.Buffer
	o.Format, o.Filter = format, f
	res, err := threadline.Audit{}.Export(context.Background(), db.Pool, &buf, o)
	if err != nil {
		t.Fatalf("export %s: %v", format, err)
	}
	if res.Bytes != int64(buf.Len()) {
		t.Fatalf("export %s: result says %d bytes, wrote %d", format, res.Bytes, buf.Len())
	}
	return buf.Bytes(), res
}

func parseCSV(t testing.TB, b []byte) [][]string {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatalf("CSV records must end in CRLF: %q", b[max(0, len(b)-20):])
	}
	r := csv.NewReader(bytes.NewReader(b))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, b)
	}
	capturetest.Equal(t, "CSV header", recs[0], threadline.CSVColumns)
	var out [][]string
	for _, rec := range recs[1:] {
		out = append(out, normRow(t, rec))
	}
	return out
}

func parseNDJSON(t testing.TB, b []byte) [][]string {
	t.Helper()
	var out [][]string
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		out = append(out, objectRow(t, line))
	}
	return out
}

// exportDoc is a decoded JSON export.
type exportDoc struct {
	Keys    []string
	Version int
	Filter  map[string]any
	MaxRows *int64
	Rows    [][]string
	Trunc   bool
	Count   int64
}

func parseJSONDoc(t testing.TB, b []byte) exportDoc {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatalf("JSON export does not parse: %v\n%s", err, b)
	}
	var doc exportDoc
	d := json.NewDecoder(bytes.NewReader(b))
	d.Token()
	for d.More() {
		k, _ := d.Token()
		doc.Keys = append(doc.Keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(json.Unmarshal(top["format_version"], &doc.Version))
	must(json.Unmarshal(top["filter"], &doc.Filter))
	must(json.Unmarshal(top["max_rows"], &doc.MaxRows))
	must(json.Unmarshal(top["truncated"], &doc.Trunc))
	must(json.Unmarshal(top["rows"], &doc.Count))
	var changes []json.RawMessage
	must(json.Unmarshal(top["changes"], &changes))
	for _, c := range changes {
		doc.Rows = append(doc.Rows, objectRow(t, c))
	}
	var gen time.Time
	must(json.Unmarshal(top["generated_at"], &gen))
	return doc
}

func TestExportRoundTripsEveryFormat(t *testing.T) {
	db := seedExport(t)
	want := dbExportRows(t, db)
	if len(want) != 8 {
		t.Fatalf("seed wrote %d changes, want 8", len(want))
	}

	// The newest changes carry their action: the "why".
	action := func(row []string) []string { return row[len(row)-8:] }
	actionID := want[0][15]
	capturetest.Equal(t, "action of the newest change", action(want[0]), []string{actionID, "notes.edit", "error", "edit", "crm", `ticket 7, "urgent"`, "=cmd", "job-9"})
	capturetest.Equal(t, "no action", action(want[2]), []string{"", "", "", "", "", "", "", ""})

	b, res := exportTo(t, db, threadline.ExportCSV, threadline.Filter{}, threadline.ExportOptions{RawCSV: true})
	capturetest.Equal(t, "csv result", res.Rows, int64(8))
	capturetest.Equal(t, "csv rows", parseCSV(t, b), want)
	if !bytes.Contains(b, []byte(`,`+actionID+`,notes.edit,error,edit,crm,"ticket 7, ""urgent""",=cmd,job-9`+"\r\n")) {
		t.Errorf("csv lacks the action columns of the newest change:\n%s", b)
	}

	b, res = exportTo(t, db, threadline.ExportNDJSON, threadline.Filter{}, threadline.ExportOptions{})
	capturetest.Equal(t, "ndjson result", [2]any{res.Rows, res.Truncated}, [2]any{int64(8), false})
	capturetest.Equal(t, "ndjson rows", parseNDJSON(t, b), want)
	capturetest.Equal(t, "ndjson lines", bytes.Count(b, []byte("\n")), 8)

	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	b, res = exportTo(t, db, threadline.ExportJSON, threadline.Filter{}, threadline.ExportOptions{Now: func() time.Time { return at }})
	doc := parseJSONDoc(t, b)
	capturetest.Equal(t, "json keys", doc.Keys, []string{"format_version", "generated_at", "filter", "max_rows", "changes", "truncated", "rows"})
	capturetest.Equal(t, "json rows", doc.Rows, want)
	capturetest.Equal(t, "json header", [4]any{doc.Version, doc.Trunc, doc.Count, doc.MaxRows == nil}, [4]any{1, false, int64(8), true})
	if !bytes.HasPrefix(b, []byte(`{"format_version":1,"generated_at":"2026-03-04T05:06:07.000000Z","filter":{"table":null,"actor":null,"from":null,"to":null,"correlation_id":null},"max_rows":null,"changes":[`)) {
		t.Fatalf("json header: %.200s", b)
	}

	// Excluded values never reach an export; masked ones are the
	// placeholder.
	for _, format := range threadline.ExportFormats {
		b, _ := exportTo(t, db, format, threadline.Filter{}, threadline.ExportOptions{})
		for _, secret := range []string{"s3cret", "other", "ann@example.com"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s export holds %q", format, secret)
			}
		}
		if !bytes.Contains(b, []byte("[REDACTED]")) {
			t.Errorf("%s export lacks the mask placeholder", format)
		}
	}
}

func TestExportEmpty(t *testing.T) {
	db := capturetest.Setup(t, opsDDL, opsTables)
	b, res := exportTo(t, db, threadline.ExportCSV, threadline.Filter{}, threadline.ExportOptions{})
	capturetest.Equal(t, "csv", string(b), strings.Join(threadline.CSVColumns, ",")+"\r\n")
	capturetest.Equal(t, "rows", res.Rows, int64(0))
	b, _ = exportTo(t, db, threadline.ExportNDJSON, threadline.Filter{}, threadline.ExportOptions{})
	capturetest.Equal(t, "ndjson", string(b), "")
	b, _ = exportTo(t, db, threadline.ExportJSON, threadline.Filter{Table: "people"}, threadline.ExportOptions{MaxRows: 5})
	doc := parseJSONDoc(t, b)
	capturetest.Equal(t, "json", [4]any{len(doc.Rows), doc.Trunc, doc.Count, *doc.MaxRows}, [4]any{0, false, int64(0), int64(5)})
	capturetest.Equal(t, "json filter table", doc.Filter["table"], any("people"))
}

func TestExportTruncation(t *testing.T) {
	db := seedExport(t)
	want := dbExportRows(t, db)
	for _, format := range threadline.ExportFormats {
		b, res := exportTo(t, db, format, threadline.Filter{}, threadline.ExportOptions{MaxRows: 3, RawCSV: true})
		capturetest.Equal(t, string(format)+" result", res, threadline.ExportResult{Rows: 3, Truncated: true, Bytes: int64(len(b))})
		var got [][]string
		switch format {
		case threadline.ExportCSV:
			got = parseCSV(t, b)
		case threadline.ExportNDJSON:
			got = parseNDJSON(t, b)
		case threadline.ExportJSON:
			doc := parseJSONDoc(t, b)
			capturetest.Equal(t, "json truncated", [3]any{doc.Trunc, doc.Count, *doc.MaxRows}, [3]any{true, int64(3), int64(3)})
			got = doc.Rows
		}
		capturetest.Equal(t, string(format)+" rows", got, want[:3])

		// Exactly as many changes as the cap: not truncated.
		_, res = exportTo(t, db, format, threadline.Filter{}, threadline.ExportOptions{MaxRows: 8})
		capturetest.Equal(t, string(format)+" at the cap", res.Truncated, false)
	}
}

func TestExportFilterParityWithTimeline(t *testing.T) {
	db := seedExport(t)
	ctx := context.Background()
	var mid time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT captured_at FROM threadline.audit_changes ORDER BY id OFFSET 3 LIMIT 1`).Scan(&mid); err != nil {
		t.Fatal(err)
	}
	u1 := threadline.User("1")
	filters := []threadline.Filter{
		{},
		{Table: "people"},
		{Table: "crm.notes"},
		{Actor: &u1},
		{CorrelationID: "corr-B"},
		{From: mid},
		{To: mid},
		{Table: "crm.notes", From: mid, To: mid.Add(time.Hour)},
		{Table: "nope"},
	}
	for _, f := range filters {
		var want []int64
		page := f
		page.Limit = 2
		for {
			p, err := threadline.Audit{}.Timeline(ctx, db.Pool, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Changes {
				want = append(want, c.ID)
			}
			if p.Next == nil {
				break
			}
			page.After = p.Next
		}
		b, res := exportTo(t, db, threadline.ExportNDJSON, f, threadline.ExportOptions{})
		var got []int64
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var c struct{ ID int64 }
			if err := json.Unmarshal(line, &c); err != nil {
				t.Fatal(err)
			}
			got = append(got, c.ID)
		}
		capturetest.Equal(t, fmt.Sprintf("ids for filter %+v", f), got, want)
		capturetest.Equal(t, "rows", res.Rows, int64(len(want)))
	}
	// The filter is echoed in a JSON export.
	b, _ := exportTo(t, db, threadline.ExportJSON, threadline.Filter{Table: "crm.notes", Actor: &u1, From: mid, CorrelationID: " corr-B "}, threadline.ExportOptions{})
	doc := parseJSONDoc(t, b)
	capturetest.Equal(t, "filter", doc.Filter, map[string]any{
		"table": "crm.notes", "actor": map[string]any{"type": "user", "id": "1"},
		"from": mid.UTC().Format(time.RFC3339Nano), "to": nil, "correlation_id": "corr-B",
	})
}

func TestExportCSVFormulaGuard(t *testing.T) {
	db := seedExport(t)
	b, _ := exportTo(t, db, threadline.ExportCSV, threadline.Filter{Table: "crm.notes"}, threadline.ExportOptions{})
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	risky := 0
	for _, rec := range recs[1:] {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("unguarded cell %q", cell)
			}
			if strings.HasPrefix(cell, "'") {
				risky++
			}
		}
	}
	// JSON cells start with { or [, so they need no guard; of the
	// plain-text cells here only the action comment "=cmd" of the two
	// changes of the last transaction needs it. The guard matters for
	// other text columns such as table names; check it directly on a value
	// that needs it.
	if risky != 2 {
		t.Errorf("guarded %d cells, want the 2 action comments", risky)
	}
	// A table whose name starts with "=" is guarded (quoted or not).
	db2 := capturetest.Setup(t, `CREATE TABLE "=cmd" (id int PRIMARY KEY, "a,b" text);`, "  '\"=cmd\"': {}\n")
	db2.Exec(t, `INSERT INTO "=cmd" VALUES (1, '-x')`)
	b, _ = exportTo(t, db2, threadline.ExportCSV, threadline.Filter{}, threadline.ExportOptions{})
	recs, err = csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "guarded table name", recs[1][4], "'=cmd")
	b, _ = exportTo(t, db2, threadline.ExportCSV, threadline.Filter{}, threadline.ExportOptions{RawCSV: true})
	recs, _ = csv.NewReader(bytes.NewReader(b)).ReadAll()
	capturetest.Equal(t, "unguarded table name", recs[1][4], "=cmd")
}

func TestExportErrors(t *testing.T) {
	db := seedExport(t)
	var buf bytes.Buffer
	_, err := threadline.Audit{}.Export(context.Background(), db.Pool, &buf, threadline.ExportOptions{Format: threadline.ExportCSV, Filter: threadline.Filter{Table: "a.b.c"}})
	if !errors.Is(err, threadline.ErrInvalidFilter) || buf.Len() != 0 {
		t.Fatalf("invalid filter: err %v, wrote %d bytes", err, buf.Len())
	}
	_, err = threadline.Audit{}.Export(context.Background(), db.Pool, &buf, threadline.ExportOptions{Format: "xml"})
	if err == nil || buf.Len() != 0 {
		t.Fatalf("unknown format: err %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = threadline.Audit{}.Export(ctx, db.Pool, &buf, threadline.ExportOptions{Format: threadline.ExportNDJSON})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	// A failing writer is reported.
	_, err = threadline.Audit{}.Export(context.Background(), db.Pool, failingWriter{}, threadline.ExportOptions{Format: threadline.ExportNDJSON})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("failing writer: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestExportProgressAndHook(t *testing.T) {
	db := capturetest.Setup(t, opsDDL, opsTables)
	db.Exec(t, `INSERT INTO people (id, name) SELECT g, 'p' || g FROM generate_series(1, 2500) AS g`)
	var calls []int64
	var ev threadline.ExportFinishedEvent
	a := threadline.Audit{Hooks: threadline.Hooks{ExportFinished: func(_ context.Context, e threadline.ExportFinishedEvent) { ev = e }}}
	var out bytes.Buffer
	res, err := a.Export(context.Background(), db.Pool, &out, threadline.ExportOptions{Format: threadline.ExportCSV, Filter: threadline.Filter{Table: "people"}, Progress: func(n int64) { calls = append(calls, n) }})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "progress", calls, []int64{1000, 2000, 2500})
	capturetest.Equal(t, "event", [6]any{ev.Format, ev.Rows, ev.Truncated, ev.Bytes, ev.Table, ev.Err}, [6]any{threadline.ExportCSV, int64(2500), false, res.Bytes, "people", error(nil)})
}

// BenchmarkExport measures export throughput over 200,000 changes:
//
//	go test ./runtime -run '^$' -bench Export -benchtime 3x
func BenchmarkExport(b *testing.B) {
	db := capturetest.Setup(b, `CREATE TABLE items (id bigint PRIMARY KEY, name text, n int, note text);`, "  items: {}\n")
	db.Exec(b, `DO $$ BEGIN FOR i IN 0..199 LOOP
		INSERT INTO items SELECT g, 'name ' || g, g, 'a note, with "quotes"' FROM generate_series(i * 1000 + 1, i * 1000 + 1000) AS g;
		COMMIT; END LOOP; END $$`)
	for _, format := range threadline.ExportFormats {
		b.Run(string(format), func(b *testing.B) {
			var rows int64
			for b.Loop() {
				res, err := threadline.Audit{}.Export(context.Background(), db.Pool, io.Discard, threadline.ExportOptions{Format: format})
				if err != nil {
					b.Fatal(err)
				}
				rows += res.Rows
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
