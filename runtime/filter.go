package threadline

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/trailread"
)

// DefaultLimit is the number of changes a Timeline page (and a History or
// TransactionChanges list) holds when no positive limit is given.
const DefaultLimit = 100

// MaxLimit caps every limit: a larger limit is lowered to MaxLimit.
const MaxLimit = 10000

// DefaultStreamPageSize is the number of changes Changes fetches per round
// trip when the filter sets no positive Limit.
const DefaultStreamPageSize = 1000

// ErrInvalidFilter is matched (errors.Is) by every *FilterError.
var ErrInvalidFilter = errors.New("threadline: invalid filter")

// FilterError reports an invalid filter: a bad value for one field (or
// for one parameter of a read, such as AsOf's "at"). errors.Is(err,
// ErrInvalidFilter) is true for it.
type FilterError struct {
	// Key names the field at fault in snake_case, as the viewer's and the
	// command's parameters do ("table", "actor", "op", "from", "to",
	// "correlation_id", "request_id", "limit", "after"), or the parameter
	// ("at"); "column" for Filter.Column.
	Key string
	// Msg says what is wrong.
	Msg string
}

// Error renders "threadline: invalid filter: key: message".
func (e *FilterError) Error() string {
	if e.Key == "" {
		return "threadline: invalid filter: " + e.Msg
	}
	return "threadline: invalid filter: " + e.Key + ": " + e.Msg
}

// Is reports whether target is ErrInvalidFilter.
func (e *FilterError) Is(target error) bool { return target == ErrInvalidFilter }

func filterErrorf(key, format string, args ...any) *FilterError {
	return &FilterError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Filter selects captured changes. The zero Filter selects every change.
// Conditions combine with AND. Results are ordered newest first: by
// captured_at descending, then by change id descending.
type Filter struct {
	// Table restricts to one audited table: "users" (schema public) or
	// "schema.table". Names are matched exactly (no case folding); a part
	// holding a dot or a double quote is written in double quotes, with
	// inner quotes doubled: "my.schema"."odd""name".
	Table string
	// Actor restricts to changes whose transaction's actor_ref contains
	// this actor (JSON containment, actor_ref @> actor).
	Actor *ActorRef
	// Op restricts to one operation (insert, update, delete or truncate);
	// "" selects every operation.
	Op Op
	// From and To bound captured_at, both inclusive; the zero time leaves
	// that side open. From after To is an error.
	From, To time.Time
	// CorrelationID restricts to changes whose transaction carries this
	// correlation id: as its own setting (audit_transactions.correlation_id,
	// published by InTx, the HTTP middleware's X-Correlation-Id or
	// attribute()) or through the action it recorded
	// (audit_actions.correlation_id, which RecordAction may set to another
	// id). Either one matching is enough. Surrounding white space is
	// trimmed; a blank id or one over 256 bytes is an error. No index
	// serves the transaction's own setting: Timeline searches for it
	// within its budget, as for RequestID.
	CorrelationID string
	// RequestID restricts to changes whose transaction published this
	// request id (audit_transactions.request_id). Surrounding white space
	// is trimmed; a blank id or one longer than MaxRequestIDBytes is an
	// error. No index serves it: combine it with a time range on large
	// trails.
	RequestID string
	// Column restricts to changes that changed this column: updates whose
	// changed_fields hold it ("who changed status?"). Inserts, deletes and
	// truncates change no single column and never match. The name is
	// matched exactly; a blank name or one over 63 bytes is an error.
	Column string
	// Limit is the page size: at most this many changes per Timeline page
	// (Changes: per round trip). Zero or negative means DefaultLimit
	// (Changes: DefaultStreamPageSize); values above MaxLimit are lowered to
	// MaxLimit.
	Limit int
	// After continues a listing: only changes strictly older than the
	// cursor (in the result order) are returned. Page.Next is the cursor of
	// the following page.
	After *Cursor
}

// Validate reports the first problem of f as a *FilterError, or nil.
func (f Filter) Validate() error {
	_, err := f.normalize()
	return err
}

// normalize validates f and returns it in the read engine's form.
func (f Filter) normalize() (trailread.Filter, error) {
	var n trailread.Filter
	if f.Table != "" {
		t, err := parseTableName(f.Table)
		if err != nil {
			return n, err
		}
		n.Table = &t
	}
	if f.Actor != nil {
		s, err := f.Actor.Canonical()
		if err != nil {
			return n, filterErrorf("actor", "%v", err)
		}
		n.Actor = s
	}
	if f.Op != "" && !validOp(f.Op) {
		return n, filterErrorf("op", "%q: want insert, update, delete or truncate", string(f.Op))
	}
	n.Op = string(f.Op)
	if !f.From.IsZero() && !f.To.IsZero() && f.From.After(f.To) {
		return n, filterErrorf("from", "from (%s) is after to (%s)", f.From.Format(time.RFC3339Nano), f.To.Format(time.RFC3339Nano))
	}
	n.From, n.To = f.From, f.To
	if f.CorrelationID != "" {
		c, err := NormalizeCorrelationID(f.CorrelationID)
		if err != nil {
			return n, filterErrorf("correlation_id", "%s", strings.TrimPrefix(err.Error(), ErrInvalidAttribution.Error()+": "))
		}
		n.CorrelationID = c
	}
	if f.RequestID != "" {
		r := strings.TrimSpace(f.RequestID)
		if err := ValidateRequestID(r); err != nil {
			return n, filterErrorf("request_id", "%s", strings.TrimPrefix(err.Error(), ErrInvalidAttribution.Error()+": "))
		}
		n.RequestID = r
	}
	if f.Column != "" {
		if strings.TrimSpace(f.Column) == "" || len(f.Column) > maxIdentBytes || strings.IndexByte(f.Column, 0) >= 0 {
			return n, filterErrorf("column", "%q: want a column name of at most %d bytes", f.Column, maxIdentBytes)
		}
		n.Column = f.Column
	}
	n.Limit = clampLimit(f.Limit, DefaultLimit)
	if f.After != nil {
		if err := f.After.validate(); err != nil {
			return n, err
		}
		c := trailread.Cursor(*f.After)
		n.After = &c
	}
	return n, nil
}

// validOp reports whether op is one of the captured operations.
func validOp(op Op) bool {
	switch op {
	case OpInsert, OpUpdate, OpDelete, OpTruncate:
		return true
	}
	return false
}

func clampLimit(n, def int) int {
	switch {
	case n <= 0:
		return def
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// maxIdentBytes is the longest PostgreSQL identifier (NAMEDATALEN - 1).
const maxIdentBytes = 63

// tableName is a parsed Filter.Table.
type tableName = contract.QualifiedName

// parseTableName reads Filter.Table: "table" (schema public) or
// "schema.table", parts double-quoted to hold dots and quotes.
func parseTableName(s string) (tableName, error) {
	t, err := contract.ParseQualifiedName(s, "public")
	if ne, ok := err.(*contract.NameError); ok {
		return t, filterErrorf("table", "%q: %s", ne.Name, ne.Reason)
	}
	return t, err
}

// Cursor is a position in the newest-first order of changes: the
// (captured_at, id) of the last change a page returned. It is comparable
// and safe to hand to clients in its text form (String).
type Cursor struct {
	// CapturedAt is the captured_at of the change (microsecond precision).
	CapturedAt time.Time
	// ID is the change id.
	ID int64
}

// cursorOf returns the cursor that continues a listing after c.
func cursorOf(c Change) *Cursor {
	return &Cursor{CapturedAt: c.CapturedAt, ID: c.ID}
}

// positionOf is the runtime's trailread.Reader.Cursor.
func positionOf(c Change) trailread.Cursor {
	return trailread.Cursor{CapturedAt: c.CapturedAt, ID: c.ID}
}

// String renders the cursor as "<RFC 3339 time in UTC>_<id>", for example
// "2026-01-02T03:04:05.123456Z_42"; ParseCursor reads it back.
func (c Cursor) String() string {
	return c.CapturedAt.UTC().Format(time.RFC3339Nano) + "_" + strconv.FormatInt(c.ID, 10)
}

// ParseCursor reads the text form written by Cursor.String. Errors are
// *FilterError values for key "after".
func ParseCursor(s string) (Cursor, error) {
	ts, id, ok := strings.Cut(s, "_")
	if !ok {
		return Cursor{}, filterErrorf("after", "%q is not a cursor (want time_id, as returned in a page)", s)
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Cursor{}, filterErrorf("after", "%q is not a cursor: bad time", s)
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return Cursor{}, filterErrorf("after", "%q is not a cursor: bad id", s)
	}
	c := Cursor{CapturedAt: t, ID: n}
	if err := c.validate(); err != nil {
		return Cursor{}, err
	}
	return c, nil
}

// MarshalText implements encoding.TextMarshaler with String's form.
func (c Cursor) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseCursor.
func (c *Cursor) UnmarshalText(b []byte) error {
	v, err := ParseCursor(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

func (c Cursor) validate() error {
	if c.CapturedAt.IsZero() || c.ID <= 0 {
		return filterErrorf("after", "cursor needs a time and a positive id")
	}
	return nil
}

// sortedKeys returns the keys of m in order (for deterministic messages).
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
