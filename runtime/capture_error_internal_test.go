package threadline

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestExplainCaptureErrorWithoutDB: the capture function is read from
// the error's CONTEXT, quoted schema included; without a database the
// table is unknown and the message names the function; other errors pass
// through unchanged.
func TestExplainCaptureErrorWithoutDB(t *testing.T) {
	for where, fn := range map[string]string{
		"PL/pgSQL function threadline.capture_public_files_1a2b3c4d() line 30 at assignment":                          "threadline.capture_public_files_1a2b3c4d",
		"SQL statement \"INSERT …\"\nPL/pgSQL function \"My \"\"Audit\".capture_x_00ff00ff() line 9 at SQL statement": `"My ""Audit".capture_x_00ff00ff`,
	} {
		pgErr := &pgconn.PgError{Code: "54000", Message: "string too long to represent as jsonb string", Where: where}
		var e *ValueTooLargeError
		if err := ExplainCaptureError(context.Background(), nil, pgErr); !errors.As(err, &e) || e.Function != fn || e.Table != "" || e.Err != pgErr {
			t.Errorf("%q: %v", where, err)
		} else if want := "threadline: the capture of the table of " + fn + " refused"; err.Error()[:len(want)] != want {
			t.Errorf("%q: message %q", where, err)
		}
	}
	for _, err := range []error{
		nil,
		errors.New("other"),
		&pgconn.PgError{Code: "54000", Where: "PL/pgSQL function public.mine() line 1 at assignment"},
		&pgconn.PgError{Code: "22001", Where: "PL/pgSQL function threadline.capture_public_files_1a2b3c4d() line 30 at assignment"},
	} {
		if got := ExplainCaptureError(context.Background(), nil, err); got != err {
			t.Errorf("%v became %v", err, got)
		}
	}
	if got := unquoteIdent(`"a""b"`); got != `a"b` {
		t.Errorf("unquoteIdent: %q", got)
	}
}
