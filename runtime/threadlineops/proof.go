package threadlineops

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Proofs let the recipient of an export check its changes against a seal
// head recorded elsewhere, without access to the database. WriteProofs
// appends to an NDJSON export, after its changes, three kinds of lines:
//
//	{"proof_change": {"id", "transaction", "seal", "record"}}
//	{"proof_transaction": {"id", "seal", "record", "changes": [[id, digest], …], "digest"}}
//	{"proof_seal": {"id", "snapshot", "prev_head", "head", "transactions": [[id, digest], …]}}
//
// record is the canonical record (base64) of the change or transaction as
// it is now; digests are as sealed. The check (docs/security.md): SHA-256
// of a change's record is the digest its transaction lists for it;
// SHA-256 of the transaction's record followed by its listed change
// digests is its digest; that digest is the one its seal lists; the seal's
// head, recomputed from prev_head, id, snapshot and its list, is the head
// recorded. A change that is not sealed yet has no seal (0) and no other
// line.

// ChangeRef names an exported change.
type ChangeRef struct{ ID, TransactionID int64 }

type proofChange struct {
	ID          int64  `json:"id"`
	Transaction int64  `json:"transaction"`
	Seal        int64  `json:"seal"`
	Record      []byte `json:"record,omitempty"`
}

type proofTransaction struct {
	ID      int64    `json:"id"`
	Seal    int64    `json:"seal"`
	Record  []byte   `json:"record"`
	Changes [][2]any `json:"changes"`
	Digest  string   `json:"digest"`
}

type proofSeal struct {
	ID           int64    `json:"id"`
	Snapshot     string   `json:"snapshot"`
	PrevHead     string   `json:"prev_head"`
	Head         string   `json:"head"`
	Transactions [][2]any `json:"transactions"`
}

// WriteProofs writes the proof lines of the given exported changes to w
// (see the notes above). It reads the data and the seals in one snapshot.
func (a Audit) WriteProofs(ctx context.Context, pool *pgxpool.Pool, w io.Writer, refs []ChangeRef) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("proofs: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	txIDs := make([]int64, 0, len(refs))
	for _, r := range refs {
		txIDs = append(txIDs, r.TransactionID)
	}
	slices.Sort(txIDs)
	txIDs = slices.Compact(txIDs)
	sealed, err := a.sealedEntries(ctx, tx, txIDs)
	if err != nil {
		return err
	}
	current := map[int64]*entry{}
	for e, err := range a.units(ctx, tx, "t.id = ANY ($1)", []any{txIDs}, true) {
		if err != nil {
			return fmt.Errorf("proofs: %w", err)
		}
		current[e.txID] = e
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, r := range refs {
		p := proofChange{ID: r.ID, Transaction: r.TransactionID}
		if s, ok := sealed[r.TransactionID]; ok {
			p.Seal = s.seal
			if e := current[r.TransactionID]; e != nil {
				if i := slices.Index(e.changeIDs, r.ID); i >= 0 {
					p.Record = e.changeRecords[i]
				}
			}
		}
		if err := enc.Encode(map[string]any{"proof_change": p}); err != nil {
			return fmt.Errorf("proofs: %w", err)
		}
	}
	seals, err := a.writeTransactionProofs(enc, txIDs, sealed, current)
	if err != nil {
		return err
	}
	if err := a.writeSealProofs(ctx, tx, enc, seals); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("proofs: %w", err)
	}
	return nil
}

// sealedEntry is a transaction's entry as sealed.
type sealedEntry struct {
	seal int64
	entry
}

func (a Audit) sealedEntries(ctx context.Context, tx pgx.Tx, txIDs []int64) (map[int64]sealedEntry, error) {
	rows, err := tx.Query(ctx, "SELECT seal_id, transaction_id, digest, change_ids, change_digests FROM "+a.schema()+
		".audit_seal_entries WHERE transaction_id = ANY ($1)", txIDs)
	if err != nil {
		return nil, fmt.Errorf("proofs: read the seal entries: %w", err)
	}
	defer rows.Close()
	out := map[int64]sealedEntry{}
	for rows.Next() {
		var s sealedEntry
		if err := rows.Scan(&s.seal, &s.txID, &s.digest, &s.changeIDs, &s.changeDgs); err != nil {
			return nil, fmt.Errorf("proofs: read the seal entries: %w", err)
		}
		out[s.txID] = s
	}
	return out, rows.Err()
}

// writeTransactionProofs writes a proof_transaction line per sealed
// transaction and returns the seals they belong to.
func (a Audit) writeTransactionProofs(enc *json.Encoder, txIDs []int64, sealed map[int64]sealedEntry, current map[int64]*entry) ([]int64, error) {
	var seals []int64
	for _, id := range txIDs {
		s, ok := sealed[id]
		if !ok {
			continue
		}
		p := proofTransaction{ID: id, Seal: s.seal, Digest: hex.EncodeToString(s.digest), Changes: [][2]any{}}
		if e := current[id]; e != nil {
			p.Record = e.record
		}
		for i, cid := range s.changeIDs {
			p.Changes = append(p.Changes, [2]any{cid, hex.EncodeToString(s.changeDgs[i*sha256.Size : (i+1)*sha256.Size])})
		}
		if err := enc.Encode(map[string]any{"proof_transaction": p}); err != nil {
			return nil, fmt.Errorf("proofs: %w", err)
		}
		seals = append(seals, s.seal)
	}
	slices.Sort(seals)
	return slices.Compact(seals), nil
}

// writeSealProofs writes a proof_seal line per seal: every transaction
// digest of the seal, which its head needs.
func (a Audit) writeSealProofs(ctx context.Context, tx pgx.Tx, enc *json.Encoder, seals []int64) error {
	for _, id := range seals {
		p := proofSeal{ID: id, Transactions: [][2]any{}}
		var prev, head []byte
		if err := tx.QueryRow(ctx, "SELECT snapshot, prev_head, head FROM "+a.schema()+".audit_seals WHERE id = $1", id).Scan(&p.Snapshot, &prev, &head); err != nil {
			return fmt.Errorf("proofs: read seal %d: %w", id, err)
		}
		p.PrevHead, p.Head = hex.EncodeToString(prev), hex.EncodeToString(head)
		for e, err := range a.entries(ctx, tx, id) {
			if err != nil {
				return fmt.Errorf("proofs: read seal %d: %w", id, err)
			}
			p.Transactions = append(p.Transactions, [2]any{e.txID, hex.EncodeToString(e.digest)})
		}
		if err := enc.Encode(map[string]any{"proof_seal": p}); err != nil {
			return fmt.Errorf("proofs: %w", err)
		}
	}
	return nil
}

// CheckProofs checks the proof lines of an NDJSON export read from r
// against a seal head recorded elsewhere (hex), as its recipient would,
// without the database: it returns the number of changes proven, and an
// error naming the first line that does not check. Lines that are not
// proof lines (the changes) are skipped.
func CheckProofs(r io.Reader, head string) (int, error) {
	type line struct {
		Change      *proofChange      `json:"proof_change"`
		Transaction *proofTransaction `json:"proof_transaction"`
		Seal        *struct {
			ID           int64    `json:"id"`
			Snapshot     string   `json:"snapshot"`
			PrevHead     string   `json:"prev_head"`
			Head         string   `json:"head"`
			Transactions [][2]any `json:"transactions"`
		} `json:"proof_seal"`
	}
	var changes []proofChange
	txs := map[int64]proofTransaction{}
	sealTx := map[int64]map[string]string{} // seal → transaction id → digest
	headOK := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		var l line
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber() // ids stay exact
		if err := dec.Decode(&l); err != nil {
			return 0, fmt.Errorf("not NDJSON: %w", err)
		}
		switch {
		case l.Change != nil:
			changes = append(changes, *l.Change)
		case l.Transaction != nil:
			txs[l.Transaction.ID] = *l.Transaction
		case l.Seal != nil:
			s := l.Seal
			prev, err := hex.DecodeString(s.PrevHead)
			if err != nil {
				return 0, fmt.Errorf("seal %d: bad prev_head", s.ID)
			}
			h := newHead(prev, s.ID, s.Snapshot)
			m := map[string]string{}
			for _, t := range s.Transactions {
				id, err := strconv.ParseInt(fmt.Sprint(t[0]), 10, 64)
				d, derr := hex.DecodeString(fmt.Sprint(t[1]))
				if err != nil || derr != nil {
					return 0, fmt.Errorf("seal %d: bad transaction entry %v", s.ID, t)
				}
				h.add(id, d)
				m[fmt.Sprint(t[0])] = fmt.Sprint(t[1])
			}
			if hex.EncodeToString(h.head()) != s.Head {
				return 0, fmt.Errorf("seal %d: its transactions do not give its head", s.ID)
			}
			headOK = headOK || s.Head == head
			sealTx[s.ID] = m
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !headOK {
		return 0, fmt.Errorf("no seal in the proofs has the recorded head %s", head)
	}
	checked := map[int64]bool{} // transactions already checked
	for _, c := range changes {
		if c.Seal == 0 {
			return 0, fmt.Errorf("change %d is not sealed", c.ID)
		}
		t, ok := txs[c.Transaction]
		if !ok {
			return 0, fmt.Errorf("change %d: no proof of transaction %d", c.ID, c.Transaction)
		}
		if !checked[t.ID] {
			if err := checkTransaction(t, sealTx[t.Seal]); err != nil {
				return 0, err
			}
			checked[t.ID] = true
		}
		d := sha256.Sum256(c.Record)
		if !slices.ContainsFunc(t.Changes, func(p [2]any) bool {
			return fmt.Sprint(p[0]) == fmt.Sprint(c.ID) && p[1] == hex.EncodeToString(d[:])
		}) {
			return 0, fmt.Errorf("change %d: its record is not the one sealed in transaction %d", c.ID, c.Transaction)
		}
	}
	return len(changes), nil
}

// checkTransaction checks a transaction proof against its seal's list.
func checkTransaction(t proofTransaction, seal map[string]string) error {
	h := sha256.New()
	h.Write(t.Record)
	for _, c := range t.Changes {
		d, err := hex.DecodeString(fmt.Sprint(c[1]))
		if err != nil {
			return fmt.Errorf("transaction %d: bad change digest", t.ID)
		}
		h.Write(d)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != t.Digest || seal[fmt.Sprint(t.ID)] != t.Digest {
		return fmt.Errorf("transaction %d: its record and change digests do not give the digest sealed in seal %d", t.ID, t.Seal)
	}
	return nil
}
