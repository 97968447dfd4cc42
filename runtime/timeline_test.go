package threadline_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/trailread"
	threadline "github.com/threadline-go/threadline/runtime"
)

// seedTimeline writes a small trail: "events" changed once a day on
// January 1-5 (ids 1-5) and once a minute at 00:01-00:05 on March 1
// (ids 6-10); "other" every ten seconds from 00:10 to 02:00 on March 1
// (ids 11-671), so the newest events are 115 minutes behind the newest
// change.
func seedTimeline(t *testing.T) *pgtest.DB {
	t.Helper()
	db := capturetest.Setup(t, queryDDL, queryTables)
	db.Exec(t, `INSERT INTO threadline.audit_transactions (id, txid, started_at, actor_ref)
		OVERRIDING SYSTEM VALUE
		SELECT g, g::text::xid8, timestamptz '2026-01-01', jsonb_build_object('type', 'user', 'id', (g % 2)::text)
		FROM generate_series(1, 671) AS g`)
	db.Exec(t, `INSERT INTO threadline.audit_changes
		(id, transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
		OVERRIDING SYSTEM VALUE
		SELECT g, g, 'public', 'events', jsonb_build_object('id', g), 'insert', '{}',
			CASE WHEN g <= 5 THEN timestamptz '2026-01-01 00:00Z' + g * interval '1 day'
			     ELSE timestamptz '2026-03-01 00:00Z' + (g - 5) * interval '1 minute' END
		FROM generate_series(1, 10) AS g`)
	db.Exec(t, `INSERT INTO threadline.audit_changes
		(id, transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
		OVERRIDING SYSTEM VALUE
		SELECT g, g, 'public', 'other', jsonb_build_object('id', g), 'update', '{}',
			timestamptz '2026-03-01 00:10Z' + (g - 11) * interval '10 seconds'
		FROM generate_series(11, 671) AS g`)
	db.Exec(t, "ANALYZE threadline.audit_changes, threadline.audit_transactions")
	return db
}

// TestTimelineWithoutRange: with no time range Timeline returns the
// newest page and its cursor, exactly the rows one sorted query returns,
// page after page.
func TestTimelineWithoutRange(t *testing.T) {
	ctx := context.Background()
	db := seedTimeline(t)
	// A budget this machine cannot spend: the pages must not depend on
	// its speed (TestTimelineBudgetSpent spends it).
	roomy := trailread.WithSearchBudget(ctx, time.Hour)
	cases := []struct {
		name  string
		f     threadline.Filter
		pages []string
	}{
		{"events", threadline.Filter{Table: "events", Limit: 4},
			[]string{"10 9 8 7 next 7", "6 5 4 3 next 3", "2 1 next none"}},
		{"all", threadline.Filter{Limit: 3}, []string{"671 670 669 next 669"}},
		{"events of user 1", threadline.Filter{Table: "events", Actor: ptr(threadline.User("1")), Limit: 2},
			[]string{"9 7 next 7", "5 3 next 3", "1 next none"}},
	}
	for _, c := range cases {
		f := c.f
		for i, want := range c.pages {
			p, err := audit.Timeline(roomy, db.Pool, f)
			if err != nil || !p.SearchedFrom.IsZero() {
				t.Fatalf("%s, page %d: %v (searched from %s)", c.name, i, err, p.SearchedFrom)
			}
			if got := pageIDs(p); got != want {
				t.Errorf("%s, page %d: got %s, want %s", c.name, i, got, want)
			}
			sorted, err := audit.SortedTimeline(ctx, db.Pool, f)
			if err != nil {
				t.Fatal(err)
			}
			if got, w := describeIDs(p), describeIDs(sorted); got != w {
				t.Errorf("%s, page %d: got %s, one sorted query returns %s", c.name, i, got, w)
			}
			f.After = p.Next
		}
	}
}

// TestTimelineBudgetSpent: a filter that matches nothing recent spends a
// tiny budget after the first window. Timeline says so: the partial page
// (here empty) comes with ErrSearchBudgetSpent, SearchedFrom and a cursor
// continuing there, from which the following pages are the sorted
// changes. ConvertPage (what generated timelines return) keeps the
// changes, the cursor and the error; ActorHistory reports alike.
func TestTimelineBudgetSpent(t *testing.T) {
	ctx := context.Background()
	db := seedTimeline(t)
	tiny := trailread.WithSearchBudget(ctx, time.Nanosecond)
	f := threadline.Filter{Table: "events", Limit: 4}

	p, err := audit.Timeline(tiny, db.Pool, f)
	newest := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	stop := newest.Add(-time.Hour) // the first window: at most an hour
	if !errors.Is(err, threadline.ErrSearchBudgetSpent) || len(p.Changes) != 0 ||
		!p.SearchedFrom.Equal(stop) || p.Next == nil || !p.Next.CapturedAt.Equal(stop) {
		t.Fatalf("first page: %s, searched from %s, err %v", describeIDs(p), p.SearchedFrom, err)
	}
	want := "threadline: search budget spent before the page was full: 0 changes found, searched back to " +
		"2026-03-01T01:00:00Z; pass the page's cursor as Filter.After to search on"
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	ids, next, cerr := threadline.ConvertPage(p, err, changeID)
	if !errors.Is(cerr, threadline.ErrSearchBudgetSpent) || len(ids) != 0 || next != p.Next {
		t.Errorf("ConvertPage of a partial page: %v %v %v", ids, next, cerr)
	}
	if _, err := audit.ActorHistory(tiny, db.Pool, threadline.User("1"), f); !errors.Is(err, threadline.ErrSearchBudgetSpent) {
		t.Errorf("ActorHistory: %v, want the budget spent", err)
	}
	// A page of 700 of any table: the first window holds 361 (ids 311 to
	// 671, captured from 01:00 on), returned with the error.
	all, err := audit.Timeline(tiny, db.Pool, threadline.Filter{Limit: 700})
	if !errors.Is(err, threadline.ErrSearchBudgetSpent) || len(all.Changes) != 361 ||
		all.Changes[0].ID != 671 || all.Changes[360].ID != 311 || !all.Next.CapturedAt.Equal(stop) {
		t.Fatalf("page of 700: %d changes, next %v, err %v", len(all.Changes), all.Next, err)
	}

	// The cursor continues the search; a roomy budget finishes it.
	roomy := trailread.WithSearchBudget(ctx, time.Hour)
	var pages []string
	for f.After = p.Next; f.After != nil; {
		p, err := audit.Timeline(roomy, db.Pool, f)
		cs, next, err := threadline.ConvertPage(p, err, changeID)
		if err != nil || len(pages) > 5 {
			t.Fatalf("after %v: %v", pages, err)
		}
		pages = append(pages, fmt.Sprint(cs))
		f.After = next
	}
	if got := fmt.Sprint(pages); got != "[[10 9 8 7] [6 5 4 3] [2 1]]" {
		t.Errorf("continued pages %s, want [[10 9 8 7] [6 5 4 3] [2 1]]", got)
	}
}

// TestConvertPageError: an error other than the budget's comes alone.
func TestConvertPageError(t *testing.T) {
	boom := errors.New("boom")
	page := threadline.Page{Changes: []threadline.Change{{ID: 1}}, Next: &threadline.Cursor{ID: 1}}
	if cs, next, err := threadline.ConvertPage(page, boom, changeID); cs != nil || next != nil || err != boom {
		t.Errorf("ConvertPage with an error: %v %v %v", cs, next, err)
	}
	bad := func(threadline.Change) (int64, error) { return 0, boom }
	if cs, next, err := threadline.ConvertPage(page, nil, bad); cs != nil || next != nil || err != boom {
		t.Errorf("ConvertPage with a failing convert: %v %v %v", cs, next, err)
	}
	if cs, next, err := threadline.ConvertPage(page, nil, changeID); fmt.Sprint(cs) != "[1]" || next != page.Next || err != nil {
		t.Errorf("ConvertPage: %v %v %v", cs, next, err)
	}
}

func changeID(c threadline.Change) (int64, error) { return c.ID, nil }

// pageIDs renders the ids of a page and the id of its cursor.
func pageIDs(p threadline.Page) string {
	s := ""
	for _, c := range p.Changes {
		s += fmt.Sprintf("%d ", c.ID)
	}
	if p.Next == nil {
		return s + "next none"
	}
	return s + fmt.Sprintf("next %d", p.Next.ID)
}
