package trailread

import (
	"context"
	"strings"
	"time"

	"github.com/threadline-go/threadline/internal/tlerr"
)

// The reads of recorded actions (audit_actions): the summary each change
// of a page carries (one batched lookup per page, never one per change),
// and the listing of actions.

// ActionRow is one row of audit_actions as stored; nil text is SQL NULL.
type ActionRow struct {
	ID                              int64
	Name                            string
	Actor                           []byte
	Status                          string
	Verb, Category, Reason, Comment *string
	CorrelationID, RequestID, JobID *string
	InsertedAt                      time.Time
	// TransactionID is the audit_transactions row linked to the action,
	// nil when none is (left by a purge).
	TransactionID *int64
}

// actionColumns are the columns ActionRow.dest receives; ac is
// audit_actions.
const actionColumns = `ac.id, ac.name, ac.actor_ref, ac.status, ac.verb, ac.category, ac.reason, ac.comment,
	ac.correlation_id, ac.request_id, ac.job_id, ac.inserted_at`

func (r *ActionRow) dest() []any {
	return []any{&r.ID, &r.Name, &r.Actor, &r.Status, &r.Verb, &r.Category, &r.Reason, &r.Comment,
		&r.CorrelationID, &r.RequestID, &r.JobID, &r.InsertedAt}
}

// ActionSummaries reads the actions of ids (duplicates allowed) in one
// query by primary key: the "why" of a page of changes. An id without a
// row (a purged action) is absent from the map.
func (t Trail) ActionSummaries(ctx context.Context, db DB, ids []int64) (map[int64]ActionRow, error) {
	out := make(map[int64]ActionRow, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, "SELECT "+actionColumns+" FROM "+t.Quoted()+".audit_actions AS ac WHERE ac.id = ANY($1::bigint[])", ids)
	if err != nil {
		return nil, tlerr.Wrap(err, "read the actions of the changes")
	}
	defer rows.Close()
	for rows.Next() {
		var r ActionRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, tlerr.Wrap(err, "read the actions of the changes")
		}
		out[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, tlerr.Wrap(err, "read the actions of the changes")
	}
	return out, nil
}

// ActionFilter is a validated filter of actions (the runtime's
// ActionFilter, normalized): "" and zero values select any.
type ActionFilter struct {
	Name, Category, Status string
	// Actor is the canonical JSON of an actor to match by containment.
	Actor string
	// From and To bound inserted_at, inclusive.
	From, To time.Time
	// Reason is a text the reason holds, case-insensitively.
	Reason        string
	CorrelationID string
	// Limit is the page size, already clamped.
	Limit int
	// After continues the listing below this action id; 0 for none.
	After int64
}

// Actions lists at most f.Limit+1 actions matching f, newest first (by
// id, the order they were recorded in: the primary key index read
// backwards), each with the transaction linked to it.
func (t Trail) Actions(ctx context.Context, db DB, f ActionFilter) ([]ActionRow, error) {
	q := t.NewQuery()
	s := t.Quoted()
	for _, c := range []struct{ col, v string }{{"name", f.Name}, {"category", f.Category}, {"status", f.Status}, {"correlation_id", f.CorrelationID}} {
		if c.v != "" {
			q.Cond("ac." + c.col + " = " + q.Arg(c.v))
		}
	}
	if f.Actor != "" {
		q.Cond("ac.actor_ref @> " + q.Arg(f.Actor) + "::jsonb")
	}
	if !f.From.IsZero() {
		q.Cond("ac.inserted_at >= " + q.Arg(ceilMicro(f.From)))
	}
	if !f.To.IsZero() {
		q.Cond("ac.inserted_at <= " + q.Arg(f.To.Truncate(time.Microsecond)))
	}
	if f.Reason != "" {
		q.Cond("ac.reason ILIKE " + q.Arg("%"+EscapeLike(f.Reason)+"%"))
	}
	if f.After > 0 {
		q.Cond("ac.id < " + q.Arg(f.After))
	}
	sql := "SELECT " + actionColumns + ", (SELECT tx.id FROM " + s + ".audit_transactions AS tx WHERE tx.action_id = ac.id ORDER BY tx.id LIMIT 1)" +
		" FROM " + s + ".audit_actions AS ac" + q.Where() + " ORDER BY ac.id DESC LIMIT " + q.Arg(f.Limit+1)
	rows, err := db.Query(ctx, sql, q.Args...)
	if err != nil {
		return nil, tlerr.Wrap(err, "list actions")
	}
	defer rows.Close()
	var out []ActionRow
	for rows.Next() {
		var r ActionRow
		if err := rows.Scan(append(r.dest(), &r.TransactionID)...); err != nil {
			return nil, tlerr.Wrap(err, "list actions")
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, tlerr.Wrap(err, "list actions")
	}
	return out, nil
}

// EscapeLike escapes the wildcards of a LIKE pattern (and its escape
// character, the backslash), so that s matches as plain text.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
