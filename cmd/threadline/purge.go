package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/tlerr"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

type purgeArgs struct {
	dryRun, execute, verbose bool
	batchSize, maxBatches    int
}

func purgeFlags(fs *flag.FlagSet) func(*cli) int {
	var a purgeArgs
	fs.BoolVar(&a.dryRun, "dry-run", false, "report exactly what would be deleted; delete nothing (works while retention is disabled)")
	fs.BoolVar(&a.execute, "execute", false, "delete (requires retention.enabled: true); purges are permanent")
	fs.IntVar(&a.batchSize, "batch-size", 0, "rows per batch (default: retention.batch_size)")
	fs.IntVar(&a.maxBatches, "max-batches", 0, "at most this many change batches (default: retention.max_batches)")
	fs.BoolVar(&a.verbose, "v", false, "log every batch and the end of the purge (slog, debug level) on standard error")
	return func(c *cli) int { return c.purge(a) }
}

// purgePolicy maps the config's retention section to a runtime policy.
func purgePolicy(r config.Retention, a purgeArgs) threadlineops.PurgePolicy {
	p := threadlineops.PurgePolicy{
		Enabled: r.Enabled, Window: r.Window(), BatchSize: r.BatchSize, MaxBatches: r.MaxBatches,
		DeleteEmptyTransactions: r.DeleteEmptyTransactions,
	}
	if a.batchSize > 0 {
		p.BatchSize = a.batchSize
	}
	if a.maxBatches > 0 {
		p.MaxBatches = a.maxBatches
	}
	return p
}

// window renders a retention window as the config says it.
func window(r config.Retention) string {
	if r.KeepDays > 0 {
		return fmt.Sprintf("keep_days %d", r.KeepDays)
	}
	return fmt.Sprintf("max_age_seconds %d", r.MaxAgeSeconds)
}

func (c *cli) purge(a purgeArgs) int {
	switch {
	case a.dryRun == a.execute:
		return c.usageError("pass exactly one of -dry-run and -execute")
	case a.batchSize < 0 || a.maxBatches < 0:
		return c.usageError("-batch-size and -max-batches must be positive")
	}
	if a.dryRun {
		c.dutyOverride = &tlerr.DutyPlanPurge
	}
	if err := c.loadConfig(); err != nil {
		return c.fail("%v", err)
	}
	r := c.cfg.Retention
	if r.Window() <= 0 {
		return c.fail("%s has no retention section: add one (keep_days or max_age_seconds) to purge", c.configPath)
	}
	if a.execute && !r.Enabled {
		return c.fail("retention.enabled is false in %s: purge refuses to delete. Run -dry-run to see what would go, then set enabled: true", c.configPath)
	}
	if err := c.connect(); err != nil {
		return c.fail("%v", err)
	}
	p := purgePolicy(r, a)

	if a.dryRun {
		res, err := c.ops().PurgePlan(c.ctx, c.pool, p, threadlineops.PurgeOptions{})
		if err != nil {
			return c.fail("%v", err)
		}
		fmt.Fprintf(c.stdout, "dry run (%s): would delete %s and %s captured before %s, in %s of at most %d\n",
			window(r), plural(res.DeletedChanges, "change"), plural(res.DeletedTransactions, "transaction"),
			res.Cutoff.UTC().Format(time.RFC3339), plural(int64(res.Batches), "batch"), p.BatchSize)
		printPartitions(c, "would drop", res)
		if res.Capped {
			fmt.Fprintf(c.stdout, "max_batches (%d) caps one run: %d more eligible changes would remain for the next run\n", p.MaxBatches, res.RemainingChanges)
		}
		if !r.Enabled {
			fmt.Fprintf(c.stdout, "retention.enabled is false: -execute will refuse until it is true\n")
		}
		return 0
	}

	pr := newProgress(c.stderr, c.env.terminal(c.stderr))
	// The summary below says what the purge did; the runtime's log lines
	// (one per batch at debug level, one at the end) are for -v, and
	// warnings always show. The runtime's summary, an error when the purge
	// failed, is the line the command prints itself.
	level := slog.LevelWarn
	if a.verbose {
		level = slog.LevelDebug
	}
	var logs slog.Handler = slog.NewTextHandler(pr.lineWriter(), &slog.HandlerOptions{Level: level})
	if !a.verbose {
		logs = withoutSummary{logs}
	}
	opts := threadlineops.PurgeOptions{
		Logger: slog.New(logs),
		Progress: func(e threadlineops.PurgeProgress) {
			pr.draw(fmt.Sprintf("purging %s %d/%d changes, %d transactions (%s rows/s)",
				bar(e.DeletedChanges, e.TotalChanges, 30), e.DeletedChanges, e.TotalChanges, e.DeletedTransactions,
				pr.rate(e.DeletedChanges+e.DeletedTransactions)))
		},
	}
	if !pr.on {
		opts.Progress = nil
	}
	res, err := c.ops().Purge(c.ctx, c.pool, p, opts)
	pr.clear()
	summary := fmt.Sprintf("purged %s and %s captured before %s in %s (%s)",
		plural(res.DeletedChanges, "change"), plural(res.DeletedTransactions, "transaction"), res.Cutoff.UTC().Format(time.RFC3339),
		plural(int64(res.Batches), "batch"), elapsed(res.Elapsed))
	switch {
	case errors.Is(err, threadlineops.ErrPurgeRunning), tlerr.IsPermissionDenied(err):
		// Nothing was purged, and running it again changes nothing.
		return c.fail("%v", err)
	case err != nil:
		fmt.Fprintln(c.stdout, "interrupted: "+summary+"; run it again to continue")
		return c.fail("%v", err)
	}
	fmt.Fprintln(c.stdout, summary)
	printPartitions(c, "dropped", res)
	if res.Capped {
		fmt.Fprintf(c.stdout, "stopped at max_batches (%d): %d eligible changes remain; run it again (or schedule it more often)\n", p.MaxBatches, res.RemainingChanges)
	}
	return 0
}

// printPartitions lists the whole partitions a purge drops (partitioned
// storage), counted in its totals.
func printPartitions(c *cli, verb string, res threadlineops.PurgeResult) {
	for _, p := range res.Partitions {
		fmt.Fprintf(c.stdout, "  %s partition %s (%s)\n", verb, p.Partition, plural(p.Rows, "row"))
	}
}

// withoutSummary drops the runtime's purge summary
// (threadlineops.PurgeFinishedMessage): the command prints its own, or the
// error that ended the purge.
type withoutSummary struct{ slog.Handler }

// Handle passes every record on but the summary.
func (h withoutSummary) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == threadlineops.PurgeFinishedMessage {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the summary out of the derived handler too.
func (h withoutSummary) WithAttrs(attrs []slog.Attr) slog.Handler {
	return withoutSummary{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the summary out of the derived handler too.
func (h withoutSummary) WithGroup(name string) slog.Handler {
	return withoutSummary{h.Handler.WithGroup(name)}
}
