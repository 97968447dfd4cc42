package threadlineops

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	threadline "github.com/threadline-go/threadline/runtime"
)

// CaptureGap is a break in the WAL engine's coverage (engine: wal,
// docs/wal-engine.md): threadline capture found its replication slot gone
// (dropped, or lost to max_slot_wal_keep_size) and created it again, so
// the changes committed between the last transaction it had written and
// the new slot's start are not in the trail. It records the gap in
// <audit_schema>.audit_wal_gaps; threadline doctor fails on it until the
// rows are deleted (acknowledged). A gap is not tampering: nothing in the
// trail was altered, the changes were never captured.
type CaptureGap struct {
	// Slot is the replication slot that was recreated.
	Slot string `json:"slot"`
	// From is the WAL position where the trail's last written source
	// transaction ended; To is where the new slot starts. Changes
	// committed between them are not in the trail.
	From string `json:"from"`
	To   string `json:"to"`
	// LastWrittenAt is when the consumer last wrote the trail before the
	// gap (nil: unknown); DetectedAt is when it found the slot gone.
	LastWrittenAt *time.Time `json:"last_written_at"`
	DetectedAt    time.Time  `json:"detected_at"`
	// Reason says why in plain words.
	Reason string `json:"reason"`
}

// String describes the gap in one sentence.
func (g CaptureGap) String() string {
	after := "its last write before the gap is unknown"
	if g.LastWrittenAt != nil {
		after = "last written " + g.LastWrittenAt.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("changes committed between WAL %s and %s are not in the trail (%s; %s, detected %s)",
		g.From, g.To, g.Reason, after, g.DetectedAt.UTC().Format(time.RFC3339Nano))
}

// gapReason is CaptureGap.Reason: audit_wal_gaps records only that the
// slot was created again for a trail written before.
func gapReason(slot string) string {
	return fmt.Sprintf("slot %s was gone (dropped, or lost to max_slot_wal_keep_size) and threadline capture created it again", slot)
}

// captureGaps reads the gaps recorded in audit_wal_gaps, oldest first;
// none when the table does not exist (no WAL engine consumer ever ran on
// this trail). With table set, only when the table was captured by the
// WAL engine (it has an audit_wal_tables row): a trigger-captured table
// has no such gap.
func (a Audit) captureGaps(ctx context.Context, db threadline.DBTX, table *tableName) ([]CaptureGap, error) {
	s := a.schemaName()
	var gaps, tables bool
	if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL`,
		a.schema()+".audit_wal_gaps", a.schema()+".audit_wal_tables").Scan(&gaps, &tables); err != nil {
		return nil, fmt.Errorf("look up %s.audit_wal_gaps: %w", s, err)
	}
	if !gaps {
		return nil, nil
	}
	if table != nil {
		var wal bool
		if tables {
			if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+a.schema()+`.audit_wal_tables WHERE table_schema = $1 AND table_name = $2)`,
				table.Schema, table.Name).Scan(&wal); err != nil {
				return nil, fmt.Errorf("read %s.audit_wal_tables: %w", s, err)
			}
		}
		if !wal {
			return nil, nil
		}
	}
	rows, err := db.Query(ctx, `SELECT slot, after_lsn::text, until_lsn::text, last_written_at, detected_at FROM `+a.schema()+`.audit_wal_gaps ORDER BY detected_at, id`)
	if err != nil {
		return nil, fmt.Errorf("read the WAL engine's gaps (%s.audit_wal_gaps): %w", s, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CaptureGap, error) {
		var g CaptureGap
		err := r.Scan(&g.Slot, &g.From, &g.To, &g.LastWrittenAt, &g.DetectedAt)
		if g.LastWrittenAt != nil {
			u := g.LastWrittenAt.UTC()
			g.LastWrittenAt = &u
		}
		g.DetectedAt = g.DetectedAt.UTC()
		g.Reason = gapReason(g.Slot)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the WAL engine's gaps (%s.audit_wal_gaps): %w", s, err)
	}
	return out, nil
}
