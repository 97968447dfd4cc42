package threadlineotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	threadlineotel "github.com/threadline-go/threadline/contrib/otel"
	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/internal/logicalpg"
	"github.com/threadline-go/threadline/runtime/threadlinecapture"
)

// TestCaptureThroughARealConsumer runs the WAL engine's consumer on a
// private wal_level = logical cluster with the hooks and the gauges, and
// checks what they recorded against what it wrote.
func TestCaptureThroughARealConsumer(t *testing.T) {
	ctx := context.Background()
	cluster, err := logicalpg.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	url, err := cluster.NewDatabase(ctx, "otel_capture")
	if err != nil {
		t.Fatal(err)
	}
	const ddl = `CREATE TABLE notes (id int PRIMARY KEY, body text)`
	up, _ := capturetest.GenerateWith(t, ddl, "engine: wal\n", "  notes: {}\n")
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{ddl, up} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}

	o, reader, spans := setupOptions(t)
	h, err := threadlineotel.NewHooks(o)
	if err != nil {
		t.Fatal(err)
	}
	consumer := threadlinecapture.New(threadlinecapture.Config{SourceURL: url, Slot: "otel", Hooks: h.Capture})
	unregister, err := threadlineotel.ObserveCapture(o, consumer)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unregister() }()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- consumer.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	}()
	waitFor(t, func() bool { return consumer.Status().Streaming })

	for i := range 3 {
		if _, err := conn.Exec(ctx, `INSERT INTO notes VALUES ($1, 'x'), ($1 + 100, 'y')`, i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return consumer.Status().Changes == 6 })

	expect(t, points(t, reader), map[string]float64{
		"threadline.capture.transactions{error=false,slot=otel}":         3,
		"threadline.capture.changes{slot=otel}":                          6,
		"threadline.capture.lag{slot=otel} count":                        3,
		"threadline.capture.streaming{slot=otel}":                        1,
		"threadline.capture.batch.duration{error=false,slot=otel} count": float64(len(spans.GetSpans())),
	})
	for _, s := range spans.GetSpans() {
		if s.Name != "threadline.capture.batch" {
			t.Errorf("span %q", s.Name)
		}
	}
}

// TestCaptureFailedBatch: a failed batch counts its transactions as
// failed, stores no changes and records no lag.
func TestCaptureFailedBatch(t *testing.T) {
	h, reader, spans := setup(t)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h.Capture.BatchWritten(context.Background(), threadlinecapture.BatchEvent{Slot: "s", Transactions: 2, Commits: []time.Time{start, start},
		Start: start, Duration: time.Second, Err: errors.New("audit database gone")})
	got := points(t, reader)
	expect(t, got, map[string]float64{
		"threadline.capture.transactions{error=true,slot=s}":         2,
		"threadline.capture.batch.duration{error=true,slot=s} count": 1,
	})
	if _, ok := got["threadline.capture.lag{slot=s} count"]; ok {
		t.Errorf("a failed batch recorded lag: %v", got)
	}
	if s := spans.GetSpans(); len(s) != 1 || s[0].Status.Description != "audit database gone" {
		t.Errorf("spans %+v", s)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
