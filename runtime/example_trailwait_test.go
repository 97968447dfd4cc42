package threadline_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	threadline "github.com/threadline-go/threadline/runtime"
)

// With engine: wal, threadline capture writes the trail shortly after the
// commit: a request that shows the history it just wrote waits for the
// trail first. With engine: trigger (Slot empty) the wait returns at once.
func ExampleWaitForTrail() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	opts := threadline.TxOptions{Actor: threadline.User("u-17"), WALMessage: true}
	err = threadline.InTx(ctx, pool, opts, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE orders SET status = 'shipped' WHERE id = $1`, 42)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	// The slot is wal.slot in threadline.yaml.
	wait := threadline.TrailWaitOptions{Slot: "threadline", Timeout: 2 * time.Second}
	if err := threadline.WaitForTrail(ctx, pool, wait); err != nil {
		log.Fatal(err) // names the slot and how far behind it is
	}
	history, err := threadline.Audit{}.History(ctx, pool, "public.orders", map[string]any{"id": 42}, threadline.HistoryOptions{Limit: 10})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d changes, the shipment among them", len(history))
}
