package threadline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/tlerr"
)

// The transaction-local settings the capture triggers read (see
// threadline.current_transaction_id in the generated core migration and
// internal/contract): the three values count only when settingBound
// names the current transaction.
const (
	settingActor         = contract.SettingActor
	settingRequestID     = contract.SettingRequestID
	settingCorrelationID = contract.SettingCorrelationID
	settingBound         = contract.SettingAttributionTx
)

// rollbackTimeout bounds the rollback InTx sends after fn failed or
// panicked; the rollback runs even when ctx is already cancelled.
const rollbackTimeout = 10 * time.Second

// ErrNestedAttribution is returned (wrapped) by InTx when it is nested in
// an enclosing transaction and explicitly asks for an actor, request id or
// correlation id other than the one in effect there. Attribution belongs
// to the database transaction as a whole (one audit_transactions row), so
// a savepoint cannot carry a different one.
var ErrNestedAttribution = errors.New("threadline: a nested transaction cannot change the attribution of its enclosing transaction")

// Beginner is what InTx needs from a database handle: *pgxpool.Pool,
// *pgxpool.Conn, *pgx.Conn and pgx.Tx satisfy it. A pgx.Tx makes InTx
// nested (a savepoint).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// TxBeginner starts a transaction with options: *pgxpool.Pool,
// *pgxpool.Conn and *pgx.Conn satisfy it (a pgx.Tx does not: Feed needs a
// transaction of its own, REPEATABLE READ).
type TxBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// TxOptions configures InTx, as pgx.TxOptions configures
// pgx.BeginTxFunc. The zero value is the default: attribution from ctx,
// the server's default transaction mode, no logical message. An empty
// field is unset; only what is set is validated.
type TxOptions struct {
	// Actor attributes the transaction to an actor. The zero ActorRef is
	// unset (the actor in ctx applies, see ContextWithActor); any other
	// value must pass ActorRef.Validate, or InTx returns an error wrapping
	// ErrInvalidActor.
	Actor ActorRef
	// RequestID is the request id (see ValidateRequestID). Empty is unset
	// (the request id in ctx applies); a blank or invalid one is an error
	// wrapping ErrInvalidAttribution.
	RequestID string
	// CorrelationID is the correlation id (see NormalizeCorrelationID).
	// Empty is unset (the correlation id in ctx applies); a blank or
	// invalid one is an error wrapping ErrInvalidAttribution.
	CorrelationID string
	// Tx sets the isolation level, access mode and deferrable mode of the
	// transaction. A BeginQuery in it is sent first, followed by the
	// attribution settings in the same round trip. The zero value is
	// unset (the server's defaults). It cannot be set for a nested InTx
	// (the enclosing transaction already chose it), nor with a Beginner
	// that has no BeginTx method.
	Tx pgx.TxOptions
	// WALMessage is for engine: wal (docs/wal-engine.md): InTx also sends
	// the attribution as a transactional logical message, as
	// <audit_schema>.attribute does, in the same round trip as BEGIN and
	// outside any savepoint, so that threadline capture attributes the
	// transaction. The trigger engine does not need it (it reads the
	// settings); a nested InTx ignores it.
	WALMessage bool
}

// attribution returns the attribution o sets explicitly.
func (o TxOptions) attribution() attribution {
	return explicitAttribution(o.Actor, o.RequestID, o.CorrelationID)
}

// InTx runs fn in a database transaction attributed to an actor, a request
// id and a correlation id, and commits it; it rolls back when fn returns
// an error or panics (the panic then continues).
//
// The attribution comes from opts (Actor, RequestID, CorrelationID) and,
// for what they leave unset, from ctx (ContextWithActor and friends,
// filled by the HTTP middleware or a job's JobAttribution). It is
// published as the transaction-local settings threadline.actor_ref,
// threadline.request_id and threadline.correlation_id
// (set_config(name, value, true)) that the capture triggers read, with
// threadline.attribution_tx, which binds them to this transaction (its
// start time): the capture honours them only for the transaction they
// were set for, so a value left at session level on a pooled connection
// attributes neither this transaction nor any other. All three are always
// written, empty when unknown, and being transaction-local they vanish at
// COMMIT or ROLLBACK, which makes InTx safe under PgBouncer transaction
// pooling. Writers in other languages call the SQL function
// <audit_schema>.attribute, which publishes the same four settings.
//
// One round trip: with *pgxpool.Pool, *pgxpool.Conn or *pgx.Conn the
// BEGIN and the set_config calls travel as one multi-statement simple
// query ("begin; select set_config(...), ..." passed to pgx as
// pgx.TxOptions.BeginQuery), so attribution costs no extra round trip. (A
// Beginner without BeginTx costs one more.) The test
// TestInTxSingleRoundTrip counts the writes on the connection's socket.
//
// Nested use: when db is a pgx.Tx, InTx runs fn in a savepoint of that
// transaction (released on success, rolled back on error or panic) and
// publishes nothing: the enclosing transaction's attribution applies,
// because the database attributes a whole transaction, not a savepoint.
// Values in ctx are ignored; an attribution set in opts that differs from
// the value in effect is an error wrapping ErrNestedAttribution (checked
// before the savepoint is created, with one extra query), and opts.Tx must
// be unset.
//
// The arguments come in the order of pgx.BeginTxFunc (ctx, db, options,
// fn). Errors from fn are returned wrapped ("threadline: transaction:
// ..."), so errors.Is and errors.As see them.
func InTx(ctx context.Context, db Beginner, opts TxOptions, fn func(pgx.Tx) error) error {
	if db == nil {
		return errors.New("threadline: transaction: nil database handle")
	}
	if fn == nil {
		return errors.New("threadline: transaction: nil function")
	}
	if outer, ok := db.(pgx.Tx); ok {
		return inNestedTx(ctx, outer, fn, opts)
	}
	attr, err := opts.attribution().fromContext(ctx).normalize()
	if err != nil {
		return tlerr.Wrap(err, "transaction")
	}
	settings := settingsSQL(attr)
	if opts.WALMessage {
		settings += ", " + walMessageSQL(attr)
	}
	var txOpts *pgx.TxOptions
	if opts.Tx != (pgx.TxOptions{}) {
		txOpts = &opts.Tx
	}
	tx, err := txBegin(ctx, db, txOpts, settings)
	if err != nil {
		return tlerr.Wrap(err, "transaction: begin")
	}
	return explainCapture(ctx, db, txRun(ctx, tx, fn))
}

// txBegin starts a top-level transaction and publishes the settings.
func txBegin(ctx context.Context, db Beginner, txOpts *pgx.TxOptions, settings string) (pgx.Tx, error) {
	b, ok := db.(TxBeginner)
	if !ok {
		if txOpts != nil {
			return nil, fmt.Errorf("%T has no BeginTx method for transaction options", db)
		}
		tx, err := db.Begin(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, settings); err != nil {
			_ = txRollback(ctx, tx)
			return nil, fmt.Errorf("publish attribution: %w", err)
		}
		return tx, nil
	}
	var o pgx.TxOptions
	if txOpts != nil {
		o = *txOpts
	}
	head, err := beginSQL(o)
	if err != nil {
		return nil, err
	}
	// No arguments: pgx sends this as one simple-protocol Query message.
	o.BeginQuery = head + "; " + settings
	tx, err := b.BeginTx(ctx, o)
	if err != nil {
		abandonFailedBegin(db)
		return nil, err
	}
	return tx, nil
}

// abandonFailedBegin rolls back a connection left inside a transaction
// when BEGIN succeeded but the settings in the same message failed. A
// pool discards such a connection by itself when it is released.
func abandonFailedBegin(db Beginner) {
	var c *pgx.Conn
	switch d := db.(type) {
	case *pgx.Conn:
		c = d
	case interface{ Conn() *pgx.Conn }:
		c = d.Conn()
	}
	if c == nil || c.IsClosed() {
		return
	}
	if s := c.PgConn().TxStatus(); s == 'T' || s == 'E' {
		ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
		defer cancel()
		_, _ = c.Exec(ctx, "rollback")
	}
}

// beginSQL renders the BEGIN statement for o (o.BeginQuery when set).
func beginSQL(o pgx.TxOptions) (string, error) {
	if o.BeginQuery != "" {
		return strings.TrimRight(strings.TrimSpace(o.BeginQuery), ";"), nil
	}
	s := "begin"
	switch o.IsoLevel {
	case "":
	case pgx.Serializable, pgx.RepeatableRead, pgx.ReadCommitted, pgx.ReadUncommitted:
		s += " isolation level " + string(o.IsoLevel)
	default:
		return "", fmt.Errorf("unknown isolation level %q", string(o.IsoLevel))
	}
	switch o.AccessMode {
	case "":
	case pgx.ReadWrite, pgx.ReadOnly:
		s += " " + string(o.AccessMode)
	default:
		return "", fmt.Errorf("unknown access mode %q", string(o.AccessMode))
	}
	switch o.DeferrableMode {
	case "":
	case pgx.Deferrable, pgx.NotDeferrable:
		s += " " + string(o.DeferrableMode)
	default:
		return "", fmt.Errorf("unknown deferrable mode %q", string(o.DeferrableMode))
	}
	return s, nil
}

// settingsSQL renders the statement publishing at (already normalized) as
// transaction-local settings, bound to the transaction (settingBound).
// Unset values are published as empty strings, which the database reads
// as NULL. Values are escape-string literals,
// correct whatever standard_conforming_strings says; they hold no NUL
// (validated).
func settingsSQL(at attribution) string {
	var actor, requestID, correlationID string
	if at.actor != nil {
		actor = string(at.actor.appendCanonical(nil))
	}
	if at.requestID != nil {
		requestID = *at.requestID
	}
	if at.correlationID != nil {
		correlationID = *at.correlationID
	}
	return "select set_config('" + settingActor + "', " + contract.QuoteLiteral(actor) + ", true), " +
		"set_config('" + settingRequestID + "', " + contract.QuoteLiteral(requestID) + ", true), " +
		"set_config('" + settingCorrelationID + "', " + contract.QuoteLiteral(correlationID) + ", true), " +
		"set_config('" + settingBound + "', " + contract.TxStartSQL + ", true)"
}

// walMessageSQL renders the pg_logical_emit_message call that carries at
// to threadline capture: the transaction start (contract.TxStartSQL), the
// canonical actor, the request and correlation ids (JSON nulls when
// unset), under contract.WALMessagePrefix.
func walMessageSQL(at attribution) string {
	lit := func(s *string) string {
		if s == nil || *s == "" {
			return "NULL::text"
		}
		return contract.QuoteLiteral(*s)
	}
	var actor *string
	if at.actor != nil {
		a := string(at.actor.appendCanonical(nil))
		actor = &a
	}
	return "pg_logical_emit_message(true, " + contract.QuoteLiteral(contract.WALMessagePrefix) + ", json_build_object('s', " +
		contract.TxStartSQL + ", 'a', " + lit(actor) + ", 'r', " + lit(at.requestID) + ", 'c', " + lit(at.correlationID) + ")::text)"
}

// txRun runs fn in tx and commits, or rolls back when fn fails or panics.
func txRun(ctx context.Context, tx pgx.Tx, fn func(pgx.Tx) error) error {
	finished := false
	defer func() {
		// Reached without finishing only when fn panicked (or called
		// runtime.Goexit): roll back and let the panic continue.
		if !finished {
			_ = txRollback(ctx, tx)
		}
	}()
	fnErr := fn(tx)
	finished = true
	if fnErr != nil {
		if rbErr := txRollback(ctx, tx); rbErr != nil {
			return tlerr.Wrap(errors.Join(fnErr, fmt.Errorf("rollback: %w", rbErr)), "transaction")
		}
		return tlerr.Wrap(fnErr, "transaction")
	}
	if err := tx.Commit(ctx); err != nil {
		return tlerr.Wrap(err, "transaction: commit")
	}
	return nil
}

// txRollback rolls tx back even when ctx is already cancelled. A transaction
// that fn already closed is not an error.
func txRollback(ctx context.Context, tx pgx.Tx) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if err := tx.Rollback(rctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	return nil
}

// inNestedTx runs fn in a savepoint of outer.
func inNestedTx(ctx context.Context, outer pgx.Tx, fn func(pgx.Tx) error, opts TxOptions) error {
	if opts.Tx != (pgx.TxOptions{}) {
		return errors.New("threadline: transaction: TxOptions.Tx cannot apply to a nested transaction (savepoint)")
	}
	if at := opts.attribution(); at.explicit() {
		attr, err := at.normalize()
		if err != nil {
			return tlerr.Wrap(err, "transaction")
		}
		if err := checkNestedAttribution(ctx, outer, attr); err != nil {
			return tlerr.Wrap(err, "transaction")
		}
	}
	sp, err := outer.Begin(ctx)
	if err != nil {
		return tlerr.Wrap(err, "transaction: savepoint")
	}
	return txRun(ctx, sp, fn)
}

// checkNestedAttribution compares the explicit attribution of a nested
// InTx with the settings in effect in the enclosing transaction: those
// bound to it (settingBound), as the capture reads them.
func checkNestedAttribution(ctx context.Context, outer pgx.Tx, at attribution) error {
	actor, requestID, correlationID, err := attributionInEffect(ctx, outer)
	if err != nil {
		return fmt.Errorf("read attribution in effect: %w", err)
	}
	if at.actor != nil {
		cur, perr := ParseActorRef([]byte(actor))
		if actor == "" || perr != nil || cur != *at.actor {
			return fmt.Errorf("%w: actor %s requested, %s in effect", ErrNestedAttribution, at.actor, describeSetting(actor))
		}
	}
	if at.requestID != nil && *at.requestID != requestID {
		return fmt.Errorf("%w: request id %q requested, %s in effect", ErrNestedAttribution, *at.requestID, describeSetting(requestID))
	}
	if at.correlationID != nil && *at.correlationID != correlationID {
		return fmt.Errorf("%w: correlation id %q requested, %s in effect", ErrNestedAttribution, *at.correlationID, describeSetting(correlationID))
	}
	return nil
}

// attributionInEffect reads the settings that attribute tx: empty when
// they are not bound to it (a session-level value attributes nothing).
func attributionInEffect(ctx context.Context, tx pgx.Tx) (actor, requestID, correlationID string, err error) {
	var bound bool
	err = tx.QueryRow(ctx, "select coalesce(current_setting('"+settingActor+"', true), ''), "+
		"coalesce(current_setting('"+settingRequestID+"', true), ''), "+
		"coalesce(current_setting('"+settingCorrelationID+"', true), ''), "+
		"coalesce(current_setting('"+settingBound+"', true) = "+contract.TxStartSQL+", false)").
		Scan(&actor, &requestID, &correlationID, &bound)
	if err != nil || !bound {
		return "", "", "", err
	}
	return actor, requestID, correlationID, nil
}

func describeSetting(s string) string {
	if s == "" {
		return "none"
	}
	return fmt.Sprintf("%q", s)
}
