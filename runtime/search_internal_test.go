package threadline

import (
	"context"
	"time"
)

// RecentTimelineSearch runs RecentTimeline with a least first window and
// a search budget of the test's choosing (tests cannot depend on the speed
// of the machine).
func (a Audit) RecentTimelineSearch(ctx context.Context, db DBTX, f Filter, first, budget time.Duration) (Page, error) {
	return a.recentTimeline(ctx, db, f, search{first: first, budget: budget})
}

// SortedTimeline returns the page of f as one query sorting every
// matching change would (the reference the windowed search must equal).
func (a Audit) SortedTimeline(ctx context.Context, db DBTX, f Filter) (Page, error) {
	n, err := f.normalize()
	if err != nil {
		return Page{}, err
	}
	return a.page(ctx, db, n, n.limit)
}
