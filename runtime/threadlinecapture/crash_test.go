package threadlinecapture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const childEnv = "THREADLINE_WALCAPTURE_CHILD"

// runChild runs a consumer configured by the environment (the source URL
// in childEnv, the slot in THREADLINE_WALCAPTURE_SLOT, SpillChanges in
// THREADLINE_WALCAPTURE_SPILL).
func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	spill, _ := strconv.Atoi(os.Getenv("THREADLINE_WALCAPTURE_SPILL"))
	c := New(Config{SourceURL: os.Getenv(childEnv), Slot: os.Getenv("THREADLINE_WALCAPTURE_SLOT"), SpillChanges: spill, Logger: log})
	if err := c.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a consumer subprocess.
type child struct {
	cmd  *exec.Cmd
	done chan error
}

func startChild(t testing.TB, db *testDB, slot string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+db.url, "THREADLINE_WALCAPTURE_SLOT="+slot), env...)
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

func (c *child) kill9(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.done
}

// stop sends SIGTERM and requires a clean exit.
func (c *child) stop(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("consumer after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("consumer did not stop within 30 s of SIGTERM")
	}
}

const loadDDL = `
CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL, note text);
INSERT INTO acct SELECT g, 0, 'x' FROM generate_series(1, 1000) AS g;
CREATE TABLE hist (id bigserial PRIMARY KEY, acct int, delta int, at timestamptz DEFAULT now());
`

const loadTables = "  acct: {}\n  hist: {}\n"

// load runs attributed transactions (two updates and an insert each) on
// workers connections until stop is closed; each transaction's actor id
// is unique. It returns the number committed.
func load(t testing.TB, db *testDB, workers int, stop <-chan struct{}) func() int64 {
	t.Helper()
	var n atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a, b := (w*7919+i*31)%1000+1, (w*104729+i*17)%1000+1
				err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
					actor := fmt.Sprintf(`{"type":"user","id":"w%d-%d"}`, w, i)
					if _, err := tx.Exec(ctx, `SELECT threadline.attribute($1::jsonb)`, actor); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `UPDATE acct SET balance = balance + 1 WHERE id = $1`, a); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `UPDATE acct SET balance = balance - 1 WHERE id = $1`, b); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `INSERT INTO hist (acct, delta) VALUES ($1, 1)`, a)
					return err
				})
				if err != nil {
					var pgErr interface{ SQLState() string }
					if errors.As(err, &pgErr) && pgErr.SQLState() == "40P01" {
						continue // deadlock between two workers: rolled back, not counted
					}
					errs <- err
					return
				}
				n.Add(1)
			}
		}()
	}
	return func() int64 {
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("load: %v", err)
		}
		return n.Load()
	}
}

// checkExactlyOnce checks that every committed load transaction is in
// the trail once (one header per source transaction id, kept in meta by
// the WAL engine), with its actor and its three changes (a == b makes the
// two updates of one row two changes as well; a row updated to its own
// value is not possible here).
func checkExactlyOnce(t testing.TB, db *testDB, committed int64) {
	t.Helper()
	ctx := context.Background()
	var headers, actors, changes, dupTx, badTx int64
	err := db.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM threadline.audit_transactions),
		       (SELECT count(DISTINCT actor_ref) FROM threadline.audit_transactions),
		       (SELECT count(*) FROM threadline.audit_changes),
		       (SELECT count(*) FROM (SELECT coalesce(meta->>'xid', txid::text) FROM threadline.audit_transactions GROUP BY 1 HAVING count(*) > 1) AS d),
		       (SELECT count(*) FROM (SELECT transaction_id FROM threadline.audit_changes GROUP BY transaction_id HAVING count(*) <> 3) AS b)`).
		Scan(&headers, &actors, &changes, &dupTx, &badTx)
	if err != nil {
		t.Fatal(err)
	}
	if headers != committed || actors != committed || changes != 3*committed || dupTx != 0 || badTx != 0 {
		t.Fatalf("committed %d transactions; trail: %d headers, %d actors, %d changes (want %d), %d duplicated txids, %d transactions without exactly 3 changes",
			committed, headers, actors, changes, 3*committed, dupTx, badTx)
	}
}

// TestKill9 kills the consumer (a subprocess) with SIGKILL twice under
// load and restarts it: the trail holds every committed transaction
// exactly once.
func TestKill9(t *testing.T) {
	db := newDB(t, "wal", loadDDL, loadTables)
	createSlot(t, db, "crash")
	c := startChild(t, db, "crash")
	stop := make(chan struct{})
	wait := load(t, db, 4, stop)
	for i := 0; i < 2; i++ {
		time.Sleep(1500 * time.Millisecond)
		c.kill9(t)
		time.Sleep(300 * time.Millisecond)
		c = startChild(t, db, "crash")
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	committed := wait()
	waitCaughtUp(t, db, "crash", 60*time.Second)
	c.stop(t)
	if committed < 100 {
		t.Fatalf("only %d transactions committed under load", committed)
	}
	checkExactlyOnce(t, db, committed)
	t.Logf("%d transactions, consumer killed twice: every one captured once", committed)
}

// TestOutage stops the consumer (SIGTERM: a clean stop), runs the load
// without it, then restarts it: it catches up, and the trail holds every
// transaction once. It reports the WAL the slot retained and the
// catch-up rate.
func TestOutage(t *testing.T) {
	outage := 5 * time.Second
	if testing.Short() {
		outage = 2 * time.Second
	}
	if s := os.Getenv("THREADLINE_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		outage = d
	}
	db := newDB(t, "wal", loadDDL, loadTables)
	createSlot(t, db, "outage")
	c := startChild(t, db, "outage")
	stop := make(chan struct{})
	wait := load(t, db, 4, stop)
	time.Sleep(time.Second)
	c.stop(t)
	time.Sleep(outage)
	close(stop)
	committed := wait()
	var retained int64
	if err := db.pool.QueryRow(context.Background(), `SELECT pg_current_wal_lsn() - confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'outage'`).Scan(&retained); err != nil {
		t.Fatal(err)
	}
	var before int64
	_ = db.pool.QueryRow(context.Background(), `SELECT count(*) FROM threadline.audit_changes`).Scan(&before)
	c = startChild(t, db, "outage")
	took := waitCaughtUp(t, db, "outage", 120*time.Second)
	c.stop(t)
	checkExactlyOnce(t, db, committed)
	behind := 3*committed - before
	t.Logf("outage %s: %d transactions committed, slot retained %.1f MB, caught up %d changes in %s (%.0f changes/s)",
		outage, committed, float64(retained)/1e6, behind, took.Round(time.Millisecond), float64(behind)/took.Seconds())
}
