package contract

import "strings"

// CommentTable returns the table a capture function's comment names
// (CaptureComment's t, as t.String() wrote it), or "" when the comment is
// not Threadline's.
func CommentTable(comment string) string {
	rest, ok := strings.CutPrefix(comment, CommentPrefix)
	if !ok {
		return ""
	}
	if i := strings.LastIndex(rest, fingerprintMark); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
