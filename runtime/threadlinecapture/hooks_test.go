package threadlinecapture

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestHooksReportBatches: BatchWritten reports every batch the consumer
// writes (transactions, stored changes, commit times, end position), and
// a failed write with its error before the consumer stops on it.
func TestHooksReportBatches(t *testing.T) {
	db := newDB(t, "wal", waitDDL, "  notes: {}\n")
	createSlot(t, db, "hooks")
	var mu sync.Mutex
	var events []BatchEvent
	c := New(Config{SourceURL: db.url, Slot: "hooks", Publication: "threadline", Logger: testLogger(t),
		Hooks: Hooks{BatchWritten: func(_ context.Context, e BatchEvent) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	before := time.Now()
	db.exec(t, `INSERT INTO notes VALUES (1, 'a'), (2, 'b')`)
	db.exec(t, `UPDATE notes SET body = body WHERE id = 1`) // a no-op: nothing stored
	db.exec(t, `INSERT INTO notes VALUES (3, 'c')`)
	after := time.Now()
	waitCaughtUp(t, db, "hooks", 30*time.Second)

	mu.Lock()
	got := slices.Clone(events)
	mu.Unlock()
	var txs, changes int
	var commits []time.Time
	for _, e := range got {
		if e.Err != nil || e.Slot != "hooks" || e.Duration <= 0 || e.Start.Before(before) {
			t.Fatalf("event %+v", e)
		}
		txs, changes = txs+e.Transactions, changes+e.Changes
		commits = append(commits, e.Commits...)
	}
	if txs != 3 || changes != 3 {
		t.Fatalf("hooks reported %d transactions and %d changes, want 3 and 3 (%+v)", txs, changes, got)
	}
	if len(commits) != 3 || !slices.IsSortedFunc(commits, func(a, b time.Time) int { return a.Compare(b) }) ||
		commits[0].Before(before.Add(-time.Second)) || commits[2].After(after.Add(time.Second)) {
		t.Fatalf("commit times %v, want 3 in order between %v and %v", commits, before, after)
	}
	var progress string
	if err := db.pool.QueryRow(ctx, `SELECT lsn::text FROM threadline.audit_wal_progress WHERE slot = 'hooks'`).Scan(&progress); err != nil {
		t.Fatal(err)
	}
	if last := got[len(got)-1].EndLSN; last != progress {
		t.Fatalf("last batch ended at %s, audit_wal_progress holds %s", last, progress)
	}
	if n := countRows(t, db, `threadline.audit_changes`); n != 3 {
		t.Fatalf("audit_changes holds %d rows, want 3", n)
	}

	// A write that fails is reported with its error, and stops the
	// consumer with it.
	db.exec(t, `ALTER TABLE threadline.audit_changes RENAME TO audit_changes_gone`)
	db.exec(t, `INSERT INTO notes VALUES (4, 'd')`)
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer did not stop on a failed write")
	}
	mu.Lock()
	last := events[len(events)-1]
	mu.Unlock()
	if runErr == nil || last.Err == nil || !errors.Is(runErr, last.Err) && runErr.Error() != last.Err.Error() {
		t.Fatalf("Run returned %v; the last event's error is %v", runErr, last.Err)
	}
	if last.Transactions != 1 || last.Changes != 0 {
		t.Fatalf("failed batch reported %d transactions and %d changes, want 1 and 0", last.Transactions, last.Changes)
	}
}

// countRows counts the rows of table.
func countRows(t *testing.T, db *testDB, table string) int {
	t.Helper()
	var n int
	if err := db.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
