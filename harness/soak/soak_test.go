package soak_test

import (
	"context"
	"testing"
	"time"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/soak"
)

// TestRunTwiceOnOneDatabase runs a small soak twice on the same database:
// each run reconciles only its own work (key ranges above the existing
// rows, audit rows after its baselines), so both are clean and the second
// sees exactly its own changes.
func TestRunTwiceOnOneDatabase(t *testing.T) {
	db := capturetest.Setup(t, soak.DDL, soak.Tables)
	ctx := context.Background()
	var total int
	for i := range 2 {
		rep, err := soak.Run(ctx, db.Pool, soak.Options{Writers: 4, MaxTransactions: 30, Duration: time.Minute, Seed: uint64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(rep)
		if rep.Errors != 0 || rep.Mismatches != 0 {
			t.Fatalf("run %d: %d errors, %d mismatches", i, rep.Errors, rep.Mismatches)
		}
		if rep.Transactions != 4*30 || rep.Committed == 0 || rep.ChangesReconciled != rep.ChangesExpected || rep.ChangesExpected == 0 {
			t.Errorf("run %d: %d transactions (want 120), %d committed, %d/%d changes reconciled",
				i, rep.Transactions, rep.Committed, rep.ChangesReconciled, rep.ChangesExpected)
		}
		total += rep.ChangesExpected
	}
	if n := capturetest.Count(t, db, "audit_changes"); n != total {
		t.Errorf("audit_changes holds %d rows, the two runs committed %d changes", n, total)
	}
}
