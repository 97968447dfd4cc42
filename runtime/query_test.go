package threadline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/sqltemplates"
)

const queryDDL = `
CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE memberships (org text, account_id bigint, role text NOT NULL, PRIMARY KEY (org, account_id));
CREATE SCHEMA billing;
CREATE TABLE billing.accounts (id bigint PRIMARY KEY, plan text NOT NULL);
`

const queryTables = `  accounts:
    store_changed_from: true
    mask: [email]
  memberships: {}
  billing.accounts: {}
`

var audit = threadline.Audit{}

// inTx runs statements in one InTx transaction with the given options.
func inTx(t *testing.T, db *pgtest.DB, opts threadline.TxOptions, stmts ...string) {
	t.Helper()
	err := threadline.InTx(context.Background(), db.Pool, opts, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(context.Background(), s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// describe renders changes compactly for comparisons.
func describe(cs []threadline.Change) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s.%s %s %s", c.Schema, c.Table, c.Op, compactJSON(c.PK)))
	}
	return strings.Join(parts, "; ")
}

func compactJSON(raw json.RawMessage) string {
	if raw == nil {
		return "NULL"
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestTimelineFiltersAndMetadata(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	user1, admin9 := threadline.User("1"), threadline.Admin("9")

	inTx(t, db, threadline.TxOptions{Actor: user1, RequestID: "req-1"},
		"INSERT INTO accounts VALUES (1, 'Ada', 'ada@example.com'), (2, 'Bob', NULL)")
	// A transaction carrying the correlation id as a setting only, with
	// no action: the correlation filter matches it too.
	inTx(t, db, threadline.TxOptions{Actor: admin9, CorrelationID: "corr-A"},
		"UPDATE accounts SET name = 'Ada L.' WHERE id = 1")
	var actionID int64
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: user1}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO memberships VALUES ('acme', 1, 'owner')"); err != nil {
			return err
		}
		a, err := threadline.RecordAction(ctx, tx, "membership.grant", threadline.ActionOptions{CorrelationID: "corr-A"})
		actionID = a.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(t, "INSERT INTO billing.accounts VALUES (1, 'pro')")

	page, err := audit.Timeline(ctx, db.Pool, threadline.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := `billing.accounts insert {"id":1}; public.memberships insert {"account_id":1,"org":"acme"}; ` +
		`public.accounts update {"id":1}; public.accounts insert {"id":2}; public.accounts insert {"id":1}`
	if got := describe(page.Changes); got != want || page.Next != nil {
		t.Fatalf("timeline:\n got %s\nwant %s (next %v)", got, want, page.Next)
	}
	// Transaction metadata is joined in.
	upd, ins := page.Changes[2], page.Changes[4]
	if upd.Actor == nil || *upd.Actor != admin9 || upd.CorrelationID != "corr-A" || upd.ActionID != nil ||
		upd.RequestID != "" || upd.ActorInvalid != "" {
		t.Errorf("update metadata: %+v", upd)
	}
	if ins.Actor == nil || *ins.Actor != user1 || ins.RequestID != "req-1" || ins.CorrelationID != "" {
		t.Errorf("insert metadata: %+v", ins)
	}
	if m := page.Changes[1]; m.ActionID == nil || *m.ActionID != actionID {
		t.Errorf("membership change not linked to action %d: %+v", actionID, m)
	}
	if b := page.Changes[0]; b.Actor != nil || b.ActionID != nil {
		t.Errorf("unattributed change: %+v", b)
	}
	if compactJSON(upd.After) != `{"email":"[REDACTED]","id":1,"name":"Ada L."}` || strings.Join(upd.ChangedFields, ",") != "name" ||
		compactJSON(upd.ChangedFrom) != `{"name":"Ada"}` || upd.Before != nil || upd.PKBefore != nil {
		t.Errorf("update images: after %s fields %v from %s", upd.After, upd.ChangedFields, upd.ChangedFrom)
	}
	for i := 1; i < len(page.Changes); i++ {
		a, b := page.Changes[i-1], page.Changes[i]
		if a.CapturedAt.Before(b.CapturedAt) || (a.CapturedAt.Equal(b.CapturedAt) && a.ID < b.ID) {
			t.Errorf("not newest first at %d", i)
		}
	}

	check := func(name string, f threadline.Filter, want string) {
		t.Helper()
		p, err := audit.Timeline(ctx, db.Pool, f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := describe(p.Changes); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	check("table", threadline.Filter{Table: "accounts"},
		`public.accounts update {"id":1}; public.accounts insert {"id":2}; public.accounts insert {"id":1}`)
	check("schema-qualified table", threadline.Filter{Table: "billing.accounts"}, `billing.accounts insert {"id":1}`)
	check("quoted table", threadline.Filter{Table: `"billing"."accounts"`}, `billing.accounts insert {"id":1}`)
	check("unknown table", threadline.Filter{Table: "nope"}, ``)
	check("actor", threadline.Filter{Actor: &user1},
		`public.memberships insert {"account_id":1,"org":"acme"}; public.accounts insert {"id":2}; public.accounts insert {"id":1}`)
	check("actor and table", threadline.Filter{Actor: &user1, Table: "memberships"}, `public.memberships insert {"account_id":1,"org":"acme"}`)
	check("correlation id: the transaction's own or its action's", threadline.Filter{CorrelationID: " corr-A "},
		`public.memberships insert {"account_id":1,"org":"acme"}; public.accounts update {"id":1}`)
	check("unknown correlation id", threadline.Filter{CorrelationID: "corr-B"}, ``)
	at := upd.CapturedAt
	check("from and to are inclusive", threadline.Filter{From: at, To: at}, `public.accounts update {"id":1}`)
	check("from", threadline.Filter{From: at, Table: "public.accounts"}, `public.accounts update {"id":1}`)
	check("to", threadline.Filter{To: at.Add(-time.Microsecond), Table: "accounts"}, `public.accounts insert {"id":2}; public.accounts insert {"id":1}`)
	check("limit", threadline.Filter{Limit: 2, Table: "accounts"}, `public.accounts update {"id":1}; public.accounts insert {"id":2}`)
	check("after", threadline.Filter{After: upd.Cursor(), Table: "accounts"}, `public.accounts insert {"id":2}; public.accounts insert {"id":1}`)

	ah, err := audit.ActorHistory(ctx, db.Pool, admin9, threadline.Filter{Actor: &user1})
	if err != nil || describe(ah.Changes) != `public.accounts update {"id":1}` {
		t.Errorf("ActorHistory: %s %v", describe(ah.Changes), err)
	}
	anon := threadline.Anonymous()
	if p, err := audit.Timeline(ctx, db.Pool, threadline.Filter{Actor: &anon}); err != nil || len(p.Changes) != 0 {
		t.Errorf("anonymous: %v %v", p, err)
	}
}

func TestTimelineRejectsInvalidFilterWithoutQuerying(t *testing.T) {
	// A nil DBTX proves the filter is checked before any query.
	for _, f := range []threadline.Filter{
		{CorrelationID: "  "},
		{Table: "a.b.c"},
		{From: time.Now(), To: time.Now().Add(-time.Hour)},
	} {
		_, err := audit.Timeline(context.Background(), nil, f)
		var fe *threadline.FilterError
		if !errors.As(err, &fe) || !errors.Is(err, threadline.ErrInvalidFilter) {
			t.Errorf("%+v: %v", f, err)
		}
		for _, err := range audit.Changes(context.Background(), nil, f) {
			if !errors.Is(err, threadline.ErrInvalidFilter) {
				t.Errorf("Changes %+v: %v", f, err)
			}
		}
	}
	if _, err := audit.History(context.Background(), nil, "accounts", "[1]", threadline.HistoryOptions{}); !errors.Is(err, threadline.ErrInvalidKey) {
		t.Errorf("History with a bad key: %v", err)
	}
	if _, err := audit.AsOf(context.Background(), nil, "", `{"id":1}`, time.Now()); !errors.Is(err, threadline.ErrInvalidFilter) {
		t.Errorf("AsOf with no table: %v", err)
	}
}

func TestInvalidActorSettingIsNeverAnActor(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`SELECT set_config('threadline.actor_ref', '{"type":"user"}', true), set_config('threadline.attribution_tx', ` + contract.TxStartSQL + `, true)`, "INSERT INTO accounts VALUES (1, 'x', NULL)"} {
		if _, err := tx.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := audit.Timeline(ctx, db.Pool, threadline.Filter{})
	if err != nil || len(p.Changes) != 1 {
		t.Fatalf("%v %v", p, err)
	}
	if c := p.Changes[0]; c.Actor != nil || c.ActorInvalid != `{"type":"user"}` {
		t.Fatalf("actor %v invalid %q", c.Actor, c.ActorInvalid)
	}
}

// TestKeysetPagingWithTies pages through many changes, with many sharing
// one captured_at, and checks there are no duplicates or gaps, with
// Timeline and with the Changes stream.
func TestKeysetPagingWithTies(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	db.Exec(t, "INSERT INTO accounts SELECT g, 'n' || g, NULL FROM generate_series(1, 1500) AS g")
	db.Exec(t, "UPDATE accounts SET name = name || '!' WHERE id % 3 = 0")
	db.Exec(t, "INSERT INTO memberships SELECT 'org', g, 'member' FROM generate_series(1, 200) AS g")
	// Collapse captured_at to whole seconds so thousands of changes tie.
	db.Exec(t, "UPDATE threadline.audit_changes SET captured_at = date_trunc('second', captured_at)")
	var ids []int64
	rows, err := db.Pool.Query(ctx, "SELECT id FROM threadline.audit_changes WHERE table_name = 'accounts' ORDER BY captured_at DESC, id DESC")
	if err != nil {
		t.Fatal(err)
	}
	ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(ids) != 2000 {
		t.Fatalf("%d ids, %v", len(ids), err)
	}

	var got []int64
	f := threadline.Filter{Table: "accounts", Limit: 137}
	pages := 0
	for {
		p, err := audit.Timeline(ctx, db.Pool, f)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.Changes) > 137 {
			t.Fatalf("page of %d", len(p.Changes))
		}
		for _, c := range p.Changes {
			got = append(got, c.ID)
		}
		if p.Next == nil {
			break
		}
		f.After = p.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) || pages != 15 {
		t.Fatalf("paged %d ids in %d pages, want %d in 15 (same order)", len(got), pages, len(ids))
	}

	// The default limit.
	p, err := audit.Timeline(ctx, db.Pool, threadline.Filter{Table: "accounts"})
	if err != nil || len(p.Changes) != threadline.DefaultLimit || p.Next == nil {
		t.Fatalf("default limit: %d changes, next %v, %v", len(p.Changes), p.Next, err)
	}

	// The stream, with a small page size, yields the same sequence.
	got = got[:0]
	for c, err := range audit.Changes(ctx, db.Pool, threadline.Filter{Table: "accounts", Limit: 71}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("stream yielded %d ids, want %d in the same order", len(got), len(ids))
	}
}

func TestChangesStopsEarlyWithoutLeakingTheConnection(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	db.Exec(t, "INSERT INTO accounts SELECT g, 'n', NULL FROM generate_series(1, 300) AS g")
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	n := 0
	for c, err := range audit.Changes(ctx, pool, threadline.Filter{Limit: 50}) {
		if err != nil {
			t.Fatal(err)
		}
		if c.Op != threadline.OpInsert {
			t.Fatalf("op %s", c.Op)
		}
		n++
		if n == 75 { // in the middle of the second page
			break
		}
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var one int
	if err := pool.QueryRow(qctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("the only connection is still busy after breaking out: %v", err)
	}
	if st := pool.Stat(); st.AcquiredConns() != 0 {
		t.Fatalf("%d connections still acquired", st.AcquiredConns())
	}

	// Inside a transaction: breaking out leaves the transaction usable.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for range audit.Changes(ctx, tx, threadline.Filter{Limit: 10}) {
		break
	}
	if err := tx.QueryRow(qctx, "SELECT 2").Scan(&one); err != nil || one != 2 {
		t.Fatalf("transaction unusable after breaking out: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// A cancelled context ends the stream with its error.
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	defer ccancel()
	var gotErr error
	count := 0
	for _, err := range audit.Changes(cctx, pool, threadline.Filter{Limit: 10}) {
		if err != nil {
			gotErr = err
			break
		}
		count++
		if count == 10 {
			ccancel()
		}
	}
	if !errors.Is(gotErr, context.Canceled) || count != 10 {
		t.Fatalf("cancelled stream: %d changes, error %v", count, gotErr)
	}
}

func TestHistoryKeysSchemasAndKeyChanges(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	inTx(t, db, threadline.TxOptions{}, "INSERT INTO accounts VALUES (1, 'a', NULL)")
	inTx(t, db, threadline.TxOptions{}, "UPDATE accounts SET name = 'b' WHERE id = 1")
	inTx(t, db, threadline.TxOptions{}, "UPDATE accounts SET id = 10 WHERE id = 1")
	inTx(t, db, threadline.TxOptions{}, "UPDATE accounts SET name = 'c' WHERE id = 10")
	inTx(t, db, threadline.TxOptions{}, "DELETE FROM accounts WHERE id = 10")
	inTx(t, db, threadline.TxOptions{}, "INSERT INTO accounts VALUES (2, 'x', NULL)")
	inTx(t, db, threadline.TxOptions{}, "INSERT INTO billing.accounts VALUES (1, 'pro')")
	inTx(t, db, threadline.TxOptions{}, "INSERT INTO memberships VALUES ('acme', 1, 'owner'), ('acme', 2, 'member'), ('other', 1, 'member')")
	inTx(t, db, threadline.TxOptions{}, "UPDATE memberships SET role = 'admin' WHERE org = 'acme' AND account_id = 1")

	h := func(table string, key any, o threadline.HistoryOptions) string {
		t.Helper()
		cs, err := audit.History(ctx, db.Pool, table, key, o)
		if err != nil {
			t.Fatalf("History(%s, %v): %v", table, key, err)
		}
		var parts []string
		for _, c := range cs {
			s := fmt.Sprintf("%s %s", c.Op, compactJSON(c.PK))
			if c.PKBefore != nil {
				s += " from " + compactJSON(c.PKBefore)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, "; ")
	}
	cases := []struct {
		table string
		key   any
		want  string
	}{
		{"accounts", `{"id": 1}`, `update {"id":10} from {"id":1}; update {"id":1}; insert {"id":1}`},
		{"public.accounts", json.RawMessage(`{"id":10}`), `delete {"id":10}; update {"id":10}; update {"id":10} from {"id":1}`},
		{"accounts", map[string]any{"id": 2}, `insert {"id":2}`},
		{"accounts", map[string]any{"id": 2.0}, `insert {"id":2}`}, // jsonb compares numbers by value
		{"billing.accounts", `{"id":1}`, `insert {"id":1}`},
		{"accounts", `{"id":3}`, ``},
		{"memberships", `{"org":"acme","account_id":1}`, `update {"account_id":1,"org":"acme"}; insert {"account_id":1,"org":"acme"}`},
		{"memberships", `{"account_id":1,"org":"other"}`, `insert {"account_id":1,"org":"other"}`},
		{"memberships", `{"org":"acme"}`, ``}, // a partial key matches nothing
	}
	for _, c := range cases {
		if got := h(c.table, c.key, threadline.HistoryOptions{}); got != c.want {
			t.Errorf("History(%s, %v):\n got %s\nwant %s", c.table, c.key, got, c.want)
		}
	}
	// Bounded, and continued with a cursor.
	first, err := audit.History(ctx, db.Pool, "accounts", `{"id":1}`, threadline.HistoryOptions{Limit: 2})
	if err != nil || len(first) != 2 {
		t.Fatalf("limit: %d %v", len(first), err)
	}
	if got := h("accounts", `{"id":1}`, threadline.HistoryOptions{Limit: 2, After: first[1].Cursor()}); got != `insert {"id":1}` {
		t.Fatalf("after: %s", got)
	}
}

func TestAsOf(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	start := dbNow(t, db)
	inTx(t, db, threadline.TxOptions{}, "INSERT INTO accounts VALUES (1, 'a', 'a@x')")
	inTx(t, db, threadline.TxOptions{}, "UPDATE accounts SET name = 'b' WHERE id = 1")
	inTx(t, db, threadline.TxOptions{}, "DELETE FROM accounts WHERE id = 1")
	inTx(t, db, threadline.TxOptions{}, "INSERT INTO accounts VALUES (1, 'c', NULL)")
	inTx(t, db, threadline.TxOptions{}, "UPDATE accounts SET id = 2 WHERE id = 1")
	inTx(t, db, threadline.TxOptions{}, "INSERT INTO accounts VALUES (3, 'z', NULL)")
	inTx(t, db, threadline.TxOptions{}, "TRUNCATE accounts")
	inTx(t, db, threadline.TxOptions{}, "INSERT INTO accounts VALUES (3, 'after truncate', NULL)")

	p, err := audit.Timeline(ctx, db.Pool, threadline.Filter{Table: "accounts"})
	if err != nil || len(p.Changes) != 8 {
		t.Fatalf("%d changes %v", len(p.Changes), err)
	}
	ch := p.Changes // newest first: ch[7] is the first insert
	at := func(i int) time.Time { return ch[i].CapturedAt }
	before := func(i int) time.Time { return ch[i].CapturedAt.Add(-time.Microsecond) }
	cases := []struct {
		name string
		key  string
		at   time.Time
		want string // row name, or an error
	}{
		{"before the first capture", `{"id":1}`, start, "ErrBeforeHorizon"},
		{"just before the insert", `{"id":1}`, before(7), "ErrBeforeHorizon"},
		{"at the insert", `{"id":1}`, at(7), `{"email":"[REDACTED]","id":1,"name":"a"}`},
		{"between the insert and the update", `{"id":1}`, before(6), `{"email":"[REDACTED]","id":1,"name":"a"}`},
		{"after the update", `{"id":1}`, before(5), `{"email":"[REDACTED]","id":1,"name":"b"}`},
		{"after the delete", `{"id":1}`, at(5), "ErrDeleted"},
		{"after the re-insert", `{"id":1}`, at(4), `{"email":null,"id":1,"name":"c"}`},
		{"after the key moved away", `{"id":1}`, at(3), "ErrDeleted"},
		{"the new key", `{"id":2}`, at(3), `{"email":null,"id":2,"name":"c"}`},
		{"the new key before the move", `{"id":2}`, before(3), "ErrBeforeHorizon"},
		{"before the truncate", `{"id":3}`, before(1), `{"email":null,"id":3,"name":"z"}`},
		{"after the truncate", `{"id":2}`, at(1), "ErrDeleted"},
		{"never captured, after a truncate", `{"id":99}`, at(1), "ErrDeleted"},
		{"never captured, before any truncate", `{"id":99}`, before(1), "ErrBeforeHorizon"},
		{"inserted again after the truncate", `{"id":3}`, at(0), `{"email":null,"id":3,"name":"after truncate"}`},
		{"far future", `{"id":3}`, time.Now().Add(24 * time.Hour), `{"email":null,"id":3,"name":"after truncate"}`},
	}
	for _, c := range cases {
		row, err := audit.AsOf(ctx, db.Pool, "accounts", c.key, c.at)
		var got string
		switch {
		case errors.Is(err, threadline.ErrDeleted):
			got = "ErrDeleted"
		case errors.Is(err, threadline.ErrBeforeHorizon):
			got = "ErrBeforeHorizon"
		case err != nil:
			t.Fatalf("%s: %v", c.name, err)
		default:
			got = compactJSON(row)
		}
		if got != c.want {
			t.Errorf("%s: AsOf(%s, %s) = %s, want %s", c.name, c.key, c.at.Format(time.RFC3339Nano), got, c.want)
		}
	}
	// Another schema's table of the same name is not consulted.
	if _, err := audit.AsOf(ctx, db.Pool, "billing.accounts", `{"id":3}`, time.Now()); !errors.Is(err, threadline.ErrBeforeHorizon) {
		t.Errorf("billing.accounts: %v", err)
	}
}

func dbNow(t *testing.T, db *pgtest.DB) time.Time {
	t.Helper()
	var now time.Time
	if err := db.Pool.QueryRow(context.Background(), "SELECT clock_timestamp()").Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

func TestTransactionAndItsChanges(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.ServiceAccount("api"), RequestID: "r-9"}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO accounts SELECT g, 'n', NULL FROM generate_series(1, 5) AS g"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO billing.accounts VALUES (1, 'pro')"); err != nil {
			return err
		}
		_, err := threadline.RecordAction(ctx, tx, "signup", threadline.ActionOptions{Reason: "campaign", CorrelationID: "c-1"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := audit.Timeline(ctx, db.Pool, threadline.Filter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	txID := p.Changes[0].TransactionID
	cs, err := audit.TransactionChanges(ctx, db.Pool, txID, threadline.HistoryOptions{})
	if err != nil || len(cs) != 6 || cs[0].Table != "accounts" || cs[0].Schema != "billing" {
		t.Fatalf("TransactionChanges: %s %v", describe(cs), err)
	}
	part, err := audit.TransactionChanges(ctx, db.Pool, txID, threadline.HistoryOptions{Limit: 4})
	if err != nil || len(part) != 4 {
		t.Fatalf("limited: %d %v", len(part), err)
	}
	rest, err := audit.TransactionChanges(ctx, db.Pool, txID, threadline.HistoryOptions{After: part[3].Cursor()})
	if err != nil || len(rest) != 2 || rest[1].ID != cs[5].ID {
		t.Fatalf("rest: %s %v", describe(rest), err)
	}
	tr, err := audit.Transaction(ctx, db.Pool, txID)
	if err != nil {
		t.Fatal(err)
	}
	if tr.ID != txID || tr.Actor == nil || *tr.Actor != threadline.ServiceAccount("api") || tr.RequestID != "r-9" ||
		tr.TxID == "" || tr.StartedAt.IsZero() || tr.ActionID == nil || tr.Action == nil {
		t.Fatalf("transaction: %+v", tr)
	}
	if a := tr.Action; a.Name != "signup" || a.Reason != "campaign" || a.CorrelationID != "c-1" || a.Status != "ok" ||
		a.Actor == nil || *a.Actor != threadline.ServiceAccount("api") || a.InsertedAt.IsZero() || a.ID != *tr.ActionID {
		t.Fatalf("action: %+v", a)
	}
	if _, err := audit.Transaction(ctx, db.Pool, txID+1000); !errors.Is(err, threadline.ErrNotFound) {
		t.Fatalf("unknown transaction: %v", err)
	}
	if cs, err := audit.TransactionChanges(ctx, db.Pool, txID+1000, threadline.HistoryOptions{}); err != nil || len(cs) != 0 {
		t.Fatalf("unknown transaction changes: %v %v", cs, err)
	}
}

// sqlRecorder records the SQL and arguments of every query.
type sqlRecorder struct {
	mu      sync.Mutex
	queries []pgx.TraceQueryStartData
}

func (r *sqlRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, d)
	return ctx
}

func (r *sqlRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *sqlRecorder) last() pgx.TraceQueryStartData {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queries[len(r.queries)-1]
}

// tracedPool opens a pool on db that records every query it sends.
func tracedPool(t *testing.T, db *pgtest.DB) (*pgxpool.Pool, *sqlRecorder) {
	t.Helper()
	rec := &sqlRecorder{}
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = rec
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, rec
}

// explainPlan returns the plan of a recorded query.
func explainPlan(t *testing.T, db threadline.DBTX, q pgx.TraceQueryStartData) string {
	t.Helper()
	rows, err := db.Query(context.Background(), "EXPLAIN "+q.SQL, q.Args...)
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestQueriesUseTheAuditIndexes runs the investigation queries on a
// realistic number of audit rows and checks with EXPLAIN that the exact
// SQL they send uses the indexes the install creates.
func TestQueriesUseTheAuditIndexes(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	// 60,000 synthetic changes over 20,000 rows of three tables, in time
	// order as the capture writes them, and some key-changing updates.
	db.Exec(t, `INSERT INTO threadline.audit_changes
		(transaction_id, table_schema, table_name, table_pk, table_pk_before, op, data_after, captured_at)
		SELECT g / 10, 'public', (ARRAY['accounts', 'memberships', 'other'])[1 + g % 3],
			jsonb_build_object('id', g % 20000), CASE WHEN g % 97 = 0 THEN jsonb_build_object('id', g % 20000 + 1) END,
			'update', '{}', timestamptz '2026-01-01' + g * interval '1 second'
		FROM generate_series(1, 60000) AS g`)
	db.Exec(t, "ANALYZE threadline.audit_changes")

	pool, rec := tracedPool(t, db)
	explain := func(name string, run func() error, want ...string) {
		t.Helper()
		// A budget spent (the test does not summarize the BRIN index, so
		// every window reads the table) still leaves the plan to check.
		if err := run(); err != nil && !errors.Is(err, threadline.ErrBeforeHorizon) && !errors.Is(err, threadline.ErrDeleted) &&
			!errors.Is(err, threadline.ErrSearchBudgetSpent) {
			t.Fatalf("%s: %v", name, err)
		}
		plan := explainPlan(t, pool, rec.last())
		for _, w := range want {
			if !strings.Contains(plan, w) {
				t.Errorf("%s: plan does not use %s:\n%s", name, w, plan)
			}
		}
		if strings.Contains(plan, "Seq Scan on audit_changes") {
			t.Errorf("%s: plan scans audit_changes sequentially:\n%s", name, plan)
		}
	}
	explain("History", func() error {
		_, err := audit.History(ctx, pool, "accounts", `{"id": 1234}`, threadline.HistoryOptions{})
		return err
	}, "audit_changes_row_idx", "audit_changes_row_before_idx")
	explain("AsOf", func() error {
		_, err := audit.AsOf(ctx, pool, "accounts", `{"id": 1234}`, time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC))
		return err
	}, "audit_changes_row_idx", "audit_changes_row_before_idx")
	explain("TransactionChanges", func() error {
		_, err := audit.TransactionChanges(ctx, pool, 4321, threadline.HistoryOptions{})
		return err
	}, "audit_changes_transaction_id_idx")
	explain("Timeline over one hour", func() error {
		_, err := audit.Timeline(ctx, pool, threadline.Filter{
			From: time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)})
		return err
	}, "audit_changes_captured_at_idx")
}

// TestConfiguredAndQuotedAuditSchema reads audit tables installed in a
// configured schema, and in one whose name needs quoting (installed with
// the capture templates directly: the config only accepts plain names).
func TestConfiguredAndQuotedAuditSchema(t *testing.T) {
	ctx := context.Background()
	ddl := "CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL);"

	// audit_schema from threadline.yaml, through the generator.
	db := pgtest.NewDB(t, ddl)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "schema.sql"), []byte(ddl), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgText := "version: 1\nschema:\n  files: [schema.sql]\naudit_schema: audit_trail\nmigrations:\n  dir: migrations\n  format: plain\n" +
		"package:\n  dir: audit\ntables:\n  accounts: {}\n"
	cfg, err := config.Parse(filepath.Join(dir, "threadline.yaml"), []byte(cfgText), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.LoadLive(ctx, db.Pool, schema.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Now: capturetest.Clock, Migrations: map[string][]byte{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Migrations {
		if strings.HasSuffix(f.Path, ".up.sql") {
			db.Exec(t, string(f.Content))
		}
	}
	db.Exec(t, "INSERT INTO accounts VALUES (7, 'x')")
	check := func(db *pgtest.DB, a threadline.Audit) {
		t.Helper()
		p, err := a.Timeline(ctx, db.Pool, threadline.Filter{Table: "accounts", CorrelationID: "none"})
		if err != nil || len(p.Changes) != 0 {
			t.Fatalf("%q: correlation subquery: %v %v", a.Schema, p, err)
		}
		p, err = a.Timeline(ctx, db.Pool, threadline.Filter{Table: "accounts"})
		if err != nil || describe(p.Changes) != `public.accounts insert {"id":7}` {
			t.Fatalf("%q: timeline: %s %v", a.Schema, describe(p.Changes), err)
		}
		if row, err := a.AsOf(ctx, db.Pool, "accounts", `{"id":7}`, time.Now().Add(time.Hour)); err != nil || compactJSON(row) != `{"id":7,"name":"x"}` {
			t.Fatalf("%q: as-of: %s %v", a.Schema, row, err)
		}
		if cs, err := a.History(ctx, db.Pool, "accounts", `{"id":7}`, threadline.HistoryOptions{}); err != nil || len(cs) != 1 {
			t.Fatalf("%q: history: %v %v", a.Schema, cs, err)
		}
		if _, err := a.Transaction(ctx, db.Pool, p.Changes[0].TransactionID); err != nil {
			t.Fatalf("%q: transaction: %v", a.Schema, err)
		}
	}
	check(db, threadline.Audit{Schema: "audit_trail"})
	// The default schema does not exist here: the error says so.
	if _, err := audit.Timeline(ctx, db.Pool, threadline.Filter{}); err == nil || !strings.Contains(err.Error(), `relation "threadline.audit_changes" does not exist`) {
		t.Fatalf("default schema: %v", err)
	}

	// A schema name that needs quoting.
	const hostile = `Audit "Trail".x`
	db2 := pgtest.NewDB(t, ddl)
	for _, st := range sqltemplates.Install(hostile, sqltemplates.Grants{}, sqltemplates.Storage{}) {
		db2.Exec(t, st)
	}
	unit, err := sqltemplates.CaptureUnit(sqltemplates.Capture{AuditSchema: hostile,
		Table: schema.QualifiedName{Schema: "public", Name: "accounts"}, Columns: []string{"id", "name"}, Key: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range unit.Create {
		db2.Exec(t, st)
	}
	db2.Exec(t, "INSERT INTO accounts VALUES (7, 'x')")
	check(db2, threadline.Audit{Schema: hostile})
}
