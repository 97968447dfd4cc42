// Package trailread is the SQL read engine of the audit trail: the
// listing queries (conditions of a filter, a row, a transaction; keyset
// cursors; newest first), the reading of their rows, the budgeted search
// of time windows that serves a timeline page without sorting the whole
// trail, and the reads only the viewer makes (recent activity, whether a
// table exists).
//
// The runtime (package threadline), runtime/threadlineops and
// runtime/threadlineui build on it; it is no API of its own. It knows the
// audit tables, not the runtime's types: a Reader is told how to turn the
// columns of one change (Row) into the caller's change type, so the
// runtime's Change stays the one type applications see.
//
// Every value is passed as a query parameter; the audit schema is quoted.
package trailread

import (
	"bytes"
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/tlerr"
)

// DB is what the reads need from a database handle: *pgxpool.Pool,
// *pgx.Conn, pgx.Tx and the runtime's DBTX satisfy it.
type DB interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Trail names the audit schema read: "" is contract.DefaultAuditSchema.
type Trail struct {
	// Schema is the audit schema, unquoted.
	Schema string
}

// Quoted returns the quoted audit schema name, for SQL.
func (t Trail) Quoted() string {
	s := t.Schema
	if s == "" {
		s = contract.DefaultAuditSchema
	}
	return contract.QuoteIdent(s)
}

// Cursor is a position in the newest-first order of changes: the
// (captured_at, id) of the last change listed. Its fields are those of
// the runtime's Cursor, so each converts to the other.
type Cursor struct {
	CapturedAt time.Time
	ID         int64
}

// Filter is a validated filter, ready to be turned into SQL (the runtime's
// Filter, normalized).
type Filter struct {
	// Table restricts to one table; nil for every table.
	Table *contract.QualifiedName
	// Actor is the canonical JSON of an actor to match by containment;
	// "" for any.
	Actor string
	// Op is one captured operation; "" for any.
	Op string
	// From and To bound captured_at, inclusive; zero leaves a side open.
	From, To time.Time
	// CorrelationID and RequestID, trimmed and valid; "" for any.
	CorrelationID, RequestID string
	// Column is a column the change's changed_fields must hold; "" for
	// any.
	Column string
	// Limit is the page size, already clamped.
	Limit int
	// After continues a listing strictly before the cursor; nil for none.
	After *Cursor

	// windowed marks the search's time-window queries, whose cost must
	// follow the window (see Trail.changesFromEach).
	windowed bool
}

// Page is one page of a listing, newest first: the runtime's Page over
// any change type.
type Page[C any] struct {
	// Changes holds at most the filter's limit of changes.
	Changes []C
	// Next continues the listing; nil on the last page.
	Next *Cursor
	// SearchedFrom is where a search that spent its budget stopped (zero
	// otherwise): changes captured before it were not searched.
	SearchedFrom time.Time
}

// ChangeColumns are the columns Row receives, in order; c is
// audit_changes, t the joined audit_transactions.
const ChangeColumns = `c.id, c.transaction_id, c.table_schema, c.table_name, c.table_pk, c.table_pk_before,
	c.op, c.data_after, c.data_before, c.changed_fields, c.changed_from, c.captured_at,
	t.actor_ref, t.actor_ref_invalid, t.request_id, t.correlation_id, t.action_id`

// ChangesFrom is the FROM clause matching ChangeColumns.
func (t Trail) ChangesFrom() string {
	s := t.Quoted()
	return " FROM " + s + ".audit_changes AS c LEFT JOIN " + s + ".audit_transactions AS t ON t.id = c.transaction_id"
}

// changesFromEach is ChangesFrom with each change's header read by its
// primary key (a LATERAL subquery that cannot be flattened): for the
// search's windows, whose cost must follow the window's size. As a plain
// join, the planner serves an actor filter from every transaction of the
// actor (the GIN index), or hashes a sequential scan of all headers,
// whatever the window. changes is the source of the changes:
// audit_changes when empty, else a subquery of it.
func (t Trail) changesFromEach(changes string) string {
	s := t.Quoted()
	if changes == "" {
		changes = s + ".audit_changes"
	}
	return " FROM " + changes + " AS c LEFT JOIN LATERAL (SELECT * FROM " + s +
		".audit_transactions AS h WHERE h.id = c.transaction_id OFFSET 0) AS t ON true"
}

// Row receives one row of ChangeColumns, as stored: JSON columns are nil
// when SQL NULL, text columns of the header nil when NULL.
type Row struct {
	ID, TransactionID                      int64
	Schema, Table                          string
	PK, PKBefore                           []byte
	Op                                     string
	After, Before                          []byte
	ChangedFields                          []string
	ChangedFrom                            []byte
	CapturedAt                             time.Time
	Actor                                  []byte
	ActorInvalid, RequestID, CorrelationID *string
	ActionID                               *int64
}

// dest returns the scan destinations of ChangeColumns, in order.
func (r *Row) dest() []any {
	return []any{&r.ID, &r.TransactionID, &r.Schema, &r.Table, &r.PK, &r.PKBefore,
		&r.Op, &r.After, &r.Before, &r.ChangedFields, &r.ChangedFrom, &r.CapturedAt,
		&r.Actor, &r.ActorInvalid, &r.RequestID, &r.CorrelationID, &r.ActionID}
}

// Reader reads changes as values of type C.
type Reader[C any] struct {
	Trail
	// Decode turns one row into a C. Consecutive rows mostly share a
	// transaction, hence an actor: prev is the value decoded from the
	// previous row when that row's actor columns (actor_ref and
	// actor_ref_invalid) were the same, else nil, so the actor need not
	// be decoded again.
	Decode func(r *Row, prev *C) C
	// Cursor returns the position of c.
	Cursor func(c C) Cursor
}

// Scanner reads the rows of one query of ChangeColumns (possibly followed
// by columns of the caller's) into Cs.
type Scanner[C any] struct {
	row         Row
	decode      func(*Row, *C) C
	prev        C
	prevActor   []byte
	prevInvalid string
	hasPrev     bool
}

// Scanner returns a Scanner for the rows of one query.
func (r Reader[C]) Scanner() *Scanner[C] { return &Scanner[C]{decode: r.Decode} }

// Dest returns the scan destinations of ChangeColumns, in order: one set
// for every row (building it per row costs allocations). Append the
// destinations of further columns to it.
func (s *Scanner[C]) Dest() []any { return s.row.dest() }

// Reset clears the row before the next Scan into Dest.
func (s *Scanner[C]) Reset() { s.row = Row{} }

// Value decodes the row scanned last.
func (s *Scanner[C]) Value() C {
	var prev *C
	invalid := Text(s.row.ActorInvalid)
	if s.hasPrev && bytes.Equal(s.prevActor, s.row.Actor) && (s.row.Actor == nil) == (s.prevActor == nil) &&
		s.prevInvalid == invalid {
		prev = &s.prev
	}
	v := s.decode(&s.row, prev)
	if prev == nil {
		s.prevActor = append(s.prevActor[:0], s.row.Actor...)
		if s.row.Actor == nil {
			s.prevActor = nil
		}
		s.prevInvalid = invalid
	}
	s.prev, s.hasPrev = v, true
	return v
}

// Text returns the text of a nullable column, "" for NULL.
func Text(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Collect reads every row of rows as a C and closes rows; capacity sizes
// the result.
func (r Reader[C]) Collect(rows pgx.Rows, capacity int) ([]C, error) {
	defer rows.Close()
	out := make([]C, 0, capacity)
	s := r.Scanner()
	dest := s.Dest()
	for rows.Next() {
		s.Reset()
		if err := rows.Scan(dest...); err != nil {
			return nil, tlerr.Wrap(err, "read change")
		}
		out = append(out, s.Value())
	}
	if err := rows.Err(); err != nil {
		return nil, tlerr.Wrap(err, "read changes")
	}
	return out, nil
}

// Run runs the listing q with at most limit changes, newest first; what
// names the read in an error.
func (r Reader[C]) Run(ctx context.Context, db DB, q *Query, limit int, what string) ([]C, error) {
	rows, err := db.Query(ctx, q.SQL(limit), q.Args...)
	if err != nil {
		return nil, tlerr.Wrap(err, "%s", what)
	}
	return r.Collect(rows, min(limit, 256))
}

// List runs one listing query for f: at most limit changes, newest first.
func (r Reader[C]) List(ctx context.Context, db DB, f Filter, limit int) ([]C, error) {
	q := r.NewQuery()
	q.Filter(f)
	return r.Run(ctx, db, q, limit, "list changes")
}

// Page lists one page of size changes for f, with the cursor of the next
// page when there are more.
func (r Reader[C]) Page(ctx context.Context, db DB, f Filter, size int) (Page[C], error) {
	changes, err := r.List(ctx, db, f, size+1)
	if err != nil {
		return Page[C]{}, err
	}
	p := Page[C]{Changes: changes}
	if len(changes) > size {
		p.Changes = changes[:size:size]
		c := r.Cursor(p.Changes[size-1])
		p.Next = &c
	}
	return p, nil
}
