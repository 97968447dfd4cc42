package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	threadline "github.com/threadline-go/threadline/runtime"
)

// reconciler compares the audit tables with the writers' records and
// counts every mismatch in the report.
type reconciler struct {
	ctx        context.Context
	pool       *pgxpool.Pool
	as         string // quoted audit schema
	schemaName string // schema of the soak tables
	writers    []*writer
	rep        *Report

	byRequest  map[string]*txRecord // request id → committed transaction
	rolledTags map[string]bool
	expected   map[string]int            // match key → changes still expected
	headersOf  map[string]map[int64]bool // request id → header ids of its changes
}

// reconcile compares the audit tables with the writers' records.
func reconcile(ctx context.Context, pool *pgxpool.Pool, as, schemaName string, baseChange, baseTx int64, writers []*writer, rep *Report) error {
	r := &reconciler{ctx: ctx, pool: pool, as: as, schemaName: schemaName, writers: writers, rep: rep,
		byRequest: map[string]*txRecord{}, rolledTags: map[string]bool{}, expected: map[string]int{},
		headersOf: map[string]map[int64]bool{}}
	for _, w := range writers {
		for i := range w.records {
			rec := &w.records[i]
			r.byRequest[rec.requestID] = rec
			for _, c := range rec.changes {
				r.expected[c.match(rec.tag)]++
				rep.ChangesExpected++
			}
		}
		for t := range w.rolled {
			r.rolledTags[t] = true
		}
	}
	if err := r.changes(baseChange); err != nil {
		return err
	}
	r.missingChanges()
	if err := r.headers(baseTx); err != nil {
		return err
	}
	if err := r.actions(); err != nil {
		return err
	}
	for _, t := range tables {
		if err := r.tableState(t); err != nil {
			return err
		}
	}
	return nil
}

func (r *reconciler) mismatch(counter *int, format string, args ...any) {
	*counter++
	r.rep.Mismatches++
	if len(r.rep.Samples) < maxSamples {
		r.rep.Samples = append(r.rep.Samples, fmt.Sprintf(format, args...))
	}
}

// auditChange is one audit_changes row with its header's attribution.
type auditChange struct {
	id, txID                                 int64
	c                                        change
	hasHeader                                bool
	actor, invalid, requestID, correlationID string
	err                                      error // undecodable JSON
}

// changes matches every audit_changes row of the soak tables after
// baseChange with a committed change.
func (r *reconciler) changes(baseChange int64) error {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.name
	}
	rows, err := r.pool.Query(r.ctx, `
		SELECT c.id, c.transaction_id, c.table_name, coalesce(c.table_pk::text, ''), coalesce(c.table_pk_before::text, ''),
		       c.op, coalesce(c.data_after::text, ''), coalesce(c.data_before::text, ''), coalesce(c.changed_fields, '{}'),
		       t.id IS NOT NULL, coalesce(t.actor_ref::text, ''), coalesce(t.actor_ref_invalid, ''),
		       coalesce(t.request_id, ''), coalesce(t.correlation_id, '')
		FROM `+r.as+`.audit_changes c LEFT JOIN `+r.as+`.audit_transactions t ON t.id = c.transaction_id
		WHERE c.id > $1 AND c.table_schema = $2 AND c.table_name = ANY($3)
		ORDER BY c.id`, baseChange, r.schemaName, names)
	if err != nil {
		return fmt.Errorf("soak: read audit_changes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a auditChange
		var pk, pkb, after, before string
		if err := rows.Scan(&a.id, &a.txID, &a.c.table, &pk, &pkb, &a.c.op, &after, &before, &a.c.changed,
			&a.hasHeader, &a.actor, &a.invalid, &a.requestID, &a.correlationID); err != nil {
			return fmt.Errorf("soak: read audit_changes: %w", err)
		}
		for _, p := range []struct{ in, out *string }{{&pk, &a.c.pk}, {&pkb, &a.c.pkBefore}, {&after, &a.c.after}, {&before, &a.c.before}} {
			if *p.out, a.err = canonicalJSON(*p.in); a.err != nil {
				break
			}
		}
		if len(a.c.changed) == 0 {
			a.c.changed = nil
		}
		r.rep.AuditChanges++
		r.change(a)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("soak: read audit_changes: %w", err)
	}
	return nil
}

// change matches one audit_changes row.
func (r *reconciler) change(a auditChange) {
	rep, c := r.rep, a.c
	tag := strings.TrimPrefix(a.requestID, "req-")
	key := c.match(tag)
	switch {
	case a.err != nil:
		r.mismatch(&rep.Unexpected, "audit_changes %d: undecodable JSON: %v", a.id, a.err)
		return
	case !a.hasHeader:
		r.mismatch(&rep.Misattributed, "audit_changes %d (%s %s %s): no audit_transactions row %d", a.id, c.table, c.op, c.pk, a.txID)
		return
	case r.expected[key] > 0:
		r.expected[key]--
	default:
		why := "matches no committed change"
		if r.rolledTags[tag] || r.rolledTags[tag+"-sp"] || containsRolledTag(c.after, r.rolledTags) {
			why = "from rolled-back work"
		}
		r.mismatch(&rep.Unexpected, "audit_changes %d %s: %s %s %s after=%s before=%s changed=%v (request %q)",
			a.id, why, c.table, c.op, c.pk, c.after, c.before, c.changed, a.requestID)
		return
	}
	// Matched within its own transaction (the request id is the
	// transaction's tag): check the rest of the attribution.
	rec := r.byRequest[a.requestID]
	w := r.writers[rec.writer]
	if err := checkActor(a.actor, w.actor); err != nil || a.invalid != "" || a.correlationID != rec.correlationID {
		r.mismatch(&rep.Misattributed, "audit_changes %d of %s: actor=%s invalid=%q correlation=%q (want %s, %q)",
			a.id, rec.tag, a.actor, a.invalid, a.correlationID, w.actor, rec.correlationID)
		return
	}
	if r.headersOf[a.requestID] == nil {
		r.headersOf[a.requestID] = map[int64]bool{}
	}
	r.headersOf[a.requestID][a.txID] = true
	rep.ChangesReconciled++
}

// missingChanges reports the committed changes no audit row matched.
func (r *reconciler) missingChanges() {
	var missing []string
	for k, n := range r.expected {
		for range n {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		r.mismatch(&r.rep.Missing, "missing change %s", k)
	}
}

// header is one audit_transactions row of the run with its action.
type header struct {
	id                 int64
	actor, invalid     string
	correlationID      string
	actionID           *int64
	actionCorrelation  string
	actionActor        string
	actionRequest      string
	actionName, status string
}

// headers checks one audit_transactions row per committed transaction,
// none for rolled-back ones.
func (r *reconciler) headers(baseTx int64) error {
	rows, err := r.pool.Query(r.ctx, `
		SELECT t.id, coalesce(t.actor_ref::text, ''), coalesce(t.actor_ref_invalid, ''), coalesce(t.request_id, ''),
		       coalesce(t.correlation_id, ''), t.action_id, coalesce(a.correlation_id, ''), coalesce(a.actor_ref::text, ''),
		       coalesce(a.request_id, ''), coalesce(a.name, ''), coalesce(a.status, '')
		FROM `+r.as+`.audit_transactions t LEFT JOIN `+r.as+`.audit_actions a ON a.id = t.action_id
		WHERE t.id > $1 AND (t.request_id LIKE $2 OR t.correlation_id LIKE $3 OR t.actor_ref->>'id' LIKE $4)
		ORDER BY t.id`, baseTx, "req-"+r.rep.RunID+"-%", "corr-"+r.rep.RunID+"-%", "soak-"+r.rep.RunID+"-%")
	if err != nil {
		return fmt.Errorf("soak: read audit_transactions: %w", err)
	}
	defer rows.Close()
	headers := map[string][]header{}
	for rows.Next() {
		var h header
		var requestID string
		if err := rows.Scan(&h.id, &h.actor, &h.invalid, &requestID, &h.correlationID, &h.actionID, &h.actionCorrelation,
			&h.actionActor, &h.actionRequest, &h.actionName, &h.status); err != nil {
			return fmt.Errorf("soak: read audit_transactions: %w", err)
		}
		r.rep.AuditTransactions++
		headers[requestID] = append(headers[requestID], h)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("soak: read audit_transactions: %w", err)
	}
	for requestID, hs := range headers {
		if r.byRequest[requestID] == nil {
			r.mismatch(&r.rep.HeaderMismatches, "audit_transactions %d has request id %q of no committed transaction", hs[0].id, requestID)
		}
	}
	for _, w := range r.writers {
		for i := range w.records {
			rec := &w.records[i]
			hs := headers[rec.requestID]
			if len(hs) != 1 {
				r.mismatch(&r.rep.HeaderMismatches, "transaction %s has %d audit_transactions rows, want 1", rec.tag, len(hs))
				continue
			}
			r.header(w, rec, hs[0])
		}
	}
	return nil
}

// header checks the one header of a committed transaction and its action.
func (r *reconciler) header(w *writer, rec *txRecord, h header) {
	rep := r.rep
	if err := checkActor(h.actor, w.actor); err != nil || h.invalid != "" || h.correlationID != rec.correlationID {
		r.mismatch(&rep.HeaderMismatches, "header %d of %s: actor=%s invalid=%q correlation=%q", h.id, rec.tag, h.actor, h.invalid, h.correlationID)
	}
	if ids := r.headersOf[rec.requestID]; len(ids) > 1 || (len(ids) == 1 && !ids[h.id]) {
		r.mismatch(&rep.HeaderMismatches, "changes of %s point at headers %v, want only %d", rec.tag, slices.Sorted(maps.Keys(ids)), h.id)
	}
	switch {
	case rec.action && h.actionID == nil:
		r.mismatch(&rep.ActionMismatches, "transaction %s recorded an action, its header %d links none", rec.tag, h.id)
	case !rec.action && h.actionID != nil:
		r.mismatch(&rep.ActionMismatches, "transaction %s recorded no action, its header %d links %d", rec.tag, h.id, *h.actionID)
	case rec.action:
		if err := checkActor(h.actionActor, w.actor); err != nil || h.actionCorrelation != rec.correlationID ||
			h.actionRequest != rec.requestID || h.actionName != "soak.write" || h.status != threadline.ActionOK {
			r.mismatch(&rep.ActionMismatches, "action %d of %s: actor=%s correlation=%q request=%q name=%q status=%q",
				*h.actionID, rec.tag, h.actionActor, h.actionCorrelation, h.actionRequest, h.actionName, h.status)
		}
	}
}

// actions checks that the run's audit_actions rows are exactly the
// committed actions.
func (r *reconciler) actions() error {
	var actions, strays int
	err := r.pool.QueryRow(r.ctx, `
		SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM `+r.as+`.audit_transactions t WHERE t.action_id = a.id))
		FROM `+r.as+`.audit_actions a WHERE a.correlation_id LIKE $1 OR a.actor_ref->>'id' LIKE $2`,
		"corr-"+r.rep.RunID+"-%", "soak-"+r.rep.RunID+"-%").Scan(&actions, &strays)
	if err != nil {
		return fmt.Errorf("soak: read audit_actions: %w", err)
	}
	r.rep.AuditActions = actions
	if actions != r.rep.Actions {
		r.mismatch(&r.rep.ActionMismatches, "%d audit_actions rows of the run, %d actions committed", actions, r.rep.Actions)
	}
	if strays != 0 {
		r.mismatch(&r.rep.ActionMismatches, "%d audit_actions rows of the run are linked from no transaction", strays)
	}
	return nil
}

// tableState checks that the final contents of t equal the writers'
// models.
func (r *reconciler) tableState(t *table) error {
	want := map[string]string{}
	for _, w := range r.writers {
		for k, row := range w.committed[t] {
			want[k] = canonical(row)
		}
	}
	got, err := r.tableRows(t)
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			r.mismatch(&r.rep.StateMismatches, "%s row %s is %s, model says %s", t.name, k, got[k], want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			r.mismatch(&r.rep.StateMismatches, "%s row %s = %s is not in the model", t.name, k, got[k])
		}
	}
	return nil
}

// tableRows reads the run's rows of t as canonical JSON, by key.
func (r *reconciler) tableRows(t *table) (map[string]string, error) {
	rows, err := r.pool.Query(r.ctx, "SELECT to_jsonb(t)::text FROM "+qualified(r.schemaName, t)+" AS t WHERE tag LIKE $1",
		r.rep.RunID+"-%")
	if err != nil {
		return nil, fmt.Errorf("soak: read %s: %w", t.name, err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("soak: read %s: %w", t.name, err)
		}
		c, err := canonicalJSON(s)
		if err != nil {
			return nil, err
		}
		var row map[string]any
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		if err := d.Decode(&row); err != nil {
			return nil, err
		}
		k := make([]string, len(t.key))
		for i, col := range t.key {
			k[i] = fmt.Sprint(row[col])
		}
		got[strings.Join(k, ",")] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("soak: read %s: %w", t.name, err)
	}
	return got, nil
}
