package generator_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/contract"
)

const usersDDL = `
CREATE TABLE users (
    id integer PRIMARY KEY,
    email text,
    password_hash text,
    name text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z'
);`

const usersTables = `  users:
    exclude: [password_hash]
    mask: [email]
    store_changed_from: true
    except_columns: [updated_at]
`

func exec(t *testing.T, db *pgtest.DB, sqls ...string) {
	t.Helper()
	for _, s := range sqls {
		db.Exec(t, s)
	}
}

// inTx runs statements in one transaction with the given actor setting.
func inTx(t *testing.T, db *pgtest.DB, actor string, sqls ...string) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if actor != "" {
		if _, err := tx.Exec(ctx, "SELECT set_config('threadline.actor_ref', $1, true), set_config('threadline.attribution_tx', "+contract.TxStartSQL+", true)", actor); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range sqls {
		if _, err := tx.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func assertChanges(t *testing.T, got []capturetest.Change, want []capturetest.Change) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d changes, want %d:\n%s", len(got), len(want), dump(got))
	}
	for i := range want {
		w := want[i]
		g := got[i]
		if w.TransactionID == 0 {
			g.TransactionID = 0
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("change %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func dump(cs []capturetest.Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%+v\n", c)
	}
	return b.String()
}

// forEachMode runs a capture test once per capture mode: the observable
// rows must not depend on the triggers that wrote them.
func forEachMode(t *testing.T, test func(t *testing.T, mode contract.Mode)) {
	for _, mode := range []contract.Mode{contract.ModeStatement, contract.ModeRow} {
		t.Run(string(mode), func(t *testing.T) { test(t, mode) })
	}
}

func TestCaptureInsertUpdateDelete(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode contract.Mode) {
		db := capturetest.SetupMode(t, mode, usersDDL, usersTables)
		inTx(t, db, `{"type":"user","id":"u-1"}`,
			`INSERT INTO users (id, email, password_hash, name) VALUES (1, 'ann@example.com', 'SECRET-HASH-1', 'Ann'), (2, NULL, 'SECRET-HASH-2', 'Bob')`)
		exec(t, db,
			`UPDATE users SET updated_at = '2026-02-01T00:00:00Z'`,          // except column only: no row
			`UPDATE users SET name = name`,                                  // no-op: no row
			`UPDATE users SET password_hash = 'SECRET-HASH-3' WHERE id = 1`, // excluded only: the fact, no value
			`UPDATE users SET password_hash = 'SECRET-HASH-3' WHERE id = 1`, // same value: no row
			`UPDATE users SET name = 'Bobby', email = 'bob@example.com' WHERE id = 2`,
			`DELETE FROM users WHERE id = 1`,
		)
		assertChanges(t, capturetest.Changes(t, db), []capturetest.Change{
			{Schema: "public", Table: "users", PK: `{"id": 1}`, Op: "insert",
				After: `{"id": 1, "name": "Ann", "email": "[REDACTED]", "updated_at": "2026-01-01T00:00:00+00:00"}`},
			{Schema: "public", Table: "users", PK: `{"id": 2}`, Op: "insert",
				After: `{"id": 2, "name": "Bob", "email": null, "updated_at": "2026-01-01T00:00:00+00:00"}`},
			{Schema: "public", Table: "users", PK: `{"id": 1}`, Op: "update",
				After:         `{"id": 1, "name": "Ann", "email": "[REDACTED]", "updated_at": "2026-02-01T00:00:00+00:00"}`,
				ChangedFields: []string{"password_hash"}},
			{Schema: "public", Table: "users", PK: `{"id": 2}`, Op: "update",
				After:         `{"id": 2, "name": "Bobby", "email": "[REDACTED]", "updated_at": "2026-02-01T00:00:00+00:00"}`,
				ChangedFields: []string{"email", "name"}, ChangedFrom: `{"name": "Bob", "email": null}`},
			{Schema: "public", Table: "users", PK: `{"id": 1}`, Op: "delete",
				Before: `{"id": 1, "name": "Ann", "email": "[REDACTED]", "updated_at": "2026-02-01T00:00:00+00:00"}`},
		})
		// One header for the attributed transaction, one per autocommit write
		// that changed something (two updates, a delete); none for the no-op
		// updates.
		if n := capturetest.Count(t, db, "audit_transactions"); n != 4 {
			t.Errorf("audit_transactions = %d, want 4", n)
		}
		var actor string
		if err := db.Pool.QueryRow(context.Background(),
			`SELECT actor_ref::text FROM threadline.audit_transactions ORDER BY id LIMIT 1`).Scan(&actor); err != nil {
			t.Fatal(err)
		}
		if actor != `{"id": "u-1", "type": "user"}` {
			t.Errorf("actor_ref = %s", actor)
		}
	})
}

func TestCaptureExcludedValueNeverStored(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode contract.Mode) {
		db := capturetest.SetupMode(t, mode, usersDDL, usersTables)
		const marker = "MARKER-7f3a9c-never-store"
		exec(t, db,
			`INSERT INTO users (id, email, password_hash, name) VALUES (1, 'a@b', '`+marker+`', 'A')`,
			`UPDATE users SET password_hash = '`+marker+`2', name = 'B'`,
			`DELETE FROM users`,
		)
		if n := capturetest.Count(t, db, "audit_changes"); n != 3 {
			t.Fatalf("audit_changes = %d, want 3", n)
		}
		for _, table := range []string{"audit_changes", "audit_transactions", "audit_actions"} {
			var hits int
			err := db.Pool.QueryRow(context.Background(),
				fmt.Sprintf(`SELECT count(*) FROM threadline.%s t WHERE t::text LIKE '%%MARKER-7f3a9c%%' OR t::text LIKE '%%a@b%%'`, table)).Scan(&hits)
			if err != nil {
				t.Fatal(err)
			}
			if hits != 0 {
				t.Errorf("%s: %d rows hold the excluded or masked value", table, hits)
			}
		}
	})
}

func TestCaptureTruncateCopyAndBulk(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode contract.Mode) {
		db := capturetest.SetupMode(t, mode, usersDDL, "  users: {}\n")
		ctx := context.Background()
		n, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "name"},
			pgx.CopyFromRows([][]any{{int32(1), "a"}, {int32(2), "b"}, {int32(3), "c"}}))
		if err != nil || n != 3 {
			t.Fatalf("copy: %d %v", n, err)
		}
		exec(t, db,
			`INSERT INTO users (id, name) SELECT g, 'n' || g FROM generate_series(10, 1009) g`,
			`UPDATE users SET name = name || '!' WHERE id >= 10`,
			`TRUNCATE users`,
		)
		var ops []string
		rows, err := db.Pool.Query(ctx, `SELECT op || ':' || count(*) FROM threadline.audit_changes GROUP BY op ORDER BY op`)
		if err != nil {
			t.Fatal(err)
		}
		ops, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"insert:1003", "truncate:1", "update:1000"}; !reflect.DeepEqual(ops, want) {
			t.Errorf("ops = %v, want %v", ops, want)
		}
		var bad int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM threadline.audit_changes
		WHERE op = 'update' AND data_after->>'name' <> 'n' || (table_pk->>'id') || '!'`).Scan(&bad); err != nil {
			t.Fatal(err)
		}
		if bad != 0 {
			t.Errorf("%d bulk update rows paired with the wrong key", bad)
		}
		last := capturetest.Changes(t, db)
		if tr := last[len(last)-1]; tr.Op != "truncate" || tr.PK != "" || tr.After != "" || tr.Table != "users" {
			t.Errorf("truncate change = %+v", tr)
		}
	})
}

func TestCapturePrimaryKeyUpdates(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode contract.Mode) {
		// A deferrable key lets one statement swap two keys.
		db := capturetest.SetupMode(t, mode, `CREATE TABLE t (id integer PRIMARY KEY DEFERRABLE, v text)`, "  t: {}\n")
		exec(t, db,
			`INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')`,
			`UPDATE t SET id = id + 10`,                                             // every key changes; new keys collide with no old key
			`UPDATE t SET id = CASE id WHEN 11 THEN 12 WHEN 12 THEN 11 ELSE id END`, // swap: pairing by key would be wrong
		)
		var got []string
		for _, c := range capturetest.Changes(t, db)[3:] {
			got = append(got, c.PKBefore+" -> "+c.PK+" "+c.After+" "+strings.Join(c.ChangedFields, ","))
		}
		want := []string{
			`{"id": 1} -> {"id": 11} {"v": "one", "id": 11} id`,
			`{"id": 2} -> {"id": 12} {"v": "two", "id": 12} id`,
			`{"id": 3} -> {"id": 13} {"v": "three", "id": 13} id`,
			`{"id": 11} -> {"id": 12} {"v": "one", "id": 12} id`,
			`{"id": 12} -> {"id": 11} {"v": "two", "id": 11} id`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("pk updates:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestCaptureSavepointRollback(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode contract.Mode) {
		db := capturetest.SetupMode(t, mode, `CREATE TABLE t (id integer PRIMARY KEY, v text)`, "  t: {}\n")
		ctx := context.Background()
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{
			`SAVEPOINT a`,
			`INSERT INTO t VALUES (1, 'rolled back')`, // writes the transaction header inside the savepoint
			`ROLLBACK TO SAVEPOINT a`,
			`INSERT INTO t VALUES (2, 'kept')`,
			`SAVEPOINT b`,
			`UPDATE t SET v = 'also rolled back'`,
			`ROLLBACK TO SAVEPOINT b`,
			`UPDATE t SET v = 'kept too'`,
		} {
			if _, err := tx.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		tx2, _ := db.Pool.Begin(ctx)
		tx2.Exec(ctx, `INSERT INTO t VALUES (3, 'never')`)
		tx2.Rollback(ctx)

		got := capturetest.Changes(t, db)
		if len(got) != 2 || got[0].After != `{"v": "kept", "id": 2}` || got[1].After != `{"v": "kept too", "id": 2}` {
			t.Fatalf("changes:\n%s", dump(got))
		}
		if got[0].TransactionID != got[1].TransactionID {
			t.Errorf("one transaction's changes got two headers: %d, %d", got[0].TransactionID, got[1].TransactionID)
		}
		var headers int
		db.Pool.QueryRow(ctx, `SELECT count(*) FROM threadline.audit_transactions WHERE id = $1`, got[0].TransactionID).Scan(&headers)
		if headers != 1 || capturetest.Count(t, db, "audit_transactions") != 1 {
			t.Errorf("headers: linked=%d total=%d, want 1 and 1", headers, capturetest.Count(t, db, "audit_transactions"))
		}
	})
}

func TestCaptureCompositeKeyAndPartitions(t *testing.T) {
	ddl := `
CREATE TABLE memberships (org_id integer, user_id bigint, role text, PRIMARY KEY (user_id, org_id));
CREATE TABLE events (id bigint, at date NOT NULL, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');`
	db := capturetest.Setup(t, ddl, "  memberships: {}\n  events: {}\n")
	exec(t, db,
		`INSERT INTO memberships VALUES (7, 42, 'admin')`,
		`UPDATE memberships SET role = 'owner'`,
		`INSERT INTO events VALUES (1, '2026-05-01', 'via parent')`,
		`INSERT INTO events_2027 VALUES (2, '2027-05-01', 'via partition')`,
		`UPDATE events SET at = '2027-06-01' WHERE id = 1`, // moves between partitions
		`TRUNCATE events_2026`,
		`CREATE TABLE events_2028 PARTITION OF events FOR VALUES FROM ('2028-01-01') TO ('2029-01-01')`,
		`INSERT INTO events_2028 VALUES (3, '2028-01-01', 'new partition')`,
	)
	var got []string
	for _, c := range capturetest.Changes(t, db) {
		got = append(got, c.Table+" "+c.Op+" "+c.PK+" "+c.PKBefore+" "+strings.Join(c.ChangedFields, ","))
	}
	want := []string{
		`memberships insert {"org_id": 7, "user_id": 42}  `,
		`memberships update {"org_id": 7, "user_id": 42}  role`,
		`events insert {"at": "2026-05-01", "id": 1}  `,
		`events insert {"at": "2027-05-01", "id": 2}  `,
		// PostgreSQL runs a cross-partition UPDATE as a DELETE from the old
		// partition and an INSERT into the new one, and fires row triggers
		// accordingly: both keys are visible, in one transaction.
		`events delete {"at": "2026-05-01", "id": 1}  `,
		`events insert {"at": "2027-06-01", "id": 1}  `,
		`events truncate   `,
		`events insert {"at": "2028-01-01", "id": 3}  `,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCaptureActorSettings(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode contract.Mode) {
		db := capturetest.SetupMode(t, mode, `CREATE TABLE t (id integer PRIMARY KEY)`, "  t: {}\n")
		cases := []struct {
			raw, actor, invalid string
		}{
			{`{"type":"user","id":"42"}`, `{"id": "42", "type": "user"}`, ""},
			{`{"type":"anonymous"}`, `{"type": "anonymous"}`, ""},
			{`{ "id": "job-9", "type": "job" }`, `{"id": "job-9", "type": "job"}`, ""}, // valid, not canonical
			{`not json`, "", `not json`},
			{`{"type":"user"}`, "", `{"type":"user"}`},                     // missing id
			{`{"type":"user","id":"  "}`, "", `{"type":"user","id":"  "}`}, // blank id
			{`{"type":"root","id":"x"}`, "", `{"type":"root","id":"x"}`},   // unknown kind
			{`{"type":"anonymous","id":"x"}`, "", `{"type":"anonymous","id":"x"}`},
			{`{"type":"user","id":"a\u0000"}`, "", `{"type":"user","id":"a\u0000"}`}, // jsonb rejects NUL
			{`[1,2]`, "", `[1,2]`},
			{strings.Repeat("x", 10000), "", strings.Repeat("x", 4096)}, // oversized: kept truncated
		}
		for i, c := range cases {
			inTx(t, db, c.raw, fmt.Sprintf(`INSERT INTO t VALUES (%d)`, i))
		}
		rows, err := db.Pool.Query(context.Background(),
			`SELECT coalesce(actor_ref::text, ''), coalesce(actor_ref_invalid, '') FROM threadline.audit_transactions ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		type pair struct{ actor, invalid string }
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pair, error) {
			var p pair
			return p, r.Scan(&p.actor, &p.invalid)
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(cases) {
			t.Fatalf("%d headers, want %d", len(got), len(cases))
		}
		for i, c := range cases {
			if got[i].actor != c.actor || got[i].invalid != c.invalid {
				t.Errorf("case %d %.40q: actor=%q invalid=%.40q", i, c.raw, got[i].actor, got[i].invalid)
			}
		}
	})
}

func TestCaptureIgnoresHostileSearchPath(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode contract.Mode) {
		db := capturetest.SetupMode(t, mode, `CREATE TABLE t (id integer PRIMARY KEY, v text)`, "  t: {}\n")
		exec(t, db,
			`CREATE SCHEMA evil`,
			`CREATE FUNCTION evil.to_jsonb(anyelement) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"evil": true}'::jsonb $$`,
			`CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '1999-01-01'::timestamptz $$`,
			`CREATE TABLE evil.audit_changes (LIKE threadline.audit_changes)`,
		)
		inTxPath(t, db, `evil, pg_catalog, public`, `INSERT INTO public.t VALUES (1, 'x')`)
		got := capturetest.Changes(t, db)
		if len(got) != 1 || got[0].After != `{"v": "x", "id": 1}` {
			t.Fatalf("changes: %s", dump(got))
		}
		var early int
		db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM threadline.audit_changes WHERE captured_at < '2000-01-01'`).Scan(&early)
		if early != 0 {
			t.Error("capture called a function from the session's search_path")
		}
	})
}

func inTxPath(t *testing.T, db *pgtest.DB, path string, sqls ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT set_config('search_path', $1, false)", path); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "RESET search_path")
	for _, s := range sqls {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestCaptureTypes(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode contract.Mode) {
		ddl := `
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE TABLE things (
    id uuid PRIMARY KEY,
    n positive,
    m mood,
    tags text[],
    moods mood[],
    blob bytea,
    doc json,
    big numeric(30, 10),
    at timestamp,
    doubled integer GENERATED ALWAYS AS (n * 2) STORED
);`
		db := capturetest.SetupMode(t, mode, ddl, "  things: {}\n")
		exec(t, db,
			`INSERT INTO things (id, n, m, tags, moods, blob, doc, big, at) VALUES
		 ('6f1b0c1e-0000-4000-8000-000000000001', 3, 'happy', '{a,"b c"}', '{sad,happy}', '\x00ff', '{"k": [1, 2]}',
		  12345678901234567890.0123456789, '2026-03-04 05:06:07')`,
			`UPDATE things SET doc = '{"k": [1, 2, 3]}'`, // json has no equality operator: compared as JSON
			`UPDATE things SET doc = '{"k": [1, 2, 3]}'`, // same value: no change
		)
		got := capturetest.Changes(t, db)
		if len(got) != 2 {
			t.Fatalf("changes:\n%s", dump(got))
		}
		wantAfter := `{"m": "happy", "n": 3, "at": "2026-03-04T05:06:07", "id": "6f1b0c1e-0000-4000-8000-000000000001", "big": 12345678901234567890.0123456789, "doc": {"k": [1, 2]}, "blob": "\\x00ff", "tags": ["a", "b c"], "moods": ["sad", "happy"], "doubled": 6}`
		if got[0].After != wantAfter {
			t.Errorf("after:\n got %s\nwant %s", got[0].After, wantAfter)
		}
		if got[0].PK != `{"id": "6f1b0c1e-0000-4000-8000-000000000001"}` {
			t.Errorf("pk = %s", got[0].PK)
		}
		if !reflect.DeepEqual(got[1].ChangedFields, []string{"doc"}) {
			t.Errorf("changed = %v", got[1].ChangedFields)
		}
	})
}

func TestCaptureUpsert(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode contract.Mode) {
		db := capturetest.SetupMode(t, mode, `CREATE TABLE t (id integer PRIMARY KEY, v text)`, "  t: {}\n")
		exec(t, db,
			`INSERT INTO t VALUES (1, 'a')`,
			`INSERT INTO t VALUES (1, 'b'), (2, 'c') ON CONFLICT (id) DO UPDATE SET v = excluded.v`,
		)
		var got []string
		for _, c := range capturetest.Changes(t, db) {
			got = append(got, c.Op+" "+c.After)
		}
		// PostgreSQL fires the statement's AFTER UPDATE trigger before its
		// AFTER INSERT trigger.
		want := []string{`insert {"v": "a", "id": 1}`, `update {"v": "b", "id": 1}`, `insert {"v": "c", "id": 2}`}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("got:\n%s", strings.Join(got, "\n"))
		}
	})
}

func TestCapturePartitionedTruncateOnce(t *testing.T) {
	ddl := `
CREATE TABLE events (id bigint, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE TABLE other (id int PRIMARY KEY);`
	db := capturetest.Setup(t, ddl, "  events: {}\n  other: {}\n")
	// One message holding several statements (one transaction): each
	// TRUNCATE counts alone, except a partition's TRUNCATE right after the
	// table's, when nothing was written in between: the partition is
	// already empty and the table's truncate accounts for it.
	exec(t, db,
		`TRUNCATE events`,
		`TRUNCATE events_2027; TRUNCATE events, other; TRUNCATE events_2026`,
		`INSERT INTO events VALUES (1, '2026-03-01'); TRUNCATE events; INSERT INTO events VALUES (2, '2026-03-01'); TRUNCATE events_2026`,
	)
	var got []string
	for _, c := range capturetest.Changes(t, db) {
		got = append(got, c.Table+" "+c.Op)
	}
	want := []string{"events truncate", "events truncate", "events truncate", "other truncate",
		"events insert", "events truncate", "events insert", "events truncate"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %v, want %v", got, want)
	}
}
