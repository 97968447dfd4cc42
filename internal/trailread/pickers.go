package trailread

import (
	"context"

	"github.com/threadline-go/threadline/internal/tlerr"
)

// Reads for the viewer's pickers: the latest actors, read by primary key
// from a bounded number of transactions, whatever the size of the trail.

// RecentActors returns the distinct actors (actor_ref as stored) of the
// latest n transactions, the most recently active first, at most max of
// them.
func (t Trail) RecentActors(ctx context.Context, db DB, n, max int) ([][]byte, error) {
	rows, err := db.Query(ctx, `SELECT s.actor_ref FROM (SELECT tx.id, tx.actor_ref FROM `+t.Quoted()+`.audit_transactions AS tx
	ORDER BY tx.id DESC LIMIT $1) AS s
WHERE s.actor_ref IS NOT NULL GROUP BY s.actor_ref ORDER BY max(s.id) DESC LIMIT $2`, n, max)
	if err != nil {
		return nil, tlerr.Wrap(err, "recent actors")
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, tlerr.Wrap(err, "recent actors")
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, tlerr.Wrap(err, "recent actors")
	}
	return out, nil
}
