package threadlinecapture

import (
	"strings"
	"testing"
	"time"
)

// migrate generates the next migration of engine for the migrations
// already in files (plain format), applies its up and records it in files.
func migrate(t *testing.T, db *testDB, files map[string][]byte, engine, extra, tables string, at time.Time) string {
	t.Helper()
	up := generateNext(t, db.pool, files, engine, extra, tables, at)
	db.exec(t, up)
	return up
}

// TestSwitchEngineUnderLoad switches an installed trigger capture to
// engine: wal and back while a load and the consumer run, the documented
// way: (1) a wal section with engine: trigger prepares the switch (the
// publication, empty, and the attribute() that also sends the message;
// the triggers stay); (2) the consumer starts (its slot then postdates the
// publication); (3) engine: wal: one migration drops the triggers and adds
// the tables to the publication; (4) engine: trigger again. Every
// committed transaction is in the trail exactly once, with its actor.
func TestSwitchEngineUnderLoad(t *testing.T) {
	db := newDB(t, "trigger", loadDDL, "")
	files := map[string][]byte{}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	migrate(t, db, files, "trigger", "", loadTables, t0)
	stop := make(chan struct{})
	wait := load(t, db, 3, stop)
	time.Sleep(500 * time.Millisecond)
	const wal = "wal:\n  slot: switch\n"
	up := migrate(t, db, files, "trigger", wal, loadTables, t0.Add(time.Minute))
	if !strings.Contains(up, "CREATE PUBLICATION") || strings.Contains(up, "DROP TRIGGER") {
		t.Fatalf("the prepare migration should create the publication and keep the triggers:\n%s", up)
	}
	waitStreaming(t, startConsumer(t, db, "switch"))
	time.Sleep(500 * time.Millisecond)
	up = migrate(t, db, files, "wal", wal, loadTables, t0.Add(2*time.Minute))
	if !strings.Contains(up, "ADD TABLE") || !strings.Contains(up, "DROP TRIGGER") {
		t.Fatalf("the switch migration neither drops triggers nor joins the publication:\n%s", up)
	}
	time.Sleep(time.Second)
	migrate(t, db, files, "trigger", wal, loadTables, t0.Add(3*time.Minute))
	time.Sleep(time.Second)
	close(stop)
	committed := wait()
	waitCaughtUp(t, db, "switch", 60*time.Second)
	checkExactlyOnce(t, db, committed)
	t.Logf("%d transactions across trigger -> wal -> trigger: each captured once, with its actor", committed)
}
