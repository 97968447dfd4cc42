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

	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
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
		opt  threadline.ActionOption
	}{
		{"reason", threadline.WithReason(over(contract.MaxActionTextBytes))},
		{"comment", threadline.WithComment(over(contract.MaxActionTextBytes))},
		{"verb", threadline.WithVerb(over(contract.MaxActionNameBytes))},
		{"category", threadline.WithCategory(over(contract.MaxActionNameBytes))},
		{"name", nil},
	} {
		name := "ok.name"
		if c.opt == nil {
			name = over(contract.MaxActionNameBytes)
		}
		var sent bool
		err := threadline.InTx(ctx, pool, func(tx pgx.Tx) error {
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
