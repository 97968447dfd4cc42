// Package walcheck holds the checks threadline doctor and coverage run for
// engine: wal: wal_level, the slot, the WAL it retains, the publication
// and the replica identities of the captured tables.
package walcheck

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/internal/contract"
)

// Finding is one line of threadline doctor for engine: wal.
type Finding struct {
	OK    bool
	Check string
	Msg   string
}

// CheckOptions configures Check.
type CheckOptions struct {
	AuditSchema, Slot, Publication string
	// MaxRetained is the WAL the slot may hold back before the check
	// fails (default 1 GiB).
	MaxRetained int64
}

// Check inspects the captured database for what can go wrong with the WAL
// engine, never silently: wal_level, the slot (missing, lost, or not
// read by any consumer), the WAL it retains, the publication and the
// replica identity of every captured table and partition.
func Check(ctx context.Context, pool *pgxpool.Pool, o CheckOptions) []Finding {
	if o.MaxRetained <= 0 {
		o.MaxRetained = 1 << 30
	}
	var out []Finding
	add := func(ok bool, check, format string, args ...any) {
		out = append(out, Finding{OK: ok, Check: check, Msg: fmt.Sprintf(format, args...)})
	}
	var level string
	if err := pool.QueryRow(ctx, `SHOW wal_level`).Scan(&level); err != nil {
		add(false, "wal level", "%v", err)
		return out
	}
	add(level == "logical", "wal level", "wal_level = %s (engine: wal needs logical; a restart applies it)", level)

	var (
		plugin, walStatus string
		active            bool
		retained, behind  int64
		safeBytes         *int64
		exists            bool
	)
	err := pool.QueryRow(ctx, `SELECT coalesce(plugin, ''), active, coalesce(wal_status, ''),
			coalesce(pg_current_wal_lsn() - restart_lsn, 0)::int8, coalesce(pg_current_wal_lsn() - confirmed_flush_lsn, 0)::int8, safe_wal_size
		FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND database = current_database()`, o.Slot).
		Scan(&plugin, &active, &walStatus, &retained, &behind, &safeBytes)
	switch {
	case err == pgx.ErrNoRows:
		var at *time.Time
		_ = pool.QueryRow(ctx, `SELECT updated_at FROM `+contract.QuoteIdent(o.AuditSchema)+`.audit_wal_progress WHERE slot = $1`, o.Slot).Scan(&at)
		if at != nil {
			add(false, "slot", "slot %s is gone (dropped, or lost to max_slot_wal_keep_size): the trail has a gap after %s; start threadline capture to create a new slot, and record the gap", o.Slot, at.UTC().Format(time.RFC3339))
		} else {
			add(false, "slot", "slot %s does not exist: start threadline capture (it creates the slot); changes committed before are not captured", o.Slot)
		}
	case err != nil:
		add(false, "slot", "%v", err)
	default:
		exists = true
	}
	if exists {
		switch {
		case plugin != "pgoutput":
			add(false, "slot", "slot %s uses plugin %q, not pgoutput", o.Slot, plugin)
		case walStatus == "lost":
			add(false, "slot", "slot %s is lost: WAL it needed was removed (max_slot_wal_keep_size); the trail has a gap: drop and recreate the slot, and record the gap", o.Slot)
		default:
			add(true, "slot", "slot %s (pgoutput), WAL status %s", o.Slot, walStatus)
		}
		add(active, "consumer", "slot %s is %s", o.Slot, map[bool]string{true: "read by a consumer", false: "not read by any consumer: threadline capture is down, and WAL accumulates"}[active])
		msg := fmt.Sprintf("the slot retains %.1f MB of WAL (limit %.1f MB); the trail is %.1f MB behind", float64(retained)/1e6, float64(o.MaxRetained)/1e6, float64(behind)/1e6)
		if safeBytes != nil {
			msg += fmt.Sprintf("; %.1f MB more and max_slot_wal_keep_size drops the slot", float64(*safeBytes)/1e6)
		}
		add(retained <= o.MaxRetained, "retained wal", "%s", msg)
	}

	var gaps int64
	var lastGap *time.Time
	if err := pool.QueryRow(ctx, `SELECT count(*), max(detected_at) FROM `+contract.QuoteIdent(o.AuditSchema)+`.audit_wal_gaps WHERE slot = $1`, o.Slot).Scan(&gaps, &lastGap); err == nil {
		if gaps > 0 {
			add(false, "gaps", "%d gap(s) recorded in %s.audit_wal_gaps (the last detected %s): changes committed while the slot was gone are not in the trail; once recorded elsewhere, delete the rows to acknowledge",
				gaps, o.AuditSchema, lastGap.UTC().Format(time.RFC3339))
		} else {
			add(true, "gaps", "no gap recorded")
		}
	}

	var viaRoot bool
	err = pool.QueryRow(ctx, `SELECT pubviaroot FROM pg_catalog.pg_publication WHERE pubname = $1`, o.Publication).Scan(&viaRoot)
	switch {
	case err == pgx.ErrNoRows:
		add(false, "publication", "publication %s does not exist: apply the generated migrations", o.Publication)
		return out
	case err != nil:
		add(false, "publication", "%v", err)
		return out
	}
	rows, err := pool.Query(ctx, `SELECT w.table_schema || '.' || w.table_name,
			EXISTS (SELECT FROM pg_catalog.pg_publication_rel AS r JOIN pg_catalog.pg_publication AS p ON p.oid = r.prpubid
				WHERE p.pubname = $1 AND r.prrelid = w.relid),
			coalesce((SELECT string_agg(t.relid::regclass::text, ', ') FROM (SELECT w.relid::regclass AS relid
				UNION SELECT t.relid FROM pg_catalog.pg_partition_tree(w.relid) AS t) AS t
				JOIN pg_catalog.pg_class AS c ON c.oid = t.relid WHERE c.relreplident <> 'f' AND c.relkind IN ('r', 'p')), '')
		FROM `+contract.QuoteIdent(o.AuditSchema)+`.audit_wal_tables AS w
		WHERE EXISTS (SELECT FROM pg_catalog.pg_class WHERE oid = w.relid)
		  AND coalesce(w.capture->'wal'->>'identity', 'full') = 'full'
		ORDER BY 1`, o.Publication)
	if err != nil {
		add(false, "publication", "%v", err)
		return out
	}
	defer rows.Close()
	var missing, notFull []string
	n := 0
	for rows.Next() {
		var name, partial string
		var member bool
		if err := rows.Scan(&name, &member, &partial); err != nil {
			add(false, "publication", "%v", err)
			return out
		}
		n++
		if !member {
			missing = append(missing, name)
		}
		if partial != "" {
			notFull = append(notFull, partial)
		}
	}
	if err := rows.Err(); err != nil {
		add(false, "publication", "%v", err)
		return out
	}
	switch {
	case !viaRoot:
		add(false, "publication", "publication %s does not publish via the partition root: partitions' changes would be recorded under the partitions", o.Publication)
	case len(missing) > 0:
		add(false, "publication", "publication %s lacks %v: their changes are not captured", o.Publication, missing)
	default:
		add(true, "publication", "publication %s holds the %d captured tables", o.Publication, n)
	}
	if len(notFull) > 0 {
		add(false, "replica identity", "not FULL: %v (a partition attached after the migration needs ALTER TABLE … REPLICA IDENTITY FULL): updates and deletes there have no before-image", notFull)
	} else {
		add(true, "replica identity", "FULL on every captured table and partition")
	}
	return out
}

// TableState is how engine: wal captures one table (TableStates).
type TableState struct {
	// Captured: the table (or the partitioned table it belongs to) has an
	// audit_wal_tables record and is in the publication.
	Captured bool
	// Detail says why not, or how.
	Detail string
}

// SlotState summarises the slot for coverage: "" when it exists, is not
// lost and a consumer reads it, else what is wrong.
func SlotState(ctx context.Context, pool *pgxpool.Pool, slot string) (string, error) {
	var active bool
	var status string
	err := pool.QueryRow(ctx, `SELECT active, coalesce(wal_status, '') FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND database = current_database()`, slot).Scan(&active, &status)
	switch {
	case err == pgx.ErrNoRows:
		return "slot " + slot + " does not exist", nil
	case err != nil:
		return "", err
	case status == "lost":
		return "slot " + slot + " is lost (a gap in the trail)", nil
	case !active:
		return "threadline capture is down (nothing reads slot " + slot + ")", nil
	}
	return "", nil
}

// TableStates returns, for each user table ("schema.name") that engine:
// wal captures or that belongs to a captured partitioned table, its
// state.
func TableStates(ctx context.Context, pool *pgxpool.Pool, auditSchema, publication string) (map[string]TableState, error) {
	rows, err := pool.Query(ctx, `
		SELECT n.nspname || '.' || c.relname,
		       EXISTS (SELECT FROM pg_catalog.pg_publication_rel AS r JOIN pg_catalog.pg_publication AS p ON p.oid = r.prpubid
		               WHERE p.pubname = $1 AND r.prrelid = w.relid),
		       c.relreplident
		FROM `+contract.QuoteIdent(auditSchema)+`.audit_wal_tables AS w
		JOIN LATERAL (SELECT w.relid::regclass AS relid UNION SELECT t.relid FROM pg_catalog.pg_partition_tree(w.relid) AS t) AS t ON true
		JOIN pg_catalog.pg_class AS c ON c.oid = t.relid
		JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
		WHERE EXISTS (SELECT FROM pg_catalog.pg_class WHERE oid = w.relid)`, publication)
	if err != nil {
		return nil, fmt.Errorf("engine wal coverage: %w", err)
	}
	defer rows.Close()
	out := map[string]TableState{}
	for rows.Next() {
		var name, ident string
		var member bool
		if err := rows.Scan(&name, &member, &ident); err != nil {
			return nil, fmt.Errorf("engine wal coverage: %w", err)
		}
		switch {
		case !member:
			out[name] = TableState{Detail: "engine: wal: not in publication " + publication}
		default:
			st := TableState{Captured: true, Detail: "engine: wal (publication " + publication + ")"}
			if ident != "f" {
				st.Detail += ", replica identity not FULL: no before-images"
			}
			out[name] = st
		}
	}
	return out, rows.Err()
}
