package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// seal measures sealing and verifying a seeded trail: the first seal
// covers all of it; verify recomputes every digest.
func (r *runner) seal(ctx context.Context) ([]Result, error) {
	n := 1_000_000
	if r.o.Quick {
		n = 100_000
	}
	pool, _, err := r.seedAudit(ctx, "seal", n)
	if err != nil {
		return nil, err
	}
	ops := threadlineops.Audit{}
	start := time.Now()
	res, err := ops.Seal(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	sealRate := float64(res.Changes) / time.Since(start).Seconds()
	var rates []float64
	for i := 0; i < max(1, r.o.Rounds/2); i++ {
		start = time.Now()
		rep, err := ops.Verify(ctx, pool, threadlineops.VerifyOptions{Head: res.Head})
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		rates = append(rates, float64(rep.Changes)/time.Since(start).Seconds())
	}
	s := summarize(rates)
	return []Result{
		{Workload: "seal", Metric: fmt.Sprintf("seal, first seal of %d changes in %d transactions", res.Changes, res.Transactions),
			Ratio: fmt.Sprintf("%.0f changes/s", sealRate), Target: "a separate job (see tpcb, sealed)"},
		{Workload: "seal", Metric: fmt.Sprintf("verify, %d changes", res.Changes),
			Ratio: fmt.Sprintf("%.0f changes/s", s.median), Spread: fmt.Sprintf("%.0f–%.0f", s.lo, s.hi), Target: ">= 200,000 changes/s"},
	}, nil
}
