package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

const bulkDDL = `CREATE TABLE bulk_items (
    id bigint PRIMARY KEY,
    account_id integer NOT NULL,
    status text NOT NULL,
    amount numeric(12, 2) NOT NULL,
    note text,
    tags text[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
)`

// bulkStatements are the three single-statement bulk operations.
var bulkStatements = []struct{ name, sql string }{
	{"insert", `INSERT INTO bulk_items (id, account_id, status, amount, note)
		SELECT g, g % 1000, 'new', (g % 10000) / 100.0, 'item ' || g FROM generate_series(1, $1::bigint) AS g`},
	{"update", `UPDATE bulk_items SET amount = amount + 1, status = 'paid'`},
	{"delete", `DELETE FROM bulk_items`},
}

func (r *runner) bulk(ctx context.Context) ([]Result, error) {
	_, base, err := r.createDB(ctx, "bulk_base")
	if err != nil {
		return nil, err
	}
	audURL, aud, err := r.createDB(ctx, "bulk_audited")
	if err != nil {
		return nil, err
	}
	for _, p := range []*pgxpool.Pool{base, aud} {
		if _, err := p.Exec(ctx, bulkDDL); err != nil {
			return nil, err
		}
	}
	if err := installCapture(ctx, audURL, "  bulk_items: {}\n", aud); err != nil {
		return nil, err
	}
	// timeRound runs the three statements once on p and returns each
	// duration; the audit tables are emptied first so every round starts
	// alike.
	timeRound := func(p *pgxpool.Pool, audited bool) ([]time.Duration, error) {
		if audited {
			if _, err := p.Exec(ctx, `TRUNCATE threadline.audit_changes, threadline.audit_transactions`); err != nil {
				return nil, err
			}
		}
		if _, err := p.Exec(ctx, `VACUUM ANALYZE bulk_items`); err != nil {
			return nil, err
		}
		var ds []time.Duration
		for _, st := range bulkStatements {
			var args []any
			if st.name == "insert" {
				args = append(args, r.o.BulkRows)
			}
			start := time.Now()
			tag, err := p.Exec(ctx, st.sql, args...)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", st.name, err)
			}
			ds = append(ds, time.Since(start))
			if tag.RowsAffected() != int64(r.o.BulkRows) {
				return nil, fmt.Errorf("%s touched %d rows, want %d", st.name, tag.RowsAffected(), r.o.BulkRows)
			}
		}
		if audited {
			var n int
			if err := p.QueryRow(ctx, `SELECT count(*) FROM threadline.audit_changes`).Scan(&n); err != nil {
				return nil, err
			}
			if n != 3*r.o.BulkRows {
				return nil, fmt.Errorf("captured %d changes, want %d", n, 3*r.o.BulkRows)
			}
		}
		return ds, nil
	}
	ratios := make([][]float64, len(bulkStatements))
	baseT := make([][]float64, len(bulkStatements))
	audT := make([][]float64, len(bulkStatements))
	for i := 0; i < r.o.Rounds; i++ {
		var b, a []time.Duration
		err := interleave(i,
			func() (err error) { b, err = timeRound(base, false); return err },
			func() (err error) { a, err = timeRound(aud, true); return err })
		if err != nil {
			return nil, err
		}
		for j := range bulkStatements {
			ratios[j] = append(ratios[j], a[j].Seconds()/b[j].Seconds())
			baseT[j] = append(baseT[j], b[j].Seconds())
			audT[j] = append(audT[j], a[j].Seconds())
		}
		fmt.Fprintf(r.log, "bench: bulk round %d: insert %.2fx, update %.2fx, delete %.2fx\n", i+1,
			ratios[0][i], ratios[1][i], ratios[2][i])
	}
	var out []Result
	for j, st := range bulkStatements {
		s := summarize(ratios[j])
		out = append(out, Result{
			Workload: "bulk", Metric: fmt.Sprintf("%s %d rows, one statement (time)", st.name, r.o.BulkRows),
			Unaudited: fmt.Sprintf("%.0f ms", 1000*summarize(baseT[j]).median), Audited: fmt.Sprintf("%.0f ms", 1000*summarize(audT[j]).median),
			Ratio: fmt.Sprintf("%.2fx", s.median), Spread: fmt.Sprintf("%.2f–%.2f", s.lo, s.hi), Target: "<= 3x (ceiling 4x)",
		})
	}
	return out, nil
}
