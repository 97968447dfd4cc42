package threadline

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/tlerr"
)

// sqlStateProgramLimit is PostgreSQL's program_limit_exceeded, the
// SQLSTATE of a value too large for jsonb.
const sqlStateProgramLimit = "54000"

// ValueTooLargeError reports an audited write that failed because its
// capture could not represent a value of the row as jsonb: a string over
// 268435455 bytes (a bytea counts twice its size, as hex), or an image
// over that size in all. The capture fails closed: the write fails and
// nothing is written. Exclude the column (exclude in threadline.yaml) to
// write such values; an excluded value is never converted.
//
// PostgreSQL's error does not name the column, and naming it would cost
// every capture (see docs/security.md); Table names the audited table.
type ValueTooLargeError struct {
	// Table is the audited table as its capture function's comment names
	// it ("public.files"), or "" when it could not be looked up.
	Table string
	// Function is the capture function ("threadline.capture_public_files_1a2b3c4d").
	Function string
	// Err is PostgreSQL's error (SQLSTATE 54000).
	Err *pgconn.PgError
}

// Error says which table's capture refused the value, and what to do.
func (e *ValueTooLargeError) Error() string {
	table := e.Table
	if table == "" {
		table = "the table of " + e.Function
	}
	return "threadline: the capture of " + table + " refused a value too large for jsonb, so the write failed " +
		"(a captured string holds at most 268435455 bytes; a bytea counts twice its size): exclude the column " +
		"in threadline.yaml to write such values: " + e.Err.Error()
}

// Unwrap returns PostgreSQL's error.
func (e *ValueTooLargeError) Unwrap() error { return e.Err }

// captureFunctionRE finds the capture function in an error's CONTEXT
// ("PL/pgSQL function threadline.capture_public_files_1a2b3c4d() line 30
// at assignment"). Capture function names are lower-case letters, digits
// and underscores (sqltemplates.FunctionName); the schema may be quoted.
var captureFunctionRE = regexp.MustCompile(`PL/pgSQL function ((?:"(?:[^"]|"")+"|[^\s."(]+)\.(capture_[a-z0-9_]+))\(\)`)

// ExplainCaptureError returns err unchanged unless it is PostgreSQL's
// error for a value a capture function could not convert to jsonb
// (SQLSTATE 54000 raised inside one); then it returns a
// *ValueTooLargeError wrapping it, with the table looked up in the capture
// function's comment through db (one catalog query, which any role may
// run; skipped when db is nil or a transaction, which the error has
// aborted). InTx does this for the errors of its function; a writer that
// does not use InTx may call it after rolling back.
func ExplainCaptureError(ctx context.Context, db DBTX, err error) error {
	var done *ValueTooLargeError
	var pgErr *pgconn.PgError
	if err == nil || errors.As(err, &done) || !errors.As(err, &pgErr) || pgErr.Code != sqlStateProgramLimit {
		return err
	}
	m := captureFunctionRE.FindStringSubmatch(pgErr.Where)
	if m == nil {
		return err
	}
	e := &ValueTooLargeError{Function: m[1], Err: pgErr}
	if _, inTx := db.(pgx.Tx); db != nil && !inTx {
		e.Table = captureTable(ctx, db, unquoteIdent(strings.TrimSuffix(m[1], "."+m[2])), m[2])
	}
	return e
}

// captureTable returns the table the comment of capture function
// schema.name names, or "".
func captureTable(ctx context.Context, db DBTX, schema, name string) string {
	var comment *string
	err := db.QueryRow(ctx, `SELECT pg_catalog.obj_description(p.oid, 'pg_proc')
		FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
		WHERE n.nspname = $1 AND p.proname = $2`, schema, name).Scan(&comment)
	if err != nil || comment == nil {
		return ""
	}
	return contract.CommentTable(*comment)
}

// unquoteIdent undoes the quoting PostgreSQL applies to an identifier in
// a message ("a""b" is a"b).
func unquoteIdent(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

// explainCapture is ExplainCaptureError for InTx's error: the table is
// looked up through db when db can run a query of its own.
func explainCapture(ctx context.Context, db Beginner, err error) error {
	if err == nil {
		return nil
	}
	q, _ := db.(DBTX)
	if e := ExplainCaptureError(ctx, q, err); e != err {
		return tlerr.Wrap(e, "transaction")
	}
	return err
}
