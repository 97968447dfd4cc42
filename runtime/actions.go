package threadline

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/threadline-go/threadline/internal/trailread"
)

// ActionSummary is the "why" of a change: the action its transaction
// recorded (RecordAction), in brief. Change.Action holds it; Transaction
// and Actions return the whole Action. Empty strings stand for SQL NULL.
type ActionSummary struct {
	// Name names the action, e.g. "order.refund".
	Name string `json:"name"`
	// Status is ActionOK or ActionError.
	Status string `json:"status"`
	// Verb, Category and Reason are the optional texts RecordAction was
	// given (ActionOptions: Verb, Category, Reason).
	Verb     string `json:"verb,omitempty"`
	Category string `json:"category,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// summaryOf returns the summary of a stored action.
func summaryOf(r trailread.ActionRow) *ActionSummary {
	return &ActionSummary{Name: r.Name, Status: r.Status, Verb: deref(r.Verb), Category: deref(r.Category), Reason: deref(r.Reason)}
}

// withActions fills Action in the changes of cs linked to an action, with
// one query for all of them (none when no change is linked).
func (a Audit) withActions(ctx context.Context, db DBTX, cs []Change) error {
	var ids []int64
	for i := range cs {
		if id := cs[i].ActionID; id != nil && (len(ids) == 0 || ids[len(ids)-1] != *id) {
			ids = append(ids, *id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := a.reader().ActionSummaries(ctx, db, ids)
	if err != nil {
		return err
	}
	byID := make(map[int64]*ActionSummary, len(rows))
	for id, r := range rows {
		byID[id] = summaryOf(r)
	}
	for i := range cs {
		if id := cs[i].ActionID; id != nil {
			if s := byID[*id]; s != nil {
				v := *s
				cs[i].Action = &v
			}
		}
	}
	return nil
}

// DefaultActionLimit is the number of actions an Actions page holds when
// no positive limit is given.
const DefaultActionLimit = 100

// ActionFilter selects recorded actions (audit_actions). The zero
// ActionFilter selects every action. Conditions combine with AND. Results
// are ordered newest first: by action id descending, the order they were
// recorded in.
type ActionFilter struct {
	// Name restricts to actions of this name ("order.refund"), exactly.
	Name string
	// Category restricts to actions of this category, exactly.
	Category string
	// Status restricts to ActionOK or ActionError; "" selects both.
	Status string
	// Actor restricts to actions whose actor contains this actor (JSON
	// containment on audit_actions.actor_ref).
	Actor *ActorRef
	// From and To bound inserted_at, both inclusive; the zero time leaves
	// that side open. From after To is an error.
	From, To time.Time
	// Reason restricts to actions whose reason contains this text,
	// case-insensitively (no wildcard: % and _ match themselves).
	Reason string
	// CorrelationID restricts to actions recorded with this correlation
	// id (audit_actions.correlation_id, served by its index).
	CorrelationID string
	// Limit is the page size: zero or negative means DefaultActionLimit;
	// values above MaxLimit are lowered to MaxLimit.
	Limit int
	// After continues a listing: only actions with an id below it are
	// returned. ActionPage.Next is the After of the following page.
	After int64
}

// ActionPage is one page of actions, newest first. Its JSON form holds
// "actions" (never null) and "next" (0 on the last page).
type ActionPage struct {
	// Actions holds at most the filter's limit of actions, each with
	// its TransactionID (0 when no transaction is linked any more).
	Actions []Action `json:"actions"`
	// Next continues the listing (ActionFilter.After); 0 on the last
	// page.
	Next int64 `json:"next"`
	// SearchedFrom is set when Actions spent its search budget before it
	// filled the page: actions with a lower id were not searched yet, and
	// Next continues there. Zero otherwise.
	SearchedFrom int64 `json:"searched_from,omitempty"`
}

// normalize validates f and returns it in the read engine's form.
func (f ActionFilter) normalize() (trailread.ActionFilter, error) {
	n := trailread.ActionFilter{Name: f.Name, Category: f.Category, Status: f.Status, Reason: f.Reason, From: f.From, To: f.To, After: f.After}
	for _, c := range []struct {
		key, v string
		max    int
	}{{"name", f.Name, MaxActionNameBytes}, {"category", f.Category, MaxActionNameBytes}, {"reason", f.Reason, MaxActionTextBytes}} {
		if len(c.v) > c.max {
			return n, filterErrorf(c.key, "%d bytes, more than %d", len(c.v), c.max)
		}
		if !utf8.ValidString(c.v) || strings.IndexByte(c.v, 0) >= 0 {
			return n, filterErrorf(c.key, "not valid text")
		}
	}
	if f.Status != "" && f.Status != ActionOK && f.Status != ActionError {
		return n, filterErrorf("status", "%q: want %s or %s", f.Status, ActionOK, ActionError)
	}
	if f.Actor != nil {
		s, err := f.Actor.Canonical()
		if err != nil {
			return n, filterErrorf("actor", "%v", err)
		}
		n.Actor = s
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.From.After(f.To) {
		return n, filterErrorf("from", "from (%s) is after to (%s)", f.From.Format(time.RFC3339Nano), f.To.Format(time.RFC3339Nano))
	}
	if f.CorrelationID != "" {
		c, err := NormalizeCorrelationID(f.CorrelationID)
		if err != nil {
			return n, filterErrorf("correlation_id", "%s", strings.TrimPrefix(err.Error(), ErrInvalidAttribution.Error()+": "))
		}
		n.CorrelationID = c
	}
	if f.After < 0 {
		return n, filterErrorf("after", "%d: want a positive action id", f.After)
	}
	n.Limit = clampLimit(f.Limit, DefaultActionLimit)
	return n, nil
}

// Actions returns one page of the recorded actions matching f, newest
// first (by id), at most f.Limit of them, each with the transaction that
// recorded it. Pass ActionPage.Next as f.After for the following page. An
// invalid filter is a *FilterError.
//
// No index serves the filters but the correlation id's: Actions reads
// windows of ids back from the newest action (or f.After), each a range
// of the primary key, until the page is full, within the search budget
// (DefaultSearchBudget). When the budget is spent first, it returns the
// page found so far (ActionPage.SearchedFrom set, Next continuing there)
// with an error wrapping ErrSearchBudgetSpent, as Timeline does.
func (a Audit) Actions(ctx context.Context, db DBTX, f ActionFilter) (ActionPage, error) {
	n, err := f.normalize()
	if err != nil {
		return ActionPage{}, err
	}
	rows, searchedFrom, err := a.reader().Actions(ctx, db, n, trailread.SearchBudget(ctx))
	if err != nil {
		return ActionPage{}, err
	}
	p := ActionPage{Actions: make([]Action, 0, min(len(rows), n.Limit))}
	for i, r := range rows {
		if i == n.Limit {
			p.Next = p.Actions[i-1].ID
			break
		}
		act := Action{ID: r.ID, Name: r.Name, Status: r.Status, Verb: deref(r.Verb), Category: deref(r.Category),
			Reason: deref(r.Reason), Comment: deref(r.Comment), CorrelationID: deref(r.CorrelationID),
			RequestID: deref(r.RequestID), JobID: deref(r.JobID), InsertedAt: r.InsertedAt.UTC()}
		act.Actor, _ = decodeActor(r.Actor, "")
		if r.TransactionID != nil {
			act.TransactionID = *r.TransactionID
		}
		p.Actions = append(p.Actions, act)
	}
	if searchedFrom > 0 {
		p.Next, p.SearchedFrom = searchedFrom, searchedFrom
		return p, fmt.Errorf("%w: %d actions found, searched back to action %d; pass ActionPage.Next as ActionFilter.After to search on",
			ErrSearchBudgetSpent, len(p.Actions), searchedFrom)
	}
	return p, nil
}
