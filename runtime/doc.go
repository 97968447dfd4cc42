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
// Options come in one style, that of pgx and River, the libraries a
// Threadline user already calls beside this one: a struct passed by value
// after the arguments a call cannot do without, as pgx.TxOptions in
// pgx.BeginTxFunc(ctx, db, txOptions, fn) and river.InsertOpts. Here that
// is TxOptions for InTx (in BeginTxFunc's order: ctx, db, options, fn),
// ActionOptions for RecordAction, HistoryOptions and ExportOptions;
// CoverageOptions, PurgeOptions and the others in threadlineops. Why
// structs: the zero value is the default and an empty field is unset, so
// a call site names only what it sets; all the options of a call are
// documented on one type, which go doc shows whole; a new option is a new
// field, which no caller has to change for; and a call site reads like
// the pgx and River calls around it.
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
