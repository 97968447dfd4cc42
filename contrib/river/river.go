// Package threadlineriver attributes River jobs like the requests that
// enqueue them. It lives in its own module so that the core module does
// not depend on River.
//
// The request handler embeds the request's attribution in the job's
// arguments, under the JSON key "attribution":
//
//	type ShipOrderArgs struct {
//		OrderID     int64                     `json:"order_id"`
//		Attribution threadline.JobAttribution `json:"attribution"`
//	}
//
//	_, err := riverClient.InsertTx(ctx, tx, ShipOrderArgs{
//		OrderID:     42,
//		Attribution: threadline.AttributionFromContext(ctx),
//	}, nil)
//
// and the client runs Middleware, which restores it in the context of the
// worker, with the job's id: threadline.InTx and RecordAction in Work then
// attribute the job's writes and actions to the request's actor and
// correlation id, and record the River job id (audit_actions.job_id).
package threadlineriver

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	threadline "github.com/threadline-go/threadline/runtime"
)

// ArgsKey is the JSON key of the threadline.JobAttribution in a job's
// arguments.
const ArgsKey = "attribution"

// Middleware is River worker middleware (add &Middleware{} to river.Config's
// Middleware). Before a job is worked, it puts in the context:
//
//   - the attribution its arguments carry under ArgsKey (the actor,
//     correlation id and request id of the request that enqueued it);
//   - the job id (threadline.ContextWithJobID), which RecordAction
//     stores in audit_actions.job_id;
//   - when the arguments carry no actor, the actor job:<kind>, so that
//     the job's writes are never anonymous.
//
// Arguments whose attribution does not decode (an invalid actor, say)
// fail the job: working it would attribute its writes wrongly.
type Middleware struct {
	river.MiddlewareDefaults
}

// Work restores the attribution of job, then works it.
func (*Middleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	ctx, err := JobContext(ctx, job)
	if err != nil {
		return err
	}
	return doInner(ctx)
}

// JobContext returns ctx carrying the attribution of job, as Middleware
// does, for code that works jobs without it.
func JobContext(ctx context.Context, job *rivertype.JobRow) (context.Context, error) {
	var args struct {
		Attribution *threadline.JobAttribution `json:"attribution"`
	}
	if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
		return ctx, fmt.Errorf("threadlineriver: job %d (%s): %s: %w", job.ID, job.Kind, ArgsKey, err)
	}
	var attr threadline.JobAttribution
	if args.Attribution != nil {
		attr = *args.Attribution
	}
	if err := attr.Validate(); err != nil {
		return ctx, fmt.Errorf("threadlineriver: job %d (%s): %w", job.ID, job.Kind, err)
	}
	ctx = attr.Context(ctx)
	ctx = threadline.ContextWithJobID(ctx, strconv.FormatInt(job.ID, 10))
	if attr.Actor == nil {
		ctx = threadline.ContextWithActor(ctx, threadline.Job(job.Kind))
	}
	return ctx, nil
}

var _ rivertype.WorkerMiddleware = &Middleware{}
