// Package threadline is the runtime of Threadline: the small package that
// applications and the code Threadline generates for them import. It holds
// three things, and only those:
//
//   - the application's writes: InTx, actors (ActorRef), actions
//     (RecordAction) and jobs (JobAttribution), which attribute every
//     audited write;
//   - the application's reads of the audit trail: Audit's Timeline,
//     ActorHistory, History, TransactionChanges, Transaction, AsOf,
//     Changes, Export, ExportFeed and Feed, with Filter, Page, Cursor,
//     Change, Transaction and DiffChange;
//   - the generated code's codec: the typed values (Masked, Numeric, Date,
//     Timestamp, UUID, …), DecodeChange, DecodeJSON, ConvertPage,
//     ConvertChanges and ConvertSeq, with which the generated package types
//     every change of its tables.
//
// Everything else is elsewhere. The operator's tools (the coverage check,
// continuity and baselines, retention, seals and verification) are in
// package runtime/threadlineops, with hooks and events of their own; the
// audit viewer is runtime/threadlineui; the HTTP attribution middleware
// runtime/threadlinehttp. The SQL that reads the trail (the listing
// queries and the time-window search of timelines) is an internal package
// these packages share. Nothing here creates tables: the capture
// migrations install everything the runtime reads.
//
// Options are structs, as in pgx (pgx.TxOptions, pgxpool.Config) and River
// (river.InsertOpts): HistoryOptions and ExportOptions here,
// CoverageOptions, PurgeOptions and the others in threadlineops. The zero
// value of each is the default, a call site names only what it sets, all
// the options of a call are documented on one type, and a new option is a
// new field, which no caller has to change for. InTx and RecordAction
// still take the functional options of earlier releases (TxOption,
// ActionOption: WithActor, WithReason, …); they follow before v1.
//
// Hooks are set once, on Audit.Hooks: every operation of that Audit reports
// its events to them.
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
