package threadlineops

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	"github.com/jackc/pgx/v5/pgtype"
)

// The canonical encoding that sealing hashes (docs/security.md, "Tamper
// evidence"). A record is the bytes "tl1", a kind byte ('T' for a
// transaction with its action, 'C' for a change), then each field in a
// fixed order: 0x00 for SQL NULL, or 0x01, the length of the value as a
// 4-byte big-endian integer, and the value as text:
//
//   - integers and xid8 in decimal;
//   - timestamps in UTC as 2006-01-02T15:04:05.000000Z (microseconds);
//   - jsonb and text[] as PostgreSQL prints them (::text, which does not
//     depend on session settings);
//   - text as stored.
//
// A change's digest is SHA-256 of its record. A transaction's digest is
// SHA-256 of its record followed by the digests of its changes in id
// order. A seal's head is SHA-256 of "threadline seal v1", the previous
// head (32 zero bytes for the first seal), the seal id (8 bytes), its
// snapshot text with its length, and, for each transaction in id order,
// its id (8 bytes) and digest.

// txFields are the columns of a transaction record, in order: the
// audit_transactions row, then its action (all NULL when none).
const txFields = `t.id::text, t.txid::text, t.started_at, t.actor_ref::text, t.actor_ref_invalid, t.request_id,
	t.correlation_id, t.source, t.meta::text, t.action_id::text,
	ac.id::text, ac.name, ac.actor_ref::text, ac.status, ac.verb, ac.category, ac.reason, ac.comment,
	ac.correlation_id, ac.request_id, ac.job_id, ac.inserted_at`

// changeFields are the columns of a change record, in order.
const changeFields = `c.id::text, c.transaction_id::text, c.table_schema, c.table_name, c.table_pk::text,
	c.table_pk_before::text, c.op, c.data_after::text, c.data_before::text, c.changed_fields::text,
	c.changed_from::text, c.captured_at`

// record holds the fields of one canonical record as scanned: texts, and
// the timestamps at the positions txTimes and changeTimes name.
type record struct {
	texts []pgtype.Text
	times []pgtype.Timestamptz
}

// Positions of the timestamps among the fields.
var (
	txTimes     = []int{2, 21}
	changeTimes = []int{11}
)

func newRecord(fields int, times []int) *record {
	return &record{texts: make([]pgtype.Text, fields), times: make([]pgtype.Timestamptz, len(times))}
}

// dest returns the scan destinations, timestamps at their positions.
func (r *record) dest(times []int) []any {
	out := make([]any, len(r.texts))
	t := 0
	for i := range r.texts {
		if t < len(times) && times[t] == i {
			out[i] = &r.times[t]
			t++
			continue
		}
		out[i] = &r.texts[i]
	}
	return out
}

// appendTo appends the record's encoding to b.
func (r *record) appendTo(b []byte, kind byte, times []int) []byte {
	b = append(b, "tl1"...)
	b = append(b, kind)
	t := 0
	for i := range r.texts {
		if t < len(times) && times[t] == i {
			ts := r.times[t]
			t++
			if !ts.Valid {
				b = append(b, 0)
				continue
			}
			b = appendField(b, ts.Time.UTC().Format(canonicalTime))
			continue
		}
		if !r.texts[i].Valid {
			b = append(b, 0)
			continue
		}
		b = appendField(b, r.texts[i].String)
	}
	return b
}

const canonicalTime = "2006-01-02T15:04:05.000000Z"

func appendField(b []byte, s string) []byte {
	b = append(b, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// headOf computes a seal's head from the previous head and its entries'
// transaction ids and digests, in id order.
type headOf struct{ sum hash.Hash }

func newHead(prev []byte, seal int64, snapshot string) *headOf {
	h := sha256.New()
	h.Write([]byte("threadline seal v1"))
	h.Write(prev)
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(seal)))
	h.Write(appendField(nil, snapshot))
	return &headOf{sum: h}
}

func (h *headOf) add(txID int64, d []byte) {
	h.sum.Write(binary.BigEndian.AppendUint64(nil, uint64(txID)))
	h.sum.Write(d)
}

func (h *headOf) head() []byte { return h.sum.Sum(nil) }

// zeroHead is the previous head of the first seal.
var zeroHead = make([]byte, sha256.Size)
