package threadline_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// actionRow is one audit_actions row; NULL reads as "".
type actionRow struct {
	ID            int64
	Name          string
	Actor         string
	Status        string
	Verb          string
	Category      string
	Reason        string
	Comment       string
	CorrelationID string
	RequestID     string
	JobID         string
}

func actions(t *testing.T, db *pgtest.DB) []actionRow {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
		SELECT id, name, coalesce(actor_ref::text, ''), status, coalesce(verb, ''), coalesce(category, ''),
		       coalesce(reason, ''), coalesce(comment, ''), coalesce(correlation_id, ''),
		       coalesce(request_id, ''), coalesce(job_id, '')
		FROM threadline.audit_actions ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[actionRow])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func TestRecordActionLinksTransaction(t *testing.T) {
	db := setupOrders(t)
	ctx := context.Background()
	before := time.Now()
	var act threadline.Action
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.User("42"), RequestID: "req-1", CorrelationID: "corr-1"}, func(tx pgx.Tx) error {
		exec(t, tx, `INSERT INTO orders VALUES (1, 'n')`)
		var err error
		act, err = threadline.RecordAction(ctx, tx, "order.refund",
			threadline.ActionOptions{Verb: "refund", Category: "billing", Reason: "damaged <item>", Comment: "line 1\nline 2", JobID: "job-7"})
		if err != nil {
			return err
		}
		exec(t, tx, `UPDATE orders SET note = 'refunded' WHERE id = 1`)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	txs := transactions(t, db)
	if len(txs) != 1 {
		t.Fatalf("transactions: %+v", txs)
	}
	if act.InsertedAt.Before(before.Add(-time.Minute)) || act.InsertedAt.After(time.Now().Add(time.Minute)) {
		t.Fatalf("InsertedAt %v", act.InsertedAt)
	}
	equal(t, "action", act, threadline.Action{
		ID: act.ID, Name: "order.refund", Actor: ptr(threadline.User("42")), Status: threadline.ActionOK,
		Verb: "refund", Category: "billing", Reason: "damaged <item>", Comment: "line 1\nline 2",
		CorrelationID: "corr-1", RequestID: "req-1", JobID: "job-7", InsertedAt: act.InsertedAt,
		TransactionID: txs[0].ID,
	})
	equal(t, "transactions", txs, []txRow{{ID: txs[0].ID, Actor: `{"id": "42", "type": "user"}`, RequestID: "req-1", CorrelationID: "corr-1", ActionID: act.ID}})
	equal(t, "actions", actions(t, db), []actionRow{{
		ID: act.ID, Name: "order.refund", Actor: `{"id": "42", "type": "user"}`, Status: "ok", Verb: "refund",
		Category: "billing", Reason: "damaged <item>", Comment: "line 1\nline 2", CorrelationID: "corr-1",
		RequestID: "req-1", JobID: "job-7",
	}})
	equal(t, "changes", changes(t, db), []change{
		{txs[0].ID, "orders", "insert", `{"id": 1}`, `{"id": 1, "note": "n"}`},
		{txs[0].ID, "orders", "update", `{"id": 1}`, `{"id": 1, "note": "refunded"}`},
	})

	// The Action is plain JSON.
	b, err := json.Marshal(act)
	if err != nil {
		t.Fatal(err)
	}
	var back threadline.Action
	if err := json.Unmarshal(b, &back); err != nil || !back.InsertedAt.Equal(act.InsertedAt) {
		t.Fatalf("Action JSON round trip: %v", err)
	}
	back.InsertedAt = act.InsertedAt
	equal(t, "Action from JSON", back, act)
}

func TestRecordActionWithoutAuditedWrite(t *testing.T) {
	db := setupOrders(t)
	ctx := context.Background()
	var act threadline.Action
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.Admin("ops")}, func(tx pgx.Tx) error {
		var err error
		act, err = threadline.RecordAction(ctx, tx, "report.viewed", threadline.ActionOptions{Status: threadline.ActionError})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	txs := transactions(t, db)
	if len(txs) != 1 {
		t.Fatalf("transactions: %+v", txs)
	}
	equal(t, "transactions", txs, []txRow{{ID: txs[0].ID, Actor: `{"id": "ops", "type": "admin"}`, ActionID: act.ID}})
	equal(t, "actions", actions(t, db), []actionRow{{ID: act.ID, Name: "report.viewed", Actor: `{"id": "ops", "type": "admin"}`, Status: "error"}})
	if n := capturetest.Count(t, db, "audit_changes"); n != 0 {
		t.Fatalf("%d changes", n)
	}
	if act.TransactionID != txs[0].ID || act.Status != "error" {
		t.Fatalf("action %+v", act)
	}
}

// TestRecordActionPrecedence: explicit options, then the transaction's
// attribution, then the context.
func TestRecordActionPrecedence(t *testing.T) {
	db := setupOrders(t)
	ctx := threadline.ContextWithActor(context.Background(), threadline.User("ctx"))
	ctx = threadline.ContextWithRequestID(ctx, "ctx-req")
	ctx = threadline.ContextWithCorrelationID(ctx, "ctx-corr")
	ctx = threadline.ContextWithJobID(ctx, "ctx-job")

	record := func(db threadline.Beginner, txOpts threadline.TxOptions, opts threadline.ActionOptions) threadline.Action {
		t.Helper()
		var act threadline.Action
		if err := threadline.InTx(ctx, db, txOpts, func(tx pgx.Tx) error {
			var err error
			act, err = threadline.RecordAction(ctx, tx, "a", opts)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return act
	}
	// 1: transaction attributed from the context.
	a1 := record(db.Pool, threadline.TxOptions{}, threadline.ActionOptions{})
	// 2: transaction attributed explicitly: the action follows the transaction, not the context.
	a2 := record(db.Pool, threadline.TxOptions{Actor: threadline.System("sys"), RequestID: "tx-req", CorrelationID: "tx-corr"}, threadline.ActionOptions{})
	// 3: explicit action options win.
	a3 := record(db.Pool, threadline.TxOptions{Actor: threadline.System("sys")},
		threadline.ActionOptions{Actor: threadline.ServiceAccount("svc"), RequestID: "act-req",
			CorrelationID: "act-corr", JobID: "act-job"})
	// 4: a transaction begun without InTx has no attribution: the context applies.
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a4, err := threadline.RecordAction(ctx, tx, "a", threadline.ActionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// 5: neither: NULLs.
	tx, err = db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a5, err := threadline.Audit{Schema: "threadline"}.RecordAction(context.Background(), tx, "a", threadline.ActionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	equal(t, "actions", actions(t, db), []actionRow{
		{ID: a1.ID, Name: "a", Actor: `{"id": "ctx", "type": "user"}`, Status: "ok", CorrelationID: "ctx-corr", RequestID: "ctx-req", JobID: "ctx-job"},
		{ID: a2.ID, Name: "a", Actor: `{"id": "sys", "type": "system"}`, Status: "ok", CorrelationID: "tx-corr", RequestID: "tx-req", JobID: "ctx-job"},
		{ID: a3.ID, Name: "a", Actor: `{"id": "svc", "type": "service_account"}`, Status: "ok", CorrelationID: "act-corr", RequestID: "act-req", JobID: "act-job"},
		{ID: a4.ID, Name: "a", Actor: `{"id": "ctx", "type": "user"}`, Status: "ok", CorrelationID: "ctx-corr", RequestID: "ctx-req", JobID: "ctx-job"},
		{ID: a5.ID, Name: "a", Status: "ok"},
	})
	txs := transactions(t, db)
	if len(txs) != 5 {
		t.Fatalf("transactions: %+v", txs)
	}
	equal(t, "transactions", txs, []txRow{
		{ID: txs[0].ID, Actor: `{"id": "ctx", "type": "user"}`, RequestID: "ctx-req", CorrelationID: "ctx-corr", ActionID: a1.ID},
		{ID: txs[1].ID, Actor: `{"id": "sys", "type": "system"}`, RequestID: "tx-req", CorrelationID: "tx-corr", ActionID: a2.ID},
		{ID: txs[2].ID, Actor: `{"id": "sys", "type": "system"}`, RequestID: "ctx-req", CorrelationID: "ctx-corr", ActionID: a3.ID},
		{ID: txs[3].ID, ActionID: a4.ID},
		{ID: txs[4].ID, ActionID: a5.ID},
	})
	if a4.Actor == nil || *a4.Actor != threadline.User("ctx") || a5.Actor != nil {
		t.Fatalf("returned actors: %v, %v", a4.Actor, a5.Actor)
	}
}

// Long on purpose: a table of cases, one line each; splitting it would only scatter them.
func TestRecordActionErrors(t *testing.T) {
	db := setupOrders(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		act  string
		opts threadline.ActionOptions
		is   error
	}{
		{"blank name", ctx, " \t", threadline.ActionOptions{}, threadline.ErrInvalidAction},
		{"empty name", ctx, "", threadline.ActionOptions{}, threadline.ErrInvalidAction},
		{"NUL in name", ctx, "a\x00", threadline.ActionOptions{}, threadline.ErrInvalidAction},
		{"bad status", ctx, "a", threadline.ActionOptions{Status: "warn"}, threadline.ErrInvalidAction},
		{"invalid UTF-8 reason", ctx, "a", threadline.ActionOptions{Reason: "\xff"}, threadline.ErrInvalidAction},
		{"invalid actor", ctx, "a", threadline.ActionOptions{Actor: threadline.User("")}, threadline.ErrInvalidActor},
		{"invalid actor in context", threadline.ContextWithActor(ctx, threadline.ActorRef{Kind: "x"}), "a", threadline.ActionOptions{}, threadline.ErrInvalidActor},
		{"blank correlation id", ctx, "a", threadline.ActionOptions{CorrelationID: "  "}, threadline.ErrInvalidAttribution},
		{"correlation id over 256 bytes", ctx, "a", threadline.ActionOptions{CorrelationID: strings.Repeat("é", 129)}, threadline.ErrInvalidAttribution},
		{"blank request id", ctx, "a", threadline.ActionOptions{RequestID: " "}, threadline.ErrInvalidAttribution},
		{"blank job id", ctx, "a", threadline.ActionOptions{JobID: " \t"}, threadline.ErrInvalidAttribution},
		{"long job id", ctx, "a", threadline.ActionOptions{JobID: strings.Repeat("j", 257)}, threadline.ErrInvalidAttribution},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
				_, err := threadline.RecordAction(tc.ctx, tx, tc.act, tc.opts)
				if !errors.Is(err, tc.is) {
					t.Errorf("RecordAction: %v, want %v", err, tc.is)
				}
				// Nothing was sent: the transaction is still usable.
				_, err = tx.Exec(ctx, `SELECT 1`)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}

	// Outside a transaction.
	if _, err := threadline.RecordAction(ctx, nil, "a", threadline.ActionOptions{}); !errors.Is(err, threadline.ErrNotInTransaction) {
		t.Errorf("nil tx: %v", err)
	}
	var nilTx *pgxpool.Tx
	if _, err := threadline.RecordAction(ctx, nilTx, "a", threadline.ActionOptions{}); !errors.Is(err, threadline.ErrNotInTransaction) {
		t.Errorf("nil *pgxpool.Tx: %v", err)
	}
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := threadline.RecordAction(ctx, tx, "a", threadline.ActionOptions{}); !errors.Is(err, threadline.ErrNotInTransaction) {
		t.Errorf("committed tx: %v", err)
	}

	// Errors wrapped on the way out name the package once.
	err = threadline.InTx(ctx, db.Pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
		_, err := threadline.RecordAction(ctx, tx, " ", threadline.ActionOptions{})
		return err
	})
	if want := `threadline: transaction: record action " ": invalid action: blank name`; err == nil || err.Error() != want {
		t.Errorf("InTx(RecordAction(blank)): %v\nwant %s", err, want)
	}
	if !errors.Is(err, threadline.ErrInvalidAction) {
		t.Errorf("InTx(RecordAction(blank)): %v does not wrap ErrInvalidAction", err)
	}

	// A second action in the same transaction is refused without writing.
	var first threadline.Action
	err = threadline.InTx(ctx, db.Pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		if first, err = threadline.RecordAction(ctx, tx, "first", threadline.ActionOptions{}); err != nil {
			return err
		}
		_, err = threadline.RecordAction(ctx, tx, "second", threadline.ActionOptions{})
		if !errors.Is(err, threadline.ErrActionAlreadyRecorded) {
			t.Errorf("second action: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	acts := actions(t, db)
	equal(t, "actions", acts, []actionRow{{ID: first.ID, Name: "first", Status: "ok"}})
	txs := transactions(t, db)
	equal(t, "transactions", txs, []txRow{{ID: first.TransactionID, ActionID: first.ID}})
}

// TestRecordActionSavepoint: an action recorded in a savepoint that is
// rolled back disappears, and the transaction can record another.
func TestRecordActionSavepoint(t *testing.T) {
	db := setupOrders(t)
	ctx := context.Background()
	var kept threadline.Action
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.User("u")}, func(tx pgx.Tx) error {
		err := threadline.InTx(ctx, tx, threadline.TxOptions{}, func(sp pgx.Tx) error {
			exec(t, sp, `INSERT INTO orders VALUES (1, 'n')`)
			if _, err := threadline.RecordAction(ctx, sp, "discarded", threadline.ActionOptions{}); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("inner: %v", err)
		}
		exec(t, tx, `INSERT INTO orders VALUES (2, 'n')`)
		kept, err = threadline.RecordAction(ctx, tx, "kept", threadline.ActionOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	txs := transactions(t, db)
	if len(txs) != 1 {
		t.Fatalf("transactions %+v", txs)
	}
	equal(t, "transactions", txs, []txRow{{ID: txs[0].ID, Actor: `{"id": "u", "type": "user"}`, ActionID: kept.ID}})
	equal(t, "actions", actions(t, db), []actionRow{{ID: kept.ID, Name: "kept", Actor: `{"id": "u", "type": "user"}`, Status: "ok"}})
	equal(t, "changes", changes(t, db), []change{{txs[0].ID, "orders", "insert", `{"id": 2}`, `{"id": 2, "note": "n"}`}})
}
