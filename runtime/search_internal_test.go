package threadline

import (
	"context"
	"time"
)

// RecentTimelineSearch runs RecentTimeline with a first window and a
// search budget of the test's choosing (tests cannot depend on the speed
// of the machine).
func (a Audit) RecentTimelineSearch(ctx context.Context, db DBTX, f Filter, first, budget time.Duration) (Page, error) {
	return a.recentTimeline(ctx, db, f, search{first: first, budget: budget})
}
