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

// bulkFloor is the reference floor for the bulk statements ("writing the
// audit rows alone"): a statement-level trigger that writes one jsonb
// image per changed row, from the transition table, into a table with no
// index, no key and no header.
const bulkFloor = `CREATE TABLE floor_rows (j jsonb);
CREATE FUNCTION floor_capture() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO public.floor_rows SELECT to_jsonb(r) FROM old_rows AS r;
    ELSE
        INSERT INTO public.floor_rows SELECT to_jsonb(r) FROM new_rows AS r;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER floor_insert AFTER INSERT ON bulk_items REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION floor_capture();
CREATE TRIGGER floor_update AFTER UPDATE ON bulk_items REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION floor_capture();
CREATE TRIGGER floor_delete AFTER DELETE ON bulk_items REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION floor_capture()`

// bulkVariant is one database the bulk workload runs against; written
// names the table its capture writes one row per changed row to.
type bulkVariant struct {
	name, metric, written string
	pool                  *pgxpool.Pool
	times                 [][]float64 // per statement, seconds
}

func (r *runner) bulk(ctx context.Context) ([]Result, error) {
	variants := []*bulkVariant{
		{name: "base"},
		{name: "statement", metric: "capture: statement (default)", written: "threadline.audit_changes"},
		{name: "row", metric: "capture: row", written: "threadline.audit_changes"},
		{name: "floor", metric: "floor: one jsonb image per row, no index", written: "floor_rows"},
	}
	if err := r.setupBulk(ctx, variants); err != nil {
		return nil, err
	}
	for i := 0; i < r.o.Rounds; i++ {
		fns := make([]func() error, len(variants))
		for j, v := range variants {
			fns[j] = func() error { return r.bulkRound(ctx, v) }
		}
		if err := interleave(i, fns...); err != nil {
			return nil, err
		}
		fmt.Fprintf(r.log, "bench: bulk round %d:", i+1)
		for _, v := range variants[1:] {
			fmt.Fprintf(r.log, " %s", v.name)
			for j, st := range bulkStatements {
				fmt.Fprintf(r.log, " %s %.2fx", st.name, v.times[j][i]/variants[0].times[j][i])
			}
			fmt.Fprint(r.log, ";")
		}
		fmt.Fprintln(r.log)
	}
	return r.bulkResults(variants), nil
}

// setupBulk creates each variant's database: the table, and the capture or
// the floor's trigger.
func (r *runner) setupBulk(ctx context.Context, variants []*bulkVariant) error {
	for _, v := range variants {
		_, pool, err := r.createDB(ctx, "bulk_"+v.name)
		if err != nil {
			return err
		}
		v.pool = pool
		v.times = make([][]float64, len(bulkStatements))
		if _, err := pool.Exec(ctx, bulkDDL); err != nil {
			return err
		}
		switch v.name {
		case "statement":
			err = Install(ctx, pool, "", "  bulk_items: {}\n")
		case "row":
			err = Install(ctx, pool, "", "  bulk_items:\n    capture: row\n")
		case "floor":
			_, err = pool.Exec(ctx, bulkFloor)
		}
		if err != nil {
			return fmt.Errorf("bulk %s: %w", v.name, err)
		}
	}
	return nil
}

// bulkRound runs the three statements once on v and records each
// duration; what the capture writes is emptied first so every round starts
// alike, and counted afterwards.
func (r *runner) bulkRound(ctx context.Context, v *bulkVariant) error {
	if v.written != "" {
		if _, err := v.pool.Exec(ctx, `TRUNCATE `+v.written); err != nil {
			return err
		}
	}
	if _, err := v.pool.Exec(ctx, `VACUUM ANALYZE bulk_items`); err != nil {
		return err
	}
	for j, st := range bulkStatements {
		var args []any
		if st.name == "insert" {
			args = append(args, r.o.BulkRows)
		}
		start := time.Now()
		tag, err := v.pool.Exec(ctx, st.sql, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		v.times[j] = append(v.times[j], time.Since(start).Seconds())
		if tag.RowsAffected() != int64(r.o.BulkRows) {
			return fmt.Errorf("%s touched %d rows, want %d", st.name, tag.RowsAffected(), r.o.BulkRows)
		}
	}
	if v.written != "" {
		var n int
		if err := v.pool.QueryRow(ctx, `SELECT count(*) FROM `+v.written).Scan(&n); err != nil {
			return err
		}
		if n != 3*r.o.BulkRows {
			return fmt.Errorf("%s: wrote %d rows, want %d", v.name, n, 3*r.o.BulkRows)
		}
	}
	return nil
}

// bulkResults turns the rounds' times into one result per variant and
// statement: the median ratio to the unaudited base, and its spread.
func (r *runner) bulkResults(variants []*bulkVariant) []Result {
	base := variants[0]
	var out []Result
	for _, v := range variants[1:] {
		for j, st := range bulkStatements {
			ratios := make([]float64, len(v.times[j]))
			for i := range ratios {
				ratios[i] = v.times[j][i] / base.times[j][i]
			}
			s := summarize(ratios)
			target := "<= 3x (ceiling 4x)"
			if v.name == "floor" {
				target = "reference point (SPEC: about 2x)"
			}
			out = append(out, Result{
				Workload: "bulk", Metric: fmt.Sprintf("%s %d rows, one statement (time), %s", st.name, r.o.BulkRows, v.metric),
				Unaudited: fmt.Sprintf("%.0f ms", 1000*summarize(base.times[j]).median), Audited: fmt.Sprintf("%.0f ms", 1000*summarize(v.times[j]).median),
				Ratio: fmt.Sprintf("%.2fx", s.median), Spread: fmt.Sprintf("%.2f–%.2f", s.lo, s.hi), Target: target,
			})
		}
	}
	return out
}
