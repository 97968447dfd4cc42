package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The viewer workload's seal state and search pages (issue 27).

// seedSealCount is the number of seals seedSeals writes: one an hour of
// the seeded 30 days.
const seedSealCount = 720

// seedSeals seals the oldest nine tenths of the seeded transactions (n
// changes, five a transaction) in seedSealCount seals, written directly
// rather than by seal() (which would hash all ten million changes): seal
// k's snapshot sees the transaction ids below k*step+1, and its entries
// hold the transactions it newly sees, as seal() divides them. The
// seals' digests are placeholders: the viewer reads which seal holds a
// transaction, never a digest. It returns the number of seals.
func seedSeals(ctx context.Context, pool *pgxpool.Pool, n int) (int, error) {
	txs := max(1, (n+4)/5)
	step := max(1, txs*9/10/seedSealCount)
	if _, err := pool.Exec(ctx, `INSERT INTO threadline.audit_seals (id, snapshot, prev_head, head, transactions, changes, sealed_at, version)
		SELECT k, (k * $1 + 1) || ':' || (k * $1 + 1) || ':', '\x00'::bytea, '\x00'::bytea, $1, $1 * 5,
		       $2::timestamptz + make_interval(hours => k::int), 2
		FROM generate_series(1, $3::bigint) AS k`, step, seedStart, seedSealCount); err != nil {
		return 0, fmt.Errorf("seed seals: %w", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO threadline.audit_seal_entries
			(seal_id, transaction_id, started_at, digest, change_ids, change_digests, change_times)
		SELECT (t.txid::text::bigint - 1) / $1 + 1, t.id, t.started_at, '\x00'::bytea, '{}', ''::bytea, '{}'
		FROM threadline.audit_transactions AS t WHERE t.txid::text::bigint <= $1 * $2::bigint`, step, seedSealCount); err != nil {
		return 0, fmt.Errorf("seed seal entries: %w", err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE threadline.audit_seals, threadline.audit_seal_entries`); err != nil {
		return 0, err
	}
	return seedSealCount, nil
}

// searchPages are the viewer workload's search pages: by key (rows of
// keys keys per table, tables seedTables), with and without a table, and
// by value, common and rare (n changes seeded, named "row <g>").
func searchPages(rng *rand.Rand, n, keys int) []viewerPage {
	table := func() string { return fmt.Sprintf("public.table_%d", rng.IntN(seedTables)) }
	return []viewerPage{
		{"search by key, one table (row index)", func() string {
			return "/search?" + url.Values{"q": {strconv.Itoa(rng.IntN(keys))}, "table": {table()}}.Encode()
		}},
		{"search by key, no table (each captured table's key)", func() string {
			return "/search?" + url.Values{"q": {strconv.Itoa(rng.IntN(keys))}}.Encode()
		}},
		{"search by a value every change holds (status active), with its count", func() string { return "/search?q=active" }},
		{"search by a value one of the latest 1,000 changes holds (budget spent)", func() string {
			return "/search?" + url.Values{"q": {"row " + strconv.Itoa(n-rng.IntN(1000))}}.Encode()
		}},
		{"search by a value no change holds (budget spent)", func() string { return "/search?q=no+such+value" }},
	}
}
