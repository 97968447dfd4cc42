package contract

// The sealed hash chain (docs/security.md, "Tamper evidence") is written
// by the audit schema's seal() function, which the generator renders, and
// recomputed by threadlineops' Verify and CheckProofs in Go. Both build
// the same canonical records from the columns listed here.

// SealField is one field of a canonical seal record: a SQL expression over
// audit_transactions AS t, audit_actions AS ac or audit_changes AS c, and
// whether it is a timestamp (encoded in UTC to the microsecond,
// SealTimeLayout) rather than text.
type SealField struct {
	Expr string
	Time bool
}

// SealTransactionFields are the fields of a transaction record, in order:
// the audit_transactions row, then its action (all NULL when none).
func SealTransactionFields() []SealField {
	return []SealField{
		{Expr: "t.id::text"}, {Expr: "t.txid::text"}, {Expr: "t.started_at", Time: true},
		{Expr: "t.actor_ref::text"}, {Expr: "t.actor_ref_invalid"}, {Expr: "t.request_id"},
		{Expr: "t.correlation_id"}, {Expr: "t.source"}, {Expr: "t.meta::text"}, {Expr: "t.action_id::text"},
		{Expr: "ac.id::text"}, {Expr: "ac.name"}, {Expr: "ac.actor_ref::text"}, {Expr: "ac.status"},
		{Expr: "ac.verb"}, {Expr: "ac.category"}, {Expr: "ac.reason"}, {Expr: "ac.comment"},
		{Expr: "ac.correlation_id"}, {Expr: "ac.request_id"}, {Expr: "ac.job_id"},
		{Expr: "ac.inserted_at", Time: true},
	}
}

// SealChangeFields are the fields of a change record, in order.
func SealChangeFields() []SealField {
	return []SealField{
		{Expr: "c.id::text"}, {Expr: "c.transaction_id::text"}, {Expr: "c.table_schema"}, {Expr: "c.table_name"},
		{Expr: "c.table_pk::text"}, {Expr: "c.table_pk_before::text"}, {Expr: "c.op"},
		{Expr: "c.data_after::text"}, {Expr: "c.data_before::text"}, {Expr: "c.changed_fields::text"},
		{Expr: "c.changed_from::text"}, {Expr: "c.captured_at", Time: true},
	}
}

// SealTimeLayout is the text of a timestamp in a seal record (Go layout),
// and SealTimeSQL the to_char pattern that prints the same in UTC.
const (
	SealTimeLayout = "2006-01-02T15:04:05.000000Z"
	SealTimeSQL    = `YYYY-MM-DD"T"HH24:MI:SS.US"Z"`
)

// SealVersion is the version of the seals that seal() writes. Version 1
// seals (earlier releases) hashed only each transaction's id and digest
// into the head; version 2 heads cover every field of an entry (start
// time, change ids, capture times) and the purge records the seal covers.
const SealVersion = 2

// SealChunk is the number of entries whose hashes are hashed together
// before their chunk's hash enters the entries digest (so that no single
// value the database aggregates grows with the size of a seal).
const SealChunk = 65536
