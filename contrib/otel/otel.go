// Package threadlineotel reports Threadline's operations to
// OpenTelemetry: metrics and spans built from threadline.Hooks (the
// application's actions and exports), threadlineops.Hooks (the
// operator's coverage checks and purges) and threadlinecapture.Hooks (the
// WAL engine's consumer). It lives in its own module so
// that the core module does not depend on OpenTelemetry.
//
//	hooks, err := threadlineotel.NewHooks(threadlineotel.Options{}) // global providers
//	if err != nil { … }
//	audit := threadline.Audit{Schema: "threadline", Hooks: hooks.Runtime}
//	res, err := audit.Export(ctx, pool, w, threadline.ExportCSV, f, threadline.ExportOptions{})
//	ops := threadlineops.Audit{Schema: "threadline", Hooks: hooks.Ops}
//	consumer := threadlinecapture.New(threadlinecapture.Config{SourceURL: url, Hooks: hooks.Capture})
//	stop, err := threadlineotel.ObserveCapture(threadlineotel.Options{}, consumer) // its lag gauges
//
// Combine it with logging through threadline.JoinHooks(hooks.Runtime,
// threadline.SlogHooks(logger)) and threadlineops.JoinHooks(hooks.Ops,
// threadlineops.SlogHooks(logger)).
//
// Metrics (all attributes are low-cardinality: no ids, no captured
// values):
//
//	threadline.actions.recorded        counter    name, status, actor_kind, error
//	threadline.action.duration         histogram  seconds; name, error
//	threadline.coverage.tables         gauge      tables by status (covered, uncovered, disabled, stale, missing)
//	threadline.coverage.violations     gauge      expected tables not covered
//	threadline.purge.deleted           counter    rows deleted; kind = changes|transactions
//	threadline.purge.batch.duration    histogram  seconds; phase
//	threadline.purge.runs              counter    dry_run, capped, error
//	threadline.export.rows             counter    format, truncated
//	threadline.export.duration         histogram  seconds; format, error
//	threadline.capture.transactions    counter    source transactions written; slot, error
//	threadline.capture.changes         counter    changes stored; slot
//	threadline.capture.batch.duration  histogram  seconds; slot, error
//	threadline.capture.lag             histogram  seconds from a source commit to its trail's commit; slot
//	threadline.capture.wal_behind      gauge      bytes the slot retains for the consumer; slot (ObserveCapture)
//	threadline.capture.streaming       gauge      1 while the replication stream is open; slot (ObserveCapture)
//
// Spans: threadline.record_action, threadline.coverage,
// threadline.purge.batch, threadline.purge, threadline.export,
// threadline.capture.batch. Hooks fire
// when an operation ends, so spans are recorded with their real start
// and end times, as children of the span in the operation's context.
package threadlineotel

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlinecapture"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/threadline-go/threadline"

// Options configures NewHooks; the zero value uses the global providers.
type Options struct {
	// MeterProvider records the metrics (otel.GetMeterProvider() when
	// nil).
	MeterProvider metric.MeterProvider
	// TracerProvider records the spans (otel.GetTracerProvider() when
	// nil).
	TracerProvider trace.TracerProvider
}

// Hooks are the hooks of both packages, recording into one set of
// instruments.
type Hooks struct {
	// Runtime is for threadline.Audit.Hooks: actions and exports.
	Runtime threadline.Hooks
	// Ops is for threadlineops.Audit.Hooks: coverage checks and purges.
	Ops threadlineops.Hooks
	// Capture is for threadlinecapture.Config.Hooks: the WAL engine's
	// batches.
	Capture threadlinecapture.Hooks
}

type instruments struct {
	tracer trace.Tracer

	actions          metric.Int64Counter
	actionDuration   metric.Float64Histogram
	coverageTables   metric.Int64Gauge
	coverageViolated metric.Int64Gauge
	purgeDeleted     metric.Int64Counter
	purgeBatch       metric.Float64Histogram
	purgeRuns        metric.Int64Counter
	exportRows       metric.Int64Counter
	exportDuration   metric.Float64Histogram
	captureTxs       metric.Int64Counter
	captureChanges   metric.Int64Counter
	captureBatch     metric.Float64Histogram
	captureLag       metric.Float64Histogram
}

// NewHooks returns Hooks recording metrics and spans.
func NewHooks(o Options) (Hooks, error) {
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	m := o.MeterProvider.Meter(ScopeName)
	in := &instruments{tracer: o.TracerProvider.Tracer(ScopeName)}
	var err error
	seconds := metric.WithUnit("s")
	if in.actions, err = m.Int64Counter("threadline.actions.recorded", metric.WithDescription("Actions recorded with RecordAction.")); err != nil {
		return Hooks{}, err
	}
	if in.actionDuration, err = m.Float64Histogram("threadline.action.duration", seconds, metric.WithDescription("Time to record an action.")); err != nil {
		return Hooks{}, err
	}
	if in.coverageTables, err = m.Int64Gauge("threadline.coverage.tables", metric.WithDescription("User tables by capture status at the last coverage check.")); err != nil {
		return Hooks{}, err
	}
	if in.coverageViolated, err = m.Int64Gauge("threadline.coverage.violations", metric.WithDescription("Expected tables not covered at the last coverage check.")); err != nil {
		return Hooks{}, err
	}
	if in.purgeDeleted, err = m.Int64Counter("threadline.purge.deleted", metric.WithDescription("Audit rows deleted by retention purges.")); err != nil {
		return Hooks{}, err
	}
	if in.purgeBatch, err = m.Float64Histogram("threadline.purge.batch.duration", seconds, metric.WithDescription("Duration of one purge batch.")); err != nil {
		return Hooks{}, err
	}
	if in.purgeRuns, err = m.Int64Counter("threadline.purge.runs", metric.WithDescription("Purge runs and dry runs.")); err != nil {
		return Hooks{}, err
	}
	if in.exportRows, err = m.Int64Counter("threadline.export.rows", metric.WithDescription("Changes written by exports.")); err != nil {
		return Hooks{}, err
	}
	if in.exportDuration, err = m.Float64Histogram("threadline.export.duration", seconds, metric.WithDescription("Duration of an export.")); err != nil {
		return Hooks{}, err
	}
	if in.captureTxs, err = m.Int64Counter("threadline.capture.transactions", metric.WithDescription("Source transactions the WAL consumer wrote to the trail.")); err != nil {
		return Hooks{}, err
	}
	if in.captureChanges, err = m.Int64Counter("threadline.capture.changes", metric.WithDescription("Changes the WAL consumer stored.")); err != nil {
		return Hooks{}, err
	}
	if in.captureBatch, err = m.Float64Histogram("threadline.capture.batch.duration", seconds, metric.WithDescription("Time to write one batch of the WAL consumer.")); err != nil {
		return Hooks{}, err
	}
	if in.captureLag, err = m.Float64Histogram("threadline.capture.lag", seconds, metric.WithDescription("Time from a source transaction's commit to the commit of its trail.")); err != nil {
		return Hooks{}, err
	}
	return Hooks{
		Runtime: threadline.Hooks{ActionRecorded: in.actionRecorded, ExportFinished: in.exportFinished},
		Ops:     threadlineops.Hooks{CoverageChecked: in.coverageChecked, PurgeBatch: in.purgeBatchDone, PurgeFinished: in.purgeFinished},
		Capture: threadlinecapture.Hooks{BatchWritten: in.batchWritten},
	}, nil
}

// ObserveCapture registers the gauges of a running consumer, read from
// its Status at each collection: threadline.capture.wal_behind and
// threadline.capture.streaming, with the slot as attribute. Call the
// returned unregister when the consumer is gone.
func ObserveCapture(o Options, c *threadlinecapture.Consumer) (unregister func() error, err error) {
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	m := o.MeterProvider.Meter(ScopeName)
	behind, err := m.Int64ObservableGauge("threadline.capture.wal_behind", metric.WithUnit("By"),
		metric.WithDescription("WAL the replication slot retains for the WAL consumer."))
	if err != nil {
		return nil, err
	}
	streaming, err := m.Int64ObservableGauge("threadline.capture.streaming", metric.WithDescription("1 while the WAL consumer's replication stream is open."))
	if err != nil {
		return nil, err
	}
	reg, err := m.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		st := c.Status()
		attrs := metric.WithAttributes(attribute.String("slot", st.Slot))
		obs.ObserveInt64(behind, st.WALBehind, attrs)
		on := int64(0)
		if st.Streaming {
			on = 1
		}
		obs.ObserveInt64(streaming, on, attrs)
		return nil
	}, behind, streaming)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}

// span records a finished operation as a span with its real times.
func (in *instruments) span(ctx context.Context, name string, start time.Time, d time.Duration, err error, attrs ...attribute.KeyValue) {
	_, s := in.tracer.Start(ctx, name, trace.WithTimestamp(start), trace.WithAttributes(attrs...), trace.WithSpanKind(trace.SpanKindInternal))
	if err != nil {
		s.RecordError(err)
		s.SetStatus(codes.Error, err.Error())
	}
	s.End(trace.WithTimestamp(start.Add(d)))
}

func (in *instruments) actionRecorded(ctx context.Context, e threadline.ActionRecordedEvent) {
	attrs := []attribute.KeyValue{
		attribute.String("name", e.Name), attribute.String("status", e.Status),
		attribute.String("actor_kind", string(e.ActorKind)), attribute.Bool("error", e.Err != nil),
	}
	in.actions.Add(ctx, 1, metric.WithAttributes(attrs...))
	in.actionDuration.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(attribute.String("name", e.Name), attribute.Bool("error", e.Err != nil)))
	in.span(ctx, "threadline.record_action", e.Start, e.Duration, e.Err,
		attribute.String("threadline.action.name", e.Name), attribute.String("threadline.action.status", e.Status),
		attribute.Int64("threadline.action.id", e.ActionID), attribute.Int64("threadline.transaction.id", e.TransactionID))
}

func (in *instruments) coverageChecked(ctx context.Context, e threadlineops.CoverageCheckedEvent) {
	if e.Err == nil {
		schema := attribute.String("audit_schema", e.Schema)
		for status, n := range map[string]int{"covered": e.Covered, "uncovered": e.Uncovered, "disabled": e.Disabled, "stale": e.Stale, "ignored": e.Ignored, "missing": e.Missing} {
			in.coverageTables.Record(ctx, int64(n), metric.WithAttributes(schema, attribute.String("status", status)))
		}
		in.coverageViolated.Record(ctx, int64(len(e.Violations)), metric.WithAttributes(schema))
	}
	in.span(ctx, "threadline.coverage", e.Start, e.Duration, e.Err,
		attribute.String("threadline.audit_schema", e.Schema), attribute.Int("threadline.coverage.tables", e.Tables),
		attribute.Int("threadline.coverage.expected", e.Expected), attribute.StringSlice("threadline.coverage.violations", e.Violations))
}

func (in *instruments) purgeBatchDone(ctx context.Context, e threadlineops.PurgeBatchEvent) {
	schema := attribute.String("audit_schema", e.Schema)
	if e.DeletedChanges > 0 {
		in.purgeDeleted.Add(ctx, e.DeletedChanges, metric.WithAttributes(schema, attribute.String("kind", "changes")))
	}
	if e.DeletedTransactions > 0 {
		in.purgeDeleted.Add(ctx, e.DeletedTransactions, metric.WithAttributes(schema, attribute.String("kind", "transactions")))
	}
	in.purgeBatch.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(schema, attribute.String("phase", e.Phase)))
	in.span(ctx, "threadline.purge.batch", e.Start, e.Duration, nil,
		attribute.String("threadline.audit_schema", e.Schema), attribute.Int("threadline.purge.batch", e.Batch),
		attribute.String("threadline.purge.phase", e.Phase), attribute.Int64("threadline.purge.deleted_changes", e.DeletedChanges),
		attribute.Int64("threadline.purge.deleted_transactions", e.DeletedTransactions))
}

func (in *instruments) purgeFinished(ctx context.Context, e threadlineops.PurgeFinishedEvent) {
	in.purgeRuns.Add(ctx, 1, metric.WithAttributes(attribute.String("audit_schema", e.Schema),
		attribute.Bool("dry_run", e.DryRun), attribute.Bool("capped", e.Capped), attribute.Bool("error", e.Err != nil)))
	in.span(ctx, "threadline.purge", e.Start, e.Duration, e.Err,
		attribute.String("threadline.audit_schema", e.Schema), attribute.Bool("threadline.purge.dry_run", e.DryRun),
		attribute.Int64("threadline.purge.deleted_changes", e.DeletedChanges),
		attribute.Int64("threadline.purge.deleted_transactions", e.DeletedTransactions),
		attribute.Int("threadline.purge.batches", e.Batches), attribute.Bool("threadline.purge.capped", e.Capped),
		attribute.String("threadline.purge.cutoff", e.Cutoff.UTC().Format(time.RFC3339)))
}

func (in *instruments) exportFinished(ctx context.Context, e threadline.ExportFinishedEvent) {
	format := attribute.String("format", string(e.Format))
	in.exportRows.Add(ctx, e.Rows, metric.WithAttributes(format, attribute.Bool("truncated", e.Truncated)))
	in.exportDuration.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(format, attribute.Bool("error", e.Err != nil)))
	in.span(ctx, "threadline.export", e.Start, e.Duration, e.Err,
		attribute.String("threadline.audit_schema", e.Schema), attribute.String("threadline.export.format", string(e.Format)),
		attribute.Int64("threadline.export.rows", e.Rows), attribute.Bool("threadline.export.truncated", e.Truncated),
		attribute.Int64("threadline.export.bytes", e.Bytes), attribute.String("threadline.export.table", e.Table))
}

func (in *instruments) batchWritten(ctx context.Context, e threadlinecapture.BatchEvent) {
	slot := attribute.String("slot", e.Slot)
	failed := attribute.Bool("error", e.Err != nil)
	in.captureTxs.Add(ctx, int64(e.Transactions), metric.WithAttributes(slot, failed))
	in.captureBatch.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(slot, failed))
	if e.Err == nil {
		in.captureChanges.Add(ctx, int64(e.Changes), metric.WithAttributes(slot))
		visible := e.Start.Add(e.Duration)
		for _, c := range e.Commits {
			in.captureLag.Record(ctx, visible.Sub(c).Seconds(), metric.WithAttributes(slot))
		}
	}
	in.span(ctx, "threadline.capture.batch", e.Start, e.Duration, e.Err,
		attribute.String("threadline.capture.slot", e.Slot), attribute.Int("threadline.capture.transactions", e.Transactions),
		attribute.Int("threadline.capture.changes", e.Changes), attribute.String("threadline.capture.end_lsn", e.EndLSN))
}
