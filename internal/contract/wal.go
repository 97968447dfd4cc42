package contract

// WALMessagePrefix is the prefix of the transactional logical messages
// that carry a transaction's attribution with engine: wal: sent by
// <audit_schema>.attribute and the runtime's InTx (TxOptions.WALMessage), read
// by threadline capture. The content is a JSON object: "s" the
// transaction start (TxStartSQL's text), "a" the actor (canonical JSON
// text, or as given when invalid), "r" the request id, "c" the
// correlation id; absent values are JSON null.
const WALMessagePrefix = "threadline"
