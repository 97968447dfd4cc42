package generator_test

import (
	"context"
	"testing"

	"github.com/threadline-go/threadline/internal/contract"
)

// headerRow is the attribution of one audit_transactions row; NULL reads
// as "".
type headerRow struct {
	Actor, Invalid, Request, Correlation string
}

// headers returns the attribution of every header, in id order.
func (in *integrity) headers(t *testing.T) []headerRow {
	t.Helper()
	rows, err := in.db.Pool.Query(context.Background(), `SELECT coalesce(actor_ref::text, ''), coalesce(actor_ref_invalid, ''),
		coalesce(request_id, ''), coalesce(correlation_id, '') FROM threadline.audit_transactions ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []headerRow
	for rows.Next() {
		var h headerRow
		if err := rows.Scan(&h.Actor, &h.Invalid, &h.Request, &h.Correlation); err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAttackSessionLevelAttribution: attribution is per transaction. As
// the application's role, on one connection: a session-level SET of the
// actor and ids (even with the binding, set for the SET's own
// transaction) attributes no later write; SET LOCAL without the binding
// attributes nothing either; threadline.attribute() attributes the
// transaction it is called in, and nothing leaks to the next one, nor
// from an attribute() call in an earlier transaction. An invalid actor
// given to attribute() is kept for forensics, never an actor, and the
// write succeeds; an action recorded under the session-level values has
// no actor.
func TestAttackSessionLevelAttribution(t *testing.T) {
	in := newIntegrity(t)
	ctx := context.Background()
	app := in.as(t, "app")
	run := func(sqls ...string) {
		t.Helper()
		for _, s := range sqls {
			if _, err := app.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	run(`SET threadline.actor_ref = '{"type":"user","id":"LEAKER"}'; SET threadline.request_id = 'leak-req';
		SET threadline.correlation_id = 'leak-corr';
		SELECT set_config('` + contract.SettingAttributionTx + `', ` + contract.TxStartSQL + `, false)`)
	run(`INSERT INTO users VALUES (1, NULL, 'h', 'plain')`)
	run(`BEGIN`, `SET LOCAL threadline.actor_ref = '{"type":"user","id":"local"}'`, `SET LOCAL threadline.request_id = 'local-req'`,
		`INSERT INTO users VALUES (2, NULL, 'h', 'set local')`, `COMMIT`)
	run(`BEGIN`, `SELECT threadline.attribute('{"id":"alice","type":"user"}', 'req-a', 'corr-a')`,
		`INSERT INTO users VALUES (3, NULL, 'h', 'attributed')`, `UPDATE users SET name = 'attributed!' WHERE id = 3`)
	var published string
	if err := app.QueryRow(ctx, `SELECT current_setting('threadline.actor_ref')`).Scan(&published); err != nil ||
		published != `{"type":"user","id":"alice"}` {
		t.Errorf("attribute() published %q (%v), want the canonical form InTx writes", published, err)
	}
	run(`COMMIT`)
	run(`BEGIN`, `INSERT INTO users VALUES (4, NULL, 'h', 'next transaction')`, `COMMIT`)
	run(`SELECT threadline.attribute('{"type":"user","id":"early"}', 'early-req')`, `INSERT INTO users VALUES (5, NULL, 'h', 'after')`)
	run(`BEGIN`, `SELECT threadline.attribute('{"type":"root","id":"1"}', NULL, 'corr-i')`,
		`INSERT INTO users VALUES (6, NULL, 'h', 'invalid actor')`, `COMMIT`)
	run(`BEGIN`, `SELECT threadline.attribute(NULL, correlation_id => 'corr-only')`, `INSERT INTO users VALUES (7, NULL, 'h', 'ids only')`, `COMMIT`)
	run(`BEGIN`, `SELECT threadline.attribute('{"type":"anonymous"}')`, `INSERT INTO users VALUES (8, NULL, 'h', 'anonymous')`, `COMMIT`)
	run(`SELECT * FROM threadline.record_action('act', NULL, NULL, 'ok', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)

	want := []headerRow{
		{}, {},
		{Actor: `{"id": "alice", "type": "user"}`, Request: "req-a", Correlation: "corr-a"},
		{}, {},
		{Invalid: `{"id": "1", "type": "root"}`, Correlation: "corr-i"},
		{Correlation: "corr-only"},
		{Actor: `{"type": "anonymous"}`},
		{},
	}
	got := in.headers(t)
	if len(got) != len(want) {
		t.Fatalf("%d headers, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("header %d: %+v, want %+v", i+1, got[i], want[i])
		}
	}
	var actionActor, actionRequest string
	if err := in.db.Pool.QueryRow(ctx, `SELECT coalesce(actor_ref::text, ''), coalesce(request_id, '')
		FROM threadline.audit_actions`).Scan(&actionActor, &actionRequest); err != nil {
		t.Fatal(err)
	}
	if actionActor != "" || actionRequest != "" {
		t.Errorf("the action under session-level values: actor %q, request id %q; want none", actionActor, actionRequest)
	}
}
