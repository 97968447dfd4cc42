package threadlinecapture

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestSpillBoundsMemory: one UPDATE of 100,000 rows of 1 kB each (two
// images of 100 MB in all, with replica identity full) is written while
// the consumer's heap stays far below what holding the transaction would
// take, and the trail holds every change exactly.
func TestSpillBoundsMemory(t *testing.T) {
	const rows = 100000
	db := largeUpdate(t, "spill", rows, 32)

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	startConsumerWith(t, Config{SourceURL: db.url, Slot: "spill", SpillChanges: 1000})
	waitCaughtUp(t, db, "spill", 5*time.Minute)
	close(stop)
	<-sampled

	var updates, right int
	if err := db.pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE c.data_after = to_jsonb(w) AND c.data_before IS NULL
		AND c.changed_fields = '{n}' AND c.table_pk = jsonb_build_object('id', w.id))
		FROM threadline.audit_changes AS c JOIN wide AS w ON w.id = (c.table_pk->>'id')::int WHERE c.op = 'update'`).Scan(&updates, &right); err != nil {
		t.Fatal(err)
	}
	if updates != rows || right != rows {
		t.Fatalf("the trail holds %d updates, %d of them right; want %d", updates, right, rows)
	}
	var headers int
	if err := db.pool.QueryRow(context.Background(), `SELECT count(DISTINCT transaction_id) FROM threadline.audit_changes WHERE op = 'update'`).Scan(&headers); err != nil || headers != 1 {
		t.Fatalf("the update's changes are under %d headers (%v), want 1", headers, err)
	}
	grew := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("heap: %d MB before, peak %d MB while writing %d changes of 2 kB", base.HeapAlloc>>20, peak.Load()>>20, rows)
	if grew > 64<<20 {
		t.Fatalf("the consumer's heap grew by %d MB: the transaction was held in memory", grew>>20)
	}
}

// TestKill9WhileSpilling: a consumer killed while it stages a large
// transaction leaves nothing of it in the trail; the next one writes it
// whole, once.
func TestKill9WhileSpilling(t *testing.T) {
	const rows = 50000
	db := largeUpdate(t, "spillkill", rows, 8)

	c := startChild(t, db, "spillkill", "THREADLINE_WALCAPTURE_SPILL=500")
	// Staging has begun once the trail's connection has a transaction
	// open with rows in it.
	ctx := context.Background()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var staging bool
		if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'threadline capture (trail)'
			AND datname = current_database() AND backend_xid IS NOT NULL)`).Scan(&staging); err != nil {
			t.Fatal(err)
		}
		if staging {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the consumer did not start staging within 60 s")
		}
	}
	c.kill9(t)
	if n := countRows(t, db, "threadline.audit_changes"); n != 0 {
		t.Fatalf("after kill -9 mid-transaction the trail holds %d of its changes, want 0", n)
	}
	c = startChild(t, db, "spillkill", "THREADLINE_WALCAPTURE_SPILL=500")
	waitCaughtUp(t, db, "spillkill", 2*time.Minute)
	c.stop(t)
	var changes, keys, headers int
	if err := db.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT table_pk), count(DISTINCT transaction_id) FROM threadline.audit_changes`).
		Scan(&changes, &keys, &headers); err != nil {
		t.Fatal(err)
	}
	if changes != rows || keys != rows || headers != 1 {
		t.Fatalf("the trail holds %d changes of %d rows under %d headers, want %d, %d, 1", changes, keys, headers, rows, rows)
	}
}

// largeUpdate creates a captured table of rows rows whose text is width
// times 32 bytes, then the slot, then updates every row in one
// transaction: the slot's first transaction.
func largeUpdate(t *testing.T, slot string, rows, width int) *testDB {
	t.Helper()
	db := newDB(t, "wal", `CREATE TABLE wide (id int PRIMARY KEY, v text NOT NULL, n int NOT NULL)`, "  wide: {}\n")
	db.exec(t, `INSERT INTO wide SELECT g, repeat(md5(g::text), $2), 0 FROM generate_series(1, $1) AS g`, rows, width)
	createSlot(t, db, slot)
	db.exec(t, `UPDATE wide SET n = 1`)
	return db
}
