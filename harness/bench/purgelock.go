package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// The purgelock workload: how far back its expired days start (each
// round drops the oldest ones left), and the audited writes' arrival rate
// and connections.
const (
	purgeLockDays    = 3
	purgeLockRate    = 100 // writes per second
	purgeLockWriters = 4
)

// purgeLock measures the latency of the application's audited writes
// while a reader transaction (REPEATABLE READ) holds ACCESS SHARE on an
// expired daily partition: with no purge, with a purge that must drop
// that partition (it waits for the lock at most lock_timeout at a time and
// retries with backoff until the reader ends), and, for reference, with
// the same drop waiting for its lock without a lock_timeout (as earlier
// releases' drop_partitions did). The writes arrive at a fixed rate
// (purgeLockRate, served by purgeLockWriters connections) and each one's
// latency counts from when it was due, so a stall counts every write it
// holds up.
func (r *runner) purgeLock(ctx context.Context) ([]Result, error) {
	span, perDay := 5*time.Second, 20_000
	if r.o.Quick {
		span, perDay = 2*time.Second, 2_000
	}
	u, pool, err := r.createDB(ctx, "purgelock")
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE items (id bigint PRIMARY KEY, v bigint NOT NULL);
		INSERT INTO items SELECT g, 0 FROM generate_series(1, 1000) AS g`); err != nil {
		return nil, err
	}
	tables := "  items: {}\nstorage:\n  partitions: daily\n  premake: 1\nretention:\n  keep_days: 1\n"
	if err := Install(ctx, pool, "", tables); err != nil {
		return nil, err
	}
	days := 2 * r.o.Rounds
	if err := seedExpiredDays(ctx, pool, days, perDay); err != nil {
		return nil, err
	}
	// The writers' own connections: the reader, the purge and the drop
	// take theirs from pool.
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = purgeLockWriters
	writers, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.pools = append(r.pools, writers)
	var none, purge, blocking rounds
	var retries []float64
	for i := range r.o.Rounds {
		// Round i drops days 2i (the purge) and 2i+1 (the reference),
		// counted from the oldest.
		oldest := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -purgeLockDays-days+1+2*i)
		lat, err := r.writesBehindReader(ctx, pool, writers, span, nil)
		if err != nil {
			return nil, err
		}
		none.add(lat)
		var n int
		lat, err = r.writesBehindReader(ctx, pool, writers, span, func(ctx context.Context) error {
			n, err = purgeDay(ctx, pool, oldest, span)
			return err
		})
		if err != nil {
			return nil, err
		}
		purge.add(lat)
		retries = append(retries, float64(n))
		lat, err = r.writesBehindReader(ctx, pool, writers, span, func(ctx context.Context) error {
			day := oldest.AddDate(0, 0, 1).Format("20060102")
			_, err := pool.Exec(ctx, fmt.Sprintf("SET lock_timeout = 0; DROP TABLE threadline.audit_changes_p%s, threadline.audit_transactions_p%s", day, day))
			return err
		})
		if err != nil {
			return nil, err
		}
		blocking.add(lat)
	}
	metric := fmt.Sprintf("audited single-row UPDATE latency (%d/s, %d connections), a reader transaction open on an expired partition, %s per round",
		purgeLockRate, purgeLockWriters, span)
	return []Result{
		{Workload: "purgelock", Metric: metric + ", no purge", Ratio: none.summary(), Spread: none.spread()},
		{Workload: "purgelock", Metric: fmt.Sprintf("same, a purge dropping that partition meanwhile (lock_timeout 50 ms, %.0f lock attempts per purge)", summarize(retries).median),
			Ratio: purge.summary(), Spread: purge.spread(), Target: "writes never queued much over lock_timeout"},
		{Workload: "purgelock", Metric: "reference: the same drop waiting for its lock with no lock_timeout",
			Ratio: blocking.summary(), Spread: blocking.spread(), Target: "what earlier releases did"},
	}, nil
}

// rounds are the write latencies of each round of one side of a workload.
type rounds struct{ p50, p99, max []float64 }

func (r *rounds) add(lat []time.Duration) {
	r.p50 = append(r.p50, float64(percentile(lat, 0.5))/1e6)
	r.p99 = append(r.p99, float64(percentile(lat, 0.99))/1e6)
	r.max = append(r.max, float64(percentile(lat, 1))/1e6)
}

// summary reports the medians over the rounds of p50, p99 and the maximum.
func (r *rounds) summary() string {
	return fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, max %.0f ms", summarize(r.p50).median, summarize(r.p99).median, summarize(r.max).median)
}

// spread reports the range of the rounds' p99.
func (r *rounds) spread() string {
	s := summarize(r.p99)
	return fmt.Sprintf("p99 %.1f–%.1f ms", s.lo, s.hi)
}

// seedExpiredDays gives each of the days expired days (the last one
// purgeLockDays ago) daily partitions holding perDay changes, 5 per
// transaction.
func seedExpiredDays(ctx context.Context, pool *pgxpool.Pool, days, perDay int) error {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for k := range days {
		d := today.AddDate(0, 0, -purgeLockDays-k)
		for _, t := range []string{"audit_changes", "audit_transactions"} {
			sql := fmt.Sprintf("CREATE TABLE threadline.%s_p%s PARTITION OF threadline.%s FOR VALUES FROM ('%s') TO ('%s')",
				t, d.Format("20060102"), t, d.Format(time.RFC3339), d.Add(24*time.Hour).Format(time.RFC3339))
			if _, err := pool.Exec(ctx, sql); err != nil {
				return fmt.Errorf("seed expired days: %w", err)
			}
		}
		_, err := pool.Exec(ctx, `WITH t AS (
			INSERT INTO threadline.audit_transactions (txid, started_at)
			SELECT (1000000 * ($3 + 1) + g)::text::xid8, $1::timestamptz + make_interval(secs => g * 5 * 80000.0 / $2)
			FROM generate_series(1, $2 / 5) AS g RETURNING id, started_at)
		INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
		SELECT t.id, 'public', 'items', jsonb_build_object('id', k), 'update', jsonb_build_object('id', k, 'v', k), t.started_at
		FROM t, generate_series(1, 5) AS k`, d, perDay, k)
		if err != nil {
			return fmt.Errorf("seed expired days: %w", err)
		}
	}
	_, err := pool.Exec(ctx, "ANALYZE threadline.audit_changes, threadline.audit_transactions")
	return err
}

// purgeDay purges the expired day starting at day (its cutoff is the end
// of that day, so only its partitions go), and returns the lock attempts
// it took. It may wait up to twice span for the reader to end.
func purgeDay(ctx context.Context, pool *pgxpool.Pool, day time.Time, span time.Duration) (int, error) {
	var logs bytes.Buffer
	res, err := (threadlineops.Audit{}).Purge(ctx, pool,
		threadlineops.PurgePolicy{Enabled: true, Window: 24 * time.Hour, BatchSize: 5000, DeleteEmptyTransactions: true},
		threadlineops.PurgeOptions{Cutoff: day.Add(24 * time.Hour), LockWait: 2 * span,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	if len(res.Partitions) != 2 {
		return 0, fmt.Errorf("purge dropped %d partitions, want 2", len(res.Partitions))
	}
	return strings.Count(logs.String(), "threadline lock busy, retrying") + 1, nil
}

// writesBehindReader opens a reader transaction on the expired
// partitions (on pool), runs audited single-row updates for span on
// writers (and, when set, work alongside from span/10 on), ends the reader
// at span/2 when work is set (so that a blocked drop can go on) or at the
// end, and returns each write's latency.
func (r *runner) writesBehindReader(ctx context.Context, pool, writers *pgxpool.Pool, span time.Duration,
	work func(ctx context.Context) error) ([]time.Duration, error) {
	reader, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, err
	}
	defer reader.Rollback(context.WithoutCancel(ctx))
	var n int64
	if err := reader.QueryRow(ctx, "SELECT count(*) FROM threadline.audit_changes WHERE captured_at < now() - interval '2 days'").Scan(&n); err != nil {
		return nil, err
	}
	readerDone := make(chan struct{})
	var wg sync.WaitGroup
	var workErr error
	if work != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(span / 10)
			workErr = work(ctx)
		}()
		go func() {
			time.Sleep(span / 2)
			_ = reader.Commit(ctx)
			close(readerDone)
		}()
	}
	lat, err := fixedRateWrites(ctx, writers, span)
	wg.Wait()
	if work != nil {
		<-readerDone
	}
	if err != nil {
		return nil, err
	}
	return lat, workErr
}

// fixedRateWrites makes audited single-row updates due at purgeLockRate
// per second for span, on purgeLockWriters connections, and returns each
// one's latency from when it was due.
func fixedRateWrites(ctx context.Context, pool *pgxpool.Pool, span time.Duration) ([]time.Duration, error) {
	n := int(span.Seconds() * purgeLockRate)
	due := make(chan time.Time, n)
	lat := make([]time.Duration, n)
	errs := make(chan error, purgeLockWriters)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range purgeLockWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for at := range due {
				next.Lock()
				k := i
				i++
				next.Unlock()
				err := threadline.InTx(ctx, pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, "UPDATE items SET v = v + 1 WHERE id = $1", 1+k%1000)
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("audited write: %w", err)
					return
				}
				lat[k] = time.Since(at)
			}
		}()
	}
	start := time.Now()
	for k := range n {
		at := start.Add(time.Duration(k) * time.Second / purgeLockRate)
		time.Sleep(time.Until(at))
		due <- at
	}
	close(due)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return lat, nil
}
