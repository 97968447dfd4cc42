package contract

// The settings that attribute a transaction. The capture
// (current_transaction_id) honours the actor, request id and correlation
// id only when SettingAttributionTx holds TxStartSQL's value for the
// current transaction: a value left at session level, or set in an
// earlier transaction on the same server connection (PgBouncer
// transaction pooling), then attributes nothing. The runtime's InTx and
// the SQL function <audit_schema>.attribute publish all four,
// transaction-local, in one statement.
const (
	SettingActor         = "threadline.actor_ref"
	SettingRequestID     = "threadline.request_id"
	SettingCorrelationID = "threadline.correlation_id"
	// SettingAttributionTx binds the other three to one transaction: it
	// holds that transaction's TxStartSQL.
	SettingAttributionTx = "threadline.attribution_tx"
)

// TxStartSQL is a SQL expression (text) naming the current transaction:
// its start time, now(), in whole microseconds since the Unix epoch. The
// text does not depend on any session setting (TimeZone, DateStyle,
// extra_float_digits), so the value published before the first write and
// the one the capture computes, under its own pinned settings, compare
// equal. A later transaction on the same server connection starts later,
// so a value left at session level does not name it. (date_part's float8
// is exact to the microsecond for any date of this century and costs half
// of extract's numeric.)
const TxStartSQL = "(date_part('epoch', now()) * 1000000)::bigint::text"
