package threadline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	threadline "github.com/threadline-go/threadline/runtime"
)

func ExampleDiffChange() {
	c := threadline.Change{
		ID: 7, TransactionID: 3, Schema: "public", Table: "users", Op: threadline.OpUpdate,
		PK:            json.RawMessage(`{"id": 42}`),
		After:         json.RawMessage(`{"id": 42, "email": "[REDACTED]", "display_name": "Ada L."}`),
		ChangedFields: []string{"display_name"},
		ChangedFrom:   json.RawMessage(`{"display_name": "Ada"}`),
		CapturedAt:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	d, err := threadline.DiffChange(c)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := json.MarshalIndent(d, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "schema_version": 1,
	//   "change_id": 7,
	//   "transaction_id": 3,
	//   "schema": "public",
	//   "table": "users",
	//   "op": "update",
	//   "pk": {
	//     "id": 42
	//   },
	//   "captured_at": "2026-01-02T03:04:05Z",
	//   "prior_omitted": false,
	//   "fields": [
	//     {
	//       "field": "display_name",
	//       "kind": "changed",
	//       "before": "Ada",
	//       "after": "Ada L."
	//     }
	//   ]
	// }
}

// connect opens a pool for the examples below (they need a database with
// Threadline installed, so they are compiled but not run).
func connect() *pgxpool.Pool {
	pool, err := pgxpool.New(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	return pool
}

func ExampleAudit_Timeline() {
	ctx := context.Background()
	db := connect()
	audit := threadline.Audit{Schema: "threadline"}

	actor := threadline.User("42")
	f := threadline.Filter{Table: "users", Actor: &actor, Limit: 20}
	for {
		page, err := audit.Timeline(ctx, db, f)
		// A page its search budget cut short comes with
		// ErrSearchBudgetSpent: its changes are correct, and Next
		// searches on.
		if err != nil && !errors.Is(err, threadline.ErrSearchBudgetSpent) {
			log.Fatal(err)
		}
		for _, c := range page.Changes {
			fmt.Println(c.CapturedAt.Format(time.RFC3339), c.Op, string(c.PK), c.Actor)
		}
		if page.Next == nil {
			break
		}
		f.After = page.Next // keyset paging: no gaps, no duplicates
	}
}

func ExampleAudit_History() {
	ctx := context.Background()
	db := connect()
	changes, err := threadline.Audit{}.History(ctx, db, "billing.invoices", `{"number": "INV-1"}`, threadline.HistoryOptions{Limit: 50})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range changes {
		d, err := threadline.DiffChange(c)
		if err != nil {
			// A stored image Go cannot decode: show the stored text.
			fmt.Println(string(c.After), string(c.Before))
			continue
		}
		b, _ := json.Marshal(d)
		fmt.Println(string(b))
	}
}

func ExampleAudit_AsOf() {
	ctx := context.Background()
	db := connect()
	lastTuesday := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)
	row, err := threadline.Audit{}.AsOf(ctx, db, "users", map[string]any{"id": 42}, lastTuesday)
	switch {
	case errors.Is(err, threadline.ErrDeleted):
		fmt.Println("the row did not exist then")
	case errors.Is(err, threadline.ErrBeforeHorizon):
		fmt.Println("nothing was captured for the row by then")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(string(row))
	}
}

func ExampleAudit_Changes() {
	ctx := context.Background()
	db := connect()
	f := threadline.Filter{Table: "users", From: time.Now().Add(-24 * time.Hour)}
	audit := threadline.Audit{}
	n := 0
	// Streams in keyset pages: memory stays flat however many changes match.
	for c, err := range audit.Changes(ctx, db, f) {
		if err != nil {
			log.Fatal(err)
		}
		n++
		if c.Op == threadline.OpTruncate {
			break // stopping early releases everything
		}
	}
	fmt.Println(n, "changes")
}

func ExampleAudit_TransactionChanges() {
	ctx := context.Background()
	db := connect()
	audit := threadline.Audit{}
	tx, err := audit.Transaction(ctx, db, 1234)
	if err != nil {
		log.Fatal(err)
	}
	if tx.Action != nil {
		fmt.Println("action:", tx.Action.Name, tx.Action.Reason)
	}
	changes, err := audit.TransactionChanges(ctx, db, tx.ID, threadline.HistoryOptions{Limit: 1000})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(changes), "changes by", tx.Actor)
}
