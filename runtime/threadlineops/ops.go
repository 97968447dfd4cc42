// Package threadlineops holds Threadline's operations: the coverage check
// (are the audited tables captured by the current capture?), continuity
// and baselines (brownfield tables whose rows predate capture), and
// retention (purging audit rows older than a policy's window). The
// threadline command runs them; operators' own jobs can too.
//
// They are apart from the runtime package (threadline), which generated
// code and applications import to write and read the audit trail, because
// their audience is the operator, not the application: see the runtime's
// package documentation for the boundary. They use the runtime's types,
// and report to hooks of their own (Hooks, on the Audit), with events of
// their own (CoverageCheckedEvent, PurgeBatchEvent, PurgeFinishedEvent).
//
//	ops := threadlineops.Audit{Schema: "threadline", Hooks: hooks}
//	report, err := ops.Coverage(ctx, pool, expected, threadlineops.CoverageOptions{})
//
// Like the runtime, the package depends on pgx only and builds with
// CGO_ENABLED=0.
package threadlineops

import (
	"context"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/trailread"
	threadline "github.com/threadline-go/threadline/runtime"
)

// Audit names the audit schema the operations work on, and the hooks they
// report to. The zero value uses threadline.DefaultSchema and reports to
// no hook.
type Audit struct {
	// Schema is the audit schema (audit_schema in threadline.yaml), as
	// threadline.Audit.Schema.
	Schema string
	// Hooks observe every operation of this Audit that reports an event
	// (Coverage, Purge, PurgePlan): set them once here, not per call.
	Hooks Hooks
}

// schemaName returns the unquoted audit schema name.
func (a Audit) schemaName() string {
	if a.Schema == "" {
		return threadline.DefaultSchema
	}
	return a.Schema
}

// schema returns the quoted audit schema name.
func (a Audit) schema() string { return trailread.Trail{Schema: a.Schema}.Quoted() }

// tableName is a table named as threadline.Filter.Table names it.
type tableName = contract.QualifiedName

// parseTableName reads a table name in threadline.Filter.Table form, with
// the runtime's errors (*threadline.FilterError).
func parseTableName(s string) (tableName, error) {
	if err := (threadline.Filter{Table: s}).Validate(); err != nil {
		return tableName{}, err
	}
	return contract.ParseQualifiedName(s, "public")
}

// call calls hook h with e when it is set.
func call[E any](ctx context.Context, h func(context.Context, E), e E) {
	if h != nil {
		h(ctx, e)
	}
}
