package threadline

import (
	"context"
	"time"

	"github.com/threadline-go/threadline/internal/tlerr"
)

// Reads for interactive viewers: the newest page of a large trail without
// sorting all of it, and which tables were active lately. Both read only
// recent rows through indexes, whatever the size of the trail.

// firstWindow, windowRows, windowCap and windowGrowth shape
// RecentTimeline's probes. The first window covers the time in which the
// trail's latest windowRows changes were captured, at least firstWindow
// and at most windowCap; each next one is up to windowGrowth times longer.
// Below the newest changes a BRIN scan reads whole block ranges (128
// pages, a few thousand changes), so a window much narrower than a range
// costs about as much as one and pays it again for each window, while a
// wider one sorts more changes (query.pageThenHeaders): windowRows
// balances the two.
const (
	firstWindow  = time.Minute
	windowRows   = 1024
	windowCap    = time.Hour
	windowGrowth = 8
)

// DefaultSearchBudget is the time Timeline and RecentTimeline spend
// looking for a page before they return what they found (see
// Page.SearchedFrom), unless Audit.SearchBudget says otherwise.
const DefaultSearchBudget = 25 * time.Millisecond

// RecentTimeline returns the page Timeline returns for f, but a page cut
// short by the search budget is a result, not an error: for viewers that
// show a partial page and offer to search on.
//
// No btree index orders audit_changes by captured_at, so one query for a
// page without a narrow time range would sort every matching change.
// Instead RecentTimeline probes time windows back from the newest change
// (the first as long as the trail took to capture its latest thousand or
// so changes, between a minute and an hour; each next one up to eight
// times longer), each served by the captured_at BRIN index, and stops as
// soon as the page is full. A page of recent changes thus reads only
// recent rows.
//
// A filter that matches nothing recent would read the whole trail, so the
// search has a budget (Audit.SearchBudget): each window is sized, from the time
// the previous one took, to end within it, and when it is spent the page
// is returned as it is, with Page.SearchedFrom set to where the search
// stopped and Page.Next continuing from there. The pages of such a listing
// together hold exactly the changes of one sorted query. A filter on a
// correlation id, served by its own index, runs as one query.
func (a Audit) RecentTimeline(ctx context.Context, db DBTX, f Filter) (Page, error) {
	budget := a.SearchBudget
	if budget <= 0 {
		budget = DefaultSearchBudget
	}
	return a.recentTimeline(ctx, db, f, search{first: firstWindow, budget: budget})
}

// search shapes RecentTimeline's windows: the first one's least length,
// and the time after which no further window starts.
type search struct {
	first, budget time.Duration
}

func (a Audit) recentTimeline(ctx context.Context, db DBTX, f Filter, s search) (Page, error) {
	n, err := f.normalize()
	if err != nil {
		return Page{}, err
	}
	if n.correlationID != "" {
		return a.page(ctx, db, n, n.limit)
	}
	sp, err := a.span(ctx, db)
	if err != nil || sp.newest.IsZero() {
		return Page{}, err
	}
	newest, oldest := sp.newest, sp.oldest
	top := newest
	if !n.to.IsZero() && n.to.Before(top) {
		top = n.to
	}
	if n.after != nil && n.after.CapturedAt.Before(top) {
		top = n.after.CapturedAt
	}
	want := n.limit + 1
	got := make([]Change, 0, min(want, 256))
	win := n
	win.windowed = true
	if c := n.after; c != nil && (win.to.IsZero() || c.CapturedAt.Before(win.to)) {
		// Implied by the cursor, but only an explicit bound on
		// captured_at keeps the first window's BRIN scan from reading
		// everything newer than the cursor.
		win.to = c.CapturedAt
	}
	start := time.Now()
	for w := max(s.first, min(windowCap, newest.Sub(sp.recent))); ; {
		lo := top.Add(-w).Truncate(time.Microsecond)
		// A rest shorter than the window joins it: a window costs at
		// least a block range of the BRIN index, however short.
		final := !lo.After(oldest.Add(w)) || (!n.from.IsZero() && !lo.After(n.from.Add(w)))
		if !final {
			win.from = lo
		} else {
			win.from = n.from
		}
		t0 := time.Now()
		cs, err := a.list(ctx, db, win, want-len(got))
		if err != nil {
			return Page{}, err
		}
		got = append(got, cs...)
		if len(got) >= want || final {
			break
		}
		left := s.budget - time.Since(start)
		if left <= 0 {
			return partialPage(got, lo), nil
		}
		w = nextWindow(w, time.Since(t0), left, len(cs), want-len(got))
		win.to = lo.Add(-time.Microsecond)
		top = lo
	}
	p := Page{Changes: got}
	if len(got) > n.limit {
		p.Changes = got[:n.limit:n.limit]
		p.Next = CursorOf(p.Changes[n.limit-1])
	}
	return p, nil
}

// nextWindow sizes the window after one of length w that took took and
// found found changes, rest still wanted: up to windowGrowth times longer,
// or, when it found some, about as long as the rest needs at its rate
// (half again to spare, and no shorter than w); but, at the same speed,
// taking no more than half the budget left (the speed varies from window
// to window).
func nextWindow(w, took, left time.Duration, found, rest int) time.Duration {
	grow := float64(windowGrowth)
	if found > 0 {
		grow = min(grow, max(1, 1.5*float64(rest)/float64(found)))
	}
	if took > 0 {
		grow = min(grow, float64(left)/float64(2*took))
	}
	return max(time.Millisecond, time.Duration(float64(w)*max(grow, 0.5)))
}

// partialPage is the page of a search stopped at lo: the changes found
// (all newer than lo), and a cursor that continues strictly before lo.
func partialPage(got []Change, lo time.Time) Page {
	return Page{Changes: got, SearchedFrom: lo, Next: &Cursor{CapturedAt: lo, ID: 1}}
}

// trailSpan places RecentTimeline's windows: the captured_at of the
// newest and of the oldest change by id (zero times when there is none),
// and of the change windowRows ids before the newest (the oldest on a
// shorter trail). Ids follow capture order, so these bound captured_at
// closely; RecentTimeline uses them only to place its windows, never to
// drop a change.
type trailSpan struct {
	newest, oldest, recent time.Time
}

// span reads the trailSpan from the primary key index.
func (a Audit) span(ctx context.Context, db DBTX) (trailSpan, error) {
	s := a.schema()
	var nw, ol, re *time.Time
	err := db.QueryRow(ctx, `SELECT (SELECT captured_at FROM `+s+`.audit_changes ORDER BY id DESC LIMIT 1),
		(SELECT captured_at FROM `+s+`.audit_changes ORDER BY id LIMIT 1),
		(SELECT captured_at FROM `+s+`.audit_changes
			WHERE id <= (SELECT max(id) FROM `+s+`.audit_changes) - $1 ORDER BY id DESC LIMIT 1)`, windowRows).Scan(&nw, &ol, &re)
	if err != nil {
		return trailSpan{}, tlerr.Wrap(err, "read the span of the trail")
	}
	if nw == nil || ol == nil {
		return trailSpan{}, nil
	}
	sp := trailSpan{newest: nw.UTC(), oldest: ol.UTC(), recent: ol.UTC()}
	if re != nil {
		sp.recent = re.UTC()
	}
	return sp, nil
}

// list runs one listing query for a normalized filter: at most limit
// changes, newest first.
func (a Audit) list(ctx context.Context, db DBTX, n normalized, limit int) ([]Change, error) {
	q := &query{a: a}
	q.filter(n)
	rows, err := db.Query(ctx, q.sql(limit), q.args...)
	if err != nil {
		return nil, tlerr.Wrap(err, "list changes")
	}
	return collect(rows, min(limit, 256))
}

// Activity is what RecentActivity found among the latest changes.
type Activity struct {
	// Sample is the number of changes examined (at most the n asked for).
	Sample int64 `json:"sample"`
	// Since is the captured_at of the oldest change examined (zero when
	// there is none).
	Since time.Time `json:"since"`
	// Tables lists the tables changed in the sample, most changes first,
	// then by schema and name.
	Tables []TableActivity `json:"tables"`
}

// TableActivity is one table's share of the changes RecentActivity
// examined.
type TableActivity struct {
	// Table is the name in Filter.Table form ("public.users").
	Table  string `json:"table"`
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Changes counts the table's changes in the sample.
	Changes int64 `json:"changes"`
	// Latest is the captured_at of its newest change in the sample.
	Latest time.Time `json:"latest"`
}

// DefaultActivitySample is the number of latest changes RecentActivity
// examines when given n <= 0.
const DefaultActivitySample = 10000

// RecentActivity counts, per table, the latest n changes (by id, read
// backwards on the primary key index, so the cost does not grow with the
// trail): the "what has been busy lately" of a dashboard. n <= 0 means
// DefaultActivitySample; it is capped at MaxLimit*10.
func (a Audit) RecentActivity(ctx context.Context, db DBTX, n int) (Activity, error) {
	if n <= 0 {
		n = DefaultActivitySample
	}
	n = min(n, MaxLimit*10)
	rows, err := db.Query(ctx, `WITH s AS MATERIALIZED (
	SELECT c.table_schema, c.table_name, c.captured_at FROM `+a.schema()+`.audit_changes AS c ORDER BY c.id DESC LIMIT $1)
SELECT table_schema, table_name, count(*), max(captured_at),
	(SELECT count(*) FROM s), (SELECT min(captured_at) FROM s)
FROM s GROUP BY table_schema, table_name
ORDER BY count(*) DESC, table_schema COLLATE "C", table_name COLLATE "C"`, n)
	if err != nil {
		return Activity{}, tlerr.Wrap(err, "recent activity")
	}
	defer rows.Close()
	var act Activity
	for rows.Next() {
		var t TableActivity
		var since time.Time
		if err := rows.Scan(&t.Schema, &t.Name, &t.Changes, &t.Latest, &act.Sample, &since); err != nil {
			return Activity{}, tlerr.Wrap(err, "recent activity")
		}
		act.Since = since.UTC()
		t.Latest = t.Latest.UTC()
		t.Table = tableName{Schema: t.Schema, Name: t.Name}.String()
		act.Tables = append(act.Tables, t)
	}
	if err := rows.Err(); err != nil {
		return Activity{}, tlerr.Wrap(err, "recent activity")
	}
	return act, nil
}

// TableExists reports whether table ("users" or "schema.table", as
// Filter.Table) names an ordinary or partitioned table in the database,
// from the catalog (no privilege on the table is needed). A malformed
// name is a *FilterError.
func (a Audit) TableExists(ctx context.Context, db DBTX, table string) (bool, error) {
	t, err := parseTableName(table)
	if err != nil {
		return false, err
	}
	var ok bool
	err = db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
	JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
	WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))`, t.Schema, t.Name).Scan(&ok)
	if err != nil {
		return false, tlerr.Wrap(err, "look up table %s", t)
	}
	return ok, nil
}
