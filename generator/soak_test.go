package generator_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/soak"
)

// TestConcurrencySoak runs 32 concurrent attributed writers against three
// audited tables for a few seconds (THREADLINE_SOAK_DURATION, e.g. "1m",
// for a longer run) and reconciles the audit trail with what each writer
// committed, exactly: see package soak.
func TestConcurrencySoak(t *testing.T) {
	duration := 3 * time.Second
	if s := os.Getenv("THREADLINE_SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("THREADLINE_SOAK_DURATION: %v", err)
		}
		duration = d
	}
	db := capturetest.Setup(t, soak.DDL, soak.Tables)
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 34
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	rep, err := soak.Run(ctx, pool, soak.Options{Writers: 32, Duration: duration, Seed: 20260301})
	t.Log(rep)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 {
		t.Errorf("%d unexpected errors (deadlocks, serialization failures...): %v", rep.Errors, rep.ErrorSamples)
	}
	if rep.Mismatches != 0 {
		t.Errorf("%d mismatches between the audit trail and the committed work", rep.Mismatches)
	}
	if rep.Writers != 32 || rep.PoolMaxConns != 34 {
		t.Errorf("writers=%d pool=%d", rep.Writers, rep.PoolMaxConns)
	}
	// Every kind of work happened, and the books balance.
	for name, n := range map[string]int{
		"committed": rep.Committed, "rolled back": rep.RolledBack, "repeatable read": rep.RepeatableRead,
		"savepoints released": rep.SavepointsReleased, "savepoints rolled back": rep.SavepointsRolledBack,
		"multi-row statements": rep.BulkStatements, "actions": rep.Actions,
		"changes reconciled": rep.ChangesReconciled, "discarded writes": rep.DiscardedWrites,
	} {
		if n <= 0 {
			t.Errorf("%s = %d, want > 0", name, n)
		}
	}
	if rep.ChangesReconciled != rep.ChangesExpected || rep.AuditChanges != rep.ChangesExpected {
		t.Errorf("changes: expected %d, reconciled %d, audit rows %d", rep.ChangesExpected, rep.ChangesReconciled, rep.AuditChanges)
	}
	if rep.Committed+rep.RolledBack != rep.Transactions {
		t.Errorf("transactions: %d committed + %d rolled back != %d started", rep.Committed, rep.RolledBack, rep.Transactions)
	}
	if rep.AuditTransactions != rep.Committed || rep.AuditActions != rep.Actions {
		t.Errorf("headers %d for %d committed transactions; actions %d for %d recorded",
			rep.AuditTransactions, rep.Committed, rep.AuditActions, rep.Actions)
	}
	// The audit tables hold nothing else: the counts match the whole tables.
	if n := capturetest.Count(t, db, "audit_changes"); n != rep.ChangesExpected {
		t.Errorf("audit_changes holds %d rows, %d committed changes", n, rep.ChangesExpected)
	}
	if n := capturetest.Count(t, db, "audit_transactions"); n != rep.Committed {
		t.Errorf("audit_transactions holds %d rows, %d committed transactions", n, rep.Committed)
	}
	if n := capturetest.Count(t, db, "audit_actions"); n != rep.Actions {
		t.Errorf("audit_actions holds %d rows, %d actions committed", n, rep.Actions)
	}
}

// TestConcurrencySoakDetectsLoss is the soak's negative control: with the
// UPDATE capture of one table disabled and the row images of another one
// tampered with, reconciliation must report mismatches of the right kinds.
func TestConcurrencySoakDetectsLoss(t *testing.T) {
	db := capturetest.Setup(t, soak.DDL, soak.Tables)
	exec(t, db,
		`ALTER TABLE soak_items DISABLE TRIGGER threadline_capture_update`,
		`CREATE FUNCTION public.tamper() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN
		     IF NEW.table_name = 'soak_memberships' AND NEW.op = 'insert' THEN
		         NEW.data_after := NEW.data_after - 'role';
		     END IF;
		     RETURN NEW;
		 END $$`,
		`CREATE TRIGGER tamper BEFORE INSERT ON threadline.audit_changes FOR EACH ROW EXECUTE FUNCTION public.tamper()`,
	)
	rep, err := soak.Run(context.Background(), db.Pool, soak.Options{Writers: 4, MaxTransactions: 40, Duration: time.Minute, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Committed == 0 {
		t.Fatalf("run failed: %s", rep)
	}
	// (Transactions whose only changes were the lost updates also lack
	// their header: HeaderMismatches may be non-zero too.)
	if rep.Missing == 0 || rep.Unexpected == 0 || rep.Misattributed != 0 || rep.StateMismatches != 0 {
		t.Errorf("tampering not detected as missing + unexpected changes:\n%s", rep)
	}
	if rep.ChangesReconciled+rep.Missing != rep.ChangesExpected {
		t.Errorf("reconciled %d + missing %d != expected %d", rep.ChangesReconciled, rep.Missing, rep.ChangesExpected)
	}
}
