package threadlineops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	threadline "github.com/threadline-go/threadline/runtime"
)

// Retention: Purge deletes audit rows older than a window, in short
// batches, and PurgePlan says exactly what a Purge would delete.
//
// What is deleted:
//
//   - audit_changes rows whose captured_at is strictly before the cutoff
//     (cutoff = now − Window, computed once when the run starts, from the
//     database clock unless PurgeOptions.Cutoff is set), oldest id first;
//   - when DeleteEmptyTransactions is set, audit_transactions rows that
//     have no change left, that started before the cutoff, and that are
//     not linked to an action recorded at or after the cutoff. A
//     transaction that is young, or that still has a change, or whose
//     action is inside the window, is kept.
//
// audit_actions rows are never deleted: an action whose transaction row
// was purged keeps its own actor, ids and texts (the transaction's
// action_id link goes with the transaction row).
//
// Purges are permanent. Take backups or point-in-time recovery into
// account when choosing the window.

// Retention defaults, used when a PurgePolicy leaves a field at zero.
const (
	DefaultPurgeBatchSize  = 500
	DefaultPurgeMaxBatches = 10000
)

// Errors of Purge.
var (
	// ErrRetentionDisabled is returned by Purge when the policy is not
	// enabled (retention.enabled: false). PurgePlan works regardless.
	ErrRetentionDisabled = errors.New("threadline: retention is disabled (set retention.enabled: true to purge)")
	// ErrPurgeRunning is returned (wrapped) by Purge when another purge of
	// the same audit schema holds the purge lock.
	ErrPurgeRunning = errors.New("threadline: another purge of this audit schema is running")
	// ErrInvalidPolicy is wrapped by errors about a PurgePolicy.
	ErrInvalidPolicy = errors.New("threadline: invalid retention policy")
)

// PurgePolicy is a retention policy (the retention section of
// threadline.yaml).
type PurgePolicy struct {
	// Enabled must be true for Purge to delete anything.
	Enabled bool
	// Window is how long audit rows are kept; it must be positive.
	Window time.Duration
	// BatchSize is the number of changes (or transactions) one batch
	// deletes; 0 means DefaultPurgeBatchSize.
	BatchSize int
	// MaxBatches bounds the number of change batches of one run; 0 means
	// DefaultPurgeMaxBatches.
	MaxBatches int
	// DeleteEmptyTransactions also deletes transactions left without
	// changes (see the package notes on retention for the exact rule).
	DeleteEmptyTransactions bool
}

func (p PurgePolicy) normalize() (PurgePolicy, error) {
	if p.Window <= 0 {
		return p, fmt.Errorf("%w: the window must be positive (set keep_days or max_age_seconds)", ErrInvalidPolicy)
	}
	if p.BatchSize < 0 || p.MaxBatches < 0 {
		return p, fmt.Errorf("%w: batch size and max batches must be positive", ErrInvalidPolicy)
	}
	if p.BatchSize == 0 {
		p.BatchSize = DefaultPurgeBatchSize
	}
	if p.MaxBatches == 0 {
		p.MaxBatches = DefaultPurgeMaxBatches
	}
	return p, nil
}

// PurgeOptions tunes Purge and PurgePlan.
type PurgeOptions struct {
	// Cutoff, when set, replaces now − Window (for tests, or to make a
	// dry run and a purge use the same cutoff).
	Cutoff time.Time
	// Logger receives one Debug line per batch (PurgeBatchMessage, with
	// batch, phase, deleted, deleted_transactions, elapsed) and an Info
	// summary (PurgeFinishedMessage; Error when the purge failed). nil
	// means slog.Default().
	Logger *slog.Logger
	// Progress, when set, is called after every batch.
	Progress func(PurgeProgress)
	// LockWait bounds how long Purge keeps retrying a lock another
	// session holds (a partition to drop that a long reader transaction
	// reads); 0 means DefaultLockWait. See ErrLockUnavailable.
	LockWait time.Duration
}

// lockWait returns o.LockWait or DefaultLockWait.
func (o PurgeOptions) lockWait() time.Duration {
	if o.LockWait > 0 {
		return o.LockWait
	}
	return DefaultLockWait
}

// PurgeProgress reports a running purge.
type PurgeProgress struct {
	// Phase is "changes" while changes are deleted, then "transactions".
	Phase string
	// DeletedChanges of TotalChanges eligible changes (TotalChanges counts
	// every eligible change, beyond MaxBatches too).
	DeletedChanges, TotalChanges int64
	// DeletedTransactions so far.
	DeletedTransactions int64
}

// PurgeResult reports a Purge, or what a PurgePlan would delete.
type PurgeResult struct {
	// DryRun is true for PurgePlan.
	DryRun bool `json:"dry_run"`
	// Cutoff: changes captured before it are eligible.
	Cutoff time.Time `json:"cutoff"`
	// DeletedChanges and DeletedTransactions are what was (or would be)
	// deleted.
	DeletedChanges      int64 `json:"deleted_changes"`
	DeletedTransactions int64 `json:"deleted_transactions"`
	// RemainingChanges are eligible changes left because MaxBatches was
	// reached; Capped is RemainingChanges > 0.
	RemainingChanges int64 `json:"remaining_changes"`
	Capped           bool  `json:"capped"`
	// Batches is the number of batches committed, change batches and
	// transaction batches together (PurgePlan: the number a purge would
	// take, barring concurrent writers).
	Batches int `json:"batches"`
	// Elapsed is the run time.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Partitions lists the partitions dropped whole (partitioned storage),
	// before the batches; PartitionChanges and PartitionTransactions are
	// their rows, counted in DeletedChanges and DeletedTransactions too.
	Partitions            []PartitionAction `json:"partitions,omitempty"`
	PartitionChanges      int64             `json:"partition_changes"`
	PartitionTransactions int64             `json:"partition_transactions"`
	// Seal is the seal that Purge wrote at its end to cover its purge
	// record, when the chain had begun (0 otherwise; see Purge).
	Seal int64 `json:"seal,omitempty"`
}

// PurgePlan reports exactly what Purge would delete with the same policy
// and cutoff, without deleting anything: the eligible changes (at most
// BatchSize × MaxBatches of them, oldest id first) and the transactions
// that would be left empty and are past the cutoff. It ignores
// PurgePolicy.Enabled. All counts come from one statement, so one
// snapshot.
func (a Audit) PurgePlan(ctx context.Context, db threadline.DBTX, p PurgePolicy, o PurgeOptions) (PurgeResult, error) {
	start := time.Now()
	res, err := a.purgePlan(ctx, db, p, o)
	res.Elapsed = time.Since(start)
	a.purgeFinished(ctx, o, res, start, err)
	return res, err
}

func (a Audit) purgePlan(ctx context.Context, db threadline.DBTX, p PurgePolicy, o PurgeOptions) (PurgeResult, error) {
	res := PurgeResult{DryRun: true}
	p, err := p.normalize()
	if err != nil {
		return res, err
	}
	if res.Cutoff, err = a.cutoff(ctx, db, p, o); err != nil {
		return res, err
	}
	limit := int64(p.BatchSize) * int64(p.MaxBatches)
	s := a.schema()
	var eligible int64
	err = db.QueryRow(ctx, `WITH last AS (
    SELECT id FROM `+s+`.audit_changes WHERE captured_at < $1 ORDER BY id OFFSET $2 - 1 LIMIT 1
)
SELECT (SELECT count(*) FROM `+s+`.audit_changes WHERE captured_at < $1),
    CASE WHEN $3 THEN (
        SELECT count(*) FROM `+s+`.audit_transactions AS t
        WHERE t.started_at < $1
          AND `+a.actionOutsideWindow("t", "$1")+`
          AND NOT EXISTS (
            SELECT 1 FROM `+s+`.audit_changes AS c
            WHERE c.transaction_id = t.id
              AND (c.captured_at >= $1 OR c.id > coalesce((SELECT id FROM last), 9223372036854775807)))
    ) ELSE 0 END`, res.Cutoff, limit, p.DeleteEmptyTransactions).Scan(&eligible, &res.DeletedTransactions)
	if err != nil {
		return res, fmt.Errorf("threadline: purge plan: %w", err)
	}
	// Whole partitions go first and uncapped; the batches take the rest.
	if err := a.expiredPartitions(ctx, db, &res, p.DeleteEmptyTransactions); err != nil {
		return res, err
	}
	batched := min(eligible-res.PartitionChanges, limit)
	res.DeletedChanges = res.PartitionChanges + batched
	res.RemainingChanges = eligible - res.DeletedChanges
	res.Capped = res.RemainingChanges > 0
	batches := func(n int64) int { return int((n + int64(p.BatchSize) - 1) / int64(p.BatchSize)) }
	res.Batches = batches(batched) + batches(res.DeletedTransactions-res.PartitionTransactions)
	return res, nil
}

// actionOutsideWindow renders the condition "transaction t is not linked
// to an action recorded at or after the cutoff".
func (a Audit) actionOutsideWindow(t, cutoff string) string {
	return "(" + t + ".action_id IS NULL OR NOT EXISTS (SELECT 1 FROM " + a.schema() +
		".audit_actions AS ac WHERE ac.id = " + t + ".action_id AND ac.inserted_at >= " + cutoff + "))"
}

// cutoff returns o.Cutoff or the database's now() − Window.
func (a Audit) cutoff(ctx context.Context, db threadline.DBTX, p PurgePolicy, o PurgeOptions) (time.Time, error) {
	if !o.Cutoff.IsZero() {
		return o.Cutoff, nil
	}
	var now time.Time
	if err := db.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("threadline: purge: read the database clock: %w", err)
	}
	return now.Add(-p.Window), nil
}

// Purge deletes what the policy makes eligible (see PurgePlan and the
// package notes on retention) and returns what it deleted.
//
// It works in batches, each one statement and so its own short
// transaction: first up to MaxBatches batches of at most BatchSize
// changes (DELETE of the oldest eligible ids), then, when DeleteEmptyTransactions is set, batches of at most BatchSize
// empty transactions past the cutoff. Each batch is logged (Logger) and
// reported (Audit.Hooks.PurgeBatch, Progress).
//
// db must be a *pgxpool.Pool (one connection is acquired for the run) or
// a single connection (*pgx.Conn, *pgxpool.Conn); a pgx.Tx is refused,
// since every batch must commit on its own. The run holds the purge lock
// of the audit schema (lock_purge(), on a second connection it opens with
// the same configuration; see lockPurge): when another purge holds it,
// Purge returns an error wrapping ErrPurgeRunning at once. Only the
// retention roles may execute lock_purge, so no other role can block
// retention. Purge refuses to run unless p.Enabled (ErrRetentionDisabled).
//
// The role needs no privilege to delete: it records the purge
// (begin_purge) and deletes through the audit schema's purge functions
// (purge_changes, purge_transactions, drop_partition), which refuse a
// cutoff younger than the retention window the migration was generated
// with, or any purge when none was configured, and delete only what that
// recorded cutoff makes expired. A partition drop waits for a lock at most
// a short lock_timeout and is retried for PurgeOptions.LockWait (see
// ErrLockUnavailable), so a long reader transaction never queues the
// application's writes behind the purge.
//
// Cancelling ctx stops the run after the batch in flight (a batch is one
// short statement, so this is quick); the returned error wraps ctx's error
// and the result counts exactly what was deleted. Every batch is atomic, a
// transaction row is deleted only once it has no change, so an
// interrupted run leaves a consistent state, and running Purge again
// continues where it stopped. (A process killed mid-batch loses that
// batch's statement to the database's rollback, never half of it.)
//
// When the audit schema has seals (tamper evidence), a purge that
// finished ends with a seal, so that the chain covers its purge record
// and verify counts what it deleted as purged (PurgeResult.Seal).
func (a Audit) Purge(ctx context.Context, db threadline.DBTX, p PurgePolicy, o PurgeOptions) (PurgeResult, error) {
	start := time.Now()
	res, err := a.purge(ctx, db, p, o)
	if err == nil {
		res.Seal, err = a.sealPurge(ctx, db)
	}
	res.Elapsed = time.Since(start)
	a.purgeFinished(ctx, o, res, start, err)
	return res, err
}

// sealPurge seals once a purge is done, when the chain has begun. A seal
// run that another job started before the purge committed may not cover
// its record: on ErrSealRunning it seals again, a few times.
func (a Audit) sealPurge(ctx context.Context, db threadline.DBTX) (int64, error) {
	var sealing bool
	if err := db.QueryRow(ctx, "SELECT EXISTS (SELECT FROM "+a.schema()+".audit_seals)").Scan(&sealing); err != nil || !sealing {
		return 0, wrapSealErr(err)
	}
	for try := 1; ; try++ {
		res, err := a.Seal(ctx, db)
		if errors.Is(err, ErrSealRunning) && try < 5 {
			time.Sleep(time.Duration(try) * 50 * time.Millisecond)
			continue
		}
		return res.Seal, wrapSealErr(err)
	}
}

func wrapSealErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("threadline: purge: done, but sealing its record failed (run threadline seal): %w", err)
}

func (a Audit) purgeFinished(ctx context.Context, o PurgeOptions, res PurgeResult, start time.Time, err error) {
	e := PurgeFinishedEvent{
		Schema: a.schemaName(), DryRun: res.DryRun, DeletedChanges: res.DeletedChanges,
		DeletedTransactions: res.DeletedTransactions, Batches: res.Batches, Capped: res.Capped,
		Cutoff: res.Cutoff, Start: start, Duration: res.Elapsed, Err: err,
	}
	if !res.DryRun {
		logger(o).LogAttrs(context.WithoutCancel(ctx), levelOf(err), PurgeFinishedMessage, e.LogAttrs()...)
	}
	call(ctx, a.Hooks.PurgeFinished, e)
}

func logger(o PurgeOptions) *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

func levelOf(err error) slog.Level {
	if err != nil {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// session returns a single database session for db and its release.
func session(ctx context.Context, db threadline.DBTX) (threadline.DBTX, func(), error) {
	switch d := db.(type) {
	case nil:
		return nil, nil, errors.New("nil database handle")
	case pgx.Tx:
		return nil, nil, errors.New("Purge cannot run inside a transaction (every batch commits on its own): pass a *pgxpool.Pool or a connection")
	case *pgxpool.Pool:
		c, err := d.Acquire(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("acquire a connection: %w", err)
		}
		return c, c.Release, nil
	}
	return db, func() {}, nil
}

func (a Audit) purge(ctx context.Context, db threadline.DBTX, p PurgePolicy, o PurgeOptions) (PurgeResult, error) {
	var res PurgeResult
	p, err := p.normalize()
	if err != nil {
		return res, err
	}
	if !p.Enabled {
		return res, ErrRetentionDisabled
	}
	conn, release, err := session(ctx, db)
	if err != nil {
		return res, fmt.Errorf("threadline: purge: %w", err)
	}
	defer release()

	unlock, err := a.lockPurge(ctx, conn)
	if err != nil {
		return res, fmt.Errorf("threadline: purge: %w", err)
	}
	defer unlock()

	if res.Cutoff, err = a.cutoff(ctx, conn, p, o); err != nil {
		return res, err
	}
	purge, err := a.beginPurge(ctx, conn, res.Cutoff)
	if err != nil {
		return res, err
	}
	if err := a.dropPartitions(ctx, conn, purge, &res, p.DeleteEmptyTransactions, o); err != nil {
		return res, err
	}
	res.DeletedChanges, res.DeletedTransactions = res.PartitionChanges, res.PartitionTransactions
	run := &purgeRun{a: a, ctx: ctx, conn: conn, p: p, o: o, res: &res, s: a.schema(), purge: purge}
	if err := run.changes(); err != nil {
		return res, err
	}
	if !p.DeleteEmptyTransactions {
		return res, nil
	}
	return res, run.transactions()
}

// beginPurge records, before anything is deleted, that a purge with this
// cutoff runs (begin_purge, which refuses a cutoff inside the retention
// window the migration was generated with) and returns the record's id,
// which every deleting function requires: verify then tells sealed data
// this purge deletes from data deleted otherwise.
func (a Audit) beginPurge(ctx context.Context, conn threadline.DBTX, cutoff time.Time) (int64, error) {
	var id int64
	if err := conn.QueryRow(ctx, "SELECT "+a.schema()+".begin_purge($1)", cutoff).Scan(&id); err != nil {
		return 0, fmt.Errorf("threadline: purge: record the purge: %w", err)
	}
	return id, nil
}

// purgeRun is one purge in progress on one session.
type purgeRun struct {
	a     Audit
	ctx   context.Context
	conn  threadline.DBTX
	p     PurgePolicy
	o     PurgeOptions
	res   *PurgeResult
	s     string // quoted audit schema
	total int64  // changes eligible at the start
	purge int64  // the purge record (beginPurge)
}

// batch runs one deleting statement of phase ("changes" or
// "transactions"), which returns the count and the highest id deleted, and
// reports it.
func (r *purgeRun) batch(phase string, sql string, args ...any) (n, last int64, err error) {
	if err := r.ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("threadline: purge: %w", err)
	}
	res := r.res
	bstart := time.Now()
	// A batch in flight finishes even when ctx is cancelled: it is short,
	// and its deletions are then counted exactly. (A cancelled query would
	// close the connection while the server might still commit the
	// statement.)
	if err := r.conn.QueryRow(context.WithoutCancel(r.ctx), sql, args...).Scan(&n, &last); err != nil {
		return 0, 0, fmt.Errorf("threadline: purge: %s batch %d: %w", phase, res.Batches+1, err)
	}
	if n == 0 {
		return 0, last, nil
	}
	res.Batches++
	e := PurgeBatchEvent{Schema: r.a.schemaName(), Batch: res.Batches, Phase: phase, Cutoff: res.Cutoff, Start: bstart, Duration: time.Since(bstart)}
	if phase == "changes" {
		res.DeletedChanges += n
		e.DeletedChanges = n
	} else {
		res.DeletedTransactions += n
		e.DeletedTransactions = n
	}
	logger(r.o).LogAttrs(r.ctx, slog.LevelDebug, PurgeBatchMessage, e.LogAttrs()...)
	call(r.ctx, r.a.Hooks.PurgeBatch, e)
	if r.o.Progress != nil {
		r.o.Progress(PurgeProgress{Phase: phase, DeletedChanges: res.DeletedChanges, TotalChanges: r.total, DeletedTransactions: res.DeletedTransactions})
	}
	return n, last, nil
}

// changes deletes the eligible changes (purge_changes): keyset over id,
// bounded by the newest eligible id seen at the start, so no batch rescans
// what earlier batches deleted and the last one does not walk the young
// rows.
func (r *purgeRun) changes() error {
	s, res := r.s, r.res
	var maxID int64
	if err := r.conn.QueryRow(r.ctx, "SELECT count(*), coalesce(max(id), 0) FROM "+s+".audit_changes WHERE captured_at < $1",
		res.Cutoff).Scan(&r.total, &maxID); err != nil {
		return fmt.Errorf("threadline: purge: count eligible changes: %w", err)
	}
	var last int64
	exhausted := r.total == 0
	for changeBatches := 0; !exhausted && changeBatches < r.p.MaxBatches; changeBatches++ {
		n, l, err := r.batch("changes", "SELECT r_deleted, r_last FROM "+s+".purge_changes($1, $2, $3, $4)",
			r.purge, last, maxID, r.p.BatchSize)
		if err != nil {
			return err
		}
		if n < int64(r.p.BatchSize) {
			exhausted = true
		}
		last = max(last, l)
	}
	if !exhausted {
		if err := r.conn.QueryRow(r.ctx, "SELECT count(*) FROM "+s+".audit_changes WHERE id > $1 AND id <= $2 AND captured_at < $3",
			last, maxID, res.Cutoff).Scan(&res.RemainingChanges); err != nil {
			return fmt.Errorf("threadline: purge: count remaining changes: %w", err)
		}
		res.Capped = res.RemainingChanges > 0
	}
	return nil
}

// transactions deletes the old transactions left without changes (and
// whose action is outside the window): purge_transactions.
func (r *purgeRun) transactions() error {
	s, res := r.s, r.res
	var maxTx int64
	if err := r.conn.QueryRow(r.ctx, "SELECT coalesce(max(id), 0) FROM "+s+".audit_transactions WHERE started_at < $1",
		res.Cutoff).Scan(&maxTx); err != nil {
		return fmt.Errorf("threadline: purge: find old transactions: %w", err)
	}
	for last := int64(0); last < maxTx; {
		n, l, err := r.batch("transactions", "SELECT r_deleted, r_last FROM "+s+".purge_transactions($1, $2, $3, $4)",
			r.purge, last, maxTx, r.p.BatchSize)
		if err != nil {
			return err
		}
		if n < int64(r.p.BatchSize) {
			break
		}
		last = l
	}
	return nil
}

// lockPurge takes the purge lock of the audit schema on a session of its
// own and returns its release: lock_purge() (EXCLUSIVE on the empty
// audit_purge_lock, NOWAIT), held in a transaction that stays open for the
// whole purge while every batch commits on the purge's own session.
//
// Only the roles granted EXECUTE on lock_purge (the retention roles) can
// take the lock, and no role but the owner has any privilege on the
// table, so no other role can block retention. own is the purge's own session:
// the second one is opened with its configuration, and the holder of a
// taken lock is looked up on it (a pool of one connection has none left).
// The holding transaction takes no snapshot and no transaction id (LOCK
// needs neither), so it holds back no vacuum while a long purge runs.
func (a Audit) lockPurge(ctx context.Context, own threadline.DBTX) (func(), error) {
	conn, release, err := secondSession(ctx, own)
	if err != nil {
		return nil, fmt.Errorf("open a session for the purge lock: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		release()
		return nil, fmt.Errorf("take the purge lock: %w", err)
	}
	unlock := func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = tx.Rollback(uctx) // a broken session has released the lock already
		release()
	}
	lockTable := a.schema() + ".audit_purge_lock"
	_, err = tx.Exec(ctx, "SELECT "+a.schema()+".lock_purge()")
	if lockNotAvailable(err) {
		unlock()
		var pid *int64
		_ = own.QueryRow(ctx, `SELECT min(pid) FROM pg_locks WHERE locktype = 'relation' AND granted
			AND relation = to_regclass($1) AND mode = 'ExclusiveLock'`, lockTable).Scan(&pid)
		holder := ""
		if pid != nil {
			holder = fmt.Sprintf(" (backend pid %d)", *pid)
		}
		return nil, fmt.Errorf("%w: audit schema %s, %s is locked%s; wait for it to finish", ErrPurgeRunning, a.schemaName(), lockTable, holder)
	}
	if err != nil {
		unlock()
		return nil, fmt.Errorf("take the purge lock (the role needs EXECUTE on %s.lock_purge(): list it in retention_roles, and apply the migration threadline-gen writes): %w", a.schema(), err)
	}
	return unlock, nil
}

// secondSession opens a new database connection with the configuration
// of db (a pool's connection configuration, or a connection's own). A new
// connection rather than one more from a pool: a pool of one connection,
// which Purge already holds, would wait forever.
func secondSession(ctx context.Context, db threadline.DBTX) (*pgx.Conn, func(), error) {
	var cfg *pgx.ConnConfig
	switch d := db.(type) {
	case *pgxpool.Pool:
		cfg = d.Config().ConnConfig
	case *pgxpool.Conn:
		cfg = d.Conn().Config()
	case *pgx.Conn:
		cfg = d.Config()
	default:
		return nil, nil, fmt.Errorf("purge needs a *pgxpool.Pool, *pgxpool.Conn or *pgx.Conn, not %T", db)
	}
	c, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return nil, nil, err
	}
	return c, func() { _ = c.Close(context.WithoutCancel(ctx)) }, nil
}
