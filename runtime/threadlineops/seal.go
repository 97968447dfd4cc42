package threadlineops

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/pgsnapshot"
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
	Snapshot     string        `json:"snapshot"`
	Transactions int64         `json:"transactions"`
	Changes      int64         `json:"changes"`
	Duration     time.Duration `json:"-"`
}

// entry is one sealed transaction: what audit_seal_entries holds.
type entry struct {
	txID      int64
	startedAt time.Time
	digest    []byte
	changeIDs []int64
	changeDgs []byte // sha256.Size bytes per change, in changeIDs order
	times     []time.Time
	// record and changeRecords are the canonical records, kept only when
	// units is asked to (proofs).
	record        []byte
	changeRecords [][]byte
}

// Seal seals the transactions committed since the last seal (see the
// notes above). It needs two connections of pool: one reads the data, the
// other writes the seal, both in the same snapshot.
func (a Audit) Seal(ctx context.Context, pool *pgxpool.Pool) (SealResult, error) {
	start := time.Now()
	res, err := a.seal(ctx, pool)
	res.Duration = time.Since(start)
	return res, err
}

func (a Audit) seal(ctx context.Context, pool *pgxpool.Pool) (SealResult, error) {
	s := a.schema()
	w, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return SealResult{}, fmt.Errorf("seal: %w", err)
	}
	defer func() { _ = w.Rollback(context.WithoutCancel(ctx)) }()
	var res SealResult
	var exported string
	if err := w.QueryRow(ctx, "SELECT pg_catalog.pg_current_snapshot()::text, pg_catalog.pg_export_snapshot()").Scan(&res.Snapshot, &exported); err != nil {
		return res, fmt.Errorf("seal: read the snapshot: %w", err)
	}
	cur, err := pgsnapshot.Parse(res.Snapshot)
	if err != nil {
		return res, fmt.Errorf("seal: %w", err)
	}
	prevHead := zeroHead
	var prevSnap string
	err = w.QueryRow(ctx, "SELECT id, snapshot, head FROM "+s+".audit_seals ORDER BY id DESC LIMIT 1").Scan(&res.Seal, &prevSnap, &prevHead)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return res, fmt.Errorf("seal: read the last seal: %w", err)
	}
	res.Seal++
	cond, args := "true", []any(nil)
	if prevSnap != "" {
		prev, err := pgsnapshot.Parse(prevSnap)
		if err != nil {
			return res, fmt.Errorf("seal %d: %w", res.Seal-1, err)
		}
		if cur.Xmax < prev.Xmax {
			return res, fmt.Errorf("seal: the last seal's snapshot %s is ahead of this database's transaction ids (%s): restored into a new cluster? Start a new chain (see docs/security.md)", prevSnap, res.Snapshot)
		}
		cond, args = pgsnapshot.NotSeenSQL("t.txid", "$1", "$2"), []any{strconv.FormatUint(prev.Xmax, 10), prev.XipText()}
	}

	r, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return res, fmt.Errorf("seal: %w", err)
	}
	defer func() { _ = r.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := r.Exec(ctx, "SET TRANSACTION SNAPSHOT "+contract.QuoteLiteral(exported)); err != nil {
		return res, fmt.Errorf("seal: share the snapshot: %w", err)
	}
	head := newHead(prevHead, res.Seal, res.Snapshot)
	next, stop := iter.Pull2(a.units(ctx, r, cond, args, false))
	defer stop()
	var readErr error
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		e, err, ok := next()
		if !ok {
			return nil, nil
		}
		if err != nil {
			readErr = err
			return nil, err
		}
		head.add(e.txID, e.digest)
		res.Transactions++
		res.Changes += int64(len(e.changeIDs))
		return []any{res.Seal, e.txID, e.startedAt, e.digest, e.changeIDs, e.changeDgs, e.times}, nil
	})
	_, err = w.CopyFrom(ctx, pgx.Identifier{a.schemaName(), "audit_seal_entries"},
		[]string{"seal_id", "transaction_id", "started_at", "digest", "change_ids", "change_digests", "change_times"}, rows)
	if readErr != nil {
		return res, fmt.Errorf("seal: read the data: %w", readErr)
	}
	if err != nil {
		return res, fmt.Errorf("seal: write the entries: %w", err)
	}
	if res.Transactions == 0 {
		return SealResult{Snapshot: res.Snapshot}, nil
	}
	h := head.head()
	res.Head = fmt.Sprintf("%x", h)
	_, err = w.Exec(ctx, "INSERT INTO "+s+".audit_seals (id, snapshot, prev_head, head, transactions, changes) VALUES ($1, $2, $3, $4, $5, $6)",
		res.Seal, res.Snapshot, prevHead, h, res.Transactions, res.Changes)
	if err == nil {
		err = w.Commit(ctx)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return res, fmt.Errorf("seal %d: %w", res.Seal, ErrSealRunning)
	}
	if err != nil {
		return res, fmt.Errorf("seal %d: %w", res.Seal, err)
	}
	return res, nil
}

// units yields the transactions matching cond (on audit_transactions AS
// t), in id order, each with its changes' digests (and, with keep, the
// records).
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
			" SELECT "+txFields+", "+changeFields+" FROM t"+
			" LEFT JOIN "+s+".audit_actions AS ac ON ac.id = t.action_id"+
			" LEFT JOIN LATERAL (SELECT * FROM "+s+".audit_changes AS x WHERE x.transaction_id = t.id OFFSET 0) AS c ON true"+
			" ORDER BY t.id, c.id", args...)
		if err != nil {
			yield(nil, err)
			return
		}
		defer rows.Close()
		tx, ch := newRecord(22, txTimes), newRecord(12, changeTimes)
		dest := append(tx.dest(txTimes), ch.dest(changeTimes)...)
		var cur *entry
		var body, buf []byte
		finish := func() bool {
			if cur == nil {
				return true
			}
			h := sha256.New()
			h.Write(body)
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
				cur = &entry{txID: id, startedAt: tx.times[0].Time, changeIDs: []int64{}, times: []time.Time{}}
				body = tx.appendTo(body[:0], 'T', txTimes)
				if keep {
					cur.record = append([]byte(nil), body...)
				}
			}
			if !ch.texts[0].Valid {
				continue // a transaction without changes (an action only)
			}
			cid, err := strconv.ParseInt(ch.texts[0].String, 10, 64)
			if err != nil {
				yield(nil, err)
				return
			}
			buf = ch.appendTo(buf[:0], 'C', changeTimes)
			d := sha256.Sum256(buf)
			cur.changeIDs = append(cur.changeIDs, cid)
			cur.changeDgs = append(cur.changeDgs, d[:]...)
			cur.times = append(cur.times, ch.times[0].Time)
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
