// Package contract holds the facts that the generated SQL, the generated
// Go package, the generator and the runtime must agree on: the names of the
// capture triggers, the comment that carries a capture function's
// fingerprint, the capture modes, the default audit schema and mask text,
// the actor size limit, and qualified table names with their one parse and
// their one quote.
//
// It imports only the standard library, so the runtime (pgx only, no cgo)
// and the generator packages can both depend on it: each fact is written
// here once instead of being copied and kept in step by tests.
package contract

import "strings"

// DefaultAuditSchema is the audit schema used when none is configured.
const DefaultAuditSchema = "threadline"

// DefaultMaskPlaceholder replaces masked values when a table sets no
// mask_placeholder; the runtime's Masked encodes to it too.
const DefaultMaskPlaceholder = "[REDACTED]"

// MaxActorRefBytes bounds the JSON text of an actor reference: the runtime
// refuses a longer actor and the capture keeps at most this much of the
// threadline.actor_ref setting.
const MaxActorRefBytes = 4096

// MaxIdentifierBytes is PostgreSQL's identifier length limit
// (NAMEDATALEN-1).
const MaxIdentifierBytes = 63

// Names of the capture triggers. Trigger names are per table, so fixed
// names are unique.
const (
	TriggerInsert   = "threadline_capture_insert"
	TriggerUpdate   = "threadline_capture_update"
	TriggerDelete   = "threadline_capture_delete"
	TriggerRow      = "threadline_capture_row"
	TriggerTruncate = "threadline_capture_truncate"
)

// TriggerNames lists every trigger name Threadline may install.
var TriggerNames = []string{TriggerInsert, TriggerUpdate, TriggerDelete, TriggerRow, TriggerTruncate}

// Triggers returns the triggers a capture in mode m puts on its table.
func Triggers(m Mode) []string {
	if m == ModeRow {
		return []string{TriggerRow, TriggerTruncate}
	}
	return []string{TriggerInsert, TriggerUpdate, TriggerDelete, TriggerTruncate}
}

// CommentPrefix starts the comment on every capture function; the
// fingerprint follows fingerprintMark.
const CommentPrefix = "threadline capture for "

const fingerprintMark = "; fingerprint "

// CaptureComment is the comment on the capture function of table t whose
// generated SQL has fingerprint fp.
func CaptureComment(t QualifiedName, fp string) string {
	return CommentPrefix + t.String() + fingerprintMark + fp
}

// ParseFingerprint extracts the fingerprint ("sha256:…") from a capture
// function's comment, or returns "" when the comment is not Threadline's.
func ParseFingerprint(comment string) string {
	if !strings.HasPrefix(comment, CommentPrefix) {
		return ""
	}
	i := strings.LastIndex(comment, fingerprintMark)
	if i < 0 {
		return ""
	}
	return comment[i+len(fingerprintMark):]
}

// Mode says how a table's changes are captured. Its values are the words
// threadline.yaml's capture key takes.
type Mode string

const (
	// ModeStatement uses statement-level AFTER triggers with transition
	// tables: one set-based INSERT per statement.
	ModeStatement Mode = "statement"
	// ModeRow uses one row-level AFTER trigger. Partitioned tables use it
	// because row triggers on a partitioned table also fire for writes
	// that name a partition, including partitions created later.
	ModeRow Mode = "row"
)

// IsZero reports whether m is the default mode (statement). Migration
// headers store only the row mode ("row":true, with omitzero).
func (m Mode) IsZero() bool { return m != ModeRow }

// MarshalJSON encodes the mode as migration headers always have: true for
// ModeRow, false otherwise.
func (m Mode) MarshalJSON() ([]byte, error) {
	if m == ModeRow {
		return []byte("true"), nil
	}
	return []byte("false"), nil
}

// UnmarshalJSON reads the boolean MarshalJSON writes.
func (m *Mode) UnmarshalJSON(b []byte) error {
	*m = ModeStatement
	if string(b) == "true" {
		*m = ModeRow
	}
	return nil
}
