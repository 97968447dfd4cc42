package trailread

import (
	"context"
	"time"

	"github.com/threadline-go/threadline/internal/tlerr"
)

// The budgeted search: the newest page of a large trail without sorting
// all of it. It reads only recent rows through indexes, whatever the size
// of the trail.

// firstWindow, windowRows, windowCap and windowGrowth shape
// Search's probes. The first window covers the time in which the
// trail's latest windowRows changes were captured, at least firstWindow
// and at most windowCap; each next one is up to windowGrowth times longer.
// Below the newest changes a BRIN scan reads whole block ranges (128
// pages, a few thousand changes), so a window much narrower than a range
// costs about as much as one and pays it again for each window, while a
// wider one sorts more changes (Query.pageThenHeaders): windowRows
// balances the two.
const (
	firstWindow  = time.Minute
	windowRows   = 1024
	windowCap    = time.Hour
	windowGrowth = 8
)

// DefaultSearchBudget is the time a search spends looking for a page
// before it returns what it found (see Page.SearchedFrom): the runtime's
// Timeline and every generated timeline search with it.
const DefaultSearchBudget = 25 * time.Millisecond

// budgetKey is the context key of WithSearchBudget.
type budgetKey struct{}

// WithSearchBudget returns ctx carrying the search budget of the
// timelines read with it: the viewer's own (threadlineui.Options), and
// tests', which cannot depend on the speed of the machine. Applications
// have no way to set it: their timelines search within
// DefaultSearchBudget.
func WithSearchBudget(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, budgetKey{}, d)
}

// SearchBudget returns the search budget ctx carries (WithSearchBudget),
// DefaultSearchBudget when it carries none or one that is not positive.
func SearchBudget(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(budgetKey{}).(time.Duration); ok && d > 0 {
		return d
	}
	return DefaultSearchBudget
}

// Search shapes a search's windows: the first one's least length
// (FirstWindow for every read but tests'), and the time after which no
// further window starts.
type Search struct {
	First, Budget time.Duration
	// Cond, when set, adds conditions of the caller's to each window's
	// query (Query.Cond), on the changes (c) only: the viewer's text
	// search.
	Cond func(q *Query)
}

// FirstWindow is the least length of a search's first window.
const FirstWindow = firstWindow

// Search returns the page of f, newest first, as one sorted query would
// return it, without sorting every matching change.
//
// No btree index orders audit_changes by captured_at, so one query for a
// page without a narrow time range would sort every matching change.
// Instead Search probes time windows back from the newest change (or
// from f.To, or the cursor: the first as long as the trail took to
// capture its latest thousand or so changes, between a minute and an
// hour; each next one up to eight times longer), each served by the
// captured_at BRIN index, and stops as soon as the page is full. A page
// of recent changes thus reads only recent rows.
//
// A filter that matches nothing recent would read the whole trail, so the
// search has a budget (s.Budget): each window is sized, from the time the
// previous one took, to end within it, and when it is spent the page is
// returned as it is, with Page.SearchedFrom set to where the search
// stopped and Page.Next continuing from there. The pages of such a
// listing together hold exactly the changes of one sorted query.
func (r Reader[C]) Search(ctx context.Context, db DB, n Filter, s Search) (Page[C], error) {
	sp, err := r.span(ctx, db)
	if err != nil || sp.newest.IsZero() {
		return Page[C]{}, err
	}
	newest, oldest := sp.newest, sp.oldest
	top := newest
	if !n.To.IsZero() && n.To.Before(top) {
		top = n.To
	}
	if n.After != nil && n.After.CapturedAt.Before(top) {
		top = n.After.CapturedAt
	}
	want := n.Limit + 1
	got := make([]C, 0, min(want, 256))
	win := n
	win.windowed = true
	if c := n.After; c != nil && (win.To.IsZero() || c.CapturedAt.Before(win.To)) {
		// Implied by the cursor, but only an explicit bound on
		// captured_at keeps the first window's BRIN scan from reading
		// everything newer than the cursor.
		win.To = c.CapturedAt
	}
	start := time.Now()
	for w := max(s.First, min(windowCap, newest.Sub(sp.recent))); ; {
		lo := top.Add(-w).Truncate(time.Microsecond)
		// A rest shorter than the window joins it: a window costs at
		// least a block range of the BRIN index, however short.
		final := !lo.After(oldest.Add(w)) || (!n.From.IsZero() && !lo.After(n.From.Add(w)))
		if !final {
			win.From = lo
		} else {
			win.From = n.From
		}
		t0 := time.Now()
		cs, err := r.list(ctx, db, win, want-len(got), s.Cond)
		if err != nil {
			return Page[C]{}, err
		}
		got = append(got, cs...)
		if len(got) >= want || final {
			break
		}
		left := s.Budget - time.Since(start)
		if left <= 0 {
			return partialPage(got, lo), nil
		}
		w = nextWindow(w, time.Since(t0), left, len(cs), want-len(got))
		win.To = lo.Add(-time.Microsecond)
		top = lo
	}
	p := Page[C]{Changes: got}
	if len(got) > n.Limit {
		p.Changes = got[:n.Limit:n.Limit]
		c := r.Cursor(p.Changes[n.Limit-1])
		p.Next = &c
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
func partialPage[C any](got []C, lo time.Time) Page[C] {
	return Page[C]{Changes: got, SearchedFrom: lo, Next: &Cursor{CapturedAt: lo, ID: 1}}
}

// trailSpan places Search's windows: the captured_at of the
// newest and of the oldest change by id (zero times when there is none),
// and of the change windowRows ids before the newest (the oldest on a
// shorter trail). Ids follow capture order, so these bound captured_at
// closely; Search uses them only to place its windows, never to
// drop a change.
type trailSpan struct {
	newest, oldest, recent time.Time
}

// span reads the trailSpan from the primary key index.
func (t Trail) span(ctx context.Context, db DB) (trailSpan, error) {
	s := t.Quoted()
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

// list is List with the caller's conditions cond (none when nil).
func (r Reader[C]) list(ctx context.Context, db DB, f Filter, limit int, cond func(q *Query)) ([]C, error) {
	if cond == nil {
		return r.List(ctx, db, f, limit)
	}
	q := r.NewQuery()
	q.Filter(f)
	cond(q)
	return r.Run(ctx, db, q, limit, "list changes")
}
