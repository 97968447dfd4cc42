package threadline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/tlerr"
	"github.com/threadline-go/threadline/internal/trailread"
)

// The investigation queries, run by the read engine (internal/trailread).
// Every list is bounded (a limit, at most MaxLimit) or streamed page by
// page (Changes); all of them order changes newest first, by captured_at
// and then id, and continue with a keyset Cursor. Every value is passed
// as a query parameter; the audit schema is quoted.

// pageOf returns the runtime's form of an engine page.
func pageOf(p trailread.Page[Change]) Page {
	return Page{Changes: p.Changes, Next: (*Cursor)(p.Next), SearchedFrom: p.SearchedFrom}
}

// Timeline returns one page of the changes matching f, newest first, at
// most f.Limit of them (DefaultLimit when unset). Pass Page.Next as
// f.After for the following page; Next is nil on the last page. An
// invalid filter is a *FilterError.
//
// A page is never read by sorting every matching change: time windows
// back from the newest change (or from f.To, or the cursor; the first as
// long as the trail took to capture its latest thousand or so changes,
// between a minute and an hour, each next one up to eight times longer),
// served by the captured_at index, until the page is full, so it costs a
// few index-served queries over the changes it reads (milliseconds,
// whatever the size of the trail: docs/benchmarks.md measures it at ten
// million changes). A filter that matches nothing recent is
// bounded by the search budget (DefaultSearchBudget): when it is spent
// before the page is full, Timeline returns the page found so far
// (Page.SearchedFrom set, Page.Next continuing there) together with an
// error wrapping ErrSearchBudgetSpent. Following Next from such pages
// lists exactly the changes one sorted query would.
func (a Audit) Timeline(ctx context.Context, db DBTX, f Filter) (Page, error) {
	n, err := f.normalize()
	if err != nil {
		return Page{}, err
	}
	p, err := a.reader().Search(ctx, db, n, trailread.Search{First: trailread.FirstWindow, Budget: trailread.SearchBudget(ctx)})
	if err != nil {
		return Page{}, err
	}
	if err := a.withActions(ctx, db, p.Changes); err != nil {
		return Page{}, err
	}
	out := pageOf(p)
	return out, out.budgetError()
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
		r := a.reader()
		for {
			if err := ctx.Err(); err != nil {
				yield(Change{}, err)
				return
			}
			p, err := r.Page(ctx, db, n, size)
			if err == nil {
				err = a.withActions(ctx, db, p.Changes)
			}
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
			n.After = p.Next
		}
	}
}

// HistoryOptions bound a History or TransactionChanges list. The zero
// value lists the newest DefaultLimit changes.
type HistoryOptions struct {
	// Limit bounds the number of changes returned (DefaultLimit when not
	// positive; at most MaxLimit).
	Limit int
	// After continues a listing after this cursor (the Cursor of the last
	// change of the previous call): only older changes are returned.
	After *Cursor
}

// normalize validates o and applies its defaults.
func (o HistoryOptions) normalize() (HistoryOptions, error) {
	o.Limit = clampLimit(o.Limit, DefaultLimit)
	if o.After != nil {
		if err := o.After.validate(); err != nil {
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

// History returns the changes of one row, newest first: table is "users"
// or "schema.table" (as Filter.Table), key the row's key as the capture
// stores it in table_pk — a JSON object of the key columns ({"id": 42}),
// given as a json.RawMessage, a string, a map or a generated Key value. An
// update that changed the key is part of the history of both keys. At most
// o.Limit changes are returned (DefaultLimit by default); continue with
// o.After.
func (a Audit) History(ctx context.Context, db DBTX, table string, key any, o HistoryOptions) ([]Change, error) {
	t, err := parseTableName(table)
	if err != nil {
		return nil, err
	}
	k, err := keyJSON(key)
	if err != nil {
		return nil, err
	}
	o, err = o.normalize()
	if err != nil {
		return nil, err
	}
	r := a.reader()
	q := r.NewQuery()
	q.Row(t, k)
	q.After((*trailread.Cursor)(o.After))
	return a.runWithActions(ctx, db, q, o.Limit, "row history")
}

// runWithActions runs a listing and fills the changes' actions.
func (a Audit) runWithActions(ctx context.Context, db DBTX, q *trailread.Query, limit int, what string) ([]Change, error) {
	cs, err := a.reader().Run(ctx, db, q, limit, what)
	if err != nil {
		return nil, err
	}
	if err := a.withActions(ctx, db, cs); err != nil {
		return nil, err
	}
	return cs, nil
}

// TransactionChanges returns the changes captured in one transaction
// (Change.TransactionID), newest first, at most o.Limit of them
// (DefaultLimit by default); continue with o.After. An unknown id yields
// no changes.
func (a Audit) TransactionChanges(ctx context.Context, db DBTX, transactionID int64, o HistoryOptions) ([]Change, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	r := a.reader()
	q := r.NewQuery()
	q.Cond("c.transaction_id = " + q.Arg(transactionID))
	q.After((*trailread.Cursor)(o.After))
	return a.runWithActions(ctx, db, q, o.Limit, "transaction changes")
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
