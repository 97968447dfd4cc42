// Package soak is a concurrency soak of Threadline's capture: many writers
// run attributed transactions (threadline.InTx) against three audited
// tables at once — inserts, updates, deletes, single-row and multi-row
// statements, key changes, savepoints released and rolled back, whole
// transactions rolled back on purpose, RecordAction — and each writer
// records on the client side exactly what it committed. Afterwards Run
// reconciles the audit tables with those records, exactly:
//
//   - every committed row change is in audit_changes once (table, key, key
//     before, op, row image, changed fields), and nothing else of the run is;
//   - nothing of a rolled-back transaction or rolled-back savepoint is
//     (no audit_changes, audit_transactions or audit_actions row);
//   - every change's transaction header carries its own writer's actor and
//     the transaction's own correlation and request ids, one header per
//     transaction;
//   - every RecordAction is linked from its transaction's header and
//     carries the same actor and correlation id;
//   - the tables' final contents equal the writers' models.
//
// Writers own disjoint key ranges, so the workload has no conflicts of its
// own: any deadlock, serialization failure or other error is unexpected and
// counted in Report.Errors.
//
// The workload needs the tables of DDL, audited as Tables says, in a
// database where nothing else writes to them during the run. Run only
// reconciles audit rows written after it started, so it can run several
// times on the same database.
//
// Like every package under harness/, it is this repository's own test and
// benchmark tooling, not part of Threadline's API: it may change or go at
// any commit (see the compatibility policy in README.md).
package soak

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
)

// DDL creates the three tables of the workload (in the default schema).
// soak_memberships has a composite primary key whose column order differs
// from the table's.
const DDL = `
CREATE TABLE soak_accounts (
    id bigint PRIMARY KEY,
    owner text NOT NULL,
    balance bigint NOT NULL,
    v integer NOT NULL,
    tag text NOT NULL
);
CREATE TABLE soak_items (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL,
    name text NOT NULL,
    qty integer NOT NULL,
    v integer NOT NULL,
    tag text NOT NULL
);
CREATE TABLE soak_memberships (
    role text NOT NULL,
    user_id bigint NOT NULL,
    org_id integer NOT NULL,
    v integer NOT NULL,
    tag text NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
`

// Tables is the "tables:" section of threadline.yaml (indented by two
// spaces) that audits the workload's tables.
const Tables = "  soak_accounts: {}\n  soak_items: {}\n  soak_memberships: {}\n"

// Options configures Run. The zero value runs 32 writers for 3 seconds.
type Options struct {
	// Writers is the number of concurrent writers (default 32). Each holds
	// at most one connection at a time: give the pool at least as many.
	Writers int
	// Duration bounds the time writers start new transactions (default
	// 3s). Reconciliation comes after it.
	Duration time.Duration
	// MaxTransactions stops each writer after that many transactions
	// (0: no limit, only Duration).
	MaxTransactions int
	// Seed makes the random choices of the writers reproducible (the
	// interleaving is not).
	Seed uint64
	// AuditSchema is audit_schema (default "threadline").
	AuditSchema string
	// TableSchema is the schema holding the tables (default "public").
	TableSchema string
	// MaxRowsPerTable bounds each writer's live rows per table (default
	// 200): beyond it writers prefer deletes.
	MaxRowsPerTable int
}

// Report is the outcome of a run. A clean run has Errors == 0 and
// Mismatches == 0.
type Report struct {
	RunID   string
	Writers int
	// PoolMaxConns is the pool's MaxConns.
	PoolMaxConns int32
	Elapsed      time.Duration

	// Transactions started, and how they ended.
	Transactions int
	Committed    int
	RolledBack   int
	// RepeatableRead counts committed transactions run at REPEATABLE READ.
	RepeatableRead int
	// Savepoints (nested InTx) released and rolled back on purpose.
	SavepointsReleased   int
	SavepointsRolledBack int
	// Statements executed in committed work, of which multi-row ones.
	Statements     int
	BulkStatements int
	// Actions recorded in committed transactions.
	Actions int

	// ChangesExpected is the number of row changes the writers committed;
	// ChangesReconciled of them were found in audit_changes exactly once
	// with the right attribution.
	ChangesExpected   int
	ChangesReconciled int
	// DiscardedWrites counts row changes made in rolled-back transactions
	// or savepoints (none of which may be in the audit tables).
	DiscardedWrites int
	// AuditChanges and AuditTransactions are the audit rows of the run.
	AuditChanges      int
	AuditTransactions int
	AuditActions      int

	// Mismatches counts every discrepancy found by reconciliation:
	// Missing + Unexpected + Misattributed + HeaderMismatches +
	// ActionMismatches + StateMismatches.
	Mismatches       int
	Missing          int // committed changes not in audit_changes
	Unexpected       int // audit rows matching no committed change (rolled-back work, duplicates, wrong images)
	Misattributed    int // changes whose header has the wrong actor, correlation or request id, or none
	HeaderMismatches int // transactions with zero or several headers, headers of rolled-back or unknown transactions
	ActionMismatches int // actions missing, unlinked, misattributed or from rolled-back transactions
	StateMismatches  int // table rows that differ from the writers' models
	// Samples describes the first discrepancies.
	Samples []string

	// Errors counts unexpected errors from the workload (deadlocks,
	// serialization failures, anything but the deliberate rollbacks);
	// ErrorSamples holds the first ones.
	Errors       int
	ErrorSamples []string
}

// String is a one-paragraph summary.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak %s: %d writers (pool %d conns), %s\n", r.RunID, r.Writers, r.PoolMaxConns, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "  transactions: %d started, %d committed (%d repeatable read), %d rolled back on purpose\n",
		r.Transactions, r.Committed, r.RepeatableRead, r.RolledBack)
	fmt.Fprintf(&b, "  savepoints: %d released, %d rolled back; statements committed: %d (%d multi-row); actions: %d\n",
		r.SavepointsReleased, r.SavepointsRolledBack, r.Statements, r.BulkStatements, r.Actions)
	fmt.Fprintf(&b, "  changes: %d committed, %d reconciled, %d discarded by rollbacks; audit rows: %d changes, %d transactions, %d actions\n",
		r.ChangesExpected, r.ChangesReconciled, r.DiscardedWrites, r.AuditChanges, r.AuditTransactions, r.AuditActions)
	fmt.Fprintf(&b, "  mismatches: %d (missing %d, unexpected %d, misattributed %d, headers %d, actions %d, state %d); errors: %d",
		r.Mismatches, r.Missing, r.Unexpected, r.Misattributed, r.HeaderMismatches, r.ActionMismatches, r.StateMismatches, r.Errors)
	for _, s := range r.Samples {
		b.WriteString("\n  mismatch: " + s)
	}
	for _, s := range r.ErrorSamples {
		b.WriteString("\n  error: " + s)
	}
	return b.String()
}

const maxSamples = 20

// table describes one workload table.
type table struct {
	name string
	key  []string // primary key, in key order
	cols []string // every column
}

var (
	accounts    = &table{name: "soak_accounts", key: []string{"id"}, cols: []string{"id", "owner", "balance", "v", "tag"}}
	items       = &table{name: "soak_items", key: []string{"id"}, cols: []string{"id", "account_id", "name", "qty", "v", "tag"}}
	memberships = &table{name: "soak_memberships", key: []string{"org_id", "user_id"}, cols: []string{"role", "user_id", "org_id", "v", "tag"}}
	tables      = []*table{accounts, items, memberships}
)

// row is a row image: int64 or string values by column.
type row map[string]any

func (t *table) keyOf(r row) string {
	parts := make([]string, len(t.key))
	for i, k := range t.key {
		parts[i] = fmt.Sprint(r[k])
	}
	return strings.Join(parts, ",")
}

func (t *table) pkJSON(r row) string {
	m := make(map[string]any, len(t.key))
	for _, k := range t.key {
		m[k] = r[k]
	}
	return canonical(m)
}

// canonical encodes a JSON object with sorted keys.
func canonical(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // ints and strings only
	}
	return string(b)
}

// canonicalJSON re-encodes JSON text (from jsonb) with sorted keys and
// numbers kept exactly; "" stays "".
func canonicalJSON(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// change is one row change a writer expects in audit_changes.
type change struct {
	table    string
	pk       string
	pkBefore string
	op       string
	after    string
	before   string
	changed  []string
}

// match is the reconciliation key of a change within transaction tag.
func (c change) match(tag string) string {
	return strings.Join([]string{tag, c.table, c.pk, c.pkBefore, c.op, c.after, c.before, strings.Join(c.changed, ",")}, "|")
}

// txRecord is what a writer knows about one committed transaction.
type txRecord struct {
	writer        int
	tag           string
	correlationID string
	requestID     string
	changes       []change
	action        bool
}

// state is a writer's model of its rows, by table and key.
type state map[*table]map[string]row

func (s state) clone() state {
	out := make(state, len(s))
	for t, rows := range s {
		m := make(map[string]row, len(rows))
		for k, r := range rows {
			m[k] = maps.Clone(r)
		}
		out[t] = m
	}
	return out
}

var (
	errRollback          = errors.New("soak: deliberate rollback")
	errSavepointRollback = errors.New("soak: deliberate savepoint rollback")
)

// writer is one concurrent client.
type writer struct {
	id      int
	run     string
	actor   threadline.ActorRef
	rng     *rand.Rand
	base    int64 // first key of the writer's range
	next    int64 // next unused key offset
	org     int64
	maxRows int
	audit   threadline.Audit

	committed state
	records   []txRecord
	rolled    map[string]bool // tags of rolled-back transactions and savepoints

	transactions, committedN, rolledBack, rr int
	spReleased, spRolledBack                 int
	statements, bulk, actions, discarded     int
	errs                                     []string
}

// work is the in-flight state of one transaction (or savepoint).
type work struct {
	st      state
	tag     string
	changes []change
	stmts   int
	bulk    int
}

const keyRange = 1_000_000

// Run runs the workload on pool and reconciles the audit tables. It
// returns an error only when it cannot run or read the audit tables; the
// workload's own failures are in the report.
func Run(ctx context.Context, pool *pgxpool.Pool, opts Options) (Report, error) {
	opts = opts.withDefaults()
	rep := Report{Writers: opts.Writers, PoolMaxConns: pool.Config().MaxConns}
	var id [4]byte
	_, _ = crand.Read(id[:])
	rep.RunID = "r" + hex.EncodeToString(id[:])
	as := pgx.Identifier{opts.AuditSchema}.Sanitize()
	b, err := readBaselines(ctx, pool, opts.TableSchema, as)
	if err != nil {
		return rep, err
	}
	writers := newWriters(opts, rep.RunID, b)
	start := time.Now()
	runWriters(ctx, pool, opts, writers, start.Add(opts.Duration))
	rep.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	rep.tally(writers)
	if err := reconcile(ctx, pool, as, opts.TableSchema, b.change, b.tx, writers, &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// withDefaults fills the options left at zero.
func (opts Options) withDefaults() Options {
	if opts.Writers <= 0 {
		opts.Writers = 32
	}
	if opts.Duration <= 0 {
		opts.Duration = 3 * time.Second
	}
	if opts.AuditSchema == "" {
		opts.AuditSchema = contract.DefaultAuditSchema
	}
	if opts.TableSchema == "" {
		opts.TableSchema = "public"
	}
	if opts.MaxRowsPerTable <= 0 {
		opts.MaxRowsPerTable = 200
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	return opts
}

// baselines are where a run starts: the first key of the writers' ranges
// (above every existing key), the organisation ids in use, and the audit
// rows already there (the run reads those after them).
type baselines struct {
	key, maxOrg, change, tx int64
}

func readBaselines(ctx context.Context, pool *pgxpool.Pool, tableSchema, as string) (baselines, error) {
	var b baselines
	var maxKey int64
	err := pool.QueryRow(ctx, fmt.Sprintf(`SELECT greatest(
			(SELECT coalesce(max(id), 0) FROM %[1]s),
			(SELECT coalesce(max(id), 0) FROM %[2]s),
			(SELECT coalesce(max(user_id), 0) FROM %[3]s)),
		(SELECT coalesce(max(id), 0) FROM %[4]s.audit_changes),
		(SELECT coalesce(max(id), 0) FROM %[4]s.audit_transactions)`,
		qualified(tableSchema, accounts), qualified(tableSchema, items),
		qualified(tableSchema, memberships), as)).Scan(&maxKey, &b.change, &b.tx)
	if err != nil {
		return b, fmt.Errorf("soak: read baselines: %w", err)
	}
	b.key = (maxKey/keyRange + 1) * keyRange
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(org_id), 0) FROM `+qualified(tableSchema, memberships)).Scan(&b.maxOrg); err != nil {
		return b, fmt.Errorf("soak: read baselines: %w", err)
	}
	return b, nil
}

// newWriters creates the run's writers, each with its own key range,
// organisation, actor and random stream.
func newWriters(opts Options, runID string, b baselines) []*writer {
	a := threadline.Audit{Schema: opts.AuditSchema}
	base, maxOrg := b.key, b.maxOrg
	writers := make([]*writer, opts.Writers)
	for i := range writers {
		w := &writer{
			id:      i,
			run:     runID,
			actor:   threadline.User(fmt.Sprintf("soak-%s-w%02d", runID, i)),
			rng:     rand.New(rand.NewPCG(opts.Seed, uint64(i)+1)),
			base:    base + int64(i)*keyRange,
			org:     maxOrg + 1 + int64(i),
			maxRows: opts.MaxRowsPerTable,
			audit:   a,
			rolled:  map[string]bool{},
		}
		w.committed = state{accounts: {}, items: {}, memberships: {}}
		writers[i] = w
	}
	return writers
}

// runWriters runs every writer concurrently until the deadline.
func runWriters(ctx context.Context, pool *pgxpool.Pool, opts Options, writers []*writer, deadline time.Time) {
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for _, w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			w.loop(ctx, pool, opts.TableSchema, deadline, opts.MaxTransactions)
		}()
	}
	close(ready)
	wg.Wait()
}

// tally adds up the writers' counts.
func (rep *Report) tally(writers []*writer) {
	for _, w := range writers {
		rep.Transactions += w.transactions
		rep.Committed += w.committedN
		rep.RolledBack += w.rolledBack
		rep.RepeatableRead += w.rr
		rep.SavepointsReleased += w.spReleased
		rep.SavepointsRolledBack += w.spRolledBack
		rep.Statements += w.statements
		rep.BulkStatements += w.bulk
		rep.Actions += w.actions
		rep.DiscardedWrites += w.discarded
		rep.Errors += len(w.errs)
		for _, e := range w.errs {
			if len(rep.ErrorSamples) < maxSamples {
				rep.ErrorSamples = append(rep.ErrorSamples, e)
			}
		}
	}
}

func qualified(schemaName string, t *table) string {
	return pgx.Identifier{schemaName, t.name}.Sanitize()
}

func (w *writer) fail(format string, args ...any) {
	w.errs = append(w.errs, fmt.Sprintf("writer %d: ", w.id)+fmt.Sprintf(format, args...))
}

// loop runs transactions until the deadline. An unexpected error stops the
// writer: the outcome of that transaction is uncertain.
func (w *writer) loop(ctx context.Context, pool *pgxpool.Pool, schemaName string, deadline time.Time, maxTx int) {
	for n := 0; time.Now().Before(deadline) && (maxTx == 0 || n < maxTx); n++ {
		if ctx.Err() != nil {
			return
		}
		if !w.transaction(ctx, pool, schemaName, n) {
			return
		}
	}
}

// transaction runs one attributed transaction; false after an unexpected
// error.
//
// It runs a little over 80 lines on purpose: it is one randomised
// transaction told in order (options, writes, savepoint, action, commit
// or rollback, bookkeeping), and its parts share the transaction's state.
func (w *writer) transaction(ctx context.Context, pool *pgxpool.Pool, schemaName string, n int) bool {
	w.transactions++
	tag := fmt.Sprintf("%s-w%02d-t%06d", w.run, w.id, n)
	rec := txRecord{writer: w.id, tag: tag, correlationID: "corr-" + tag, requestID: "req-" + tag}
	rollback := w.rng.IntN(10) == 0
	withSavepoint := w.rng.IntN(4) == 0
	action := w.rng.IntN(3) == 0
	actionFirst := w.rng.IntN(2) == 0
	opts := threadline.TxOptions{Actor: w.actor, CorrelationID: rec.correlationID, RequestID: rec.requestID}
	rr := w.rng.IntN(10) == 0
	if rr {
		opts.Tx = pgx.TxOptions{IsoLevel: pgx.RepeatableRead}
	}
	cur := &work{st: w.committed.clone(), tag: tag}
	var spOK, spRB int
	err := threadline.InTx(ctx, pool, opts, func(tx pgx.Tx) error {
		if action && actionFirst {
			if err := w.recordAction(ctx, tx, rec); err != nil {
				return err
			}
		}
		// At least one write outside any savepoint.
		for range 1 + w.rng.IntN(4) {
			if err := w.op(ctx, tx, schemaName, cur); err != nil {
				return err
			}
		}
		if withSavepoint {
			released, err := w.savepoint(ctx, tx, schemaName, cur)
			if err != nil {
				return err
			}
			if released {
				spOK++
			} else {
				spRB++
			}
			// Write again after the savepoint, sometimes.
			if w.rng.IntN(2) == 0 {
				if err := w.op(ctx, tx, schemaName, cur); err != nil {
					return err
				}
			}
		}
		if action && !actionFirst {
			if err := w.recordAction(ctx, tx, rec); err != nil {
				return err
			}
		}
		if rollback {
			return errRollback
		}
		return nil
	})
	switch {
	case rollback && errors.Is(err, errRollback):
		w.rolledBack++
		w.rolled[tag] = true
		w.discarded += len(cur.changes)
		return true
	case err != nil:
		w.fail("transaction %s: %v", tag, err)
		return false
	}
	w.committedN++
	if rr {
		w.rr++
	}
	w.spReleased += spOK
	w.spRolledBack += spRB
	w.statements += cur.stmts
	w.bulk += cur.bulk
	if action {
		w.actions++
	}
	rec.changes = cur.changes
	rec.action = action
	w.records = append(w.records, rec)
	w.committed = cur.st
	return true
}

// savepoint runs a few writes in a savepoint (a nested InTx) of tx, and
// rolls it back half the time. A released savepoint's work joins cur;
// released reports which happened.
func (w *writer) savepoint(ctx context.Context, tx pgx.Tx, schemaName string, cur *work) (released bool, err error) {
	rbSP := w.rng.IntN(2) == 0
	sp := &work{st: cur.st.clone(), tag: cur.tag}
	if rbSP {
		sp.tag = cur.tag + "-sp"
	}
	err = threadline.InTx(ctx, tx, threadline.TxOptions{}, func(stx pgx.Tx) error {
		for range 1 + w.rng.IntN(3) {
			if err := w.op(ctx, stx, schemaName, sp); err != nil {
				return err
			}
		}
		if rbSP {
			return errSavepointRollback
		}
		return nil
	})
	switch {
	case rbSP && errors.Is(err, errSavepointRollback):
		w.rolled[sp.tag] = true
		w.discarded += len(sp.changes)
		return false, nil
	case err != nil:
		return false, err
	}
	cur.st = sp.st
	cur.changes = append(cur.changes, sp.changes...)
	cur.stmts += sp.stmts
	cur.bulk += sp.bulk
	return true, nil
}

func (w *writer) recordAction(ctx context.Context, tx pgx.Tx, rec txRecord) error {
	act, err := w.audit.RecordAction(ctx, tx, "soak.write",
		threadline.ActionOptions{CorrelationID: rec.correlationID, Verb: "write", Category: "soak"})
	if err != nil {
		return err
	}
	if act.CorrelationID != rec.correlationID || act.RequestID != rec.requestID || act.Actor == nil || *act.Actor != w.actor {
		return fmt.Errorf("RecordAction returned %+v", act)
	}
	return nil
}

// op runs one random statement in tx and records its expected changes in cur.
func (w *writer) op(ctx context.Context, tx pgx.Tx, schemaName string, cur *work) error {
	t := tables[w.rng.IntN(len(tables))]
	rows := cur.st[t]
	bulk := w.rng.IntN(4) == 0
	var kind int // 0 insert, 1 update, 2 delete, 3 key change
	switch r := w.rng.IntN(10); {
	case len(rows) == 0 || r < 3:
		kind = 0
	case len(rows) > w.maxRows || r < 5:
		kind = 2
	case t == accounts && r == 9:
		kind = 3
	default:
		kind = 1
	}
	if kind == 0 && len(rows) > w.maxRows {
		kind = 2
	}
	n := 1
	if bulk {
		n = 2 + w.rng.IntN(15)
	}
	var err error
	switch kind {
	case 0:
		err = w.insert(ctx, tx, schemaName, t, cur, n)
	case 1:
		err = w.update(ctx, tx, schemaName, t, cur, w.pick(rows, n))
	case 2:
		err = w.delete(ctx, tx, schemaName, t, cur, w.pick(rows, n))
	case 3:
		err = w.moveKey(ctx, tx, schemaName, cur, w.pick(rows, 1)[0])
	}
	return err
}

// pick returns up to n distinct existing keys, at random.
func (w *writer) pick(rows map[string]row, n int) []string {
	keys := slices.Sorted(maps.Keys(rows))
	w.rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys[:min(n, len(keys))]
}

func (w *writer) newKey() int64 {
	k := w.base + w.next
	w.next++
	return k
}

func (w *writer) newRow(t *table, tag string) row {
	id := w.newKey()
	switch t {
	case accounts:
		return row{"id": id, "owner": fmt.Sprintf("owner %d «%d»", w.id, id), "balance": int64(w.rng.IntN(1_000_000)), "v": int64(1), "tag": tag}
	case items:
		return row{"id": id, "account_id": w.base + int64(w.rng.IntN(1000)), "name": fmt.Sprintf("item '%d'", id), "qty": int64(w.rng.IntN(50)), "v": int64(1), "tag": tag}
	default:
		roles := []string{"member", "admin", "owner", "viewer"}
		return row{"org_id": w.org, "user_id": id, "role": roles[w.rng.IntN(len(roles))], "v": int64(1), "tag": tag}
	}
}

func (w *writer) exec(ctx context.Context, tx pgx.Tx, want int64, sql string, args ...any) error {
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", firstLine(sql), err)
	}
	if tag.RowsAffected() != want {
		return fmt.Errorf("%s: %d rows affected, want %d", firstLine(sql), tag.RowsAffected(), want)
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (w *writer) insert(ctx context.Context, tx pgx.Tx, schemaName string, t *table, cur *work, n int) error {
	var vals []string
	var args []any
	var added []row
	for range n {
		r := w.newRow(t, cur.tag)
		ph := make([]string, len(t.cols))
		for i, c := range t.cols {
			args = append(args, r[c])
			ph[i] = fmt.Sprintf("$%d", len(args))
		}
		vals = append(vals, "("+strings.Join(ph, ", ")+")")
		added = append(added, r)
	}
	sql := "INSERT INTO " + qualified(schemaName, t) + " (" + strings.Join(t.cols, ", ") + ") VALUES " + strings.Join(vals, ", ")
	if err := w.exec(ctx, tx, int64(n), sql, args...); err != nil {
		return err
	}
	for _, r := range added {
		cur.st[t][t.keyOf(r)] = r
		cur.changes = append(cur.changes, change{table: t.name, pk: t.pkJSON(r), op: "insert", after: canonical(r)})
	}
	cur.count(n)
	return nil
}

func (c *work) count(n int) {
	c.stmts++
	if n > 1 {
		c.bulk++
	}
}

// keyArgs renders the WHERE clause selecting keys.
func (w *writer) where(t *table, keys []string, args *[]any) string {
	if t == memberships {
		users := make([]int64, len(keys))
		for i, k := range keys {
			fmt.Sscanf(k[strings.IndexByte(k, ',')+1:], "%d", &users[i])
		}
		*args = append(*args, w.org, users)
		return fmt.Sprintf("org_id = $%d AND user_id = ANY($%d)", len(*args)-1, len(*args))
	}
	ids := make([]int64, len(keys))
	for i, k := range keys {
		fmt.Sscanf(k, "%d", &ids[i])
	}
	*args = append(*args, ids)
	return fmt.Sprintf("id = ANY($%d)", len(*args))
}

func (w *writer) update(ctx context.Context, tx pgx.Tx, schemaName string, t *table, cur *work, keys []string) error {
	// Server-side arithmetic, predicted by the model: v always changes, so
	// no update is a no-op.
	var set string
	args := []any{cur.tag}
	delta := int64(1 + w.rng.IntN(100))
	switch t {
	case accounts:
		set = "balance = balance + $2, v = v + 1, tag = $1"
		args = append(args, delta)
	case items:
		set = "qty = qty + 1, v = v + 1, tag = $1"
	default:
		set = "role = CASE role WHEN 'admin' THEN 'member' ELSE 'admin' END, v = v + 1, tag = $1"
	}
	sql := "UPDATE " + qualified(schemaName, t) + " SET " + set + " WHERE " + w.where(t, keys, &args)
	if err := w.exec(ctx, tx, int64(len(keys)), sql, args...); err != nil {
		return err
	}
	for _, k := range keys {
		old := cur.st[t][k]
		nw := maps.Clone(old)
		nw["v"] = old["v"].(int64) + 1
		nw["tag"] = cur.tag
		switch t {
		case accounts:
			nw["balance"] = old["balance"].(int64) + delta
		case items:
			nw["qty"] = old["qty"].(int64) + 1
		default:
			if old["role"] == "admin" {
				nw["role"] = "member"
			} else {
				nw["role"] = "admin"
			}
		}
		cur.st[t][k] = nw
		cur.changes = append(cur.changes, change{table: t.name, pk: t.pkJSON(nw), op: "update", after: canonical(nw), changed: changedFields(t, old, nw)})
	}
	cur.count(len(keys))
	return nil
}

// moveKey changes the primary key of one account.
func (w *writer) moveKey(ctx context.Context, tx pgx.Tx, schemaName string, cur *work, key string) error {
	old := cur.st[accounts][key]
	nw := maps.Clone(old)
	nw["id"] = w.newKey()
	nw["v"] = old["v"].(int64) + 1
	nw["tag"] = cur.tag
	err := w.exec(ctx, tx, 1, "UPDATE "+qualified(schemaName, accounts)+" SET id = $1, v = v + 1, tag = $2 WHERE id = $3", nw["id"], cur.tag, old["id"])
	if err != nil {
		return err
	}
	delete(cur.st[accounts], key)
	cur.st[accounts][accounts.keyOf(nw)] = nw
	cur.changes = append(cur.changes, change{table: accounts.name, pk: accounts.pkJSON(nw), pkBefore: accounts.pkJSON(old),
		op: "update", after: canonical(nw), changed: changedFields(accounts, old, nw)})
	cur.count(1)
	return nil
}

func (w *writer) delete(ctx context.Context, tx pgx.Tx, schemaName string, t *table, cur *work, keys []string) error {
	var args []any
	sql := "DELETE FROM " + qualified(schemaName, t) + " WHERE " + w.where(t, keys, &args)
	if err := w.exec(ctx, tx, int64(len(keys)), sql, args...); err != nil {
		return err
	}
	for _, k := range keys {
		old := cur.st[t][k]
		delete(cur.st[t], k)
		cur.changes = append(cur.changes, change{table: t.name, pk: t.pkJSON(old), op: "delete", before: canonical(old)})
	}
	cur.count(len(keys))
	return nil
}

func changedFields(t *table, o, n row) []string {
	var out []string
	for _, c := range t.cols {
		if o[c] != n[c] {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

func containsRolledTag(after string, rolled map[string]bool) bool {
	var r map[string]any
	if json.Unmarshal([]byte(after), &r) != nil {
		return false
	}
	s, _ := r["tag"].(string)
	return rolled[s]
}

// checkActor compares a stored jsonb actor with want.
func checkActor(stored string, want threadline.ActorRef) error {
	if stored == "" {
		return errors.New("no actor")
	}
	got, err := threadline.ParseActorRef([]byte(stored))
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("actor %s, want %s", got, want)
	}
	return nil
}
