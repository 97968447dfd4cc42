package threadline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/tlerr"
)

// The investigation queries. Every list is bounded (a limit, at most
// MaxLimit) or streamed page by page (Changes); all of them order changes
// newest first, by captured_at and then id, and continue with a keyset
// Cursor. Every value is passed as a query parameter; the audit schema is
// quoted.

// query accumulates a WHERE clause and its parameters.
type query struct {
	a     Audit
	where []string
	args  []any
	// windowed reads each change's header by its primary key (see
	// Audit.changesFromEach).
	windowed bool
	// header is set when a condition reads the change's header (t).
	header bool
}

// arg adds a parameter and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *query) cond(s string) { q.where = append(q.where, s) }

// filter adds the conditions of a normalized filter.
func (q *query) filter(n normalized) {
	if n.table != nil {
		q.cond("c.table_schema = " + q.arg(n.table.Schema) + " AND c.table_name = " + q.arg(n.table.Name))
	}
	q.windowed = n.windowed
	q.header = n.actor != "" || n.correlationID != "" || n.requestID != ""
	if n.actor != "" {
		q.cond("t.actor_ref @> " + q.arg(n.actor) + "::jsonb")
	}
	if n.op != "" {
		q.cond("c.op = " + q.arg(string(n.op)))
	}
	if !n.from.IsZero() {
		q.cond("c.captured_at >= " + q.arg(ceilMicro(n.from)))
	}
	if !n.to.IsZero() {
		q.cond("c.captured_at <= " + q.arg(n.to.Truncate(time.Microsecond)))
	}
	if n.correlationID != "" {
		q.cond("t.action_id IN (SELECT ac.id FROM " + q.a.schema() + ".audit_actions AS ac WHERE ac.correlation_id = " + q.arg(n.correlationID) + ")")
	}
	if n.requestID != "" {
		q.cond("t.request_id = " + q.arg(n.requestID))
	}
	q.after(n.after)
}

// after adds the keyset condition of a cursor.
func (q *query) after(c *Cursor) {
	if c != nil {
		q.cond("(c.captured_at, c.id) < (" + q.arg(c.CapturedAt) + ", " + q.arg(c.ID) + ")")
	}
}

// newestFirst orders a listing.
const newestFirst = " ORDER BY c.captured_at DESC, c.id DESC"

// sql renders the listing query with a limit.
func (q *query) sql(limit int) string {
	if q.windowed && !q.header {
		return q.pageThenHeaders(limit)
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(changeColumns)
	if q.windowed {
		b.WriteString(q.a.changesFromEach(""))
	} else {
		b.WriteString(q.a.changesFrom())
	}
	b.WriteString(q.whereClause())
	b.WriteString(newestFirst + " LIMIT ")
	b.WriteString(q.arg(limit))
	return b.String()
}

// pageThenHeaders renders a window's listing whose conditions are all on
// the changes: the page is cut first, then only its changes' headers are
// read, so a wide window costs a sort of its changes, not a header lookup
// for each of them.
func (q *query) pageThenHeaders(limit int) string {
	page := "(SELECT * FROM " + q.a.schema() + ".audit_changes AS c" + q.whereClause() +
		newestFirst + " LIMIT " + q.arg(limit) + ")"
	return "SELECT " + changeColumns + q.a.changesFromEach(page) + newestFirst
}

// whereClause renders the conditions, "" when there are none.
func (q *query) whereClause() string {
	if len(q.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.where, " AND ")
}

// ceilMicro rounds t up to PostgreSQL's microsecond precision, so an
// inclusive lower bound never admits an earlier change.
func ceilMicro(t time.Time) time.Time {
	if u := t.Truncate(time.Microsecond); !u.Equal(t) {
		return u.Add(time.Microsecond)
	}
	return t
}

// page runs a listing for a normalized filter with the given page size.
func (a Audit) page(ctx context.Context, db DBTX, n normalized, size int) (Page, error) {
	changes, err := a.list(ctx, db, n, size+1)
	if err != nil {
		return Page{}, err
	}
	p := Page{Changes: changes}
	if len(changes) > size {
		p.Changes = changes[:size:size]
		p.Next = CursorOf(p.Changes[size-1])
	}
	return p, nil
}

// Timeline returns one page of the changes matching f, newest first, at
// most f.Limit of them (DefaultLimit when unset). Pass Page.Next as
// f.After for the following page; Next is nil on the last page. An
// invalid filter is a *FilterError.
//
// A page is read as RecentTimeline reads it, never by sorting every
// matching change: time windows back from the newest change (or from
// f.To, or the cursor), served by the captured_at index, until the page
// is full, so it costs a few index-served queries over the changes it
// reads (milliseconds, whatever the size of the trail: docs/benchmarks.md
// measures it at ten million changes). A filter that matches nothing
// recent is bounded by the search budget (Audit.SearchBudget): when it is
// spent before the page is full, Timeline returns the page found so far
// (Page.SearchedFrom set, Page.Next continuing there) together with an
// error wrapping ErrSearchBudgetSpent. Following Next from such pages
// lists exactly the changes one sorted query would.
func (a Audit) Timeline(ctx context.Context, db DBTX, f Filter) (Page, error) {
	p, err := a.RecentTimeline(ctx, db, f)
	if err != nil {
		return Page{}, err
	}
	return p, p.budgetError()
}

// ActorHistory returns one page of the changes made in transactions
// attributed to actor (JSON containment on audit_transactions.actor_ref),
// further restricted by f; f.Actor is replaced by actor. It reads and
// reports as Timeline does (ErrSearchBudgetSpent with a partial page).
func (a Audit) ActorHistory(ctx context.Context, db DBTX, actor ActorRef, f Filter) (Page, error) {
	f.Actor = &actor
	return a.Timeline(ctx, db, f)
}

// Changes streams every change matching f, newest first, starting after
// f.After. It reads keyset pages of f.Limit changes (DefaultStreamPageSize
// when unset) so memory stays bounded whatever the number of changes, and
// it holds a connection only while a page is read: breaking out of the
// loop early leaves nothing open. An error ends the sequence; it is
// yielded once with a zero Change.
func (a Audit) Changes(ctx context.Context, db DBTX, f Filter) iter.Seq2[Change, error] {
	return func(yield func(Change, error) bool) {
		n, err := f.normalize()
		if err != nil {
			yield(Change{}, err)
			return
		}
		size := clampLimit(f.Limit, DefaultStreamPageSize)
		for {
			if err := ctx.Err(); err != nil {
				yield(Change{}, err)
				return
			}
			p, err := a.page(ctx, db, n, size)
			if err != nil {
				yield(Change{}, err)
				return
			}
			for _, c := range p.Changes {
				if !yield(c, nil) {
					return
				}
			}
			if p.Next == nil {
				return
			}
			n.after = p.Next
		}
	}
}

// HistoryOption adjusts History and TransactionChanges.
type HistoryOption func(*historyOptions)

type historyOptions struct {
	limit int
	after *Cursor
}

// HistoryLimit bounds the number of changes returned (DefaultLimit when
// not given or not positive; at most MaxLimit).
func HistoryLimit(n int) HistoryOption {
	return func(o *historyOptions) { o.limit = n }
}

// HistoryAfter continues a listing after cursor c (the Cursor of the last
// change of the previous call): only older changes are returned.
func HistoryAfter(c *Cursor) HistoryOption {
	return func(o *historyOptions) { o.after = c }
}

func applyHistoryOptions(opts []HistoryOption) (historyOptions, error) {
	var o historyOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	o.limit = clampLimit(o.limit, DefaultLimit)
	if o.after != nil {
		if err := o.after.validate(); err != nil {
			return o, err
		}
	}
	return o, nil
}

// ErrInvalidKey is wrapped by errors about a row key that is not a JSON
// object.
var ErrInvalidKey = errors.New("threadline: invalid row key")

// keyJSON encodes a row key as JSON object text. key is a json.RawMessage,
// []byte or string holding a JSON object, or any value that marshals to
// one (a generated Key type, a map[string]any).
func keyJSON(key any) (string, error) {
	var b []byte
	switch k := key.(type) {
	case nil:
		return "", fmt.Errorf("%w: nil", ErrInvalidKey)
	case json.RawMessage:
		b = k
	case []byte:
		b = k
	case string:
		b = []byte(k)
	default:
		var err error
		if b, err = json.Marshal(key); err != nil {
			return "", fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
	}
	t := bytes.TrimSpace(b)
	if !json.Valid(t) || len(t) == 0 || t[0] != '{' {
		return "", fmt.Errorf("%w: %.100s is not a JSON object", ErrInvalidKey, t)
	}
	if string(bytes.Join(bytes.Fields(t), nil)) == "{}" {
		return "", fmt.Errorf("%w: empty object", ErrInvalidKey)
	}
	return string(t), nil
}

// row adds the conditions selecting every change of one row: the
// changes whose key (table_pk) is key, and key-changing updates whose old
// key (table_pk_before) is key. The two ORed conditions match the indexes
// audit_changes_row_idx and audit_changes_row_before_idx: indexes of a
// 64-bit hash of (table_name, key) rather than of the jsonb itself,
// smaller and cheaper to maintain on every captured row. The first is a
// btree (a hash index keeps one key's entries in one overflow chain that
// every insert walks, so a hot row's writes slowed down as its history
// grew); the second a hash index, which stores no NULL, so rows that did
// not change their key (table_pk_before NULL) cost it nothing.
func (q *query) row(t tableName, key string) {
	s, n, k := q.arg(t.Schema), q.arg(t.Name), q.arg(key)
	q.cond("c.table_schema = " + s + " AND " + rowMatch("c", n, k))
}

// rowMatch renders the condition "change c belongs to the row with key k
// in table n" in the form the row indexes serve.
func rowMatch(c, n, k string) string {
	h := "jsonb_hash_extended(" + k + "::jsonb, hashtext(" + n + "::text))"
	return "((jsonb_hash_extended(" + c + ".table_pk, hashtext(" + c + ".table_name)) = " + h +
		" AND " + c + ".table_name = " + n + " AND " + c + ".table_pk = " + k + "::jsonb)" +
		" OR (jsonb_hash_extended(" + c + ".table_pk_before, hashtext(" + c + ".table_name)) = " + h +
		" AND " + c + ".table_name = " + n + " AND " + c + ".table_pk_before = " + k + "::jsonb))"
}

// History returns the changes of one row, newest first: table is "users"
// or "schema.table" (as Filter.Table), key the row's key as the capture
// stores it in table_pk — a JSON object of the key columns ({"id": 42}),
// given as a json.RawMessage, a string, a map or a generated Key value. An
// update that changed the key is part of the history of both keys. At most
// HistoryLimit changes are returned (DefaultLimit by default); continue
// with HistoryAfter.
func (a Audit) History(ctx context.Context, db DBTX, table string, key any, opts ...HistoryOption) ([]Change, error) {
	t, err := parseTableName(table)
	if err != nil {
		return nil, err
	}
	k, err := keyJSON(key)
	if err != nil {
		return nil, err
	}
	o, err := applyHistoryOptions(opts)
	if err != nil {
		return nil, err
	}
	q := &query{a: a}
	q.row(t, k)
	q.after(o.after)
	rows, err := db.Query(ctx, q.sql(o.limit), q.args...)
	if err != nil {
		return nil, tlerr.Wrap(err, "row history")
	}
	return collect(rows, min(o.limit, 256))
}

// TransactionChanges returns the changes captured in one transaction
// (Change.TransactionID), newest first, at most HistoryLimit of them
// (DefaultLimit by default); continue with HistoryAfter. An unknown id
// yields no changes.
func (a Audit) TransactionChanges(ctx context.Context, db DBTX, transactionID int64, opts ...HistoryOption) ([]Change, error) {
	o, err := applyHistoryOptions(opts)
	if err != nil {
		return nil, err
	}
	q := &query{a: a}
	q.cond("c.transaction_id = " + q.arg(transactionID))
	q.after(o.after)
	rows, err := db.Query(ctx, q.sql(o.limit), q.args...)
	if err != nil {
		return nil, tlerr.Wrap(err, "transaction changes")
	}
	return collect(rows, min(o.limit, 256))
}

// Transaction returns one audited transaction with its linked action, or
// an error wrapping ErrNotFound.
func (a Audit) Transaction(ctx context.Context, db DBTX, id int64) (Transaction, error) {
	var t Transaction
	var actor, meta, actionActor []byte
	var invalid, request, correlation, source *string
	var actionID *int64
	var name, status, verb, category, reason, comment, aCorrelation, aRequest, job *string
	var inserted *time.Time
	s := a.schema()
	err := db.QueryRow(ctx, `SELECT t.id, t.txid::text, t.started_at, t.actor_ref, t.actor_ref_invalid, t.request_id,
		t.correlation_id, t.source, t.meta, t.action_id,
		ac.id, ac.name, ac.actor_ref, ac.status, ac.verb, ac.category, ac.reason, ac.comment,
		ac.correlation_id, ac.request_id, ac.job_id, ac.inserted_at
	FROM `+s+`.audit_transactions AS t LEFT JOIN `+s+`.audit_actions AS ac ON ac.id = t.action_id
	WHERE t.id = $1`, id).
		Scan(&t.ID, &t.TxID, &t.StartedAt, &actor, &invalid, &request, &correlation, &source, &meta, &t.ActionID,
			&actionID, &name, &actionActor, &status, &verb, &category, &reason, &comment,
			&aCorrelation, &aRequest, &job, &inserted)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Transaction{}, fmt.Errorf("%w: transaction %d", ErrNotFound, id)
		}
		return Transaction{}, tlerr.Wrap(err, "read transaction %d", id)
	}
	t.StartedAt = t.StartedAt.UTC()
	t.Actor, t.ActorInvalid = decodeActor(actor, deref(invalid))
	t.RequestID, t.CorrelationID, t.Source, t.Meta = deref(request), deref(correlation), deref(source), raw(meta)
	if actionID != nil {
		act := &Action{
			ID: *actionID, Name: deref(name), Status: deref(status), Verb: deref(verb), Category: deref(category),
			Reason: deref(reason), Comment: deref(comment), CorrelationID: deref(aCorrelation),
			RequestID: deref(aRequest), JobID: deref(job), TransactionID: t.ID,
		}
		act.Actor, _ = decodeActor(actionActor, "")
		if inserted != nil {
			act.InsertedAt = inserted.UTC()
		}
		t.Action = act
	}
	return t, nil
}
