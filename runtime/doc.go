// Package threadline is the runtime of Threadline: the small package that
// generated code and applications import to attribute writes (InTx,
// RecordAction, actors) and to investigate the audit trail (timelines,
// row history, as-of, export, retention, coverage).
//
// It lives in the directory runtime/ but its package name is threadline,
// so it never shadows the standard library's runtime package:
//
//	import threadline "github.com/threadline-go/threadline/runtime"
//
// It depends on pgx only and builds with CGO_ENABLED=0.
package threadline
