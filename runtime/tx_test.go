package threadline_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// ordersDDL is the schema of the attribution tests: two audited tables.
const ordersDDL = `
CREATE TABLE orders (id bigint PRIMARY KEY, note text NOT NULL);
CREATE TABLE items (id bigint PRIMARY KEY, order_id bigint NOT NULL, sku text NOT NULL);
`

const ordersTables = "  orders: {}\n  items: {}\n"

func setupOrders(t *testing.T) *pgtest.DB {
	t.Helper()
	return capturetest.Setup(t, ordersDDL, ordersTables)
}

// txRow is one audit_transactions row; NULL reads as "" or 0.
type txRow struct {
	ID            int64
	Actor         string
	ActorInvalid  string
	RequestID     string
	CorrelationID string
	ActionID      int64
}

func transactions(t *testing.T, db *pgtest.DB) []txRow {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
		SELECT id, coalesce(actor_ref::text, ''), coalesce(actor_ref_invalid, ''), coalesce(request_id, ''),
		       coalesce(correlation_id, ''), coalesce(action_id, 0)
		FROM threadline.audit_transactions ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[txRow])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// change is the part of an audit_changes row the attribution tests check.
type change struct {
	TransactionID int64
	Table         string
	Op            string
	PK            string
	After         string
}

func changes(t *testing.T, db *pgtest.DB) []change {
	t.Helper()
	var out []change
	for _, c := range capturetest.Changes(t, db) {
		out = append(out, change{c.TransactionID, c.Table, c.Op, c.PK, c.After})
	}
	return out
}

func exec(t *testing.T, tx pgx.Tx, sql string, args ...any) {
	t.Helper()
	if _, err := tx.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func TestInTxAttributesWrites(t *testing.T) {
	db := setupOrders(t)
	ctx := context.Background()
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.User("42"), RequestID: "req-1", CorrelationID: "  corr-1  "}, func(tx pgx.Tx) error {
		exec(t, tx, `INSERT INTO orders VALUES (1, 'first')`)
		exec(t, tx, `INSERT INTO items VALUES (10, 1, 'sku-a')`)
		exec(t, tx, `UPDATE orders SET note = 'second' WHERE id = 1`)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	txs := transactions(t, db)
	equal(t, "transactions", txs, []txRow{{ID: txs[0].ID, Actor: `{"id": "42", "type": "user"}`, RequestID: "req-1", CorrelationID: "corr-1"}})
	equal(t, "changes", changes(t, db), []change{
		{txs[0].ID, "orders", "insert", `{"id": 1}`, `{"id": 1, "note": "first"}`},
		{txs[0].ID, "items", "insert", `{"id": 10}`, `{"id": 10, "sku": "sku-a", "order_id": 1}`},
		{txs[0].ID, "orders", "update", `{"id": 1}`, `{"id": 1, "note": "second"}`},
	})
}

func TestInTxContextAndExplicitOptions(t *testing.T) {
	db := setupOrders(t)
	ctx := threadline.ContextWithActor(context.Background(), threadline.User("ctx-user"))
	ctx = threadline.ContextWithRequestID(ctx, "ctx-req")
	ctx = threadline.ContextWithCorrelationID(ctx, "ctx-corr")
	write := func(id int) func(pgx.Tx) error {
		return func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1, 'n')`, id)
			return err
		}
	}
	if err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{}, write(1)); err != nil {
		t.Fatal(err)
	}
	if err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.System("cron")}, write(2)); err != nil {
		t.Fatal(err)
	}
	if err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{RequestID: "r3", CorrelationID: "c3"}, write(3)); err != nil {
		t.Fatal(err)
	}
	if err := threadline.InTx(context.Background(), db.Pool, threadline.TxOptions{}, write(4)); err != nil {
		t.Fatal(err)
	}
	txs := transactions(t, db)
	if len(txs) != 4 {
		t.Fatalf("%d transactions", len(txs))
	}
	equal(t, "transactions", txs, []txRow{
		{ID: txs[0].ID, Actor: `{"id": "ctx-user", "type": "user"}`, RequestID: "ctx-req", CorrelationID: "ctx-corr"},
		{ID: txs[1].ID, Actor: `{"id": "cron", "type": "system"}`, RequestID: "ctx-req", CorrelationID: "ctx-corr"},
		{ID: txs[2].ID, Actor: `{"id": "ctx-user", "type": "user"}`, RequestID: "r3", CorrelationID: "c3"},
		{ID: txs[3].ID},
	})
}

var errBoom = errors.New("boom")

func TestInTxRollsBackOnError(t *testing.T) {
	db := setupOrders(t)
	ctx := context.Background()
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.User("1")}, func(tx pgx.Tx) error {
		exec(t, tx, `INSERT INTO orders VALUES (1, 'n')`)
		if _, err := threadline.RecordAction(ctx, tx, "order.create", threadline.ActionOptions{}); err != nil {
			t.Fatal(err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) || err.Error() != "threadline: transaction: boom" {
		t.Fatalf("err = %v", err)
	}
	for _, table := range []string{"audit_changes", "audit_transactions", "audit_actions"} {
		if n := capturetest.Count(t, db, table); n != 0 {
			t.Errorf("%s: %d rows after rollback", table, n)
		}
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("orders: %d, %v", n, err)
	}
}

func TestInTxRollsBackOnPanic(t *testing.T) {
	db := setupOrders(t)
	pool := poolOfOne(t, db)
	ctx := context.Background()
	pid := backendPID(t, pool)
	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Fatalf("recovered %v, want the original panic value", p)
			}
		}()
		_ = threadline.InTx(ctx, pool, threadline.TxOptions{Actor: threadline.User("1")}, func(tx pgx.Tx) error {
			exec(t, tx, `INSERT INTO orders VALUES (1, 'n')`)
			panic("kaboom")
		})
		t.Fatal("InTx returned after a panic")
	}()
	// The only connection is back in the pool, idle: it was rolled back,
	// not discarded.
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	status := c.Conn().PgConn().TxStatus()
	c.Release()
	if status != 'I' {
		t.Fatalf("transaction status %q after panic", status)
	}
	if p := backendPID(t, pool); p != pid {
		t.Fatalf("connection replaced after panic: pid %d, was %d", p, pid)
	}
	for _, table := range []string{"audit_changes", "audit_transactions"} {
		if n := capturetest.Count(t, db, table); n != 0 {
			t.Errorf("%s: %d rows after panic", table, n)
		}
	}
	if err := threadline.InTx(ctx, pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO orders VALUES (2, 'n')`)
		return err
	}); err != nil {
		t.Fatalf("pool unusable after panic: %v", err)
	}
}

func TestInTxRejectsInvalidAttribution(t *testing.T) {
	db := setupOrders(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		opts threadline.TxOptions
		is   error
	}{
		{"invalid actor", ctx, threadline.TxOptions{Actor: threadline.User(" ")}, threadline.ErrInvalidActor},
		{"actor without a kind", ctx, threadline.TxOptions{Actor: threadline.ActorRef{ID: "1"}}, threadline.ErrInvalidActor},
		{"invalid actor in context", threadline.ContextWithActor(ctx, threadline.ActorRef{Kind: "root", ID: "1"}), threadline.TxOptions{}, threadline.ErrInvalidActor},
		{"blank correlation id", ctx, threadline.TxOptions{CorrelationID: " "}, threadline.ErrInvalidAttribution},
		{"long correlation id", ctx, threadline.TxOptions{CorrelationID: strings.Repeat("c", 257)}, threadline.ErrInvalidAttribution},
		{"control character in request id", ctx, threadline.TxOptions{RequestID: "a\x00b"}, threadline.ErrInvalidAttribution},
		{"long request id", ctx, threadline.TxOptions{RequestID: strings.Repeat("r", 257)}, threadline.ErrInvalidAttribution},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			err := threadline.InTx(tc.ctx, db.Pool, tc.opts, func(pgx.Tx) error { called = true; return nil })
			if !errors.Is(err, tc.is) || called {
				t.Fatalf("err = %v (want %v), fn called: %v", err, tc.is, called)
			}
		})
	}
	if err := threadline.InTx(ctx, nil, threadline.TxOptions{}, func(pgx.Tx) error { return nil }); err == nil {
		t.Error("nil db accepted")
	}
	if err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{}, nil); err == nil {
		t.Error("nil fn accepted")
	}
	// The longest valid values are accepted and stored whole.
	corr, req := strings.Repeat("c", 256), strings.Repeat("r", 256)
	if err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{CorrelationID: corr, RequestID: req, Actor: threadline.User(`it's "quoted" \ \\ `)}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO orders VALUES (1, 'n')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	txs := transactions(t, db)
	equal(t, "transactions", txs, []txRow{{ID: txs[0].ID, Actor: `{"id": "it's \"quoted\" \\ \\\\ ", "type": "user"}`, RequestID: req, CorrelationID: corr}})
}

func TestInTxOptions(t *testing.T) {
	db := setupOrders(t)
	ctx := context.Background()
	var iso, actor string
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Tx: pgx.TxOptions{IsoLevel: pgx.Serializable, DeferrableMode: pgx.Deferrable}, Actor: threadline.Admin("root")}, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('transaction_isolation'), current_setting('threadline.actor_ref')`).Scan(&iso, &actor)
	})
	if err != nil || iso != "serializable" || actor != `{"type":"admin","id":"root"}` {
		t.Fatalf("isolation %q, actor %q, err %v", iso, actor, err)
	}

	err = threadline.InTx(ctx, db.Pool, threadline.TxOptions{Tx: pgx.TxOptions{AccessMode: pgx.ReadOnly}}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO orders VALUES (1, 'n')`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Fatalf("read only: %v", err)
	}

	err = threadline.InTx(ctx, db.Pool, threadline.TxOptions{Tx: pgx.TxOptions{BeginQuery: "BEGIN ISOLATION LEVEL REPEATABLE READ;"}, Actor: threadline.Job("j")}, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('transaction_isolation'), current_setting('threadline.actor_ref')`).Scan(&iso, &actor)
	})
	if err != nil || iso != "repeatable read" || actor != `{"type":"job","id":"j"}` {
		t.Fatalf("BeginQuery: isolation %q, actor %q, err %v", iso, actor, err)
	}

	err = threadline.InTx(ctx, db.Pool, threadline.TxOptions{Tx: pgx.TxOptions{IsoLevel: "chaotic"}}, func(pgx.Tx) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `unknown isolation level "chaotic"`) {
		t.Fatalf("bad isolation level: %v", err)
	}
}

// countingConn counts the writes to a connection's socket: pgx flushes
// each message batch with one write, so the writes are the round trips.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// countingConnect opens a pgx.Conn whose socket writes are counted.
func countingConnect(t *testing.T, db *pgtest.DB) (*pgx.Conn, *atomic.Int64) {
	t.Helper()
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	writes := new(atomic.Int64)
	var d net.Dialer
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, writes: writes}, nil
	}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn, writes
}

// TestInTxSingleRoundTrip proves that publishing the attribution costs no
// round trip: an empty InTx is BEGIN+settings (one write) and COMMIT (one
// write), the same as a bare pgx transaction, and the settings are in
// effect for the first statement of fn.
func TestInTxSingleRoundTrip(t *testing.T) {
	db := setupOrders(t)
	conn, writes := countingConnect(t, db)
	ctx := context.Background()

	// Baseline: a bare pgx transaction, BEGIN then COMMIT.
	writes.Store(0)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 2 {
		t.Fatalf("bare transaction: %d writes, want 2", n)
	}
	// Control: publishing the settings with a statement of their own
	// costs a round trip, and the counter sees it.
	writes.Store(0)
	tx, err = conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('threadline.actor_ref', '{"type":"user","id":"42"}', true)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 3 {
		t.Fatalf("separate set_config: %d writes, want 3", n)
	}

	opts := threadline.TxOptions{Actor: threadline.User("42"), RequestID: "r", CorrelationID: "c"}
	writes.Store(0)
	if err := threadline.InTx(ctx, conn, opts, func(pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 2 {
		t.Fatalf("empty InTx: %d writes, want 2 (begin+settings, commit)", n)
	}

	var actor, req, corr string
	writes.Store(0)
	err = threadline.InTx(ctx, conn, opts, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('threadline.actor_ref'), current_setting('threadline.request_id'),
			current_setting('threadline.correlation_id')`, pgx.QueryExecModeSimpleProtocol).Scan(&actor, &req, &corr)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 3 {
		t.Fatalf("InTx with one query: %d writes, want 3", n)
	}
	if actor != `{"type":"user","id":"42"}` || req != "r" || corr != "c" {
		t.Fatalf("settings in fn: %q %q %q", actor, req, corr)
	}

	// RecordAction is one more round trip (once its statements are prepared).
	record := func(tx pgx.Tx) error {
		_, err := threadline.RecordAction(ctx, tx, "noop", threadline.ActionOptions{})
		return err
	}
	if err := threadline.InTx(ctx, conn, opts, record); err != nil {
		t.Fatal(err)
	}
	writes.Store(0)
	if err := threadline.InTx(ctx, conn, opts, record); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 3 {
		t.Fatalf("InTx with RecordAction: %d writes, want 3", n)
	}
	if tx := transactions(t, db); len(tx) != 2 || tx[0].ActionID == 0 || tx[1].ActionID == 0 {
		t.Fatalf("transactions: %+v", tx)
	}
}

func backendPID(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var pid int
	if err := pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// poolOfOne returns a pool with a single connection on db.
func poolOfOne(t *testing.T, db *pgtest.DB) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestInTxPoolOfOneNoLeak runs everything on one pooled connection, as
// under PgBouncer transaction pooling: nothing an attributed transaction
// published survives it.
//
// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestInTxPoolOfOneNoLeak(t *testing.T) {
	db := setupOrders(t)
	pool := poolOfOne(t, db)
	ctx := context.Background()
	pid := backendPID(t, pool)
	samePID := func() {
		t.Helper()
		if p := backendPID(t, pool); p != pid {
			t.Fatalf("backend pid %d, want %d", p, pid)
		}
	}
	insert := func(id int) func(pgx.Tx) error {
		return func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1, 'n')`, id)
			return err
		}
	}

	// 1: attributed transaction.
	if err := threadline.InTx(ctx, pool, threadline.TxOptions{Actor: threadline.User("alice"), RequestID: "req-a", CorrelationID: "corr-a"}, insert(1)); err != nil {
		t.Fatal(err)
	}
	samePID()
	// Nothing is left on the connection.
	var actor, req, corr, cached string
	if err := pool.QueryRow(ctx, `SELECT coalesce(current_setting('threadline.actor_ref', true), ''),
		coalesce(current_setting('threadline.request_id', true), ''),
		coalesce(current_setting('threadline.correlation_id', true), ''),
		coalesce(current_setting('threadline.transaction', true), '')`).Scan(&actor, &req, &corr, &cached); err != nil {
		t.Fatal(err)
	}
	if actor != "" || req != "" || corr != "" || cached != "" {
		t.Fatalf("settings leaked: actor %q request %q correlation %q transaction %q", actor, req, corr, cached)
	}
	// 2: an autocommit write on the same connection carries no actor.
	if _, err := pool.Exec(ctx, `INSERT INTO orders VALUES (2, 'n')`); err != nil {
		t.Fatal(err)
	}
	// 3: an unattributed InTx carries no actor.
	if err := threadline.InTx(ctx, pool, threadline.TxOptions{}, insert(3)); err != nil {
		t.Fatal(err)
	}
	// 4: a raw SQL transaction outside the helper is captured, actor NULL.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, tx, `INSERT INTO orders VALUES (4, 'n')`)
	exec(t, tx, `UPDATE orders SET note = 'm' WHERE id = 1`)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// 5: a session-level value set by someone else on the connection never
	// attributes an InTx transaction: InTx always publishes all settings.
	if _, err := pool.Exec(ctx, `SELECT set_config('threadline.actor_ref', '{"type":"user","id":"mallory"}', false),
		set_config('threadline.correlation_id', 'stale', false)`); err != nil {
		t.Fatal(err)
	}
	if err := threadline.InTx(ctx, pool, threadline.TxOptions{}, insert(5)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `RESET ALL`); err != nil {
		t.Fatal(err)
	}
	// 6: attributed again, then a plain write from another connection.
	if err := threadline.InTx(ctx, pool, threadline.TxOptions{Actor: threadline.Admin("bob")}, insert(6)); err != nil {
		t.Fatal(err)
	}
	other, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, `DELETE FROM orders WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	samePID()

	txs := transactions(t, db)
	if len(txs) != 7 {
		t.Fatalf("%d transactions: %+v", len(txs), txs)
	}
	ids := make([]int64, len(txs))
	for i, r := range txs {
		ids[i] = r.ID
	}
	equal(t, "transactions", txs, []txRow{
		{ID: ids[0], Actor: `{"id": "alice", "type": "user"}`, RequestID: "req-a", CorrelationID: "corr-a"},
		{ID: ids[1]},
		{ID: ids[2]},
		{ID: ids[3]},
		{ID: ids[4]},
		{ID: ids[5], Actor: `{"id": "bob", "type": "admin"}`},
		{ID: ids[6]},
	})
	equal(t, "changes", changes(t, db), []change{
		{ids[0], "orders", "insert", `{"id": 1}`, `{"id": 1, "note": "n"}`},
		{ids[1], "orders", "insert", `{"id": 2}`, `{"id": 2, "note": "n"}`},
		{ids[2], "orders", "insert", `{"id": 3}`, `{"id": 3, "note": "n"}`},
		{ids[3], "orders", "insert", `{"id": 4}`, `{"id": 4, "note": "n"}`},
		{ids[3], "orders", "update", `{"id": 1}`, `{"id": 1, "note": "m"}`},
		{ids[4], "orders", "insert", `{"id": 5}`, `{"id": 5, "note": "n"}`},
		{ids[5], "orders", "insert", `{"id": 6}`, `{"id": 6, "note": "n"}`},
		{ids[6], "orders", "delete", `{"id": 2}`, ``},
	})
}

// TestInTxNested covers InTx inside a transaction: a savepoint that keeps
// the enclosing attribution, refuses to change it, and never leaks.
//
// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestInTxNested(t *testing.T) {
	db := setupOrders(t)
	ctx := threadline.ContextWithActor(context.Background(), threadline.User("ctx"))
	insert := func(id int) func(pgx.Tx) error {
		return func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1, 'n')`, id)
			return err
		}
	}
	settings := func(tx pgx.Tx) string {
		var s string
		if err := tx.QueryRow(ctx, `SELECT current_setting('threadline.actor_ref') || ' ' || current_setting('threadline.request_id')
			|| ' ' || current_setting('threadline.correlation_id')`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	const outer = `{"type":"user","id":"outer"} req-o corr-o`
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.User("outer"), RequestID: "req-o", CorrelationID: "corr-o"}, func(tx pgx.Tx) error {
		// The header is first written inside a savepoint that is rolled
		// back: it disappears with it and is written again afterwards.
		if err := threadline.InTx(ctx, tx, threadline.TxOptions{}, func(sp pgx.Tx) error {
			if err := insert(100)(sp); err != nil {
				return err
			}
			return errBoom
		}); !errors.Is(err, errBoom) {
			t.Fatalf("inner error: %v", err)
		}
		// A nested InTx with no option inherits (the context's actor "ctx"
		// is ignored); it is released.
		if err := threadline.InTx(ctx, tx, threadline.TxOptions{}, insert(1)); err != nil {
			t.Fatal(err)
		}
		// Same values explicitly: accepted.
		if err := threadline.InTx(ctx, tx, threadline.TxOptions{Actor: threadline.User("outer"), RequestID: "req-o", CorrelationID: " corr-o "}, insert(2)); err != nil {
			t.Fatal(err)
		}
		// Different values: refused before fn runs, nothing changes.
		for _, opt := range []threadline.TxOptions{{Actor: threadline.Admin("other")}, {RequestID: "req-x"}, {CorrelationID: "corr-x"}} {
			called := false
			err := threadline.InTx(ctx, tx, opt, func(pgx.Tx) error { called = true; return nil })
			if !errors.Is(err, threadline.ErrNestedAttribution) || called {
				t.Fatalf("conflicting nested InTx: %v (fn called %v)", err, called)
			}
			if s := settings(tx); s != outer {
				t.Fatalf("settings after refused nested InTx: %q", s)
			}
		}
		if err := threadline.InTx(ctx, tx, threadline.TxOptions{Tx: pgx.TxOptions{AccessMode: pgx.ReadOnly}}, insert(3)); err == nil {
			t.Fatal("nested TxOptions.Tx accepted")
		}
		// A panic in a nested InTx rolls back its savepoint only.
		func() {
			defer func() { _ = recover() }()
			_ = threadline.InTx(ctx, tx, threadline.TxOptions{}, func(sp pgx.Tx) error {
				_ = insert(4)(sp)
				panic("inner")
			})
		}()
		// Two levels deep.
		if err := threadline.InTx(ctx, tx, threadline.TxOptions{}, func(sp pgx.Tx) error {
			return threadline.InTx(ctx, sp, threadline.TxOptions{}, insert(5))
		}); err != nil {
			t.Fatal(err)
		}
		if s := settings(tx); s != outer {
			t.Fatalf("settings after nested InTx: %q", s)
		}
		return insert(6)(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	txs := transactions(t, db)
	if len(txs) != 1 {
		t.Fatalf("transactions: %+v", txs)
	}
	id := txs[0].ID
	equal(t, "transactions", txs, []txRow{{ID: id, Actor: `{"id": "outer", "type": "user"}`, RequestID: "req-o", CorrelationID: "corr-o"}})
	equal(t, "changes", changes(t, db), []change{
		{id, "orders", "insert", `{"id": 1}`, `{"id": 1, "note": "n"}`},
		{id, "orders", "insert", `{"id": 2}`, `{"id": 2, "note": "n"}`},
		{id, "orders", "insert", `{"id": 5}`, `{"id": 5, "note": "n"}`},
		{id, "orders", "insert", `{"id": 6}`, `{"id": 6, "note": "n"}`},
	})

	// A nested InTx in a transaction that was not begun by InTx and has no
	// attribution may not introduce one.
	tx, err := db.Pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	err = threadline.InTx(context.Background(), tx, threadline.TxOptions{Actor: threadline.User("late")}, insert(7))
	if !errors.Is(err, threadline.ErrNestedAttribution) || !strings.Contains(err.Error(), "none in effect") {
		t.Fatalf("nested actor in unattributed transaction: %v", err)
	}
}

// TestInTxCancelledContext checks that a failing fn with a cancelled
// context still rolls back and leaves the connection usable.
func TestInTxCancelledContext(t *testing.T) {
	db := setupOrders(t)
	pool := poolOfOne(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	err := threadline.InTx(ctx, pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO orders VALUES (1, 'n')`); err != nil {
			return err
		}
		cancel()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if n := capturetest.Count(t, db, "audit_changes"); n != 0 {
		t.Fatalf("%d changes", n)
	}
	if err := threadline.InTx(context.Background(), pool, threadline.TxOptions{}, func(tx pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// The handles InTx accepts.
var (
	_ threadline.Beginner = (*pgxpool.Pool)(nil)
	_ threadline.Beginner = (*pgxpool.Conn)(nil)
	_ threadline.Beginner = (*pgx.Conn)(nil)
	_ threadline.Beginner = pgx.Tx(nil)
)

// TestInTxFailedBeginLeavesConnUsable: when BEGIN succeeds but the rest of
// the begin message fails, the connection is not left inside a failed
// transaction.
func TestInTxFailedBeginLeavesConnUsable(t *testing.T) {
	db := setupOrders(t)
	ctx := context.Background()
	conn, _ := countingConnect(t, db)
	pool := poolOfOne(t, db)
	for _, h := range []threadline.Beginner{conn, pool} {
		called := false
		err := threadline.InTx(ctx, h, threadline.TxOptions{Tx: pgx.TxOptions{BeginQuery: "begin; select 1/0"}}, func(pgx.Tx) error { called = true; return nil })
		if err == nil || called || !strings.Contains(err.Error(), "division by zero") {
			t.Fatalf("%T: err %v, fn called %v", h, err, called)
		}
		if err := threadline.InTx(ctx, h, threadline.TxOptions{}, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT 1`)
			return err
		}); err != nil {
			t.Fatalf("%T unusable after a failed begin: %v", h, err)
		}
	}
	if s := conn.PgConn().TxStatus(); s != 'I' {
		t.Fatalf("conn transaction status %q", s)
	}
}
