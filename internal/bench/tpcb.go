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
)

// tpcbScript is pgbench's built-in TPC-B transaction. The audited variant
// publishes the actor the way InTx does: set_config(…, true) sent in the
// same request as BEGIN (pgbench's \; joins them into one message).
const tpcbScript = `\set aid random(1, 100000 * :scale)
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

const actorSetting = ` \; SELECT set_config('threadline.actor_ref', '{"type":"user","id":"bench"}', true)`

// tpcbTables audits all four pgbench tables; pgbench_history has no
// primary key, so its key is named.
const tpcbTables = `  pgbench_accounts: {}
  pgbench_branches: {}
  pgbench_tellers: {}
  pgbench_history:
    key: [tid, bid, aid, mtime]
`

var tpsRE = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)

func (r *runner) tpcb(ctx context.Context) ([]Result, error) {
	if _, err := exec.LookPath("pgbench"); err != nil {
		return nil, fmt.Errorf("pgbench not found on PATH (Debian: apt-get install postgresql-client)")
	}
	baseURL, _, err := r.createDB(ctx, "tpcb_base")
	if err != nil {
		return nil, err
	}
	audURL, audPool, err := r.createDB(ctx, "tpcb_audited")
	if err != nil {
		return nil, err
	}
	for _, u := range []string{baseURL, audURL} {
		if out, err := exec.CommandContext(ctx, "pgbench", "-i", "-q", "-s", strconv.Itoa(r.o.Scale), u).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("pgbench -i: %v\n%s", err, out)
		}
	}
	if err := installCapture(ctx, audURL, tpcbTables, audPool); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "threadline-bench-tpcb-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	baseScript := filepath.Join(dir, "base.sql")
	audScript := filepath.Join(dir, "audited.sql")
	os.WriteFile(baseScript, []byte(fmt.Sprintf(tpcbScript, "")), 0o644)
	os.WriteFile(audScript, []byte(fmt.Sprintf(tpcbScript, actorSetting)), 0o644)

	run := func(u, script string) (float64, error) {
		args := []string{"-n", "-M", "simple", "-c", strconv.Itoa(r.o.Clients), "-j", "2",
			"-T", strconv.Itoa(max(1, int(r.o.Duration.Seconds()))), "-f", script, u}
		out, err := exec.CommandContext(ctx, "pgbench", args...).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("pgbench: %v\n%s", err, out)
		}
		m := tpsRE.FindSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("pgbench printed no tps:\n%s", out)
		}
		return strconv.ParseFloat(string(bytes.TrimSpace(m[1])), 64)
	}
	var base, aud, ratios []float64
	for i := 0; i < r.o.Rounds; i++ {
		var b, a float64
		err := interleave(i,
			func() (err error) { b, err = run(baseURL, baseScript); return err },
			func() (err error) { a, err = run(audURL, audScript); return err })
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(r.log, "bench: tpcb round %d: unaudited %.0f tps, audited %.0f tps, ratio %.3f\n", i+1, b, a, a/b)
		base, aud, ratios = append(base, b), append(aud, a), append(ratios, a/b)
	}
	s := summarize(ratios)
	return []Result{{
		Workload: "tpcb", Metric: fmt.Sprintf("throughput, %d clients, scale %d", r.o.Clients, r.o.Scale),
		Unaudited: fmt.Sprintf("%.0f tps", summarize(base).median), Audited: fmt.Sprintf("%.0f tps", summarize(aud).median),
		Ratio: fmt.Sprintf("%.2fx", s.median), Spread: fmt.Sprintf("%.2f–%.2f", s.lo, s.hi), Target: ">= 0.80x (floor 0.70x)",
	}}, nil
}
