package threadlineriver_test

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	threadlineriver "github.com/threadline-go/threadline/contrib/river"
	threadline "github.com/threadline-go/threadline/runtime"
)

// ShipOrderArgs are the arguments of a job; Attribution carries the
// enqueuing request's actor and ids.
type ShipOrderArgs struct {
	OrderID     int64                     `json:"order_id"`
	Attribution threadline.JobAttribution `json:"attribution"`
}

// Kind names the job kind.
func (ShipOrderArgs) Kind() string { return "ship_order" }

// ShipOrderWorker ships an order. Its writes and its action are
// attributed to the request that enqueued the job, through the context
// Middleware prepared.
type ShipOrderWorker struct {
	river.WorkerDefaults[ShipOrderArgs]
	Pool *pgxpool.Pool
}

// Work marks the order shipped and records why.
func (w *ShipOrderWorker) Work(ctx context.Context, job *river.Job[ShipOrderArgs]) error {
	return threadline.InTx(ctx, w.Pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE orders SET status = 'shipped' WHERE id = $1`, job.Args.OrderID); err != nil {
			return err
		}
		_, err := threadline.RecordAction(ctx, tx, "order.ship", threadline.ActionOptions{})
		return err
	})
}

// A request handler enqueues a job in its own transaction; the worker,
// run by a client with threadlineriver.Middleware, writes as the
// request's actor, with the same correlation id, and its action records
// the River job id.
func ExampleMiddleware() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	workers := river.NewWorkers()
	river.AddWorker(workers, &ShipOrderWorker{Pool: pool})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:     map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}},
		Workers:    workers,
		Middleware: []rivertype.Middleware{&threadlineriver.Middleware{}},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer client.Stop(ctx)

	// In the request handler (the HTTP middleware filled the context).
	reqCtx := threadline.ContextWithActor(ctx, threadline.User("42"))
	err = threadline.InTx(reqCtx, pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(reqCtx, `UPDATE orders SET status = 'paid' WHERE id = $1`, 7); err != nil {
			return err
		}
		_, err := client.InsertTx(reqCtx, tx, ShipOrderArgs{
			OrderID:     7,
			Attribution: threadline.AttributionFromContext(reqCtx),
		}, nil)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
}
