package threadlineops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/internal/pgsnapshot"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// FromSeal starts at this seal (its link to the seal before it is
	// not checked); 0 or 1 verifies the whole chain.
	FromSeal int64
	// Head, when set (hex), must be the head of a seal of the chain: a
	// head recorded outside the database when it was sealed. It is what
	// detects a chain rewritten as a whole.
	Head string
	// MaxProblems bounds VerifyReport.Problems (default 20); the count of
	// problems is exact.
	MaxProblems int
	// Progress, when set, is called after each seal with the changes
	// verified so far.
	Progress func(changes int64)
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Seals        int64 `json:"seals"`
	Transactions int64 `json:"transactions"`
	Changes      int64 `json:"changes"`
	// PurgedTransactions and PurgedChanges were sealed, then deleted by
	// a recorded purge (audit_purges): not a failure.
	PurgedTransactions int64 `json:"purged_transactions"`
	PurgedChanges      int64 `json:"purged_changes"`
	// Head is the head of the last seal verified (hex).
	Head string `json:"head"`
	// ProblemCount counts every problem; Problems lists the first ones,
	// in chain order.
	ProblemCount int64     `json:"problem_count"`
	Problems     []Problem `json:"problems"`
}

// Problem is one place where the chain and the data disagree.
type Problem struct {
	Seal        int64  `json:"seal"`
	Transaction int64  `json:"transaction,omitempty"`
	Change      int64  `json:"change,omitempty"`
	What        string `json:"what"`
}

func (p Problem) String() string { return p.What }

type sealRow struct {
	id             int64
	snapshot       string
	prevHead, head []byte
}

// Verify recomputes the chain from the data and the seals and reports
// every difference: a sealed change or transaction whose bytes changed,
// that is missing, or that was added inside a sealed range, a seal whose
// head does not match its entries, a broken link between seals, and a
// recorded head (VerifyOptions.Head) that is not in the chain. Data
// deleted by a recorded purge is counted, not reported. The error wraps
// ErrVerifyFailed when there is a problem. It streams: memory does not
// grow with the trail.
func (a Audit) Verify(ctx context.Context, pool *pgxpool.Pool, o VerifyOptions) (VerifyReport, error) {
	if o.MaxProblems <= 0 {
		o.MaxProblems = 20
	}
	v := &verifier{a: a, o: o}
	if err := v.run(ctx, pool); err != nil {
		return v.rep, err
	}
	if v.rep.ProblemCount > 0 {
		n := "1 problem"
		if v.rep.ProblemCount > 1 {
			n = strconv.FormatInt(v.rep.ProblemCount, 10) + " problems"
		}
		return v.rep, fmt.Errorf("%w: %s, the first: %s", ErrVerifyFailed, n, v.rep.Problems[0].What)
	}
	return v.rep, nil
}

type verifier struct {
	a      Audit
	o      VerifyOptions
	rep    VerifyReport
	cutoff time.Time // the latest recorded purge cutoff
}

func (v *verifier) problem(p Problem) {
	v.rep.ProblemCount++
	if len(v.rep.Problems) < v.o.MaxProblems {
		v.rep.Problems = append(v.rep.Problems, p)
	}
}

func (v *verifier) run(ctx context.Context, pool *pgxpool.Pool) error {
	s := v.a.schema()
	seals, err := v.seals(ctx, pool)
	if err != nil {
		return err
	}
	var cutoff *time.Time
	if err := pool.QueryRow(ctx, "SELECT max(cutoff) FROM "+s+".audit_purges").Scan(&cutoff); err != nil {
		return fmt.Errorf("verify: read the purges: %w", err)
	}
	if cutoff != nil {
		v.cutoff = *cutoff
	}
	var want []byte
	if v.o.Head != "" {
		if want, err = hex.DecodeString(strings.TrimSpace(v.o.Head)); err != nil || len(want) != len(zeroHead) {
			return fmt.Errorf("verify: -head %q is not a 64-digit hex head", v.o.Head)
		}
	}
	found := want == nil
	var prev *sealRow
	for i := range seals {
		sr := &seals[i]
		if sr.id < v.o.FromSeal {
			prev = sr
			continue
		}
		v.link(prev, sr)
		if err := v.seal(ctx, pool, prev, sr); err != nil {
			return err
		}
		if bytes.Equal(sr.head, want) {
			found = true
		}
		v.rep.Seals++
		v.rep.Head = hex.EncodeToString(sr.head)
		if v.o.Progress != nil {
			v.o.Progress(v.rep.Changes)
		}
		prev = sr
	}
	if !found {
		v.problem(Problem{What: fmt.Sprintf("the recorded head %s is not the head of any seal: the chain was rewritten", v.o.Head)})
	}
	return nil
}

func (v *verifier) seals(ctx context.Context, pool *pgxpool.Pool) ([]sealRow, error) {
	rows, err := pool.Query(ctx, "SELECT id, snapshot, prev_head, head FROM "+v.a.schema()+".audit_seals ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("verify: read the seals: %w", err)
	}
	seals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealRow, error) {
		var s sealRow
		err := r.Scan(&s.id, &s.snapshot, &s.prevHead, &s.head)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("verify: read the seals: %w", err)
	}
	return seals, nil
}

// link checks that seal sr follows prev.
func (v *verifier) link(prev, sr *sealRow) {
	switch {
	case prev == nil && sr.id != 1 && v.o.FromSeal <= 1:
		v.problem(Problem{Seal: sr.id, What: fmt.Sprintf("seals 1 to %d are missing: the chain does not start at seal 1", sr.id-1)})
	case prev == nil:
		if sr.id == 1 && !bytes.Equal(sr.prevHead, zeroHead) {
			v.problem(Problem{Seal: 1, What: "seal 1: its previous head is not zero: broken link"})
		}
	case sr.id != prev.id+1:
		v.problem(Problem{Seal: sr.id, What: fmt.Sprintf("seals %d to %d are missing: the chain has a gap", prev.id+1, sr.id-1)})
	case !bytes.Equal(sr.prevHead, prev.head):
		v.problem(Problem{Seal: sr.id, What: fmt.Sprintf("seal %d: its previous head does not match seal %d's head: broken link", sr.id, prev.id)})
	}
}

// seal verifies one seal: its head against its entries, and its entries
// against the data, merging both in transaction id order.
func (v *verifier) seal(ctx context.Context, pool *pgxpool.Pool, prev, sr *sealRow) error {
	cur, err := pgsnapshot.Parse(sr.snapshot)
	if err != nil {
		return fmt.Errorf("verify: seal %d: %w", sr.id, err)
	}
	cond := pgsnapshot.SeenSQL("t.txid", "$1", "$2")
	args := []any{strconv.FormatUint(cur.Xmax, 10), cur.XipText()}
	if prev != nil {
		p, err := pgsnapshot.Parse(prev.snapshot)
		if err != nil {
			return fmt.Errorf("verify: seal %d: %w", prev.id, err)
		}
		cond += " AND " + pgsnapshot.NotSeenSQL("t.txid", "$3", "$4")
		args = append(args, strconv.FormatUint(p.Xmax, 10), p.XipText())
	}
	dataTx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer func() { _ = dataTx.Rollback(context.WithoutCancel(ctx)) }()
	entryTx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer func() { _ = entryTx.Rollback(context.WithoutCancel(ctx)) }()

	head := newHead(sr.prevHead, sr.id, sr.snapshot)
	nextData, stopData := iter.Pull2(v.a.units(ctx, dataTx, cond, args, false))
	defer stopData()
	nextEntry, stopEntry := iter.Pull2(v.a.entries(ctx, entryTx, sr.id))
	defer stopEntry()
	d, derr, dok := nextData()
	e, eerr, eok := nextEntry()
	for dok || eok {
		if derr != nil {
			return fmt.Errorf("verify: seal %d: read the data: %w", sr.id, derr)
		}
		if eerr != nil {
			return fmt.Errorf("verify: seal %d: read the entries: %w", sr.id, eerr)
		}
		switch {
		case eok && (!dok || e.txID < d.txID):
			head.add(e.txID, e.digest)
			v.missingTransaction(sr.id, e)
			e, eerr, eok = nextEntry()
		case dok && (!eok || d.txID < e.txID):
			v.problem(Problem{Seal: sr.id, Transaction: d.txID, What: fmt.Sprintf("seal %d: transaction %d was added inside the sealed range", sr.id, d.txID)})
			d, derr, dok = nextData()
		default:
			head.add(e.txID, e.digest)
			v.compare(sr.id, e, d)
			e, eerr, eok = nextEntry()
			d, derr, dok = nextData()
		}
	}
	if !bytes.Equal(head.head(), sr.head) {
		v.problem(Problem{Seal: sr.id, What: fmt.Sprintf("seal %d: its head does not match its entries: the seal tables were rewritten", sr.id)})
	}
	return nil
}

// entries yields a seal's stored entries in transaction id order.
func (a Audit) entries(ctx context.Context, db pgx.Tx, seal int64) iter.Seq2[*entry, error] {
	return func(yield func(*entry, error) bool) {
		rows, err := db.Query(ctx, "SELECT transaction_id, started_at, digest, change_ids, change_digests, change_times FROM "+
			a.schema()+".audit_seal_entries WHERE seal_id = $1 ORDER BY transaction_id", seal)
		if err != nil {
			yield(nil, err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			e := &entry{}
			if err := rows.Scan(&e.txID, &e.startedAt, &e.digest, &e.changeIDs, &e.changeDgs, &e.times); err != nil {
				yield(nil, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// purged reports whether a recorded purge deleted what was captured at t.
func (v *verifier) purged(t time.Time) bool { return t.Before(v.cutoff) }

// missingTransaction reports a sealed transaction that is gone, unless a
// recorded purge took it.
func (v *verifier) missingTransaction(seal int64, e *entry) {
	all := v.purged(e.startedAt)
	for _, t := range e.times {
		all = all && v.purged(t)
	}
	if all {
		v.rep.PurgedTransactions++
		v.rep.PurgedChanges += int64(len(e.changeIDs))
		return
	}
	v.problem(Problem{Seal: seal, Transaction: e.txID, What: fmt.Sprintf("seal %d: transaction %d is missing (deleted after sealing)", seal, e.txID)})
}

// compare checks one sealed transaction against its data.
func (v *verifier) compare(seal int64, e, d *entry) {
	v.rep.Transactions++
	const n = sha256.Size
	stored := map[int64]int{}
	for i, id := range e.changeIDs {
		stored[id] = i
	}
	seen := map[int64]bool{}
	changed := false
	for j, id := range d.changeIDs {
		i, ok := stored[id]
		if !ok {
			v.problem(Problem{Seal: seal, Transaction: e.txID, Change: id, What: fmt.Sprintf("seal %d: change %d was added to sealed transaction %d", seal, id, e.txID)})
			changed = true
			continue
		}
		seen[id] = true
		v.rep.Changes++
		if !bytes.Equal(e.changeDgs[i*n:(i+1)*n], d.changeDgs[j*n:(j+1)*n]) {
			v.problem(Problem{Seal: seal, Transaction: e.txID, Change: id, What: fmt.Sprintf("seal %d: change %d of transaction %d: its stored bytes changed since sealing", seal, id, e.txID)})
			changed = true
		}
	}
	purged := false
	for i, id := range e.changeIDs {
		if seen[id] {
			continue
		}
		if v.purged(e.times[i]) {
			v.rep.PurgedChanges++
			purged = true
			continue
		}
		v.problem(Problem{Seal: seal, Transaction: e.txID, Change: id, What: fmt.Sprintf("seal %d: change %d of transaction %d is missing (deleted after sealing)", seal, id, e.txID)})
		changed = true
	}
	// With every change as sealed, a different digest is the
	// transaction's own record (its header or action).
	if !changed && !purged && !bytes.Equal(e.digest, d.digest) {
		v.problem(Problem{Seal: seal, Transaction: e.txID, What: fmt.Sprintf("seal %d: transaction %d: its header or action changed since sealing", seal, e.txID)})
	}
}
