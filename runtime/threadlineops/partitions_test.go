package threadlineops_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

const partitionedStorage = "storage:\n  partitions: daily\n  premake: 2\n"

// partitions lists the partitions of an audit table, by name.
func partitions(t *testing.T, db *pgtest.DB, table string) string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
		WHERE i.inhparent = ('threadline.' || $1)::regclass ORDER BY 1`, table)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(names, " ")
}

// day names the daily partition of table for the day d days from today
// (UTC).
func day(table string, d int) string {
	return table + "_p" + time.Now().UTC().AddDate(0, 0, d).Format("20060102")
}

func TestPartitionedStorage(t *testing.T) {
	ctx := context.Background()
	db := capturetest.SetupWith(t, sealDDL, partitionedStorage, "  items: {}\n")
	ops := threadlineops.Audit{}
	// The install made today's partitions and the next two.
	want := func(table string, days ...int) string {
		names := []string{table + "_default"}
		for _, d := range days {
			names = append(names, day(table, d))
		}
		return strings.Join(names, " ")
	}
	for _, table := range []string{"audit_changes", "audit_transactions"} {
		if got := partitions(t, db, table); got != want(table, 0, 1, 2) {
			t.Fatalf("%s after install: %s", table, got)
		}
	}
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "INSERT INTO items VALUES (1, 1, NULL)")
	if n := capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline."+day("audit_changes", 0)); n != 1 {
		t.Fatalf("today's change is not in today's partition (%d)", n)
	}
	// Rows no partition covers land in the default partitions; maintain
	// gives them partitions of their own.
	db.Exec(t, `INSERT INTO threadline.audit_transactions (txid, started_at) VALUES ('1', now() - interval '10 days')`)
	db.Exec(t, `INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
		SELECT id, 'public', 'items', '{"id": 9}', 'insert', '{"id": 9}', started_at FROM threadline.audit_transactions WHERE txid = '1'`)
	if n := capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_changes_default"); n != 1 {
		t.Fatalf("default partition holds %d changes, want 1", n)
	}
	acts, err := ops.Maintain(ctx, db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(acts)
	if got != "[{audit_changes "+day("audit_changes", -10)+" moved 1} {audit_transactions "+day("audit_transactions", -10)+" moved 1}]" {
		t.Fatalf("maintain did %s", got)
	}
	if n := capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_changes_default"); n != 0 {
		t.Fatalf("default partition still holds %d changes", n)
	}
	if again, err := ops.Maintain(ctx, db.Pool); err != nil || len(again) != 0 {
		t.Fatalf("maintain again: %v %v", again, err)
	}
	// The old change is read like any other.
	h, err := (threadline.Audit{}).History(ctx, db.Pool, "items", map[string]any{"id": 9}, threadline.HistoryOptions{})
	if err != nil || len(h) != 1 {
		t.Fatalf("history of the moved change: %v %v", h, err)
	}

	// Purge: the expired partitions go whole; nothing unexpired does.
	policy := threadlineops.PurgePolicy{Enabled: true, Window: 5 * 24 * time.Hour, DeleteEmptyTransactions: true}
	plan, err := ops.PurgePlan(ctx, db.Pool, policy, threadlineops.PurgeOptions{})
	if err != nil || plan.DeletedChanges != 1 || plan.DeletedTransactions != 1 || len(plan.Partitions) != 2 || plan.Batches != 0 {
		t.Fatalf("plan: %+v %v", plan, err)
	}
	res, err := ops.Purge(ctx, db.Pool, policy, threadlineops.PurgeOptions{})
	if err != nil || res.DeletedChanges != 1 || res.DeletedTransactions != 1 || len(res.Partitions) != 2 || res.Batches != 0 {
		t.Fatalf("purge: %+v %v", res, err)
	}
	for _, table := range []string{"audit_changes", "audit_transactions"} {
		if got := partitions(t, db, table); got != want(table, 0, 1, 2) {
			t.Fatalf("%s after purge: %s", table, got)
		}
	}
	if n := capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_changes"); n != 1 {
		t.Fatalf("%d changes after purge, want today's 1", n)
	}
}

// TestMaintainAndPurgeWithWriters: writers commit while maintain moves
// rows and purge drops partitions; every write is captured exactly once.
func TestMaintainAndPurgeWithWriters(t *testing.T) {
	ctx := context.Background()
	db := capturetest.SetupWith(t, sealDDL, partitionedStorage, "  items: {}\n")
	ops := threadlineops.Audit{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := 0
	errc := make(chan error, 4)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, "INSERT INTO items VALUES ($1, 1, NULL)", w*1_000_000+i)
					return err
				})
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				committed++
				mu.Unlock()
			}
		}()
	}
	policy := threadlineops.PurgePolicy{Enabled: true, Window: 5 * 24 * time.Hour, DeleteEmptyTransactions: true}
	for round := range 5 {
		// Old rows land in the default partitions, for maintain to move
		// and purge to drop.
		db.Exec(t, fmt.Sprintf(`INSERT INTO threadline.audit_transactions (txid, started_at) VALUES ('%d', now() - interval '%d days')`, round+1, 10+round))
		if _, err := ops.Maintain(ctx, db.Pool); err != nil {
			t.Fatal(err)
		}
		if _, err := ops.Purge(ctx, db.Pool, policy, threadlineops.PurgeOptions{}); err != nil && !errors.Is(err, threadlineops.ErrPurgeRunning) {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	changes := capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_changes")
	items := capturetest.QueryInt(t, db, "SELECT count(*) FROM items")
	if committed == 0 || int64(committed) != items || changes != items {
		t.Fatalf("%d committed, %d rows, %d changes", committed, items, changes)
	}
	if n := capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_transactions WHERE started_at < now() - interval '5 days'"); n != 0 {
		t.Fatalf("%d expired transactions left", n)
	}
}

// TestPurgeKeepsATransactionPartitionStillInUse: an expired transaction
// partition whose transaction still has a young change (a long
// transaction) is not dropped; its expired neighbour is.
func TestPurgeKeepsATransactionPartitionStillInUse(t *testing.T) {
	ctx := context.Background()
	db := capturetest.SetupWith(t, sealDDL, partitionedStorage, "  items: {}\n")
	ops := threadlineops.Audit{}
	db.Exec(t, `INSERT INTO threadline.audit_transactions (txid, started_at) VALUES ('1', now() - interval '10 days'), ('2', now() - interval '12 days')`)
	db.Exec(t, `INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
		SELECT id, 'public', 'items', '{"id": 1}', 'insert', '{"id": 1}', now() FROM threadline.audit_transactions WHERE txid = '1'`)
	if _, err := ops.Maintain(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	res, err := ops.Purge(ctx, db.Pool, threadlineops.PurgePolicy{Enabled: true, Window: 5 * 24 * time.Hour, DeleteEmptyTransactions: true}, threadlineops.PurgeOptions{})
	if err != nil || len(res.Partitions) != 1 || res.Partitions[0].Partition != "threadline."+day("audit_transactions", -12) {
		t.Fatalf("purge: %+v %v", res, err)
	}
	if got := partitions(t, db, "audit_transactions"); !strings.Contains(got, day("audit_transactions", -10)) {
		t.Fatalf("the partition still in use went: %s", got)
	}
}

// TestSealAcrossPartitionDrops: a sealed trail in daily partitions
// verifies after purge dropped sealed partitions (counted as purged).
func TestSealAcrossPartitionDrops(t *testing.T) {
	ctx := context.Background()
	db := capturetest.SetupWith(t, sealDDL, partitionedStorage, "  items: {}\n")
	ops := threadlineops.Audit{}
	db.Exec(t, `INSERT INTO threadline.audit_transactions (txid, started_at) VALUES ('1', now() - interval '10 days')`)
	db.Exec(t, `INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
		SELECT id, 'public', 'items', '{"id": 9}', 'insert', '{"id": 9}', started_at FROM threadline.audit_transactions WHERE txid = '1'`)
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "INSERT INTO items VALUES (1, 1, NULL)")
	if _, err := ops.Maintain(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	sealed, err := ops.Seal(ctx, db.Pool)
	if err != nil || sealed.Transactions != 2 || sealed.Changes != 2 {
		t.Fatalf("seal: %+v %v", sealed, err)
	}
	res, err := ops.Purge(ctx, db.Pool, threadlineops.PurgePolicy{Enabled: true, Window: 5 * 24 * time.Hour, DeleteEmptyTransactions: true}, threadlineops.PurgeOptions{})
	if err != nil || len(res.Partitions) != 2 {
		t.Fatalf("purge: %+v %v", res, err)
	}
	rep, err := ops.Verify(ctx, db.Pool, threadlineops.VerifyOptions{Head: sealed.Head})
	if err != nil || rep.PurgedTransactions != 1 || rep.PurgedChanges != 1 || rep.Changes != 1 {
		t.Fatalf("verify after dropping sealed partitions: %+v %v", rep, err)
	}
}
