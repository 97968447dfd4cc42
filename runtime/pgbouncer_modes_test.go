package threadline_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/harness/pgbouncertest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// modeWorkload is the mixed load of TestPgBouncerQueryExecModes: per
// client goroutine, InTx transactions (a write and RecordAction, each with
// its own actor and request id), plain autocommit writes with arguments,
// and reads (a query with arguments and the runtime's Timeline).
const (
	modeInTxWriters, modePerInTx   = 6, 20
	modePlainWriters, modePerPlain = 6, 20
	modeReaders, modePerReader     = 4, 20
)

// runModeWorkload runs the mixed load through pool and returns every
// error it met (the load goes on after an error, to count them all) and
// the ids of the InTx transactions that committed.
func runModeWorkload(pool *pgxpool.Pool) (errs []error, committed []int) {
	ctx := context.Background()
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range modeInTxWriters {
		wg.Go(func() {
			for i := range modePerInTx {
				id := 5000 + w*modePerInTx + i
				err := threadline.InTx(ctx, pool, threadline.TxOptions{Actor: threadline.User(fmt.Sprint("w", id)), RequestID: fmt.Sprint("req-", id)}, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1, 'intx')`, id); err != nil {
						return err
					}
					_, err := threadline.RecordAction(ctx, tx, "order.create", threadline.ActionOptions{Reason: fmt.Sprint("r-", id)})
					return err
				})
				if err != nil {
					fail(fmt.Errorf("InTx %d: %w", id, err))
					continue
				}
				mu.Lock()
				committed = append(committed, id)
				mu.Unlock()
			}
		})
	}
	for w := range modePlainWriters {
		wg.Go(func() {
			for i := range modePerPlain {
				id := 1000 + w*modePerPlain + i
				if _, err := pool.Exec(ctx, `INSERT INTO orders VALUES ($1, $2)`, id, "plain"); err != nil {
					fail(fmt.Errorf("plain write %d: %w", id, err))
				}
			}
		})
	}
	for range modeReaders {
		wg.Go(func() {
			for i := range modePerReader {
				var n int64
				if err := pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE id >= $1`, i).Scan(&n); err != nil {
					fail(fmt.Errorf("read: %w", err))
				}
				if _, err := (threadline.Audit{}).Timeline(ctx, pool, threadline.Filter{Limit: 10}); err != nil {
					fail(fmt.Errorf("timeline: %w", err))
				}
			}
		})
	}
	wg.Wait()
	return errs, committed
}

// modePool is a pool of 8 client connections through b, its query exec
// mode given in the URL as the README says (default_query_exec_mode).
func modePool(t *testing.T, b *pgbouncertest.Bouncer, mode string) *pgxpool.Pool {
	t.Helper()
	sep := "?"
	if strings.Contains(b.URL, "?") {
		sep = "&"
	}
	cfg, err := pgxpool.ParseConfig(b.URL + sep + "default_query_exec_mode=" + mode)
	if err != nil {
		t.Fatal(err)
	}
	// pgx prints the mode with spaces ("simple protocol").
	if got := strings.ReplaceAll(cfg.ConnConfig.DefaultQueryExecMode.String(), " ", "_"); got != mode {
		t.Fatalf("default_query_exec_mode=%s in the URL gave %s", mode, got)
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestPgBouncerQueryExecModes checks the README's pgx settings for a
// transaction pooler through a real PgBouncer (transaction pooling, two
// server connections, eight clients): with default_query_exec_mode
// simple_protocol, exec and cache_describe, concurrent InTx writes (with
// RecordAction), plain autocommit writes and reads meet no error, every
// change is captured and every InTx transaction is attributed to its own
// actor, request id and action (the exact rows), and plain writes to
// nobody. pgx's default, cache_statement, fails there (named prepared
// statements live on one server connection): the test asserts it does,
// so the README's warning stays true.
func TestPgBouncerQueryExecModes(t *testing.T) {
	for _, mode := range []string{"simple_protocol", "exec", "cache_describe"} {
		t.Run(mode, func(t *testing.T) {
			db := setupOrders(t)
			b := pgbouncertest.Start(t, db.URL, pgbouncertest.Options{PoolSize: 2})
			pool := modePool(t, b, mode)
			errs, committed := runModeWorkload(pool)
			for i, err := range errs {
				if i == 5 {
					t.Errorf("… %d errors in all", len(errs))
					break
				}
				t.Errorf("%s through pgbouncer: %v", mode, err)
			}
			if len(errs) > 0 {
				t.FailNow()
			}
			const inTx, plain = modeInTxWriters * modePerInTx, modePlainWriters * modePerPlain
			if len(committed) != inTx {
				t.Fatalf("%d InTx transactions committed, want %d", len(committed), inTx)
			}
			if n := faultInt(t, db.Pool, `SELECT count(*) FROM threadline.audit_changes`); n != inTx+plain {
				t.Errorf("%d changes captured, want %d", n, inTx+plain)
			}
			// Each InTx write: exactly one header, its own actor, request
			// id and action; the rows compared whole, not counted.
			rows, err := db.Pool.Query(context.Background(), `
				SELECT (c.table_pk->>'id')::int, h.actor_ref::text, coalesce(h.request_id, ''), coalesce(a.name, ''), coalesce(a.reason, '')
				FROM threadline.audit_changes c
				JOIN threadline.audit_transactions h ON h.id = c.transaction_id
				LEFT JOIN threadline.audit_actions a ON a.id = h.action_id
				WHERE c.data_after->>'note' = 'intx' ORDER BY 1`)
			if err != nil {
				t.Fatal(err)
			}
			type attributed struct {
				ID                               int
				Actor, RequestID, Action, Reason string
			}
			got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[attributed])
			if err != nil {
				t.Fatal(err)
			}
			var want []attributed
			for w := range modeInTxWriters {
				for i := range modePerInTx {
					id := 5000 + w*modePerInTx + i
					want = append(want, attributed{id, fmt.Sprintf(`{"id": "w%d", "type": "user"}`, id), fmt.Sprint("req-", id), "order.create", fmt.Sprint("r-", id)})
				}
			}
			equal(t, "InTx attribution", got, want)
			if n := faultInt(t, db.Pool, `SELECT count(*) FROM threadline.audit_changes c
				JOIN threadline.audit_transactions h ON h.id = c.transaction_id
				WHERE c.data_after->>'note' = 'plain' AND (h.actor_ref IS NOT NULL OR h.request_id IS NOT NULL OR h.action_id IS NOT NULL)`); n != 0 {
				t.Errorf("%d plain writes are attributed, want none", n)
			}
			if n := faultInt(t, db.Pool, `SELECT count(DISTINCT transaction_id) FROM threadline.audit_changes WHERE data_after->>'note' = 'intx'`); n != inTx {
				t.Errorf("InTx writes in %d transactions, want %d (one each)", n, inTx)
			}
		})
	}
	t.Run("cache_statement fails", func(t *testing.T) {
		db := setupOrders(t)
		b := pgbouncertest.Start(t, db.URL, pgbouncertest.Options{PoolSize: 2})
		pool := modePool(t, b, "cache_statement")
		errs, _ := runModeWorkload(pool)
		prepared := 0
		for _, err := range errs {
			if strings.Contains(err.Error(), "prepared statement") {
				prepared++
			}
		}
		t.Logf("cache_statement through pgbouncer: %d errors, %d about prepared statements", len(errs), prepared)
		if prepared == 0 {
			t.Fatalf("cache_statement worked through transaction pooling (%d errors): the README's warning about it is wrong", len(errs))
		}
	})
}
