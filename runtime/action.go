package threadline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/tlerr"
)

// Action statuses (audit_actions.status).
const (
	// ActionOK records an action that succeeded (the default).
	ActionOK = "ok"
	// ActionError records an action that failed.
	ActionError = "error"
)

// MaxJobIDBytes bounds a job id.
const MaxJobIDBytes = contract.MaxAttributionIDBytes

// MaxActionNameBytes bounds an action's name, verb and category, and
// MaxActionTextBytes its reason and comment, in bytes of UTF-8: RecordAction
// refuses a longer one with a *TextTooLongError before it sends anything,
// and the database function record_action refuses it too (SQLSTATE 22001),
// whatever the client.
const (
	MaxActionNameBytes = contract.MaxActionNameBytes
	MaxActionTextBytes = contract.MaxActionTextBytes
)

// ErrNotInTransaction is returned (wrapped) by RecordAction when it is not
// given a transaction.
var ErrNotInTransaction = errors.New("threadline: not in a transaction")

// ErrActionAlreadyRecorded is returned (wrapped) by RecordAction when the
// current transaction is already linked to an action: a transaction has at
// most one (audit_transactions.action_id). Nothing is written then.
var ErrActionAlreadyRecorded = errors.New("threadline: the transaction already has an action")

// ErrInvalidAction is wrapped by errors about invalid RecordAction
// arguments (name, status, texts).
var ErrInvalidAction = errors.New("threadline: invalid action")

// TextTooLongError reports an action text longer than its bound
// (MaxActionNameBytes, MaxActionTextBytes). It matches ErrInvalidAction
// with errors.Is, and its SQLState is "22001" (string_data_right_truncation),
// the SQLSTATE the database function record_action raises for the same text.
type TextTooLongError struct {
	// Field is "name", "verb", "category", "reason" or "comment".
	Field string
	// Bytes is the text's length, Max its bound, in bytes.
	Bytes, Max int
}

// Error names the field, its length and its bound.
func (e *TextTooLongError) Error() string {
	return fmt.Sprintf("%v: %s is %d bytes, more than %d", ErrInvalidAction, e.Field, e.Bytes, e.Max)
}

// Is reports whether target is ErrInvalidAction.
func (e *TextTooLongError) Is(target error) bool { return target == ErrInvalidAction }

// SQLState returns "22001", as record_action's error for the same text.
func (e *TextTooLongError) SQLState() string { return contract.SQLStateStringTooLong }

// Action is a semantic action: who did what and why, one row of
// audit_actions, linked from the audit_transactions row of the transaction
// that recorded it. Empty strings stand for SQL NULL.
type Action struct {
	// ID is audit_actions.id.
	ID int64 `json:"id"`
	// Name names the action, e.g. "order.refund".
	Name string `json:"name"`
	// Actor is who performed it; nil when unknown.
	Actor *ActorRef `json:"actor_ref,omitempty"`
	// Status is ActionOK or ActionError.
	Status string `json:"status"`
	// Verb is an optional verb ("create", "approve"...).
	Verb string `json:"verb,omitempty"`
	// Category is an optional category ("billing"...).
	Category string `json:"category,omitempty"`
	// Reason is an optional reason given by the actor.
	Reason string `json:"reason,omitempty"`
	// Comment is an optional free-text comment.
	Comment string `json:"comment,omitempty"`
	// CorrelationID ties the action to other work of the same intent.
	CorrelationID string `json:"correlation_id,omitempty"`
	// RequestID is the id of the request that performed the action.
	RequestID string `json:"request_id,omitempty"`
	// JobID is the id of the background job that performed the action.
	JobID string `json:"job_id,omitempty"`
	// InsertedAt is when the action was recorded.
	InsertedAt time.Time `json:"inserted_at"`
	// TransactionID is the audit_transactions.id linked to the action; 0
	// when unknown.
	TransactionID int64 `json:"transaction_id,omitempty"`
}

// ActionOptions configures RecordAction. The zero value records an action
// with status ActionOK, no verb, category, reason or comment, and the
// attribution and job id of the transaction and ctx. An empty field is
// unset; only what is set is validated.
type ActionOptions struct {
	// Actor is who performed the action. The zero ActorRef is unset (the
	// transaction's actor applies, else the one in ctx); any other value
	// must pass ActorRef.Validate, or RecordAction returns an error
	// wrapping ErrInvalidActor.
	Actor ActorRef
	// RequestID is the request id (see ValidateRequestID). Empty is unset;
	// a blank or invalid one is an error wrapping ErrInvalidAttribution.
	RequestID string
	// CorrelationID is the correlation id (see NormalizeCorrelationID).
	// Empty is unset; a blank or invalid one is an error wrapping
	// ErrInvalidAttribution.
	CorrelationID string
	// Status is ActionOK or ActionError; empty is ActionOK. Any other
	// value is an error wrapping ErrInvalidAction.
	Status string
	// Verb is the verb of the action ("create", "approve", …), at most
	// MaxActionNameBytes. Empty is unset (SQL NULL).
	Verb string
	// Category is the category of the action ("billing", …), at most
	// MaxActionNameBytes. Empty is unset (SQL NULL).
	Category string
	// Reason is the reason the actor gave, at most MaxActionTextBytes.
	// Empty is unset (SQL NULL).
	Reason string
	// Comment is a free-text comment, at most MaxActionTextBytes. Empty is
	// unset (SQL NULL).
	Comment string
	// JobID is the id of the background job performing the action (see
	// ContextWithJobID). Empty is unset (the job id in ctx applies); a
	// blank one, one over MaxJobIDBytes or one holding a control
	// character is an error wrapping ErrInvalidAttribution.
	JobID string
}

// RecordAction records a semantic action in the default audit schema; see
// Audit.RecordAction.
func RecordAction(ctx context.Context, tx pgx.Tx, name string, opts ActionOptions) (Action, error) {
	return Audit{}.RecordAction(ctx, tx, name, opts)
}

// RecordAction inserts an audit_actions row in tx and links it to tx's
// audit_transactions row (audit_transactions.action_id), creating that row
// when no audited write happened yet in the transaction. Both happen in
// one round trip: one call of the SECURITY DEFINER function
// <schema>.record_action, which needs no privilege on the audit tables
// from the calling role. Rolling tx back
// removes both.
//
// The actor, request id and correlation id of the action are, in order of
// precedence: opts.Actor, opts.RequestID and opts.CorrelationID; the
// values the transaction is attributed to (its audit_transactions row,
// filled from the settings InTx publishes); the values in ctx. The job id
// is opts.JobID, else the context's (ContextWithJobID).
//
// Errors: a nil tx (ErrNotInTransaction); a blank name, a status other
// than ActionOK or ActionError (ErrInvalidAction); a name, verb, category,
// reason or comment longer than its bound (*TextTooLongError, which is
// ErrInvalidAction with SQLSTATE 22001); an invalid actor
// (ErrInvalidActor); a blank correlation id or one over 256 bytes, an
// invalid request or job id (ErrInvalidAttribution); a transaction that
// already has an action (ErrActionAlreadyRecorded). Nothing is written
// when an error is returned, except for a database error, after which the
// transaction is aborted anyway.
//
// The call is reported to a.Hooks.ActionRecorded, on success and on
// failure.
func (a Audit) RecordAction(ctx context.Context, tx pgx.Tx, name string, opts ActionOptions) (Action, error) {
	start := time.Now()
	act, err := a.recordAction(ctx, tx, name, opts)
	if a.Hooks.ActionRecorded != nil {
		e := ActionRecordedEvent{
			Name: name, Status: act.Status, Verb: act.Verb, Category: act.Category,
			ActionID: act.ID, TransactionID: act.TransactionID,
			Start: start, Duration: time.Since(start), Err: err,
		}
		if act.Actor != nil {
			e.ActorKind = act.Actor.Kind
		}
		a.Hooks.ActionRecorded(ctx, e)
	}
	return act, err
}

func (a Audit) recordAction(ctx context.Context, tx pgx.Tx, name string, opts ActionOptions) (Action, error) {
	if tx == nil || isNilPointer(tx) {
		return Action{}, tlerr.Wrap(ErrNotInTransaction, "record action %q", shortName(name))
	}
	p, err := opts.params(ctx, name)
	if err != nil {
		return Action{}, tlerr.Wrap(err, "record action %q", shortName(name))
	}
	// One statement, one round trip: the SECURITY DEFINER function
	// <schema>.record_action makes sure the transaction's audit header
	// exists, inserts the action and links it, so the application role
	// needs no privilege on the audit tables.
	row := tx.QueryRow(ctx, "select * from "+a.schema()+".record_action($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
		name, p.actor, p.ctxActor, p.status, p.verb, p.category, p.reason, p.comment,
		p.correlationID, p.ctxCorrelationID, p.requestID, p.ctxRequestID, p.jobID)
	act, err := scanRecordedAction(row)
	if errors.Is(err, pgx.ErrTxClosed) {
		return Action{}, tlerr.Wrap(fmt.Errorf("%w: %w", ErrNotInTransaction, err), "record action %q", shortName(name))
	}
	if err != nil {
		return Action{}, tlerr.Wrap(err, "record action %q", shortName(name))
	}
	return act, nil
}

// shortName is name for an error message: an oversize name is cut to
// its first 64 bytes (at a character boundary) and an ellipsis.
func shortName(name string) string {
	if len(name) <= MaxActionNameBytes {
		return name
	}
	n := 64
	for n > 0 && !utf8.RuneStart(name[n]) {
		n--
	}
	return name[:n] + "…"
}

// scanRecordedAction reads the row record_action returns.
func scanRecordedAction(row pgx.Row) (Action, error) {
	var (
		headerID                                             int64
		existing, id                                         *int64
		name, actor, status, verb, category, reason, comment *string
		correlationID, requestID, jobID                      *string
		insertedAt                                           *time.Time
	)
	err := row.Scan(&headerID, &existing, &id, &name, &actor, &status, &verb, &category, &reason,
		&comment, &correlationID, &requestID, &jobID, &insertedAt)
	if err != nil {
		return Action{}, fmt.Errorf("insert: %w", err)
	}
	if id == nil {
		if existing != nil {
			return Action{}, fmt.Errorf("%w (audit_transactions.id %d is linked to audit_actions.id %d)", ErrActionAlreadyRecorded, headerID, *existing)
		}
		return Action{}, errors.New("insert: no row written")
	}
	act := Action{
		ID:            *id,
		Name:          textOrEmpty(name),
		Status:        textOrEmpty(status),
		Verb:          textOrEmpty(verb),
		Category:      textOrEmpty(category),
		Reason:        textOrEmpty(reason),
		Comment:       textOrEmpty(comment),
		CorrelationID: textOrEmpty(correlationID),
		RequestID:     textOrEmpty(requestID),
		JobID:         textOrEmpty(jobID),
		TransactionID: headerID,
	}
	if insertedAt != nil {
		act.InsertedAt = *insertedAt
	}
	if actor != nil {
		var ref ActorRef
		if err := ref.UnmarshalJSON([]byte(*actor)); err != nil {
			return Action{}, fmt.Errorf("stored actor: %w", err)
		}
		act.Actor = &ref
	}
	return act, nil
}

// isNilPointer reports whether v holds a nil pointer.
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

func textOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// actionParams are the query arguments of RecordAction; nil is SQL NULL.
type actionParams struct {
	actor, ctxActor                 any
	status                          string
	verb, category, reason, comment any
	correlationID, ctxCorrelationID any
	requestID, ctxRequestID         any
	jobID                           any
}

// params validates the options and returns the query arguments.
func (o ActionOptions) params(ctx context.Context, name string) (actionParams, error) {
	var p actionParams
	if err := checkFreeText("name", name, MaxActionNameBytes); err != nil {
		return p, err
	}
	if isBlank(name) {
		return p, fmt.Errorf("%w: blank name", ErrInvalidAction)
	}
	p.status = ActionOK
	if o.Status != "" {
		p.status = o.Status
	}
	if p.status != ActionOK && p.status != ActionError {
		return p, fmt.Errorf("%w: status %q (want %q or %q)", ErrInvalidAction, p.status, ActionOK, ActionError)
	}
	for _, f := range []struct {
		field string
		v     string
		dst   *any
		max   int
	}{
		{"verb", o.Verb, &p.verb, MaxActionNameBytes},
		{"category", o.Category, &p.category, MaxActionNameBytes},
		{"reason", o.Reason, &p.reason, MaxActionTextBytes},
		{"comment", o.Comment, &p.comment, MaxActionTextBytes},
	} {
		if f.v == "" {
			continue
		}
		if err := checkFreeText(f.field, f.v, f.max); err != nil {
			return p, err
		}
		*f.dst = f.v
	}

	explicit, err := explicitAttribution(o.Actor, o.RequestID, o.CorrelationID).normalize()
	if err != nil {
		return p, err
	}
	fromCtx, err := attribution{}.fromContext(ctx).normalize()
	if err != nil {
		return p, fmt.Errorf("context: %w", err)
	}
	if explicit.actor != nil {
		p.actor = string(explicit.actor.appendCanonical(nil))
	}
	if fromCtx.actor != nil {
		p.ctxActor = string(fromCtx.actor.appendCanonical(nil))
	}
	p.requestID, p.ctxRequestID = strOrNil(explicit.requestID), strOrNil(fromCtx.requestID)
	p.correlationID, p.ctxCorrelationID = strOrNil(explicit.correlationID), strOrNil(fromCtx.correlationID)

	jobID := o.JobID
	if jobID == "" {
		jobID, _ = JobIDFromContext(ctx)
	}
	if jobID != "" {
		if err := validateJobID(jobID); err != nil {
			return p, err
		}
		p.jobID = jobID
	}
	return p, nil
}

func strOrNil(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// validateJobID reports whether id can be stored as a job id.
func validateJobID(id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("%w: job id is blank", ErrInvalidAttribution)
	}
	if len(id) > MaxJobIDBytes {
		return fmt.Errorf("%w: job id is %d bytes, more than %d", ErrInvalidAttribution, len(id), MaxJobIDBytes)
	}
	if err := checkText(id); err != nil {
		return fmt.Errorf("%w: job id %v", ErrInvalidAttribution, err)
	}
	return nil
}

// checkFreeText rejects what a PostgreSQL text column cannot hold, and a
// text longer than max bytes (a *TextTooLongError).
func checkFreeText(field, s string, max int) error {
	if len(s) > max {
		return &TextTooLongError{Field: field, Bytes: len(s), Max: max}
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidAction, field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: %s contains a NUL character", ErrInvalidAction, field)
	}
	return nil
}
