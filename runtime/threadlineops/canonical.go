package threadlineops

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/threadline-go/threadline/internal/contract"
)

// The canonical encoding that sealing hashes (docs/security.md, "Tamper
// evidence"). The audit schema's seal() function writes the chain; this
// file recomputes it, field for field, from the same column lists
// (contract.SealTransactionFields, contract.SealChangeFields).
//
// A record is the bytes "tl1", a kind byte ('T' for a transaction with
// its action, 'C' for a change), then each field in a fixed order: 0x00
// for SQL NULL, or 0x01, the length of the value as a 4-byte big-endian
// integer, and the value as text:
//
//   - integers and xid8 in decimal;
//   - timestamps in UTC as 2006-01-02T15:04:05.000000Z (microseconds);
//   - jsonb and text[] as PostgreSQL prints them (::text, which does not
//     depend on session settings);
//   - text as stored.
//
// A change's digest is SHA-256 of its record. A transaction's digest is
// SHA-256 of its record followed by the digests of its changes in id
// order.
//
// A seal entry (one sealed transaction) hashes, in version 2, to SHA-256
// of: the transaction id (8 bytes), its start time (8 bytes, microseconds
// since 1970 UTC), its digest, its number of changes (4 bytes), then for
// each change in id order its id, capture time and digest. The entries
// digest is SHA-256 of the chunk hashes in order, a chunk hash being
// SHA-256 of the hashes of up to contract.SealChunk consecutive entries in
// transaction id order. The purges digest is SHA-256 of, for each purge
// record the seal covers in id order, its id (8 bytes), cutoff and time
// (as fields). The head is
//
//	SHA-256("threadline seal v2" ‖ previous head ‖ seal id (8 bytes) ‖
//	        field(snapshot) ‖ purges digest ‖ entries digest)
//
// with 32 zero bytes as the previous head of the first seal. A version 1
// head (earlier releases) is SHA-256("threadline seal v1" ‖ previous head
// ‖ seal id ‖ field(snapshot) ‖ (id ‖ digest) of each entry).

// selectFields renders fields as a SELECT list.
func selectFields(fields []contract.SealField) string {
	exprs := make([]string, len(fields))
	for i, f := range fields {
		exprs[i] = f.Expr
	}
	return strings.Join(exprs, ", ")
}

// record holds the fields of one canonical record as scanned.
type record struct {
	fields []contract.SealField
	texts  []pgtype.Text
	times  []pgtype.Timestamptz
}

func newRecord(fields []contract.SealField) *record {
	return &record{fields: fields, texts: make([]pgtype.Text, len(fields)), times: make([]pgtype.Timestamptz, len(fields))}
}

// dest returns the scan destinations, in field order.
func (r *record) dest() []any {
	out := make([]any, len(r.fields))
	for i, f := range r.fields {
		if f.Time {
			out[i] = &r.times[i]
		} else {
			out[i] = &r.texts[i]
		}
	}
	return out
}

// appendTo appends the record's encoding to b.
func (r *record) appendTo(b []byte, kind byte) []byte {
	b = append(b, "tl1"...)
	b = append(b, kind)
	for i, f := range r.fields {
		switch {
		case f.Time && r.times[i].Valid:
			b = appendField(b, r.times[i].Time.UTC().Format(contract.SealTimeLayout))
		case !f.Time && r.texts[i].Valid:
			b = appendField(b, r.texts[i].String)
		default:
			b = append(b, 0)
		}
	}
	return b
}

func appendField(b []byte, s string) []byte {
	b = append(b, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendInt(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

// entryHash is the version 2 hash of a seal entry.
func entryHash(e *entry) []byte {
	b := appendInt(nil, e.txID)
	b = appendInt(b, e.startedAt.UnixMicro())
	b = append(b, e.digest...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.changeIDs)))
	for i, id := range e.changeIDs {
		b = appendInt(b, id)
		b = appendInt(b, e.times[i].UnixMicro())
		b = append(b, e.changeDgs[i*sha256.Size:(i+1)*sha256.Size]...)
	}
	d := sha256.Sum256(b)
	return d[:]
}

// entriesDigest accumulates the entries digest of a version 2 seal.
type entriesDigest struct {
	outer, chunk hash.Hash
	n            int
}

func newEntriesDigest() *entriesDigest {
	return &entriesDigest{outer: sha256.New(), chunk: sha256.New()}
}

// add adds the next entry's hash, in transaction id order.
func (d *entriesDigest) add(eh []byte) {
	d.chunk.Write(eh)
	if d.n++; d.n == contract.SealChunk {
		d.flush()
	}
}

func (d *entriesDigest) flush() {
	d.outer.Write(d.chunk.Sum(nil))
	d.chunk.Reset()
	d.n = 0
}

func (d *entriesDigest) sum() []byte {
	if d.n > 0 {
		d.flush()
	}
	return d.outer.Sum(nil)
}

// purgeRecord is one audit_purges row.
type purgeRecord struct {
	id         int64
	cutoff, at time.Time
	sealed     bool
}

// purgesDigest is the digest of the purge records a seal covers, in id
// order.
func purgesDigest(ps []purgeRecord) []byte {
	var b []byte
	for _, p := range ps {
		b = appendInt(b, p.id)
		b = appendField(b, p.cutoff.UTC().Format(contract.SealTimeLayout))
		b = appendField(b, p.at.UTC().Format(contract.SealTimeLayout))
	}
	d := sha256.Sum256(b)
	return d[:]
}

// headV2 is the head of a version 2 seal.
func headV2(prev []byte, seal int64, snapshot string, purges, entries []byte) []byte {
	b := append([]byte("threadline seal v2"), prev...)
	b = appendInt(b, seal)
	b = appendField(b, snapshot)
	b = append(b, purges...)
	b = append(b, entries...)
	d := sha256.Sum256(b)
	return d[:]
}

// headV1 computes the head of a version 1 seal from the previous head and
// its entries' transaction ids and digests, in id order.
type headV1 struct{ sum hash.Hash }

func newHeadV1(prev []byte, seal int64, snapshot string) *headV1 {
	h := sha256.New()
	h.Write([]byte("threadline seal v1"))
	h.Write(prev)
	h.Write(appendInt(nil, seal))
	h.Write(appendField(nil, snapshot))
	return &headV1{sum: h}
}

func (h *headV1) add(txID int64, d []byte) {
	h.sum.Write(appendInt(nil, txID))
	h.sum.Write(d)
}

func (h *headV1) head() []byte { return h.sum.Sum(nil) }

// zeroHead is the previous head of the first seal.
var zeroHead = make([]byte, sha256.Size)
