package threadlineops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"slices"
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
	// Gaps are the breaks in the WAL engine's coverage recorded in
	// audit_wal_gaps (engine: wal): changes committed in them were never
	// captured. Known gaps, not tampering and not a failure: they are not
	// problems.
	Gaps []CaptureGap `json:"gaps"`
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
	id                          int64
	version                     int16
	snapshot                    string
	prevHead, head              []byte
	purgesDigest, entriesDigest []byte
	// snap is the parsed snapshot; snapErr says why it cannot be used
	// (malformed, or one seal() here cannot have taken: see snapshot), and
	// then the seal's entries are not checked against the data.
	snap    pgsnapshot.Snapshot
	snapErr error
}

// Verify recomputes the chain from the data and the seals and reports
// every difference: a sealed change or transaction whose bytes changed,
// that is missing, or that was added inside a sealed range, a sealed
// header or action that changed, a seal whose head does not match its
// entries and purge records, a seal whose snapshot this database cannot
// have taken, a broken link between seals, and a recorded head
// (VerifyOptions.Head) that is not in the chain. It also reports the gaps
// the WAL engine recorded (VerifyReport.Gaps): known, not problems. A missing sealed row is
// counted as purged, not reported, only under a purge record that a seal
// covers and that was complete for its cutoff (no change captured before
// it is left). The error wraps ErrVerifyFailed when there is a problem.
// It streams: memory does not grow with the trail.
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
	a   Audit
	o   VerifyOptions
	rep VerifyReport
	// cutoff is the latest cutoff of a sealed, complete purge: sealed
	// data captured before it was purged. unsealed and incomplete are the
	// latest purge records that do not count, with why.
	cutoff     time.Time
	unsealed   *purgeRecord
	incomplete *purgeRecord
}

func (v *verifier) problem(p Problem) {
	v.rep.ProblemCount++
	if len(v.rep.Problems) < v.o.MaxProblems {
		v.rep.Problems = append(v.rep.Problems, p)
	}
}

func (v *verifier) run(ctx context.Context, pool *pgxpool.Pool) error {
	seals, err := v.seals(ctx, pool)
	if err != nil {
		return err
	}
	if err := v.purges(ctx, pool, seals); err != nil {
		return err
	}
	var want []byte
	if v.o.Head != "" {
		if want, err = hex.DecodeString(strings.TrimSpace(v.o.Head)); err != nil || len(want) != len(zeroHead) {
			return fmt.Errorf("verify: -head %q is not a 64-digit hex head", v.o.Head)
		}
	}
	if v.rep.Gaps, err = v.a.captureGaps(ctx, pool, nil); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	now, err := currentSnapshot(ctx, pool)
	if err != nil {
		return err
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
		v.snapshot(now, prev, sr)
		if sr.snapErr == nil {
			if err := v.seal(ctx, pool, prev, sr); err != nil {
				return err
			}
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

func currentSnapshot(ctx context.Context, pool *pgxpool.Pool) (pgsnapshot.Snapshot, error) {
	var text string
	if err := pool.QueryRow(ctx, "SELECT pg_catalog.pg_current_snapshot()::text").Scan(&text); err != nil {
		return pgsnapshot.Snapshot{}, fmt.Errorf("verify: read the snapshot: %w", err)
	}
	return pgsnapshot.Parse(text)
}

func (v *verifier) seals(ctx context.Context, pool *pgxpool.Pool) ([]sealRow, error) {
	rows, err := pool.Query(ctx, "SELECT id, version, snapshot, prev_head, head, purges_digest, entries_digest FROM "+v.a.schema()+".audit_seals ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("verify: read the seals (an install older than sealing v2 needs its update migration): %w", err)
	}
	seals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealRow, error) {
		var s sealRow
		err := r.Scan(&s.id, &s.version, &s.snapshot, &s.prevHead, &s.head, &s.purgesDigest, &s.entriesDigest)
		s.snap, s.snapErr = pgsnapshot.Parse(s.snapshot)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("verify: read the seals: %w", err)
	}
	return seals, nil
}

// purges reads the purge records, checks each version 2 seal's purges
// digest against those its snapshots cover, and sets the cutoff below
// which sealed data counts as purged.
func (v *verifier) purges(ctx context.Context, pool *pgxpool.Pool, seals []sealRow) error {
	rows, err := pool.Query(ctx, "SELECT id, cutoff, purged_at, txid::text FROM "+v.a.schema()+".audit_purges ORDER BY id")
	if err != nil {
		return fmt.Errorf("verify: read the purges: %w", err)
	}
	type purge struct {
		purgeRecord
		txid uint64
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*purge, error) {
		var p purge
		var txid string
		err := r.Scan(&p.id, &p.cutoff, &p.at, &txid)
		if err == nil {
			p.txid, err = strconv.ParseUint(txid, 10, 64)
		}
		return &p, err
	})
	if err != nil {
		return fmt.Errorf("verify: read the purges: %w", err)
	}
	var prev *sealRow
	for i := range seals {
		sr := &seals[i]
		if sr.version >= 2 && sr.snapErr == nil {
			var covered []purgeRecord
			var ps []*purge
			for _, p := range all {
				if sr.snap.Sees(p.txid) && (prev == nil || prev.snapErr != nil || !prev.snap.Sees(p.txid)) {
					covered, ps = append(covered, p.purgeRecord), append(ps, p)
				}
			}
			if bytes.Equal(purgesDigest(covered), sr.purgesDigest) {
				for _, p := range ps {
					p.sealed = true
				}
			} else {
				v.problem(Problem{Seal: sr.id, What: fmt.Sprintf("seal %d: the purge records it covers changed since sealing (one was edited, deleted or added)", sr.id)})
			}
		}
		prev = sr
	}
	// The latest sealed purge that was complete for its cutoff.
	slices.SortFunc(all, func(x, y *purge) int { return y.cutoff.Compare(x.cutoff) })
	for _, p := range all {
		if !p.sealed {
			if v.unsealed == nil {
				v.unsealed = &p.purgeRecord
			}
			continue
		}
		var left bool
		if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT FROM "+v.a.schema()+".audit_changes WHERE captured_at < $1)", p.cutoff).Scan(&left); err != nil {
			return fmt.Errorf("verify: check purge %d: %w", p.id, err)
		}
		if !left {
			v.cutoff = p.cutoff
			return nil
		}
		if v.incomplete == nil {
			v.incomplete = &p.purgeRecord
		}
	}
	return nil
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

// snapshot checks that seal sr's snapshot is one seal() in this database
// could have taken: well formed, not ahead of the database's transaction
// ids, not behind the previous seal's.
func (v *verifier) snapshot(now pgsnapshot.Snapshot, prev, sr *sealRow) {
	forged := fmt.Sprintf("seal %d: it was not written by seal() in this database (a forged seal row, or a restore into a new cluster); its entries were not checked", sr.id)
	switch {
	case sr.snapErr != nil:
		v.problem(Problem{Seal: sr.id, What: fmt.Sprintf("seal %d: its snapshot %q is malformed: %s", sr.id, sr.snapshot, forged)})
	case sr.snap.Xmax > now.Xmax:
		v.problem(Problem{Seal: sr.id, What: fmt.Sprintf("seal %d: its snapshot %s is ahead of this database's transaction ids (%s): %s", sr.id, sr.snapshot, now.Text, forged)})
		sr.snapErr = errors.New("ahead of the database")
	case prev != nil && prev.snapErr == nil && sr.snap.Xmax < prev.snap.Xmax:
		v.problem(Problem{Seal: sr.id, What: fmt.Sprintf("seal %d: its snapshot %s is behind seal %d's (%s): %s", sr.id, sr.snapshot, prev.id, prev.snapshot, forged)})
		sr.snapErr = errors.New("behind the previous seal")
	}
}

// seal verifies one seal: its head against its entries, and its entries
// against the data, merging both in transaction id order.
func (v *verifier) seal(ctx context.Context, pool *pgxpool.Pool, prev, sr *sealRow) error {
	cond := pgsnapshot.SeenSQL("t.txid", "$1", "$2")
	args := []any{strconv.FormatUint(sr.snap.Xmax, 10), sr.snap.XipText()}
	if prev != nil && prev.snapErr == nil {
		cond += " AND " + pgsnapshot.NotSeenSQL("t.txid", "$3", "$4")
		args = append(args, strconv.FormatUint(prev.snap.Xmax, 10), prev.snap.XipText())
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

	hv1, hv2 := newHeadV1(sr.prevHead, sr.id, sr.snapshot), newEntriesDigest()
	add := func(e *entry) {
		hv1.add(e.txID, e.digest)
		hv2.add(entryHash(e))
	}
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
			add(e)
			v.missingTransaction(sr.id, e)
			e, eerr, eok = nextEntry()
		case dok && (!eok || d.txID < e.txID):
			v.problem(Problem{Seal: sr.id, Transaction: d.txID, What: fmt.Sprintf("seal %d: transaction %d was added inside the sealed range", sr.id, d.txID)})
			d, derr, dok = nextData()
		default:
			add(e)
			v.compare(sr.id, e, d)
			e, eerr, eok = nextEntry()
			d, derr, dok = nextData()
		}
	}
	v.head(sr, hv1.head(), hv2.sum())
	return nil
}

// head checks seal sr's head: for version 1 the head computed from its
// entries; for version 2 its entries digest, then the head over it.
func (v *verifier) head(sr *sealRow, v1, entries []byte) {
	switch {
	case sr.version < 2 && !bytes.Equal(v1, sr.head):
		v.problem(Problem{Seal: sr.id, What: fmt.Sprintf("seal %d: its head does not match its entries: the seal tables were rewritten", sr.id)})
	case sr.version < 2:
	case !bytes.Equal(entries, sr.entriesDigest):
		v.problem(Problem{Seal: sr.id, What: fmt.Sprintf("seal %d: its entries do not match its entries digest: the seal entries were rewritten", sr.id)})
	case !bytes.Equal(headV2(sr.prevHead, sr.id, sr.snapshot, sr.purgesDigest, sr.entriesDigest), sr.head):
		v.problem(Problem{Seal: sr.id, What: fmt.Sprintf("seal %d: its head does not match its entries and purge records: the seal row was rewritten", sr.id)})
	}
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
			if len(e.changeDgs) != len(e.changeIDs)*sha256.Size || len(e.times) != len(e.changeIDs) {
				yield(nil, fmt.Errorf("seal %d: the entry of transaction %d is malformed (its change lists differ in length)", seal, e.txID))
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

// purged reports whether a recorded purge explains that what was
// captured at t is gone; when it does not, why names a purge record that
// would have but does not count.
func (v *verifier) purged(t time.Time) (ok bool, why string) {
	switch {
	case t.Before(v.cutoff):
		return true, ""
	case v.unsealed != nil && t.Before(v.unsealed.cutoff):
		return false, fmt.Sprintf("; purge record %d (cutoff %s) would explain it, but no seal covers that record yet: run threadline seal, then verify again",
			v.unsealed.id, v.unsealed.cutoff.UTC().Format(time.RFC3339))
	case v.incomplete != nil && t.Before(v.incomplete.cutoff):
		return false, fmt.Sprintf("; purge record %d (cutoff %s) does not explain it: changes captured before that cutoff are still there, so it was not a complete purge (a capped or interrupted purge: run threadline purge again to finish it, then seal)",
			v.incomplete.id, v.incomplete.cutoff.UTC().Format(time.RFC3339))
	}
	return false, ""
}

// missingTransaction reports a sealed transaction that is gone, unless a
// recorded purge took it.
func (v *verifier) missingTransaction(seal int64, e *entry) {
	ok, why := v.purged(e.startedAt)
	for _, t := range e.times {
		if ok {
			ok, why = v.purged(t)
		}
	}
	if ok {
		v.rep.PurgedTransactions++
		v.rep.PurgedChanges += int64(len(e.changeIDs))
		return
	}
	v.problem(Problem{Seal: seal, Transaction: e.txID, What: fmt.Sprintf("seal %d: transaction %d is missing (deleted after sealing)%s", seal, e.txID, why)})
}

// compare checks one sealed transaction against its data: each change,
// and the header and action (the transaction's record with the sealed
// change digests must give the sealed digest), whatever else was purged.
func (v *verifier) compare(seal int64, e, d *entry) {
	v.rep.Transactions++
	const n = sha256.Size
	stored := map[int64]int{}
	for i, id := range e.changeIDs {
		stored[id] = i
	}
	seen := map[int64]bool{}
	for j, id := range d.changeIDs {
		i, ok := stored[id]
		if !ok {
			v.problem(Problem{Seal: seal, Transaction: e.txID, Change: id, What: fmt.Sprintf("seal %d: change %d was added to sealed transaction %d", seal, id, e.txID)})
			continue
		}
		seen[id] = true
		v.rep.Changes++
		if !bytes.Equal(e.changeDgs[i*n:(i+1)*n], d.changeDgs[j*n:(j+1)*n]) {
			v.problem(Problem{Seal: seal, Transaction: e.txID, Change: id, What: fmt.Sprintf("seal %d: change %d of transaction %d: its stored bytes changed since sealing", seal, id, e.txID)})
		}
	}
	for i, id := range e.changeIDs {
		if seen[id] {
			continue
		}
		if ok, why := v.purged(e.times[i]); !ok {
			v.problem(Problem{Seal: seal, Transaction: e.txID, Change: id, What: fmt.Sprintf("seal %d: change %d of transaction %d is missing (deleted after sealing)%s", seal, id, e.txID, why)})
			continue
		}
		v.rep.PurgedChanges++
	}
	h := sha256.New()
	h.Write(d.record)
	h.Write(e.changeDgs)
	if !bytes.Equal(h.Sum(nil), e.digest) {
		v.problem(Problem{Seal: seal, Transaction: e.txID, What: fmt.Sprintf("seal %d: transaction %d: its header or action changed since sealing", seal, e.txID)})
	}
}
