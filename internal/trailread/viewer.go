package trailread

import (
	"context"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/tlerr"
)

// The reads only the viewer makes: which tables were active lately, and
// whether a table exists.

// Activity is what RecentActivity found among the latest changes.
type Activity struct {
	// Sample is the number of changes examined (at most the n asked for).
	Sample int64 `json:"sample"`
	// Since is the captured_at of the oldest change examined (zero when
	// there is none).
	Since time.Time `json:"since"`
	// Tables lists the tables changed in the sample, most changes first,
	// then by schema and name.
	Tables []TableActivity `json:"tables"`
}

// TableActivity is one table's share of the changes RecentActivity
// examined.
type TableActivity struct {
	// Table is the name in the runtime's Filter.Table form ("public.users").
	Table  string `json:"table"`
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Changes counts the table's changes in the sample.
	Changes int64 `json:"changes"`
	// Latest is the captured_at of its newest change in the sample.
	Latest time.Time `json:"latest"`
}

// DefaultActivitySample is the number of latest changes RecentActivity
// examines when given n <= 0.
const DefaultActivitySample = 10000

// MaxActivitySample caps the number of changes RecentActivity examines.
const MaxActivitySample = 100000

// RecentActivity counts, per table, the latest n changes (by id, read
// backwards on the primary key index, so the cost does not grow with the
// trail): the "what has been busy lately" of a dashboard. n <= 0 means
// DefaultActivitySample; it is capped at MaxActivitySample.
func (t Trail) RecentActivity(ctx context.Context, db DB, n int) (Activity, error) {
	if n <= 0 {
		n = DefaultActivitySample
	}
	n = min(n, MaxActivitySample)
	rows, err := db.Query(ctx, `WITH s AS MATERIALIZED (
	SELECT c.table_schema, c.table_name, c.captured_at FROM `+t.Quoted()+`.audit_changes AS c ORDER BY c.id DESC LIMIT $1)
SELECT table_schema, table_name, count(*), max(captured_at),
	(SELECT count(*) FROM s), (SELECT min(captured_at) FROM s)
FROM s GROUP BY table_schema, table_name
ORDER BY count(*) DESC, table_schema COLLATE "C", table_name COLLATE "C"`, n)
	if err != nil {
		return Activity{}, tlerr.Wrap(err, "recent activity")
	}
	defer rows.Close()
	var act Activity
	for rows.Next() {
		var ta TableActivity
		var since time.Time
		if err := rows.Scan(&ta.Schema, &ta.Name, &ta.Changes, &ta.Latest, &act.Sample, &since); err != nil {
			return Activity{}, tlerr.Wrap(err, "recent activity")
		}
		act.Since = since.UTC()
		ta.Latest = ta.Latest.UTC()
		ta.Table = contract.QualifiedName{Schema: ta.Schema, Name: ta.Name}.String()
		act.Tables = append(act.Tables, ta)
	}
	if err := rows.Err(); err != nil {
		return Activity{}, tlerr.Wrap(err, "recent activity")
	}
	return act, nil
}

// TableExists reports whether t names an ordinary or partitioned table
// in the database, from the catalog (no privilege on the table is
// needed).
func TableExists(ctx context.Context, db DB, t contract.QualifiedName) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
	JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
	WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))`, t.Schema, t.Name).Scan(&ok)
	if err != nil {
		return false, tlerr.Wrap(err, "look up table %s", t)
	}
	return ok, nil
}
