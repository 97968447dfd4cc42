package threadline

import (
	"errors"
	"fmt"
	"time"

	"github.com/threadline-go/threadline/internal/trailread"
)

// DefaultSearchBudget (25 ms) is the time Timeline (and a generated
// timeline) spends looking for a page before it returns what it found,
// with ErrSearchBudgetSpent.
const DefaultSearchBudget = trailread.DefaultSearchBudget

// ErrSearchBudgetSpent is matched (errors.Is) by the error Timeline (and
// a generated timeline) returns with a page its search budget cut short:
// the page holds the changes found, all newer than Page.SearchedFrom,
// and Page.Next continues the search there. It is not a failure of the
// read; it says the page is not known to be complete.
var ErrSearchBudgetSpent = errors.New("threadline: search budget spent before the page was full")

// budgetError returns the error that goes with p when its search budget
// was spent (Page.SearchedFrom set), nil otherwise.
func (p Page) budgetError() error {
	if p.SearchedFrom.IsZero() {
		return nil
	}
	return fmt.Errorf("%w: %d changes found, searched back to %s; pass the page's cursor as Filter.After to search on",
		ErrSearchBudgetSpent, len(p.Changes), p.SearchedFrom.UTC().Format(time.RFC3339Nano))
}

// ConvertPage types a Timeline page for generated code: it applies
// convert to the changes of p and returns them with p.Next. err is
// Timeline's: any error but ErrSearchBudgetSpent is returned alone; with
// ErrSearchBudgetSpent the changes found and the cursor that continues
// the search are returned along with it.
func ConvertPage[T any](p Page, err error, convert func(Change) (T, error)) ([]T, *Cursor, error) {
	if err != nil && !errors.Is(err, ErrSearchBudgetSpent) {
		return nil, nil, err
	}
	out, cerr := ConvertChanges(p.Changes, convert)
	if cerr != nil {
		return nil, nil, cerr
	}
	return out, p.Next, err
}
