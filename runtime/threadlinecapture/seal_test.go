package threadlinecapture

import (
	"context"
	"testing"
	"time"

	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// TestSealCoversWALTrail: seal() run while threadline capture writes
// covers every header, each exactly once, whatever the order in which
// source transactions and the consumer's batches commit (each header
// carries the txid of the batch that wrote it); verify then checks the
// whole trail and finds a change edited after sealing.
func TestSealCoversWALTrail(t *testing.T) {
	db := newDB(t, "wal", loadDDL, loadTables)
	createSlot(t, db, "seal")
	startConsumer(t, db, "seal")
	stop := make(chan struct{})
	wait := load(t, db, 3, stop)
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		time.Sleep(300 * time.Millisecond)
		if _, err := db.pool.Exec(ctx, `SELECT * FROM threadline.seal()`); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	committed := wait()
	waitCaughtUp(t, db, "seal", 60*time.Second)
	if _, err := db.pool.Exec(ctx, `SELECT * FROM threadline.seal()`); err != nil {
		t.Fatal(err)
	}
	var headers, sealed, twice int64
	if err := db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM threadline.audit_transactions),
		(SELECT count(DISTINCT transaction_id) FROM threadline.audit_seal_entries),
		(SELECT count(*) FROM (SELECT transaction_id FROM threadline.audit_seal_entries GROUP BY 1 HAVING count(*) > 1) AS d)`).Scan(&headers, &sealed, &twice); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, db, committed)
	if sealed != headers || twice != 0 {
		t.Fatalf("%d headers, %d sealed, %d sealed twice", headers, sealed, twice)
	}
	rep, err := threadlineops.Audit{Schema: "threadline"}.Verify(ctx, db.pool, threadlineops.VerifyOptions{})
	if err != nil {
		t.Fatalf("verify: %v (%+v)", err, rep)
	}
	if rep.Transactions != headers || rep.Changes != 3*committed {
		t.Fatalf("verify checked %d transactions and %d changes, want %d and %d", rep.Transactions, rep.Changes, headers, 3*committed)
	}
	// A change edited after sealing is found.
	db.exec(t, `UPDATE threadline.audit_changes SET data_after = '{}' WHERE id = (SELECT min(id) FROM threadline.audit_changes)`)
	if _, err := (threadlineops.Audit{Schema: "threadline"}).Verify(ctx, db.pool, threadlineops.VerifyOptions{}); err == nil {
		t.Fatal("verify missed an edited change")
	}
}
