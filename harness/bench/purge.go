package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// purge measures a retention purge of every seeded row (all are past the
// cutoff): rows per second and the longest batch, which bounds how long
// any lock is held.
func (r *runner) purge(ctx context.Context) ([]Result, error) {
	n := r.o.AuditRows
	pool, _, err := r.seedAudit(ctx, "purge", n)
	if err != nil {
		return nil, err
	}
	var longest time.Duration
	var batches int
	hooks := threadlineops.Hooks{PurgeBatch: func(_ context.Context, e threadlineops.PurgeBatchEvent) {
		batches++
		longest = max(longest, e.Duration)
	}}
	start := time.Now()
	res, err := (threadlineops.Audit{Hooks: hooks}).Purge(ctx, pool,
		threadlineops.PurgePolicy{Enabled: true, Window: time.Hour, BatchSize: 5000, MaxBatches: 1 << 30, DeleteEmptyTransactions: true},
		threadlineops.PurgeOptions{Cutoff: time.Now().Add(-2 * time.Hour), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	if res.DeletedChanges != int64(n) {
		return nil, fmt.Errorf("purge deleted %d changes, want %d", res.DeletedChanges, n)
	}
	byPartition, err := r.purgePartitions(ctx, n)
	if err != nil {
		return nil, err
	}
	return []Result{{
		Workload: "purge", Metric: fmt.Sprintf("%d eligible changes, batch 5000 (%d batches)", n, batches),
		Ratio:  fmt.Sprintf("%.0f rows/s (%.1f s)", float64(n)/elapsed.Seconds(), elapsed.Seconds()),
		Spread: fmt.Sprintf("longest batch %s", ms(longest)), Target: "10M in <= 2 min, short batches",
	}, byPartition}, nil
}

// purgePartitions measures a purge of n expired changes held in whole
// daily partitions (storage.partitions: daily): dropped, not deleted.
func (r *runner) purgePartitions(ctx context.Context, n int) (Result, error) {
	pool, _, err := r.seedAuditIn(ctx, "purgepart", n, true)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	res, err := (threadlineops.Audit{}).Purge(ctx, pool,
		threadlineops.PurgePolicy{Enabled: true, Window: time.Hour, BatchSize: 5000, MaxBatches: 1 << 30, DeleteEmptyTransactions: true},
		threadlineops.PurgeOptions{Cutoff: seedStart.Add(seedSpan + 24*time.Hour), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return Result{}, err
	}
	elapsed := time.Since(start)
	if res.DeletedChanges != int64(n) {
		return Result{}, fmt.Errorf("purge by partition deleted %d changes, want %d", res.DeletedChanges, n)
	}
	return Result{
		Workload: "purge", Metric: fmt.Sprintf("%d eligible changes in daily partitions (%d partitions dropped, %d batches)", n, len(res.Partitions), res.Batches),
		Ratio: fmt.Sprintf("%.1f s", elapsed.Seconds()), Target: "10M in <= 5 s",
	}, nil
}
