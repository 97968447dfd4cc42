package threadline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	osexec "os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlinehttp"
)

// Fault injection: dump/restore with colliding txids, connections killed
// and contexts cancelled in the middle of InTx, hostile attribution
// settings written by raw SQL, and a forged header cache.

const faultDDL = `CREATE TABLE ledger (id bigint PRIMARY KEY, note text NOT NULL);`

const faultTables = "  ledger: {}\n"

func faultSetup(t *testing.T) *pgtest.DB {
	t.Helper()
	return capturetest.Setup(t, faultDDL, faultTables)
}

func faultInsert(ctx context.Context, tx pgx.Tx, id int64, note string) error {
	_, err := tx.Exec(ctx, `INSERT INTO ledger (id, note) VALUES ($1, $2)`, id, note)
	return err
}

func faultInt(t *testing.T, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// TestFaultRestoreWithCollidingTxids copies a database with capture and
// audit rows to a fresh database with pg_dump | psql, then makes the txid
// of new transactions collide with restored headers (as after a restore
// into a new cluster, where txids restart): new changes must get new
// audit_transactions rows, never attach to restored ones.
//
// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestFaultRestoreWithCollidingTxids(t *testing.T) {
	a := faultSetup(t)
	ctx := context.Background()
	alice := threadline.User("alice")
	for i := int64(1); i <= 3; i++ {
		err := threadline.InTx(ctx, a.Pool, threadline.TxOptions{Actor: alice}, func(tx pgx.Tx) error {
			return faultInsert(ctx, tx, i, fmt.Sprintf("before dump %d", i))
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	b := pgtest.NewDB(t)
	dump := osexec.Command("pg_dump", "--no-owner", "--no-privileges", "-d", a.URL)
	var out, stderr bytes.Buffer
	dump.Stdout, dump.Stderr = &out, &stderr
	if err := dump.Run(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, stderr.String())
	}
	restore := osexec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", b.URL)
	restore.Stdin = &out
	stderr.Reset()
	restore.Stderr = &stderr
	if err := restore.Run(); err != nil {
		t.Fatalf("psql restore: %v\n%s", err, stderr.String())
	}
	if n := faultInt(t, b.Pool, `SELECT count(*) FROM threadline.audit_changes`); n != 3 {
		t.Fatalf("restored %d audit changes, want 3 (restoring data must not fire capture)", n)
	}
	rows, err := b.Pool.Query(ctx, `SELECT id FROM threadline.audit_transactions ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	oldIDs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(oldIDs) != 3 {
		t.Fatalf("restored headers %v (%v), want 3", oldIDs, err)
	}

	// In B, make every restored header and one more "restored" header
	// carry the txid of the transaction about to write.
	bob := threadline.User("bob")
	var fakeID, headerID int64
	var txid string
	err = threadline.InTx(ctx, b.Pool, threadline.TxOptions{Actor: bob, CorrelationID: "after-restore"}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&txid); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE threadline.audit_transactions SET txid = $1::xid8`, txid); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO threadline.audit_transactions (txid, started_at, actor_ref)
			VALUES ($1::xid8, '2001-01-01', '{"type":"user","id":"restored"}') RETURNING id`, txid).Scan(&fakeID)
		if err != nil {
			return err
		}
		if err := faultInsert(ctx, tx, 10, "after restore"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE ledger SET note = 'after restore, updated' WHERE id = 1`); err != nil {
			return err
		}
		act, err := threadline.RecordAction(ctx, tx, "restore.check", threadline.ActionOptions{})
		headerID = act.TransactionID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	collided := append(slices.Clone(oldIDs), fakeID)
	if slices.Contains(collided, headerID) {
		t.Fatalf("the new transaction was attached to restored header %d (restored/colliding: %v)", headerID, collided)
	}
	rows, err = b.Pool.Query(ctx, `SELECT DISTINCT transaction_id FROM threadline.audit_changes WHERE id > 3`)
	if err != nil {
		t.Fatal(err)
	}
	newTx, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if len(newTx) != 1 || newTx[0] != headerID {
		t.Fatalf("new changes belong to headers %v, want only %d", newTx, headerID)
	}
	var hTxid, hActor string
	var old bool
	if err := b.Pool.QueryRow(ctx, `SELECT txid::text, actor_ref::text, started_at < '2002-01-01'
		FROM threadline.audit_transactions WHERE id = $1`, headerID).Scan(&hTxid, &hActor, &old); err != nil {
		t.Fatal(err)
	}
	if hTxid != txid || hActor != `{"id": "bob", "type": "user"}` || old {
		t.Errorf("new header: txid=%s actor=%s old=%v; want txid %s, bob", hTxid, hActor, old, txid)
	}
	// The restored headers are untouched: still one change each, no action.
	if n := faultInt(t, b.Pool, `SELECT count(*) FROM threadline.audit_changes WHERE transaction_id = ANY($1)`, collided); n != 3 {
		t.Errorf("restored headers now own %d changes, want 3", n)
	}
	if n := faultInt(t, b.Pool, `SELECT count(*) FROM threadline.audit_transactions WHERE action_id IS NOT NULL AND id = ANY($1)`, collided); n != 0 {
		t.Errorf("the action was linked to %d restored headers", n)
	}
	// A later transaction (new txid, no collision) gets its own header too.
	if err := threadline.InTx(ctx, b.Pool, threadline.TxOptions{Actor: bob}, func(tx pgx.Tx) error { return faultInsert(ctx, tx, 11, "later") }); err != nil {
		t.Fatal(err)
	}
	if n := faultInt(t, b.Pool, `SELECT count(DISTINCT transaction_id) FROM threadline.audit_changes WHERE id > 3`); n != 2 {
		t.Errorf("two new transactions wrote under %d headers", n)
	}
}

// TestFaultConnectionKilledMidTransaction terminates the backend of an
// InTx transaction from another connection, once before another statement
// and once before COMMIT: InTx returns an error, nothing of the
// transaction is in the audit tables, and a retry succeeds.
//
// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestFaultConnectionKilledMidTransaction(t *testing.T) {
	db := faultSetup(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	killer, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(ctx)
	kill := func(tx pgx.Tx) error {
		var pid int32
		if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			return err
		}
		var ok bool
		// Wait (up to 10 s) until the backend is gone.
		if err := killer.QueryRow(ctx, `SELECT pg_terminate_backend($1, 10000)`, pid).Scan(&ok); err != nil || !ok {
			return fmt.Errorf("terminate %d: %v %v", pid, ok, err)
		}
		return nil
	}
	for i, mode := range []string{"before a statement", "before commit"} {
		id := int64(100 + i)
		corr := fmt.Sprintf("killed-%d", i)
		var killErr error
		err := threadline.InTx(ctx, pool, threadline.TxOptions{Actor: threadline.Job("killer"), CorrelationID: corr}, func(tx pgx.Tx) error {
			if err := faultInsert(ctx, tx, id, "doomed "+mode); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE ledger SET note = note || '!' WHERE id = $1`, id); err != nil {
				return err
			}
			if killErr = kill(tx); killErr != nil {
				return killErr
			}
			if mode == "before a statement" {
				return faultInsert(ctx, tx, id+1000, "never")
			}
			return nil
		})
		if killErr != nil {
			t.Fatal(killErr)
		}
		if err == nil {
			t.Fatalf("%s: InTx succeeded on a killed connection", mode)
		}
		t.Logf("%s: InTx error: %v", mode, err)
		if n := faultInt(t, killer, `SELECT count(*) FROM threadline.audit_changes WHERE table_pk->>'id' IN ($1, $2)`,
			fmt.Sprint(id), fmt.Sprint(id+1000)); n != 0 {
			t.Errorf("%s: %d audit changes of the killed transaction", mode, n)
		}
		if n := faultInt(t, killer, `SELECT count(*) FROM threadline.audit_transactions WHERE correlation_id = $1`, corr); n != 0 {
			t.Errorf("%s: %d headers of the killed transaction", mode, n)
		}
		if n := faultInt(t, killer, `SELECT count(*) FROM ledger WHERE id = $1`, id); n != 0 {
			t.Errorf("%s: the killed transaction's row exists", mode)
		}
		// Retry on the same pool: succeeds, recorded once.
		err = threadline.InTx(ctx, pool, threadline.TxOptions{Actor: threadline.Job("killer"), CorrelationID: corr}, func(tx pgx.Tx) error {
			if err := faultInsert(ctx, tx, id, "retried "+mode); err != nil {
				return err
			}
			_, err := threadline.RecordAction(ctx, tx, "retry", threadline.ActionOptions{})
			return err
		})
		if err != nil {
			t.Fatalf("%s: retry: %v", mode, err)
		}
		if n := faultInt(t, killer, `SELECT count(*) FROM threadline.audit_changes c JOIN threadline.audit_transactions t
			ON t.id = c.transaction_id WHERE t.correlation_id = $1 AND c.op = 'insert' AND c.data_after->>'note' = $2`,
			corr, "retried "+mode); n != 1 {
			t.Errorf("%s: retry recorded %d times", mode, n)
		}
	}
	if n := faultInt(t, killer, `SELECT count(*) FROM threadline.audit_changes`); n != 2 {
		t.Errorf("audit_changes holds %d rows, want the 2 retries", n)
	}
	if n := faultInt(t, killer, `SELECT count(*) FROM threadline.audit_actions`); n != 2 {
		t.Errorf("audit_actions holds %d rows, want 2", n)
	}
}

// TestFaultContextCancelledMidStatement cancels InTx's context while a
// statement of the transaction runs: InTx returns the cancellation, the
// transaction is rolled back and leaves no audit rows.
func TestFaultContextCancelledMidStatement(t *testing.T) {
	db := faultSetup(t)
	watcher, err := pgx.Connect(context.Background(), db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.User("impatient")}, func(tx pgx.Tx) error {
		if err := faultInsert(ctx, tx, 1, "cancelled"); err != nil {
			return err
		}
		var pid int32
		if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			return err
		}
		go func() {
			// Cancel once the backend is inside pg_sleep (event-driven:
			// no timing assumption beyond "it eventually gets there").
			for {
				var sleeping bool
				if err := watcher.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
					WHERE pid = $1 AND query LIKE '%pg_sleep%' AND state = 'active')`, pid).Scan(&sleeping); err != nil || sleeping {
					cancel()
					return
				}
			}
		}()
		_, err := tx.Exec(ctx, `SELECT pg_sleep(60)`)
		return err
	})
	if err == nil || !(errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "cancel")) {
		t.Fatalf("InTx = %v, want a cancellation", err)
	}
	for _, table := range []string{"threadline.audit_changes", "threadline.audit_transactions", "ledger"} {
		if n := faultInt(t, watcher, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("%s holds %d rows after the cancelled transaction", table, n)
		}
	}
}

// TestFaultHostileAttributionSettings sets malformed and huge attribution
// settings by raw SQL, bound to the transaction as attribute() binds
// them: the business write always succeeds, the actor is NULL and the raw
// value is kept, truncated, in actor_ref_invalid; ids are truncated to 256
// characters. Session-level garbage attributes nothing and is not kept.
// InTx refuses oversized attribution before writing anything.
//
// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestFaultHostileAttributionSettings(t *testing.T) {
	db := faultSetup(t)
	ctx := context.Background()
	mb := 1 << 20
	cases := []struct {
		name, raw, invalid string
	}{
		{"1 MB of ASCII", strings.Repeat("x", mb), strings.Repeat("x", 4096)},
		// left() counts characters: 4096 characters of 2 bytes each.
		{"1 MB of é", strings.Repeat("é", mb/2), strings.Repeat("é", 4096)},
		{"1 MB valid-looking actor", `{"type":"user","id":"` + strings.Repeat("u", mb) + `"}`,
			(`{"type":"user","id":"` + strings.Repeat("u", mb))[:4096]},
		{"not JSON", `{"type":"user","id":`, `{"type":"user","id":`},
		{"deep nesting", strings.Repeat("[", 2000) + strings.Repeat("]", 2000), strings.Repeat("[", 2000) + strings.Repeat("]", 2000)},
		{"lone surrogate", `{"type":"user","id":"\ud800"}`, `{"type":"user","id":"\ud800"}`},
		{"NUL escape", `{"type":"user","id":"\u0000"}`, `{"type":"user","id":"\u0000"}`},
		{"extra key", `{"type":"admin","id":"1","role":"root"}`, `{"type":"admin","id":"1","role":"root"}`},
		{"number id", `{"type":"user","id":1}`, `{"type":"user","id":1}`},
		{"SQL in it", `'); DELETE FROM ledger; --`, `'); DELETE FROM ledger; --`},
	}
	bigID := strings.Repeat("c", mb)
	for i, c := range cases {
		conn, err := db.Pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, `BEGIN`)
		if err == nil {
			_, err = conn.Exec(ctx, `SELECT set_config('threadline.actor_ref', $1, true),
				set_config('threadline.correlation_id', $2, true), set_config('threadline.request_id', $2, true),
				set_config('threadline.attribution_tx', `+contract.TxStartSQL+`, true)`, c.raw, bigID)
		}
		if err == nil {
			_, err = conn.Exec(ctx, `INSERT INTO ledger VALUES ($1, $2)`, i, c.name)
		}
		if err == nil {
			_, err = conn.Exec(ctx, `COMMIT`)
		}
		conn.Release()
		if err != nil {
			t.Fatalf("%s: the business write failed: %v", c.name, err)
		}
		var actorNull bool
		var invalid, corr, req string
		err = db.Pool.QueryRow(ctx, `SELECT t.actor_ref IS NULL, t.actor_ref_invalid, t.correlation_id, t.request_id
			FROM threadline.audit_changes c JOIN threadline.audit_transactions t ON t.id = c.transaction_id
			WHERE c.table_pk = jsonb_build_object('id', $1::bigint)`, i).Scan(&actorNull, &invalid, &corr, &req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !actorNull || invalid != c.invalid {
			t.Errorf("%s: actor null=%v, actor_ref_invalid = %.60q… (%d bytes), want %.60q… (%d bytes)",
				c.name, actorNull, invalid, len(invalid), c.invalid, len(c.invalid))
		}
		if corr != bigID[:256] || req != bigID[:256] {
			t.Errorf("%s: correlation/request ids kept %d/%d bytes, want 256", c.name, len(corr), len(req))
		}
	}

	// Session-level garbage (not transaction-local), autocommit write: not
	// bound to the transaction, so ignored, not even kept for forensics.
	db.Exec(t, `SELECT set_config('threadline.actor_ref', 'garbage', false)`)
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET threadline.actor_ref = '{"type":"user","id":"session-level"}x'`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO ledger VALUES (100, 'session garbage')`); err != nil {
		t.Fatalf("write with session-level garbage: %v", err)
	}
	// InTx on that very connection publishes its own (empty) values: the
	// session-level garbage does not attribute its transaction.
	err = threadline.InTx(ctx, conn.Conn(), threadline.TxOptions{}, func(tx pgx.Tx) error { return faultInsert(ctx, tx, 101, "intx over garbage") })
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Pool.Query(ctx, `SELECT coalesce(t.actor_ref::text, ''), coalesce(t.actor_ref_invalid, '')
		FROM threadline.audit_changes c JOIN threadline.audit_transactions t ON t.id = c.transaction_id
		WHERE c.table_pk->>'id' IN ('100', '101') ORDER BY c.id`)
	if err != nil {
		t.Fatal(err)
	}
	type pair struct{ Actor, Invalid string }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pair])
	if err != nil {
		t.Fatal(err)
	}
	want := []pair{{"", ""}, {"", ""}}
	if !slices.Equal(got, want) {
		t.Errorf("session garbage: got %q, want %q", got, want)
	}

	// InTx refuses oversized or invalid attribution before BEGIN.
	before := faultInt(t, db.Pool, `SELECT count(*) FROM threadline.audit_changes`)
	for _, opt := range []threadline.TxOptions{{Actor: threadline.User(strings.Repeat("u", mb))}, {Actor: threadline.User(" ")}, {CorrelationID: bigID}} {
		called := false
		err := threadline.InTx(ctx, db.Pool, opt, func(tx pgx.Tx) error { called = true; return faultInsert(ctx, tx, 200, "never") })
		if err == nil || called {
			t.Errorf("InTx with invalid attribution: err=%v, fn called=%v", err, called)
		}
		if len(err.Error()) > 2000 {
			t.Errorf("the error message echoes the oversized value (%d bytes)", len(err.Error()))
		}
	}
	if n := faultInt(t, db.Pool, `SELECT count(*) FROM threadline.audit_changes`); n != before {
		t.Errorf("refused transactions wrote %d audit changes", n-before)
	}
}

// TestFaultForgedTransactionCache: the header id of the current
// transaction is cached in the transaction-local setting
// threadline.transaction as "txid:id", and the cache is trusted when the
// txid matches. Any client that can write to an audited table can read its
// own txid and set that setting, attaching its changes to ANY existing
// audit_transactions row — another actor's transaction, from another day.
// The audit trail must not let a writer file its changes under someone
// else's transaction.
func TestFaultForgedTransactionCache(t *testing.T) {
	db := faultSetup(t)
	ctx := context.Background()
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.Admin("root")}, func(tx pgx.Tx) error { return faultInsert(ctx, tx, 1, "by the admin") })
	if err != nil {
		t.Fatal(err)
	}
	adminHeader := faultInt(t, db.Pool, `SELECT transaction_id FROM threadline.audit_changes`)

	err = threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.User("mallory")}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SELECT set_config('threadline.transaction', pg_current_xact_id()::text || ':' || $1::text, true)`,
			fmt.Sprint(adminHeader))
		if err != nil {
			return err
		}
		if err := faultInsert(ctx, tx, 2, "by mallory, filed under the admin"); err != nil {
			return err
		}
		// RecordAction links the action to the current header: with the
		// forged cache, to the admin's (an UPDATE of an existing audit row).
		act, err := threadline.RecordAction(ctx, tx, "mallory.action", threadline.ActionOptions{})
		if err == nil && act.TransactionID == adminHeader {
			t.Errorf("BUG: RecordAction in a transaction with a forged cache linked its action to the admin's header %d", adminHeader)
		}
		return err
	})
	if err != nil {
		t.Fatalf("the write itself must succeed (or fail loudly): %v", err)
	}
	var header int64
	var actor string
	if err := db.Pool.QueryRow(ctx, `SELECT t.id, coalesce(t.actor_ref::text, '') FROM threadline.audit_changes c
		JOIN threadline.audit_transactions t ON t.id = c.transaction_id WHERE c.table_pk->>'id' = '2'`).Scan(&header, &actor); err != nil {
		t.Fatal(err)
	}
	if header == adminHeader {
		t.Errorf("BUG: a forged threadline.transaction setting filed mallory's change under the admin's transaction %d "+
			"(actor %s); current_transaction_id() trusts the cached id when only the txid matches", header, actor)
	}
	if actor != `{"id": "mallory", "type": "user"}` {
		t.Errorf("mallory's change is attributed to %s", actor)
	}
}

// TestSecretsNeverLeak plants a unique marker in an excluded column (and
// another in a masked one) of an audited table, drives inserts, updates and
// deletes through the HTTP middleware and InTx with every log at Debug,
// records an action, runs the investigation queries, diffs and exports,
// provokes errors, and scans everything: no audit row (cast whole to
// text), query result, export, log line or error message holds either
// marker.
//
// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestSecretsNeverLeak(t *testing.T) {
	const secret = "SECRET-MARKER-4e1f9b27"
	const email = "MASKED-MARKER-a8c3d5e0@example.com"
	db := capturetest.Setup(t, `CREATE TABLE users (
		id integer PRIMARY KEY,
		name text NOT NULL,
		email text,
		password_hash text CHECK (password_hash NOT LIKE '%-rejected')
	)`, "  users:\n    exclude: [password_hash]\n    mask: [email]\n    store_changed_from: true\n")
	ctx := context.Background()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(prev)
	hooks := threadline.SlogHooks(logger)
	var errs []string
	a := threadline.Audit{Hooks: hooks}

	steps := []func(tx pgx.Tx) error{
		func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO users VALUES (1, 'Ann', $1, $2), (2, 'Bob', NULL, $2 || '-2')`, email, secret)
			if err != nil {
				return err
			}
			_, err = a.RecordAction(ctx, tx, "user.create", threadline.ActionOptions{Reason: "signup"})
			return err
		},
		func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 || '-changed', name = 'Annie', email = 'x' || $2 WHERE id = 1`, secret, email)
			return err
		},
		func(tx pgx.Tx) error { // excluded column only: two audit rows naming it, no value
			_, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 || '-only'`, secret)
			return err
		},
		func(tx pgx.Tx) error { // rejected by the CHECK constraint: an error
			_, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 || '-rejected' WHERE id = 2`, secret)
			return err
		},
		func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `DELETE FROM users WHERE id = 2`)
			return err
		},
	}
	step := 0
	handler := threadlinehttp.Middleware(threadlinehttp.Options{
		Logger: logger,
		Actor:  func(*http.Request) (threadline.ActorRef, error) { return threadline.User("ann"), nil },
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := threadline.InTx(r.Context(), db.Pool, threadline.TxOptions{}, steps[step])
		if err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%+v", err))
			logger.ErrorContext(r.Context(), "write failed", "error", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	for step = range steps {
		req := httptest.NewRequest(http.MethodPost, "/users", nil)
		req.Header.Set(threadlinehttp.HeaderCorrelationID, fmt.Sprintf("corr-%d", step))
		req.Header.Set(threadlinehttp.HeaderRequestID, "bad request id with spaces")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		errs = append(errs, rec.Body.String())
	}
	if len(errs) == 0 || !strings.Contains(strings.Join(errs, " "), "check constraint") {
		t.Fatalf("the CHECK violation did not surface as an error: %q", errs)
	}

	// Investigation: everything a user or the CLI can read.
	var results []any
	keep := func(v any, err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
		results = append(results, v)
	}
	page, err := a.Timeline(ctx, db.Pool, threadline.Filter{})
	keep(page, err)
	if len(page.Changes) != 6 {
		t.Fatalf("timeline: %d changes, want 6 (2 inserts, 3 updates, 1 delete)", len(page.Changes))
	}
	for _, c := range page.Changes {
		keep(threadline.DiffChange(c))
		keep(a.Transaction(ctx, db.Pool, c.TransactionID))
		keep(a.TransactionChanges(ctx, db.Pool, c.TransactionID, threadline.HistoryOptions{}))
	}
	keep(a.History(ctx, db.Pool, "users", map[string]any{"id": 1}, threadline.HistoryOptions{}))
	keep(a.History(ctx, db.Pool, "users", `{"id": 2}`, threadline.HistoryOptions{}))
	keep(a.ActorHistory(ctx, db.Pool, threadline.User("ann"), threadline.Filter{Table: "users"}))
	keep(a.AsOf(ctx, db.Pool, "users", map[string]any{"id": 1}, time.Now()))
	keep(a.AsOf(ctx, db.Pool, "users", map[string]any{"id": 2}, time.Now()))
	keep(a.Timeline(ctx, db.Pool, threadline.Filter{CorrelationID: "corr-0"}))
	for _, format := range []threadline.ExportFormat{threadline.ExportCSV, threadline.ExportJSON, threadline.ExportNDJSON} {
		var out bytes.Buffer
		res, err := a.Export(ctx, db.Pool, &out, threadline.ExportOptions{Format: format})
		keep(res, err)
		results = append(results, out.String())
	}
	// Errors from invalid input echo the input, never stored values.
	_, err = a.History(ctx, db.Pool, "users", "not a key", threadline.HistoryOptions{})
	keep(nil, err)
	_, err = threadline.DecodeJSON[struct{ ID string }](page.Changes[0].After)
	keep(nil, err)

	var dump strings.Builder
	for _, r := range results {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("marshal %T: %v", r, err)
		}
		dump.Write(b)
		fmt.Fprintf(&dump, "%+v", r)
	}
	for _, table := range []string{"audit_changes", "audit_transactions", "audit_actions"} {
		rows, err := db.Pool.Query(ctx, `SELECT t::text FROM threadline.`+table+` AS t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		dump.WriteString(strings.Join(texts, "\n"))
	}
	for name, text := range map[string]string{
		"audit rows and query results": dump.String(),
		"logs":                         logs.String(),
		"errors":                       strings.Join(errs, "\n"),
	} {
		for _, marker := range []string{"SECRET-MARKER", "MASKED-MARKER"} {
			if i := strings.Index(text, marker); i >= 0 {
				t.Errorf("%s hold %s: …%s…", name, marker, text[max(0, i-80):min(len(text), i+80)])
			}
		}
	}
	// The scan looked at something: the logs hold the action and exports.
	if !strings.Contains(logs.String(), "threadline action recorded") || !strings.Contains(logs.String(), "threadline export finished") {
		t.Errorf("logs lack the hook events:\n%s", logs.String())
	}
	if !strings.Contains(dump.String(), "[REDACTED]") || !strings.Contains(dump.String(), "Annie") {
		t.Error("the scanned results lack the captured rows")
	}
}
