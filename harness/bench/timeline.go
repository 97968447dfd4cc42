package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	threadline "github.com/threadline-go/threadline/runtime"
)

// timelinePageSize is the page the timeline rows measure (SPEC §13).
const timelinePageSize = 100

// seededRow and seededKey type the seeded images as a generated package
// would (its Row, Key and ChangedFrom types).
type seededRow struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Amount int64  `json:"amount"`
	Status string `json:"status"`
}

type seededKey struct {
	ID int64 `json:"id"`
}

// typedChange types one seeded change, as a generated newXChange does.
func typedChange(c threadline.Change) (threadline.TypedChange[seededRow, seededKey, seededRow], error) {
	return threadline.DecodeChange[seededRow, seededKey, seededRow](c)
}

// timelineRead reads one page for f and returns how many changes it
// holds and whether the search budget cut it short.
type timelineRead func(ctx context.Context, f threadline.Filter) (n int, spent bool, err error)

// timelines measures the first timeline page of 100 changes of one random
// table on the seeded trail, with a random 1-hour range and with none:
// untyped (Audit.Timeline) and typed as a generated timeline types it
// (Timeline, then ConvertPage with DecodeChange). For reference it also
// measures both pages read as one sorted query (the first page of
// Audit.Changes), as Timeline read them before it searched windows: few
// samples without a range, where that query sorts the table's changes.
func (r *runner) timelines(ctx context.Context, pool *pgxpool.Pool, samples int) ([]Result, error) {
	untyped, typed, sorted := timelineReads(pool)
	rows := []timelineRow{
		{name: "timeline page of 100, one table, 1-hour window", read: untyped, window: true, samples: samples},
		{name: "typed timeline page of 100, one table, 1-hour window", read: typed, window: true, samples: samples},
		{name: "page of 100, one table, 1-hour window, as one sorted query (before)", read: sorted, window: true, samples: samples,
			target: "reference: Timeline before"},
		{name: "timeline page of 100, one table, no time range", read: untyped, samples: samples},
		{name: "typed timeline page of 100, one table, no time range", read: typed, samples: samples},
		{name: "page of 100, one table, no time range, as one sorted query (before)", read: sorted, samples: r.o.Rounds,
			target: "reference: Timeline before"},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range r.o.Rounds {
		sides := make([]func() error, len(rows))
		for i := range rows {
			sides[i] = func() error { return rows[i].sample(ctx, rng, r.o.Rounds) }
		}
		if err := interleave(round, sides...); err != nil {
			return nil, err
		}
	}
	var out []Result
	for _, row := range rows {
		out = append(out, row.result(r.o.AuditRows))
	}
	return out, nil
}

// timelineReads returns the reads timelines compares, on the default
// audit schema.
func timelineReads(pool *pgxpool.Pool) (untyped, typed, sorted timelineRead) {
	audit := threadline.Audit{}
	untyped = func(ctx context.Context, f threadline.Filter) (int, bool, error) {
		p, err := audit.Timeline(ctx, pool, f)
		return budgetSpent(len(p.Changes), err)
	}
	typed = func(ctx context.Context, f threadline.Filter) (int, bool, error) {
		p, err := audit.Timeline(ctx, pool, f)
		cs, _, err := threadline.ConvertPage(p, err, typedChange)
		return budgetSpent(len(cs), err)
	}
	sorted = func(ctx context.Context, f threadline.Filter) (int, bool, error) {
		n := 0
		for _, err := range audit.Changes(ctx, pool, f) {
			if err != nil {
				return n, false, err
			}
			if n++; n == f.Limit {
				break
			}
		}
		return n, false, nil
	}
	return untyped, typed, sorted
}

// timelineRow is one measured read, sampled over several rounds.
type timelineRow struct {
	name    string
	read    timelineRead
	window  bool
	samples int    // in all rounds
	target  string // "p50 <= 10 ms" when empty
	// ds holds every sample, p50s each round's median; spent counts the
	// samples the budget cut short.
	ds    []time.Duration
	p50s  []float64
	spent int
}

// sample runs one round of the row's samples.
func (row *timelineRow) sample(ctx context.Context, rng *rand.Rand, rounds int) error {
	ds, spent, err := sampleTimeline(ctx, row.read, max(1, row.samples/rounds), func() threadline.Filter { return timelineFilter(rng, row.window) })
	if err != nil {
		return fmt.Errorf("%s: %w", row.name, err)
	}
	row.ds = append(row.ds, ds...)
	row.p50s = append(row.p50s, float64(percentile(ds, 0.5).Microseconds())/1000)
	row.spent += spent
	return nil
}

// result reports the median of the rounds' p50s, their spread, the p99
// of all samples and how many pages the budget cut short.
func (row *timelineRow) result(auditRows int) Result {
	s := summarize(row.p50s)
	target := row.target
	if target == "" {
		target = "p50 <= 10 ms"
	}
	return Result{Workload: "lookup", Metric: fmt.Sprintf("%s, %d audit rows", row.name, auditRows),
		Ratio: fmt.Sprintf("p50 %.2f ms", s.median),
		Spread: fmt.Sprintf("rounds' p50 %.2f–%.2f ms; p99 %s; budget spent %d/%d",
			s.lo, s.hi, ms(percentile(row.ds, 0.99)), row.spent, len(row.ds)),
		Target: target}
}

// timelineFilter is one random table's first page, over a random hour of
// the seeded span when window is set.
func timelineFilter(rng *rand.Rand, window bool) threadline.Filter {
	f := threadline.Filter{Table: fmt.Sprintf("public.table_%d", rng.IntN(seedTables)), Limit: timelinePageSize}
	if window {
		f.From = seedStart.Add(time.Duration(rng.Int64N(int64(seedSpan - time.Hour))))
		f.To = f.From.Add(time.Hour)
	}
	return f
}

// sampleTimeline times samples reads (after a fifth as many warm-up
// reads, at least one) and counts the pages the budget cut short. An
// empty page is an error: every table changes every hour.
func sampleTimeline(ctx context.Context, read timelineRead, samples int, filter func() threadline.Filter) ([]time.Duration, int, error) {
	var ds []time.Duration
	spent := 0
	warm := max(1, samples/5)
	for i := 0; i < samples+warm; i++ {
		f := filter()
		start := time.Now()
		n, cut, err := read(ctx, f)
		d := time.Since(start)
		if err != nil {
			return nil, 0, err
		}
		if n == 0 && !cut {
			return nil, 0, fmt.Errorf("%+v: an empty page", f)
		}
		if i >= warm {
			ds = append(ds, d)
			if cut {
				spent++
			}
		}
	}
	return ds, spent, nil
}

// budgetSpent turns Timeline's ErrSearchBudgetSpent into a flag.
func budgetSpent(n int, err error) (int, bool, error) {
	if errors.Is(err, threadline.ErrSearchBudgetSpent) {
		return n, true, nil
	}
	return n, false, err
}
