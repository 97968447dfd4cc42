package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/runtime/threadlinecapture"
	"github.com/threadline-go/threadline/sqltemplates"
)

type captureArgs struct {
	health       string
	batchChanges int
	spillChanges int
	batchDelay   time.Duration
	logLevel     string
	logJSON      bool
	progress     time.Duration
}

func captureFlags(fs *flag.FlagSet) func(*cli) int {
	var a captureArgs
	fs.StringVar(&a.health, "health", "", "serve GET /healthz (JSON status; 503 when not streaming) on `ADDR`, e.g. 127.0.0.1:8471")
	fs.IntVar(&a.batchChanges, "batch-changes", 5000, "write a batch once it holds `N` changes")
	fs.IntVar(&a.spillChanges, "spill-changes", 10000, "stage a transaction in the audit database while it arrives, `N` changes at a time, once it holds more (bounds memory)")
	fs.DurationVar(&a.batchDelay, "batch-delay", 200*time.Millisecond, "write a batch once its oldest transaction waited this long")
	fs.StringVar(&a.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&a.logJSON, "log-json", false, "log JSON lines instead of text")
	fs.DurationVar(&a.progress, "progress", 10*time.Second, "log a progress line (counts, lag, WAL behind) this often")
	return func(c *cli) int { return c.capture(a) }
}

// capture runs threadline capture: the WAL engine's consumer, until
// SIGINT or SIGTERM (then it writes and confirms what it holds).
func (c *cli) capture(a captureArgs) int {
	if err := c.loadConfig(); err != nil {
		return c.fail("%v", err)
	}
	if c.cfg.Engine != config.EngineWAL {
		return c.fail("%s: engine is %s: threadline capture reads the WAL of engine: wal (docs/scaling.md)", c.configPath, c.cfg.Engine)
	}
	src, err := c.databaseSource()
	if err != nil {
		return c.fail("%v", err)
	}
	c.url = src
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return c.usageError("-log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(c.stderr, opts)
	if a.logJSON {
		h = slog.NewJSONHandler(c.stderr, opts)
	}
	log := slog.New(h)
	consumer := threadlinecapture.New(threadlinecapture.Config{
		SourceURL: src, AuditURL: c.cfg.WAL.AuditDatabaseURL, AuditSchema: c.cfg.AuditSchema,
		Slot: c.cfg.WAL.Slot, Publication: c.cfg.WAL.Publication, AuditStore: c.auditStore(),
		BatchChanges: a.batchChanges, SpillChanges: a.spillChanges, BatchDelay: a.batchDelay, ProgressInterval: a.progress, Logger: log,
	})
	if a.health != "" {
		stop, err := serveHealth(c.ctx, a.health, consumer, log)
		if err != nil {
			return c.fail("health endpoint: %v", err)
		}
		defer stop()
	}
	if err := consumer.Run(c.ctx); err != nil {
		return c.fail("%v", err)
	}
	st := consumer.Status()
	log.Info("threadline capture: stopped", "transactions", st.Transactions, "changes", st.Changes, "flushed_lsn", st.Flushed)
	return 0
}

// serveHealth serves the consumer's status on addr until stop is called.
func serveHealth(ctx context.Context, addr string, consumer *threadlinecapture.Consumer, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		st := consumer.Status()
		w.Header().Set("Content-Type", "application/json")
		if !st.Streaming {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(st)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("threadline capture: health endpoint", "err", err)
		}
	}()
	log.Info(fmt.Sprintf("threadline capture: health on http://%s/healthz", ln.Addr()))
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}

// auditStore returns, for a trail on another database
// (wal.audit_database_url), the statements that install the audit schema
// there when it lacks one: the tables, indexes and functions the install
// migration creates, with grants for the reader and retention roles only
// (the application's writer roles get nothing on the trail's database).
func (c *cli) auditStore() []string {
	if c.cfg.WAL.AuditDatabaseURL == "" {
		return nil
	}
	names := func(ns []config.Name) []string {
		out := make([]string, len(ns))
		for i, n := range ns {
			out[i] = n.Value
		}
		return out
	}
	unit := map[string]string{config.PartitionsDaily: "day", config.PartitionsWeekly: "week", config.PartitionsMonthly: "month"}[c.cfg.Storage.Partitions]
	st := sqltemplates.Storage{Unit: unit, Premake: c.cfg.Storage.Premake, Retention: c.cfg.Retention.Window()}
	g := sqltemplates.Grants{Readers: names(c.cfg.Privileges.ReaderRoles), Retention: names(c.cfg.Privileges.RetentionRoles)}
	return append(sqltemplates.Install(c.cfg.AuditSchema, g, st), sqltemplates.RevokeFunctions(c.cfg.AuditSchema))
}
