package generator_test

// Trail integrity v2 (issue 23), tested as the application's role against
// an install applied by a non-superuser owner (see integrity_test.go).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/sqltemplates"
)

// recordActionParams are the parameters of threadline.record_action, in
// order, with the bound each text has (0: not a bounded text).
var recordActionParams = []struct {
	name string
	max  int
}{
	{"p_name", contract.MaxActionNameBytes}, {"p_actor", 0}, {"p_ctx_actor", 0}, {"p_status", 0},
	{"p_verb", contract.MaxActionNameBytes}, {"p_category", contract.MaxActionNameBytes},
	{"p_reason", contract.MaxActionTextBytes}, {"p_comment", contract.MaxActionTextBytes},
	{"p_correlation_id", contract.MaxAttributionIDBytes}, {"p_ctx_correlation_id", contract.MaxAttributionIDBytes},
	{"p_request_id", contract.MaxAttributionIDBytes}, {"p_ctx_request_id", contract.MaxAttributionIDBytes},
	{"p_job_id", contract.MaxAttributionIDBytes},
}

// callRecordAction calls record_action as conn with every parameter NULL
// but the name ("x"), the status ("ok") and set.
func callRecordAction(ctx context.Context, conn *pgx.Conn, set map[string]any) error {
	args := make([]any, len(recordActionParams))
	casts := make([]string, len(recordActionParams))
	for i, p := range recordActionParams {
		casts[i] = fmt.Sprintf("$%d::text", i+1)
		if p.name == "p_actor" || p.name == "p_ctx_actor" {
			casts[i] = fmt.Sprintf("$%d::jsonb", i+1)
		}
		switch v, ok := set[p.name]; {
		case ok:
			args[i] = v
		case p.name == "p_name":
			args[i] = "x"
		case p.name == "p_status":
			args[i] = "ok"
		}
	}
	_, err := conn.Exec(ctx, "SELECT * FROM threadline.record_action("+strings.Join(casts, ", ")+")", args...)
	return err
}

// TestAttackRecordActionOversizeText: record_action bounds every text it
// stores, for a caller in any language: one byte over the bound (in
// bytes, so a multibyte character counts for its bytes) fails with 22001
// and stores nothing; a 30 MiB reason too. A value at the bound is stored.
// RecordAction refuses an oversize text before it sends anything, with the
// same SQLSTATE.
func TestAttackRecordActionOversizeText(t *testing.T) {
	in := newIntegrity(t)
	ctx := context.Background()
	app := in.as(t, "app")
	over := func(n int) string { return strings.Repeat("é", n/2) + strings.Repeat("x", n%2+1) } // n+1 bytes
	for _, p := range recordActionParams {
		if p.max == 0 {
			continue
		}
		err := callRecordAction(ctx, app, map[string]any{p.name: over(p.max)})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "22001" || !strings.Contains(pgErr.Message, strings.TrimPrefix(p.name, "p_")) {
			t.Errorf("%s of %d bytes: err = %v, want 22001 naming it", p.name, p.max+1, err)
		}
	}
	for _, set := range []map[string]any{
		{"p_reason": strings.Repeat("r", 30<<20)},
		{"p_actor": `{"type":"user","id":"` + strings.Repeat("a", contract.MaxActorRefBytes+1) + `"}`},
		{"p_ctx_actor": `{"type":"user","id":"` + strings.Repeat("a", contract.MaxActorRefBytes+1) + `"}`},
	} {
		if err := callRecordAction(ctx, app, set); sqlState(err) != "22001" {
			for k := range set {
				t.Errorf("oversize %s: err = %v, want 22001", k, err)
			}
		}
	}
	if got := in.auditCounts(t); got != [3]int{} {
		t.Fatalf("audit rows %v after refused actions, want none", got)
	}

	// At the bound: stored as given.
	for _, p := range recordActionParams {
		if p.max == 0 {
			continue
		}
		if err := callRecordAction(ctx, app, map[string]any{p.name: strings.Repeat("y", p.max)}); err != nil {
			t.Errorf("%s of %d bytes: %v", p.name, p.max, err)
		}
	}
	var n, longest int
	if err := in.db.Pool.QueryRow(ctx, `SELECT count(*), max(greatest(octet_length(name), octet_length(verb), octet_length(category),
		octet_length(reason), octet_length(comment), octet_length(correlation_id), octet_length(request_id), octet_length(job_id)))
		FROM threadline.audit_actions`).Scan(&n, &longest); err != nil {
		t.Fatal(err)
	}
	if n != 10 || longest != contract.MaxActionTextBytes {
		t.Errorf("%d actions at the bound, longest text %d bytes; want 10 and %d", n, longest, contract.MaxActionTextBytes)
	}

	// The runtime refuses before the round trip.
	pool := in.pool(t, "app")
	for _, c := range []struct {
		name string
		opt  threadline.ActionOptions
	}{
		{"reason", threadline.ActionOptions{Reason: over(contract.MaxActionTextBytes)}},
		{"comment", threadline.ActionOptions{Comment: over(contract.MaxActionTextBytes)}},
		{"verb", threadline.ActionOptions{Verb: over(contract.MaxActionNameBytes)}},
		{"category", threadline.ActionOptions{Category: over(contract.MaxActionNameBytes)}},
		{"name", threadline.ActionOptions{}},
	} {
		name := "ok.name"
		if c.opt == (threadline.ActionOptions{}) {
			name = over(contract.MaxActionNameBytes)
		}
		var sent bool
		err := threadline.InTx(ctx, pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
			_, err := threadline.RecordAction(ctx, tx, name, c.opt)
			var before int64
			// The transaction is still usable: nothing was sent that failed.
			if qerr := tx.QueryRow(ctx, "SELECT 1").Scan(&before); qerr != nil {
				sent = true
			}
			return err
		})
		var state interface{ SQLState() string }
		if !errors.Is(err, threadline.ErrInvalidAction) || !errors.As(err, &state) || state.SQLState() != "22001" ||
			!strings.Contains(err.Error(), c.name) || sent {
			t.Errorf("RecordAction with an oversize %s: err = %v (sent: %v), want ErrInvalidAction with SQLSTATE 22001 naming it", c.name, err, sent)
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			t.Errorf("RecordAction with an oversize %s reached the database: %v", c.name, err)
		}
	}
	if got := in.auditCounts(t); got[2] != 10 {
		t.Errorf("audit rows %v after refused RecordAction calls, want the 10 actions at the bound only", got)
	}
}

// TestOversizeValueFailsClosedAndSaysWhy: a value that is not excluded and
// too large for jsonb (a 135 MiB bytea is 270 MiB of hex; a 257 MiB text)
// fails the write: the capture fails closed, and nothing is written. The
// error says why: InTx returns a *threadline.ValueTooLargeError naming the
// table and its capture function, with PostgreSQL's SQLSTATE 54000; a
// writer in another language gets PostgreSQL's error, whose CONTEXT names
// the capture function, and ExplainCaptureError turns it into the same
// typed error. Excluding the column lets the same writes through.
func TestOversizeValueFailsClosedAndSaysWhy(t *testing.T) {
	const ddl = `CREATE TABLE files (id int PRIMARY KEY, name text, data bytea, body text);
		INSERT INTO files VALUES (1, 'small', '\x00', 'b')`
	fn := "threadline." + sqltemplates.FunctionName(schema.QualifiedName{Schema: "public", Name: "files"})
	check := func(t *testing.T, what string, err error) {
		t.Helper()
		var tooLarge *threadline.ValueTooLargeError
		if !errors.As(err, &tooLarge) {
			t.Fatalf("%s: err = %v, want a *threadline.ValueTooLargeError", what, err)
		}
		if tooLarge.Table != "public.files" || tooLarge.Function != fn || sqlState(err) != "54000" {
			t.Errorf("%s: table %q, function %q, SQLSTATE %q; want public.files, %s, 54000", what, tooLarge.Table, tooLarge.Function, sqlState(err), fn)
		}
		for _, want := range []string{"public.files", "too large", "exclude"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not say %q", what, err, want)
			}
		}
	}
	forEachMode(t, func(t *testing.T, mode contract.Mode) {
		db := capturetest.SetupMode(t, mode, ddl, "  files: {}\n")
		ctx := context.Background()
		before := capturetest.Count(t, db, "audit_changes")
		err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO files VALUES (2, 'big', decode(repeat('00', 135 * 1024 * 1024), 'hex'), NULL)`)
			return err
		})
		check(t, "InTx insert of a 135 MiB bytea", err)

		_, err = db.Pool.Exec(ctx, `UPDATE files SET body = repeat('y', 257 * 1024 * 1024) WHERE id = 1`)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "54000" || !strings.Contains(pgErr.Where, fn) {
			t.Fatalf("plain update of a 257 MiB text: err = %v (context %q), want 54000 with a context naming %s", err, pgErr.Where, fn)
		}
		check(t, "ExplainCaptureError of a plain update", threadline.ExplainCaptureError(ctx, db.Pool, err))
		if got := threadline.ExplainCaptureError(ctx, db.Pool, errors.New("other")); got.Error() != "other" {
			t.Errorf("ExplainCaptureError changed an unrelated error: %v", got)
		}

		var rows int
		var body string
		if err := db.Pool.QueryRow(ctx, `SELECT count(*), max(body) FROM files`).Scan(&rows, &body); err != nil {
			t.Fatal(err)
		}
		if rows != 1 || body != "b" || capturetest.Count(t, db, "audit_changes") != before {
			t.Errorf("after the failed writes: %d rows, body %.10q, %d audit changes (had %d); want 1, b, unchanged", rows, body, capturetest.Count(t, db, "audit_changes"), before)
		}
	})
}
