package contract

// WALMessagePrefix is the prefix of the transactional logical messages
// that carry a transaction's attribution with engine: wal: sent by
// <audit_schema>.attribute and the runtime's InTx (TxOptions.WALMessage), read
// by threadline capture. The content is a JSON object: "s" the
// transaction start (TxStartSQL's text), "a" the actor (canonical JSON
// text, or as given when invalid), "r" the request id, "c" the
// correlation id; absent values are JSON null.
const WALMessagePrefix = "threadline"

// MaxIDChars bounds the request and correlation ids a transaction header
// keeps (both engines cut longer ones).
const MaxIDChars = 256

// WALRules is what threadline capture applies to one table's changes: the
// fields it reads of the table's audit_wal_tables record, which is the
// JSON of the table's capture record (sqltemplates.Capture, whose tags
// these match; a test in sqltemplates checks that they do).
type WALRules struct {
	// Key lists the columns stored in table_pk, in key order.
	Key []string `json:"key"`
	// Exclude lists columns that never reach any audit column.
	Exclude []string `json:"exclude,omitempty"`
	// Mask lists columns stored as Placeholder (NULL stays NULL).
	Mask []string `json:"mask,omitempty"`
	// Placeholder replaces masked values.
	Placeholder string `json:"placeholder,omitempty"`
	// Except lists columns ignored when deciding whether an UPDATE
	// changed anything.
	Except []string `json:"except,omitempty"`
	// StoreChangedFrom stores the prior values of changed columns.
	StoreChangedFrom bool `json:"store_changed_from,omitempty"`
}
