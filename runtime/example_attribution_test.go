package threadline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	threadline "github.com/threadline-go/threadline/runtime"
)

// InTx attributes every write of fn to the actor, request id and
// correlation id: from the options, or from the context (which the HTTP
// middleware fills).
func ExampleInTx() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	opts := threadline.TxOptions{Actor: threadline.User("u-17"), CorrelationID: "checkout-9f2c"}
	err = threadline.InTx(ctx, pool, opts, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE orders SET status = 'shipped' WHERE id = $1`, 42)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
}

// RecordAction says why the transaction's writes happened; the action is
// linked to the transaction and inherits its actor and ids.
func ExampleRecordAction() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	ctx = threadline.ContextWithActor(ctx, threadline.Admin("ops-3"))
	err = threadline.InTx(ctx, pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE orders SET status = 'refunded' WHERE id = $1`, 42); err != nil {
			return err
		}
		action, err := threadline.RecordAction(ctx, tx, "order.refund",
			threadline.ActionOptions{Verb: "refund", Category: "billing", Reason: "damaged in transit"})
		if err != nil {
			return err
		}
		log.Printf("action %d linked to audit transaction %d", action.ID, action.TransactionID)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}

func ExampleActorRef() {
	a := threadline.User("42")
	canonical, _ := a.Canonical()
	fmt.Println(canonical)

	b, err := threadline.ParseActorRef([]byte(`{"id": "svc-billing", "type": "service_account"}`))
	fmt.Println(b, err)

	_, err = threadline.ParseActorRef([]byte(`{"type":"user","id":"  "}`))
	fmt.Println(err)
	// Output:
	// {"type":"user","id":"42"}
	// service_account:svc-billing <nil>
	// threadline: invalid actor reference: user actor needs a non-blank id
}

// The enqueuer embeds the request's attribution in the job arguments; the
// worker restores it, so the job's writes are attributed like the request.
func ExampleJobAttribution() {
	// In the request handler (the middleware filled the context).
	reqCtx := threadline.ContextWithActor(context.Background(), threadline.User("42"))
	reqCtx = threadline.ContextWithCorrelationID(reqCtx, "checkout-9f2c")
	args, _ := json.Marshal(struct {
		OrderID     int                       `json:"order_id"`
		Attribution threadline.JobAttribution `json:"attribution"`
	}{OrderID: 7, Attribution: threadline.AttributionFromContext(reqCtx)})
	fmt.Println(string(args))

	// In the worker.
	var job struct {
		Attribution threadline.JobAttribution `json:"attribution"`
	}
	_ = json.Unmarshal(args, &job)
	ctx := job.Attribution.Context(context.Background())
	actor, _ := threadline.ActorFromContext(ctx)
	corr, _ := threadline.CorrelationIDFromContext(ctx)
	fmt.Println(actor, corr)
	// Output:
	// {"order_id":7,"attribution":{"actor":{"type":"user","id":"42"},"correlation_id":"checkout-9f2c"}}
	// user:42 checkout-9f2c
}

// A worker restores the attribution the job's arguments carry before it
// writes. With River, the Middleware of the contrib/river module
// (github.com/threadline-go/threadline/contrib/river) does this for every
// job, and adds the job id; its example and tests run a real River client.
func ExampleJobAttribution_worker() {
	type shipOrderArgs struct {
		OrderID     int64                     `json:"order_id"`
		Attribution threadline.JobAttribution `json:"attribution"`
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	// Enqueue (a job queue stores this JSON with the job).
	reqCtx := threadline.ContextWithActor(ctx, threadline.User("42"))
	encoded, _ := json.Marshal(shipOrderArgs{OrderID: 7, Attribution: threadline.AttributionFromContext(reqCtx)})

	// Work (the queue hands the worker the decoded args and the job id).
	var args shipOrderArgs
	if err := json.Unmarshal(encoded, &args); err != nil {
		log.Fatal(err)
	}
	jobCtx := threadline.ContextWithJobID(args.Attribution.Context(ctx), "17")
	err = threadline.InTx(jobCtx, pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(jobCtx, `UPDATE orders SET status = 'shipped' WHERE id = $1`, args.OrderID); err != nil {
			return err
		}
		_, err := threadline.RecordAction(jobCtx, tx, "order.ship", threadline.ActionOptions{})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
}
