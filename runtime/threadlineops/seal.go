package threadlineops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
)

// Tamper evidence: Seal extends a hash chain over the committed audit
// data, and Verify recomputes it. Seal n covers the transactions that its
// snapshot saw and seal n-1's did not (the same division by snapshots as
// the incremental feed), so a transaction that is still running when a
// seal is taken, whatever its id, is sealed by a later seal: a seal never
// covers a range that a transaction can still commit into. Sealing reads;
// it takes no lock the capture path waits for. See docs/security.md.

// Errors of Seal and Verify.
var (
	// ErrSealRunning is returned (wrapped) by Seal when another seal run
	// committed the same seal number first.
	ErrSealRunning = errors.New("threadline: another seal run sealed first; run seal again")
	// ErrVerifyFailed is wrapped by Verify's error when the chain does not
	// match the data (VerifyReport.Problems says where).
	ErrVerifyFailed = errors.New("threadline: verify failed")
)

// SealResult reports a seal run.
type SealResult struct {
	// Seal is the number of the new seal; 0 when nothing new had
	// committed (no seal was written).
	Seal int64 `json:"seal"`
	// Head is the new chain head (hex): record it outside the database
	// (verify -head checks the chain against it).
	Head string `json:"head"`
	// Snapshot is the seal's snapshot.
	Snapshot     string `json:"snapshot"`
	Transactions int64  `json:"transactions"`
	Changes      int64  `json:"changes"`
	// Purges counts the purge records the seal covers.
	Purges   int64         `json:"purges"`
	Duration time.Duration `json:"-"`
}

// entry is one sealed transaction: what audit_seal_entries holds.
type entry struct {
	txID      int64
	startedAt time.Time
	digest    []byte
	changeIDs []int64
	changeDgs []byte // sha256.Size bytes per change, in changeIDs order
	times     []time.Time
	// record is the transaction's canonical record (units only);
	// changeRecords are its changes' (units with keep, for proofs).
	record        []byte
	changeRecords [][]byte
}

// Seal seals the transactions and purge records committed since the last
// seal (see the notes above) by calling the audit schema's seal()
// function, which computes every digest from the data: the role needs
// EXECUTE on it (retention_roles), not the right to write the seal tables.
func (a Audit) Seal(ctx context.Context, db threadline.DBTX) (SealResult, error) {
	start := time.Now()
	res, err := a.seal(ctx, db)
	res.Duration = time.Since(start)
	return res, err
}

func (a Audit) seal(ctx context.Context, db threadline.DBTX) (SealResult, error) {
	var res SealResult
	var head []byte
	err := db.QueryRow(ctx, "SELECT r_seal, r_head, r_snapshot, r_transactions, r_changes, r_purges FROM "+a.schema()+".seal()").
		Scan(&res.Seal, &head, &res.Snapshot, &res.Transactions, &res.Changes, &res.Purges)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return SealResult{}, nil
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		return res, fmt.Errorf("seal: %w", ErrSealRunning)
	case errors.As(err, &pgErr) && pgErr.Code == "42883":
		return res, fmt.Errorf("seal: the audit schema %s has no seal() function: it predates sealing v2; regenerate and apply the update migration: %w", a.schemaName(), err)
	case err != nil:
		return res, fmt.Errorf("seal: %w", err)
	}
	res.Head = hex.EncodeToString(head)
	return res, nil
}

// Positions of the start and capture times among the record fields.
const (
	txStartedAt      = 2
	changeCapturedAt = 11
)

// units yields the transactions matching cond (on audit_transactions AS
// t), in id order, each with its record and its changes' digests (and,
// with keep, their records).
func (a Audit) units(ctx context.Context, db pgx.Tx, cond string, args []any, keep bool) iter.Seq2[*entry, error] {
	return func(yield func(*entry, error) bool) {
		s := a.schema()
		// Each transaction's changes through the transaction_id index (a
		// LATERAL subquery): as a join, the planner hashed a sequential
		// scan of every change for each seal, a cost that grew with the
		// trail instead of with what the seal covers.
		// The headers first, through the (txid, started_at) index (a
		// materialized CTE: ordered by id, the planner walked the primary
		// key and filtered every header). No JIT: row estimates of the
		// lateral join are far off, and compiling cost more than running.
		if _, err := db.Exec(ctx, "SET LOCAL jit = off"); err != nil {
			yield(nil, err)
			return
		}
		rows, err := db.Query(ctx, "WITH t AS MATERIALIZED (SELECT * FROM "+s+".audit_transactions AS t WHERE "+cond+")"+
			" SELECT "+selectFields(contract.SealTransactionFields())+", "+selectFields(contract.SealChangeFields())+" FROM t"+
			" LEFT JOIN "+s+".audit_actions AS ac ON ac.id = t.action_id"+
			" LEFT JOIN LATERAL (SELECT * FROM "+s+".audit_changes AS x WHERE x.transaction_id = t.id OFFSET 0) AS c ON true"+
			" ORDER BY t.id, c.id", args...)
		if err != nil {
			yield(nil, err)
			return
		}
		defer rows.Close()
		tx, ch := newRecord(contract.SealTransactionFields()), newRecord(contract.SealChangeFields())
		dest := append(tx.dest(), ch.dest()...)
		var cur *entry
		var buf []byte
		finish := func() bool {
			if cur == nil {
				return true
			}
			h := sha256.New()
			h.Write(cur.record)
			h.Write(cur.changeDgs)
			cur.digest = h.Sum(nil)
			return yield(cur, nil)
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				yield(nil, err)
				return
			}
			id, err := strconv.ParseInt(tx.texts[0].String, 10, 64)
			if err != nil {
				yield(nil, err)
				return
			}
			if cur == nil || cur.txID != id {
				if !finish() {
					return
				}
				cur = &entry{txID: id, startedAt: tx.times[txStartedAt].Time, changeIDs: []int64{}, times: []time.Time{}}
				cur.record = tx.appendTo(nil, 'T')
			}
			if !ch.texts[0].Valid {
				continue // a transaction without changes (an action only)
			}
			cid, err := strconv.ParseInt(ch.texts[0].String, 10, 64)
			if err != nil {
				yield(nil, err)
				return
			}
			buf = ch.appendTo(buf[:0], 'C')
			d := sha256.Sum256(buf)
			cur.changeIDs = append(cur.changeIDs, cid)
			cur.changeDgs = append(cur.changeDgs, d[:]...)
			cur.times = append(cur.times, ch.times[changeCapturedAt].Time)
			if keep {
				cur.changeRecords = append(cur.changeRecords, append([]byte(nil), buf...))
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, err)
			return
		}
		finish()
	}
}
