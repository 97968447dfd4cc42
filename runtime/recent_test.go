package threadline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/trailread"
	threadline "github.com/threadline-go/threadline/runtime"
)

func TestFilterByOpAndRequestID(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	inTx(t, db, threadline.TxOptions{RequestID: "req-1"}, "INSERT INTO accounts VALUES (1, 'Ada', NULL), (2, 'Bob', NULL)")
	inTx(t, db, threadline.TxOptions{RequestID: "req-2"}, "UPDATE accounts SET name = 'Ada L.' WHERE id = 1", "DELETE FROM accounts WHERE id = 2")

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
	check("op insert", threadline.Filter{Op: threadline.OpInsert}, `public.accounts insert {"id":2}; public.accounts insert {"id":1}`)
	check("op delete", threadline.Filter{Op: threadline.OpDelete}, `public.accounts delete {"id":2}`)
	check("op truncate", threadline.Filter{Op: threadline.OpTruncate}, ``)
	check("request id", threadline.Filter{RequestID: " req-2 "}, `public.accounts delete {"id":2}; public.accounts update {"id":1}`)
	check("request id and op", threadline.Filter{RequestID: "req-2", Op: threadline.OpUpdate}, `public.accounts update {"id":1}`)
	check("unknown request id", threadline.Filter{RequestID: "req-3"}, ``)

	var doc bytes.Buffer
	if _, err := audit.Export(ctx, db.Pool, &doc, threadline.ExportOptions{Format: threadline.ExportJSON, Filter: threadline.Filter{Op: threadline.OpUpdate, RequestID: " req-2 "}}); err != nil {
		t.Fatal(err)
	}
	if want := `"correlation_id":null,"op":"update","request_id":"req-2"},`; !strings.Contains(doc.String(), want) {
		t.Errorf("JSON export does not record the filter %s:\n%s", want, doc.String())
	}
	if n := strings.Count(doc.String(), `"op":"update"`); n != 2 {
		t.Errorf("JSON export: %d updates (filter included), want 1 change", n-1)
	}

	for _, c := range []struct {
		f    threadline.Filter
		want string
	}{
		{threadline.Filter{Op: "upsert"}, `threadline: invalid filter: op: "upsert": want insert, update, delete or truncate`},
		{threadline.Filter{RequestID: "a\nb"}, `threadline: invalid filter: request_id: request id holds a control character at byte 1`},
	} {
		var fe *threadline.FilterError
		if err := c.f.Validate(); err == nil || err.Error() != c.want || !errors.As(err, &fe) {
			t.Errorf("Validate(%+v) = %v, want %s", c.f, err, c.want)
		}
	}
}

// seedRecent writes synthetic changes of uneven density: the "busy" table
// changes every second over 20 hours, "rare" once a day over 60 days, and
// two changes whose ids are out of captured_at order (as concurrent
// transactions can leave them).
func seedRecent(t *testing.T, db *pgtest.DB) {
	t.Helper()
	db.Exec(t, `INSERT INTO threadline.audit_transactions (id, txid, started_at, actor_ref, request_id)
		OVERRIDING SYSTEM VALUE
		SELECT g, g::text::xid8, timestamptz '2026-01-01', jsonb_build_object('type', 'user', 'id', (g % 7)::text), 'r' || (g % 3)
		FROM generate_series(1, 8000) AS g`)
	db.Exec(t, `INSERT INTO threadline.audit_changes
		(transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
		SELECT 1 + g % 60, 'public', 'rare', jsonb_build_object('id', g), 'insert', '{}', timestamptz '2026-01-01' + g * interval '1 day'
		FROM generate_series(1, 60) AS g`)
	db.Exec(t, `INSERT INTO threadline.audit_changes
		(transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
		SELECT 1 + g / 10, 'public', 'busy', jsonb_build_object('id', g % 500), (ARRAY['insert', 'update', 'delete'])[1 + g % 3], '{}',
			timestamptz '2026-03-01' + g * interval '1 second'
		FROM generate_series(1, 72000) AS g`)
	db.Exec(t, `INSERT INTO threadline.audit_changes
		(transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
		VALUES (7999, 'public', 'late', '{"id": 1}', 'insert', '{}', timestamptz '2026-03-01 12:00:00.5'),
		       (8000, 'public', 'late', '{"id": 2}', 'insert', '{}', timestamptz '2026-03-02 00:00:00.5')`)
	db.Exec(t, "ANALYZE threadline.audit_changes, threadline.audit_transactions")
}

func TestTimelineSearchEqualsSortedQuery(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	seedRecent(t, db)
	user3 := threadline.User("3")
	filters := map[string]threadline.Filter{
		"all":               {Limit: 50},
		"busy":              {Table: "busy", Limit: 500},
		"rare":              {Table: "rare", Limit: 7},
		"late":              {Table: "late"},
		"none":              {Table: "nope"},
		"op":                {Op: threadline.OpDelete, Limit: 1000},
		"actor":             {Actor: &user3, Limit: 333},
		"request":           {RequestID: "r1", Table: "rare"},
		"window":            {From: time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 1, 0, 10, 0, 0, time.UTC), Limit: 40},
		"to only":           {To: time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC), Limit: 3},
		"from only":         {From: time.Date(2026, 3, 1, 19, 59, 0, 0, time.UTC)},
		"future":            {From: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		"correlation (one)": {CorrelationID: "nothing"},
	}
	for name, f := range filters {
		for page := 0; ; page++ {
			want, err := audit.SortedTimeline(ctx, db.Pool, f)
			if err != nil {
				t.Fatal(err)
			}
			// An unlimited budget: the page must not depend on the
			// speed of the machine (TestTimelineSearchBudget covers it).
			got, err := audit.SearchTimeline(ctx, db.Pool, f, time.Minute, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := describeIDs(got), describeIDs(want); g != w {
				t.Fatalf("%s, page %d:\n got %s\nwant %s", name, page, g, w)
			}
			if want.Next == nil || page == 5 {
				break
			}
			f.After = want.Next
		}
	}
}

// TestTimelineSearchBudget: with its budget spent after every window,
// the search returns partial pages (SearchedFrom set, Next continuing
// strictly before it) whose changes, followed to the end, are exactly
// those of the sorted stream (Changes), in the same order.
func TestTimelineSearchBudget(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	seedRecent(t, db)
	user3 := threadline.User("3")
	filters := map[string]threadline.Filter{
		"rare":   {Table: "rare", Limit: 7},
		"late":   {Table: "late", Limit: 1},
		"op":     {Op: threadline.OpInsert, Limit: 20000, From: time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)},
		"actor":  {Actor: &user3, Table: "rare", Limit: 3},
		"window": {Table: "rare", From: time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC), Limit: 4},
	}
	for name, f := range filters {
		var want []int64
		for c, err := range audit.Changes(ctx, db.Pool, f) {
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, c.ID)
		}
		var got []int64
		partial := 0
		for calls := 0; ; calls++ {
			if calls > 500 {
				t.Fatalf("%s: no end after %d pages", name, calls)
			}
			p, err := audit.SearchTimeline(ctx, db.Pool, f, 24*time.Hour, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Changes) > f.Limit {
				t.Fatalf("%s: %d changes on a page of %d", name, len(p.Changes), f.Limit)
			}
			for _, c := range p.Changes {
				got = append(got, c.ID)
				if !p.SearchedFrom.IsZero() && c.CapturedAt.Before(p.SearchedFrom) {
					t.Fatalf("%s: change %d at %s, before SearchedFrom %s", name, c.ID, c.CapturedAt, p.SearchedFrom)
				}
			}
			if !p.SearchedFrom.IsZero() {
				partial++
				if p.Next == nil || !p.Next.CapturedAt.Equal(p.SearchedFrom) {
					t.Fatalf("%s: partial page searched from %s continues at %v", name, p.SearchedFrom, p.Next)
				}
			}
			if p.Next == nil {
				break
			}
			f.After = p.Next
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: pages hold\n%v\nwant\n%v", name, got, want)
		}
		if partial == 0 {
			t.Errorf("%s: no partial page: the budget was never spent", name)
		}
	}
}

func describeIDs(p threadline.Page) string {
	var b strings.Builder
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "%d ", c.ID)
	}
	fmt.Fprintf(&b, "next %v", p.Next)
	return b.String()
}

func TestRecentActivity(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	inTx(t, db, threadline.TxOptions{}, "INSERT INTO accounts VALUES (1, 'Ada', NULL), (2, 'Bob', NULL)")
	inTx(t, db, threadline.TxOptions{}, "INSERT INTO billing.accounts VALUES (1, 'pro')")
	inTx(t, db, threadline.TxOptions{}, "UPDATE accounts SET name = 'Ada L.' WHERE id = 1")

	act, err := (trailread.Trail{}).RecentActivity(ctx, db.Pool, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ta := range act.Tables {
		got = append(got, fmt.Sprintf("%s %d", ta.Table, ta.Changes))
	}
	p, _ := audit.Timeline(ctx, db.Pool, threadline.Filter{})
	if strings.Join(got, ", ") != "public.accounts 2, billing.accounts 1" || act.Sample != 3 ||
		!act.Since.Equal(p.Changes[2].CapturedAt) || !act.Tables[0].Latest.Equal(p.Changes[0].CapturedAt) {
		t.Fatalf("RecentActivity(3) = %+v (%s)", act, got)
	}
	act, err = (trailread.Trail{}).RecentActivity(ctx, db.Pool, 0)
	if err != nil || act.Sample != 4 || act.Tables[0].Changes != 3 {
		t.Fatalf("RecentActivity(0) = %+v, %v", act, err)
	}
	empty := capturetest.Setup(t, queryDDL, queryTables)
	act, err = (trailread.Trail{}).RecentActivity(ctx, empty.Pool, 10)
	if err != nil || act.Sample != 0 || len(act.Tables) != 0 || !act.Since.IsZero() {
		t.Fatalf("empty trail: %+v, %v", act, err)
	}
	if p, err := audit.Timeline(ctx, empty.Pool, threadline.Filter{}); err != nil || len(p.Changes) != 0 || p.Next != nil {
		t.Fatalf("empty trail: %+v, %v", p, err)
	}
}

// TestRecentReadsUseIndexes checks with EXPLAIN that the timeline search's
// queries read the primary key and the captured_at index, and that
// the viewer's recent activity reads the primary key backwards.
func TestRecentReadsUseIndexes(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	seedRecent(t, db)
	pool, rec := tracedPool(t, db)
	plan := func(q pgx.TraceQueryStartData) string { return explainPlan(t, db.Pool, q) }
	if _, err := audit.SearchTimeline(ctx, pool, threadline.Filter{Table: "busy", Limit: 100}, time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	// The span query, then windows of one hour (the latest 1024 changes
	// took four, capped at one) and eight hours, one before the other,
	// back from the newest change (2026-03-02 00:00): the busy table's
	// changes end at 20:00, so the second fills the page.
	if len(rec.queries) != 3 {
		t.Fatalf("the search of the busy table ran %d queries, want 3", len(rec.queries))
	}
	if p := plan(rec.queries[0]); strings.Count(p, "audit_changes_pkey") != 4 || strings.Contains(p, "Seq Scan") {
		t.Errorf("span query does not read the primary key:\n%s", p)
	}
	for _, q := range rec.queries[1:] {
		if p := plan(q); !strings.Contains(p, "audit_changes_captured_at_idx") || strings.Contains(p, "Seq Scan on audit_changes") {
			t.Errorf("window query does not use the captured_at index:\n%s", p)
		}
	}
	if _, err := (trailread.Trail{}).RecentActivity(ctx, pool, 1000); err != nil {
		t.Fatal(err)
	}
	if p := plan(rec.last()); !strings.Contains(p, "Index Scan Backward using audit_changes_pkey") || strings.Contains(p, "Seq Scan") {
		t.Errorf("RecentActivity does not read the primary key backwards:\n%s", p)
	}
}
