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
	// CoverageChecked is called after Coverage.
	CoverageChecked func(context.Context, CoverageCheckedEvent)
	// PurgeBatch is called after each committed batch of Purge.
	PurgeBatch func(context.Context, PurgeBatchEvent)
	// PurgeFinished is called once when Purge (or PurgePlan) ends,
	// successfully or not.
	PurgeFinished func(context.Context, PurgeFinishedEvent)
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

// CoverageCheckedEvent describes one Coverage call.
type CoverageCheckedEvent struct {
	// Schema is the audit schema.
	Schema string
	// Tables counts the user tables seen (partitions not included);
	// Covered, Uncovered, Disabled, Stale and Ignored split them by
	// status.
	Tables, Covered, Uncovered, Disabled, Stale, Ignored int
	// Expected counts the expected tables; Missing those that do not
	// exist.
	Expected, Missing int
	// Violations lists the qualified names of the expected tables that
	// fail (missing, uncovered, disabled or stale).
	Violations []string
	// Start and Duration time the call.
	Start    time.Time
	Duration time.Duration
	// Err is the error returned, or nil.
	Err error
}

// PurgeBatchEvent describes one committed batch of Purge.
type PurgeBatchEvent struct {
	// Schema is the audit schema.
	Schema string
	// Batch numbers the batch from 1 (change and transaction batches
	// share the numbering).
	Batch int
	// Phase is "changes" for a batch of changes, "transactions" for a
	// batch of empty transactions.
	Phase string
	// DeletedChanges and DeletedTransactions are what the batch deleted.
	DeletedChanges      int64
	DeletedTransactions int64
	// Cutoff is the purge's cutoff: rows captured before it are deleted.
	Cutoff time.Time
	// Start and Duration time the batch.
	Start    time.Time
	Duration time.Duration
}

// PurgeFinishedEvent summarizes one Purge or PurgePlan call.
type PurgeFinishedEvent struct {
	// Schema is the audit schema.
	Schema string
	// DryRun is true for PurgePlan: the counts are what would be deleted.
	DryRun bool
	// DeletedChanges and DeletedTransactions are the totals.
	DeletedChanges      int64
	DeletedTransactions int64
	// Batches is the number of committed batches; Capped is true when the
	// run stopped at MaxBatches with eligible changes left.
	Batches int
	Capped  bool
	// Cutoff is the purge's cutoff.
	Cutoff time.Time
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

// Purge log messages (slog), stable for log searches.
const (
	PurgeBatchMessage    = "threadline retention purge batch"
	PurgeFinishedMessage = "threadline retention purge finished"
)

// LogAttrs returns the event as slog attributes (with PurgeBatchMessage).
func (e PurgeBatchEvent) LogAttrs() []slog.Attr {
	return []slog.Attr{
		slog.String("schema", e.Schema), slog.Int("batch", e.Batch), slog.String("phase", e.Phase),
		slog.Int64("deleted", e.DeletedChanges), slog.Int64("deleted_transactions", e.DeletedTransactions),
		slog.Duration("elapsed", e.Duration),
	}
}

// LogAttrs returns the event as slog attributes, the error last (with
// PurgeFinishedMessage).
func (e PurgeFinishedEvent) LogAttrs() []slog.Attr {
	return withErr([]slog.Attr{
		slog.String("schema", e.Schema), slog.Bool("dry_run", e.DryRun),
		slog.Int64("deleted_changes", e.DeletedChanges), slog.Int64("deleted_transactions", e.DeletedTransactions),
		slog.Int("batches", e.Batches), slog.Bool("capped", e.Capped),
		slog.Time("cutoff", e.Cutoff), slog.Duration("elapsed", e.Duration),
	}, e.Err)
}

// JoinHooks returns Hooks that call every non-nil hook of hs, in order.
func JoinHooks(hs ...Hooks) Hooks {
	var out Hooks
	for _, h := range hs {
		out.ActionRecorded = join(out.ActionRecorded, h.ActionRecorded)
		out.CoverageChecked = join(out.CoverageChecked, h.CoverageChecked)
		out.PurgeBatch = join(out.PurgeBatch, h.PurgeBatch)
		out.PurgeFinished = join(out.PurgeFinished, h.PurgeFinished)
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
// l is nil): actions, coverage checks and exports at Info (Warn when they
// failed or found violations). Purge batches and purge summaries are
// logged at Debug, because Purge itself already logs them at Info through
// PurgeOptions.Logger; with both, Info output is not duplicated.
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
		CoverageChecked: func(ctx context.Context, e CoverageCheckedEvent) {
			attrs := []slog.Attr{
				slog.Int("tables", e.Tables), slog.Int("covered", e.Covered), slog.Int("uncovered", e.Uncovered),
				slog.Int("disabled", e.Disabled), slog.Int("stale", e.Stale), slog.Int("ignored", e.Ignored), slog.Int("expected", e.Expected),
				slog.Int("missing", e.Missing), slog.Any("violations", e.Violations),
				slog.Duration("elapsed", e.Duration),
			}
			lv := level(e.Err)
			if len(e.Violations) > 0 {
				lv = slog.LevelWarn
			}
			l.LogAttrs(ctx, lv, "threadline coverage checked", withErr(attrs, e.Err)...)
		},
		PurgeBatch: func(ctx context.Context, e PurgeBatchEvent) {
			l.LogAttrs(ctx, slog.LevelDebug, PurgeBatchMessage, e.LogAttrs()...)
		},
		PurgeFinished: func(ctx context.Context, e PurgeFinishedEvent) {
			l.LogAttrs(ctx, slog.LevelDebug, PurgeFinishedMessage, e.LogAttrs()...)
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
