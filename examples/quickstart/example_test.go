package quickstart_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/examples/quickstart/audit"
	threadline "github.com/threadline-go/threadline/runtime"
)

// The examples need a database with the example's migrations applied, so
// they are compiled but not run.

func connect() *pgxpool.Pool {
	pool, err := pgxpool.New(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	return pool
}

func Example_usersTimeline() {
	ctx := context.Background()
	db := connect()
	ada := threadline.User("42")
	f := threadline.Filter{Actor: &ada, From: time.Now().Add(-7 * 24 * time.Hour), Limit: 50}
	for {
		changes, next, err := audit.UsersTimeline(ctx, db, f)
		// ErrSearchBudgetSpent: the changes found are correct, but the
		// page may not be full; next searches on.
		if err != nil && !errors.Is(err, threadline.ErrSearchBudgetSpent) {
			log.Fatal(err)
		}
		for _, c := range changes {
			if c.After != nil {
				fmt.Println(c.CapturedAt, c.Op, c.Key.ID, c.After.DisplayName)
			}
		}
		if next == nil {
			break
		}
		f.After = next
	}
}

func Example_usersHistory() {
	ctx := context.Background()
	db := connect()
	changes, err := audit.UsersHistory(ctx, db, audit.NewUserKey(42), threadline.HistoryOptions{Limit: 20})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range changes {
		switch c.Op {
		case threadline.OpUpdate:
			fmt.Println(c.CapturedAt, c.Actor, "changed", c.ChangedFields)
			if c.ChangedFrom != nil && c.ChangedFrom.DisplayName != nil {
				fmt.Println("  display name was", *c.ChangedFrom.DisplayName)
			}
		default:
			fmt.Println(c.CapturedAt, c.Actor, c.Op)
		}
	}
}

func Example_usersAsOf() {
	ctx := context.Background()
	db := connect()
	lastTuesday := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)
	u, err := audit.UsersAsOf(ctx, db, audit.NewUserKey(42), lastTuesday)
	switch {
	case errors.Is(err, threadline.ErrDeleted):
		fmt.Println("user 42 did not exist then")
	case errors.Is(err, threadline.ErrBeforeHorizon):
		fmt.Println("nothing was captured for user 42 by then")
	case err != nil:
		log.Fatal(err)
	default:
		// Email is masked: only whether it was NULL is known.
		fmt.Println(u.DisplayName, u.Email, u.CreatedAt)
	}
}

func Example_postCollaboratorsChanges() {
	ctx := context.Background()
	db := connect()
	post := threadline.MustParseUUID("0b7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a19")
	for c, err := range audit.PostCollaboratorsChanges(ctx, db, threadline.Filter{CorrelationID: "import-2026-03"}) {
		if err != nil {
			log.Fatal(err)
		}
		if c.Key != nil && c.Key.PostID == post {
			fmt.Println(c.Op, c.Key.UserID)
			break // stopping early leaves no connection busy
		}
	}
}
