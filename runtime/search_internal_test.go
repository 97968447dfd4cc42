package threadline

import (
	"context"
	"time"

	"github.com/threadline-go/threadline/internal/trailread"
)

// SearchTimeline runs Timeline's search with a least first window and a
// search budget of the test's choosing (tests cannot depend on the speed
// of the machine), returning a page the budget cut short without error.
func (a Audit) SearchTimeline(ctx context.Context, db DBTX, f Filter, first, budget time.Duration) (Page, error) {
	n, err := f.normalize()
	if err != nil {
		return Page{}, err
	}
	p, err := a.reader().Search(ctx, db, n, trailread.Search{First: first, Budget: budget})
	return pageOf(p), err
}

// SortedTimeline returns the page of f as one query sorting every
// matching change would (the reference the windowed search must equal).
func (a Audit) SortedTimeline(ctx context.Context, db DBTX, f Filter) (Page, error) {
	n, err := f.normalize()
	if err != nil {
		return Page{}, err
	}
	p, err := a.reader().Page(ctx, db, n, n.Limit)
	return pageOf(p), err
}
