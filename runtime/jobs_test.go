package threadline_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	threadline "github.com/threadline-go/threadline/runtime"
)

func TestJobAttributionJSON(t *testing.T) {
	ctx := threadline.ContextWithActor(context.Background(), threadline.User("42"))
	ctx = threadline.ContextWithCorrelationID(ctx, "corr-1")
	ctx = threadline.ContextWithRequestID(ctx, "req-1")
	ja := threadline.AttributionFromContext(ctx)
	b, err := json.Marshal(ja)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"actor":{"type":"user","id":"42"},"correlation_id":"corr-1","request_id":"req-1"}` {
		t.Fatalf("JSON %s", b)
	}
	var back threadline.JobAttribution
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	equal(t, "decoded", back, ja)
	if err := back.Validate(); err != nil {
		t.Fatal(err)
	}

	wctx := back.Context(context.Background())
	a, ok := threadline.ActorFromContext(wctx)
	c, _ := threadline.CorrelationIDFromContext(wctx)
	r, _ := threadline.RequestIDFromContext(wctx)
	if !ok || a != threadline.User("42") || c != "corr-1" || r != "req-1" {
		t.Fatalf("worker context: %v %v %q %q", a, ok, c, r)
	}

	// Empty context, empty attribution, empty JSON; Context changes nothing.
	empty := threadline.AttributionFromContext(context.Background())
	if b, err := json.Marshal(empty); err != nil || string(b) != `{}` {
		t.Fatalf("empty: %s %v", b, err)
	}
	base := threadline.ContextWithActor(context.Background(), threadline.System("worker"))
	if a, _ := threadline.ActorFromContext(empty.Context(base)); a != threadline.System("worker") {
		t.Fatalf("empty attribution replaced the actor: %v", a)
	}

	// Invalid actors in job arguments are decoding errors.
	for _, doc := range []string{
		`{"actor":{"type":"user"}}`,
		`{"actor":{"type":"user","id":"1","role":"x"}}`,
		`{"actor":"user:1"}`,
	} {
		var ja threadline.JobAttribution
		if err := json.Unmarshal([]byte(doc), &ja); !errors.Is(err, threadline.ErrInvalidActor) {
			t.Errorf("Unmarshal(%s): %v", doc, err)
		}
	}
	bad := threadline.JobAttribution{CorrelationID: " "}
	if err := bad.Validate(); !errors.Is(err, threadline.ErrInvalidAttribution) {
		t.Errorf("Validate blank correlation: %v", err)
	}
	bad = threadline.JobAttribution{Actor: &threadline.ActorRef{Kind: "user"}}
	if err := bad.Validate(); !errors.Is(err, threadline.ErrInvalidActor) {
		t.Errorf("Validate invalid actor: %v", err)
	}
}

// TestJobAttributesLikeRequest enqueues from a request context and runs
// the job in a fresh context: its writes and action carry the request's
// actor and correlation id, plus the job id.
func TestJobAttributesLikeRequest(t *testing.T) {
	db := setupOrders(t)
	reqCtx := threadline.ContextWithActor(context.Background(), threadline.User("42"))
	reqCtx = threadline.ContextWithCorrelationID(reqCtx, "corr-9")
	reqCtx = threadline.ContextWithRequestID(reqCtx, "req-9")

	// Enqueue: the attribution travels in the job's JSON arguments.
	type args struct {
		OrderID     int64                     `json:"order_id"`
		Attribution threadline.JobAttribution `json:"attribution"`
	}
	encoded, err := json.Marshal(args{OrderID: 1, Attribution: threadline.AttributionFromContext(reqCtx)})
	if err != nil {
		t.Fatal(err)
	}

	// Work: a fresh context, as in a worker process.
	var job args
	if err := json.Unmarshal(encoded, &job); err != nil {
		t.Fatal(err)
	}
	ctx := threadline.ContextWithJobID(job.Attribution.Context(context.Background()), "river-17")
	var act threadline.Action
	err = threadline.InTx(ctx, db.Pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1, 'shipped')`, job.OrderID); err != nil {
			return err
		}
		act, err = threadline.RecordAction(ctx, tx, "order.ship", threadline.ActionOptions{Verb: "ship"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	txs := transactions(t, db)
	if len(txs) != 1 {
		t.Fatalf("transactions %+v", txs)
	}
	equal(t, "transactions", txs, []txRow{{ID: txs[0].ID, Actor: `{"id": "42", "type": "user"}`, RequestID: "req-9", CorrelationID: "corr-9", ActionID: act.ID}})
	equal(t, "actions", actions(t, db), []actionRow{{ID: act.ID, Name: "order.ship", Actor: `{"id": "42", "type": "user"}`,
		Status: "ok", Verb: "ship", CorrelationID: "corr-9", RequestID: "req-9", JobID: "river-17"}})
	equal(t, "changes", changes(t, db), []change{{txs[0].ID, "orders", "insert", `{"id": 1}`, `{"id": 1, "note": "shipped"}`}})
}
