package threadlineops

import (
	"context"
	"log/slog"
	"time"
)

// Hooks observe the operations of this package, for metrics, traces and
// logs, as threadline.Hooks observe the runtime's: every field is
// optional (a nil func is not called); hooks run synchronously on the
// caller's goroutine after the operation (or batch) they describe, so
// they should be quick; events carry counts, durations, table names and
// error values, never captured column values.
//
// Set them once, on Audit.Hooks. SlogHooks logs every event; the
// contrib/otel module turns them into OpenTelemetry metrics and spans;
// JoinHooks combines several.
type Hooks struct {
	// CoverageChecked is called after Coverage.
	CoverageChecked func(context.Context, CoverageCheckedEvent)
	// PurgeBatch is called after each committed batch of Purge.
	PurgeBatch func(context.Context, PurgeBatchEvent)
	// PurgeFinished is called once when Purge (or PurgePlan) ends,
	// successfully or not.
	PurgeFinished func(context.Context, PurgeFinishedEvent)
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
		out.CoverageChecked = join(out.CoverageChecked, h.CoverageChecked)
		out.PurgeBatch = join(out.PurgeBatch, h.PurgeBatch)
		out.PurgeFinished = join(out.PurgeFinished, h.PurgeFinished)
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

// SlogHooks returns Hooks that log every event to l (slog.Default() when
// l is nil): coverage checks at Info (Warn when they failed or found
// violations). Purge batches and purge summaries are logged at Debug,
// because Purge itself already logs them at Info through
// PurgeOptions.Logger; with both, Info output is not duplicated.
func SlogHooks(l *slog.Logger) Hooks {
	if l == nil {
		l = slog.Default()
	}
	return Hooks{
		CoverageChecked: func(ctx context.Context, e CoverageCheckedEvent) {
			attrs := []slog.Attr{
				slog.Int("tables", e.Tables), slog.Int("covered", e.Covered), slog.Int("uncovered", e.Uncovered),
				slog.Int("disabled", e.Disabled), slog.Int("stale", e.Stale), slog.Int("ignored", e.Ignored), slog.Int("expected", e.Expected),
				slog.Int("missing", e.Missing), slog.Any("violations", e.Violations),
				slog.Duration("elapsed", e.Duration),
			}
			lv := slog.LevelInfo
			if e.Err != nil {
				lv = slog.LevelWarn
			}
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
	}
}

// withErr appends the error, when there is one, to attrs.
func withErr(attrs []slog.Attr, err error) []slog.Attr {
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	return attrs
}
