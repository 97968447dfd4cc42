package threadlineops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Lock hygiene: dropping or creating a partition locks the audit table in
// ACCESS EXCLUSIVE mode, which waits for every transaction reading it (a
// long export, a viewer query) while the application's audited writes
// queue behind the waiting lock. The database functions that take such
// locks (maintain_partitions, drop_partition) wait at most a short
// lock_timeout (50 ms) and fail with lock_not_available, having changed
// nothing; Purge and Maintain call them again with exponential backoff and
// jitter, so writes are delayed by one lock_timeout at most, and give up
// with ErrLockUnavailable once LockWait has passed.

// DefaultLockWait is how long Purge (PurgeOptions.LockWait) and Maintain
// keep retrying a lock another session holds.
const DefaultLockWait = 30 * time.Second

// ErrLockUnavailable is wrapped by the error of Purge and Maintain when a
// lock they need stayed held by another session for the whole lock wait
// (see DefaultLockWait). The error names the lock.
var ErrLockUnavailable = errors.New("threadline: a lock stayed unavailable")

// lockRetryMessage is the Debug log message of each retry.
const lockRetryMessage = "threadline lock busy, retrying"

// Backoff between attempts: from lockBackoffMin, doubling up to
// lockBackoffMax, each sleep a random point in its upper half.
const (
	lockBackoffMin = 50 * time.Millisecond
	lockBackoffMax = time.Second
)

// retryLocked calls f until it returns anything but lock_not_available
// (55P03), sleeping with exponential backoff and jitter in between, for at
// most wait in total (one attempt when wait is 0). what names the work for
// the error and the log.
func retryLocked(ctx context.Context, log *slog.Logger, wait time.Duration, what string, f func() error) error {
	deadline := time.Now().Add(wait)
	backoff := lockBackoffMin
	for attempt := 1; ; attempt++ {
		err := f()
		if !lockNotAvailable(err) {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w: %s: gave up after %s and %d attempts; another session holds a conflicting lock, "+
				"often a long-running transaction reading the audit tables: look for old xact_start in pg_stat_activity, "+
				"and run again once it ends: %w", ErrLockUnavailable, what, wait, attempt, err)
		}
		sleep := min(left, backoff/2+rand.N(backoff/2+1))
		log.LogAttrs(ctx, slog.LevelDebug, lockRetryMessage, slog.String("work", what), slog.Int("attempt", attempt),
			slog.Duration("sleep", sleep), slog.String("error", err.Error()))
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (while retrying: %w)", what, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, lockBackoffMax)
	}
}

// lockNotAvailable reports whether err is PostgreSQL's lock_not_available
// (a lock_timeout or NOWAIT).
func lockNotAvailable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}
