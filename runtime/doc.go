// Package threadline is the runtime of Threadline: the small package that
// generated code and applications import. It serves two audiences, and
// only those:
//
//   - the write path: InTx and its options, actors (ActorRef), actions
//     (RecordAction) and jobs, which attribute every audited write;
//   - reading the audit trail: Audit's Timeline, History, AsOf,
//     ActorHistory, Transaction, TransactionChanges, Changes and Export,
//     with Filter, Page, Cursor, Change and the typed values (Masked,
//     Numeric, …) that the generated package builds on, and DiffChange.
//
// The operator's tools are elsewhere, because an application has no use
// for them: the coverage check, continuity and baselines, and retention
// live in package runtime/threadlineops (threadlineops.Audit is Audit with
// those methods), and the HTTP attribution middleware in
// runtime/threadlinehttp. Nothing here creates tables: the capture
// migrations install everything the runtime reads.
//
// Hooks are set once, on Audit.Hooks: every operation of that Audit, in
// this package or in threadlineops, reports its events to them.
//
// It lives in the directory runtime/ but its package name is threadline,
// so it never shadows the standard library's runtime package:
//
//	import threadline "github.com/threadline-go/threadline/runtime"
//
// It depends on pgx only and builds with CGO_ENABLED=0; the facts it
// shares with the generator (trigger names, the default audit schema, the
// mask text, the actor size limit, qualified table names) come from one
// small standard-library-only package, never from copies.
package threadline
