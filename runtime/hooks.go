package threadline

import (
	"context"
	"log/slog"
	"time"
)

// Hooks observe Threadline's operations, for metrics, traces and logs.
// Every field is optional; a nil func is not called. Hooks run
// synchronously on the caller's goroutine after the operation (or batch)
// they describe, so they should be quick.
//
// Events carry counts, durations, table names, formats and error values,
// never captured column values (so never an excluded or masked value).
//
// Set them once, on Audit.Hooks: every operation of that Audit reports to
// them. SlogHooks logs every event; the contrib/otel module turns them
// into OpenTelemetry metrics and spans; JoinHooks combines several.
type Hooks struct {
	// ActionRecorded is called after RecordAction.
	ActionRecorded func(context.Context, ActionRecordedEvent)
	// ExportFinished is called once when Export ends, successfully or not.
	ExportFinished func(context.Context, ExportFinishedEvent)
}

// ActionRecordedEvent describes one RecordAction call.
type ActionRecordedEvent struct {
	// Name, Status, Verb and Category of the action ("" when failed
	// before the database answered, except Name).
	Name     string
	Status   string
	Verb     string
	Category string
	// ActorKind is the kind of the action's actor ("" when none).
	ActorKind ActorKind
	// ActionID and TransactionID identify the rows written (0 on error).
	ActionID      int64
	TransactionID int64
	// Start and Duration time the call.
	Start    time.Time
	Duration time.Duration
	// Err is the error returned, or nil.
	Err error
}

// ExportFinishedEvent describes one Export call.
type ExportFinishedEvent struct {
	// Schema is the audit schema.
	Schema string
	// Format is the export format.
	Format ExportFormat
	// Rows is the number of changes written; Truncated is true when
	// MaxRows cut the export short; Bytes is the size written.
	Rows      int64
	Truncated bool
	Bytes     int64
	// Table is the filter's table ("" for all tables).
	Table string
	// Start and Duration time the call.
	Start    time.Time
	Duration time.Duration
	// Err is the error returned, or nil.
	Err error
}

// JoinHooks returns Hooks that call every non-nil hook of hs, in order.
func JoinHooks(hs ...Hooks) Hooks {
	var out Hooks
	for _, h := range hs {
		out.ActionRecorded = join(out.ActionRecorded, h.ActionRecorded)
		out.ExportFinished = join(out.ExportFinished, h.ExportFinished)
	}
	return out
}

func join[E any](a, b func(context.Context, E)) func(context.Context, E) {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func(ctx context.Context, e E) {
		a(ctx, e)
		b(ctx, e)
	}
}

// call runs hook h with event e when h is set.
func call[E any](ctx context.Context, h func(context.Context, E), e E) {
	if h != nil {
		h(ctx, e)
	}
}

// SlogHooks returns Hooks that log every event to l (slog.Default() when
// l is nil): actions and exports at Info (Warn when they failed).
func SlogHooks(l *slog.Logger) Hooks {
	if l == nil {
		l = slog.Default()
	}
	level := func(err error) slog.Level {
		if err != nil {
			return slog.LevelWarn
		}
		return slog.LevelInfo
	}
	return Hooks{
		ActionRecorded: func(ctx context.Context, e ActionRecordedEvent) {
			attrs := []slog.Attr{
				slog.String("name", e.Name), slog.String("status", e.Status),
				slog.String("actor_kind", string(e.ActorKind)),
				slog.Int64("action_id", e.ActionID), slog.Int64("transaction_id", e.TransactionID),
				slog.Duration("elapsed", e.Duration),
			}
			l.LogAttrs(ctx, level(e.Err), "threadline action recorded", withErr(attrs, e.Err)...)
		},
		ExportFinished: func(ctx context.Context, e ExportFinishedEvent) {
			attrs := []slog.Attr{
				slog.String("format", string(e.Format)), slog.Int64("rows", e.Rows), slog.Bool("truncated", e.Truncated),
				slog.Int64("bytes", e.Bytes), slog.String("table", e.Table), slog.Duration("elapsed", e.Duration),
			}
			l.LogAttrs(ctx, level(e.Err), "threadline export finished", withErr(attrs, e.Err)...)
		},
	}
}

func withErr(attrs []slog.Attr, err error) []slog.Attr {
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	return attrs
}
