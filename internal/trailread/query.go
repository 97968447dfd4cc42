package trailread

import (
	"strconv"
	"strings"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
)

// The listing queries. Every list is bounded (a limit) or streamed page
// by page; all of them order changes newest first, by captured_at and
// then id, and continue with a keyset Cursor.

// Query accumulates the WHERE clause of a listing and its parameters.
type Query struct {
	t     Trail
	where []string
	// Args are the query's parameters, in placeholder order.
	Args []any
	// windowed reads each change's header by its primary key (see
	// Trail.changesFromEach).
	windowed bool
	// header is set when a condition reads the change's header (t).
	header bool
}

// NewQuery starts a listing of the trail's changes.
func (t Trail) NewQuery() *Query { return &Query{t: t} }

// Arg adds a parameter and returns its placeholder.
func (q *Query) Arg(v any) string {
	q.Args = append(q.Args, v)
	return "$" + strconv.Itoa(len(q.Args))
}

// Cond adds a condition on the changes (c) or their header (t).
func (q *Query) Cond(s string) { q.where = append(q.where, s) }

// Filter adds the conditions of f.
func (q *Query) Filter(f Filter) {
	if f.Table != nil {
		q.Cond("c.table_schema = " + q.Arg(f.Table.Schema) + " AND c.table_name = " + q.Arg(f.Table.Name))
	}
	q.windowed = f.windowed
	q.header = f.Actor != "" || f.CorrelationID != "" || f.RequestID != ""
	if f.Actor != "" {
		q.Cond("t.actor_ref @> " + q.Arg(f.Actor) + "::jsonb")
	}
	if f.Op != "" {
		q.Cond("c.op = " + q.Arg(f.Op))
	}
	if f.Column != "" {
		q.Cond("c.changed_fields @> ARRAY[" + q.Arg(f.Column) + "::text]")
	}
	if !f.From.IsZero() {
		q.Cond("c.captured_at >= " + q.Arg(ceilMicro(f.From)))
	}
	if !f.To.IsZero() {
		q.Cond("c.captured_at <= " + q.Arg(f.To.Truncate(time.Microsecond)))
	}
	if f.CorrelationID != "" {
		q.Cond(q.correlation(f.CorrelationID))
	}
	if f.RequestID != "" {
		q.Cond("t.request_id = " + q.Arg(f.RequestID))
	}
	q.After(f.After)
}

// correlation renders the condition "the change's transaction carries
// correlation id id, as its own setting (audit_transactions.correlation_id)
// or through its action (audit_actions.correlation_id)". A time window
// reads each change's header anyway (changesFromEach), so it tests the
// header; any other listing finds the matching transactions first (the
// actions by their correlation index, then their transactions by
// audit_transactions_action_id_idx; no index serves the transaction's own
// setting, so that part reads audit_transactions once) and their changes
// by audit_changes_transaction_id_idx.
func (q *Query) correlation(id string) string {
	s, p := q.t.Quoted(), q.Arg(id)
	actions := "SELECT ac.id FROM " + s + ".audit_actions AS ac WHERE ac.correlation_id = " + p
	if q.windowed {
		return "(t.correlation_id = " + p + " OR t.action_id IN (" + actions + "))"
	}
	return "c.transaction_id IN (SELECT ct.id FROM " + s + ".audit_transactions AS ct WHERE ct.correlation_id = " + p +
		" UNION SELECT ct.id FROM " + s + ".audit_transactions AS ct WHERE ct.action_id IN (" + actions + "))"
}

// After adds the keyset condition of a cursor (none for nil).
func (q *Query) After(c *Cursor) {
	if c != nil {
		q.Cond("(c.captured_at, c.id) < (" + q.Arg(c.CapturedAt) + ", " + q.Arg(c.ID) + ")")
	}
}

// Row adds the conditions selecting every change of one row: the changes
// whose key (table_pk) is key, and key-changing updates whose old key
// (table_pk_before) is key (see RowMatch).
func (q *Query) Row(t contract.QualifiedName, key string) {
	s, n, k := q.Arg(t.Schema), q.Arg(t.Name), q.Arg(key)
	q.Cond("c.table_schema = " + s + " AND " + RowMatch("c", n, k))
}

// RowMatch renders the condition "change c belongs to the row with key k
// in table n" in the form the row indexes serve. The two ORed conditions
// match the indexes audit_changes_row_idx and
// audit_changes_row_before_idx: indexes of a 64-bit hash of (table_name,
// key) rather than of the jsonb itself, smaller and cheaper to maintain
// on every captured row. The first is a btree (a hash index keeps one
// key's entries in one overflow chain that every insert walks, so a hot
// row's writes slowed down as its history grew); the second a hash index,
// which stores no NULL, so rows that did not change their key
// (table_pk_before NULL) cost it nothing.
func RowMatch(c, n, k string) string {
	h := "jsonb_hash_extended(" + k + "::jsonb, hashtext(" + n + "::text))"
	return "((jsonb_hash_extended(" + c + ".table_pk, hashtext(" + c + ".table_name)) = " + h +
		" AND " + c + ".table_name = " + n + " AND " + c + ".table_pk = " + k + "::jsonb)" +
		" OR (jsonb_hash_extended(" + c + ".table_pk_before, hashtext(" + c + ".table_name)) = " + h +
		" AND " + c + ".table_name = " + n + " AND " + c + ".table_pk_before = " + k + "::jsonb))"
}

// NewestFirst orders a listing.
const NewestFirst = " ORDER BY c.captured_at DESC, c.id DESC"

// SQL renders the listing query with a limit.
func (q *Query) SQL(limit int) string {
	if q.windowed && !q.header {
		return q.pageThenHeaders(limit)
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(ChangeColumns)
	if q.windowed {
		b.WriteString(q.t.changesFromEach(""))
	} else {
		b.WriteString(q.t.ChangesFrom())
	}
	b.WriteString(q.Where())
	b.WriteString(NewestFirst + " LIMIT ")
	b.WriteString(q.Arg(limit))
	return b.String()
}

// pageThenHeaders renders a window's listing whose conditions are all on
// the changes: the page is cut first, then only its changes' headers are
// read, so a wide window costs a sort of its changes, not a header lookup
// for each of them.
func (q *Query) pageThenHeaders(limit int) string {
	page := "(SELECT * FROM " + q.t.Quoted() + ".audit_changes AS c" + q.Where() +
		NewestFirst + " LIMIT " + q.Arg(limit) + ")"
	return "SELECT " + ChangeColumns + q.t.changesFromEach(page) + NewestFirst
}

// Where renders the conditions as a WHERE clause, "" when there are none.
func (q *Query) Where() string {
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
