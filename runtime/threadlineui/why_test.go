package threadlineui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineui"
)

// write runs stmts in one InTx transaction with opts, records action
// (name, then options) when given, and names the new changes in the
// fixture so that shown lists them.
func (fx *fixture) write(t *testing.T, opts []threadline.TxOption, action []string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	err := threadline.InTx(ctx, fx.db.Pool, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		if len(action) == 0 {
			return nil
		}
		var ao []threadline.ActionOption
		if len(action) > 1 {
			ao = append(ao, threadline.WithReason(action[1]))
		}
		if len(action) > 2 {
			ao = append(ao, threadline.WithCategory(action[2]))
		}
		_, err := threadline.RecordAction(ctx, tx, action[0], ao...)
		return err
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := threadline.Audit{}.Timeline(ctx, fx.db.Pool, threadline.Filter{Limit: threadline.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		var k any
		_ = json.Unmarshal(c.PK, &k)
		kb, _ := json.Marshal(k)
		name := fmt.Sprintf("%s.%s %s %s", c.Schema, c.Table, c.Op, kb)
		fx.ids[name], fx.names[c.ID] = c.ID, name
	}
}

// TestCorrelationFilterMatchesTransactions: posts written with a
// correlation id and no action (finding 1 of issue 27) are listed by the
// timeline's correlation filter, and the form says what it matches.
func TestCorrelationFilterMatchesTransactions(t *testing.T) {
	fx := newFixture(t)
	fx.write(t, []threadline.TxOption{threadline.WithActor(threadline.User("5")), threadline.WithCorrelationID("checkout-100")}, nil,
		"INSERT INTO posts VALUES (42, 'order 42')", "UPDATE posts SET title = 'order 42, paid' WHERE id = 42")
	h := fx.handler(threadlineui.Options{})
	r := get(t, h, "/changes?correlation_id=checkout-100")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got, want := fx.shown(r.body), `public.posts update {"id":42}; public.posts insert {"id":42}`; got != want {
		t.Fatalf("correlation filter:\n got %s\nwant %s", got, want)
	}
	mustContainAll(t, "timeline form", r.body, "the transaction's or its action's")
	// The action's correlation id still matches.
	if got := fx.shown(get(t, h, "/changes?correlation_id=corr-7").body); got != `public.users update {"id":1}` {
		t.Fatalf("action's correlation id: %s", got)
	}
}

func mustContainAll(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s lacks %q", what, s)
		}
	}
}
