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

// The seeded audit trail: seedTables tables, each key changed about
// seedChangesPerKey times, captured_at spread evenly over seedSpan in id
// order (as real capture produces), five changes per transaction.
const (
	seedTables        = 20
	seedChangesPerKey = 10
	seedSpan          = 30 * 24 * time.Hour
	seedChunk         = 1_000_000
)

var seedStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seedAudit creates a database with capture installed and n synthetic
// audit rows; it returns the pool and the number of keys per table.
func (r *runner) seedAudit(ctx context.Context, prefix string, n int) (*pgxpool.Pool, int, error) {
	return r.seedAuditIn(ctx, prefix, n, false)
}

// seedAuditIn is seedAudit, into daily partitions when partitioned (made
// ahead for the seeded days, as threadline maintain would have).
func (r *runner) seedAuditIn(ctx context.Context, prefix string, n int, partitioned bool) (*pgxpool.Pool, int, error) {
	_, pool, err := r.createDB(ctx, prefix)
	if err != nil {
		return nil, 0, err
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE items (id bigint PRIMARY KEY, v text)`); err != nil {
		return nil, 0, err
	}
	// A retention window of an hour: the purge workloads purge what is
	// older (the seeded days are in January 2026).
	tables := "  items: {}\nretention:\n  max_age_seconds: 3600\n"
	if partitioned {
		tables += "storage:\n  partitions: daily\n  premake: 1\n"
	}
	if err := Install(ctx, pool, "", tables); err != nil {
		return nil, 0, err
	}
	if partitioned {
		if err := seedPartitions(ctx, pool); err != nil {
			return nil, 0, err
		}
	}
	keys := max(1, n/seedTables/seedChangesPerKey)
	spanUS := seedSpan.Microseconds()
	if _, err := pool.Exec(ctx, `INSERT INTO threadline.audit_transactions (txid, started_at, actor_ref)
		SELECT g::text::xid8, $2::timestamptz + make_interval(secs => (g * 5)::float8 * $3 / $1 / 1e6),
		       jsonb_build_object('type', 'user', 'id', (g % 500)::text)
		FROM generate_series(1, ($1 + 4) / 5) AS g`, n, seedStart, spanUS); err != nil {
		return nil, 0, fmt.Errorf("seed transactions: %w", err)
	}
	for lo := 1; lo <= n; lo += seedChunk {
		hi := min(n, lo+seedChunk-1)
		start := time.Now()
		_, err := pool.Exec(ctx, `INSERT INTO threadline.audit_changes
			(transaction_id, table_schema, table_name, table_pk, op, data_after, changed_fields, captured_at)
			SELECT (g + 4) / 5, 'public', 'table_' || (g % $4),
			       jsonb_build_object('id', (g / $4) % $5),
			       CASE WHEN g / $4 < $5 THEN 'insert' ELSE 'update' END,
			       jsonb_build_object('id', (g / $4) % $5, 'name', 'row ' || g, 'amount', g % 1000, 'status', 'active'),
			       CASE WHEN g / $4 < $5 THEN NULL ELSE ARRAY['amount', 'name'] END,
			       $6::timestamptz + make_interval(secs => g::float8 * $7 / $3 / 1e6)
			FROM generate_series($1::bigint, $2::bigint) AS g`, lo, hi, n, seedTables, keys, seedStart, spanUS)
		if err != nil {
			return nil, 0, fmt.Errorf("seed changes: %w", err)
		}
		fmt.Fprintf(r.log, "bench: seeded %d/%d audit rows (%.1fs)\n", hi, n, time.Since(start).Seconds())
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE threadline.audit_changes, threadline.audit_transactions`); err != nil {
		return nil, 0, err
	}
	return pool, keys, nil
}

// seedPartitions creates the daily partitions of the seeded span.
func seedPartitions(ctx context.Context, pool *pgxpool.Pool) error {
	for d := seedStart; d.Before(seedStart.Add(seedSpan + 24*time.Hour)); d = d.Add(24 * time.Hour) {
		for _, t := range []string{"audit_changes", "audit_transactions"} {
			name := fmt.Sprintf("%s_p%s", t, d.Format("20060102"))
			sql := fmt.Sprintf("CREATE TABLE threadline.%s PARTITION OF threadline.%s FOR VALUES FROM ('%s') TO ('%s')",
				name, t, d.Format(time.RFC3339), d.Add(24*time.Hour).Format(time.RFC3339))
			if _, err := pool.Exec(ctx, sql); err != nil {
				return fmt.Errorf("seed partitions: %w", err)
			}
		}
	}
	return nil
}

// lookup measures row history, as-of and timeline pages (see timelines)
// on a seeded audit trail of AuditRows rows.
func (r *runner) lookup(ctx context.Context) ([]Result, error) {
	pool, keys, err := r.seedAudit(ctx, "lookup", r.o.AuditRows)
	if err != nil {
		return nil, err
	}
	audit := threadline.Audit{}
	rng := rand.New(rand.NewPCG(1, 2))
	samples := 300
	if r.o.Quick {
		samples = 50
	}
	measure := func(f func() error) ([]time.Duration, error) {
		var ds []time.Duration
		for i := 0; i < samples+20; i++ {
			start := time.Now()
			if err := f(); err != nil {
				return nil, err
			}
			if i >= 20 { // warm-up excluded
				ds = append(ds, time.Since(start))
			}
		}
		return ds, nil
	}
	randomKey := func() (string, map[string]int) {
		return fmt.Sprintf("public.table_%d", rng.IntN(seedTables)), map[string]int{"id": rng.IntN(keys)}
	}
	hist, err := measure(func() error {
		table, key := randomKey()
		cs, err := audit.History(ctx, pool, table, key, threadline.HistoryOptions{})
		if err == nil && len(cs) == 0 {
			err = fmt.Errorf("history of %s %v is empty", table, key)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	asof, err := measure(func() error {
		table, key := randomKey()
		at := seedStart.Add(time.Duration(rng.Int64N(int64(seedSpan))))
		_, err := audit.AsOf(ctx, pool, table, key, at)
		if errors.Is(err, threadline.ErrBeforeHorizon) || errors.Is(err, threadline.ErrDeleted) {
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("as-of: %w", err)
	}
	row := func(metric string, ds []time.Duration, target string) Result {
		return Result{Workload: "lookup", Metric: fmt.Sprintf("%s, %d audit rows", metric, r.o.AuditRows),
			Ratio: fmt.Sprintf("p50 %s", ms(percentile(ds, 0.5))), Spread: fmt.Sprintf("p99 %s", ms(percentile(ds, 0.99))), Target: target}
	}
	timelines, err := r.timelines(ctx, pool, samples)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	return append([]Result{
		row("row history (one key)", hist, "p50 <= 2 ms"),
		row("as-of (one key)", asof, "p50 <= 2 ms"),
	}, timelines...), nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
