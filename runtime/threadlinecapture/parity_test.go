package threadlinecapture

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/sqltemplates"
)

const parityDDL = `
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TYPE pair AS (a int, b text);
CREATE FUNCTION public.twice(x numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT x * 2';
CREATE TABLE kinds (
    id bigint PRIMARY KEY,
    i2 smallint, i4 int, f4 real, f8 double precision, num numeric, num2 numeric(10,2), b boolean,
    t text, vc varchar(10), ch char(5), by bytea, d date, ts timestamp, tstz timestamptz(3), tm time, tmtz timetz,
    iv interval, j json, jb jsonb, u uuid, ia int[], ta text[], ia2 int[][], tstza timestamptz[], ip inet, net cidr,
    mac macaddr, m mood, ma mood[], dom posint, pr pair, rng int4range, bits bit(3), vb varbit, pt point, o oid,
    c1 "char", big text,
    secret text, email text, updated_at timestamptz,
    gen_total numeric GENERATED ALWAYS AS (coalesce(num, 0) + coalesce(num2, 0)) STORED,
    gen_twice numeric(12,1) GENERATED ALWAYS AS (public.twice(i4)) STORED,
    gen_email text GENERATED ALWAYS AS (upper(email)) STORED,
    gen_secret text GENERATED ALWAYS AS ('gen ' || secret) STORED,
    gen_big int GENERATED ALWAYS AS (length(big)) STORED,
    gen_mood mood GENERATED ALWAYS AS (CASE WHEN b THEN 'happy'::mood ELSE 'sad'::mood END) STORED,
    gen_stamp timestamptz GENERATED ALWAYS AS (updated_at) STORED
);
CREATE TABLE accounts (
    org int NOT NULL,
    num int NOT NULL,
    owner text,
    balance numeric,
    PRIMARY KEY (org, num)
);
CREATE TABLE events (
    id bigint NOT NULL,
    at date NOT NULL,
    payload jsonb,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE notes (id int PRIMARY KEY, body text);
`

const parityTables = `  kinds:
    exclude: [secret, gen_secret]
    mask: [email, gen_email]
    except_columns: [updated_at, gen_stamp]
    store_changed_from: true
  accounts: {}
  events: {}
  notes: {}
`

// parityWorkload is one workload, transaction by transaction: every
// column type, composite keys, key changes, TRUNCATE, partitions (and a
// row moving between them), excluded and masked columns, no-op updates,
// TOASTed values, stored generated columns (one calling a function of
// the application's, masked, excluded, in except_columns, one of the
// TOASTed value),
// attribution (valid, invalid, none), a rolled-back savepoint, an action.
var parityWorkload = [][]string{
	{`SELECT threadline.attribute('{"type":"user","id":"u-1"}', 'req-1', 'corr-1')`,
		`INSERT INTO kinds VALUES (1, 2, 3, 1.5, 0.1, 12345678901234567890.123456789, 3.10, true,
		 'héllo "q" \ x', 'abc', 'ab', '\x00ff10', '2024-02-29', '2024-01-01 08:00:00.123456', '2024-01-01 08:00:00.123456+02',
		 '13:14:15.5', '13:14:15+05:30', '1 year 2 mons 3 days 04:05:06.5', '{"b": 1, "a": [1, 2.50], "a": 3}', '{"z": {"y": null}, "a": 1.0}',
		 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2,NULL}', '{"x y","",NULL,"q\"uote"}', '{{1,2},{3,4}}',
		 '{"2024-01-01 00:00:00+00","infinity"}', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', 'happy', '{sad,happy}',
		 7, '(1,"x y")', '[1,10)', '101', '10110', '(1.5,2)', 42, 'q', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 4000) AS g),
		 'the secret', 'a@b.c', '2024-05-05 05:05:05+00')`,
		`INSERT INTO kinds (id, f8, num, tstz, email) VALUES (2, 'NaN', 'NaN', '-infinity', NULL)`,
		`INSERT INTO kinds (id, f4, f8, num) VALUES (3, '-0', 1e300, 1.000)`,
	},
	{`SELECT threadline.attribute('{"type":"admin","id":"a-1"}')`,
		// A no-op, a change of the except column only, a change of the
		// excluded column only, a change of a masked column.
		`UPDATE kinds SET t = t WHERE id = 1`,
		`UPDATE kinds SET updated_at = '2024-06-06 06:06:06+00' WHERE id = 1`,
		`UPDATE kinds SET secret = 'another secret' WHERE id = 1`,
		`UPDATE kinds SET email = 'x@y.z', i4 = 4 WHERE id = 1`,
		// numeric 3 to 3.0: equal as jsonb, so not a change.
		`UPDATE kinds SET num = 1.0 WHERE id = 3`,
		// The TOASTed value is not touched (unchanged TOAST in the stream).
		`UPDATE kinds SET b = false WHERE id = 1`,
	},
	{`UPDATE kinds SET id = 100 WHERE id = 1`,
		`UPDATE kinds SET big = big || 'x', jb = '{"new": true}' WHERE id = 100`,
		`DELETE FROM kinds WHERE id = 2`,
	},
	{`SELECT threadline.attribute('{"type":"nobody"}', NULL, 'corr-2')`,
		`INSERT INTO accounts SELECT o, n, 'owner ' || o || '/' || n, n * 10 FROM generate_series(1, 3) AS o, generate_series(1, 4) AS n`,
		`UPDATE accounts SET balance = balance + 1 WHERE org = 2`,
		`UPDATE accounts SET num = num + 10 WHERE org = 3 AND num = 1`,
		`DELETE FROM accounts WHERE org = 1 AND num > 2`,
	},
	{`INSERT INTO events VALUES (1, '2025-06-01', '{"k": 1}'), (2, '2026-06-01', '{"k": 2}'), (3, '2026-07-01', NULL)`,
		`UPDATE events SET payload = '{"k": 22}' WHERE id = 2`,
		// Moves between partitions: a delete and an insert in both engines.
		`UPDATE events SET at = '2026-02-01' WHERE id = 1`,
	},
	{`INSERT INTO notes VALUES (1, 'one'), (2, 'two')`,
		`SAVEPOINT s`,
		`INSERT INTO notes VALUES (3, 'rolled back')`,
		`ROLLBACK TO SAVEPOINT s`,
		`UPDATE notes SET body = 'uno' WHERE id = 1`,
	},
	{`TRUNCATE notes`},
	{`TRUNCATE events`},
	{`SELECT threadline.attribute('{"type":"service_account","id":"svc"}', 'req-3')`,
		`UPDATE accounts SET owner = NULL WHERE org = 2 AND num = 1`,
		`SELECT * FROM threadline.record_action('approve', NULL, NULL, 'ok', 'approve', NULL, 'because', NULL, NULL, NULL, NULL, NULL, NULL)`,
	},
	// Only an action: a header without changes.
	{`SELECT threadline.attribute('{"type":"user","id":"u-2"}', 'req-4', 'corr-4')`,
		`SELECT * FROM threadline.record_action('export', NULL, NULL, 'error', NULL, 'reports', NULL, 'nothing changed', NULL, NULL, NULL, NULL, 'job-1')`,
	},
	// Only a no-op: no header, no change.
	{`UPDATE notes SET body = body`},
	{`INSERT INTO notes VALUES (9, 'after truncate')`},
}

// TestParity runs one workload through the trigger engine and the WAL
// engine (threadline capture) and compares the two trails change by
// change: images (every column type), keys, key changes, changed fields
// and prior values, masks and exclusions, no-op updates, TOAST,
// partitions, TRUNCATE, and each change's transaction with its actor,
// request and correlation ids and action. Stored generated columns,
// which pgoutput does not send, are computed in the source database.
func TestParity(t *testing.T) {
	testParity(t, Config{})
}

// TestParitySpilled is TestParity with every transaction of more than
// two changes staged in the audit database while it arrives
// (SpillChanges): the trail is the same.
func TestParitySpilled(t *testing.T) {
	testParity(t, Config{SpillChanges: 2})
}

func testParity(t *testing.T, cfg Config) {
	trig := newDB(t, "trigger", parityDDL, parityTables)
	wal := newDB(t, "wal", parityDDL, parityTables)
	createSlot(t, wal, "parity")
	ctx := context.Background()
	for _, db := range []*testDB{trig, wal} {
		runWorkload(t, db, parityWorkload)
	}
	// The big value is stored out of line, so the updates that do not
	// touch it send it as an unchanged TOAST value.
	var toast string
	if err := wal.pool.QueryRow(ctx, `SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'kinds'::regclass`).Scan(&toast); err != nil {
		t.Fatal(err)
	}
	var chunks int
	if err := wal.pool.QueryRow(ctx, `SELECT count(*) FROM `+toast).Scan(&chunks); err != nil || chunks == 0 {
		t.Fatalf("no out-of-line TOAST value in kinds (%d chunks, %v)", chunks, err)
	}
	cfg.SourceURL, cfg.Slot = wal.url, "parity"
	startConsumerWith(t, cfg)
	waitCaughtUp(t, wal, "parity", 30*time.Second)
	compareTrails(t, trail(t, trig.pool), trail(t, wal.pool))
	capturetestEqual(t, "actions", actionsOf(t, wal.pool), actionsOf(t, trig.pool))
	// The excluded value appears nowhere in the WAL trail.
	var leaked bool
	if err := wal.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM threadline.audit_changes AS c
		WHERE c::text LIKE '%the secret%' OR c::text LIKE '%another secret%')`).Scan(&leaked); err != nil {
		t.Fatal(err)
	}
	if leaked {
		t.Error("an excluded value reached the WAL trail")
	}
}

// runWorkload runs each transaction of w in db.
func runWorkload(t *testing.T, db *testDB, w [][]string) {
	t.Helper()
	ctx := context.Background()
	for i, stmts := range w {
		tx, err := db.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				t.Fatalf("transaction %d: %v\n%s", i, err, s)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// compareTrails reports every change that differs between two trails.
func compareTrails(t *testing.T, want, got []trailChange) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("the trigger engine captured nothing")
	}
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(got):
			t.Errorf("change %d: missing from the WAL trail:\n%s", i+1, want[i])
		case i >= len(want):
			t.Errorf("change %d: only in the WAL trail:\n%s", i+1, got[i])
		case want[i].String() != got[i].String():
			t.Errorf("change %d differs:\ntrigger: %s\nwal:     %s", i+1, short(want[i].String()), short(got[i].String()))
			diffJSON(t, "after", want[i].After, got[i].After)
			diffJSON(t, "before", want[i].Before, got[i].Before)
		}
	}
	if testing.Verbose() {
		for _, c := range got {
			t.Log(short(strings.ReplaceAll(c.String(), "\n", " ")))
		}
	}
}

// TestSeparateAuditDatabase runs the parity workload with the trail on
// another database (wal.audit_database_url): the consumer installs the
// audit schema there (AuditStore) and writes the same trail as the
// trigger engine, actions included (copied from record_action's insert in
// the stream, with their ids; a transaction that only recorded an action
// gets its header); the captured database's audit_changes stays empty.
func TestSeparateAuditDatabase(t *testing.T) {
	trig := newDB(t, "trigger", parityDDL, parityTables)
	wal := newDB(t, "wal", parityDDL, parityTables)
	// A composite type of the application's must exist where the images
	// are built (enums and domains need nothing: docs/wal-engine.md).
	store := newDB(t, "wal", "CREATE TYPE pair AS (a int, b text)", "")
	createSlot(t, wal, "separate")
	for _, db := range []*testDB{trig, wal} {
		runWorkload(t, db, parityWorkload)
	}
	install := append(sqltemplates.Install("threadline", sqltemplates.Grants{}, sqltemplates.Storage{}), sqltemplates.RevokeFunctions("threadline"))
	c := New(Config{SourceURL: wal.url, AuditURL: store.url, Slot: "separate", AuditStore: install, Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st := c.Status(); st.Err != "" {
			t.Fatalf("consumer: %s", st.Err)
		}
		var ok bool
		if err := wal.pool.QueryRow(context.Background(), `SELECT confirmed_flush_lsn >= pg_current_wal_insert_lsn() FROM pg_replication_slots WHERE slot_name = 'separate'`).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the consumer did not catch up within 30 s")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	compareTrails(t, trail(t, trig.pool), trail(t, store.pool))
	capturetestEqual(t, "actions", actionsOf(t, store.pool), actionsOf(t, trig.pool))
	// The copies are the captured database's rows, time included.
	rows := func(db *testDB) []string {
		r, err := db.pool.Query(context.Background(), `SELECT to_jsonb(a)::text FROM threadline.audit_actions AS a ORDER BY a.id`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(r, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	capturetestEqual(t, "copied actions", rows(store), rows(wal))
	var n int
	if err := wal.pool.QueryRow(context.Background(), `SELECT count(*) FROM threadline.audit_changes`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the captured database's audit_changes holds %d rows (%v)", n, err)
	}
}

// short cuts the long values of a printed change (the TOASTed one).
func short(s string) string {
	var b strings.Builder
	for _, f := range strings.SplitAfter(s, `"`) {
		if len(f) > 80 {
			f = f[:40] + "…" + f[len(f)-20:]
		}
		b.WriteString(f)
	}
	return b.String()
}

// diffJSON logs the keys whose values differ between two images.
func diffJSON(t *testing.T, what, a, b string) {
	t.Helper()
	var x, y map[string]json.RawMessage
	_ = json.Unmarshal([]byte(a), &x)
	_ = json.Unmarshal([]byte(b), &y)
	for k, v := range x {
		if w, ok := y[k]; !ok || string(w) != string(v) {
			t.Errorf("  %s.%s: trigger %s, wal %s", what, k, short(string(v)), short(string(w)))
		}
	}
	for k, w := range y {
		if _, ok := x[k]; !ok {
			t.Errorf("  %s.%s: only in wal: %s", what, k, short(string(w)))
		}
	}
}

// TestInTxWALMessage: the runtime's InTx with TxOptions.WALMessage attributes a
// transaction for engine: wal (actor, request and correlation ids, and the
// transaction's start as the header's started_at), also from the context
// (the HTTP middleware's path); a savepoint rolled back inside does not
// lose it.
func TestInTxWALMessage(t *testing.T) {
	db := newDB(t, "wal", parityDDL, parityTables)
	createSlot(t, db, "intx")
	startConsumer(t, db, "intx")
	ctx := threadline.ContextWithCorrelationID(context.Background(), "corr-ctx")
	var started time.Time
	err := threadline.InTx(ctx, db.pool, threadline.TxOptions{Actor: threadline.User("u-9"), RequestID: "req-9", WALMessage: true}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&started); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notes VALUES (1, 'one')`); err != nil {
			return err
		}
		return threadline.InTx(ctx, tx, threadline.TxOptions{}, func(tx pgx.Tx) error {
			_, _ = tx.Exec(ctx, `INSERT INTO notes VALUES (2, 'two')`)
			return errors.New("roll the savepoint back")
		})
	})
	if err == nil || !strings.Contains(err.Error(), "roll the savepoint back") {
		// The inner error is returned; the outer transaction then rolls back too.
		t.Fatalf("InTx: %v", err)
	}
	err = threadline.InTx(ctx, db.pool, threadline.TxOptions{Actor: threadline.User("u-9"), RequestID: "req-9", WALMessage: true}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&started); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO notes VALUES (3, 'three')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, db, "intx", 30*time.Second)
	var actor, req, corr string
	var at time.Time
	var n int
	if err := db.pool.QueryRow(context.Background(), `SELECT count(*), coalesce(min(h.actor_ref->>'id'), min(h.actor_ref_invalid), ''), coalesce(min(h.request_id), ''), coalesce(min(h.correlation_id), ''), min(h.started_at)
		FROM threadline.audit_changes AS c JOIN threadline.audit_transactions AS h ON h.id = c.transaction_id`).Scan(&n, &actor, &req, &corr, &at); err != nil {
		t.Fatal(err)
	}
	if n != 1 || actor != "u-9" || req != "req-9" || corr != "corr-ctx" || !at.Equal(started) {
		t.Fatalf("trail: %d changes, actor %q, request %q, correlation %q, started %s (want %s)", n, actor, req, corr, at, started)
	}
}

// actionOf is one action as compared between engines: the row, and the
// attribution and number of changes of the headers linked to it.
type actionOf struct {
	Row                         string
	Headers                     int
	Actor, Request, Correlation string
	Changes                     int
}

// actionsOf reads every action in id order (but its time). The WAL engine in the
// captured database links an action with changes to two headers (the
// one record_action wrote and the consumer's): Headers counts distinct
// attributions, so both engines read alike.
func actionsOf(t *testing.T, pool *pgxpool.Pool) []actionOf {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT (to_jsonb(a) - 'inserted_at')::text,
		    (SELECT count(DISTINCT (h.actor_ref, h.request_id, h.correlation_id)) FROM threadline.audit_transactions AS h WHERE h.action_id = a.id)::int,
		    coalesce((SELECT max(h.actor_ref::text) FROM threadline.audit_transactions AS h WHERE h.action_id = a.id), ''),
		    coalesce((SELECT max(h.request_id) FROM threadline.audit_transactions AS h WHERE h.action_id = a.id), ''),
		    coalesce((SELECT max(h.correlation_id) FROM threadline.audit_transactions AS h WHERE h.action_id = a.id), ''),
		    (SELECT count(*) FROM threadline.audit_changes AS c JOIN threadline.audit_transactions AS h ON h.id = c.transaction_id WHERE h.action_id = a.id)::int
		FROM threadline.audit_actions AS a ORDER BY a.id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (actionOf, error) {
		var a actionOf
		err := r.Scan(&a.Row, &a.Headers, &a.Actor, &a.Request, &a.Correlation, &a.Changes)
		return a, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("%d actions, want the workload's 2: %+v", len(out), out)
	}
	return out
}

// capturetestEqual fails unless got equals want.
func capturetestEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}
