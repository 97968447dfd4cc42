package threadline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/threadline-go/threadline/internal/contract"
)

// Attribution values travel in a context.Context: middleware (package
// threadlinehttp) or a job worker (JobAttribution.Context) stores them, and
// InTx and RecordAction read them. A value set in TxOptions or
// ActionOptions always wins over the context.

// MaxCorrelationIDBytes bounds a correlation id.
const MaxCorrelationIDBytes = contract.MaxAttributionIDBytes

// MaxRequestIDBytes bounds a request id.
const MaxRequestIDBytes = contract.MaxAttributionIDBytes

// ErrInvalidAttribution is wrapped by errors about an invalid request id,
// correlation id or job id.
var ErrInvalidAttribution = errors.New("threadline: invalid attribution")

type (
	actorKey         struct{}
	requestIDKey     struct{}
	correlationIDKey struct{}
	remoteAddrKey    struct{}
	jobIDKey         struct{}
)

// ContextWithActor returns a copy of ctx carrying actor. It does not
// validate: InTx and RecordAction reject an invalid actor.
func ContextWithActor(ctx context.Context, actor ActorRef) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFromContext returns the actor stored by ContextWithActor.
func ActorFromContext(ctx context.Context) (ActorRef, bool) {
	a, ok := ctx.Value(actorKey{}).(ActorRef)
	return a, ok
}

// ContextWithRequestID returns a copy of ctx carrying a request id.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the request id stored by
// ContextWithRequestID; ok is false when there is none or it is empty.
func RequestIDFromContext(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(requestIDKey{}).(string)
	return s, ok && s != ""
}

// ContextWithCorrelationID returns a copy of ctx carrying a correlation id
// (which ties together the work of one user intent across requests, jobs
// and services).
func ContextWithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationIDKey{}, id)
}

// CorrelationIDFromContext returns the correlation id stored by
// ContextWithCorrelationID; ok is false when there is none or it is empty.
func CorrelationIDFromContext(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(correlationIDKey{}).(string)
	return s, ok && s != ""
}

// ContextWithRemoteAddr returns a copy of ctx carrying the address of the
// client that made the request.
func ContextWithRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteAddrKey{}, addr)
}

// RemoteAddrFromContext returns the address stored by
// ContextWithRemoteAddr; ok is false when there is none or it is empty.
func RemoteAddrFromContext(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(remoteAddrKey{}).(string)
	return s, ok && s != ""
}

// ContextWithJobID returns a copy of ctx carrying the id of the background
// job being run; RecordAction stores it in audit_actions.job_id unless
// ActionOptions.JobID says otherwise.
func ContextWithJobID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, jobIDKey{}, id)
}

// JobIDFromContext returns the job id stored by ContextWithJobID; ok is
// false when there is none or it is empty.
func JobIDFromContext(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(jobIDKey{}).(string)
	return s, ok && s != ""
}

// NormalizeCorrelationID returns id with surrounding white space removed,
// or an error wrapping ErrInvalidAttribution when the result is empty,
// longer than MaxCorrelationIDBytes, not valid UTF-8 or holds a control
// character.
func NormalizeCorrelationID(id string) (string, error) {
	s := strings.TrimSpace(id)
	if s == "" {
		return "", fmt.Errorf("%w: correlation id is blank", ErrInvalidAttribution)
	}
	if len(s) > MaxCorrelationIDBytes {
		return "", fmt.Errorf("%w: correlation id is %d bytes, more than %d", ErrInvalidAttribution, len(s), MaxCorrelationIDBytes)
	}
	if err := checkText(s); err != nil {
		return "", fmt.Errorf("%w: correlation id %v", ErrInvalidAttribution, err)
	}
	return s, nil
}

// ValidateRequestID reports whether id can be stored as a request id: not
// blank, at most MaxRequestIDBytes, valid UTF-8 without control
// characters. Errors wrap ErrInvalidAttribution.
func ValidateRequestID(id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("%w: request id is blank", ErrInvalidAttribution)
	}
	if len(id) > MaxRequestIDBytes {
		return fmt.Errorf("%w: request id is %d bytes, more than %d", ErrInvalidAttribution, len(id), MaxRequestIDBytes)
	}
	if err := checkText(id); err != nil {
		return fmt.Errorf("%w: request id %v", ErrInvalidAttribution, err)
	}
	return nil
}

// checkText rejects invalid UTF-8 and control characters.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("holds a control character at byte %d", i)
	}
	return nil
}

// attribution is what a transaction or an action is attributed to. A nil
// field is unset; a set field was given explicitly (or filled from the
// context by fromContext).
type attribution struct {
	actor         *ActorRef
	requestID     *string
	correlationID *string
}

// explicit reports whether any field is set.
func (at attribution) explicit() bool {
	return at.actor != nil || at.requestID != nil || at.correlationID != nil
}

// fromContext fills the unset fields of at from ctx.
func (at attribution) fromContext(ctx context.Context) attribution {
	if at.actor == nil {
		if a, ok := ActorFromContext(ctx); ok {
			at.actor = &a
		}
	}
	if at.requestID == nil {
		if s, ok := RequestIDFromContext(ctx); ok {
			at.requestID = &s
		}
	}
	if at.correlationID == nil {
		if s, ok := CorrelationIDFromContext(ctx); ok {
			at.correlationID = &s
		}
	}
	return at
}

// normalize validates the set fields of at and returns it with the
// correlation id trimmed.
func (at attribution) normalize() (attribution, error) {
	if at.actor != nil {
		if err := at.actor.Validate(); err != nil {
			return at, err
		}
	}
	if at.requestID != nil {
		if err := ValidateRequestID(*at.requestID); err != nil {
			return at, err
		}
	}
	if at.correlationID != nil {
		c, err := NormalizeCorrelationID(*at.correlationID)
		if err != nil {
			return at, err
		}
		at.correlationID = &c
	}
	return at, nil
}

// explicitAttribution is the attribution set by the Actor, RequestID and
// CorrelationID fields of TxOptions or ActionOptions: the zero ActorRef
// and empty strings are unset.
func explicitAttribution(actor ActorRef, requestID, correlationID string) attribution {
	var at attribution
	if actor != (ActorRef{}) {
		at.actor = &actor
	}
	if requestID != "" {
		at.requestID = &requestID
	}
	if correlationID != "" {
		at.correlationID = &correlationID
	}
	return at
}
