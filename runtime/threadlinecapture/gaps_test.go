package threadlinecapture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// TestGapInContinuityAndVerify: a slot dropped while the consumer is down
// loses the changes committed until the consumer creates a new slot; the
// gap it records (from the last written position to the new slot's
// start) is a break in continuity's coverage of the captured table and a
// known gap in verify's report, not a problem, also for a role that only
// reads the trail (the consumer grants it the gaps).
func TestGapInContinuityAndVerify(t *testing.T) {
	db := newDB(t, "wal", waitDDL, "  notes: {}\n")
	ctx := context.Background()
	var b [4]byte
	_, _ = rand.Read(b[:])
	reader := "tl_reader_" + hex.EncodeToString(b[:])
	db.exec(t, `CREATE ROLE `+reader+` LOGIN`)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), cluster.URL)
		if err == nil {
			_, _ = c.Exec(context.Background(), `DROP OWNED BY `+reader+`; DROP ROLE IF EXISTS `+reader)
			c.Close(context.Background())
		}
	})
	db.exec(t, `GRANT USAGE ON SCHEMA threadline TO `+reader+`; GRANT SELECT ON ALL TABLES IN SCHEMA threadline TO `+reader+`; GRANT SELECT ON notes TO `+reader)

	createSlot(t, db, "gap")
	stop := runConsumer(t, db, "gap")
	db.exec(t, `INSERT INTO notes VALUES (1, 'kept')`)
	opts := threadline.TrailWaitOptions{Slot: "gap", Timeout: 30 * time.Second}
	if err := threadline.WaitForTrail(ctx, db.pool, opts); err != nil {
		t.Fatal(err)
	}
	var from string
	var lastWritten time.Time
	if err := db.pool.QueryRow(ctx, `SELECT lsn::text, updated_at FROM threadline.audit_wal_progress WHERE slot = 'gap'`).Scan(&from, &lastWritten); err != nil {
		t.Fatal(err)
	}
	stop()
	dropSlot(t, db, "gap")
	db.exec(t, `INSERT INTO notes VALUES (2, 'lost')`)
	runConsumer(t, db, "gap")
	// The gap is recorded once the new slot exists and has reached its
	// consistent point: a transaction committed later is captured. (The
	// slot's row in pg_replication_slots shows earlier, while the slot
	// may still wait for running transactions: a commit then can fall
	// before its consistent point, into the gap.)
	waitFor(t, db, 10*time.Second, `SELECT count(*) = 1 FROM threadline.audit_wal_gaps WHERE slot = 'gap'`)
	db.exec(t, `INSERT INTO notes VALUES (3, 'kept too')`)
	if err := threadline.WaitForTrail(ctx, db.pool, opts); err != nil {
		t.Fatal(err)
	}
	if got, want := notesTrail(t, db), []string{`insert {"id": 1} {"id": 1, "body": "kept"}`, `insert {"id": 3} {"id": 3, "body": "kept too"}`}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("trail %q, want %q", got, want)
	}
	var to string
	var detected time.Time
	if err := db.pool.QueryRow(ctx, `SELECT until_lsn::text, detected_at FROM threadline.audit_wal_gaps WHERE slot = 'gap'`).Scan(&to, &detected); err != nil {
		t.Fatal(err)
	}
	lw := lastWritten.UTC()
	want := threadlineops.CaptureGap{Slot: "gap", From: from, To: to, LastWrittenAt: &lw, DetectedAt: detected.UTC(),
		Reason: "slot gap was gone (dropped, or lost to max_slot_wal_keep_size) and threadline capture created it again"}

	cfg, err := pgxpool.ParseConfig(db.url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = reader
	readerPool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer readerPool.Close()
	ops := threadlineops.Audit{}
	rep, err := ops.Continuity(ctx, readerPool, []threadlineops.ContinuityTable{{Table: "notes"}}, threadlineops.ContinuityOptions{Exact: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep) != 1 || len(rep[0].Gaps) != 1 || !sameGap(rep[0].Gaps[0], want) || !strings.Contains(rep[0].Explanation, " Coverage has 1 break(s): "+want.String()+".") {
		t.Fatalf("continuity: %+v\nwant the gap %+v", rep, want)
	}
	// The lost row has no captured insert.
	if !rep[0].PredatesCapture || rep[0].RowsWithoutOrigin != 1 {
		t.Fatalf("continuity: rows without a captured insert: %d, want 1 (the row written in the gap)", rep[0].RowsWithoutOrigin)
	}
	vrep, err := ops.Verify(ctx, readerPool, threadlineops.VerifyOptions{})
	if err != nil || vrep.ProblemCount != 0 || len(vrep.Gaps) != 1 || !sameGap(vrep.Gaps[0], want) {
		t.Fatalf("verify: %+v, %v\nwant the gap %+v and no problem", vrep, err, want)
	}
}

func sameGap(g, want threadlineops.CaptureGap) bool {
	return g.Slot == want.Slot && g.From == want.From && g.To == want.To && g.LastWrittenAt != nil && g.LastWrittenAt.Equal(*want.LastWrittenAt) &&
		g.DetectedAt.Equal(want.DetectedAt) && g.Reason == want.Reason
}

// dropSlot drops a slot once the server has seen its consumer leave.
func dropSlot(t *testing.T, db *testDB, slot string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := db.pool.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("drop slot %s: %v", slot, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
