// Package walbench measures the WAL capture engine against the trigger
// engine and no capture at all, interleaved in one run on one private
// cluster with wal_level = logical (internal/logicalpg): `threadline-bench
// wal`. The shared server runs with wal_level = replica, and all three
// variants must share a server for their ratios to mean anything.
//
// Workloads: pgbench's TPC-B (throughput ratios to the same round's
// unaudited run; WAL bytes per transaction; commit-to-visible lag of the
// WAL engine, p50 and p99, and its drain time after each round), the
// WAL engine's catch-up rate after its consumer was down under load, and
// one UPDATE of N rows (statement time, and for the WAL engine the time
// until the trail holds every change).
package walbench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	harnessbench "github.com/threadline-go/threadline/harness/bench"
	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/logicalpg"
	"github.com/threadline-go/threadline/runtime/threadlinecapture"
)

// Options are the benchmark's flags.
type Options struct {
	Rounds   int
	Scale    int
	Clients  int
	Duration time.Duration
	BulkRows int
	// BatchDelay and BatchChanges are the consumer's batch bounds (0:
	// its defaults).
	BatchDelay   time.Duration
	BatchChanges int
	// Outage is how long the consumer is stopped under TPC-B load before
	// each catch-up measurement; CatchupRounds how many (0: none).
	Outage        time.Duration
	CatchupRounds int
	// CPUProfile, when set, receives a CPU profile of this process (the
	// consumers) over the whole run.
	CPUProfile string
	// DefaultIdentity adds a fourth variant, the WAL engine with replica
	// identity default on the updated tables. Its slot decodes all of
	// the cluster's WAL too, which lowers both WAL variants' ratios: the
	// throughput targets are read from a run without it.
	DefaultIdentity bool
}

// Run parses args, runs the benchmark and prints a Markdown table.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("threadline-bench wal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.IntVar(&o.Rounds, "rounds", 5, "interleaved rounds")
	fs.IntVar(&o.Scale, "scale", 10, "pgbench scale")
	fs.IntVar(&o.Clients, "clients", 4, "pgbench clients")
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "length of one pgbench run")
	fs.IntVar(&o.BulkRows, "bulk-rows", 100000, "rows of the bulk UPDATE")
	fs.DurationVar(&o.BatchDelay, "batch-delay", 0, "the consumer's batch delay (0: its default)")
	fs.IntVar(&o.BatchChanges, "batch-changes", 0, "the consumer's batch size in changes (0: its default)")
	fs.DurationVar(&o.Outage, "outage", 20*time.Second, "how long the consumer is stopped under load before a catch-up")
	fs.IntVar(&o.CatchupRounds, "catchup-rounds", 3, "catch-up measurements after the TPC-B rounds (0: none)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of this process (the consumers) to `FILE`")
	fs.BoolVar(&o.DefaultIdentity, "default-identity", false, "also run the WAL engine with replica identity default (a second slot, which lowers both WAL variants' ratios)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			fmt.Fprintf(stderr, "threadline-bench wal: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "threadline-bench wal: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	b := &bench{o: o, log: stderr}
	if err := b.run(ctx, stdout); err != nil {
		fmt.Fprintf(stderr, "threadline-bench wal: %v\n", err)
		return 1
	}
	return 0
}

type bench struct {
	o       Options
	log     io.Writer
	cluster *logicalpg.Cluster
}

// variant is one database of the run.
type variant struct {
	name   string
	url    string
	pool   *pgxpool.Pool
	script string
	wal    bool
	slot   string
	// per round
	tps, walPerTx, drain []float64
	// cpu is each round's CPU per transaction by kind of process, in
	// ms; pgbench the CPU of the pgbench client itself.
	cpu      []cpuTimes
	pgbench  []float64
	lags     []time.Duration
	mu       sync.Mutex
	consumer *threadlinecapture.Consumer
	stop     func()
}

// The attribution as the runtime's InTx sends it, in the BEGIN's
// request: the settings for the trigger engine; for the WAL engine the
// same settings (record_action reads them) and the logical message the
// consumer reads (TxOptions.WALMessage). Writers outside Go call
// attribute() instead, a PL/pgSQL function that sends both.
const (
	triggerActor = ` \; SELECT set_config('` + contract.SettingActor + `', '{"type":"user","id":"bench"}', true), set_config('` +
		contract.SettingAttributionTx + `', ` + contract.TxStartSQL + `, true)`
	walActor = triggerActor + `, pg_logical_emit_message(true, '` + contract.WALMessagePrefix + `', json_build_object('s', ` +
		contract.TxStartSQL + `, 'a', '{"type":"user","id":"bench"}', 'r', NULL::text, 'c', NULL::text)::text)`
)

const tpcbTables = `  pgbench_accounts: {}
  pgbench_branches: {}
  pgbench_tellers: {}
  pgbench_history:
    key: [tid, bid, aid, mtime]
`

// tpcbDefaultIdentity keeps the updated tables at replica identity
// default (pgbench_history, only inserted into, has no primary key).
const tpcbDefaultIdentity = `wal:
  slot: bench_tpcb_default
  replica_identity:
    pgbench_accounts: default
    pgbench_branches: default
    pgbench_tellers: default
`

var (
	tpsRE = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	txRE  = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
)

func (b *bench) run(ctx context.Context, stdout io.Writer) error {
	if _, err := exec.LookPath("pgbench"); err != nil {
		return fmt.Errorf("pgbench not found on PATH (Debian: apt-get install postgresql-contrib)")
	}
	fmt.Fprintln(b.log, "bench: starting a private cluster with wal_level = logical")
	// A server as it ships (fsync and synchronous commit on), with room
	// for the run's databases.
	c, err := logicalpg.Start(ctx, "fsync = on", "synchronous_commit = on", "full_page_writes = on", "max_wal_size = 4GB", "checkpoint_timeout = 30min")
	if err != nil {
		return err
	}
	b.cluster = c
	defer c.Stop()
	dir, err := os.MkdirTemp("", "threadline-walbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	vs := []*variant{{name: "unaudited"}, {name: "trigger"}, {name: "wal", wal: true}}
	if b.o.DefaultIdentity {
		vs = append(vs, &variant{name: "wal-default", wal: true})
	}
	for _, v := range vs {
		actor := ""
		switch v.name {
		case "trigger":
			actor = triggerActor
		case "wal", "wal-default":
			actor = walActor
		}
		v.script = filepath.Join(dir, v.name+".sql")
		if err := os.WriteFile(v.script, []byte(fmt.Sprintf(harnessbench.TPCBScript, actor)), 0o644); err != nil {
			return err
		}
		if err := b.setup(ctx, v); err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		defer v.pool.Close()
		if v.wal {
			defer v.stopConsumer()
		}
	}
	for i := 0; i < b.o.Rounds; i++ {
		for j := range vs {
			v := vs[(i+j)%len(vs)]
			if err := b.round(ctx, v); err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
		}
		fmt.Fprintf(b.log, "bench: round %d:", i+1)
		for _, v := range vs {
			fmt.Fprintf(b.log, " %s %.0f tps", v.name, v.tps[i])
		}
		fmt.Fprintf(b.log, " (wal drained in %.0f ms)\n", vs[2].drain[i])
	}
	catchups, err := b.catchups(ctx, vs[2])
	if err != nil {
		return fmt.Errorf("catch-up: %w", err)
	}
	bulk, err := b.bulk(ctx)
	if err != nil {
		return fmt.Errorf("bulk: %w", err)
	}
	b.print(stdout, vs, bulk)
	printCatchups(stdout, b.o, catchups)
	return nil
}

// catchup is one catch-up measurement.
type catchup struct {
	changes  int64         // changes committed while the consumer was down
	retained int64         // WAL the slot retained, bytes
	took     time.Duration // from the consumer's restart until the slot caught up
}

// catchups stops v's consumer for the outage while pgbench runs, then
// restarts it and times how long it takes to write what was committed
// meanwhile.
func (b *bench) catchups(ctx context.Context, v *variant) ([]catchup, error) {
	var out []catchup
	for i := 0; i < b.o.CatchupRounds; i++ {
		var before int64
		if err := v.pool.QueryRow(ctx, `SELECT count(*) FROM threadline.audit_changes`).Scan(&before); err != nil {
			return nil, err
		}
		v.stopConsumer()
		args := []string{"-n", "-M", "simple", "-c", strconv.Itoa(b.o.Clients), "-j", "2",
			"-T", strconv.Itoa(max(1, int(b.o.Outage.Seconds()))), "-f", v.script, v.url}
		if out, err := exec.CommandContext(ctx, "pgbench", args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("pgbench: %v\n%s", err, out)
		}
		var c catchup
		if err := v.pool.QueryRow(ctx, `SELECT pg_current_wal_lsn() - confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1`, v.slot).Scan(&c.retained); err != nil {
			return nil, err
		}
		v.mu.Lock()
		lags := len(v.lags)
		v.mu.Unlock()
		start := time.Now()
		v.startConsumer(b.socketURL("bench_"+v.name), b.o)
		if err := waitCaughtUp(ctx, v.pool, v.slot, 30*time.Minute); err != nil {
			return nil, err
		}
		c.took = time.Since(start)
		var after int64
		if err := v.pool.QueryRow(ctx, `SELECT count(*) FROM threadline.audit_changes`).Scan(&after); err != nil {
			return nil, err
		}
		c.changes = after - before
		// The lag percentiles are those under load, not after an outage.
		v.mu.Lock()
		v.lags = v.lags[:lags]
		v.mu.Unlock()
		out = append(out, c)
		fmt.Fprintf(b.log, "bench: catch-up %d: %d changes (%.1f MB of WAL) in %s, %.0f changes/s\n", i+1, c.changes,
			float64(c.retained)/1e6, c.took.Round(time.Millisecond), c.rate())
	}
	return out, nil
}

func (c catchup) rate() float64 { return float64(c.changes) / c.took.Seconds() }

func printCatchups(w io.Writer, o Options, cs []catchup) {
	if len(cs) == 0 {
		return
	}
	rates := make([]float64, len(cs))
	var changes, retained []float64
	for i, c := range cs {
		rates[i] = c.rate()
		changes, retained = append(changes, float64(c.changes)), append(retained, float64(c.retained)/1e6)
	}
	r, lo, hi := median(rates)
	n, _, _ := median(changes)
	mb, _, _ := median(retained)
	fmt.Fprintf(w, "\ncatch-up after a %s outage under TPC-B load, %d rounds: %.0f changes committed meanwhile, %.1f MB of WAL retained (medians); rate %.0f changes/s (%.0f–%.0f)\n",
		o.Outage, len(cs), n, mb, r, lo, hi)
}

// setup creates v's database, loads pgbench and installs its engine.
func (b *bench) setup(ctx context.Context, v *variant) error {
	u, err := b.cluster.NewDatabase(ctx, "bench_"+v.name)
	if err != nil {
		return err
	}
	v.url = u
	if out, err := exec.CommandContext(ctx, "pgbench", "-i", "-q", "-s", strconv.Itoa(b.o.Scale), u).CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %v\n%s", err, out)
	}
	if v.pool, err = pgxpool.New(ctx, u); err != nil {
		return err
	}
	switch v.name {
	case "trigger":
		return harnessbench.Install(ctx, v.pool, "engine: trigger\n", tpcbTables)
	case "wal":
		if err := harnessbench.Install(ctx, v.pool, "engine: wal\n", tpcbTables); err != nil {
			return err
		}
		if _, err := v.pool.Exec(ctx, `SELECT pg_create_logical_replication_slot('bench_tpcb', 'pgoutput')`); err != nil {
			return err
		}
		v.slot = "bench_tpcb"
		v.startConsumer(b.socketURL("bench_"+v.name), b.o)
	case "wal-default":
		if err := harnessbench.Install(ctx, v.pool, "engine: wal\n", tpcbTables+tpcbDefaultIdentity); err != nil {
			return err
		}
		if _, err := v.pool.Exec(ctx, `SELECT pg_create_logical_replication_slot('bench_tpcb_default', 'pgoutput')`); err != nil {
			return err
		}
		v.slot = "bench_tpcb_default"
		v.startConsumer(b.socketURL("bench_"+v.name), b.o)
	}
	return nil
}

// socketURL connects to database db over the cluster's unix socket, as
// a consumer on the database's machine does.
func (b *bench) socketURL(db string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable", db, b.cluster.Host(), b.cluster.Port)
}

func (v *variant) startConsumer(url string, o Options) {
	ctx, cancel := context.WithCancel(context.Background())
	v.consumer = threadlinecapture.New(threadlinecapture.Config{
		SourceURL: url, Slot: v.slot, BatchDelay: o.BatchDelay, BatchChanges: o.BatchChanges,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Hooks: threadlinecapture.Hooks{BatchWritten: func(_ context.Context, e threadlinecapture.BatchEvent) {
			if e.Err != nil {
				return
			}
			visible := e.Start.Add(e.Duration)
			v.mu.Lock()
			for _, c := range e.Commits {
				v.lags = append(v.lags, visible.Sub(c))
			}
			v.mu.Unlock()
		}},
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := v.consumer.Run(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "bench: consumer: %v\n", err)
		}
	}()
	v.stop = func() { cancel(); <-done }
}

func (v *variant) stopConsumer() {
	if v.stop != nil {
		v.stop()
		v.stop = nil
	}
}

// round runs pgbench once on v; for the WAL engine it then waits until
// the trail caught up (the drain time).
func (b *bench) round(ctx context.Context, v *variant) error {
	var before int64
	if err := v.pool.QueryRow(ctx, `SELECT pg_current_wal_lsn() - '0/0'::pg_lsn`).Scan(&before); err != nil {
		return err
	}
	args := []string{"-n", "-M", "simple", "-c", strconv.Itoa(b.o.Clients), "-j", "2",
		"-T", strconv.Itoa(max(1, int(b.o.Duration.Seconds()))), "-f", v.script, v.url}
	data := filepath.Join(b.cluster.Dir, "data")
	trail, err := consumerBackends(ctx, v.pool)
	if err != nil {
		return err
	}
	cpu0, cpuErr := sampleCPU(data, trail)
	client := exec.CommandContext(ctx, "pgbench", args...)
	out, err := client.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgbench: %v\n%s", err, out)
	}
	end := time.Now()
	var after int64
	if err := v.pool.QueryRow(ctx, `SELECT pg_current_wal_lsn() - '0/0'::pg_lsn`).Scan(&after); err != nil {
		return err
	}
	m, n := tpsRE.FindSubmatch(out), txRE.FindSubmatch(out)
	if m == nil || n == nil {
		return fmt.Errorf("pgbench printed no tps:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(bytes.TrimSpace(m[1])), 64)
	txs, _ := strconv.ParseFloat(string(bytes.TrimSpace(n[1])), 64)
	v.tps = append(v.tps, tps)
	v.walPerTx = append(v.walPerTx, float64(after-before)/txs)
	if v.wal {
		if err := waitCaughtUp(ctx, v.pool, v.slot, 10*time.Minute); err != nil {
			return err
		}
		v.drain = append(v.drain, float64(time.Since(end).Milliseconds()))
	}
	if cpu1, err := sampleCPU(data, trail); err == nil && cpuErr == nil {
		d, ms := cpu1.sub(cpu0), 1000/txs
		v.cpu = append(v.cpu, cpuTimes{d.backends * ms, d.trail * ms, d.walsender * ms, d.background * ms, d.self * ms})
		used := client.ProcessState.UserTime() + client.ProcessState.SystemTime()
		v.pgbench = append(v.pgbench, used.Seconds()*ms)
	}
	return nil
}

// consumerBackends returns the pids of the backends serving the
// consumers (their trail and catalog connections; the walsenders are
// counted apart).
func consumerBackends(ctx context.Context, pool *pgxpool.Pool) (map[int]bool, error) {
	rows, err := pool.Query(ctx, `SELECT pid FROM pg_catalog.pg_stat_activity
		WHERE application_name LIKE 'threadline capture%' AND backend_type = 'client backend'`)
	if err != nil {
		return nil, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	out := map[int]bool{}
	for _, p := range pids {
		out[int(p)] = true
	}
	return out, nil
}

// waitCaughtUp waits until the slot confirmed the current WAL position.
func waitCaughtUp(ctx context.Context, pool *pgxpool.Pool, slot string, timeout time.Duration) error {
	var target string
	if err := pool.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&target); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1`, slot, target).Scan(&ok); err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slot %s did not reach %s in %s", slot, target, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bulkResult is the bulk UPDATE's figures, in milliseconds, by variant.
type bulkResult struct {
	stmt  map[string][]float64
	drain []float64
}

// bulk times one UPDATE of BulkRows rows per variant and round (a table
// of its own in each database), and for the WAL engine the time from its
// commit until the trail holds every change.
func (b *bench) bulk(ctx context.Context) (bulkResult, error) {
	res := bulkResult{stmt: map[string][]float64{}}
	names := []string{"unaudited", "trigger", "wal"}
	pools := map[string]*pgxpool.Pool{}
	var walVariant *variant
	for _, name := range names {
		u, err := b.cluster.NewDatabase(ctx, "bulk_"+name)
		if err != nil {
			return res, err
		}
		pool, err := pgxpool.New(ctx, u)
		if err != nil {
			return res, err
		}
		defer pool.Close()
		pools[name] = pool
		if _, err := pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, label text NOT NULL);
INSERT INTO items SELECT g, 0, 'item ' || g FROM generate_series(1, %d) AS g`, b.o.BulkRows)); err != nil {
			return res, err
		}
		if _, err := pool.Exec(ctx, `VACUUM ANALYZE items`); err != nil {
			return res, err
		}
		switch name {
		case "trigger":
			err = harnessbench.Install(ctx, pool, "engine: trigger\n", "  items: {}\n")
		case "wal":
			if err = harnessbench.Install(ctx, pool, "engine: wal\n", "  items: {}\n"); err == nil {
				_, err = pool.Exec(ctx, `SELECT pg_create_logical_replication_slot('bench_bulk', 'pgoutput')`)
			}
			walVariant = &variant{name: "bulk-wal", url: u, pool: pool, slot: "bench_bulk"}
			walVariant.startConsumer(b.socketURL("bulk_"+name), b.o)
			defer walVariant.stopConsumer()
		}
		if err != nil {
			return res, err
		}
	}
	for i := 0; i < b.o.Rounds; i++ {
		for j := range names {
			name := names[(i+j)%len(names)]
			pool := pools[name]
			start := time.Now()
			if _, err := pool.Exec(ctx, `UPDATE items SET qty = qty + 1`); err != nil {
				return res, err
			}
			took := time.Since(start)
			res.stmt[name] = append(res.stmt[name], float64(took.Milliseconds()))
			if name == "wal" {
				if err := waitCaughtUp(ctx, pool, "bench_bulk", 10*time.Minute); err != nil {
					return res, err
				}
				res.drain = append(res.drain, float64(time.Since(start.Add(took)).Milliseconds()))
			}
			if _, err := pool.Exec(ctx, `VACUUM items`); err != nil {
				return res, err
			}
		}
		fmt.Fprintf(b.log, "bench: bulk round %d: unaudited %.0f ms, trigger %.0f ms, wal %.0f ms (drained %.0f ms later)\n", i+1,
			res.stmt["unaudited"][i], res.stmt["trigger"][i], res.stmt["wal"][i], res.drain[i])
	}
	return res, nil
}

func median(xs []float64) (med, lo, hi float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0, 0, 0
	}
	med = s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return med, s[0], s[len(s)-1]
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (b *bench) print(w io.Writer, vs []*variant, bulk bulkResult) {
	base, trig, wal := vs[0], vs[1], vs[2]
	ratio := func(v *variant) (float64, float64, float64) {
		r := make([]float64, len(v.tps))
		for i := range r {
			r[i] = v.tps[i] / base.tps[i]
		}
		return median(r)
	}
	fmt.Fprintf(w, "TPC-B, scale %d, %d clients, %d interleaved rounds of %s (private cluster, wal_level = logical)\n\n", b.o.Scale, b.o.Clients, b.o.Rounds, b.o.Duration)
	fmt.Fprintln(w, "| variant | tps, median | ratio to unaudited, median (range) | WAL B/tx |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, v := range vs {
		tps, _, _ := median(v.tps)
		r, lo, hi := ratio(v)
		wpt, _, _ := median(v.walPerTx)
		fmt.Fprintf(w, "| %s | %.0f | %.3f (%.3f–%.3f) | %.0f |\n", v.name, tps, r, lo, hi, wpt)
	}
	b.printCPU(w, vs)
	tr, _, _ := ratio(trig)
	wr, _, _ := ratio(wal)
	wal.mu.Lock()
	p50, p99 := percentile(wal.lags, 0.5), percentile(wal.lags, 0.99)
	n := len(wal.lags)
	wal.mu.Unlock()
	dr, dlo, dhi := median(wal.drain)
	fmt.Fprintf(w, "\nWAL engine: %.2fx the trigger engine's ratio (target >= 1.2x); ratio %.3f (target >= 0.75)\n", wr/tr, wr)
	fmt.Fprintf(w, "commit-to-visible lag under load (%d transactions): p50 %s, p99 %s (target p99 <= 1 s); drain after a round: median %.0f ms (%.0f–%.0f)\n",
		n, p50.Round(time.Millisecond), p99.Round(time.Millisecond), dr, dlo, dhi)
	// Each round's ratio to the same round's unaudited statement.
	paired := func(name string) (float64, float64, float64) {
		r := make([]float64, len(bulk.stmt[name]))
		for i := range r {
			r[i] = bulk.stmt[name][i] / bulk.stmt["unaudited"][i]
		}
		return median(r)
	}
	u, _, _ := median(bulk.stmt["unaudited"])
	t, _, _ := median(bulk.stmt["trigger"])
	wm, _, _ := median(bulk.stmt["wal"])
	tr2, tlo, thi := paired("trigger")
	wr2, wlo, whi := paired("wal")
	d, dlo, dhi := median(bulk.drain)
	fmt.Fprintf(w, "\nbulk UPDATE of %d rows, %d rounds (medians; ratio: median of each round's ratio to its unaudited run):\n", b.o.BulkRows, b.o.Rounds)
	fmt.Fprintf(w, "unaudited %.0f ms; trigger %.0f ms (%.2fx, %.2f–%.2f); wal %.0f ms (%.2fx, %.2f–%.2f, target <= 1.3x); wal trail complete %.0f ms after commit (%.0f–%.0f), %.0f changes/s\n",
		u, t, tr2, tlo, thi, wm, wr2, wlo, whi, d, dlo, dhi, float64(b.o.BulkRows)/(d/1000))
}

// printCPU prints the CPU per transaction by kind of process, medians of
// the rounds (nothing when /proc could not be read).
func (b *bench) printCPU(w io.Writer, vs []*variant) {
	if len(vs[0].cpu) == 0 {
		return
	}
	fmt.Fprintln(w, "\nCPU per transaction, ms (medians of the rounds): the cluster's backends (with exited children: the")
	fmt.Fprintln(w, "connections, autovacuum workers), the backends serving the consumers (their trail and catalog connections),")
	fmt.Fprintln(w, "its walsenders (every slot of the cluster reads all of its WAL), its other background processes, pgbench,")
	fmt.Fprintln(w, "and this process (the WAL engines' consumers)")
	fmt.Fprintln(w, "\n| variant | backends | consumers' backends | walsenders | background | pgbench | consumers | total |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, v := range vs {
		col := func(f func(cpuTimes) float64) float64 {
			xs := make([]float64, len(v.cpu))
			for i, c := range v.cpu {
				xs[i] = f(c)
			}
			m, _, _ := median(xs)
			return m
		}
		be, tr := col(func(c cpuTimes) float64 { return c.backends }), col(func(c cpuTimes) float64 { return c.trail })
		ws := col(func(c cpuTimes) float64 { return c.walsender })
		bg, self := col(func(c cpuTimes) float64 { return c.background }), col(func(c cpuTimes) float64 { return c.self })
		pb, _, _ := median(v.pgbench)
		fmt.Fprintf(w, "| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", v.name, be, tr, ws, bg, pb, self, be+tr+ws+bg+pb+self)
	}
}
