package threadline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/threadline-go/threadline/internal/trailread"
)

// Op is the kind of a captured change.
type Op string

// The captured operations.
const (
	OpInsert   Op = "insert"
	OpUpdate   Op = "update"
	OpDelete   Op = "delete"
	OpTruncate Op = "truncate"
)

// Change is one captured row change (a row of audit_changes) with the
// metadata of its transaction (audit_transactions) joined in.
//
// Row images are the JSON the capture trigger stored: excluded columns are
// absent, masked columns hold the placeholder (NULL stays null). JSON
// columns that are SQL NULL are nil.
type Change struct {
	// ID orders changes: it increases with every captured change.
	ID int64 `json:"id"`
	// TransactionID is the audit_transactions row of the database
	// transaction that made the change.
	TransactionID int64 `json:"transaction_id"`
	// Schema and Table name the audited table.
	Schema string `json:"schema"`
	Table  string `json:"table"`
	// PK is the row's key as a JSON object ({"id": 42}); nil for a
	// truncate. For an update it is the new key.
	PK json.RawMessage `json:"pk"`
	// PKBefore is the old key of an update that changed the key, else nil.
	PKBefore json.RawMessage `json:"pk_before"`
	// Op is insert, update, delete or truncate.
	Op Op `json:"op"`
	// After is the (redacted) row after an insert or update.
	After json.RawMessage `json:"after"`
	// Before is the (redacted) row removed by a delete.
	Before json.RawMessage `json:"before"`
	// ChangedFields lists, sorted, the columns an update changed.
	ChangedFields []string `json:"changed_fields"`
	// ChangedFrom holds the prior values of ChangedFields when the table
	// stores them (store_changed_from), else nil.
	ChangedFrom json.RawMessage `json:"changed_from"`
	// CapturedAt is when the change was captured (clock_timestamp()).
	CapturedAt time.Time `json:"captured_at"`

	// Actor is the transaction's valid actor, or nil.
	Actor *ActorRef `json:"actor"`
	// ActorInvalid is the malformed threadline.actor_ref setting the
	// transaction carried, kept for forensics; it is never an actor.
	ActorInvalid string `json:"actor_invalid,omitempty"`
	// RequestID and CorrelationID are the transaction's settings ("" when
	// unset).
	RequestID     string `json:"request_id,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	// ActionID is the action linked to the transaction, or nil.
	ActionID *int64 `json:"action_id"`
	// Action is the summary of that action (its name, status, verb,
	// category and reason: why the change was made), or nil. Every read
	// of changes fills it with one lookup per page, not one per change.
	Action *ActionSummary `json:"action,omitempty"`
}

// Cursor returns the cursor that continues a listing after c.
func (c Change) Cursor() *Cursor { return cursorOf(c) }

// Page is one page of a listing, newest change first. Its JSON form
// names its fields in snake_case, as Change does: "changes" (never
// null), "next" (the cursor's text form, or null on the last page) and
// "searched_from" (left out when zero).
type Page struct {
	// Changes holds at most the filter's limit of changes.
	Changes []Change `json:"changes"`
	// Next continues the listing (Filter.After); nil on the last page.
	Next *Cursor `json:"next"`
	// SearchedFrom is set when Timeline spent its search budget before it
	// filled the page: changes captured before it were not searched yet,
	// and Next continues there. Zero otherwise.
	SearchedFrom time.Time `json:"searched_from,omitzero"`
}

// MarshalJSON encodes p with its changes as [] when there are none.
func (p Page) MarshalJSON() ([]byte, error) {
	type page Page
	if p.Changes == nil {
		p.Changes = []Change{}
	}
	return json.Marshal(page(p))
}

// Transaction is one audited database transaction (a row of
// audit_transactions).
type Transaction struct {
	// ID is the audit_transactions id (Change.TransactionID).
	ID int64 `json:"id"`
	// TxID is PostgreSQL's transaction id (xid8), as decimal text.
	TxID string `json:"txid"`
	// StartedAt is when the transaction started (now()).
	StartedAt time.Time `json:"started_at"`
	// Actor is the valid actor the transaction published, or nil.
	Actor *ActorRef `json:"actor"`
	// ActorInvalid is a malformed actor setting kept for forensics.
	ActorInvalid string `json:"actor_invalid,omitempty"`
	// RequestID and CorrelationID are the transaction's settings.
	RequestID     string `json:"request_id,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	// Source and Meta are optional annotations.
	Source string          `json:"source,omitempty"`
	Meta   json.RawMessage `json:"meta,omitempty"`
	// ActionID is the action linked to the transaction, or nil.
	ActionID *int64 `json:"action_id"`
	// Action is the linked action (RecordAction), or nil.
	Action *Action `json:"action"`
}

// ErrNotFound is returned when a requested audit record does not exist.
var ErrNotFound = errors.New("threadline: not found")

// decodeChange is the runtime's trailread.Reader.Decode: the Change of
// one row, its actor copied from prev when prev is given (the previous
// row's, with the same actor columns). Each Change gets its own copy of
// the ActorRef.
func decodeChange(r *trailread.Row, prev *Change) Change {
	c := Change{ID: r.ID, TransactionID: r.TransactionID, Schema: r.Schema, Table: r.Table,
		PK: raw(r.PK), PKBefore: raw(r.PKBefore), Op: Op(r.Op), After: raw(r.After), Before: raw(r.Before),
		ChangedFields: r.ChangedFields, ChangedFrom: raw(r.ChangedFrom), CapturedAt: r.CapturedAt.UTC(),
		RequestID: trailread.Text(r.RequestID), CorrelationID: trailread.Text(r.CorrelationID), ActionID: r.ActionID}
	if prev == nil {
		c.Actor, c.ActorInvalid = decodeActor(r.Actor, trailread.Text(r.ActorInvalid))
		return c
	}
	c.ActorInvalid = prev.ActorInvalid
	if prev.Actor != nil {
		a := *prev.Actor
		c.Actor = &a
	}
	return c
}

// decodeActor turns a stored actor_ref into an ActorRef. The database only
// stores valid references there; should one not decode, it is reported as
// invalid rather than trusted.
func decodeActor(b []byte, invalid string) (*ActorRef, string) {
	if b == nil {
		return nil, invalid
	}
	if a, ok := storedActorFast(b); ok {
		return &a, invalid
	}
	var a ActorRef
	if err := json.Unmarshal(b, &a); err != nil {
		if invalid == "" {
			invalid = string(b)
		}
		return nil, invalid
	}
	return &a, invalid
}

// storedActorFast decodes the text PostgreSQL prints for a stored actor_ref
// in the common case, {"id": "<id>", "type": "<kind>"} or {"type":
// "anonymous"} with no escapes in the strings, without a JSON decoder; ok
// is false for anything else (which decodeActor then decodes in full).
func storedActorFast(b []byte) (a ActorRef, ok bool) {
	if string(b) == `{"type": "anonymous"}` {
		return ActorRef{Kind: KindAnonymous}, true
	}
	rest, found := bytes.CutPrefix(b, []byte(`{"id": "`))
	if !found {
		return ActorRef{}, false
	}
	id, rest, found := bytes.Cut(rest, []byte(`", "type": "`))
	if !found {
		return ActorRef{}, false
	}
	kind, found := bytes.CutSuffix(rest, []byte(`"}`))
	if !found || bytes.ContainsAny(id, `"\`) || bytes.ContainsAny(kind, `"\`) {
		return ActorRef{}, false
	}
	for _, c := range id {
		if c < 0x20 {
			return ActorRef{}, false
		}
	}
	a = ActorRef{Kind: ActorKind(kind), ID: string(id)}
	if a.Kind == KindAnonymous || a.validateShape() != nil {
		return ActorRef{}, false
	}
	return a, true
}

func raw(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// DecodeJSON decodes raw into a new T. It returns nil, nil when raw is SQL
// NULL (empty) or JSON null. Generated code uses it to type row images.
func DecodeJSON[T any](raw json.RawMessage) (*T, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeError reports a captured JSON value that does not decode into the
// generated Go type (for instance after a column changed type).
type DecodeError struct {
	// ChangeID is the change whose value failed to decode.
	ChangeID int64
	// Part names the value: "pk", "pk_before", "after", "before",
	// "changed_from" or "as_of".
	Part string
	Err  error
}

// Error renders the change id, the part and the cause.
func (e *DecodeError) Error() string {
	if e.ChangeID == 0 {
		return fmt.Sprintf("threadline: decode %s: %v", e.Part, e.Err)
	}
	return fmt.Sprintf("threadline: change %d: decode %s: %v", e.ChangeID, e.Part, e.Err)
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// TypedChange holds the decoded parts of a Change; generated code copies
// them into its per-table change types.
type TypedChange[Row, Key, From any] struct {
	Key         *Key
	KeyBefore   *Key
	After       *Row
	Before      *Row
	ChangedFrom *From
}

// DecodeChange decodes the key, old key, row images and prior values of c
// into the given types. Errors are *DecodeError values.
func DecodeChange[Row, Key, From any](c Change) (TypedChange[Row, Key, From], error) {
	var out TypedChange[Row, Key, From]
	var err error
	fail := func(part string) (TypedChange[Row, Key, From], error) {
		return TypedChange[Row, Key, From]{}, &DecodeError{ChangeID: c.ID, Part: part, Err: err}
	}
	if out.Key, err = DecodeJSON[Key](c.PK); err != nil {
		return fail("pk")
	}
	if out.KeyBefore, err = DecodeJSON[Key](c.PKBefore); err != nil {
		return fail("pk_before")
	}
	if out.After, err = DecodeJSON[Row](c.After); err != nil {
		return fail("after")
	}
	if out.Before, err = DecodeJSON[Row](c.Before); err != nil {
		return fail("before")
	}
	if out.ChangedFrom, err = DecodeJSON[From](c.ChangedFrom); err != nil {
		return fail("changed_from")
	}
	return out, nil
}

// ConvertChanges applies convert to every change, stopping at the first
// error. Generated code uses it to type a list of changes.
func ConvertChanges[T any](changes []Change, convert func(Change) (T, error)) ([]T, error) {
	out := make([]T, 0, len(changes))
	for _, c := range changes {
		v, err := convert(c)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ConvertSeq applies convert to every change of seq. The sequence ends
// after the first error (of seq or of convert), which is yielded with the
// zero T. Generated code uses it to type a stream of changes.
func ConvertSeq[T any](seq iter.Seq2[Change, error], convert func(Change) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for c, err := range seq {
			var v T
			if err == nil {
				v, err = convert(c)
			}
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}
