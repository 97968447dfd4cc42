package threadline

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/trailread"
)

// DBTX is what the investigation functions need from a database handle.
// *pgxpool.Pool, *pgx.Conn and pgx.Tx satisfy it.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DefaultSchema is the audit schema used when none is configured.
const DefaultSchema = contract.DefaultAuditSchema

// Audit names the audit schema that the reads and RecordAction use, and
// the hooks they report to. The zero value uses DefaultSchema and reports
// to no hook.
type Audit struct {
	// Schema is the audit schema (audit_schema in threadline.yaml).
	Schema string
	// Hooks observe every operation of this Audit that reports an event
	// (RecordAction, Export): set them once here, not per call.
	Hooks Hooks
}

// schema returns the quoted audit schema name.
func (a Audit) schema() string {
	s := a.Schema
	if s == "" {
		s = DefaultSchema
	}
	return contract.QuoteIdent(s)
}

// reader returns the read engine of a's trail, reading Changes.
func (a Audit) reader() trailread.Reader[Change] {
	return trailread.Reader[Change]{Trail: trailread.Trail{Schema: a.Schema}, Decode: decodeChange, Cursor: positionOf}
}
