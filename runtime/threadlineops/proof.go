package threadlineops

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/internal/contract"
)

// Proofs let the recipient of an NDJSON export check its changes against a
// seal head recorded elsewhere, without the database (threadline verify
// -proof, CheckProofs; docs/security.md, "Proofs"). WriteProofs appends to
// the export, after its change lines, in this order:
//
//	{"proof_change": {"id", "record"}}
//	{"proof_transaction": {"id", "seal", "record", "started_at", "digest", "changes": [[id, captured_at, digest], …]}}
//	…
//	{"proof_seal": {"id", "version", "snapshot", "prev_head", "head", "purges_digest", "entries_digest", "chunks": […]}}
//	…
//
// For each exported transaction, in id order: a proof_change line per
// exported change of it, with its canonical record (base64) as it is
// now, then its proof_transaction line: its record and its seal entry
// as sealed (start time, digest, and every sealed change's id, capture
// time and digest). Then a proof_seal line for each seal from the lowest
// one holding an exported transaction to the seal of the target head,
// in id order. A version 2 seal holding exported transactions lists its
// entry hashes in "chunks", a chunk being {"entries": [[transaction id,
// entry hash], …]} (every entry of a chunk holding an exported
// transaction) or {"hash": chunk hash}; the others carry no chunks. A
// version 1 seal carries "transactions": [[transaction id, digest], …]
// instead of the two digests and the chunks, which its head needs.
// Hashes, digests and heads are hex; times are UTC to the microsecond.

// ChangeRef names an exported change.
type ChangeRef struct{ ID, TransactionID int64 }

// ProofOptions tune WriteProofs.
type ProofOptions struct {
	// Head is the head (hex) the proofs lead to: that of a seal at or
	// after the seal of every exported change. Empty: the latest seal's.
	Head string
}

// ProofResult reports what WriteProofs wrote.
type ProofResult struct {
	// Changes counts the changes proven.
	Changes int64 `json:"changes"`
	// FirstSeal and LastSeal are the seals the proof lines cover; LastSeal
	// is the seal of Head. Both 0 when no change was exported.
	FirstSeal int64 `json:"first_seal"`
	LastSeal  int64 `json:"last_seal"`
	// Head is the head the proofs lead to (hex): the one the recipient
	// checks them against.
	Head string `json:"head"`
}

// ErrNotSealed is wrapped by WriteProofs' error when an exported change is
// not sealed by the target seal: a proof of it cannot be written.
var ErrNotSealed = errors.New("threadline: an exported change is not sealed")

// WriteProofs writes the proof lines of the given exported changes to w
// (see the notes above), leading to the seal of o.Head (default: the
// latest seal). It reads the data and the seals in one snapshot. When an
// exported change is not sealed by that seal it writes nothing and
// returns an error wrapping ErrNotSealed.
func (a Audit) WriteProofs(ctx context.Context, pool *pgxpool.Pool, w io.Writer, refs []ChangeRef, o ProofOptions) (ProofResult, error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return ProofResult{}, fmt.Errorf("proofs: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if len(refs) == 0 {
		return ProofResult{}, nil
	}
	target, err := a.proofTarget(ctx, tx, o.Head)
	if err != nil {
		return ProofResult{}, err
	}
	byTx := map[int64][]int64{}
	for _, r := range refs {
		byTx[r.TransactionID] = append(byTx[r.TransactionID], r.ID)
	}
	txIDs := slices.Sorted(maps.Keys(byTx))
	sealed, err := a.sealedEntries(ctx, tx, txIDs, target.id)
	if err != nil {
		return ProofResult{}, err
	}
	if err := checkSealed(refs, sealed, target); err != nil {
		return ProofResult{}, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := a.writeTransactionProofs(ctx, tx, bw, txIDs, byTx, sealed); err != nil {
		return ProofResult{}, err
	}
	inSeal := map[int64]map[int64]bool{} // seal → its exported transactions
	first := target.id
	for id, s := range sealed {
		if inSeal[s.seal] == nil {
			inSeal[s.seal] = map[int64]bool{}
		}
		inSeal[s.seal][id] = true
		first = min(first, s.seal)
	}
	if err := a.writeSealProofs(ctx, tx, bw, first, target.id, inSeal); err != nil {
		return ProofResult{}, err
	}
	if err := bw.Flush(); err != nil {
		return ProofResult{}, fmt.Errorf("proofs: %w", err)
	}
	return ProofResult{Changes: int64(len(refs)), FirstSeal: first, LastSeal: target.id, Head: hex.EncodeToString(target.head)}, nil
}

// proofTarget reads the seal whose head is head (hex), or the latest seal.
func (a Audit) proofTarget(ctx context.Context, tx pgx.Tx, head string) (sealRow, error) {
	q := "SELECT id, head FROM " + a.schema() + ".audit_seals"
	var args []any
	if head != "" {
		h, err := decodeHead(head)
		if err != nil {
			return sealRow{}, fmt.Errorf("proofs: %w", err)
		}
		q += " WHERE head = $1"
		args = append(args, h)
	}
	var s sealRow
	err := tx.QueryRow(ctx, q+" ORDER BY id DESC LIMIT 1", args...).Scan(&s.id, &s.head)
	switch {
	case errors.Is(err, pgx.ErrNoRows) && head == "":
		return s, fmt.Errorf("proofs: %w: there is no seal yet; run threadline seal, then export again", ErrNotSealed)
	case errors.Is(err, pgx.ErrNoRows):
		return s, fmt.Errorf("proofs: no seal has the head %s", head)
	case err != nil:
		return s, fmt.Errorf("proofs: read the seals: %w", err)
	}
	return s, nil
}

// decodeHead reads a head given in hex.
func decodeHead(head string) ([]byte, error) {
	h, err := hex.DecodeString(strings.TrimSpace(head))
	if err != nil || len(h) != sha256.Size {
		return nil, fmt.Errorf("head %q is not a 64-digit hex head", head)
	}
	return h, nil
}

// sealedEntry is a transaction's entry as sealed.
type sealedEntry struct {
	seal int64
	entry
}

// sealedEntries reads the seal entries of the given transactions in the
// seals up to seal last.
func (a Audit) sealedEntries(ctx context.Context, tx pgx.Tx, txIDs []int64, last int64) (map[int64]*sealedEntry, error) {
	rows, err := tx.Query(ctx, "SELECT seal_id, transaction_id, started_at, digest, change_ids, change_digests, change_times FROM "+
		a.schema()+".audit_seal_entries WHERE transaction_id = ANY ($1) AND seal_id <= $2", txIDs, last)
	if err != nil {
		return nil, fmt.Errorf("proofs: read the seal entries: %w", err)
	}
	defer rows.Close()
	out := map[int64]*sealedEntry{}
	for rows.Next() {
		s := &sealedEntry{}
		if err := rows.Scan(&s.seal, &s.txID, &s.startedAt, &s.digest, &s.changeIDs, &s.changeDgs, &s.times); err != nil {
			return nil, fmt.Errorf("proofs: read the seal entries: %w", err)
		}
		if len(s.changeDgs) != len(s.changeIDs)*sha256.Size || len(s.times) != len(s.changeIDs) {
			return nil, fmt.Errorf("proofs: seal %d: the entry of transaction %d is malformed (run threadline verify)", s.seal, s.txID)
		}
		if p := out[s.txID]; p != nil {
			return nil, fmt.Errorf("proofs: transaction %d is in seals %d and %d: the seal tables were rewritten (run threadline verify)", s.txID, p.seal, s.seal)
		}
		out[s.txID] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("proofs: read the seal entries: %w", err)
	}
	return out, nil
}

// checkSealed returns an error wrapping ErrNotSealed naming the first
// exported change that the target seal (or one before it) does not seal.
func checkSealed(refs []ChangeRef, sealed map[int64]*sealedEntry, target sealRow) error {
	var n int
	var first *ChangeRef
	for i, r := range refs {
		if s := sealed[r.TransactionID]; s != nil && slices.Contains(s.changeIDs, r.ID) {
			continue
		}
		if n++; first == nil {
			first = &refs[i]
		}
	}
	if first == nil {
		return nil
	}
	return fmt.Errorf("proofs: %w: %d of the %d exported changes are not sealed by seal %d (head %s), the first: change %d of transaction %d; "+
		"run threadline seal and export again, or export only changes captured before the last seal (-to)",
		ErrNotSealed, n, len(refs), target.id, hex.EncodeToString(target.head), first.ID, first.TransactionID)
}

// proofChangeLine is a proof_change line.
type proofChangeLine struct {
	ID     int64  `json:"id"`
	Record []byte `json:"record"`
}

// proofTransactionLine is a proof_transaction line.
type proofTransactionLine struct {
	ID        int64          `json:"id"`
	Seal      int64          `json:"seal"`
	Record    []byte         `json:"record"`
	StartedAt sealTime       `json:"started_at"`
	Digest    hexHash        `json:"digest"`
	Changes   []sealedChange `json:"changes"`
}

// writeTransactionProofs writes, for each exported transaction in id
// order, the proof_change lines of its exported changes and its
// proof_transaction line, from the data as it is now and the entry as
// sealed.
func (a Audit) writeTransactionProofs(ctx context.Context, tx pgx.Tx, w io.Writer, txIDs []int64, byTx map[int64][]int64, sealed map[int64]*sealedEntry) error {
	enc := json.NewEncoder(w)
	var seen int
	for e, err := range a.units(ctx, tx, "t.id = ANY ($1)", []any{txIDs}, true) {
		if err != nil {
			return fmt.Errorf("proofs: read the data: %w", err)
		}
		seen++
		for _, id := range byTx[e.txID] {
			i := slices.Index(e.changeIDs, id)
			if i < 0 {
				return fmt.Errorf("proofs: change %d of transaction %d is gone (purged or deleted since it was exported)", id, e.txID)
			}
			if err := enc.Encode(map[string]any{"proof_change": proofChangeLine{ID: id, Record: e.changeRecords[i]}}); err != nil {
				return fmt.Errorf("proofs: %w", err)
			}
		}
		if err := enc.Encode(map[string]any{"proof_transaction": transactionProof(e, sealed[e.txID])}); err != nil {
			return fmt.Errorf("proofs: %w", err)
		}
	}
	if seen != len(txIDs) {
		return fmt.Errorf("proofs: %d of the %d exported transactions are gone (purged or deleted since they were exported)", len(txIDs)-seen, len(txIDs))
	}
	return nil
}

// transactionProof is the proof_transaction line of transaction e (the
// data now) sealed as s.
func transactionProof(e *entry, s *sealedEntry) proofTransactionLine {
	p := proofTransactionLine{ID: e.txID, Seal: s.seal, Record: e.record, StartedAt: sealTime(s.startedAt), Digest: s.digest,
		Changes: make([]sealedChange, len(s.changeIDs))}
	for i, id := range s.changeIDs {
		p.Changes[i] = sealedChange{ID: id, CapturedAt: s.times[i], Digest: s.changeDgs[i*sha256.Size : (i+1)*sha256.Size]}
	}
	return p
}

// proofSealBatch is how many seal rows writeSealProofs reads at a time.
const proofSealBatch = 1000

// writeSealProofs writes a proof_seal line for each seal from first to
// last; inSeal lists the exported transactions of each seal.
func (a Audit) writeSealProofs(ctx context.Context, tx pgx.Tx, w *bufio.Writer, first, last int64, inSeal map[int64]map[int64]bool) error {
	for from := first; from <= last; from += proofSealBatch {
		to := min(from+proofSealBatch-1, last)
		rows, err := tx.Query(ctx, "SELECT id, version, snapshot, prev_head, head, purges_digest, entries_digest FROM "+
			a.schema()+".audit_seals WHERE id BETWEEN $1 AND $2 ORDER BY id", from, to)
		if err != nil {
			return fmt.Errorf("proofs: read the seals: %w", err)
		}
		seals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealRow, error) {
			var s sealRow
			return s, r.Scan(&s.id, &s.version, &s.snapshot, &s.prevHead, &s.head, &s.purgesDigest, &s.entriesDigest)
		})
		if err != nil {
			return fmt.Errorf("proofs: read the seals: %w", err)
		}
		for i, s := range seals {
			if s.id != from+int64(i) {
				return fmt.Errorf("proofs: seal %d is missing: the chain has a gap (run threadline verify)", from+int64(i))
			}
			if err := a.writeSealProof(ctx, tx, w, &s, inSeal[s.id]); err != nil {
				return err
			}
		}
		if int64(len(seals)) != to-from+1 {
			return fmt.Errorf("proofs: seal %d is missing: the chain has a gap (run threadline verify)", from+int64(len(seals)))
		}
	}
	return nil
}

// writeSealProof writes seal s's proof_seal line: with its transaction
// digests (version 1), or with its entry hashes chunk by chunk when it
// holds exported transactions (version 2).
func (a Audit) writeSealProof(ctx context.Context, tx pgx.Tx, w *bufio.Writer, s *sealRow, exported map[int64]bool) error {
	b := []byte(`{"proof_seal":{"id":`)
	b = fmt.Appendf(b, `%d,"version":%d,"snapshot":`, s.id, s.version)
	b = appendJSONValue(b, s.snapshot)
	b = fmt.Appendf(b, `,"prev_head":"%x","head":"%x"`, s.prevHead, s.head)
	var err error
	switch {
	case s.version < 2:
		b = append(b, `,"transactions":[`...)
		err = a.writeSealEntries(ctx, tx, w, b, s.id, func(e *entry, first bool) []byte { return appendIDHash(nil, first, e.txID, e.digest) })
	case len(exported) == 0:
		b = fmt.Appendf(b, `,"purges_digest":"%x","entries_digest":"%x"}}`+"\n", s.purgesDigest, s.entriesDigest)
		_, err = w.Write(b)
	default:
		b = fmt.Appendf(b, `,"purges_digest":"%x","entries_digest":"%x","chunks":[`, s.purgesDigest, s.entriesDigest)
		err = a.writeSealChunks(ctx, tx, w, b, s.id, exported)
	}
	if err != nil {
		return fmt.Errorf("proofs: seal %d: %w", s.id, err)
	}
	return nil
}

// writeSealEntries writes head, then each entry of seal id as item
// renders it, then the end of the line.
func (a Audit) writeSealEntries(ctx context.Context, tx pgx.Tx, w *bufio.Writer, head []byte, id int64, item func(e *entry, first bool) []byte) error {
	if _, err := w.Write(head); err != nil {
		return err
	}
	first := true
	for e, err := range a.entries(ctx, tx, id) {
		if err != nil {
			return err
		}
		if _, err := w.Write(item(e, first)); err != nil {
			return err
		}
		first = false
	}
	_, err := w.WriteString("]}}\n")
	return err
}

// writeSealChunks writes head, then the chunks of seal id: a chunk with
// an exported transaction lists its entry hashes, another only its hash.
func (a Audit) writeSealChunks(ctx context.Context, tx pgx.Tx, w *bufio.Writer, head []byte, id int64, exported map[int64]bool) error {
	if _, err := w.Write(head); err != nil {
		return err
	}
	var c chunkWriter
	for e, err := range a.entries(ctx, tx, id) {
		if err != nil {
			return err
		}
		if err := c.add(w, e.txID, entryHash(e), exported[e.txID]); err != nil {
			return err
		}
	}
	if err := c.flush(w); err != nil {
		return err
	}
	_, err := w.WriteString("]}}\n")
	return err
}

// chunkWriter groups a seal's entry hashes into chunks of
// contract.SealChunk.
type chunkWriter struct {
	ids      []int64
	hashes   [][]byte
	exported bool
	chunks   int
}

func (c *chunkWriter) add(w io.Writer, txID int64, h []byte, exported bool) error {
	c.ids, c.hashes = append(c.ids, txID), append(c.hashes, h)
	c.exported = c.exported || exported
	if len(c.ids) == contract.SealChunk {
		return c.flush(w)
	}
	return nil
}

// flush writes the chunk gathered so far, if any.
func (c *chunkWriter) flush(w io.Writer) error {
	if len(c.ids) == 0 {
		return nil
	}
	var b []byte
	if c.chunks > 0 {
		b = append(b, ',')
	}
	if c.exported {
		b = append(b, `{"entries":[`...)
		for i, id := range c.ids {
			b = appendIDHash(b, i == 0, id, c.hashes[i])
		}
		b = append(b, "]}"...)
	} else {
		sum := sha256.New()
		for _, h := range c.hashes {
			sum.Write(h)
		}
		b = fmt.Appendf(b, `{"hash":"%x"}`, sum.Sum(nil))
	}
	c.chunks++
	c.ids, c.hashes, c.exported = c.ids[:0], c.hashes[:0], false
	_, err := w.Write(b)
	return err
}

// appendIDHash appends [id,"hex"], after a comma unless first.
func appendIDHash(b []byte, first bool, id int64, h []byte) []byte {
	if !first {
		b = append(b, ',')
	}
	return fmt.Appendf(b, `[%d,"%x"]`, id, h)
}

// appendJSONValue appends v encoded as JSON (a string cannot fail).
func appendJSONValue(b []byte, v string) []byte {
	j, _ := json.Marshal(v)
	return append(b, j...)
}

// hexHash is a SHA-256 hash written as 64 hex digits.
type hexHash []byte

// MarshalJSON writes h in hex.
func (h hexHash) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

// UnmarshalJSON reads 64 hex digits.
func (h *hexHash) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a hash in hex: %w", err)
	}
	v, err := hex.DecodeString(s)
	if err != nil || len(v) != sha256.Size {
		return fmt.Errorf("%q is not a 64-digit hex hash", s)
	}
	*h = v
	return nil
}

// sealTime is a time written as in a seal record (UTC, microseconds).
type sealTime time.Time

// MarshalJSON writes t in contract.SealTimeLayout.
func (t sealTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format(contract.SealTimeLayout))
}

// UnmarshalJSON reads a time in contract.SealTimeLayout.
func (t *sealTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a time: %w", err)
	}
	v, err := time.Parse(contract.SealTimeLayout, s)
	if err != nil {
		return fmt.Errorf("%q is not a seal time (%s)", s, contract.SealTimeLayout)
	}
	*t = sealTime(v)
	return nil
}

// sealedChange is one change of a seal entry: [id, captured_at, digest].
type sealedChange struct {
	ID         int64
	CapturedAt time.Time
	Digest     []byte
}

// MarshalJSON writes the change as a three-element array.
func (c sealedChange) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{c.ID, sealTime(c.CapturedAt), hexHash(c.Digest)})
}

// UnmarshalJSON reads a three-element array.
func (c *sealedChange) UnmarshalJSON(b []byte) error {
	var v struct {
		id  int64
		at  sealTime
		dgs hexHash
	}
	if err := unmarshalTuple(b, &v.id, &v.at, &v.dgs); err != nil {
		return fmt.Errorf("a sealed change: %w", err)
	}
	*c = sealedChange{ID: v.id, CapturedAt: time.Time(v.at), Digest: v.dgs}
	return nil
}

// idHash is [id, hash]: a transaction and its entry hash or digest.
type idHash struct {
	ID   int64
	Hash []byte
}

// UnmarshalJSON reads a two-element array.
func (p *idHash) UnmarshalJSON(b []byte) error {
	var h hexHash
	if err := unmarshalTuple(b, &p.ID, &h); err != nil {
		return fmt.Errorf("an entry: %w", err)
	}
	p.Hash = h
	return nil
}

// unmarshalTuple reads a JSON array of exactly len(dst) elements into dst.
func unmarshalTuple(b []byte, dst ...any) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) != len(dst) {
		return fmt.Errorf("want %d elements, got %d", len(dst), len(raw))
	}
	for i, r := range raw {
		if err := json.Unmarshal(r, dst[i]); err != nil {
			return err
		}
	}
	return nil
}
