package generator_test

// Tamper evidence v2 (issue 23), attacked as the roles that must not
// succeed: the owner, the tamperer that tamper evidence exists for, with a
// head recorded outside the database, and the retention role (janitor),
// against an install applied by a non-superuser owner (integrity_test.go).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

var sealAudit = threadlineops.Audit{}

// write runs stmts as the application in one transaction attributed to
// actor (a user id), with action when not empty.
func (in *integrity) write(t *testing.T, actor, action string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	err := threadline.InTx(ctx, in.pool(t, "app"), threadline.TxOptions{Actor: threadline.User(actor)}, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		if action == "" {
			return nil
		}
		_, err := threadline.RecordAction(ctx, tx, action, threadline.ActionOptions{Reason: "because"})
		return err
	})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
}

// seal seals as the retention role.
func (in *integrity) seal(t *testing.T) threadlineops.SealResult {
	t.Helper()
	res, err := sealAudit.Seal(context.Background(), in.pool(t, "janitor"))
	if err != nil {
		t.Fatalf("seal as the retention role: %v", err)
	}
	return res
}

// verify verifies as the reader against a recorded head and returns the
// problems, one per line.
func (in *integrity) verify(t *testing.T, head string) (threadlineops.VerifyReport, string) {
	t.Helper()
	rep, err := sealAudit.Verify(context.Background(), in.pool(t, "auditor"), threadlineops.VerifyOptions{Head: head})
	if err != nil && !errors.Is(err, threadlineops.ErrVerifyFailed) {
		t.Fatalf("verify as the reader: %v", err)
	}
	var lines []string
	for _, p := range rep.Problems {
		lines = append(lines, p.What)
	}
	return rep, strings.Join(lines, "\n")
}

// usersChange returns the id and transaction of the change of user id
// with op.
func (in *integrity) usersChange(t *testing.T, id int, op string) (change, tx int64) {
	t.Helper()
	err := in.db.Pool.QueryRow(context.Background(), `SELECT id, transaction_id FROM threadline.audit_changes
		WHERE table_name = 'users' AND table_pk = jsonb_build_object('id', $1::int) AND op = $2`, id, op).Scan(&change, &tx)
	if err != nil {
		t.Fatalf("change of user %d (%s): %v", id, op, err)
	}
	return change, tx
}

// TestAttackForgedPurgeRecord: the owner records a "purge" with cutoff
// now, deletes one chosen sealed change and seals the forged record. Older
// changes are still there, so the purge was selective: verify against the
// recorded head reports the deletion.
func TestAttackForgedPurgeRecord(t *testing.T) {
	in := newIntegrity(t)
	for i := 1; i <= 8; i++ {
		in.write(t, "ann", "", fmt.Sprintf(`INSERT INTO users VALUES (%d, 'u%d@b', 'h', 'U%d')`, i, i, i))
	}
	head := in.seal(t).Head
	victim, tx := in.usersChange(t, 8, "insert")
	in.owner(t, `INSERT INTO threadline.audit_purges (cutoff) VALUES (now())`)
	in.owner(t, fmt.Sprintf(`DELETE FROM threadline.audit_changes WHERE id = %d`, victim))
	in.owner(t, `SELECT count(*) FROM threadline.seal()`)
	_, problems := in.verify(t, head)
	want := fmt.Sprintf("seal 1: change %d of transaction %d is missing (deleted after sealing); purge record 1", victim, tx)
	if !strings.Contains(problems, want) || !strings.Contains(problems, "was not a complete purge") {
		t.Fatalf("verify -head after a selective deletion under a forged purge record says\n%s\nwant %q", problems, want)
	}
}

// TestAttackBackdatedSealEntries: the owner backdates the start and
// capture times a seal recorded for a transaction, records a purge whose
// cutoff lies after them (complete: nothing older is left), deletes the
// transaction and seals. The head covers those times: verify against the
// recorded head names the rewritten entries.
func TestAttackBackdatedSealEntries(t *testing.T) {
	in := newIntegrity(t)
	in.write(t, "ann", "", `INSERT INTO users VALUES (1, 'a@b', 'h', 'Ann')`)
	in.write(t, "mallory", "", `UPDATE users SET name = 'Mal' WHERE id = 1`)
	head := in.seal(t).Head
	_, tx := in.usersChange(t, 1, "update")
	in.owner(t, fmt.Sprintf(`UPDATE threadline.audit_seal_entries SET started_at = started_at - interval '400 days',
		change_times = ARRAY(SELECT x - interval '400 days' FROM unnest(change_times) AS x) WHERE transaction_id = %d`, tx))
	in.owner(t, `INSERT INTO threadline.audit_purges (cutoff) VALUES (now() - interval '300 days')`)
	in.owner(t, fmt.Sprintf(`DELETE FROM threadline.audit_changes WHERE transaction_id = %d`, tx))
	in.owner(t, fmt.Sprintf(`DELETE FROM threadline.audit_transactions WHERE id = %d`, tx))
	in.owner(t, `SELECT count(*) FROM threadline.seal()`)
	_, problems := in.verify(t, head)
	if !strings.Contains(problems, "seal 1: its entries do not match its entries digest: the seal entries were rewritten") {
		t.Fatalf("verify -head after backdated seal entries says\n%s", problems)
	}
}

// TestAttackHeaderRewrittenBesidePurgedChange: one change of a
// two-change transaction is purged honestly (it was captured long ago);
// the owner then rewrites the transaction's actor. The header is checked
// although a change of it is gone.
func TestAttackHeaderRewrittenBesidePurgedChange(t *testing.T) {
	in := newIntegrity(t)
	ctx := context.Background()
	in.write(t, "mallory", "", `INSERT INTO users VALUES (1, 'a@b', 'h', 'Ann')`, `INSERT INTO users VALUES (2, 'b@b', 'h', 'Bob')`)
	old, tx := in.usersChange(t, 1, "insert")
	// Captured 40 days ago, as the trail of a long-running install holds.
	in.owner(t, fmt.Sprintf(`UPDATE threadline.audit_changes SET captured_at = captured_at - interval '40 days' WHERE id = %d`, old))
	head := in.seal(t).Head
	res, err := sealAudit.Purge(ctx, in.pool(t, "janitor"), threadlineops.PurgePolicy{Enabled: true, Window: 24 * time.Hour, DeleteEmptyTransactions: true}, threadlineops.PurgeOptions{})
	if err != nil || res.DeletedChanges != 1 {
		t.Fatalf("purge as the retention role: %+v, %v", res, err)
	}
	in.seal(t)
	if rep, problems := in.verify(t, head); problems != "" || rep.PurgedChanges != 1 {
		t.Fatalf("verify after an honest purge: %+v\n%s", rep, problems)
	}
	in.owner(t, fmt.Sprintf(`UPDATE threadline.audit_transactions SET actor_ref = '{"type": "user", "id": "innocent-bob"}' WHERE id = %d`, tx))
	_, problems := in.verify(t, head)
	if want := fmt.Sprintf("seal 1: transaction %d: its header or action changed since sealing", tx); !strings.Contains(problems, want) {
		t.Fatalf("verify -head after the actor was rewritten says\n%s\nwant %q", problems, want)
	}
}

// TestAttackForgedSeal: the retention role can write no seal row, entry
// or purge record by hand (only seal() writes them); a seal row the owner
// forges with a far-future snapshot is named by verify as not written by
// seal(), and seal() then refuses with a hint instead of sealing past it.
func TestAttackForgedSeal(t *testing.T) {
	in := newIntegrity(t)
	in.write(t, "ann", "", `INSERT INTO users VALUES (1, 'a@b', 'h', 'Ann')`)
	sealed := in.seal(t)
	janitor := in.as(t, "janitor")
	forge := fmt.Sprintf(`INSERT INTO threadline.audit_seals (id, snapshot, prev_head, head, transactions, changes)
		VALUES (2, '99999999:99999999:', '\x%s', sha256('x'), 0, 0)`, sealed.Head)
	denied(t, janitor, "janitor", forge)
	denied(t, janitor, "janitor", `INSERT INTO threadline.audit_seal_entries VALUES (2, 1, now(), '', '{}', '', '{}')`)
	denied(t, janitor, "janitor", `INSERT INTO threadline.audit_purges (cutoff) VALUES (now())`)
	denied(t, janitor, "janitor", `DELETE FROM threadline.audit_seals`)

	in.owner(t, forge)
	in.write(t, "ann", "", `UPDATE users SET name = 'Ann B.' WHERE id = 1`)
	_, problems := in.verify(t, sealed.Head)
	if !strings.Contains(problems, "seal 2: its snapshot 99999999:99999999: is ahead of this database's transaction ids") ||
		!strings.Contains(problems, "not written by seal() in this database") {
		t.Fatalf("verify with a forged seal says\n%s", problems)
	}
	if _, err := sealAudit.Seal(context.Background(), in.pool(t, "janitor")); err == nil || !strings.Contains(err.Error(), "ahead of this database's transaction ids") {
		t.Fatalf("seal after a forged seal: %v", err)
	}
}

// TestSealActionOnlyTransactions: a transaction that recorded an action
// and changed no row (its UPDATE matched nothing), and a transaction whose
// changes were purged while its action is kept, seal and verify.
func TestSealActionOnlyTransactions(t *testing.T) {
	in := newIntegrity(t)
	ctx := context.Background()
	in.write(t, "ann", "user.noop", `UPDATE users SET name = 'x' WHERE id = -1`)
	res := in.seal(t)
	if res.Transactions != 1 || res.Changes != 0 {
		t.Fatalf("seal of an action-only transaction: %+v", res)
	}
	in.write(t, "ann", "user.create", `INSERT INTO users VALUES (1, 'a@b', 'h', 'Ann')`)
	ch, tx := in.usersChange(t, 1, "insert")
	in.owner(t, fmt.Sprintf(`UPDATE threadline.audit_changes SET captured_at = captured_at - interval '40 days' WHERE id = %d`, ch))
	in.owner(t, fmt.Sprintf(`UPDATE threadline.audit_transactions SET started_at = started_at - interval '40 days' WHERE id = %d`, tx))
	in.seal(t)
	purged, err := sealAudit.Purge(ctx, in.pool(t, "janitor"), threadlineops.PurgePolicy{Enabled: true, Window: 24 * time.Hour, DeleteEmptyTransactions: true}, threadlineops.PurgeOptions{})
	if err != nil || purged.DeletedChanges != 1 || purged.DeletedTransactions != 0 || purged.Seal != 3 {
		t.Fatalf("purge: %+v, %v (the transaction's action is young: it stays; the purge seals its record)", purged, err)
	}
	capturetest.Equal(t, "purge records sealed by seal 3", capturetest.QueryInt(t, in.db, `SELECT count(*) FROM threadline.audit_seals WHERE id = 3 AND transactions = 0`), 1)
	in.write(t, "ann", "user.noop", `UPDATE users SET name = 'x' WHERE id = -1`)
	if res := in.seal(t); res.Seal != 4 || res.Transactions != 1 || res.Purges != 0 {
		t.Fatalf("seal after the purge: %+v", res)
	}
	capturetest.Equal(t, "transactions kept", capturetest.QueryInt(t, in.db, `SELECT count(*) FROM threadline.audit_transactions`), 3)
	if rep, problems := in.verify(t, ""); problems != "" || rep.Transactions != 3 || rep.PurgedChanges != 1 {
		t.Fatalf("verify: %+v\n%s", rep, problems)
	}
}
