package threadline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/pgsnapshot"
	"github.com/threadline-go/threadline/internal/tlerr"
)

// An incremental feed delivers every committed change exactly once across
// runs, for shipping the trail to a log pipeline or a warehouse. Change ids
// cannot mark its position: they are taken when a change is written, not
// when its transaction commits, so a long transaction commits changes below
// ids a previous run has already passed. A feed run instead reads in one
// REPEATABLE READ transaction and records that transaction's snapshot: the
// next run delivers the changes of every transaction that snapshot did not
// see (those that had not committed yet, and every later one) and that its
// own snapshot sees.

// FeedPosition is where a feed stands: the snapshot its last run read, in
// PostgreSQL's pg_snapshot text form ("xmin:xmax:xip,…"). Every change of a
// transaction visible in that snapshot has been delivered. The zero value
// stands before the first change.
type FeedPosition struct {
	Snapshot string `json:"snapshot"`
}

// ErrFeedPosition is wrapped by the errors about a FeedPosition that does
// not fit the database: malformed, or ahead of the database's transaction
// ids (a database restored into a new cluster numbers its transactions
// anew; such a feed must start again, see docs/feed.md).
var ErrFeedPosition = errors.New("threadline: bad feed position")

// parseSnapshot reads a feed position.
func parseSnapshot(s string) (pgsnapshot.Snapshot, error) {
	sn, err := pgsnapshot.Parse(s)
	if err != nil {
		return sn, fmt.Errorf("%w: %w", ErrFeedPosition, err)
	}
	return sn, nil
}

// Feed yields the changes committed since pos, in id order, each with its
// transaction's attribution and its action's summary (Change.Action, read
// in the same query). When the iteration ends without an error,
// *next holds the position to pass to the following run; store it only
// after the changes are safely handled (if the process stops before, the
// next run delivers them again: dedupe on Change.ID, which is stable).
// Breaking out of the loop leaves *next unchanged.
func (a Audit) Feed(ctx context.Context, db TxBeginner, pos FeedPosition, next *FeedPosition) iter.Seq2[Change, error] {
	return func(yield func(Change, error) bool) {
		p, err := a.feed(ctx, db, pos, func(c exportChange) bool { return yield(c.withAction(), nil) })
		if err != nil {
			yield(Change{}, err)
			return
		}
		if p != nil {
			*next = *p
		}
	}
}

// ExportFeed writes the changes committed since pos to w (opts.Format, CSV
// or NDJSON, in id order, the columns of Export) and returns the position
// after them. Write it only once w is flushed and synced: see Feed.
func (a Audit) ExportFeed(ctx context.Context, db TxBeginner, w io.Writer, pos FeedPosition, opts ExportOptions) (FeedPosition, ExportResult, error) {
	format := opts.format()
	if format != ExportCSV && format != ExportNDJSON {
		return pos, ExportResult{}, fmt.Errorf("feed export: format %q: want csv or ndjson", format)
	}
	if opts.MaxRows != 0 {
		return pos, ExportResult{}, errors.New("feed export: MaxRows: a feed run exports every change since its position")
	}
	if opts.Filter != (Filter{}) {
		return pos, ExportResult{}, errors.New("feed export: Filter: a feed run exports every change since its position")
	}
	var next *FeedPosition
	var ferr error
	rows := func(yield func(exportChange, error) bool) {
		next, ferr = a.feed(ctx, db, pos, func(c exportChange) bool { return yield(c, nil) })
		if ferr != nil {
			yield(exportChange{}, ferr)
		}
	}
	res, err := writeExport(ctx, w, format, Filter{}, opts, rows)
	if err != nil {
		return pos, res, err
	}
	if next == nil {
		return pos, res, errors.New("feed export: stopped before the end")
	}
	return *next, res, nil
}

// feed runs one feed read: it opens a REPEATABLE READ, READ ONLY
// transaction, records its snapshot, passes every change committed since
// pos to fn (which returns false to stop) and returns the new position, or
// nil when fn stopped.
func (a Audit) feed(ctx context.Context, db TxBeginner, pos FeedPosition, fn func(exportChange) bool) (*FeedPosition, error) {
	var prev *pgsnapshot.Snapshot
	if pos.Snapshot != "" {
		sn, err := parseSnapshot(pos.Snapshot)
		if err != nil {
			return nil, err
		}
		prev = &sn
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, tlerr.Wrap(err, "feed: begin")
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var now string
	if err := tx.QueryRow(ctx, "SELECT pg_catalog.pg_current_snapshot()::text").Scan(&now); err != nil {
		return nil, tlerr.Wrap(err, "feed: read the snapshot")
	}
	cur, err := parseSnapshot(now)
	if err != nil {
		return nil, err
	}
	sql, args := a.exportSelect(), []any(nil)
	if prev != nil {
		if cur.Xmax < prev.Xmax {
			return nil, fmt.Errorf("%w: %s is ahead of this database's transaction ids (%s): restored into a new cluster? Start the feed again from the last change delivered",
				ErrFeedPosition, pos.Snapshot, now)
		}
		// Not seen by the previous snapshot: begun at or after its xmax,
		// or in progress then. (Everything below its xmin had ended.)
		sql += " WHERE " + pgsnapshot.NotSeenSQL("t.txid", "$1", "$2")
		args = []any{strconv.FormatUint(prev.Xmax, 10), prev.XipText()}
	}
	sql += " ORDER BY c.id"
	for c, err := range a.scan(ctx, tx, sql, args) {
		if err != nil {
			return nil, tlerr.Wrap(err, "feed")
		}
		if !fn(c) {
			return nil, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, tlerr.Wrap(err, "feed")
	}
	return &FeedPosition{Snapshot: now}, nil
}
