package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	threadline "github.com/threadline-go/threadline/runtime"
)

// export measures streaming export throughput and the Go heap while it
// runs, at two sizes: memory must stay flat as rows grow.
func (r *runner) export(ctx context.Context) ([]Result, error) {
	large := 1_000_000
	if r.o.Quick {
		large = 100_000
	}
	small := large / 10
	pool, _, err := r.seedAudit(ctx, "export", large)
	if err != nil {
		return nil, err
	}
	audit := threadline.Audit{}
	var out []Result
	for _, format := range []threadline.ExportFormat{threadline.ExportNDJSON, threadline.ExportCSV} {
		for _, n := range []int{small, large} {
			// The seeded ids run from 1: export the oldest n changes.
			f := threadline.Filter{To: seedStart.Add(time.Duration(float64(seedSpan) * float64(n) / float64(large)))}
			var rates, peaks []float64
			var rows int64
			for i := 0; i < r.o.Rounds; i++ {
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				var peak atomic.Uint64
				done := make(chan struct{})
				go func() { // sample the heap while the export runs
					t := time.NewTicker(5 * time.Millisecond)
					defer t.Stop()
					var m runtime.MemStats
					for {
						select {
						case <-done:
							return
						case <-t.C:
							runtime.ReadMemStats(&m)
							if m.HeapAlloc > peak.Load() {
								peak.Store(m.HeapAlloc)
							}
						}
					}
				}()
				start := time.Now()
				res, err := audit.Export(ctx, pool, io.Discard, threadline.ExportOptions{Format: format, Filter: f})
				close(done)
				if err != nil {
					return nil, fmt.Errorf("export %s: %w", format, err)
				}
				rows = res.Rows
				rates = append(rates, float64(res.Rows)/time.Since(start).Seconds())
				over := float64(0)
				if p := peak.Load(); p > base.HeapAlloc {
					over = float64(p - base.HeapAlloc)
				}
				peaks = append(peaks, over/(1<<20))
			}
			s := summarize(rates)
			out = append(out, Result{
				Workload: "export", Metric: fmt.Sprintf("%s, %d rows to io.Discard", format, rows),
				Ratio: fmt.Sprintf("%.0f rows/s", s.median), Spread: fmt.Sprintf("peak heap +%.1f MiB", summarize(peaks).hi),
				Target: ">= 200,000 rows/s, flat memory",
			})
		}
	}
	feed, err := measureFeed(ctx, pool, r.o.Rounds)
	if err != nil {
		return nil, err
	}
	return append(out, feed), nil
}

// measureFeed times the incremental feed's first run (export
// -cursor-file from no position), which reads the whole trail in id order.
func measureFeed(ctx context.Context, pool threadline.TxBeginner, rounds int) (Result, error) {
	var rates []float64
	var rows int64
	for i := 0; i < rounds; i++ {
		start := time.Now()
		_, res, err := threadline.Audit{}.ExportFeed(ctx, pool, io.Discard, threadline.FeedPosition{}, threadline.ExportOptions{Format: threadline.ExportNDJSON})
		if err != nil {
			return Result{}, fmt.Errorf("feed: %w", err)
		}
		rows = res.Rows
		rates = append(rates, float64(res.Rows)/time.Since(start).Seconds())
	}
	s := summarize(rates)
	return Result{
		Workload: "export", Metric: fmt.Sprintf("feed (-cursor-file), first run, ndjson, %d rows", rows),
		Ratio: fmt.Sprintf("%.0f rows/s", s.median), Spread: fmt.Sprintf("%.0f–%.0f", s.lo, s.hi), Target: ">= 200,000 rows/s",
	}, nil
}
