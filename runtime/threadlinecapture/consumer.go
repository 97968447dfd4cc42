// Package threadlinecapture is the WAL capture engine's consumer
// (engine: wal): it decodes the pgoutput stream of a logical replication
// slot and writes the same audit trail the trigger engine writes. The
// `threadline capture` command runs it; embed it in your own binary to
// add hooks (OpenTelemetry: contrib/otel) or run it beside other work:
//
//	c := threadlinecapture.New(threadlinecapture.Config{
//		SourceURL: os.Getenv("DATABASE_URL"), // a role with REPLICATION
//		Hooks:     otelHooks.Capture,
//	})
//	err := c.Run(ctx) // until ctx ends: then it writes what it holds
//
// Delivery is at least once from the slot and exactly once in the trail:
// whole source transactions are written in batches, each batch in one
// audit-database transaction that also records, in audit_wal_progress,
// the end position of the last source transaction it holds; a replayed
// transaction at or before that position is skipped, and the slot's
// flush position is confirmed only after the batch committed.
//
// Images are built in the audit database from the stream's text values,
// cast to each column's type and passed to to_jsonb, so they are the
// trigger engine's to_jsonb images byte for byte (arrays, timestamptz,
// numeric, bool, json, bytea…) without a Go re-implementation of every
// type's JSON form. Excluded columns never leave the consumer: only the
// fact that they changed (a text comparison in Go) does.
//
// docs/wal-engine.md is the operator's guide: set-up, guarantees, what
// can go wrong and how threadline doctor reports it.
package threadlinecapture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
)

// Config configures a Consumer.
type Config struct {
	// SourceURL connects to the captured database (the slot's database).
	SourceURL string
	// AuditURL connects to the database that holds the trail; "" means
	// SourceURL.
	AuditURL string
	// AuditSchema holds the audit tables (default "threadline").
	AuditSchema string
	// Slot and Publication name the replication slot (created when
	// missing) and the publication the generated migrations wrote.
	Slot, Publication string
	// BatchChanges closes a batch once it holds this many changes
	// (default 5000); BatchDelay once its oldest transaction waited this
	// long (default 200 ms: fewer, larger audit commits cost the
	// application's writes less; docs/benchmarks.md).
	BatchChanges int
	BatchDelay   time.Duration
	// SpillChanges bounds the consumer's memory: a source transaction
	// holding more changes than this is staged in the audit database
	// while it arrives, this many changes at a time, in the audit
	// transaction that writes it (default 10,000). Whatever the size of
	// the transactions written, the consumer then holds at most about
	// BatchChanges + SpillChanges changes (twice BatchChanges while a
	// batch is written).
	SpillChanges int
	// StatusInterval is how often the consumer reports its position to
	// the server when nothing else makes it (default 1 s).
	StatusInterval time.Duration
	// ProgressInterval is how often a progress line is logged at info
	// level: counts, lag and WAL behind (default 10 s).
	ProgressInterval time.Duration
	// Logger receives progress and problems (default slog.Default()).
	Logger *slog.Logger
	// AuditStore, when set, installs the audit schema on the audit
	// database when it lacks one (a trail on another database:
	// sqltemplates.Install and RevokeFunctions of the config's audit
	// schema). Run in one transaction before the first batch.
	AuditStore []string
	// Hooks are called as batches are written (metrics, traces).
	Hooks Hooks
}

// Hooks receive the consumer's events; a nil field is not called. They
// run on the consumer's goroutine, between reads of the stream: keep them
// short (record a metric, end a span), or the slot falls behind.
type Hooks struct {
	// BatchWritten is called after each batch write: committed (Err nil)
	// or failed (Err set; the consumer then stops with that error).
	BatchWritten func(ctx context.Context, e BatchEvent)
}

// BatchEvent describes one batch write.
type BatchEvent struct {
	// Slot is the replication slot the batch was read from.
	Slot string
	// Transactions is the number of source transactions in the batch,
	// Changes the number of changes stored (no-op updates dropped).
	Transactions int
	Changes      int
	// Commits are the source commit times of the batch's transactions,
	// oldest first: Start+Duration minus a commit time is that
	// transaction's commit-to-visible lag.
	Commits []time.Time
	// EndLSN is the end of the batch's last source transaction: the
	// slot's position once the batch committed.
	EndLSN string
	// Start is when the write began, Duration how long it took.
	Start    time.Time
	Duration time.Duration
	// Err is the write's error, if it failed.
	Err error
}

func (c *Config) defaults() {
	if c.AuditURL == "" {
		c.AuditURL = c.SourceURL
	}
	if c.AuditSchema == "" {
		c.AuditSchema = "threadline"
	}
	if c.Slot == "" {
		c.Slot = "threadline"
	}
	if c.Publication == "" {
		c.Publication = "threadline"
	}
	if c.BatchChanges <= 0 {
		c.BatchChanges = 5000
	}
	if c.SpillChanges <= 0 {
		c.SpillChanges = 10000
	}
	if c.BatchDelay <= 0 {
		c.BatchDelay = 200 * time.Millisecond
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = time.Second
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Status is a snapshot of the consumer's progress (the health endpoint's
// body).
type Status struct {
	// Slot is the replication slot the consumer reads.
	Slot string `json:"slot"`
	// Streaming is true while the replication stream is open.
	Streaming bool `json:"streaming"`
	// Flushed is the slot position confirmed to the server.
	Flushed string `json:"flushed_lsn"`
	// ServerEnd is the server's WAL end from its last message.
	ServerEnd string `json:"server_wal_end"`
	// Transactions and Changes count what was written since start.
	Transactions int64 `json:"transactions"`
	Changes      int64 `json:"changes"`
	// LastCommit is the commit time of the newest written transaction.
	LastCommit time.Time `json:"last_commit,omitzero"`
	// LastWrite is when the last batch committed.
	LastWrite time.Time `json:"last_write,omitzero"`
	// WALBehind is the WAL, in bytes, between the server's end and the
	// confirmed position: what the slot retains for this consumer.
	WALBehind int64 `json:"wal_behind_bytes"`
	// Err is the last error, if the consumer stopped on one.
	Err string `json:"error,omitempty"`
}

// Consumer reads one slot and writes the trail.
type Consumer struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	status Status
}

// New returns a consumer for cfg.
func New(cfg Config) *Consumer {
	cfg.defaults()
	return &Consumer{cfg: cfg, log: cfg.Logger, status: Status{Slot: cfg.Slot}}
}

// Status returns the consumer's progress.
func (c *Consumer) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

func (c *Consumer) setStatus(f func(*Status)) {
	c.mu.Lock()
	f(&c.status)
	c.mu.Unlock()
}

// Run consumes the slot until ctx ends (then it returns nil after writing
// and confirming what it holds) or an error stops it.
func (c *Consumer) Run(ctx context.Context) error {
	err := c.run(ctx)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = nil
	}
	c.setStatus(func(s *Status) {
		s.Streaming = false
		if err != nil {
			s.Err = err.Error()
		}
	})
	return err
}

func lsnString(l pglogrepl.LSN) string { return l.String() }

// errorf wraps err with what the consumer was doing.
func errorf(format string, args ...any) error {
	return fmt.Errorf("threadline capture: "+format, args...)
}
