package threadline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/threadline-go/threadline/internal/tlerr"
	"github.com/threadline-go/threadline/internal/trailread"
)

// ErrDeleted is returned by AsOf when the row did not exist at the
// instant: its latest change by then deleted it, moved it to another key
// (an update of the key), or the table was truncated after that change.
var ErrDeleted = errors.New("threadline: row was deleted at that time")

// ErrBeforeHorizon is returned by AsOf when nothing was captured for the
// row by the instant: the row may or may not have existed, but its history
// starts later (capture began after it was last written, or it was written
// for the first time afterwards).
var ErrBeforeHorizon = errors.New("threadline: nothing captured for the row at that time (before the audit horizon)")

// AsOf returns the row image of one row at instant at: the data_after of
// its latest change captured at or before at (captured_at <= at). table
// and key are as for History.
//
//   - The latest change is an insert or an update to this key: its row
//     image (redacted like every audit image).
//   - It is a delete, or an update that moved the row to another key, or a
//     TRUNCATE of the table was captured after it (and at or before at):
//     ErrDeleted. A TRUNCATE of a partition counts as a TRUNCATE of the
//     partitioned table.
//   - Nothing was captured for the key by then: ErrBeforeHorizon, or
//     ErrDeleted when a TRUNCATE of the table was captured by then (the
//     row cannot have survived it).
//
// A row deleted and inserted again has the new row's image after the
// insert.
func (a Audit) AsOf(ctx context.Context, db DBTX, table string, key any, at time.Time) (json.RawMessage, error) {
	t, err := parseTableName(table)
	if err != nil {
		return nil, err
	}
	k, err := keyJSON(key)
	if err != nil {
		return nil, err
	}
	if at.IsZero() {
		return nil, filterErrorf("at", "zero time")
	}
	s := a.schema()
	// One round trip: the latest change of the row by then (using the row
	// indexes), and whether a truncate of the table followed it (using
	// audit_changes_truncate_idx).
	sql := `SELECT l.op, l.on_key, l.data_after,
	EXISTS (SELECT 1 FROM ` + s + `.audit_changes AS tr
		WHERE tr.table_name = $2 AND tr.op = 'truncate' AND tr.table_schema = $1
		AND tr.captured_at <= $4
		AND (l.id IS NULL OR (tr.captured_at, tr.id) > (l.captured_at, l.id)))
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
	SELECT c.id, c.captured_at, c.op, c.table_pk = $3::jsonb AS on_key, c.data_after
	FROM ` + s + `.audit_changes AS c
	WHERE c.table_schema = $1
		AND ` + trailread.RowMatch("c", "$2", "$3") + `
		AND c.captured_at <= $4
	ORDER BY c.captured_at DESC, c.id DESC
	LIMIT 1
) AS l ON true`
	var op *string
	var onKey *bool
	var after []byte
	var truncated bool
	if err := db.QueryRow(ctx, sql, t.Schema, t.Name, k, at.Truncate(time.Microsecond)).Scan(&op, &onKey, &after, &truncated); err != nil {
		return nil, tlerr.Wrap(err, "as-of")
	}
	switch {
	case truncated:
		return nil, ErrDeleted
	case op == nil:
		return nil, ErrBeforeHorizon
	case Op(*op) == OpDelete, onKey != nil && !*onKey:
		return nil, ErrDeleted
	case after == nil:
		// An insert or update always stores its image; be explicit
		// rather than return a nil row.
		return nil, fmt.Errorf("threadline: as-of: change without a row image")
	}
	return json.RawMessage(after), nil
}
