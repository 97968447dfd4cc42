package threadline

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/threadline-go/threadline/internal/tlerr"
	"github.com/threadline-go/threadline/internal/trailread"
)

// ExportFormat is an export file format.
type ExportFormat string

// The export formats.
const (
	// ExportCSV is RFC 4180 CSV: a header row, then one row per change,
	// records ending in CRLF, columns in CSVColumns order.
	ExportCSV ExportFormat = "csv"
	// ExportJSON is one JSON document (see Export for its layout).
	ExportJSON ExportFormat = "json"
	// ExportNDJSON is one JSON object per change, one per line (LF).
	ExportNDJSON ExportFormat = "ndjson"
)

// ExportFormats lists the formats, in the order messages name them.
var ExportFormats = []ExportFormat{ExportCSV, ExportJSON, ExportNDJSON}

// ParseExportFormat reads "csv", "json" or "ndjson".
func ParseExportFormat(s string) (ExportFormat, error) {
	for _, f := range ExportFormats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("threadline: unknown export format %q (want csv, json or ndjson)", s)
}

// ExportFormatVersion is the "format_version" of JSON exports; it versions
// the CSV and NDJSON layouts too. It changes only when a field is removed
// or changes meaning: fields are only ever added, after the existing ones
// (CSV columns at the end), so a reader of version 1 keeps working. The
// action_* fields were added that way.
const ExportFormatVersion = 1

// DefaultExportMaxRows is the cap the threadline CLI applies to csv and
// json exports unless told otherwise (--max-rows, --stream). The runtime
// itself applies no cap unless ExportOptions.MaxRows is set.
const DefaultExportMaxRows = 100000

// CSVColumns are the columns of a CSV export, in order. JSON and NDJSON
// exports use the same names, in the same order, as object keys.
//
//   - id, transaction_id: integers;
//   - captured_at: RFC 3339 in UTC with microseconds
//     (2026-01-02T03:04:05.123456Z);
//   - table_schema, table_name, op: text;
//   - table_pk, table_pk_before: the row key as JSON ({"id": 42});
//   - actor: the transaction's actor as JSON ({"type":"user","id":"42"});
//   - request_id, correlation_id: the transaction's settings;
//   - changed_fields: a JSON array of column names;
//   - data_after, data_before, changed_from: JSON objects (in JSON and
//     NDJSON a member nested deeper than ExportMaxDepth is written as a
//     marker holding its text);
//   - action_id (integer), action_name, action_status, action_verb,
//     action_category, action_reason, action_comment, action_job_id: the
//     action the transaction recorded (RecordAction), the "why" of the
//     change; all NULL when it recorded none.
//
// SQL NULL is an empty CSV cell and JSON null.
var CSVColumns = []string{
	"id", "transaction_id", "captured_at", "table_schema", "table_name", "op",
	"table_pk", "table_pk_before", "actor", "request_id", "correlation_id",
	"changed_fields", "data_after", "data_before", "changed_from",
	"action_id", "action_name", "action_status", "action_verb", "action_category",
	"action_reason", "action_comment", "action_job_id",
}

// exportTimeLayout renders captured_at: UTC, always six fractional digits.
const exportTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// ExportOptions says what Export (and ExportFeed) writes. The zero value
// exports every change as NDJSON, with no cap.
type ExportOptions struct {
	// Format is the file format: ExportCSV, ExportJSON or ExportNDJSON
	// (ExportNDJSON when empty; ExportFeed takes CSV or NDJSON).
	Format ExportFormat
	// Filter selects the changes (every change when zero); its Limit is
	// ignored (see MaxRows). ExportFeed exports every change since its
	// position and refuses a filter.
	Filter Filter
	// MaxRows caps the number of changes written; 0 or less means no cap.
	// When more changes match, Export stops after MaxRows and reports
	// Truncated (and, for JSON, "truncated": true in the document).
	MaxRows int64
	// RawCSV turns off the CSV formula guard. By default a CSV cell
	// starting with =, +, -, @, a tab or a carriage return is prefixed with
	// a single quote ('), so a value a writer controls (a request id, a
	// table or actor name) cannot run as a formula when the file is opened
	// in a spreadsheet. The file then does not hold those values exactly:
	// set RawCSV for machine processing. CSV only.
	RawCSV bool
	// Now returns generated_at for JSON exports (default time.Now).
	Now func() time.Time
	// Progress, when set, is called with the number of changes written so
	// far, at most once every ProgressEvery changes and once at the end.
	Progress func(rows int64)
	// Written, when set, is called with each change's id and transaction
	// id after it is written (threadline export -with-proof collects them).
	Written func(id, transactionID int64)
}

// ProgressEvery is how many changes Export writes between two
// ExportOptions.Progress calls.
const ProgressEvery = 1000

// ExportResult reports what Export wrote.
type ExportResult struct {
	// Rows is the number of changes written.
	Rows int64 `json:"rows"`
	// Truncated is true when MaxRows stopped the export before the last
	// matching change.
	Truncated bool `json:"truncated"`
	// Bytes is the number of bytes written to the writer.
	Bytes int64 `json:"bytes"`
}

// Export writes the changes matching opts.Filter to w in opts.Format,
// newest first (the order of Timeline), streaming: the changes come from
// one query built by the same filter code as Timeline (Filter.After starts
// after a cursor; Filter.Limit is ignored, see MaxRows), read row by row
// and written as
// they come, so memory stays flat whatever the number of changes. The
// query holds one connection of db for the duration of the export. Each
// change carries the action its transaction recorded, if any (the action_*
// fields of CSVColumns): the "why" next to the "what". Output
// is buffered; w has received everything when Export returns
// successfully.
//
// The JSON document is written in this key order, so that it can be
// streamed:
//
//	{"format_version":1,"generated_at":"…","filter":{…},"max_rows":N|null,
//	 "changes":[…],"truncated":false,"rows":N}
//
// "truncated" and "rows" come after "changes" because they are known only
// at the end; a reader that stops at "changes" must not assume the list is
// complete. "filter" holds table, actor, from, to and correlation_id (null
// when unset). NDJSON writes one change object per line and nothing else;
// CSV writes a header row and one row per change (see CSVColumns). Both
// report truncation only in the ExportResult.
//
// An invalid filter is a *FilterError, returned before anything is
// written. On a database or write error (or a cancelled ctx), Export
// returns what it wrote so far and the error; the output is then
// incomplete, which is why the CLI writes to a temporary file and renames
// it only on success.
func (a Audit) Export(ctx context.Context, db DBTX, w io.Writer, opts ExportOptions) (ExportResult, error) {
	format, f := opts.format(), opts.Filter
	start := time.Now()
	res, err := a.export(ctx, db, w, format, f, opts)
	call(ctx, a.Hooks.ExportFinished, ExportFinishedEvent{
		Schema: a.schemaName(), Format: format, Rows: res.Rows, Truncated: res.Truncated, Bytes: res.Bytes,
		Table: f.Table, Start: start, Duration: time.Since(start), Err: err,
	})
	return res, err
}

// format returns the export format, ExportNDJSON when unset.
func (o ExportOptions) format() ExportFormat {
	if o.Format == "" {
		return ExportNDJSON
	}
	return o.Format
}

func (a Audit) export(ctx context.Context, db DBTX, w io.Writer, format ExportFormat, f Filter, opts ExportOptions) (ExportResult, error) {
	if _, err := ParseExportFormat(string(format)); err != nil {
		return ExportResult{}, err
	}
	if err := f.Validate(); err != nil {
		return ExportResult{}, err
	}
	return writeExport(ctx, w, format, f, opts, a.stream(ctx, db, f, opts.MaxRows))
}

// writeExport writes the changes of rows to w in format (f and opts give
// the JSON header and the cap).
func writeExport(ctx context.Context, w io.Writer, format ExportFormat, f Filter, opts ExportOptions, rows iter.Seq2[exportChange, error]) (ExportResult, error) {
	cw := &countingWriter{w: w}
	x := &exportWriter{format: format, cw: cw, bw: bufio.NewWriterSize(cw, 64<<10), enc: &exportEncoder{guard: !opts.RawCSV}}
	if err := x.header(f, opts); err != nil {
		return x.finish(err)
	}
	for c, err := range rows {
		if err != nil {
			return x.finish(tlerr.Wrap(err, "export"))
		}
		if opts.MaxRows > 0 && x.res.Rows == opts.MaxRows {
			x.res.Truncated = true
			break
		}
		if err := x.row(c); err != nil {
			return x.finish(err)
		}
		if opts.Written != nil {
			opts.Written(c.ID, c.TransactionID)
		}
		if x.res.Rows%ProgressEvery == 0 {
			if opts.Progress != nil {
				opts.Progress(x.res.Rows)
			}
			// Rows already received keep coming after a cancellation;
			// stop at the next check instead of draining them.
			if err := ctx.Err(); err != nil {
				return x.finish(tlerr.Wrap(err, "export"))
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return x.finish(tlerr.Wrap(err, "export"))
	}
	if err := x.footer(); err != nil {
		return x.finish(err)
	}
	if opts.Progress != nil {
		opts.Progress(x.res.Rows)
	}
	return x.finish(nil)
}

// exportWriter writes one export in its format, buffered and counted.
type exportWriter struct {
	format ExportFormat
	cw     *countingWriter
	bw     *bufio.Writer
	enc    *exportEncoder
	res    ExportResult
}

func (x *exportWriter) write(b []byte) error {
	if _, err := x.bw.Write(b); err != nil {
		return tlerr.Wrap(err, "export: write")
	}
	return nil
}

// finish flushes the output and returns the result with err (or the
// flush's error).
func (x *exportWriter) finish(err error) (ExportResult, error) {
	if ferr := x.bw.Flush(); err == nil && ferr != nil {
		err = tlerr.Wrap(ferr, "export: write")
	}
	x.res.Bytes = x.cw.n
	return x.res, err
}

// header writes what precedes the rows: the CSV header line, or the
// opening of the JSON document.
func (x *exportWriter) header(f Filter, opts ExportOptions) error {
	switch x.format {
	case ExportCSV:
		return x.write(x.enc.csvHeader())
	case ExportJSON:
		now := time.Now
		if opts.Now != nil {
			now = opts.Now
		}
		return x.write(x.enc.jsonHeader(now(), f, opts.MaxRows))
	}
	return nil
}

// row writes one change and counts it.
func (x *exportWriter) row(c exportChange) error {
	enc := x.enc
	var b []byte
	switch x.format {
	case ExportCSV:
		b = enc.csvRow(c)
	case ExportJSON:
		b = enc.buf[:0]
		if x.res.Rows > 0 {
			b = append(b, ',')
		}
		b = append(b, '\n')
		b = enc.appendObject(b, c)
		enc.buf = b
	case ExportNDJSON:
		b = append(enc.appendObject(enc.buf[:0], c), '\n')
		enc.buf = b
	}
	if err := x.write(b); err != nil {
		return err
	}
	x.res.Rows++
	return nil
}

// footer closes the JSON document.
func (x *exportWriter) footer() error {
	if x.format != ExportJSON {
		return nil
	}
	b := x.enc.buf[:0]
	if x.res.Rows > 0 {
		b = append(b, '\n')
	}
	b = append(b, `],"truncated":`...)
	b = strconv.AppendBool(b, x.res.Truncated)
	b = append(b, `,"rows":`...)
	b = strconv.AppendInt(b, x.res.Rows, 10)
	b = append(b, "}\n"...)
	return x.write(b)
}

// schemaName returns the unquoted audit schema name.
func (a Audit) schemaName() string {
	if a.Schema == "" {
		return DefaultSchema
	}
	return a.Schema
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// exportEncoder renders changes; buf is reused between rows.
type exportEncoder struct {
	guard bool
	buf   []byte
	cell  []byte
}

func (e *exportEncoder) csvHeader() []byte {
	return []byte(strings.Join(CSVColumns, ",") + "\r\n")
}

// csvRow renders one CSV record (RFC 4180, CRLF-terminated).
func (e *exportEncoder) csvRow(c exportChange) []byte {
	b := e.buf[:0]
	cell := func(s []byte) {
		b = e.appendCSVCell(b, s)
		b = append(b, ',')
	}
	e.cell = strconv.AppendInt(e.cell[:0], c.ID, 10)
	cell(e.cell)
	e.cell = strconv.AppendInt(e.cell[:0], c.TransactionID, 10)
	cell(e.cell)
	e.cell = c.CapturedAt.UTC().AppendFormat(e.cell[:0], exportTimeLayout)
	cell(e.cell)
	cell([]byte(c.Schema))
	cell([]byte(c.Table))
	cell([]byte(c.Op))
	cell(c.PK)
	cell(c.PKBefore)
	e.cell = e.cell[:0]
	if c.Actor != nil {
		e.cell = c.Actor.appendCanonical(e.cell)
	}
	cell(e.cell)
	cell([]byte(c.RequestID))
	cell([]byte(c.CorrelationID))
	e.cell = e.cell[:0]
	if c.ChangedFields != nil {
		e.cell = appendStringArray(e.cell, c.ChangedFields)
	}
	cell(e.cell)
	cell(c.After)
	cell(c.Before)
	cell(c.ChangedFrom)
	e.cell = e.cell[:0]
	if c.ActionID != nil {
		e.cell = strconv.AppendInt(e.cell, *c.ActionID, 10)
	}
	cell(e.cell)
	for _, v := range c.action.texts() {
		if v != nil {
			cell([]byte(*v))
		} else {
			cell(nil)
		}
	}
	b[len(b)-1] = '\r'
	b = append(b, '\n')
	e.buf = b
	return b
}

// appendCSVCell appends one CSV field, quoted when it holds a comma, a
// double quote, CR or LF (or starts with a space, which some readers
// trim), applying the formula guard.
func (e *exportEncoder) appendCSVCell(b, s []byte) []byte {
	guard := e.guard && len(s) > 0 && strings.IndexByte("=+-@\t\r", s[0]) >= 0
	quote := len(s) > 0 && s[0] == ' '
	for _, ch := range s {
		if ch == ',' || ch == '"' || ch == '\r' || ch == '\n' {
			quote = true
			break
		}
	}
	if !quote {
		if guard {
			b = append(b, '\'')
		}
		return append(b, s...)
	}
	b = append(b, '"')
	if guard {
		b = append(b, '\'')
	}
	for _, ch := range s {
		if ch == '"' {
			b = append(b, '"')
		}
		b = append(b, ch)
	}
	return append(b, '"')
}

// jsonHeader renders the JSON document up to the opening of "changes".
func (e *exportEncoder) jsonHeader(now time.Time, f Filter, maxRows int64) []byte {
	b := []byte(`{"format_version":`)
	b = strconv.AppendInt(b, ExportFormatVersion, 10)
	b = append(b, `,"generated_at":"`...)
	b = now.UTC().AppendFormat(b, exportTimeLayout)
	b = append(b, `","filter":{"table":`...)
	b = appendOptString(b, f.Table)
	b = append(b, `,"actor":`...)
	if f.Actor != nil {
		b = f.Actor.appendCanonical(b)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"from":`...)
	b = appendOptTime(b, f.From)
	b = append(b, `,"to":`...)
	b = appendOptTime(b, f.To)
	b = append(b, `,"correlation_id":`...)
	b = appendOptString(b, strings.TrimSpace(f.CorrelationID))
	// Filters added after format_version 1 appear only when set, so that
	// documents without them keep their exact shape.
	if f.Op != "" {
		b = append(b, `,"op":`...)
		b = appendJSONStr(b, string(f.Op))
	}
	if f.RequestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendJSONStr(b, strings.TrimSpace(f.RequestID))
	}
	b = append(b, `},"max_rows":`...)
	if maxRows > 0 {
		b = strconv.AppendInt(b, maxRows, 10)
	} else {
		b = append(b, "null"...)
	}
	return append(b, `,"changes":[`...)
}

// appendObject renders one change as a JSON object with the CSVColumns
// keys, in order.
func (e *exportEncoder) appendObject(b []byte, c exportChange) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, c.ID, 10)
	b = append(b, `,"transaction_id":`...)
	b = strconv.AppendInt(b, c.TransactionID, 10)
	b = append(b, `,"captured_at":"`...)
	b = c.CapturedAt.UTC().AppendFormat(b, exportTimeLayout)
	b = append(b, `","table_schema":`...)
	b = appendJSONStr(b, c.Schema)
	b = append(b, `,"table_name":`...)
	b = appendJSONStr(b, c.Table)
	b = append(b, `,"op":`...)
	b = appendJSONStr(b, string(c.Op))
	b = append(b, `,"table_pk":`...)
	b = appendImage(b, c.PK)
	b = append(b, `,"table_pk_before":`...)
	b = appendImage(b, c.PKBefore)
	b = append(b, `,"actor":`...)
	if c.Actor != nil {
		b = c.Actor.appendCanonical(b)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"request_id":`...)
	b = appendOptString(b, c.RequestID)
	b = append(b, `,"correlation_id":`...)
	b = appendOptString(b, c.CorrelationID)
	b = append(b, `,"changed_fields":`...)
	if c.ChangedFields != nil {
		b = appendStringArray(b, c.ChangedFields)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"data_after":`...)
	b = appendImage(b, c.After)
	b = append(b, `,"data_before":`...)
	b = appendImage(b, c.Before)
	b = append(b, `,"changed_from":`...)
	b = appendImage(b, c.ChangedFrom)
	b = append(b, `,"action_id":`...)
	if c.ActionID != nil {
		b = strconv.AppendInt(b, *c.ActionID, 10)
	} else {
		b = append(b, "null"...)
	}
	for i, v := range c.action.texts() {
		b = append(b, `,"`...)
		b = append(b, actionColumns[i]...)
		b = append(b, `":`...)
		if v != nil {
			b = appendJSONStr(b, *v)
		} else {
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// exportChange is a change with the action its transaction recorded.
type exportChange struct {
	Change
	action exportAction
}

// withAction returns the change with its action's summary (Change.Action)
// from the action columns read with it.
func (c exportChange) withAction() Change {
	x := c.action
	if c.ActionID != nil && x.name != nil {
		c.Change.Action = &ActionSummary{Name: *x.name, Status: deref(x.status), Verb: deref(x.verb), Category: deref(x.category), Reason: deref(x.reason)}
	}
	return c.Change
}

// exportAction holds the text columns of the action linked to a change's
// transaction; nil is SQL NULL.
type exportAction struct {
	name, status, verb, category, reason, comment, jobID *string
}

// actionColumns are the text action columns of an export, in the order
// of exportAction.texts; actionSelect reads them.
var actionColumns = []string{"action_name", "action_status", "action_verb", "action_category", "action_reason", "action_comment", "action_job_id"}

// actionSelect selects the columns of exportAction from the audit_actions
// row joined as ac.
const actionSelect = ", ac.name, ac.status, ac.verb, ac.category, ac.reason, ac.comment, ac.job_id"

// texts returns the fields in actionColumns order.
func (x *exportAction) texts() [7]*string {
	return [7]*string{x.name, x.status, x.verb, x.category, x.reason, x.comment, x.jobID}
}

// dest returns the scan destinations of actionSelect.
func (x *exportAction) dest() []any {
	return []any{&x.name, &x.status, &x.verb, &x.category, &x.reason, &x.comment, &x.jobID}
}

func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONStr(b, s)
}

func appendOptTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendStringArray(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONStr(b, s)
	}
	return append(b, ']')
}

// appendJSONStr appends s as a JSON string; plain ASCII takes a fast path,
// anything else is encoded like appendJSONString.
func appendJSONStr(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return appendJSONString(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// stream yields the changes matching f, each with its transaction's
// action, in Timeline order from one
// streaming query: pgx reads the result from the socket row by row, so
// memory stays flat, and the database sorts once, where keyset pages
// would each re-sort the remaining rows (no btree index orders
// audit_changes by captured_at). The query is built by the same filter
// code as Timeline and Changes. With maxRows > 0 it reads one row more
// than the cap, to tell whether the export is truncated.
func (a Audit) stream(ctx context.Context, db DBTX, f Filter, maxRows int64) iter.Seq2[exportChange, error] {
	return func(yield func(exportChange, error) bool) {
		n, err := f.normalize()
		if err != nil {
			yield(exportChange{}, err)
			return
		}
		r := a.reader()
		q := r.NewQuery()
		q.Filter(n)
		sql := a.exportSelect() + q.Where() + trailread.NewestFirst
		if maxRows > 0 {
			sql += " LIMIT " + q.Arg(maxRows+1)
		}
		for c, err := range a.scan(ctx, db, sql, q.Args) {
			if !yield(c, err) {
				return
			}
		}
	}
}

// exportSelect is the SELECT … FROM of the export rows: changes, their
// transaction, its action.
func (a Audit) exportSelect() string {
	return "SELECT " + trailread.ChangeColumns + actionSelect + a.reader().ChangesFrom() +
		" LEFT JOIN " + a.schema() + ".audit_actions AS ac ON ac.id = t.action_id"
}

// scan runs an exportSelect query and yields its rows.
func (a Audit) scan(ctx context.Context, db DBTX, sql string, args []any) iter.Seq2[exportChange, error] {
	return func(yield func(exportChange, error) bool) {
		rows, err := db.Query(ctx, sql, args...)
		if err != nil {
			yield(exportChange{}, fmt.Errorf("list changes: %w", err))
			return
		}
		defer rows.Close()
		// One set of scan destinations for every row: building it per row
		// cost a third of the export's time in allocations.
		s := a.reader().Scanner()
		var x exportAction
		dest := append(s.Dest(), x.dest()...)
		for rows.Next() {
			s.Reset()
			x = exportAction{}
			if err := rows.Scan(dest...); err != nil {
				yield(exportChange{}, fmt.Errorf("read change: %w", err))
				return
			}
			if !yield(exportChange{Change: s.Value(), action: x}, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(exportChange{}, fmt.Errorf("read changes: %w", err))
		}
	}
}
