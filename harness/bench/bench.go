// Package bench implements threadline-bench: workloads that measure the
// cost of Threadline's capture against the same work unaudited, in one run,
// interleaved, reporting medians and spreads of ratios.
//
// Like every package under harness/, it is this repository's own test and
// benchmark tooling, not part of Threadline's API: it may change or go at
// any commit (see the compatibility policy in README.md).
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/dburl"
	"github.com/threadline-go/threadline/schema"
)

// Options are the benchmark's flags.
type Options struct {
	AdminURL  string
	Workloads map[string]bool
	Rounds    int
	Quick     bool
	// TPC-B
	Scale    int
	Clients  int
	Duration time.Duration
	// Bulk statements
	BulkRows int
	// Lookups, timeline, viewer pages, export, purge
	AuditRows int
	// Generation
	GenTables int
	// SoakDuration is the length of the soak workload.
	SoakDuration time.Duration
	Keep         bool
}

var allWorkloads = []string{"tpcb", "bulk", "single", "hotrow", "lookup", "viewer", "export", "purge", "purgelock", "seal", "generate", "soak"}

// Result is one printed line.
type Result struct {
	Workload string
	Metric   string
	// Unaudited and Audited are the medians of the raw figures (empty when
	// the workload has no unaudited twin).
	Unaudited, Audited string
	// Ratio is the median audited/unaudited ratio, or the absolute figure.
	Ratio  string
	Spread string
	Target string
}

// Run parses args and runs the selected workloads.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	r := &runner{o: o, log: stderr}
	defer r.cleanup()
	var results []Result
	for _, w := range allWorkloads {
		if !o.Workloads[w] {
			continue
		}
		fmt.Fprintf(stderr, "bench: %s …\n", w)
		res, err := r.run(ctx, w)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %s: %v\n", w, err)
			return 1
		}
		results = append(results, res...)
	}
	printResults(stdout, o, results)
	return 0
}

func parseFlags(args []string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet("threadline-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := Options{}
	def := os.Getenv("THREADLINE_BENCH_DATABASE_URL")
	if def == "" {
		def = os.Getenv("THREADLINE_TEST_DATABASE_URL")
	}
	if def == "" {
		def = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	fs.StringVar(&o.AdminURL, "database-url", def, "server to create benchmark databases on (a role that may CREATE DATABASE)")
	workloads := fs.String("workloads", strings.Join(allWorkloads, ","), "comma-separated workloads: "+strings.Join(allWorkloads, ", "))
	fs.IntVar(&o.Rounds, "rounds", 5, "interleaved rounds per workload")
	fs.BoolVar(&o.Quick, "quick", false, "small sizes and short runs (CI)")
	fs.IntVar(&o.Scale, "scale", 10, "pgbench scale factor")
	fs.IntVar(&o.Clients, "clients", 4, "pgbench clients")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "pgbench run length per round")
	fs.IntVar(&o.BulkRows, "bulk-rows", 100_000, "rows per bulk statement")
	fs.IntVar(&o.AuditRows, "audit-rows", 10_000_000, "audit rows for lookup, timeline and viewer pages")
	fs.IntVar(&o.GenTables, "gen-tables", 200, "tables in the generated schema for the generation workload")
	fs.DurationVar(&o.SoakDuration, "soak-duration", time.Minute, "length of the 32-writer soak workload")
	fs.BoolVar(&o.Keep, "keep", false, "keep the benchmark databases")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "threadline-bench: unexpected argument %q\n", fs.Arg(0))
		return o, fmt.Errorf("usage")
	}
	o.Workloads = map[string]bool{}
	for _, w := range strings.Split(*workloads, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		if !contains(allWorkloads, w) {
			fmt.Fprintf(stderr, "threadline-bench: unknown workload %q (have %s)\n", w, strings.Join(allWorkloads, ", "))
			return o, fmt.Errorf("usage")
		}
		o.Workloads[w] = true
	}
	if o.Quick {
		o.Rounds = min(o.Rounds, 2)
		o.Scale = 1
		o.Duration = 2 * time.Second
		o.BulkRows = 10_000
		o.AuditRows = 100_000
		o.GenTables = 200
		o.SoakDuration = 3 * time.Second
	}
	if o.Rounds < 1 {
		o.Rounds = 1
	}
	return o, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type runner struct {
	o     Options
	log   io.Writer
	dbs   []string
	pools []*pgxpool.Pool
}

func (r *runner) run(ctx context.Context, w string) ([]Result, error) {
	switch w {
	case "tpcb":
		return r.tpcb(ctx)
	case "seal":
		return r.seal(ctx)
	case "bulk":
		return r.bulk(ctx)
	case "single":
		return r.single(ctx)
	case "hotrow":
		return r.hotRow(ctx)
	case "lookup":
		return r.lookup(ctx)
	case "viewer":
		return r.viewer(ctx)
	case "export":
		return r.export(ctx)
	case "purge":
		return r.purge(ctx)
	case "purgelock":
		return r.purgeLock(ctx)
	case "generate":
		return r.generate(ctx)
	case "soak":
		return r.soakRun(ctx)
	}
	return nil, fmt.Errorf("unknown workload %q", w)
}

// createDB makes a new database and returns its URL and a pool on it.
func (r *runner) createDB(ctx context.Context, prefix string) (string, *pgxpool.Pool, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "tl_bench_" + prefix + "_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, r.o.AdminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", dburl.Redact(r.o.AdminURL), err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	r.dbs = append(r.dbs, name)
	u, err := url.Parse(r.o.AdminURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		return "", nil, err
	}
	r.pools = append(r.pools, pool)
	return u.String(), pool, nil
}

func (r *runner) cleanup() {
	for _, p := range r.pools {
		p.Close()
	}
	if r.o.Keep || len(r.dbs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, r.o.AdminURL)
	if err != nil {
		return
	}
	defer admin.Close(ctx)
	for _, n := range r.dbs {
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
	}
}

// Install generates the capture install for the config's top-level
// extraYAML (e.g. "engine: wal\n") and tablesYAML (the body of "tables:")
// from the live schema of pool's database with the real generator, and
// applies it. threadline-bench's workloads and its wal command use it.
func Install(ctx context.Context, pool *pgxpool.Pool, extraYAML, tablesYAML string) error {
	dir, err := os.MkdirTemp("", "threadline-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfgText := "version: 1\nschema:\n  database_url: unused\nmigrations:\n  dir: migrations\n  format: plain\npackage:\n  dir: audit\n" +
		extraYAML + "tables:\n" + tablesYAML
	cfg, err := config.Parse(filepath.Join(dir, "threadline.yaml"), []byte(cfgText), func(string) string { return "" })
	if err != nil {
		return err
	}
	s, err := schema.LoadLive(ctx, pool, schema.LiveOptions{ExcludeSchemas: []string{cfg.AuditSchema}})
	if err != nil {
		return err
	}
	out, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Now: time.Now, Migrations: map[string][]byte{}})
	if err != nil {
		return err
	}
	for _, f := range out.Migrations {
		if strings.HasSuffix(f.Path, ".up.sql") {
			if _, err := pool.Exec(ctx, string(f.Content)); err != nil {
				return fmt.Errorf("apply capture: %w", err)
			}
		}
	}
	return nil
}

// interleave runs the sides of round i (the unaudited one first), starting
// with side i mod n and wrapping around, so that drift in the machine's
// speed hits every side alike.
func interleave(i int, sides ...func() error) error {
	for j := range sides {
		if err := sides[(i+j)%len(sides)](); err != nil {
			return err
		}
	}
	return nil
}

// stats summarises samples: median and the min–max spread.
type stats struct{ median, lo, hi float64 }

func summarize(xs []float64) stats {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return stats{}
	}
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return stats{median: m, lo: s[0], hi: s[n-1]}
}

func percentile(xs []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	i := int(p * float64(len(s)-1))
	return s[i]
}

func printResults(w io.Writer, o Options, results []Result) {
	mode := "full"
	if o.Quick {
		mode = "quick"
	}
	fmt.Fprintf(w, "threadline-bench (%s mode, %d rounds)\n\n", mode, o.Rounds)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tmetric\tunaudited\taudited\tratio or value (median)\tspread\ttarget")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Workload, r.Metric, dash(r.Unaudited), dash(r.Audited), r.Ratio, dash(r.Spread), dash(r.Target))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
