package threadlineops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	threadline "github.com/threadline-go/threadline/runtime"
)

// Partitioned storage (storage.partitions in threadline.yaml): the audit
// tables are partitioned by time, Maintain keeps partitions ready ahead
// and gives the rows that landed in a default partition one of their own,
// and Purge drops whole expired partitions before it deletes what is left
// in batches.

// ErrNotPartitioned is returned by Maintain when the audit tables are not
// partitioned (storage.partitions is none).
var ErrNotPartitioned = errors.New("threadline: the audit tables are not partitioned (storage.partitions: none)")

// PartitionAction is one thing Maintain or a purge did to a partition.
type PartitionAction struct {
	// Table is audit_changes or audit_transactions.
	Table string `json:"table"`
	// Partition is the partition's name.
	Partition string `json:"partition"`
	// Action is "created" (empty), "moved" (created with Rows rows moved
	// from the default partition) or "dropped" (Rows rows went with it).
	Action string `json:"action"`
	Rows   int64  `json:"rows"`
}

// Maintain creates the partitions the next storage.premake periods need
// and moves rows out of the default partitions into partitions of their
// own. It is idempotent and safe to run alongside writers and itself. The
// retention role can run it. Schedule it daily (see docs/scaling.md).
//
// It takes the purge lock and, to create a partition, the audit table in
// ACCESS EXCLUSIVE mode, each for at most a short lock_timeout: when a
// purge or another maintain runs, or a long reader transaction holds the
// table, it tries again with backoff (see DefaultLockWait) and then fails
// with an error wrapping ErrLockUnavailable; the application's writes are
// never queued behind it for longer than one lock_timeout. Inside a
// transaction (db a pgx.Tx) it tries once.
func (a Audit) Maintain(ctx context.Context, db threadline.DBTX) ([]PartitionAction, error) {
	ok, err := a.partitioned(ctx, db)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotPartitioned
	}
	wait := DefaultLockWait
	if _, inTx := db.(pgx.Tx); inTx {
		wait = 0 // a failed statement aborts the caller's transaction
	}
	var out []PartitionAction
	err = retryLocked(ctx, slog.Default(), wait, "maintain partitions", func() error {
		rows, err := db.Query(ctx, "SELECT r_table, r_partition, r_action, r_rows FROM "+a.schema()+".maintain_partitions()")
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (PartitionAction, error) {
			var p PartitionAction
			err := r.Scan(&p.Table, &p.Partition, &p.Action, &p.Rows)
			return p, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("threadline: maintain: %w", err)
	}
	return out, nil
}

// partitioned reports whether the install has partitioned storage.
func (a Audit) partitioned(ctx context.Context, db threadline.DBTX) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, "SELECT coalesce((SELECT relkind = 'p' FROM pg_catalog.pg_class WHERE oid = to_regclass($1)), false)",
		a.schema()+".audit_changes").Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("threadline: %w", err)
	}
	return ok, nil
}

// expiredPartitions adds to res the partitions whose whole range is before
// its cutoff (and, with transactions, the expired transaction partitions
// no young change or action uses), with their rows, when the storage is
// partitioned: what a purge drops whole.
func (a Audit) expiredPartitions(ctx context.Context, db threadline.DBTX, res *PurgeResult, transactions bool) error {
	ok, err := a.partitioned(ctx, db)
	if err != nil || !ok {
		return err
	}
	rows, err := db.Query(ctx, "SELECT r_table, r_partition, r_rows FROM "+a.schema()+".expired_partitions($1, $2, NULL)", res.Cutoff, transactions)
	if err != nil {
		return fmt.Errorf("threadline: purge: expired partitions: %w", err)
	}
	parts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PartitionAction, error) {
		p := PartitionAction{Action: "dropped"}
		err := r.Scan(&p.Table, &p.Partition, &p.Rows)
		return p, err
	})
	if err != nil {
		return fmt.Errorf("threadline: purge: expired partitions: %w", err)
	}
	for _, p := range parts {
		res.addPartition(p)
	}
	return nil
}

// addPartition counts partition p, dropped (or to drop) whole, in res.
func (res *PurgeResult) addPartition(p PartitionAction) {
	res.Partitions = append(res.Partitions, p)
	if p.Table == "audit_changes" {
		res.PartitionChanges += p.Rows
	} else {
		res.PartitionTransactions += p.Rows
	}
}

// dropPartitions drops the expired partitions (expiredPartitions) of purge
// record purge one by one, each in its own short transaction
// (drop_partition), retrying a lock another session holds; res counts
// those dropped. The change partitions go first: the transaction
// partitions are listed after, when the check that none of their
// transactions has a younger change no longer walks the dropped ones.
func (a Audit) dropPartitions(ctx context.Context, conn threadline.DBTX, purge int64, res *PurgeResult, transactions bool, o PurgeOptions) error {
	phases := []bool{false}
	if transactions {
		phases = append(phases, true)
	}
	for _, withTransactions := range phases {
		found := PurgeResult{Cutoff: res.Cutoff}
		if err := a.expiredPartitions(ctx, conn, &found, withTransactions); err != nil {
			return err
		}
		for _, p := range found.Partitions {
			var dropped bool
			err := retryLocked(ctx, logger(o), o.lockWait(), "drop partition "+p.Partition, func() error {
				return conn.QueryRow(ctx, "SELECT "+a.schema()+".drop_partition($1, $2)", purge, p.Partition).Scan(&dropped)
			})
			if err != nil {
				return fmt.Errorf("threadline: purge: %w", err)
			}
			if dropped {
				res.addPartition(p)
			}
		}
	}
	return nil
}

// PartitionStatus is what PartitionHealth found.
type PartitionStatus struct {
	// DefaultRows counts the rows in the default partitions: rows no
	// partition was ready for (Maintain moves them).
	DefaultRows int64 `json:"default_rows"`
	// Ahead counts the audit_changes partitions that start after now.
	Ahead int `json:"ahead"`
}

// PartitionHealth reports whether partitioned storage is kept up:
// Maintain should leave no row in a default partition and at least one
// partition ahead. ErrNotPartitioned when the storage is not partitioned.
func (a Audit) PartitionHealth(ctx context.Context, db threadline.DBTX) (PartitionStatus, error) {
	var st PartitionStatus
	ok, err := a.partitioned(ctx, db)
	if err != nil {
		return st, err
	}
	if !ok {
		return st, ErrNotPartitioned
	}
	s := a.schema()
	err = db.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+s+`.audit_changes_default) + (SELECT count(*) FROM `+s+`.audit_transactions_default),
		(SELECT count(*) FROM pg_catalog.pg_inherits AS i JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
		 WHERE i.inhparent = $1::regclass
		   AND substring(pg_catalog.pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \(''([^'']+)''\)')::timestamptz > now())`,
		s+".audit_changes").Scan(&st.DefaultRows, &st.Ahead)
	if err != nil {
		return st, fmt.Errorf("threadline: partition health: %w", err)
	}
	return st, nil
}
