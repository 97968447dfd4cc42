package threadline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/tlerr"
)

// TrailWaitOptions configures WaitForTrail. The zero value is the trigger
// engine's: nothing to wait for.
type TrailWaitOptions struct {
	// Slot is the logical replication slot threadline capture reads
	// (wal.slot in threadline.yaml, "threadline" by default) when the
	// config says engine: wal. Empty means engine: trigger: the trail is
	// written by the committing transaction itself, so it is complete at
	// the commit and WaitForTrail returns nil at once, without a query.
	Slot string
	// Timeout bounds the wait, beside any deadline of ctx. Zero means 10
	// seconds.
	Timeout time.Duration
}

// defaultTrailWait is TrailWaitOptions.Timeout's default.
const defaultTrailWait = 10 * time.Second

// Poll intervals of WaitForTrail: from the first to the longest, doubling.
const (
	trailPollFirst = 5 * time.Millisecond
	trailPollMax   = 100 * time.Millisecond
)

// WaitForTrail waits until the audit trail holds every transaction
// committed on db's server before the call (read your writes): call it
// after a commit, before reading the trail of what that commit wrote.
//
// With engine: wal (opts.Slot set), threadline capture writes the trail
// after the commit, in batches (docs/wal-engine.md). WaitForTrail reads
// the server's current WAL insert position, which is at or after the end
// of every commit that returned before the call, and waits until the
// slot's confirmed position has reached it: the consumer confirms a
// position only after the batch holding the transactions before it
// committed, so they are then readable, also on a trail kept in another
// database (wal.audit_database_url). When no audited table changes
// meanwhile, the consumer confirms the server's position within about a
// second (its status interval), so the wait ends then. db must be the
// captured database (the slot's), not a transaction: the position must
// be read after the commit. It needs no privilege (pg_replication_slots
// is readable by every role).
//
// Cost: one query for the position, then one catalog read of the slot per
// poll, polling from 5 ms to every 100 ms (doubling), each query on a
// connection of db only while it runs. The wait is usually the
// consumer's batch delay (200 ms by default) plus the batch's write; it
// holds no lock and does not slow the writers or the consumer. Call it
// where a request must see its own writes in the trail, not after every
// transaction.
//
// It returns an error at once when the slot does not exist in db's
// database or was invalidated (lost: threadline doctor reports it; the
// trail has a gap). When the slot has not reached the position by
// opts.Timeout (10 s by default) or ctx's deadline, the error names the
// slot, the position waited for, the slot's confirmed position, how many
// bytes of WAL it is behind and whether a consumer is reading it, and
// wraps context.DeadlineExceeded (or ctx's error when ctx ended first).
func WaitForTrail(ctx context.Context, db DBTX, opts TrailWaitOptions) error {
	if opts.Slot == "" {
		return nil
	}
	if db == nil {
		return errors.New("threadline: wait for trail: nil database handle")
	}
	if _, ok := db.(pgx.Tx); ok {
		return errors.New("threadline: wait for trail: db is a transaction: call WaitForTrail after the commit, with a pool or connection")
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defaultTrailWait
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var target string
	if err := db.QueryRow(wctx, `SELECT pg_catalog.pg_current_wal_insert_lsn()::text`).Scan(&target); err != nil {
		return tlerr.Wrap(err, "wait for trail: read the commit position")
	}
	delay := trailPollFirst
	var st slotState
	for {
		err := db.QueryRow(wctx, `SELECT coalesce(confirmed_flush_lsn::text, ''), active, coalesce(wal_status, ''),
    coalesce(confirmed_flush_lsn >= $2::pg_lsn, false),
    coalesce(pg_catalog.pg_wal_lsn_diff($2::pg_lsn, confirmed_flush_lsn), 0)::int8
FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND database = pg_catalog.current_database()`,
			opts.Slot, target).Scan(&st.confirmed, &st.active, &st.walStatus, &st.reached, &st.behind)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("threadline: wait for trail: slot %q does not exist in this database: threadline capture creates it when it starts (is it running against this database? threadline doctor checks)", opts.Slot)
		case err != nil && wctx.Err() != nil:
			return st.timeout(opts.Slot, target, time.Since(start), wctx.Err())
		case err != nil:
			return tlerr.Wrap(err, "wait for trail: read slot %s", opts.Slot)
		default:
			st.read = true
		}
		switch {
		case st.walStatus == "lost":
			return fmt.Errorf("threadline: wait for trail: slot %q was invalidated (its WAL was removed, max_slot_wal_keep_size): the trail has a gap; threadline doctor reports it", opts.Slot)
		case st.reached:
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-wctx.Done():
			t.Stop()
			return st.timeout(opts.Slot, target, time.Since(start), wctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, trailPollMax)
	}
}

// slotState is what WaitForTrail last read of the slot.
type slotState struct {
	read      bool
	confirmed string
	active    bool
	walStatus string
	reached   bool
	behind    int64
}

// timeout is WaitForTrail's error when the wait ended before the slot
// reached target.
func (st slotState) timeout(slot, target string, waited time.Duration, cause error) error {
	head := fmt.Sprintf("threadline: wait for trail: slot %q did not reach commit position %s within %s", slot, target, waited.Round(time.Millisecond))
	if !st.read {
		return fmt.Errorf("%s (its state was not read): %w", head, cause)
	}
	confirmed := st.confirmed
	if confirmed == "" {
		confirmed = "nothing"
	}
	reader := "threadline capture is reading it"
	if !st.active {
		reader = "no consumer is reading it: is threadline capture running?"
	}
	return fmt.Errorf("%s: it has confirmed %s, %d bytes of WAL behind; %s: %w", head, confirmed, st.behind, reader, cause)
}
