package threadlineriver_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	threadlineriver "github.com/threadline-go/threadline/contrib/river"
	"github.com/threadline-go/threadline/harness/capturetest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// TestRiverJobsAttributeLikeTheirRequest runs a real River client against
// PostgreSQL: a job enqueued by an attributed request writes as the
// request's actor with its correlation and request ids, and its action
// records the job id; a job enqueued without attribution writes as
// job:<kind>.
//
// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestRiverJobsAttributeLikeTheirRequest(t *testing.T) {
	db := capturetest.Setup(t, `CREATE TABLE orders (id bigint PRIMARY KEY, status text NOT NULL)`, "  orders: {}\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	migrator, err := rivermigrate.New(riverpgxv5.New(db.Pool), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatalf("river migrate: %v", err)
	}
	db.Exec(t, `INSERT INTO orders VALUES (1, 'new'), (2, 'new')`)

	workers := river.NewWorkers()
	river.AddWorker(workers, &ShipOrderWorker{Pool: db.Pool})
	client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
		Workers:           workers,
		Middleware:        []rivertype.Middleware{&threadlineriver.Middleware{}},
		FetchPollInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	events, stopEvents := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer stopEvents()
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(context.Background())

	// The request: attributed by the context, as the HTTP middleware does.
	reqCtx := threadline.ContextWithActor(ctx, threadline.User("42"))
	reqCtx = threadline.ContextWithCorrelationID(reqCtx, "checkout-9f2c")
	reqCtx = threadline.ContextWithRequestID(reqCtx, "req-1")
	var attributed, bare int64
	err = threadline.InTx(reqCtx, db.Pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
		res, err := client.InsertTx(reqCtx, tx, ShipOrderArgs{OrderID: 1, Attribution: threadline.AttributionFromContext(reqCtx)}, nil)
		if err != nil {
			return err
		}
		attributed = res.Job.ID
		_, err = threadline.RecordAction(reqCtx, tx, "order.place", threadline.ActionOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A job enqueued outside any request.
	res, err := client.Insert(ctx, ShipOrderArgs{OrderID: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bare = res.Job.ID

	for done := 0; done < 2; {
		select {
		case e := <-events:
			if e.Kind != river.EventKindJobCompleted {
				t.Fatalf("job %d: %s: %v", e.Job.ID, e.Kind, e.Job.Errors)
			}
			done++
		case <-ctx.Done():
			t.Fatal("the jobs did not complete in time")
		}
	}

	type action struct{ Name, Actor, Correlation, Request, Job string }
	rows, err := db.Pool.Query(ctx, `
		SELECT a.name, a.actor_ref::text, coalesce(a.correlation_id, ''), coalesce(a.request_id, ''), coalesce(a.job_id, '')
		FROM threadline.audit_actions AS a ORDER BY a.job_id::bigint NULLS FIRST`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[action])
	if err != nil {
		t.Fatal(err)
	}
	want := []action{
		{"order.place", `{"id": "42", "type": "user"}`, "checkout-9f2c", "req-1", ""},
		{"order.ship", `{"id": "42", "type": "user"}`, "checkout-9f2c", "req-1", strconv.FormatInt(attributed, 10)},
		{"order.ship", `{"id": "ship_order", "type": "job"}`, "", "", strconv.FormatInt(bare, 10)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("actions:\n got  %+v\n want %+v", got, want)
	}

	// The jobs' writes are attributed the same way.
	type change struct{ Key, Actor, Correlation string }
	rows, err = db.Pool.Query(ctx, `
		SELECT c.table_pk::text, t.actor_ref::text, coalesce(t.correlation_id, '')
		FROM threadline.audit_changes AS c JOIN threadline.audit_transactions AS t ON t.id = c.transaction_id
		WHERE c.op = 'update' ORDER BY c.table_pk->>'id'`)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := pgx.CollectRows(rows, pgx.RowToStructByPos[change])
	if err != nil {
		t.Fatal(err)
	}
	wantChanges := []change{
		{`{"id": 1}`, `{"id": "42", "type": "user"}`, "checkout-9f2c"},
		{`{"id": 2}`, `{"id": "ship_order", "type": "job"}`, ""},
	}
	if !reflect.DeepEqual(changes, wantChanges) {
		t.Fatalf("changes:\n got  %+v\n want %+v", changes, wantChanges)
	}
}

// TestJobContextRejectsInvalidAttribution: a job whose arguments carry an
// attribution that does not validate is refused, not worked anonymously.
func TestJobContextRejectsInvalidAttribution(t *testing.T) {
	for _, args := range []string{
		`{"attribution": {"actor": {"type": "wizard", "id": "1"}}}`,
		`{"attribution": {"correlation_id": "  "}}`,
		`not json`,
	} {
		job := &rivertype.JobRow{ID: 9, Kind: "ship_order", EncodedArgs: []byte(args)}
		called := false
		err := (&threadlineriver.Middleware{}).Work(context.Background(), job, func(context.Context) error { called = true; return nil })
		if err == nil || called {
			t.Errorf("%s: err %v, worked %v", args, err, called)
		}
	}
	// Valid: the context carries the attribution and the job id.
	b, _ := json.Marshal(ShipOrderArgs{OrderID: 1, Attribution: threadline.JobAttribution{Actor: &threadline.ActorRef{Kind: threadline.KindAdmin, ID: "ops"}}})
	ctx, err := threadlineriver.JobContext(context.Background(), &rivertype.JobRow{ID: 9, Kind: "ship_order", EncodedArgs: b})
	if err != nil {
		t.Fatal(err)
	}
	actor, _ := threadline.ActorFromContext(ctx)
	jobID, _ := threadline.JobIDFromContext(ctx)
	if actor.String() != "admin:ops" || jobID != "9" {
		t.Fatalf("context: actor %v, job id %q", actor, jobID)
	}
}
