package threadlineops

import (
	"context"
	"errors"
	"fmt"

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
// own. It is idempotent and safe to run alongside writers and itself (it
// takes the purge lock, waiting for a running purge or maintain to end).
// The retention role can run it. Schedule it daily (see docs/scaling.md).
func (a Audit) Maintain(ctx context.Context, db threadline.DBTX) ([]PartitionAction, error) {
	ok, err := a.partitioned(ctx, db)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotPartitioned
	}
	rows, err := db.Query(ctx, "SELECT r_table, r_partition, r_action, r_rows FROM "+a.schema()+".maintain_partitions()")
	if err != nil {
		return nil, fmt.Errorf("threadline: maintain: %w", err)
	}
	defer rows.Close()
	var out []PartitionAction
	for rows.Next() {
		var p PartitionAction
		if err := rows.Scan(&p.Table, &p.Partition, &p.Action, &p.Rows); err != nil {
			return nil, fmt.Errorf("threadline: maintain: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("threadline: maintain: %w", err)
	}
	return out, nil
}

// partitioned reports whether the install has partitioned storage (its
// partition functions exist).
func (a Audit) partitioned(ctx context.Context, db threadline.DBTX) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, "SELECT to_regprocedure($1) IS NOT NULL", a.schema()+".drop_partitions(timestamptz, boolean, boolean)").Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("threadline: %w", err)
	}
	return ok, nil
}

// dropPartitions drops (or, with dryRun, lists) the partitions whose whole
// range is before the cutoff, when the storage is partitioned.
func (a Audit) dropPartitions(ctx context.Context, db threadline.DBTX, res *PurgeResult, transactions, dryRun bool) error {
	ok, err := a.partitioned(ctx, db)
	if err != nil || !ok {
		return err
	}
	rows, err := db.Query(ctx, "SELECT r_table, r_partition, r_rows FROM "+a.schema()+".drop_partitions($1, $2, $3)", res.Cutoff, transactions, dryRun)
	if err != nil {
		return fmt.Errorf("threadline: purge: drop partitions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p := PartitionAction{Action: "dropped"}
		if err := rows.Scan(&p.Table, &p.Partition, &p.Rows); err != nil {
			return fmt.Errorf("threadline: purge: drop partitions: %w", err)
		}
		res.Partitions = append(res.Partitions, p)
		if p.Table == "audit_changes" {
			res.PartitionChanges += p.Rows
		} else {
			res.PartitionTransactions += p.Rows
		}
	}
	return rows.Err()
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
