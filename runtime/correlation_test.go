package threadline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	threadline "github.com/threadline-go/threadline/runtime"
)

const corrOrdersDDL = `CREATE TABLE orders (tenant_id bigint, order_no bigint, status text NOT NULL, PRIMARY KEY (tenant_id, order_no));`

const corrOrdersTables = `  orders: {}
`

// TestCorrelationMatchesTransactionOrAction: orders written with a
// correlation id and no action (X-Correlation-Id on a checkout request)
// are found by the correlation filter, as are the changes of a
// transaction whose action carries the id while the transaction carries
// another; the timeline, the stream and the export agree.
func TestCorrelationMatchesTransactionOrAction(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, corrOrdersDDL, corrOrdersTables)
	inTx(t, db, threadline.TxOptions{Actor: threadline.User("7"), CorrelationID: "checkout-100"},
		"INSERT INTO orders VALUES (1, 42, 'new'), (1, 43, 'new')")
	inTx(t, db, threadline.TxOptions{Actor: threadline.User("7"), CorrelationID: "checkout-101"},
		"INSERT INTO orders VALUES (1, 44, 'new')")
	// The transaction's own id is another; its action's is checkout-100.
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.System("payments"), CorrelationID: "payment-9"}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE orders SET status = 'paid' WHERE order_no = 42"); err != nil {
			return err
		}
		_, err := threadline.RecordAction(ctx, tx, "order.pay", threadline.ActionOptions{CorrelationID: "checkout-100"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(t, "UPDATE orders SET status = 'shipped' WHERE order_no = 43")

	const want = `public.orders update {"order_no":42,"tenant_id":1}; public.orders insert {"order_no":43,"tenant_id":1}; ` +
		`public.orders insert {"order_no":42,"tenant_id":1}`
	f := threadline.Filter{CorrelationID: "checkout-100"}
	p, err := audit.Timeline(ctx, db.Pool, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(p.Changes); got != want || p.Next != nil {
		t.Fatalf("timeline:\n got %s\nwant %s", got, want)
	}
	if p.Changes[1].CorrelationID != "checkout-100" || p.Changes[1].ActionID != nil || p.Changes[0].CorrelationID != "payment-9" {
		t.Fatalf("metadata: %+v", p.Changes)
	}
	// The stream (one sorted query a page, as Changes and export read).
	var streamed []threadline.Change
	for c, err := range audit.Changes(ctx, db.Pool, threadline.Filter{CorrelationID: "checkout-100", Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		streamed = append(streamed, c)
	}
	if got := describe(streamed); got != want {
		t.Fatalf("Changes:\n got %s\nwant %s", got, want)
	}
	var b bytes.Buffer
	if _, err := audit.Export(ctx, db.Pool, &b, threadline.ExportOptions{Format: threadline.ExportNDJSON, Filter: f}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var row struct {
			Op  string          `json:"op"`
			PK  json.RawMessage `json:"table_pk"`
			Act *string         `json:"action_name"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		a := "-"
		if row.Act != nil {
			a = *row.Act
		}
		keys = append(keys, row.Op+" "+compactJSON(row.PK)+" "+a)
	}
	if got := strings.Join(keys, "; "); got != `update {"order_no":42,"tenant_id":1} order.pay; insert {"order_no":43,"tenant_id":1} -; insert {"order_no":42,"tenant_id":1} -` {
		t.Fatalf("export: %s", got)
	}
	// The action's own id only: its transaction's id matches it alone.
	p, err = audit.Timeline(ctx, db.Pool, threadline.Filter{CorrelationID: "payment-9"})
	if err != nil || describe(p.Changes) != `public.orders update {"order_no":42,"tenant_id":1}` {
		t.Fatalf("payment-9: %s %v", describe(p.Changes), err)
	}
	p, err = audit.Timeline(ctx, db.Pool, threadline.Filter{CorrelationID: "checkout-101", Table: "orders"})
	if err != nil || describe(p.Changes) != `public.orders insert {"order_no":44,"tenant_id":1}` {
		t.Fatalf("checkout-101: %s %v", describe(p.Changes), err)
	}
}
