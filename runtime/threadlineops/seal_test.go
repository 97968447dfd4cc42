package threadlineops_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

const sealDDL = `CREATE TABLE items (id bigint PRIMARY KEY, v int, note text);`

var sealOps = threadlineops.Audit{}

// sealWorld is a trail of three transactions (one with an action, one
// with an update and a delete), sealed once.
func sealWorld(t *testing.T) (*pgtest.DB, threadlineops.SealResult) {
	t.Helper()
	db := capturetest.Setup(t, sealDDL, "  items: {store_changed_from: true}\n")
	actor := threadline.TxOptions{Actor: threadline.User("7"), RequestID: "req-1"}
	capturetest.Tx(t, db, actor, "items.create", "INSERT INTO items VALUES (1, 1, 'one'), (2, 2, 'two')")
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "UPDATE items SET v = 10, note = 'ten' WHERE id = 1", "DELETE FROM items WHERE id = 2")
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "INSERT INTO items VALUES (3, 3, NULL)")
	res, err := sealOps.Seal(context.Background(), db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if res.Seal != 1 || res.Transactions != 3 || res.Changes != 5 || len(res.Head) != 64 {
		t.Fatalf("seal: %+v", res)
	}
	return db, res
}

// verify runs Verify and returns the problems, one per line.
func verify(t *testing.T, db *pgtest.DB, o threadlineops.VerifyOptions) (threadlineops.VerifyReport, string) {
	t.Helper()
	rep, err := sealOps.Verify(context.Background(), db.Pool, o)
	if err != nil && !errors.Is(err, threadlineops.ErrVerifyFailed) {
		t.Fatal(err)
	}
	if (err != nil) != (rep.ProblemCount > 0) {
		t.Fatalf("verify: error %v with %d problems", err, rep.ProblemCount)
	}
	var lines []string
	for _, p := range rep.Problems {
		lines = append(lines, p.What)
	}
	return rep, strings.Join(lines, "\n")
}

func TestSealThenVerify(t *testing.T) {
	ctx := context.Background()
	db, first := sealWorld(t)
	rep, problems := verify(t, db, threadlineops.VerifyOptions{Head: first.Head})
	if problems != "" || rep.Seals != 1 || rep.Transactions != 3 || rep.Changes != 5 || rep.Head != first.Head {
		t.Fatalf("verify: %+v\n%s", rep, problems)
	}
	// Nothing new: no seal.
	if res, err := sealOps.Seal(ctx, db.Pool); err != nil || res.Seal != 0 {
		t.Fatalf("idle seal: %+v %v", res, err)
	}
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "UPDATE items SET note = 'three' WHERE id = 3")
	second, err := sealOps.Seal(ctx, db.Pool)
	if err != nil || second.Seal != 2 || second.Transactions != 1 || second.Changes != 1 {
		t.Fatalf("second seal: %+v %v", second, err)
	}
	rep, problems = verify(t, db, threadlineops.VerifyOptions{Head: first.Head})
	if problems != "" || rep.Seals != 2 || rep.Changes != 6 || rep.Head != second.Head {
		t.Fatalf("verify: %+v\n%s", rep, problems)
	}
	if rep, problems = verify(t, db, threadlineops.VerifyOptions{FromSeal: 2}); problems != "" || rep.Seals != 1 {
		t.Fatalf("verify from seal 2: %+v\n%s", rep, problems)
	}
}

// TestVerifyNamesWhatBroke: every kind of edit of sealed data, made by a
// superuser after sealing, makes verify fail naming the change or the
// transaction; undone, verify passes again.
func TestVerifyNamesWhatBroke(t *testing.T) {
	db, sealed := sealWorld(t)
	upd := capturetest.QueryInt(t, db, "SELECT id FROM threadline.audit_changes WHERE op = 'update'")
	tx := capturetest.QueryInt(t, db, "SELECT transaction_id FROM threadline.audit_changes WHERE id = $1", upd)
	check := func(name, want string, tamper, undo []string) {
		t.Helper()
		for _, s := range tamper {
			db.Exec(t, s)
		}
		_, problems := verify(t, db, threadlineops.VerifyOptions{Head: sealed.Head})
		if !strings.Contains(problems, want) {
			t.Errorf("%s: verify says\n%s\nwant %q", name, problems, want)
		}
		for _, s := range undo {
			db.Exec(t, s)
		}
		if _, problems := verify(t, db, threadlineops.VerifyOptions{Head: sealed.Head}); problems != "" {
			t.Fatalf("%s undone: verify says\n%s", name, problems)
		}
	}
	changed := fmt.Sprintf("seal 1: change %d of transaction %d: its stored bytes changed since sealing", upd, tx)
	for col, value := range map[string]string{
		"table_schema": "'x'", "table_name": "'x'", "table_pk": `'{"id": 9}'`, "table_pk_before": `'{"id": 9}'`,
		"op": "'delete'", "data_after": `'{}'`, "data_before": `'{}'`, "changed_fields": "'{v}'",
		"changed_from": `'{"v": 5}'`, "captured_at": "captured_at + interval '1 microsecond'",
	} {
		var orig string
		if err := db.Pool.QueryRow(context.Background(), "SELECT coalesce(quote_literal("+col+"), 'NULL') FROM threadline.audit_changes WHERE id = $1", upd).Scan(&orig); err != nil {
			t.Fatal(err)
		}
		set := func(v string) []string {
			return []string{fmt.Sprintf("UPDATE threadline.audit_changes SET %s = %s WHERE id = %d", col, v, upd)}
		}
		check("UPDATE of "+col, changed, set(value), set(orig))
	}
	check("UPDATE of transaction_id", fmt.Sprintf("seal 1: change %d was added to sealed transaction %d", upd, tx+1),
		[]string{fmt.Sprintf("UPDATE threadline.audit_changes SET transaction_id = %d WHERE id = %d", tx+1, upd)},
		[]string{fmt.Sprintf("UPDATE threadline.audit_changes SET transaction_id = %d WHERE id = %d", tx, upd)})
	check("header edit", fmt.Sprintf("seal 1: transaction %d: its header or action changed since sealing", tx),
		[]string{fmt.Sprintf("UPDATE threadline.audit_transactions SET request_id = 'forged' WHERE id = %d", tx)},
		[]string{fmt.Sprintf("UPDATE threadline.audit_transactions SET request_id = NULL WHERE id = %d", tx)})
	check("action edit", "its header or action changed since sealing",
		[]string{"UPDATE threadline.audit_actions SET reason = 'forged'"},
		[]string{"UPDATE threadline.audit_actions SET reason = NULL"})

	saved := "CREATE TABLE saved AS SELECT * FROM threadline.audit_changes WHERE id = " + itoa(int(upd))
	restore := []string{"INSERT INTO threadline.audit_changes OVERRIDING SYSTEM VALUE SELECT * FROM saved", "DROP TABLE saved"}
	check("DELETE of a change", fmt.Sprintf("seal 1: change %d of transaction %d is missing (deleted after sealing)", upd, tx),
		[]string{saved, "DELETE FROM threadline.audit_changes WHERE id = " + itoa(int(upd))}, restore)
	check("INSERT of a forged change", fmt.Sprintf("was added to sealed transaction %d", tx),
		[]string{fmt.Sprintf(`INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
			VALUES (%d, 'public', 'items', '{"id": 1}', 'update', '{"id": 1, "v": 99}', now())`, tx)},
		[]string{"DELETE FROM threadline.audit_changes WHERE data_after @> '{\"v\": 99}'"})
	check("DELETE of a transaction", fmt.Sprintf("seal 1: transaction %d is missing (deleted after sealing)", tx),
		[]string{"CREATE TABLE saved_c AS SELECT * FROM threadline.audit_changes WHERE transaction_id = " + itoa(int(tx)),
			"CREATE TABLE saved_t AS SELECT * FROM threadline.audit_transactions WHERE id = " + itoa(int(tx)),
			"DELETE FROM threadline.audit_changes WHERE transaction_id = " + itoa(int(tx)),
			"DELETE FROM threadline.audit_transactions WHERE id = " + itoa(int(tx))},
		[]string{"INSERT INTO threadline.audit_transactions OVERRIDING SYSTEM VALUE SELECT * FROM saved_t",
			"INSERT INTO threadline.audit_changes OVERRIDING SYSTEM VALUE SELECT * FROM saved_c", "DROP TABLE saved_c, saved_t"})
	// A forged transaction inside the sealed range: a txid the seal's
	// snapshot saw.
	check("INSERT of a forged transaction", "was added inside the sealed range",
		[]string{"INSERT INTO threadline.audit_transactions (txid, started_at) VALUES ('3', now())"},
		[]string{"DELETE FROM threadline.audit_transactions WHERE txid = '3'"})
	check("rewrite of a seal", "seal 1: its entries do not match its entries digest: the seal entries were rewritten",
		[]string{"CREATE TABLE saved_e AS SELECT * FROM threadline.audit_seal_entries",
			"UPDATE threadline.audit_seal_entries SET digest = sha256(digest) WHERE transaction_id = " + itoa(int(tx))},
		[]string{"UPDATE threadline.audit_seal_entries AS e SET digest = s.digest FROM saved_e AS s WHERE s.transaction_id = e.transaction_id",
			"DROP TABLE saved_e"})
}

// TestVerifyDetectsARewrittenChain: an edit followed by sealing anew
// passes every internal check; only the head recorded outside the
// database shows it. A seal row rewritten breaks the link to the next.
func TestVerifyDetectsARewrittenChain(t *testing.T) {
	ctx := context.Background()
	db, sealed := sealWorld(t)
	db.Exec(t, "UPDATE threadline.audit_changes SET data_after = '{\"id\": 3, \"v\": 1000}' WHERE op = 'insert' AND table_pk = '{\"id\": 3}'")
	db.Exec(t, "DELETE FROM threadline.audit_seal_entries")
	db.Exec(t, "DELETE FROM threadline.audit_seals")
	if _, err := sealOps.Seal(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	if _, problems := verify(t, db, threadlineops.VerifyOptions{}); problems != "" {
		t.Fatalf("a consistent rewrite fails without a head: %s", problems)
	}
	_, problems := verify(t, db, threadlineops.VerifyOptions{Head: sealed.Head})
	if want := "the recorded head " + sealed.Head + " is not the head of any seal: the chain was rewritten"; problems != want {
		t.Fatalf("verify -head says\n%s\nwant %s", problems, want)
	}

	capturetest.Tx(t, db, threadline.TxOptions{}, "", "INSERT INTO items VALUES (4, 4, NULL)")
	if _, err := sealOps.Seal(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, "UPDATE threadline.audit_seals SET head = sha256(head) WHERE id = 1")
	_, problems = verify(t, db, threadlineops.VerifyOptions{})
	if !strings.Contains(problems, "seal 1: its head does not match its entries") || !strings.Contains(problems, "seal 2: its previous head does not match seal 1's head: broken link") {
		t.Fatalf("rewritten seal row: %s", problems)
	}
	db.Exec(t, "DELETE FROM threadline.audit_seals WHERE id = 1")
	if _, problems = verify(t, db, threadlineops.VerifyOptions{}); !strings.Contains(problems, "seals 1 to 1 are missing: the chain does not start at seal 1") {
		t.Fatalf("deleted seal row: %s", problems)
	}
}

// TestSealNeverSealsARunningTransaction: a transaction that wrote before
// a seal and commits after it is sealed by the next seal, whatever its id.
func TestSealNeverSealsARunningTransaction(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, sealDDL, "  items: {}\n")
	long, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer long.Rollback(ctx)
	if _, err := long.Exec(ctx, "INSERT INTO items VALUES (1, 1, 'long')"); err != nil {
		t.Fatal(err)
	}
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "INSERT INTO items VALUES (2, 2, 'short')")
	first, err := sealOps.Seal(ctx, db.Pool)
	if err != nil || first.Transactions != 1 {
		t.Fatalf("first seal: %+v %v", first, err)
	}
	if err := long.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := sealOps.Seal(ctx, db.Pool)
	if err != nil || second.Seal != 2 || second.Transactions != 1 {
		t.Fatalf("second seal: %+v %v", second, err)
	}
	if n := capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_seal_entries"); n != 2 {
		t.Fatalf("%d entries, want 2 (each transaction sealed once)", n)
	}
	if rep, problems := verify(t, db, threadlineops.VerifyOptions{}); problems != "" || rep.Transactions != 2 {
		t.Fatalf("verify: %+v %s", rep, problems)
	}
}

// TestVerifyAfterPurge: sealed data a recorded purge deleted is counted,
// not reported; a sealed change deleted otherwise still is.
func TestVerifyAfterPurge(t *testing.T) {
	ctx := context.Background()
	db, _ := sealWorld(t)
	db.Exec(t, "UPDATE threadline.audit_changes SET captured_at = captured_at - interval '40 days' WHERE table_pk = '{\"id\": 2}'")
	db.Exec(t, "UPDATE threadline.audit_transactions SET started_at = started_at - interval '40 days'")
	// The seal was taken of the data before it aged: seal again from scratch.
	db.Exec(t, "DELETE FROM threadline.audit_seal_entries")
	db.Exec(t, "DELETE FROM threadline.audit_seals")
	if _, err := sealOps.Seal(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	res, err := sealOps.Purge(ctx, db.Pool, threadlineops.PurgePolicy{Enabled: true, Window: 24 * time.Hour, DeleteEmptyTransactions: true}, threadlineops.PurgeOptions{})
	if err != nil || res.DeletedChanges != 2 {
		t.Fatalf("purge: %+v %v", res, err)
	}
	rep, problems := verify(t, db, threadlineops.VerifyOptions{})
	if problems != "" || rep.PurgedChanges != 2 || rep.Changes != 3 {
		t.Fatalf("verify after purge: %+v\n%s", rep, problems)
	}
	db.Exec(t, "DELETE FROM threadline.audit_changes WHERE table_pk = '{\"id\": 3}'")
	if _, problems = verify(t, db, threadlineops.VerifyOptions{}); !strings.Contains(problems, "is missing (deleted after sealing)") {
		t.Fatalf("a young change deleted after a purge: %s", problems)
	}
}

// TestSealConcurrentWithWriters: seals taken every few milliseconds while
// writers commit short and long transactions seal every transaction
// exactly once, and verify passes.
func TestSealConcurrentWithWriters(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, sealDDL, "  items: {}\n")
	done := make(chan struct{})
	errc := make(chan error, 8)
	for w := range 4 {
		go func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					errc <- nil
					return
				default:
				}
				err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "INSERT INTO items VALUES ($1, $2, NULL)", w*1_000_000+i, i); err != nil {
						return err
					}
					if i%5 == 0 { // a long one: it writes, then waits before committing
						time.Sleep(15 * time.Millisecond)
					}
					_, err := tx.Exec(ctx, "UPDATE items SET v = v + 1 WHERE id = $1", w*1_000_000+i)
					return err
				})
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	seals := 0
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); {
		res, err := sealOps.Seal(ctx, db.Pool)
		if err != nil {
			t.Fatal(err)
		}
		if res.Seal > 0 {
			seals++
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(done)
	for range 4 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sealOps.Seal(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	txs := capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_transactions")
	entries := capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_seal_entries")
	distinct := capturetest.QueryInt(t, db, "SELECT count(DISTINCT transaction_id) FROM threadline.audit_seal_entries")
	sealedChanges := capturetest.QueryInt(t, db, "SELECT coalesce(sum(changes), 0) FROM threadline.audit_seals")
	changes := capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_changes")
	if seals < 5 || txs < 20 || entries != txs || distinct != txs || sealedChanges != changes {
		t.Fatalf("%d seals: %d transactions, %d entries (%d distinct); %d changes, %d sealed", seals, txs, entries, distinct, changes, sealedChanges)
	}
	if rep, problems := verify(t, db, threadlineops.VerifyOptions{}); problems != "" || rep.Transactions != txs {
		t.Fatalf("verify: %+v\n%s", rep, problems)
	}
}
