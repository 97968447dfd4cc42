package threadline

import (
	"context"

	"github.com/threadline-go/threadline/internal/tlerr"
)

// JobAttribution carries the attribution of a request into a background
// job, so that the job's writes and actions are attributed like the
// request's: the enqueuer embeds it in the job's arguments
// (AttributionFromContext), the worker restores it into its context
// (JobAttribution.Context) before calling InTx and RecordAction. For
// River, the contrib/river module's Middleware restores it for every job.
//
// It encodes to JSON with the actor in canonical form; decoding validates
// the actor (an invalid one is a decoding error).
type JobAttribution struct {
	// Actor is who caused the job; nil when unknown.
	Actor *ActorRef `json:"actor,omitempty"`
	// CorrelationID ties the job to the request's other work.
	CorrelationID string `json:"correlation_id,omitempty"`
	// RequestID is the id of the request that enqueued the job.
	RequestID string `json:"request_id,omitempty"`
}

// AttributionFromContext returns the actor, correlation id and request id
// in ctx (as stored by the HTTP middleware or ContextWithActor and
// friends), for embedding in the arguments of a job being enqueued.
func AttributionFromContext(ctx context.Context) JobAttribution {
	var ja JobAttribution
	if a, ok := ActorFromContext(ctx); ok {
		ja.Actor = &a
	}
	ja.CorrelationID, _ = CorrelationIDFromContext(ctx)
	ja.RequestID, _ = RequestIDFromContext(ctx)
	return ja
}

// Context returns a copy of ctx carrying the attribution, for the worker
// running the job; InTx and RecordAction then pick it up. Empty fields
// leave ctx as it is.
func (ja JobAttribution) Context(ctx context.Context) context.Context {
	if ja.Actor != nil {
		ctx = ContextWithActor(ctx, *ja.Actor)
	}
	if ja.CorrelationID != "" {
		ctx = ContextWithCorrelationID(ctx, ja.CorrelationID)
	}
	if ja.RequestID != "" {
		ctx = ContextWithRequestID(ctx, ja.RequestID)
	}
	return ctx
}

// Validate reports whether the attribution would be accepted by InTx.
func (ja JobAttribution) Validate() error {
	at := attribution{actor: ja.Actor}
	if ja.CorrelationID != "" {
		at.correlationID = &ja.CorrelationID
	}
	if ja.RequestID != "" {
		at.requestID = &ja.RequestID
	}
	if _, err := at.normalize(); err != nil {
		return tlerr.Wrap(err, "job attribution")
	}
	return nil
}
