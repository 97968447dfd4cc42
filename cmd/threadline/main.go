// Command threadline is Threadline's operator CLI: export the audit trail,
// purge it by the retention policy, check capture coverage and drift,
// report brownfield continuity, and diagnose an installation.
//
// Usage:
//
//	threadline export     --format csv|json|ndjson --output FILE [filters] [--max-rows N] [--stream] [--force] [--csv-formula-guard=false] [--with-proof [--proof-head HEX]]
//	threadline purge      --dry-run | --execute [--batch-size N] [--max-batches N]
//	threadline maintain   [--json]
//	threadline seal       [--json] [--head-file FILE]
//	threadline verify     [--head HEX] [--from-seal N] [--json] | --proof FILE --head HEX
//	threadline coverage   [--json]
//	threadline continuity [--table NAME] [--exact] [--baseline [--label TEXT]] [--json]
//	threadline doctor
//	threadline serve      [-addr 127.0.0.1:8470] [-token TOKEN]
//	threadline capture    [-health ADDR] [-batch-changes N] [-batch-delay D] [-log-level L] [-log-json]
//	threadline version
//
// Every command takes -config FILE (default threadline.yaml) and
// -database-url URL. The database URL comes from -database-url, else
// schema.database_url in the config, else the DATABASE_URL environment
// variable; messages never show its password.
//
// Exit codes: 0 ok, 1 failure or violation, 2 usage error, 3 export
// truncated at --max-rows (the file holds the first N matching changes).
//
// Everything the CLI does is a function of the library, so services can do
// the same from a health endpoint or a scheduled job: export and feed are
// the runtime package's (threadline.Audit's Export and ExportFeed); purge,
// maintain, seal, verify, coverage, continuity and the partition checks of
// doctor are runtime/threadlineops' (threadlineops.Audit's PurgePlan,
// Purge, Maintain, Seal, Verify, WriteProofs, Coverage, Continuity,
// Baseline and PartitionHealth); serve mounts runtime/threadlineui.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/dburl"
	"github.com/threadline-go/threadline/internal/tlerr"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "devel"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what run needs from the process, injectable in tests.
type env struct {
	getenv func(string) string
	// terminal reports whether progress may be drawn on w.
	terminal func(w io.Writer) bool
	// exportProgress, when set, is called with the export's progress (tests
	// use it to interrupt an export).
	exportProgress func(rows int64)
	// beforeCursorWrite, when set, runs between a feed run's output and
	// its cursor write; an error stops the run there (tests use it to
	// crash at the worst moment).
	beforeCursorWrite func() error
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, stdout, stderr, env{getenv: os.Getenv, terminal: isTerminal})
}

// isTerminal reports whether w is a character device (a terminal), the
// only place progress is drawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

const usage = `usage: threadline <command> [flags]

commands:
  export      write captured changes to a file (csv, json, ndjson)
  purge       delete audit rows older than the retention window (--dry-run or --execute)
  seal        extend the tamper-evident hash chain over newly committed audit data
  maintain    partitioned storage: create partitions ahead, move rows out of the default partitions
  verify      recompute the hash chain; exit 1 naming the first change that no longer matches
  coverage    check that the expected tables are captured, and not stale or disabled
  continuity  say where each audited table's history starts; optionally take a baseline
  doctor      check config, database, coverage, generated files and retention
  serve       serve the read-only audit viewer in a browser (token required)
  capture     engine: wal: consume the replication slot and write the trail (runs until SIGINT/SIGTERM)
  version     print the version

Every command takes -config FILE (default threadline.yaml) and -database-url URL
(default: schema.database_url in the config, else $DATABASE_URL).
Run "threadline <command> -help" for its flags.
Exit codes: 0 ok, 1 failure, 2 usage, 3 export truncated at -max-rows.
`

// usageHint follows a usage error of the command line as a whole.
const usageHint = `run "threadline -help" for the commands
`

// command is one subcommand.
type command struct {
	summary string
	// flags declares the command's own flags and returns the function
	// that runs it.
	flags func(fs *flag.FlagSet) func(c *cli) int
}

var commands = map[string]command{
	"export":     {"write captured changes to a file", exportFlags},
	"purge":      {"delete audit rows older than the retention window", purgeFlags},
	"seal":       {"extend the tamper-evident hash chain over newly committed audit data", sealFlags},
	"maintain":   {"create the audit partitions ahead and move rows out of the default partitions", maintainFlags},
	"verify":     {"recompute the hash chain and name what no longer matches", verifyFlags},
	"coverage":   {"check capture coverage of the expected tables", coverageFlags},
	"continuity": {"report where each audited table's history starts", continuityFlags},
	"doctor":     {"check the whole installation", doctorFlags},
	"serve":      {"serve the read-only audit viewer", serveFlags},
	"capture":    {"engine: wal: consume the replication slot and write the trail", captureFlags},
}

// cli is the state shared by the commands.
type cli struct {
	ctx            context.Context
	stdout, stderr io.Writer
	env            env
	name           string
	configPath     string
	databaseURL    string

	cfg  *config.Config
	pool *pgxpool.Pool
	url  string
	// connParams are extra session settings for connect.
	connParams map[string]string
	// dutyOverride, when set, is what the command needs of its role
	// instead of what its name says (duty).
	dutyOverride *tlerr.Duty
}

func runEnv(ctx context.Context, args []string, stdout, stderr io.Writer, e env) int {
	if e.getenv == nil {
		e.getenv = func(string) string { return "" }
	}
	if e.terminal == nil {
		e.terminal = func(io.Writer) bool { return false }
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	name, args := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "threadline %s\n", version)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "threadline: unknown command %q\n%s", name, usageHint)
		return 2
	}
	c := &cli{ctx: ctx, stdout: stdout, stderr: stderr, env: e, name: name}
	fs := flag.NewFlagSet("threadline "+name, flag.ContinueOnError)
	fs.StringVar(&c.configPath, "config", "threadline.yaml", "path to threadline.yaml")
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL URL (default: schema.database_url in the config, else $DATABASE_URL)")
	runCmd := cmd.flags(fs)
	// The flag package reports its own errors and prints the usage on
	// them; here -help prints the usage to standard output and any other
	// problem is one line plus a hint (usageError).
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: threadline %s [flags]\n\n%s.\n\nflags:\n", name, cmd.summary)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		return c.usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return c.usageError("unexpected argument %q", fs.Arg(0))
	}
	defer func() {
		if c.pool != nil {
			c.pool.Close()
		}
	}()
	return runCmd(c)
}

// usageError reports a usage problem, with a hint where the flags are
// described, and returns exit code 2.
func (c *cli) usageError(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "threadline %s: %s\nrun \"threadline %s -help\" for its flags\n", c.name, fmt.Sprintf(format, args...), c.name)
	return 2
}

// fail reports a failure and returns exit code 1. Any password of the
// database URL is removed from the message, and so is the runtime's
// "threadline: " prefix, which the command name already says. A
// permission error among args is followed by a hint line naming the role
// section of threadline.yaml to use and the current role
// (permissionHint).
func (c *cli) fail(format string, args ...any) int {
	msg := strings.TrimPrefix(fmt.Sprintf(format, args...), "threadline: ")
	fmt.Fprintf(c.stderr, "threadline %s: %s\n", c.name, c.redact(msg))
	if hint := c.permissionHint(args...); hint != "" {
		fmt.Fprintf(c.stderr, "hint: %s\n", hint)
	}
	return 1
}

// redact removes the password of the database URL from s.
func (c *cli) redact(s string) string { return dburl.RedactIn(s, c.url, c.databaseURL) }

// loadConfig reads the config file.
func (c *cli) loadConfig() error {
	cfg, err := config.LoadEnv(c.configPath, c.env.getenv)
	if err != nil {
		return err
	}
	c.cfg = cfg
	return nil
}

// audit returns the runtime handle for the configured audit schema.
func (c *cli) audit() threadline.Audit {
	return threadline.Audit{Schema: c.cfg.AuditSchema}
}

// ops returns the operations handle for the configured audit schema.
func (c *cli) ops() threadlineops.Audit { return threadlineops.Audit{Schema: c.audit().Schema} }

// databaseSource picks the database URL: the flag, the config, the
// environment.
func (c *cli) databaseSource() (string, error) {
	switch {
	case c.databaseURL != "":
		return c.databaseURL, nil
	case c.cfg != nil && c.cfg.Schema.DatabaseURL != "":
		return c.cfg.Schema.DatabaseURL, nil
	case c.env.getenv("DATABASE_URL") != "":
		return c.env.getenv("DATABASE_URL"), nil
	}
	return "", errors.New("no database URL: pass -database-url, set schema.database_url in threadline.yaml, or set DATABASE_URL")
}

// connect opens a pool and checks that the database answers.
func (c *cli) connect() error {
	u, err := c.databaseSource()
	if err != nil {
		return err
	}
	c.url = u
	pcfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		return fmt.Errorf("database URL %s: %v", dburl.Redact(u), c.redact(err.Error()))
	}
	pcfg.MaxConns = 4
	for k, v := range c.connParams {
		pcfg.ConnConfig.RuntimeParams[k] = v
	}
	pool, err := pgxpool.NewWithConfig(c.ctx, pcfg)
	if err == nil {
		pctx, cancel := context.WithTimeout(c.ctx, 15*time.Second)
		err = pool.Ping(pctx)
		cancel()
		if err != nil {
			pool.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %s", dburl.Redact(u), c.redact(err.Error()))
	}
	c.pool = pool
	return nil
}

// setup loads the config and connects, reporting failures.
func (c *cli) setup() (code int, ok bool) {
	if err := c.loadConfig(); err != nil {
		return c.fail("%v", err), false
	}
	if err := c.connect(); err != nil {
		return c.fail("%v", err), false
	}
	return 0, true
}
