package trailread

import (
	"context"
	"time"

	"github.com/threadline-go/threadline/internal/tlerr"
)

// Which transactions a seal covers, for the viewer's badges.
//
// Seal n covers the transactions its snapshot sees and seal n-1's did not
// (seal() in core.sql.tmpl): the seal that can cover a transaction is the
// first whose snapshot sees its txid, and it does when its entries
// (audit_seal_entries, keyed by seal_id, transaction_id) hold it. No index
// finds a transaction's entry by transaction_id alone, and a trail sealed
// hourly has thousands of seals, so SealMarks finds that first seal by a
// binary search over the seals' ids (snapshots only grow with the id, so
// "sees the txid" turns true once and stays true), a few primary key
// lookups per transaction, then reads its entry by primary key.

// SealMark is what SealMarks found for one transaction.
type SealMark struct {
	// Seal is the first seal whose snapshot sees the transaction: the
	// only one that can cover it.
	Seal int64
	// SealedAt is when that seal was made.
	SealedAt time.Time
	// Sealed reports whether the seal's entries hold the transaction. A
	// transaction the seal's snapshot saw but that is not in its entries
	// was written after the seal with an old transaction id, or the seal
	// tables were changed: threadline verify says which.
	Sealed bool
}

// SealMarks returns the id of the latest seal (0 when the trail was never
// sealed) and, for each of the transactions ids (audit_transactions ids)
// that some seal's snapshot sees, the seal that covers it; a transaction
// no seal has seen yet (committed after the latest seal) is not in the
// map. Two queries, whatever the number of seals: the second a binary
// search of about log2(seals) primary key lookups per transaction.
func (t Trail) SealMarks(ctx context.Context, db DB, ids []int64) (latest int64, marks map[int64]SealMark, err error) {
	s := t.Quoted()
	out := make(map[int64]SealMark, len(ids))
	if err := db.QueryRow(ctx, `SELECT coalesce((SELECT id FROM `+s+`.audit_seals ORDER BY id DESC LIMIT 1), 0)`).Scan(&latest); err != nil {
		return 0, nil, tlerr.Wrap(err, "read the latest seal")
	}
	if latest == 0 || len(ids) == 0 {
		return latest, out, nil
	}
	// b holds each transaction's search: seals lo..hi are still to be
	// searched, best is the lowest seal known to see it.
	rows, err := db.Query(ctx, `WITH RECURSIVE
last AS (SELECT id, snapshot::pg_snapshot AS snap FROM `+s+`.audit_seals ORDER BY id DESC LIMIT 1),
b AS (
	SELECT t.id, t.txid, (SELECT min(id) FROM `+s+`.audit_seals) AS lo, last.id - 1 AS hi, last.id AS best
	FROM `+s+`.audit_transactions AS t, last
	WHERE t.id = ANY ($1::bigint[]) AND pg_visible_in_snapshot(t.txid, last.snap)
	UNION ALL
	SELECT b.id, b.txid,
		CASE WHEN p.id IS NULL OR p.sees THEN b.lo ELSE p.id + 1 END,
		CASE WHEN p.id IS NULL OR p.sees THEN (b.lo + b.hi) / 2 - 1 ELSE b.hi END,
		CASE WHEN p.sees THEN p.id ELSE b.best END
	FROM b LEFT JOIN LATERAL (
		SELECT x.id, pg_visible_in_snapshot(b.txid, x.snapshot::pg_snapshot) AS sees FROM `+s+`.audit_seals AS x
		WHERE x.id >= (b.lo + b.hi) / 2 AND x.id <= b.hi ORDER BY x.id LIMIT 1
	) AS p ON true
	WHERE b.lo <= b.hi
)
SELECT b.id, b.best, x.sealed_at, EXISTS (SELECT 1 FROM `+s+`.audit_seal_entries AS e WHERE e.seal_id = b.best AND e.transaction_id = b.id)
FROM b JOIN `+s+`.audit_seals AS x ON x.id = b.best
WHERE b.lo > b.hi`, ids)
	if err != nil {
		return 0, nil, tlerr.Wrap(err, "read the seals of the transactions")
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var m SealMark
		if err := rows.Scan(&id, &m.Seal, &m.SealedAt, &m.Sealed); err != nil {
			return 0, nil, tlerr.Wrap(err, "read the seals of the transactions")
		}
		m.SealedAt = m.SealedAt.UTC()
		out[id] = m
	}
	if err := rows.Err(); err != nil {
		return 0, nil, tlerr.Wrap(err, "read the seals of the transactions")
	}
	return latest, out, nil
}

// LatestSeal is the latest seal of the trail (audit_seals).
type LatestSeal struct {
	// ID numbers the seal (1, 2, ...); 0 when the trail was never sealed.
	ID int64
	// SealedAt is when it was made.
	SealedAt time.Time
	// Transactions and Changes count what it covers: what committed since
	// the seal before it.
	Transactions, Changes int64
}

// ReadLatestSeal returns the latest seal, by primary key; its ID is 0
// when the trail was never sealed.
func (t Trail) ReadLatestSeal(ctx context.Context, db DB) (LatestSeal, error) {
	var s LatestSeal
	rows, err := db.Query(ctx, `SELECT id, sealed_at, transactions, changes FROM `+t.Quoted()+`.audit_seals ORDER BY id DESC LIMIT 1`)
	if err != nil {
		return s, tlerr.Wrap(err, "read the latest seal")
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&s.ID, &s.SealedAt, &s.Transactions, &s.Changes); err != nil {
			return s, tlerr.Wrap(err, "read the latest seal")
		}
		s.SealedAt = s.SealedAt.UTC()
	}
	if err := rows.Err(); err != nil {
		return s, tlerr.Wrap(err, "read the latest seal")
	}
	return s, nil
}
