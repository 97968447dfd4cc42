package threadlinecapture

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	threadline "github.com/threadline-go/threadline/runtime"
)

// waitDDL has a captured table and one outside the publication.
const waitDDL = `CREATE TABLE notes (id int PRIMARY KEY, body text); CREATE TABLE scratch (id int)`

// runConsumer runs a consumer until the returned stop is called (or the
// test ends).
func runConsumer(t *testing.T, db *testDB, slot string) (stop func()) {
	t.Helper()
	c := New(Config{SourceURL: db.url, Slot: slot, Publication: "threadline", Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// notesTrail returns the trail's changes of notes, in order, as
// "op pk after" lines.
func notesTrail(t *testing.T, db *testDB) []string {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), `SELECT op || ' ' || table_pk::text || ' ' || coalesce(data_after::text, '-')
		FROM threadline.audit_changes WHERE table_name = 'notes' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestWaitForTrail: right after threadline.WaitForTrail returns, the trail
// holds the exact changes committed before it, for several commits in a
// row; a commit that touched only an uncaptured table (the consumer has
// nothing to write, and confirms the server's position) ends the wait
// too. The trigger engine's options (no slot) return at once; a
// transaction and a missing slot are refused.
func TestWaitForTrail(t *testing.T) {
	db := newDB(t, "wal", waitDDL, "  notes: {}\n")
	createSlot(t, db, "wait")
	runConsumer(t, db, "wait")
	ctx := context.Background()
	opts := threadline.TrailWaitOptions{Slot: "wait", Timeout: 30 * time.Second}

	var want []string
	for i := 1; i <= 3; i++ {
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO notes VALUES ($1::int, 'n' || $1::int)`, i); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE notes SET body = body || '!' WHERE id = $1`, i)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := threadline.WaitForTrail(ctx, db.pool, opts); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		got := notesTrail(t, db)
		want = append(want,
			`insert {"id": `+strconv.Itoa(i)+`} {"id": `+strconv.Itoa(i)+`, "body": "n`+strconv.Itoa(i)+`"}`,
			`update {"id": `+strconv.Itoa(i)+`} {"id": `+strconv.Itoa(i)+`, "body": "n`+strconv.Itoa(i)+`!"}`)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("commit %d: right after the wait (%s) the trail holds\n%s\nwant\n%s", i, time.Since(start), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		t.Logf("commit %d: in the trail %s after the wait began", i, time.Since(start).Round(time.Millisecond))
	}

	// Nothing captured since: the wait ends on the confirmed server position.
	if _, err := db.pool.Exec(ctx, `INSERT INTO scratch VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	if err := threadline.WaitForTrail(ctx, db.pool, opts); err != nil {
		t.Fatalf("after an uncaptured write: %v", err)
	}

	// engine: trigger: no slot, no query (a nil handle is not touched).
	if err := threadline.WaitForTrail(ctx, nil, threadline.TrailWaitOptions{}); err != nil {
		t.Fatalf("trigger engine: %v", err)
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		return threadline.WaitForTrail(ctx, tx, opts)
	})
	if want := "threadline: wait for trail: db is a transaction: call WaitForTrail after the commit, with a pool or connection"; err == nil || err.Error() != want {
		t.Fatalf("in a transaction: %v, want %s", err, want)
	}
	err = threadline.WaitForTrail(ctx, db.pool, threadline.TrailWaitOptions{Slot: "nope"})
	if want := `threadline: wait for trail: slot "nope" does not exist in this database: threadline capture creates it when it starts (is it running against this database? threadline doctor checks)`; err == nil || err.Error() != want {
		t.Fatalf("missing slot: %v, want %s", err, want)
	}
}

// TestWaitForTrailTimeout: with the consumer stopped, the wait ends at
// its timeout with an error naming the slot, the position, how far
// behind the slot is and that no consumer reads it, wrapping
// context.DeadlineExceeded; a cancelled ctx ends it with ctx's error;
// once the consumer runs again, the wait ends with the change in the
// trail.
func TestWaitForTrailTimeout(t *testing.T) {
	db := newDB(t, "wal", waitDDL, "  notes: {}\n")
	createSlot(t, db, "stopped")
	stop := runConsumer(t, db, "stopped")
	ctx := context.Background()
	opts := threadline.TrailWaitOptions{Slot: "stopped", Timeout: 30 * time.Second}
	if err := threadline.WaitForTrail(ctx, db.pool, opts); err != nil {
		t.Fatal(err)
	}
	stop()
	// The server notices the replication connection's end.
	waitFor(t, db, 10*time.Second, `SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'stopped'`)
	var confirmed string
	if err := db.pool.QueryRow(ctx, `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'stopped'`).Scan(&confirmed); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO notes VALUES (7, 'seven')`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := threadline.WaitForTrail(ctx, db.pool, threadline.TrailWaitOptions{Slot: "stopped", Timeout: 300 * time.Millisecond})
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stopped consumer: %v, want context.DeadlineExceeded", err)
	}
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("the wait took %s, want its 300ms timeout", took)
	}
	m := regexp.MustCompile(`^threadline: wait for trail: slot "stopped" did not reach commit position (\S+) within (\S+): it has confirmed (\S+), (\d+) bytes of WAL behind; no consumer is reading it: is threadline capture running\?: context deadline exceeded$`).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("error: %v", err)
	}
	var behind int64
	if err := db.pool.QueryRow(ctx, `SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::int8`, m[1], confirmed).Scan(&behind); err != nil {
		t.Fatal(err)
	}
	if waited, _ := time.ParseDuration(m[2]); m[3] != confirmed || m[4] != strconv.FormatInt(behind, 10) || behind <= 0 || waited < 300*time.Millisecond {
		t.Fatalf("error: %v\nwant the slot's confirmed position %s and %d bytes behind, after at least 300ms", err, confirmed, behind)
	}
	if got := notesTrail(t, db); len(got) != 0 {
		t.Fatalf("the trail holds %q with the consumer stopped", got)
	}

	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	err = threadline.WaitForTrail(cctx, db.pool, opts)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `slot "stopped" did not reach commit position`) {
		t.Fatalf("cancelled: %v, want context.Canceled", err)
	}

	runConsumer(t, db, "stopped")
	if err := threadline.WaitForTrail(ctx, db.pool, opts); err != nil {
		t.Fatalf("consumer restarted: %v", err)
	}
	if got, want := notesTrail(t, db), []string{`insert {"id": 7} {"id": 7, "body": "seven"}`}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after the restart the trail holds %q, want %q", got, want)
	}
}
