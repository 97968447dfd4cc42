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

// actionWindow is the number of action ids the first window of an
// Actions search covers; each next one is up to windowGrowth times wider.
const actionWindow = 4096

// Actions lists at most f.Limit+1 actions matching f, newest first (by
// id, the order they were recorded in), each with the transaction linked
// to it. No index serves the filters but the correlation id's, so a
// filtered listing reads windows of ids back from the newest action (or
// from f.After), each a range of the primary key index, until it has
// enough; when the budget is spent first, it returns what it found and
// the lowest id searched (searchedFrom, 0 otherwise): actions below it
// were not searched.
func (t Trail) Actions(ctx context.Context, db DB, f ActionFilter, budget time.Duration) (rows []ActionRow, searchedFrom int64, err error) {
	var hi int64
	if f.After > 0 {
		hi = f.After - 1
	} else if err := db.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM "+t.Quoted()+".audit_actions").Scan(&hi); err != nil {
		return nil, 0, tlerr.Wrap(err, "list actions")
	}
	want := f.Limit + 1
	start := time.Now()
	for w := int64(actionWindow); hi > 0; {
		lo := max(0, hi-w)
		t0 := time.Now()
		got, err := t.actionWindow(ctx, db, f, lo, hi, want-len(rows))
		if err != nil {
			return nil, 0, err
		}
		rows = append(rows, got...)
		if len(rows) >= want || lo == 0 {
			break
		}
		left := budget - time.Since(start)
		if left <= 0 {
			return rows, lo + 1, nil
		}
		w = nextWindowIDs(w, time.Since(t0), left)
		hi = lo
	}
	return rows, 0, nil
}

// nextWindowIDs sizes the window after one of w ids that took took: up
// to windowGrowth times wider, but, at the same speed, taking no more
// than half the budget left.
func nextWindowIDs(w int64, took, left time.Duration) int64 {
	grow := float64(windowGrowth)
	if took > 0 {
		grow = min(grow, float64(left)/float64(2*took))
	}
	return max(64, int64(float64(w)*max(grow, 0.5)))
}

// actionWindow lists at most limit actions matching f with ids in
// (lo, hi], newest first.
func (t Trail) actionWindow(ctx context.Context, db DB, f ActionFilter, lo, hi int64, limit int) ([]ActionRow, error) {
	q := t.NewQuery()
	s := t.Quoted()
	q.Cond("ac.id > " + q.Arg(lo) + " AND ac.id <= " + q.Arg(hi))
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
	sql := "SELECT " + actionColumns + ", (SELECT tx.id FROM " + s + ".audit_transactions AS tx WHERE tx.action_id = ac.id ORDER BY tx.id LIMIT 1)" +
		" FROM " + s + ".audit_actions AS ac" + q.Where() + " ORDER BY ac.id DESC LIMIT " + q.Arg(limit)
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
