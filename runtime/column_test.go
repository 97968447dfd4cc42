package threadline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/capturetest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// TestFilterColumn: "who changed status?" lists the updates whose
// changed_fields hold the column, in Timeline, Changes and Export alike.
func TestFilterColumn(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, corrOrdersDDL, corrOrdersTables)
	bob := threadline.User("bob")
	inTx(t, db, threadline.TxOptions{Actor: threadline.User("ann")}, "INSERT INTO orders VALUES (1, 42, 'new'), (1, 43, 'new')")
	inTx(t, db, threadline.TxOptions{Actor: bob}, "UPDATE orders SET status = 'paid' WHERE order_no = 42")
	inTx(t, db, threadline.TxOptions{Actor: bob}, "UPDATE orders SET order_no = 44 WHERE order_no = 43")
	const want = `public.orders update {"order_no":42,"tenant_id":1}`
	p, err := audit.Timeline(ctx, db.Pool, threadline.Filter{Column: "status"})
	if err != nil || describe(p.Changes) != want {
		t.Fatalf("status: %s %v", describe(p.Changes), err)
	}
	p, err = audit.Timeline(ctx, db.Pool, threadline.Filter{Column: "order_no", Actor: &bob})
	if err != nil || describe(p.Changes) != `public.orders update {"order_no":44,"tenant_id":1}` {
		t.Fatalf("order_no: %s %v", describe(p.Changes), err)
	}
	var streamed []threadline.Change
	for c, err := range audit.Changes(ctx, db.Pool, threadline.Filter{Column: "status", Table: "orders"}) {
		if err != nil {
			t.Fatal(err)
		}
		streamed = append(streamed, c)
	}
	if describe(streamed) != want {
		t.Fatalf("Changes: %s", describe(streamed))
	}
	var b strings.Builder
	res, err := audit.Export(ctx, db.Pool, &b, threadline.ExportOptions{Format: threadline.ExportNDJSON, Filter: threadline.Filter{Column: "STATUS"}})
	if err != nil || res.Rows != 0 {
		t.Fatalf("names match exactly: %d rows %v", res.Rows, err)
	}
	for _, bad := range []string{" ", strings.Repeat("c", 64), "a\x00b"} {
		var fe *threadline.FilterError
		if err := (threadline.Filter{Column: bad}).Validate(); !errors.As(err, &fe) || fe.Key != "column" {
			t.Errorf("column %q: %v", bad, err)
		}
	}
}
