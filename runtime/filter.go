package threadline

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
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

// FilterError reports an invalid filter: a bad value for one field, or an
// unknown or malformed part of the text form. errors.Is(err,
// ErrInvalidFilter) is true for it.
type FilterError struct {
	// Key is the filter key at fault, as the text form names it ("table",
	// "actor", "op", "from", "to", "correlation_id", "request_id", "limit",
	// "after"), or the unknown key as written.
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

// FilterKeys lists the keys of the text form of a Filter (ParseFilter), in
// the order error messages list them.
var FilterKeys = []string{"table", "actor", "op", "from", "to", "correlation_id", "request_id", "limit", "after"}

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
	// CorrelationID restricts to changes whose transaction is linked
	// (audit_transactions.action_id) to an action recorded with this
	// correlation id. The transaction's own correlation_id setting does not
	// count: the match is strict. Surrounding white space is trimmed; a
	// blank id or one over 256 bytes is an error.
	CorrelationID string
	// RequestID restricts to changes whose transaction published this
	// request id (audit_transactions.request_id). Surrounding white space
	// is trimmed; a blank id or one longer than MaxRequestIDBytes is an
	// error. No index serves it: combine it with a time range on large
	// trails.
	RequestID string
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

// normalized is a validated filter ready to be turned into SQL.
type normalized struct {
	table         *tableName
	actor         string // canonical JSON, "" for none
	op            Op
	from, to      time.Time
	correlationID string
	requestID     string
	limit         int
	after         *Cursor
	// windowed marks RecentTimeline's time-window queries, whose cost
	// must follow the window (see Audit.changesFromEach).
	windowed bool
}

func (f Filter) normalize() (normalized, error) {
	var n normalized
	if f.Table != "" {
		t, err := parseTableName(f.Table)
		if err != nil {
			return n, err
		}
		n.table = &t
	}
	if f.Actor != nil {
		s, err := f.Actor.Canonical()
		if err != nil {
			return n, filterErrorf("actor", "%v", err)
		}
		n.actor = s
	}
	if f.Op != "" && !validOp(f.Op) {
		return n, filterErrorf("op", "%q: want insert, update, delete or truncate", string(f.Op))
	}
	n.op = f.Op
	if !f.From.IsZero() && !f.To.IsZero() && f.From.After(f.To) {
		return n, filterErrorf("from", "from (%s) is after to (%s)", f.From.Format(time.RFC3339Nano), f.To.Format(time.RFC3339Nano))
	}
	n.from, n.to = f.From, f.To
	if f.CorrelationID != "" {
		c, err := NormalizeCorrelationID(f.CorrelationID)
		if err != nil {
			return n, filterErrorf("correlation_id", "%s", strings.TrimPrefix(err.Error(), ErrInvalidAttribution.Error()+": "))
		}
		n.correlationID = c
	}
	if f.RequestID != "" {
		r := strings.TrimSpace(f.RequestID)
		if err := ValidateRequestID(r); err != nil {
			return n, filterErrorf("request_id", "%s", strings.TrimPrefix(err.Error(), ErrInvalidAttribution.Error()+": "))
		}
		n.requestID = r
	}
	n.limit = clampLimit(f.Limit, DefaultLimit)
	if f.After != nil {
		if err := f.After.validate(); err != nil {
			return n, err
		}
		c := *f.After
		n.after = &c
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

// tableName is a parsed Filter.Table.
type tableName = contract.QualifiedName

// QuoteTablePart quotes one part of a table name for Filter.Table when it
// holds a dot or a double quote ("a.b" becomes "\"a.b\""), and returns it
// unchanged otherwise.
func QuoteTablePart(s string) string { return contract.QuotePart(s) }

// parseTableName reads Filter.Table: "table" (schema public) or
// "schema.table", parts double-quoted to hold dots and quotes.
func parseTableName(s string) (tableName, error) {
	t, err := contract.ParseQualifiedName(s, "public")
	if ne, ok := err.(*contract.NameError); ok {
		return t, filterErrorf("table", "%q: %s", ne.Name, ne.Reason)
	}
	return t, err
}

// ParseFilter reads the text form of a Filter, used by the command line
// and HTTP handlers:
//
//	table=users,actor=user:42,op=update,from=2026-01-01T00:00:00Z,to=2026-02-01T00:00:00Z,correlation_id=req-7,limit=50
//
// Pairs are key=value, separated by commas; white space around keys and
// values is ignored, so values cannot hold commas. The keys are
// FilterKeys:
//
//   - table: "users" or "schema.table" (see Filter.Table);
//   - actor: "kind:id" (user:42, service_account:billing; the id is
//     everything after the first colon) or "anonymous";
//   - op: insert, update, delete or truncate;
//   - from, to: times as ParseTime reads them (RFC 3339, 2026-01-02T15:04
//     in UTC, a date, or relative to now: -1h, -7d), inclusive;
//   - correlation_id: a correlation id;
//   - request_id: a request id;
//   - limit: an integer; zero or negative means DefaultLimit;
//   - after: a cursor, as Cursor.String writes it.
//
// An unknown key is an error listing the allowed keys; so is a repeated
// key, a pair without "=" or an empty value. The empty string is the zero
// Filter. The result is validated (Filter.Validate). Every error is a
// *FilterError.
func ParseFilter(text string) (Filter, error) {
	var f Filter
	if strings.TrimSpace(text) == "" {
		return f, nil
	}
	seen := map[string]bool{}
	for _, pair := range strings.Split(text, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok {
			return Filter{}, filterErrorf(k, "want key=value (allowed keys: %s)", strings.Join(FilterKeys, ", "))
		}
		if !isFilterKey(k) {
			return Filter{}, filterErrorf(k, "unknown key (allowed keys: %s)", strings.Join(FilterKeys, ", "))
		}
		if seen[k] {
			return Filter{}, filterErrorf(k, "given more than once")
		}
		seen[k] = true
		if v == "" {
			return Filter{}, filterErrorf(k, "empty value")
		}
		switch k {
		case "table":
			f.Table = v
		case "actor":
			a, err := parseActorText(v)
			if err != nil {
				return Filter{}, err
			}
			f.Actor = &a
		case "op":
			f.Op = Op(v)
		case "from", "to":
			t, err := parseTime(v, time.Now())
			if err != nil {
				return Filter{}, filterErrorf(k, "%s", err.Msg)
			}
			if k == "from" {
				f.From = t
			} else {
				f.To = t
			}
		case "correlation_id":
			f.CorrelationID = v
		case "request_id":
			f.RequestID = v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil {
				return Filter{}, filterErrorf(k, "%q is not an integer", v)
			}
			f.Limit = n
		case "after":
			c, err := ParseCursor(v)
			if err != nil {
				return Filter{}, err
			}
			f.After = &c
		}
	}
	if err := f.Validate(); err != nil {
		return Filter{}, err
	}
	return f, nil
}

func isFilterKey(k string) bool {
	for _, a := range FilterKeys {
		if a == k {
			return true
		}
	}
	return false
}

// ParseActorText reads an actor in the text form of filters: "kind:id"
// (user:42; the id is everything after the first colon) or "anonymous".
// Errors are *FilterError values for key "actor".
func ParseActorText(v string) (ActorRef, error) { return parseActorText(v) }

// parseActorText reads "kind:id" or "anonymous".
func parseActorText(v string) (ActorRef, error) {
	kind, id, hasID := strings.Cut(v, ":")
	if !hasID && kind != string(KindAnonymous) {
		example := "user:" + v
		switch {
		case v == "":
			example = "user:42"
		case ActorKind(v).Valid():
			example = v + ":42"
		}
		return ActorRef{}, filterErrorf("actor", "%q: use kind:id, e.g. %s (kinds: %s), or anonymous", v, example, actorKindList())
	}
	a, err := NewActorRef(ActorKind(kind), id)
	if err != nil {
		return ActorRef{}, filterErrorf("actor", "%q: %s", v, strings.TrimPrefix(err.Error(), ErrInvalidActor.Error()+": "))
	}
	return a, nil
}

// actorKindList lists the kinds that take an id, for messages.
func actorKindList() string {
	var kinds []string
	for _, k := range ActorKinds() {
		if k != KindAnonymous {
			kinds = append(kinds, string(k))
		}
	}
	return strings.Join(kinds, ", ")
}

// String renders f in the text form ParseFilter reads; unset fields are
// left out, keys appear in FilterKeys order.
func (f Filter) String() string {
	var parts []string
	add := func(k, v string) { parts = append(parts, k+"="+v) }
	if f.Table != "" {
		add("table", f.Table)
	}
	if f.Actor != nil {
		add("actor", f.Actor.String())
	}
	if f.Op != "" {
		add("op", string(f.Op))
	}
	if !f.From.IsZero() {
		add("from", f.From.Format(time.RFC3339Nano))
	}
	if !f.To.IsZero() {
		add("to", f.To.Format(time.RFC3339Nano))
	}
	if f.CorrelationID != "" {
		add("correlation_id", f.CorrelationID)
	}
	if f.RequestID != "" {
		add("request_id", f.RequestID)
	}
	if f.Limit != 0 {
		add("limit", strconv.Itoa(f.Limit))
	}
	if f.After != nil {
		add("after", f.After.String())
	}
	return strings.Join(parts, ",")
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

// CursorOf returns the cursor that continues a listing after c.
func CursorOf(c Change) *Cursor {
	return &Cursor{CapturedAt: c.CapturedAt, ID: c.ID}
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
