package threadline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

func TestRecordActionHook(t *testing.T) {
	db := capturetest.Setup(t, opsDDL, opsTables)
	ctx := context.Background()
	var events []threadline.ActionRecordedEvent
	h := threadline.Hooks{ActionRecorded: func(_ context.Context, e threadline.ActionRecordedEvent) { events = append(events, e) }}
	var act threadline.Action
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.Admin("root")}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO people (id, name, secret) VALUES (1, 'a', 'topsecret')"); err != nil {
			return err
		}
		var err error
		act, err = threadline.Audit{Hooks: h}.RecordAction(ctx, tx, "people.create", threadline.ActionOptions{Verb: "create", Category: "people"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("events: %+v", events)
	}
	e := events[0]
	capturetest.Equal(t, "event", [8]any{e.Name, e.Status, e.Verb, e.Category, e.ActorKind, e.ActionID, e.TransactionID, e.Err},
		[8]any{"people.create", "ok", "create", "people", threadline.KindAdmin, act.ID, act.TransactionID, error(nil)})
	if e.Duration <= 0 || act.ID == 0 {
		t.Fatalf("event %+v, action %+v", e, act)
	}
	// Failures are reported too.
	_, err = threadline.Audit{Hooks: h}.RecordAction(ctx, nil, "x", threadline.ActionOptions{})
	if !errors.Is(err, threadline.ErrNotInTransaction) || len(events) != 2 || !errors.Is(events[1].Err, threadline.ErrNotInTransaction) {
		t.Fatalf("nil tx: %v, %+v", err, events)
	}
}

func TestJoinHooksCallsEachInOrder(t *testing.T) {
	var calls []string
	mk := func(name string) threadline.Hooks {
		return threadline.Hooks{
			ExportFinished: func(context.Context, threadline.ExportFinishedEvent) { calls = append(calls, name+" export") },
		}
	}
	mkOps := func(name string) threadlineops.Hooks {
		return threadlineops.Hooks{
			PurgeBatch: func(context.Context, threadlineops.PurgeBatchEvent) { calls = append(calls, name+" batch") },
		}
	}
	h := threadline.JoinHooks(mk("a"), threadline.Hooks{}, mk("b"))
	h.ExportFinished(context.Background(), threadline.ExportFinishedEvent{})
	oh := threadlineops.JoinHooks(mkOps("a"), threadlineops.Hooks{}, mkOps("b"))
	oh.PurgeBatch(context.Background(), threadlineops.PurgeBatchEvent{})
	capturetest.Equal(t, "calls", calls, []string{"a export", "b export", "a batch", "b batch"})
	if h.ActionRecorded != nil || oh.CoverageChecked != nil || oh.PurgeFinished != nil {
		t.Fatal("joining nil hooks must stay nil")
	}
}

func TestSlogHooks(t *testing.T) {
	db := seedExport(t)
	ctx := context.Background()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, oh := threadline.SlogHooks(logger), threadlineops.SlogHooks(logger)
	if _, err := (threadline.Audit{Hooks: h}).Export(ctx, db.Pool, io.Discard, threadline.ExportOptions{Format: threadline.ExportNDJSON, Filter: threadline.Filter{Table: "people"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := (threadlineops.Audit{Hooks: oh}).Coverage(ctx, db.Pool, map[string]string{"people": "", "nosuch": ""}, threadlineops.CoverageOptions{}); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, "UPDATE threadline.audit_changes SET captured_at = captured_at - interval '2 days'")
	db.Exec(t, "UPDATE threadline.audit_transactions SET started_at = started_at - interval '2 days'")
	db.Exec(t, "UPDATE threadline.audit_actions SET inserted_at = inserted_at - interval '2 days'")
	if _, err := (threadlineops.Audit{Hooks: oh}).Purge(ctx, db.Pool, threadlineops.PurgePolicy{Enabled: true, Window: 24 * time.Hour, BatchSize: 500, MaxBatches: 10, DeleteEmptyTransactions: true},
		threadlineops.PurgeOptions{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=INFO msg="threadline export finished" format=ndjson rows=3 truncated=false bytes=`,
		`level=WARN msg="threadline coverage checked" tables=2 covered=2 uncovered=0 disabled=0 stale=0 ignored=0 expected=2 missing=1 violations=[public.nosuch]`,
		`level=DEBUG msg="threadline retention purge batch" schema=threadline batch=1 phase=changes deleted=8 deleted_transactions=0`,
		`level=DEBUG msg="threadline retention purge batch" schema=threadline batch=2 phase=transactions deleted=0 deleted_transactions=5`,
		`level=DEBUG msg="threadline retention purge finished" schema=threadline dry_run=false deleted_changes=8 deleted_transactions=5 batches=2 capped=false`,
	}
	if len(lines) != len(want) {
		t.Fatalf("log:\n%s", buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d:\n got  %s\n want …%s…", i, lines[i], w)
		}
	}
	// No captured value is ever logged.
	for _, v := range []string{"Ann", "REDACTED", "acme"} {
		if strings.Contains(buf.String(), v) {
			t.Errorf("log holds %q", v)
		}
	}
}
