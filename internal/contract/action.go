package contract

// Bounds of what an action (audit_actions) stores, in bytes of UTF-8.
// The runtime's RecordAction refuses a longer value before it sends
// anything, and the SQL function record_action raises SQLSTATE 22001
// (string_data_right_truncation) for one, so that a caller in any
// language is bounded too: an action is read on the viewer's pages and
// in every export, and a reason of megabytes would make each of them as
// large.
const (
	// MaxActionNameBytes bounds an action's name, verb and category.
	MaxActionNameBytes = 256
	// MaxActionTextBytes bounds an action's reason and comment.
	MaxActionTextBytes = 8192
	// MaxAttributionIDBytes bounds a request, correlation or job id.
	MaxAttributionIDBytes = 256
)

// SQLStateStringTooLong is PostgreSQL's string_data_right_truncation,
// the SQLSTATE of a text longer than its bound.
const SQLStateStringTooLong = "22001"
