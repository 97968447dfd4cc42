package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// singleDDL holds the tables of the single and hotrow workloads: rows
// written one statement at a time, and one row updated over and over.
const singleDDL = `CREATE TABLE single_items (id bigint PRIMARY KEY, qty integer NOT NULL, note text);
CREATE TABLE hot_items (id bigint PRIMARY KEY, qty integer NOT NULL);
INSERT INTO hot_items VALUES (1, 0);
CREATE PROCEDURE hot_updates(n integer) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        UPDATE hot_items SET qty = qty + 1 WHERE id = 1;
        COMMIT;
    END LOOP;
END $$`

// singleStatements are the single-row statements, each run n times in one
// server-side loop (one DO block, one transaction), so that the figure is
// the statement's cost without a client round trip per statement.
var singleStatements = []struct{ name, body string }{
	{"insert", `INSERT INTO single_items VALUES (i, 0, 'item ' || i)`},
	{"update", `UPDATE single_items SET qty = qty + 1 WHERE id = i`},
	{"delete", `DELETE FROM single_items WHERE id = i`},
}

// singleVariant is one database of the single and hotrow workloads.
type singleVariant struct {
	name, metric string
	pool         *pgxpool.Pool
	times        [][]float64 // per statement (or hot-row batch), seconds
}

// setupSingle creates a database per variant: base (unaudited) and the
// two capture modes on both tables.
func (r *runner) setupSingle(ctx context.Context, prefix string, slots int) ([]*singleVariant, error) {
	variants := []*singleVariant{
		{name: "base"},
		{name: "statement", metric: "capture: statement (default)"},
		{name: "row", metric: "capture: row"},
	}
	for _, v := range variants {
		_, pool, err := r.createDB(ctx, prefix+"_"+v.name)
		if err != nil {
			return nil, err
		}
		v.pool = pool
		v.times = make([][]float64, slots)
		if _, err := pool.Exec(ctx, singleDDL); err != nil {
			return nil, err
		}
		switch v.name {
		case "statement":
			err = Install(ctx, pool, "", "  single_items: {}\n  hot_items: {}\n")
		case "row":
			err = Install(ctx, pool, "", "  single_items: {capture: row}\n  hot_items: {capture: row}\n")
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", prefix, v.name, err)
		}
	}
	return variants, nil
}

// single measures the time each single-row statement adds, in a
// server-side loop, against the same loop unaudited.
func (r *runner) single(ctx context.Context) ([]Result, error) {
	n := 10_000
	if r.o.Quick {
		n = 1_000
	}
	variants, err := r.setupSingle(ctx, "single", len(singleStatements))
	if err != nil {
		return nil, err
	}
	for i := 0; i < r.o.Rounds; i++ {
		fns := make([]func() error, len(variants))
		for j, v := range variants {
			fns[j] = func() error { return singleRound(ctx, v, n) }
		}
		if err := interleave(i, fns...); err != nil {
			return nil, err
		}
	}
	base := variants[0]
	var out []Result
	for _, v := range variants[1:] {
		for j, st := range singleStatements {
			added := make([]float64, len(v.times[j]))
			for i := range added {
				added[i] = 1e6 * (v.times[j][i] - base.times[j][i]) / float64(n)
			}
			s := summarize(added)
			out = append(out, Result{
				Workload: "single", Metric: fmt.Sprintf("%s of one row, %d in a server-side loop (µs per statement), %s", st.name, n, v.metric),
				Unaudited: fmt.Sprintf("%.1f µs", 1e6*summarize(base.times[j]).median/float64(n)),
				Audited:   fmt.Sprintf("%.1f µs", 1e6*summarize(v.times[j]).median/float64(n)),
				Ratio:     fmt.Sprintf("+%.1f µs", s.median), Spread: fmt.Sprintf("%.1f–%.1f", s.lo, s.hi), Target: "goal <= 15 µs added",
			})
		}
	}
	return out, nil
}

// singleRound runs each statement's loop once on v; the trail is emptied
// first so that every round starts alike.
func singleRound(ctx context.Context, v *singleVariant, n int) error {
	if v.name != "base" {
		if _, err := v.pool.Exec(ctx, `TRUNCATE threadline.audit_changes`); err != nil {
			return err
		}
	}
	if _, err := v.pool.Exec(ctx, `VACUUM ANALYZE single_items`); err != nil {
		return err
	}
	for j, st := range singleStatements {
		loop := fmt.Sprintf("DO $$ BEGIN FOR i IN 1..%d LOOP %s; END LOOP; END $$", n, st.body)
		start := time.Now()
		if _, err := v.pool.Exec(ctx, loop); err != nil {
			return fmt.Errorf("%s %s: %w", v.name, st.name, err)
		}
		v.times[j] = append(v.times[j], time.Since(start).Seconds())
	}
	return nil
}

// hotRow updates one row of hot_items over and over, each update its own
// transaction (a procedure that commits in its loop), in batches whose
// times are compared: the last batch against the first shows whether the
// row's growing history slows its writes down (after one batch of
// warm-up). synchronous_commit is off in
// these sessions: the question is the trail's indexes, not the disk's
// flush time.
func (r *runner) hotRow(ctx context.Context) ([]Result, error) {
	total, batch := 250_000, 10_000
	if r.o.Quick {
		total, batch = 5_000, 1_000
	}
	batches := total / batch
	variants, err := r.setupSingle(ctx, "hotrow", 1)
	if err != nil {
		return nil, err
	}
	conns := make([]*pgxpool.Conn, len(variants))
	for j, v := range variants {
		c, err := v.pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		defer c.Release()
		if _, err := c.Exec(ctx, `SET synchronous_commit = off`); err != nil {
			return nil, err
		}
		conns[j] = c
	}
	call := fmt.Sprintf("CALL hot_updates(%d)", batch)
	// One batch first, not counted: the first transactions plan their
	// statements on an empty trail, which is not the question here.
	for j, v := range variants {
		if _, err := conns[j].Exec(ctx, call, pgx.QueryExecModeSimpleProtocol); err != nil {
			return nil, fmt.Errorf("hot row %s: %w", v.name, err)
		}
	}
	for b := 0; b < batches; b++ {
		fns := make([]func() error, len(variants))
		for j, v := range variants {
			fns[j] = func() error {
				start := time.Now()
				if _, err := conns[j].Exec(ctx, call, pgx.QueryExecModeSimpleProtocol); err != nil {
					return fmt.Errorf("hot row %s: %w", v.name, err)
				}
				v.times[0] = append(v.times[0], time.Since(start).Seconds())
				return nil
			}
		}
		if err := interleave(b, fns...); err != nil {
			return nil, err
		}
	}
	var out []Result
	for _, v := range variants {
		first, last := v.times[0][0], v.times[0][batches-1]
		metric := "unaudited"
		if v.metric != "" {
			metric = v.metric
		}
		res := Result{
			Workload: "hotrow", Metric: fmt.Sprintf("%d updates of one key, one transaction each: last %d against first %d, %s", total, batch, batch, metric),
			Ratio: fmt.Sprintf("%.2fx", last/first), Target: "<= 1.2x",
		}
		times := fmt.Sprintf("first %.0f µs, last %.0f µs", 1e6*first/float64(batch), 1e6*last/float64(batch))
		if v.name == "base" {
			res.Unaudited, res.Target = times, ""
		} else {
			res.Audited = times
		}
		out = append(out, res)
	}
	return out, nil
}
