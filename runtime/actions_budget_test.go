package threadline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/internal/trailread"
	threadline "github.com/threadline-go/threadline/runtime"
)

// TestActionsSearchBudget: a filter that matches only an old action reads
// windows of ids within the search budget; a spent budget returns the
// page so far with ErrSearchBudgetSpent and a Next that searches on, and
// following Next finds exactly the matching actions.
func TestActionsSearchBudget(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	db.Exec(t, `INSERT INTO threadline.audit_actions (name, reason) VALUES ('early.one', 'needle')`)
	db.Exec(t, `INSERT INTO threadline.audit_actions (name, reason) SELECT 'bulk.' || g, 'hay' FROM generate_series(1, 20000) AS g`)
	db.Exec(t, `INSERT INTO threadline.audit_actions (name, reason) VALUES ('late.one', 'needle')`)

	// A generous budget (the default, 25 ms, depends on the machine's
	// load): one call, both needles, newest first.
	p, err := audit.Actions(trailread.WithSearchBudget(ctx, time.Minute), db.Pool, threadline.ActionFilter{Reason: "needle"})
	if err != nil || len(p.Actions) != 2 || p.Actions[0].Name != "late.one" || p.Actions[1].Name != "early.one" || p.Next != 0 || p.SearchedFrom != 0 {
		t.Fatalf("within the budget: %+v %v", p, err)
	}
	// A budget spent after the first window: pages that search on.
	tight := trailread.WithSearchBudget(ctx, time.Nanosecond)
	var names []string
	f := threadline.ActionFilter{Reason: "needle"}
	for calls := 0; ; calls++ {
		if calls > 20 {
			t.Fatal("no end after 20 calls")
		}
		p, err := audit.Actions(tight, db.Pool, f)
		for _, a := range p.Actions {
			names = append(names, a.Name)
		}
		if err != nil {
			if !errors.Is(err, threadline.ErrSearchBudgetSpent) || p.SearchedFrom == 0 || p.Next != p.SearchedFrom {
				t.Fatalf("call %d: %+v %v", calls, p, err)
			}
			f.After = p.Next
			continue
		}
		if p.Next != 0 {
			t.Fatalf("call %d: a complete page with a next: %+v", calls, p)
		}
		if calls == 0 {
			t.Fatal("the tight budget was never spent")
		}
		break
	}
	if len(names) != 2 || names[0] != "late.one" || names[1] != "early.one" {
		t.Fatalf("found %v", names)
	}
}
