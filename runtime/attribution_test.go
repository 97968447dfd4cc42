package threadline_test

import (
	"context"
	"errors"
	"fmt"
	osexec "os/exec"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/harness/pgbouncertest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
)

// leakSQL is issue 23's leak: a session-level SET of the actor and ids,
// with the binding too, as a client of a transaction pooler sends it (one
// message: one implicit transaction, so one server connection). The
// binding names that implicit transaction, never a later one.
const leakSQL = `SET threadline.actor_ref = '{"type":"user","id":"LEAKER"}';
SET threadline.request_id = 'leak-req'; SET threadline.correlation_id = 'leak-corr';
SELECT set_config('` + contract.SettingAttributionTx + `', ` + contract.TxStartSQL + `, false)`

// leaked counts the headers that carry anything of leakSQL.
func leaked(t *testing.T, db *pgtest.DB) int64 {
	t.Helper()
	return faultInt(t, db.Pool, `SELECT count(*) FROM threadline.audit_transactions
		WHERE actor_ref->>'id' = 'LEAKER' OR actor_ref_invalid LIKE '%LEAKER%'
		   OR request_id = 'leak-req' OR correlation_id = 'leak-corr'`)
}

// TestSessionLevelSettingAttributesNothing: on one connection (a pool of
// one), a session-level value of the attribution settings, bound to the
// statement that set it, attributes no later transaction: not a plain
// autocommit write, not a raw transaction, and a nested InTx sees no
// attribution in effect to match.
func TestSessionLevelSettingAttributesNothing(t *testing.T) {
	db := setupOrders(t)
	pool := poolOfOne(t, db)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, leakSQL, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO orders VALUES (1, 'plain')`); err != nil {
		t.Fatal(err)
	}
	if err := threadline.InTx(ctx, pool, threadline.TxOptions{Actor: threadline.User("alice")}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO orders VALUES (2, 'intx')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, tx, `INSERT INTO orders VALUES (3, 'raw')`)
	err = threadline.InTx(ctx, tx, threadline.TxOptions{Actor: threadline.User("LEAKER")}, func(pgx.Tx) error { return nil })
	if !errors.Is(err, threadline.ErrNestedAttribution) {
		t.Errorf("nested InTx claiming the session-level actor: %v, want ErrNestedAttribution (nothing in effect)", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	txs := transactions(t, db)
	if len(txs) != 3 {
		t.Fatalf("%d headers, want 3: %+v", len(txs), txs)
	}
	equal(t, "headers", txs, []txRow{{ID: txs[0].ID}, {ID: txs[1].ID, Actor: `{"id": "alice", "type": "user"}`}, {ID: txs[2].ID}})
}

// bouncerPool is a pool of up to n client connections through b, with
// pgx settings that work through transaction pooling (no named prepared
// statements).
func bouncerPool(t *testing.T, b *pgbouncertest.Bouncer, n int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = n
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// leakVisible counts, over two concurrent transactions through pool (one
// per server connection of a pool of two), those that see the leaked
// session-level actor: the precondition of the leak.
func leakVisible(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	ctx := context.Background()
	seen := 0
	var txs []pgx.Tx
	for range 2 {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		var actor string
		if err := tx.QueryRow(ctx, `SELECT coalesce(current_setting('threadline.actor_ref', true), '')`).Scan(&actor); err != nil {
			t.Fatal(err)
		}
		if actor == `{"type":"user","id":"LEAKER"}` {
			seen++
		}
	}
	return seen
}

// TestPgBouncerSessionSettingAttributesNothing replays issue 23 through a
// real PgBouncer in transaction pooling mode with two server connections:
// one client leaves a session-level LEAKER actor and request id on a
// server connection; plain writes of other clients (a pool of goroutines,
// a separate connection, psql) and InTx transactions then run on it. None
// is attributed to LEAKER, and every InTx transaction carries its own
// actor and request id.
func TestPgBouncerSessionSettingAttributesNothing(t *testing.T) {
	db := setupOrders(t)
	b := pgbouncertest.Start(t, db.URL, pgbouncertest.Options{PoolSize: 2})
	ctx := context.Background()
	pool := bouncerPool(t, b, 8)
	leaker := bouncerPool(t, b, 1)
	if _, err := leaker.Exec(ctx, leakSQL, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("leak: %v\n%s", err, b.Log())
	}
	if n := leakVisible(t, pool); n != 1 {
		t.Fatalf("%d of 2 server connections hold the session-level actor, want 1: the leak scenario is not reproduced", n)
	}
	const writers, perWriter, inTxWriters, perInTx, separate = 8, 25, 4, 10, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers+inTxWriters+1)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if _, err := pool.Exec(ctx, `INSERT INTO orders VALUES ($1, 'plain')`, 1000+w*perWriter+i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for w := range inTxWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perInTx {
				id := 5000 + w*perInTx + i
				err := threadline.InTx(ctx, pool, threadline.TxOptions{Actor: threadline.User(fmt.Sprint("w", id)), RequestID: fmt.Sprint("req-", id)}, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1, 'intx')`, id)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- separateClient(ctx, b.URL, 8000, separate)
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("write through pgbouncer: %v", err)
		}
	}
	psqlInsert(t, b.URL, 9999)
	if n := leakVisible(t, pool); n != 1 {
		t.Errorf("after the writes %d server connections hold the session-level actor, want 1", n)
	}
	checkBouncerTrail(t, db, writers*perWriter+inTxWriters*perInTx+separate+1)
}

// separateClient makes n plain writes from a connection of its own (as a
// separate process would), ids from first.
func separateClient(ctx context.Context, url string, first, n int) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for i := range n {
		if _, err := c.Exec(ctx, `INSERT INTO orders VALUES ($1, 'separate')`, first+i); err != nil {
			return err
		}
	}
	return nil
}

// psqlInsert inserts order id with psql through url.
func psqlInsert(t *testing.T, url string, id int) {
	t.Helper()
	psql, err := osexec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql not found (Debian: apt-get install postgresql-client): %v", err)
	}
	out, err := osexec.Command(psql, url, "-v", "ON_ERROR_STOP=1", "-c", fmt.Sprintf(`INSERT INTO orders VALUES (%d, 'psql')`, id)).CombinedOutput()
	if err != nil {
		t.Fatalf("psql insert: %v\n%s", err, out)
	}
}

// checkBouncerTrail checks the trail of TestPgBouncerSessionSettingAttributesNothing:
// every write captured, nothing leaked, plain writes unattributed, InTx
// writes attributed to their own actor and request id.
func checkBouncerTrail(t *testing.T, db *pgtest.DB, writes int64) {
	t.Helper()
	if n := faultInt(t, db.Pool, `SELECT count(*) FROM threadline.audit_changes`); n != writes {
		t.Errorf("%d changes captured, want %d", n, writes)
	}
	if n := leaked(t, db); n != 0 {
		t.Errorf("BUG: %d transactions attributed to the session-level LEAKER settings", n)
	}
	if n := faultInt(t, db.Pool, `SELECT count(*) FROM threadline.audit_changes c
		JOIN threadline.audit_transactions h ON h.id = c.transaction_id
		WHERE c.data_after->>'note' <> 'intx' AND (h.actor_ref IS NOT NULL OR h.request_id IS NOT NULL)`); n != 0 {
		t.Errorf("%d plain writes are attributed, want none", n)
	}
	if n := faultInt(t, db.Pool, `SELECT count(*) FROM threadline.audit_changes c
		JOIN threadline.audit_transactions h ON h.id = c.transaction_id
		WHERE c.data_after->>'note' = 'intx' AND (h.actor_ref IS DISTINCT FROM jsonb_build_object('type', 'user', 'id', 'w' || (c.table_pk->>'id'))
		   OR h.request_id IS DISTINCT FROM 'req-' || (c.table_pk->>'id'))`); n != 0 {
		t.Errorf("%d InTx writes do not carry their own actor and request id", n)
	}
}
