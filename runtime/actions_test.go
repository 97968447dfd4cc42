package threadline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// countingDB counts the queries run through it.
type countingDB struct {
	threadline.DBTX
	n atomic.Int64
}

func (c *countingDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.n.Add(1)
	return c.DBTX.Query(ctx, sql, args...)
}

func (c *countingDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c.n.Add(1)
	return c.DBTX.QueryRow(ctx, sql, args...)
}

// act writes stmts in one transaction of actor, recording the action
// name with opts when name is not empty; it returns the action's id.
func act(t *testing.T, db *pgtest.DB, actor threadline.ActorRef, name string, opts threadline.ActionOptions, stmts ...string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: actor}, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		if name == "" {
			return nil
		}
		a, err := threadline.RecordAction(ctx, tx, name, opts)
		id = a.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// why renders each change's action summary.
func why(cs []threadline.Change) string {
	var out []string
	for _, c := range cs {
		if c.Action == nil {
			out = append(out, "-")
			continue
		}
		a := c.Action
		out = append(out, strings.Join([]string{a.Name, a.Status, a.Verb, a.Category, a.Reason}, "|"))
	}
	return strings.Join(out, "; ")
}

// TestChangesCarryTheirAction: every read of changes carries the summary
// of its transaction's action (name, status, verb, category, reason),
// with one lookup per page whatever the number of changes and actions.
func TestChangesCarryTheirAction(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	ann, ops := threadline.User("ann"), threadline.Admin("ops")
	act(t, db, ann, "account.open", threadline.ActionOptions{Verb: "create", Category: "accounts"},
		"INSERT INTO accounts VALUES (1, 'Ada', NULL)", "INSERT INTO accounts VALUES (2, 'Bob', NULL)")
	act(t, db, ops, "", threadline.ActionOptions{}, "UPDATE accounts SET name = 'Ada L.' WHERE id = 1")
	act(t, db, ops, "account.rename", threadline.ActionOptions{Status: threadline.ActionError, Reason: "ticket 12: legal name", Category: "support"},
		"UPDATE accounts SET name = 'Ada Lovelace' WHERE id = 1")

	const want = "account.rename|error||support|ticket 12: legal name; -; account.open|ok|create|accounts|; account.open|ok|create|accounts|"
	p, err := audit.Timeline(ctx, db.Pool, threadline.Filter{Table: "accounts"})
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(p.Changes); got != `public.accounts update {"id":1}; public.accounts update {"id":1}; public.accounts insert {"id":2}; public.accounts insert {"id":1}` {
		t.Fatalf("timeline: %s", got)
	}
	if got := why(p.Changes); got != want {
		t.Fatalf("timeline actions:\n got %s\nwant %s", got, want)
	}
	var streamed []threadline.Change
	for c, err := range audit.Changes(ctx, db.Pool, threadline.Filter{Table: "accounts", Limit: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		streamed = append(streamed, c)
	}
	if got := why(streamed); got != want {
		t.Fatalf("Changes actions: %s", got)
	}
	// History: the listing and one lookup of its actions.
	cdb := &countingDB{DBTX: db.Pool}
	hist, err := audit.History(ctx, cdb, "accounts", `{"id":1}`, threadline.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := why(hist); got != "account.rename|error||support|ticket 12: legal name; -; account.open|ok|create|accounts|" {
		t.Fatalf("history actions: %s", got)
	}
	if n := cdb.n.Load(); n != 2 {
		t.Fatalf("history ran %d queries, want 2 (changes, then their actions)", n)
	}
	cdb.n.Store(0)
	tcs, err := audit.TransactionChanges(ctx, cdb, p.Changes[3].TransactionID, threadline.HistoryOptions{})
	if err != nil || why(tcs) != "account.open|ok|create|accounts|; account.open|ok|create|accounts|" || cdb.n.Load() != 2 {
		t.Fatalf("transaction changes: %s %v (%d queries)", why(tcs), err, cdb.n.Load())
	}
	// No action on the page: no lookup.
	act(t, db, ops, "", threadline.ActionOptions{}, "INSERT INTO accounts VALUES (3, 'Cy', NULL)")
	cdb.n.Store(0)
	if cs, err := audit.History(ctx, cdb, "accounts", `{"id":3}`, threadline.HistoryOptions{}); err != nil || cdb.n.Load() != 1 || why(cs) != "-" {
		t.Fatalf("history without actions: %s %v (%d queries)", why(cs), err, cdb.n.Load())
	}
	// The feed reads the action with the change.
	var fed []threadline.Change
	var next threadline.FeedPosition
	for c, err := range audit.Feed(ctx, db.Pool, threadline.FeedPosition{}, &next) {
		if err != nil {
			t.Fatal(err)
		}
		fed = append(fed, c)
	}
	if got := why(fed); got != "account.open|ok|create|accounts|; account.open|ok|create|accounts|; -; account.rename|error||support|ticket 12: legal name; -" {
		t.Fatalf("feed actions: %s", got)
	}
	// The JSON form: "action" when there is one, absent otherwise.
	b, err := json.Marshal(p.Changes[0])
	if err != nil || !strings.Contains(string(b), `"action_id":`+fmt.Sprint(*p.Changes[0].ActionID)+`,"action":{"name":"account.rename","status":"error","category":"support","reason":"ticket 12: legal name"}}`) {
		t.Fatalf("JSON: %s %v", b, err)
	}
	if b, _ := json.Marshal(p.Changes[1]); strings.Contains(string(b), `"action"`) {
		t.Fatalf("JSON without an action: %s", b)
	}
}

// TestActions: the listing of actions, filtered by name, category,
// status, actor, time, reason text and correlation id, newest first, in
// keyset pages, each with the transaction that recorded it.
func TestActions(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	ann, ops := threadline.User("ann"), threadline.Admin("ops")
	refund := act(t, db, ann, "order.refund", threadline.ActionOptions{Category: "billing", Reason: "Damaged in transit (50% off)"},
		"INSERT INTO accounts VALUES (1, 'Ada', NULL)")
	rename := act(t, db, ops, "account.rename", threadline.ActionOptions{Category: "support", Reason: "ticket 12", CorrelationID: "t-12"},
		"UPDATE accounts SET name = 'Ada L.' WHERE id = 1")
	failed := act(t, db, ops, "order.refund", threadline.ActionOptions{Category: "billing", Status: threadline.ActionError, Reason: "card expired"})
	var mid time.Time
	if err := db.Pool.QueryRow(ctx, "SELECT inserted_at FROM threadline.audit_actions WHERE id = $1", rename).Scan(&mid); err != nil {
		t.Fatal(err)
	}

	ids := func(f threadline.ActionFilter) string {
		t.Helper()
		p, err := audit.Actions(ctx, db.Pool, f)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		var out []string
		for _, a := range p.Actions {
			out = append(out, fmt.Sprint(a.ID))
		}
		if p.Next != 0 {
			out = append(out, fmt.Sprintf("next %d", p.Next))
		}
		return strings.Join(out, " ")
	}
	s := func(ids ...int64) string {
		var out []string
		for _, id := range ids {
			out = append(out, fmt.Sprint(id))
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		name string
		f    threadline.ActionFilter
		want string
	}{
		{"all", threadline.ActionFilter{}, s(failed, rename, refund)},
		{"name", threadline.ActionFilter{Name: "order.refund"}, s(failed, refund)},
		{"category", threadline.ActionFilter{Category: "support"}, s(rename)},
		{"status", threadline.ActionFilter{Status: threadline.ActionError}, s(failed)},
		{"actor", threadline.ActionFilter{Actor: &ops}, s(failed, rename)},
		{"actor and name", threadline.ActionFilter{Actor: &ann, Name: "order.refund"}, s(refund)},
		{"reason text, any case, % literal", threadline.ActionFilter{Reason: "50% OFF"}, s(refund)},
		{"reason % is no wildcard", threadline.ActionFilter{Reason: "d%t"}, ""},
		{"reason _ is no wildcard", threadline.ActionFilter{Reason: "ticket_12"}, ""},
		{"correlation id", threadline.ActionFilter{CorrelationID: "t-12"}, s(rename)},
		{"from inclusive", threadline.ActionFilter{From: mid}, s(failed, rename)},
		{"to inclusive", threadline.ActionFilter{To: mid}, s(rename, refund)},
		{"page", threadline.ActionFilter{Limit: 2}, s(failed, rename) + " next " + fmt.Sprint(rename)},
		{"after", threadline.ActionFilter{Limit: 2, After: rename}, s(refund)},
	} {
		if got := ids(c.f); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	p, err := audit.Actions(ctx, db.Pool, threadline.ActionFilter{Name: "account.rename"})
	if err != nil || len(p.Actions) != 1 {
		t.Fatalf("%v %v", p, err)
	}
	a := p.Actions[0]
	tx, err := audit.Transaction(ctx, db.Pool, a.TransactionID)
	if err != nil || tx.ActionID == nil || *tx.ActionID != rename {
		t.Fatalf("the action's transaction %d: %+v %v", a.TransactionID, tx, err)
	}
	if a.Actor == nil || *a.Actor != ops || a.Category != "support" || a.Reason != "ticket 12" || a.CorrelationID != "t-12" || a.Status != "ok" || a.InsertedAt.IsZero() {
		t.Fatalf("action: %+v", a)
	}
	for _, f := range []threadline.ActionFilter{
		{Status: "maybe"}, {From: mid, To: mid.Add(-time.Second)}, {Name: strings.Repeat("n", threadline.MaxActionNameBytes+1)},
		{Reason: "a\x00b"}, {CorrelationID: "  "}, {After: -1}, {Actor: &threadline.ActorRef{Kind: "wizard", ID: "1"}},
	} {
		if _, err := audit.Actions(ctx, db.Pool, f); !errors.Is(err, threadline.ErrInvalidFilter) {
			t.Errorf("%+v: %v, want an invalid filter", f, err)
		}
	}
}
