package threadlineops_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
	"github.com/threadline-go/threadline/sqltemplates"
)

const purgeDDL = `CREATE TABLE items (id bigint PRIMARY KEY, v int);`

// maxTx returns the newest audit_transactions id.
func maxTx(t testing.TB, db *pgtest.DB) int64 {
	return capturetest.QueryInt(t, db, "SELECT coalesce(max(id), 0) FROM threadline.audit_transactions")
}

// purgeWorld is the retention scenario, with what a purge of "older
// than a day" must delete:
//
//	T1..T3  old, 7 changes each, all old         → changes and header go
//	T4      old header, 3 old + 4 young changes  → 3 changes go, header stays
//	T5      young, 7 changes                      → stays
//	A1      old action-only, old action           → header goes
//	A2      young action-only                     → stays
//	A3      old header, action inside the window  → stays
//	A4      old, empty, no action                 → header goes
type purgeWorld struct {
	db                     *pgtest.DB
	t1, t2, t3, t4, t5     int64
	a1, a2, a3, a4         int64
	changes, eligible, txs int64
}

func setupPurgeWorld(t testing.TB) purgeWorld {
	t.Helper()
	return setupPurgeWorldWith(t, "")
}

// setupPurgeWorldWith is setupPurgeWorld with extra config (a retention
// section: capturetest.DefaultRetention otherwise).
func setupPurgeWorldWith(t testing.TB, extra string) purgeWorld {
	t.Helper()
	db := capturetest.SetupWith(t, purgeDDL, extra, "  items: {}\n")
	w := purgeWorld{db: db}
	ids := make([]int64, 0, 9)
	id := 0
	for range 5 {
		var stmts []string
		for range 7 {
			id++
			stmts = append(stmts, "INSERT INTO items VALUES ("+itoa(id)+", 0)")
		}
		capturetest.Tx(t, db, threadline.TxOptions{}, "", stmts...)
		ids = append(ids, maxTx(t, db))
	}
	for _, name := range []string{"a1", "a2", "a3", "a4"} {
		capturetest.Tx(t, db, threadline.TxOptions{}, "job."+name)
		ids = append(ids, maxTx(t, db))
	}
	w.t1, w.t2, w.t3, w.t4, w.t5, w.a1, w.a2, w.a3, w.a4 = ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6], ids[7], ids[8]
	old := "now() - interval '10 days'"
	db.Exec(t, "UPDATE threadline.audit_changes SET captured_at = "+old+" WHERE transaction_id = ANY ($1)", []int64{w.t1, w.t2, w.t3})
	db.Exec(t, "UPDATE threadline.audit_changes SET captured_at = "+old+" WHERE id IN (SELECT id FROM threadline.audit_changes WHERE transaction_id = $1 ORDER BY id LIMIT 3)", w.t4)
	db.Exec(t, "UPDATE threadline.audit_transactions SET started_at = "+old+" WHERE id = ANY ($1)", []int64{w.t1, w.t2, w.t3, w.t4, w.a1, w.a3, w.a4})
	db.Exec(t, "UPDATE threadline.audit_actions SET inserted_at = "+old+" WHERE id = (SELECT action_id FROM threadline.audit_transactions WHERE id = $1)", w.a1)
	db.Exec(t, "UPDATE threadline.audit_transactions SET action_id = NULL WHERE id = $1", w.a4)
	w.changes, w.eligible, w.txs = 35, 24, 9
	return w
}

func itoa(i int) string { return strconv.Itoa(i) }

func remainingTx(t testing.TB, db *pgtest.DB) []int64 {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), "SELECT id FROM threadline.audit_transactions ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

var quiet = slog.New(slog.DiscardHandler)

func policy(batch, max int) threadlineops.PurgePolicy {
	return threadlineops.PurgePolicy{Enabled: true, Window: 24 * time.Hour, BatchSize: batch, MaxBatches: max, DeleteEmptyTransactions: true}
}

// sansTiming drops the fields that differ between a plan and a run.
func sansTiming(r threadlineops.PurgeResult) threadlineops.PurgeResult {
	r.Elapsed, r.DryRun, r.Cutoff = 0, false, time.Time{}
	return r
}

func TestPurgePlanEqualsExecute(t *testing.T) {
	w := setupPurgeWorld(t)
	ctx := context.Background()
	a := threadlineops.Audit{}
	plan, err := a.PurgePlan(ctx, w.db.Pool, policy(5, 100), threadlineops.PurgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := threadlineops.PurgeResult{DeletedChanges: 24, DeletedTransactions: 5, Batches: 5 + 1}
	capturetest.Equal(t, "plan", sansTiming(plan), want)
	if !plan.DryRun {
		t.Fatal("plan is not marked dry run")
	}
	// A plan deletes nothing, and works while retention is disabled.
	p := policy(5, 100)
	p.Enabled = false
	if again, err := a.PurgePlan(ctx, w.db.Pool, p, threadlineops.PurgeOptions{}); err != nil || !reflect.DeepEqual(sansTiming(again), want) {
		t.Fatalf("plan with retention disabled: %+v, %v", again, err)
	}
	capturetest.Equal(t, "changes after plans", capturetest.QueryInt(t, w.db, "SELECT count(*) FROM threadline.audit_changes"), int64(35))

	var logs bytes.Buffer
	var events []threadlineops.PurgeBatchEvent
	hooked := a
	hooked.Hooks.PurgeBatch = func(_ context.Context, e threadlineops.PurgeBatchEvent) { events = append(events, e) }
	res, err := hooked.Purge(ctx, w.db.Pool, policy(5, 100), threadlineops.PurgeOptions{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "execute", sansTiming(res), want)
	if d := plan.Cutoff.Sub(res.Cutoff); d > time.Minute || d < -time.Minute {
		t.Fatalf("cutoffs differ: %v vs %v", plan.Cutoff, res.Cutoff)
	}
	capturetest.Equal(t, "changes left", capturetest.QueryInt(t, w.db, "SELECT count(*) FROM threadline.audit_changes"), int64(35-24))
	capturetest.Equal(t, "old changes left", capturetest.QueryInt(t, w.db, "SELECT count(*) FROM threadline.audit_changes WHERE captured_at < now() - interval '1 day'"), int64(0))
	capturetest.Equal(t, "transactions left", remainingTx(t, w.db), []int64{w.t4, w.t5, w.a2, w.a3})
	capturetest.Equal(t, "actions are never purged", capturetest.QueryInt(t, w.db, "SELECT count(*) FROM threadline.audit_actions"), int64(4))

	var sizes []int64
	for _, e := range events {
		sizes = append(sizes, e.DeletedChanges+e.DeletedTransactions)
	}
	capturetest.Equal(t, "batch sizes", sizes, []int64{5, 5, 5, 5, 4, 5})
	capturetest.Equal(t, "last phase", events[5].Phase, "transactions")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	capturetest.Equal(t, "log lines", len(lines), 7)
	for _, l := range lines[:6] {
		if !strings.Contains(l, `msg="threadline retention purge batch"`) || !strings.Contains(l, "elapsed=") {
			t.Errorf("batch log line: %s", l)
		}
	}
	if !strings.Contains(lines[0], "batch=1 phase=changes deleted=5 ") {
		t.Errorf("first batch line: %s", lines[0])
	}
	if !strings.Contains(lines[6], `msg="threadline retention purge finished"`) || !strings.Contains(lines[6], "deleted_changes=24 deleted_transactions=5 batches=6 capped=false") {
		t.Errorf("summary line: %s", lines[6])
	}

	// Nothing is left: re-running is a no-op, and so is its plan.
	again, err := a.Purge(ctx, w.db.Pool, policy(5, 100), threadlineops.PurgeOptions{Logger: quiet})
	if err != nil || !reflect.DeepEqual(sansTiming(again), threadlineops.PurgeResult{}) {
		t.Fatalf("second purge: %+v, %v", again, err)
	}
}

func TestPurgeMaxBatchesCaps(t *testing.T) {
	w := setupPurgeWorld(t)
	ctx := context.Background()
	a := threadlineops.Audit{}
	// Two batches of five: the ten oldest eligible changes are T1's seven
	// and three of T2's, so T1 empties; A1 and A4 are empty already.
	want := threadlineops.PurgeResult{DeletedChanges: 10, DeletedTransactions: 3, RemainingChanges: 14, Capped: true, Batches: 2 + 1}
	plan, err := a.PurgePlan(ctx, w.db.Pool, policy(5, 2), threadlineops.PurgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "plan", sansTiming(plan), want)
	res, err := a.Purge(ctx, w.db.Pool, policy(5, 2), threadlineops.PurgeOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "execute", sansTiming(res), want)
	capturetest.Equal(t, "transactions left", remainingTx(t, w.db), []int64{w.t2, w.t3, w.t4, w.t5, w.a2, w.a3})

	// The next run continues: batch boundaries fall inside transactions.
	want = threadlineops.PurgeResult{DeletedChanges: 14, DeletedTransactions: 2, Batches: 3 + 1}
	plan, err = a.PurgePlan(ctx, w.db.Pool, policy(5, 100), threadlineops.PurgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "second plan", sansTiming(plan), want)
	res, err = a.Purge(ctx, w.db.Pool, policy(5, 100), threadlineops.PurgeOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "second execute", sansTiming(res), want)
	capturetest.Equal(t, "transactions left", remainingTx(t, w.db), []int64{w.t4, w.t5, w.a2, w.a3})
}

func TestPurgeKeepsEmptyTransactionsWhenTold(t *testing.T) {
	w := setupPurgeWorld(t)
	p := policy(500, 10)
	p.DeleteEmptyTransactions = false
	want := threadlineops.PurgeResult{DeletedChanges: 24, Batches: 1}
	plan, err := (threadlineops.Audit{}).PurgePlan(context.Background(), w.db.Pool, p, threadlineops.PurgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "plan", sansTiming(plan), want)
	res, err := (threadlineops.Audit{}).Purge(context.Background(), w.db.Pool, p, threadlineops.PurgeOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "execute", sansTiming(res), want)
	capturetest.Equal(t, "transactions", capturetest.QueryInt(t, w.db, "SELECT count(*) FROM threadline.audit_transactions"), w.txs)
}

func TestPurgeExplicitCutoff(t *testing.T) {
	// A window of one second, so that a cutoff after everything written
	// passes the purge functions once a second has gone by.
	w := setupPurgeWorldWith(t, "retention:\n  max_age_seconds: 1\n")
	ctx := context.Background()
	// A cutoff before everything: nothing is eligible.
	res, err := (threadlineops.Audit{}).Purge(ctx, w.db.Pool, policy(5, 100), threadlineops.PurgeOptions{Logger: quiet, Cutoff: time.Now().Add(-30 * 24 * time.Hour)})
	if err != nil || !reflect.DeepEqual(sansTiming(res), threadlineops.PurgeResult{}) {
		t.Fatalf("early cutoff: %+v, %v", res, err)
	}
	// A cutoff after everything: every change and every transaction goes
	// (the young action-only one too: its action is before the cutoff).
	time.Sleep(1100 * time.Millisecond)
	cut := time.Now().Add(-time.Second)
	plan, err := (threadlineops.Audit{}).PurgePlan(ctx, w.db.Pool, policy(5, 100), threadlineops.PurgeOptions{Cutoff: cut})
	if err != nil {
		t.Fatal(err)
	}
	res, err = (threadlineops.Audit{}).Purge(ctx, w.db.Pool, policy(5, 100), threadlineops.PurgeOptions{Logger: quiet, Cutoff: cut})
	if err != nil {
		t.Fatal(err)
	}
	want := threadlineops.PurgeResult{DeletedChanges: 35, DeletedTransactions: 9, Batches: 7 + 2}
	capturetest.Equal(t, "plan", sansTiming(plan), want)
	capturetest.Equal(t, "execute", sansTiming(res), want)
	capturetest.Equal(t, "cutoff", res.Cutoff, cut)
}

func TestPurgeRefusals(t *testing.T) {
	w := setupPurgeWorld(t)
	ctx := context.Background()
	p := policy(5, 10)
	p.Enabled = false
	if _, err := (threadlineops.Audit{}).Purge(ctx, w.db.Pool, p, threadlineops.PurgeOptions{Logger: quiet}); !errors.Is(err, threadlineops.ErrRetentionDisabled) {
		t.Fatalf("disabled: %v", err)
	}
	if _, err := (threadlineops.Audit{}).PurgePlan(ctx, w.db.Pool, threadlineops.PurgePolicy{}, threadlineops.PurgeOptions{}); !errors.Is(err, threadlineops.ErrInvalidPolicy) {
		t.Fatalf("no window: %v", err)
	}
	tx, err := w.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := (threadlineops.Audit{}).Purge(ctx, tx, policy(5, 10), threadlineops.PurgeOptions{Logger: quiet}); err == nil || !strings.Contains(err.Error(), "inside a transaction") {
		t.Fatalf("in a transaction: %v", err)
	}
	capturetest.Equal(t, "nothing deleted", capturetest.QueryInt(t, w.db, "SELECT count(*) FROM threadline.audit_changes"), w.changes)
}

// TestPurgeRefusesInsideTheWindow: the purge functions refuse a cutoff
// younger than the window the migration was generated with (here one
// day), and every purge of an install generated without a retention
// section, saying what to do; nothing is deleted, and the dry run still
// works.
func TestPurgeRefusesInsideTheWindow(t *testing.T) {
	w := setupPurgeWorld(t)
	ctx := context.Background()
	a := threadlineops.Audit{}
	young := policy(5, 100)
	young.Window = time.Hour
	_, err := a.Purge(ctx, w.db.Pool, young, threadlineops.PurgeOptions{Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "inside the retention window of 86400 seconds") || !strings.Contains(err.Error(), "SQLSTATE 22023") {
		t.Fatalf("purge with a window shorter than the generated one: %v", err)
	}
	capturetest.Equal(t, "nothing deleted", capturetest.QueryInt(t, w.db, "SELECT count(*) FROM threadline.audit_changes"), w.changes)

	// Generated without a retention section: every purge is refused.
	db := pgtest.NewDB(t, purgeDDL)
	db.Exec(t, strings.Join(sqltemplates.Install(threadline.DefaultSchema, sqltemplates.Grants{}, sqltemplates.Storage{}), ";\n"))
	db.Exec(t, "INSERT INTO threadline.audit_transactions (txid, started_at) VALUES ('1', now() - interval '10 days')")
	_, err = a.Purge(ctx, db.Pool, policy(5, 100), threadlineops.PurgeOptions{Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "retention is not configured") || !strings.Contains(err.Error(), "SQLSTATE 55000") {
		t.Fatalf("purge without a retention window: %v", err)
	}
	plan, err := a.PurgePlan(ctx, db.Pool, policy(5, 100), threadlineops.PurgeOptions{})
	if err != nil || plan.DeletedTransactions != 1 {
		t.Fatalf("dry run without a retention window: %+v %v", plan, err)
	}
	capturetest.Equal(t, "nothing deleted", capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_transactions"), int64(1))
}

// gateDeletes makes every DELETE statement on audit_changes first take a
// shared advisory lock on gateKey (so a test holding it exclusively holds
// the batch in flight) and then sleep for public.slow_conf.delay seconds.
func gateDeletes(t testing.TB, db *pgtest.DB, delay time.Duration) {
	db.Exec(t, `CREATE TABLE public.slow_conf (delay float8 NOT NULL)`)
	db.Exec(t, `INSERT INTO public.slow_conf VALUES ($1)`, delay.Seconds())
	db.Exec(t, `CREATE FUNCTION public.gate_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(`+strconv.Itoa(gateKey)+`);
    PERFORM pg_sleep((SELECT delay FROM public.slow_conf));
    RETURN NULL;
END $$`)
	db.Exec(t, `CREATE TRIGGER gate AFTER DELETE ON threadline.audit_changes FOR EACH STATEMENT EXECUTE FUNCTION public.gate_delete()`)
}

const gateKey = 4242

// oldItems writes n changes in transactions of per changes, all older
// than the window.
func oldItems(t testing.TB, n, per int) *pgtest.DB {
	db := capturetest.Setup(t, purgeDDL, "  items: {}\n")
	db.Exec(t, `DO $$ BEGIN FOR i IN 0..`+itoa(n/per-1)+` LOOP
		INSERT INTO items SELECT g, 0 FROM generate_series(i * `+itoa(per)+` + 1, (i + 1) * `+itoa(per)+`) AS g; COMMIT; END LOOP; END $$`)
	db.Exec(t, "UPDATE threadline.audit_changes SET captured_at = captured_at - interval '10 days'")
	db.Exec(t, "UPDATE threadline.audit_transactions SET started_at = started_at - interval '10 days'")
	return db
}

func TestPurgeInterruptedThenRerun(t *testing.T) {
	db := oldItems(t, 200, 10)
	gateDeletes(t, db, 0)
	ctx := context.Background()
	a := threadlineops.Audit{}
	gate, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Release()

	// Interrupt while the third batch is in flight: hold it at the gate,
	// cancel, open the gate. It finishes and counts; nothing more starts.
	runCtx, cancel := context.WithCancel(ctx)
	interrupted := make(chan struct{})
	hooked := a
	hooked.Hooks.PurgeBatch = func(_ context.Context, e threadlineops.PurgeBatchEvent) {
		if e.Batch != 2 {
			return
		}
		if _, err := gate.Exec(ctx, "SELECT pg_advisory_lock($1)", gateKey); err != nil {
			t.Error(err)
		}
		go func() {
			defer close(interrupted)
			for capturetest.QueryInt(t, db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted", gateKey) == 0 {
				time.Sleep(2 * time.Millisecond)
			}
			cancel()
			if _, err := gate.Exec(ctx, "SELECT pg_advisory_unlock($1)", gateKey); err != nil {
				t.Error(err)
			}
		}()
	}
	res, err := hooked.Purge(runCtx, db.Pool, policy(10, 1000), threadlineops.PurgeOptions{Logger: quiet})
	<-interrupted
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted purge: %v", err)
	}
	capturetest.Equal(t, "deleted before the interruption", [2]int64{res.DeletedChanges, int64(res.Batches)}, [2]int64{30, 3})
	capturetest.Equal(t, "changes left", capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_changes"), int64(170))
	// Consistent: every change still has its transaction.
	capturetest.Equal(t, "orphan changes", capturetest.QueryInt(t, db, `SELECT count(*) FROM threadline.audit_changes AS c
		WHERE NOT EXISTS (SELECT 1 FROM threadline.audit_transactions AS t WHERE t.id = c.transaction_id)`), int64(0))

	// Interrupt again at whatever moment a timer fires: the result counts
	// exactly what is gone.
	db.Exec(t, "UPDATE public.slow_conf SET delay = 0.03")
	runCtx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	res2, err := a.Purge(runCtx, db.Pool, policy(10, 1000), threadlineops.PurgeOptions{Logger: quiet})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second interrupted purge: %v", err)
	}
	capturetest.Equal(t, "counted exactly", capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_changes"), 170-res2.DeletedChanges)

	db.Exec(t, "UPDATE public.slow_conf SET delay = 0")
	plan, err := a.PurgePlan(ctx, db.Pool, policy(10, 1000), threadlineops.PurgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res3, err := a.Purge(ctx, db.Pool, policy(10, 1000), threadlineops.PurgeOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "re-run equals its plan", sansTiming(res3), sansTiming(plan))
	capturetest.Equal(t, "all changes", res.DeletedChanges+res2.DeletedChanges+res3.DeletedChanges, int64(200))
	capturetest.Equal(t, "all transactions", res.DeletedTransactions+res2.DeletedTransactions+res3.DeletedTransactions, int64(20))
	capturetest.Equal(t, "empty", capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_changes")+capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_transactions"), int64(0))
}

func TestPurgeConcurrentRunsAreExclusive(t *testing.T) {
	db := oldItems(t, 60, 10)
	a := threadlineops.Audit{}
	ctx := context.Background()
	// The first purge pauses inside its first batch hook, holding the
	// lock, until the second one has tried.
	running, tried := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var first threadlineops.PurgeResult
	var firstErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		hooked := a
		hooked.Hooks.PurgeBatch = func(context.Context, threadlineops.PurgeBatchEvent) {
			once.Do(func() {
				close(running)
				<-tried
			})
		}
		first, firstErr = hooked.Purge(ctx, db.Pool, policy(10, 1000), threadlineops.PurgeOptions{Logger: quiet})
	}()
	<-running
	_, err := a.Purge(ctx, db.Pool, policy(10, 1000), threadlineops.PurgeOptions{Logger: quiet})
	close(tried)
	if !errors.Is(err, threadlineops.ErrPurgeRunning) || !strings.Contains(err.Error(), "backend pid") {
		t.Fatalf("second purge: %v", err)
	}
	<-done
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	capturetest.Equal(t, "first purge", [2]int64{first.DeletedChanges, first.DeletedTransactions}, [2]int64{60, 6})
	// The lock is released: a third purge runs (and finds nothing).
	if _, err := a.Purge(ctx, db.Pool, policy(10, 1000), threadlineops.PurgeOptions{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	// A lock taken by hand (by a role allowed to purge) blocks it too.
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE threadline.audit_purge_lock IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Purge(ctx, db.Pool, policy(10, 1000), threadlineops.PurgeOptions{Logger: quiet}); !errors.Is(err, threadlineops.ErrPurgeRunning) {
		t.Fatalf("with the lock held by hand: %v", err)
	}
}

// BenchmarkPurge measures purge throughput over 200,000 eligible changes
// in 2,000 transactions, with the default batch size and a larger one:
//
//	go test ./runtime -run '^$' -bench Purge -benchtime 1x
func BenchmarkPurge(b *testing.B) {
	for _, batch := range []int{threadlineops.DefaultPurgeBatchSize, 5000} {
		b.Run("batch="+itoa(batch), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db := oldItems(b, 200000, 100)
				db.Exec(b, "VACUUM ANALYZE threadline.audit_changes")
				db.Exec(b, "VACUUM ANALYZE threadline.audit_transactions")
				b.StartTimer()
				res, err := (threadlineops.Audit{}).Purge(context.Background(), db.Pool, policy(batch, 100000), threadlineops.PurgeOptions{Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(res.DeletedChanges)/res.Elapsed.Seconds(), "changes/s")
				b.ReportMetric(float64(res.Elapsed.Milliseconds()), "ms")
			}
		})
	}
}
