package pgbouncertest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/pgbouncertest"
	"github.com/threadline-go/threadline/harness/pgtest"
)

// TestTransactionPoolingSharesServerConnection: with one server
// connection, two clients in turn talk to the same backend, and a
// session-level SET of one is seen by the other (what transaction pooling
// does, and what the tests using this package rely on).
func TestTransactionPoolingSharesServerConnection(t *testing.T) {
	db := pgtest.NewDB(t)
	b := pgbouncertest.Start(t, db.URL, pgbouncertest.Options{PoolSize: 1})
	ctx := context.Background()
	connect := func() *pgx.Conn {
		t.Helper()
		cfg, err := pgx.ParseConfig(b.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("connect through pgbouncer: %v\n%s", err, b.Log())
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	first, second := connect(), connect()
	var pid1, pid2 int
	var seen string
	if _, err := first.Exec(ctx, `SET application_name = 'pgbouncertest'`); err != nil {
		t.Fatal(err)
	}
	if err := first.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid1); err != nil {
		t.Fatal(err)
	}
	if err := second.QueryRow(ctx, `SELECT pg_backend_pid(), current_setting('application_name')`).Scan(&pid2, &seen); err != nil {
		t.Fatal(err)
	}
	if pid1 != pid2 || seen != "pgbouncertest" {
		t.Errorf("second client: backend %d (first %d), application_name %q; want one shared server connection", pid2, pid1, seen)
	}
}
