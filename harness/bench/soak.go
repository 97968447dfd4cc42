package bench

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/harness/soak"
)

// soakRun runs the 32-writer reconciliation soak for SoakDuration and
// reports its counts (the test suite runs the same workload for 3 s).
func (r *runner) soakRun(ctx context.Context) ([]Result, error) {
	u, pool, err := r.createDB(ctx, "soak")
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, soak.DDL); err != nil {
		return nil, err
	}
	if err := Install(ctx, pool, "", soak.Tables); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 34
	big, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer big.Close()
	rep, err := soak.Run(ctx, big, soak.Options{Writers: 32, Duration: r.o.SoakDuration})
	if err != nil {
		return nil, err
	}
	if rep.Mismatches != 0 || rep.Errors != 0 {
		return nil, fmt.Errorf("soak: %d mismatches, %d errors: %v %v", rep.Mismatches, rep.Errors, rep.Samples, rep.ErrorSamples)
	}
	return []Result{{
		Workload: "soak", Metric: fmt.Sprintf("32 writers for %s", r.o.SoakDuration),
		Ratio:  fmt.Sprintf("%d committed tx, %d changes reconciled", rep.Committed, rep.ChangesReconciled),
		Spread: fmt.Sprintf("%d rolled back, 0 mismatches", rep.RolledBack), Target: "0 mismatches",
	}}, nil
}
