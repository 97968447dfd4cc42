package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	threadline "github.com/threadline-go/threadline/runtime"
)

// TestExportCorrelationID: -correlation-id exports the changes of
// transactions carrying the id as their own setting (no action, issue 27
// finding 1) as well as those whose action carries it, and the help says
// so.
func TestExportCorrelationID(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t) // users 1 and 2 inserted with correlation id imp-1 and an action
	ctx := context.Background()
	err := threadline.InTx(ctx, p.db.Pool, threadline.TxOptions{Actor: threadline.User("1"), CorrelationID: "checkout-100"}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO posts VALUES (42, 1, 'order 42'), (43, 1, 'order 43')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errb := p.cli(t, "export", "-format", "ndjson", "-output", "-", "-correlation-id", "checkout-100")
	expectCode(t, "export", code, 0, out, errb)
	if got := ndjsonRows(t, out); got != `posts insert {"id":43}; posts insert {"id":42}` {
		t.Fatalf("checkout-100: %s", got)
	}
	code, out, errb = p.cli(t, "export", "-format", "ndjson", "-output", "-", "-correlation-id", "imp-1", "-table", "users")
	expectCode(t, "export", code, 0, out, errb)
	if got := ndjsonRows(t, out); got != `users insert {"id":2}; users insert {"id":1}` {
		t.Fatalf("imp-1: %s", got)
	}
	code, out, errb = p.cli(t, "export", "-h")
	mustContain(t, "export help", out+errb, "their own (X-Correlation-Id, TxOptions.CorrelationID) or their action's")
}

// ndjsonRows describes the rows of an NDJSON export: table op key.
func ndjsonRows(t *testing.T, s string) string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		var r struct {
			Table string          `json:"table_name"`
			Op    string          `json:"op"`
			PK    json.RawMessage `json:"table_pk"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		var k any
		_ = json.Unmarshal(r.PK, &k)
		kb, _ := json.Marshal(k)
		out = append(out, r.Table+" "+r.Op+" "+string(kb))
	}
	return strings.Join(out, "; ")
}
