package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// TPCBScript is pgbench's built-in TPC-B transaction, %s where the
// BEGIN's request carries the attribution. The audited variant
// publishes the actor the way InTx does: set_config(…, true), with the
// binding to the transaction (contract.SettingAttributionTx), sent in the
// same request as BEGIN (pgbench's \; joins them into one message).
const TPCBScript = `\set aid random(1, 100000 * :scale)
\set bid random(1, 1 * :scale)
\set tid random(1, 10 * :scale)
\set delta random(-5000, 5000)
BEGIN%s;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
`

const actorSetting = ` \; SELECT set_config('` + contract.SettingActor + `', '{"type":"user","id":"bench"}', true), set_config('` +
	contract.SettingAttributionTx + `', ` + contract.TxStartSQL + `, true)`

// tpcbTables audits all four pgbench tables; pgbench_history has no
// primary key, so its key is named. %s is the capture option of each.
const tpcbTables = `  pgbench_accounts: {%[1]s}
  pgbench_branches: {%[1]s}
  pgbench_tellers: {%[1]s}
  pgbench_history:
    key: [tid, bid, aid, mtime]
    %[1]s
`

// tpcbFloor is SPEC §13's reference point for TPC-B: the cheapest audit
// trigger there is, one bare INSERT of a constant per written row (from a
// SECURITY DEFINER row trigger, as capture functions are), with the actor
// still published per transaction. No capture design can beat it.
const tpcbFloor = `CREATE TABLE floor_rows (x integer);
CREATE FUNCTION floor_capture() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO public.floor_rows VALUES (1);
    RETURN NULL;
END $$;
CREATE TRIGGER floor_capture AFTER INSERT OR UPDATE OR DELETE ON pgbench_accounts FOR EACH ROW EXECUTE FUNCTION floor_capture();
CREATE TRIGGER floor_capture AFTER INSERT OR UPDATE OR DELETE ON pgbench_branches FOR EACH ROW EXECUTE FUNCTION floor_capture();
CREATE TRIGGER floor_capture AFTER INSERT OR UPDATE OR DELETE ON pgbench_tellers FOR EACH ROW EXECUTE FUNCTION floor_capture();
CREATE TRIGGER floor_capture AFTER INSERT OR UPDATE OR DELETE ON pgbench_history FOR EACH ROW EXECUTE FUNCTION floor_capture()`

var tpsRE = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)

// tpcbVariant is one database the TPC-B workload runs against.
type tpcbVariant struct {
	name   string
	metric string
	script string
	url    string
	tps    []float64
	// pool, when set, seals the variant's trail every second while
	// pgbench runs.
	pool  *pgxpool.Pool
	seals int
}

func (r *runner) tpcb(ctx context.Context) ([]Result, error) {
	if _, err := exec.LookPath("pgbench"); err != nil {
		return nil, fmt.Errorf("pgbench not found on PATH (Debian: apt-get install postgresql-client)")
	}
	dir, err := os.MkdirTemp("", "threadline-bench-tpcb-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	baseScript := filepath.Join(dir, "base.sql")
	audScript := filepath.Join(dir, "audited.sql")
	if err := os.WriteFile(baseScript, []byte(fmt.Sprintf(TPCBScript, "")), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(audScript, []byte(fmt.Sprintf(TPCBScript, actorSetting)), 0o644); err != nil {
		return nil, err
	}
	variants := []*tpcbVariant{
		{name: "base", script: baseScript},
		{name: "statement", metric: "capture: statement (default)", script: audScript},
		{name: "row", metric: "capture: row", script: audScript},
		{name: "sealed", metric: "capture: statement, threadline seal every second", script: audScript},
		{name: "floor", metric: "floor: one bare INSERT per write", script: audScript},
	}
	if err := r.setupTPCB(ctx, variants); err != nil {
		return nil, err
	}
	for i := 0; i < r.o.Rounds; i++ {
		fns := make([]func() error, len(variants))
		for j, v := range variants {
			fns[j] = func() error { return r.tpcbRound(ctx, v) }
		}
		if err := interleave(i, fns...); err != nil {
			return nil, err
		}
		fmt.Fprintf(r.log, "bench: tpcb round %d:", i+1)
		for _, v := range variants {
			fmt.Fprintf(r.log, " %s %.0f tps", v.name, v.tps[i])
		}
		fmt.Fprintln(r.log)
	}
	base := variants[0]
	var out []Result
	for _, v := range variants[1:] {
		ratios := make([]float64, len(v.tps))
		for i := range v.tps {
			ratios[i] = v.tps[i] / base.tps[i]
		}
		s := summarize(ratios)
		target := ">= 0.80x (not below 0.72x)"
		switch v.name {
		case "floor":
			target = "reference point (SPEC: about 0.92x)"
		case "sealed":
			target = "within noise of statement capture"
		}
		out = append(out, Result{
			Workload: "tpcb", Metric: fmt.Sprintf("throughput, %d clients, scale %d, %s", r.o.Clients, r.o.Scale, v.metric),
			Unaudited: fmt.Sprintf("%.0f tps", summarize(base.tps).median), Audited: fmt.Sprintf("%.0f tps", summarize(v.tps).median),
			Ratio: fmt.Sprintf("%.2fx", s.median), Spread: fmt.Sprintf("%.2f–%.2f", s.lo, s.hi), Target: target,
		})
	}
	return out, nil
}

// setupTPCB creates each variant's pgbench database and its capture or
// the floor's trigger.
func (r *runner) setupTPCB(ctx context.Context, variants []*tpcbVariant) error {
	for _, v := range variants {
		u, pool, err := r.createDB(ctx, "tpcb_"+v.name)
		if err != nil {
			return err
		}
		v.url = u
		if out, err := exec.CommandContext(ctx, "pgbench", "-i", "-q", "-s", strconv.Itoa(r.o.Scale), u).CombinedOutput(); err != nil {
			return fmt.Errorf("pgbench -i: %v\n%s", err, out)
		}
		switch v.name {
		case "statement":
			err = Install(ctx, pool, "", fmt.Sprintf(tpcbTables, ""))
		case "sealed":
			err = Install(ctx, pool, "", fmt.Sprintf(tpcbTables, ""))
			v.pool = pool
		case "row":
			err = Install(ctx, pool, "", fmt.Sprintf(tpcbTables, "capture: row"))
		case "floor":
			_, err = pool.Exec(ctx, tpcbFloor)
		}
		if err != nil {
			return fmt.Errorf("tpcb %s: %w", v.name, err)
		}
	}
	return nil
}

// tpcbRound runs pgbench once on v and records its throughput.
func (r *runner) tpcbRound(ctx context.Context, v *tpcbVariant) error {
	args := []string{"-n", "-M", "simple", "-c", strconv.Itoa(r.o.Clients), "-j", "2",
		"-T", strconv.Itoa(max(1, int(r.o.Duration.Seconds()))), "-f", v.script, v.url}
	stop := v.sealEverySecond(ctx)
	out, err := exec.CommandContext(ctx, "pgbench", args...).CombinedOutput()
	if serr := stop(); err == nil && serr != nil {
		return fmt.Errorf("seal during pgbench: %w", serr)
	}
	if err != nil {
		return fmt.Errorf("pgbench: %v\n%s", err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("pgbench printed no tps:\n%s", out)
	}
	tps, err := strconv.ParseFloat(string(bytes.TrimSpace(m[1])), 64)
	v.tps = append(v.tps, tps)
	return err
}

// sealEverySecond starts sealing v's trail every second, when v seals,
// and returns the function that stops it and reports its first error.
func (v *tpcbVariant) sealEverySecond(ctx context.Context) func() error {
	if v.pool == nil {
		return func() error { return nil }
	}
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				errc <- nil
				return
			case <-t.C:
				if _, err := (threadlineops.Audit{}).Seal(ctx, v.pool); err != nil {
					errc <- err
					return
				}
				v.seals++
			}
		}
	}()
	return func() error {
		close(done)
		return <-errc
	}
}
