package generator_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
)

func connectAs(t *testing.T, db *pgtest.DB, role string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = role
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect as %s: %v", role, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// denied asserts that sql fails with insufficient_privilege (42501).
func denied(t *testing.T, c *pgx.Conn, who, sql string) {
	t.Helper()
	_, err := c.Exec(context.Background(), sql)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("%s: %s: err = %v, want permission denied", who, sql, err)
	}
}

func allowed(t *testing.T, c *pgx.Conn, who, sql string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Errorf("%s: %s: %v", who, sql, err)
	}
}

func TestLeastPrivilege(t *testing.T) {
	r := pgtest.Roles(t, "app", "reader", "ops")
	extra := "privileges:\n  writer_roles: [" + r["app"] + "]\n  reader_roles: [" + r["reader"] + "]\n  retention_roles: [" + r["ops"] + "]\n"
	db := capturetest.SetupWith(t, `CREATE TABLE accounts (id int PRIMARY KEY, owner text)`, extra, "  accounts: {}\n")
	db.Exec(t, "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON accounts TO "+r["app"])

	app := connectAs(t, db, r["app"])
	// The application writes audited tables and records actions without any
	// privilege on the audit tables.
	ctx := context.Background()
	err := threadline.InTx(ctx, app, threadline.TxOptions{Actor: threadline.User("42")}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO accounts VALUES (1, 'ann')`); err != nil {
			return err
		}
		_, err := threadline.RecordAction(ctx, tx, "account.open", threadline.ActionOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("app write: %v", err)
	}
	allowed(t, app, "app", `UPDATE accounts SET owner = 'bob'`)
	allowed(t, app, "app", `TRUNCATE accounts`)
	for _, sql := range []string{
		`INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, op, captured_at) VALUES (1, 'x', 'y', 'insert', now())`,
		`UPDATE threadline.audit_changes SET op = 'delete'`,
		`DELETE FROM threadline.audit_changes`,
		`TRUNCATE threadline.audit_changes`,
		`UPDATE threadline.audit_transactions SET actor_ref = NULL`,
		`DELETE FROM threadline.audit_actions`,
		`SELECT count(*) FROM threadline.audit_changes`,
		`SELECT threadline.current_transaction_id()`,
	} {
		denied(t, app, "app", sql)
	}

	reader := connectAs(t, db, r["reader"])
	allowed(t, reader, "reader", `SELECT count(*) FROM threadline.audit_changes`)
	allowed(t, reader, "reader", `SELECT count(*) FROM threadline.audit_actions`)
	for _, sql := range []string{
		`DELETE FROM threadline.audit_changes`,
		`UPDATE threadline.audit_changes SET op = 'delete'`,
		`TRUNCATE threadline.audit_transactions`,
		`SELECT * FROM threadline.record_action('x', NULL, NULL, 'ok', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	} {
		denied(t, reader, "reader", sql)
	}

	ops := connectAs(t, db, r["ops"])
	for _, sql := range []string{
		`UPDATE threadline.audit_changes SET op = 'delete'`,
		`TRUNCATE threadline.audit_changes`,
		`INSERT INTO threadline.audit_actions (name) VALUES ('forged')`,
		`DELETE FROM threadline.audit_actions`,
		// The retention role only expires, through the purge functions.
		`DELETE FROM threadline.audit_changes WHERE op = 'truncate'`,
		`DELETE FROM threadline.audit_transactions`,
	} {
		denied(t, ops, "ops", sql)
	}

	got := capturetest.Changes(t, db)
	var ops2 []string
	for _, c := range got {
		ops2 = append(ops2, c.Op)
	}
	if strings.Join(ops2, ",") != "insert,update,truncate" {
		t.Errorf("changes after the retention role's attempts: %v", ops2)
	}
	var action string
	if err := db.Pool.QueryRow(ctx, `SELECT a.name FROM threadline.audit_transactions t JOIN threadline.audit_actions a ON a.id = t.action_id`).Scan(&action); err != nil || action != "account.open" {
		t.Errorf("linked action = %q, %v", action, err)
	}
}
