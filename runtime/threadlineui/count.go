package threadlineui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/trailread"
	threadline "github.com/threadline-go/threadline/runtime"
)

// Match counts of the changes and search pages: exact up to countLimit
// when counting finishes within Options.CountBudget, else "more than
// countLimit", or, when the count did not finish in time, the least
// number the page knows of.

const (
	// countLimit is the most matches a count counts.
	countLimit = 1000
	// defaultCountBudget is Options.CountBudget's default.
	defaultCountBudget = 10 * time.Millisecond
)

// countView is a listing's match count as the pages show it.
type countView struct {
	// N is the count: exact when Exact, more than N when More, else at
	// least N (the count ran out of time).
	N           int64
	Exact, More bool
	// Stopped is set when the listing's search spent its budget: no count
	// was tried, N is what the page found.
	Stopped bool
	// Budget is the time the count had.
	Budget time.Duration
}

// Text renders the count: "4 matching changes", "more than 1,000
// matching changes", "at least 50 matching changes (counting stopped
// after 10 ms)", "at least 3 matching changes (not all searched yet)".
func (c countView) Text() string {
	noun := " matching changes"
	if c.N == 1 && !c.More {
		noun = " matching change"
	}
	switch {
	case c.Exact:
		return thousands(c.N) + noun
	case c.More:
		return "more than " + thousands(c.N) + noun
	case c.Stopped:
		return "at least " + thousands(c.N) + noun + " (not all searched yet)"
	}
	return fmt.Sprintf("at least %s%s (counting stopped after %d ms)", thousands(c.N), noun, c.Budget.Milliseconds())
}

// thousands renders n with a comma every three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// countMatches counts the changes of filter f (its cursor ignored) and
// the conditions cond adds (none when nil), at most countLimit of them,
// within the count budget. p is the listing's page of f: a first page
// that holds every match is its own count; a page whose search spent its
// budget is not counted (the count would read at least as much), and the
// number of matches it lists is the least count, as when counting runs
// out of time.
func (h *handler) countMatches(ctx context.Context, tx pgx.Tx, f trailread.Filter, cond func(*trailread.Query), p trailread.Page[threadline.Change]) (countView, error) {
	first, shown := f.After == nil, len(p.Changes)
	complete := p.Next == nil && p.SearchedFrom.IsZero()
	budget := h.o.CountBudget
	if budget <= 0 {
		budget = defaultCountBudget
	}
	// statement_timeout counts whole milliseconds.
	ms := max(1, (budget+time.Millisecond-1)/time.Millisecond)
	budget = ms * time.Millisecond
	switch {
	case first && complete:
		return countView{N: int64(shown), Exact: true, Budget: budget}, nil
	case !p.SearchedFrom.IsZero():
		return countView{N: int64(shown), Stopped: true, Budget: budget}, nil
	}
	f.After = nil
	q := (trailread.Trail{Schema: h.o.Audit.Schema}).NewQuery()
	q.Filter(f)
	if cond != nil {
		cond(q)
	}
	sql := q.CountSQL(countLimit + 1)
	// A savepoint, so that the statement timeout ends with it and a count
	// it cancels leaves the page's transaction usable.
	if _, err := tx.Exec(ctx, "SAVEPOINT threadline_count; SET LOCAL statement_timeout = "+strconv.FormatInt(int64(ms), 10)); err != nil {
		return countView{}, fmt.Errorf("count the matches: %w", err)
	}
	var n int64
	err := tx.QueryRow(ctx, sql, q.Args...).Scan(&n)
	if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT threadline_count"); rerr != nil && err == nil {
		err = rerr
	}
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "57014" && ctx.Err() == nil:
		return countView{N: int64(shown), Budget: budget}, nil
	case err != nil:
		return countView{}, fmt.Errorf("count the matches: %w", err)
	case n > countLimit:
		return countView{N: countLimit, More: true, Budget: budget}, nil
	}
	return countView{N: n, Exact: true, Budget: budget}, nil
}

// readFilter is the read engine's form of a filter the viewer validated
// (parseFilter), as the runtime's Timeline reads it.
func readFilter(f threadline.Filter) (trailread.Filter, error) {
	var n trailread.Filter
	if f.Table != "" {
		t, err := contract.ParseQualifiedName(f.Table, "public")
		if err != nil {
			return n, err
		}
		n.Table = &t
	}
	if f.Actor != nil {
		s, err := f.Actor.Canonical()
		if err != nil {
			return n, err
		}
		n.Actor = s
	}
	n.Op, n.From, n.To, n.Column = string(f.Op), f.From, f.To, f.Column
	if f.CorrelationID != "" {
		c, err := threadline.NormalizeCorrelationID(f.CorrelationID)
		if err != nil {
			return n, err
		}
		n.CorrelationID = c
	}
	n.RequestID = strings.TrimSpace(f.RequestID)
	if f.After != nil {
		n.After = &trailread.Cursor{CapturedAt: f.After.CapturedAt, ID: f.After.ID}
	}
	return n, nil
}

// readPage is the read engine's form of a page of Timeline.
func readPage(p threadline.Page) trailread.Page[threadline.Change] {
	out := trailread.Page[threadline.Change]{Changes: p.Changes, SearchedFrom: p.SearchedFrom}
	if p.Next != nil {
		out.Next = &trailread.Cursor{CapturedAt: p.Next.CapturedAt, ID: p.Next.ID}
	}
	return out
}
