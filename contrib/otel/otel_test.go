package threadlineotel_test

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	threadlineotel "github.com/threadline-go/threadline/contrib/otel"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

func setup(t *testing.T) (threadlineotel.Hooks, *sdkmetric.ManualReader, *tracetest.InMemoryExporter) {
	t.Helper()
	o, reader, spans := setupOptions(t)
	h, err := threadlineotel.NewHooks(o)
	if err != nil {
		t.Fatal(err)
	}
	return h, reader, spans
}

// setupOptions returns providers that record into a reader and an
// in-memory span exporter.
func setupOptions(t *testing.T) (threadlineotel.Options, *sdkmetric.ManualReader, *tracetest.InMemoryExporter) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewInMemoryExporter()
	return threadlineotel.Options{
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)),
	}, reader, spans
}

// points flattens the collected metrics to "name{attrs}" → value.
func points(t *testing.T, reader *sdkmetric.ManualReader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	key := func(name string, set attribute.Set) string {
		var kv []string
		for _, a := range set.ToSlice() {
			kv = append(kv, string(a.Key)+"="+a.Value.Emit())
		}
		sort.Strings(kv)
		s := name + "{"
		for i, x := range kv {
			if i > 0 {
				s += ","
			}
			s += x
		}
		return s + "}"
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)+" count"] = float64(p.Count)
				}
			}
		}
	}
	return out
}

func expect(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v\nall: %v", k, got[k], v, got)
		}
	}
}

func TestHooksRecordMetricsAndSpans(t *testing.T) {
	h, reader, spans := setup(t)
	ctx := context.Background()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	h.Runtime.ExportFinished(ctx, threadline.ExportFinishedEvent{Schema: "threadline", Format: threadline.ExportCSV, Rows: 120, Truncated: true, Bytes: 999, Table: "users", Start: start, Duration: 2 * time.Second})
	h.Ops.PurgeBatch(ctx, threadlineops.PurgeBatchEvent{Schema: "threadline", Batch: 1, Phase: "changes", DeletedChanges: 500, Start: start, Duration: time.Second})
	h.Ops.PurgeBatch(ctx, threadlineops.PurgeBatchEvent{Schema: "threadline", Batch: 2, Phase: "transactions", DeletedTransactions: 40, Start: start, Duration: time.Second})
	h.Ops.PurgeFinished(ctx, threadlineops.PurgeFinishedEvent{Schema: "threadline", DeletedChanges: 500, DeletedTransactions: 40, Batches: 2, Start: start, Duration: 3 * time.Second})
	h.Runtime.ActionRecorded(ctx, threadline.ActionRecordedEvent{Name: "order.refund", Status: "ok", ActorKind: threadline.KindUser, ActionID: 7, Start: start, Duration: time.Millisecond})
	h.Runtime.ActionRecorded(ctx, threadline.ActionRecordedEvent{Name: "order.refund", Err: errors.New("boom"), Start: start, Duration: time.Millisecond})

	expect(t, points(t, reader), map[string]float64{
		"threadline.export.rows{format=csv,truncated=true}":                                     120,
		"threadline.export.duration{error=false,format=csv} count":                              1,
		"threadline.purge.deleted{audit_schema=threadline,kind=changes}":                        500,
		"threadline.purge.deleted{audit_schema=threadline,kind=transactions}":                   40,
		"threadline.purge.batch.duration{audit_schema=threadline,phase=changes} count":          1,
		"threadline.purge.runs{audit_schema=threadline,capped=false,dry_run=false,error=false}": 1,
		"threadline.actions.recorded{actor_kind=user,error=false,name=order.refund,status=ok}":  1,
		"threadline.actions.recorded{actor_kind=,error=true,name=order.refund,status=}":         1,
		"threadline.action.duration{error=true,name=order.refund} count":                        1,
	})

	got := spans.GetSpans()
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
	}
	want := []string{"threadline.export", "threadline.purge.batch", "threadline.purge.batch", "threadline.purge", "threadline.record_action", "threadline.record_action"}
	if len(names) != len(want) {
		t.Fatalf("spans %v", names)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("spans %v, want %v", names, want)
		}
	}
	if !got[0].StartTime.Equal(start) || !got[0].EndTime.Equal(start.Add(2*time.Second)) {
		t.Errorf("export span times %v – %v", got[0].StartTime, got[0].EndTime)
	}
	if got[5].Status.Code != codes.Error || len(got[5].Events) != 1 {
		t.Errorf("failed action span: %+v", got[5].Status)
	}
}

// TestCoverageThroughTheRuntime runs a real coverage check with the hooks.
func TestCoverageThroughTheRuntime(t *testing.T) {
	db := pgtest.NewDB(t, "CREATE TABLE users (id int PRIMARY KEY)", "CREATE TABLE posts (id int PRIMARY KEY)")
	h, reader, spans := setup(t)
	rep, err := (threadlineops.Audit{Hooks: h.Ops}).Coverage(context.Background(), db.Pool, map[string]string{"users": ""}, threadlineops.CoverageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK {
		t.Fatal("users has no capture: the report must fail")
	}
	expect(t, points(t, reader), map[string]float64{
		"threadline.coverage.tables{audit_schema=threadline,status=uncovered}": 2,
		"threadline.coverage.tables{audit_schema=threadline,status=covered}":   0,
		"threadline.coverage.violations{audit_schema=threadline}":              1,
	})
	s := spans.GetSpans()
	if len(s) != 1 || s[0].Name != "threadline.coverage" {
		t.Fatalf("spans: %v", s)
	}
}
