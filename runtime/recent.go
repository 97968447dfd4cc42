package threadline

import (
	"context"
	"time"

	"github.com/threadline-go/threadline/internal/tlerr"
)

// Reads for interactive viewers: the newest page of a large trail without
// sorting all of it, and which tables were active lately. Both read only
// recent rows through indexes, whatever the size of the trail.

// firstWindow and windowGrowth shape RecentTimeline's probes: the first
// window covers one minute before the newest change, each next one up to
// windowGrowth times longer.
const (
	firstWindow  = time.Minute
	windowGrowth = 8
)

// DefaultSearchBudget is the time RecentTimeline spends looking for a page
// before it returns what it found (see Page.SearchedFrom), unless
// Audit.SearchBudget says otherwise.
const DefaultSearchBudget = 25 * time.Millisecond

// RecentTimeline returns the same changes as Timeline for f, reading them
// differently: no btree index orders audit_changes by captured_at, so a
// Timeline page without a time range sorts every matching change. Instead
// RecentTimeline probes time windows back from the newest change (one
// minute, then up to eight times longer each time), each served by the
// captured_at BRIN index, and stops as soon as the page is full. A page of
// recent changes thus reads only recent rows.
//
// A filter that matches nothing recent would read the whole trail, so the
// search has a budget (Audit.SearchBudget): each window is sized, from the time
// the previous one took, to end within it, and when it is spent the page
// is returned as it is, with Page.SearchedFrom set to where the search
// stopped and Page.Next continuing from there. The pages of such a listing
// together hold exactly Timeline's changes. A filter on a correlation id,
// served by its own index, runs as one Timeline query.
func (a Audit) RecentTimeline(ctx context.Context, db DBTX, f Filter) (Page, error) {
	budget := a.SearchBudget
	if budget <= 0 {
		budget = DefaultSearchBudget
	}
	return a.recentTimeline(ctx, db, f, search{first: firstWindow, budget: budget})
}

// search shapes RecentTimeline's windows: the first one's length, and the
// time after which no further window starts.
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
	newest, oldest, err := a.span(ctx, db)
	if err != nil || newest.IsZero() {
		return Page{}, err
	}
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
	for w := s.first; ; {
		lo := top.Add(-w).Truncate(time.Microsecond)
		final := !lo.After(oldest) || (!n.from.IsZero() && !lo.After(n.from))
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
		w = nextWindow(w, time.Since(t0), left)
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

// nextWindow sizes the window after one of length w that took took: up
// to windowGrowth times longer, but, at the same rate, taking no more than
// half the budget left (the rate varies from window to window).
func nextWindow(w, took, left time.Duration) time.Duration {
	grow := float64(windowGrowth)
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

// span returns the captured_at of the newest and of the oldest change by
// id (the primary key index), zero times when there is none. Ids follow
// capture order, so these bound captured_at closely; RecentTimeline uses
// them only to place its windows, never to drop a change.
func (a Audit) span(ctx context.Context, db DBTX) (newest, oldest time.Time, err error) {
	s := a.schema()
	var nw, ol *time.Time
	err = db.QueryRow(ctx, `SELECT (SELECT captured_at FROM `+s+`.audit_changes ORDER BY id DESC LIMIT 1),
		(SELECT captured_at FROM `+s+`.audit_changes ORDER BY id LIMIT 1)`).Scan(&nw, &ol)
	if err != nil {
		return newest, oldest, tlerr.Wrap(err, "read the span of the trail")
	}
	if nw == nil || ol == nil {
		return newest, oldest, nil
	}
	return nw.UTC(), ol.UTC(), nil
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
