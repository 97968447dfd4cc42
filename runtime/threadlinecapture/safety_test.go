package threadlinecapture

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/walcheck"
)

func findings(t *testing.T, db *testDB, slot string, maxRetained int64) map[string]walcheck.Finding {
	t.Helper()
	out := map[string]walcheck.Finding{}
	for _, f := range walcheck.Check(context.Background(), db.pool, walcheck.CheckOptions{AuditSchema: "threadline", Slot: slot, Publication: "threadline", MaxRetained: maxRetained}) {
		out[f.Check] = f
	}
	return out
}

// TestDoctorWAL: the checks threadline doctor runs for engine: wal report
// a missing slot, a consumer that is down, WAL retained past the limit, a
// partition without FULL replica identity, and pass when all is well.
func TestDoctorWAL(t *testing.T) {
	db := newDB(t, "wal", parityDDL, parityTables)
	f := findings(t, db, "doc", 0)
	if f["wal level"].OK != true || f["slot"].OK || !strings.Contains(f["slot"].Msg, "does not exist") {
		t.Fatalf("before the slot: %+v", f)
	}
	if !f["publication"].OK || !f["replica identity"].OK {
		t.Fatalf("publication and identity after install: %+v", f)
	}
	createSlot(t, db, "doc")
	waitStreaming(t, startConsumer(t, db, "doc"))
	db.exec(t, `INSERT INTO notes VALUES (1, 'x')`)
	waitCaughtUp(t, db, "doc", 30*time.Second)
	f = findings(t, db, "doc", 0)
	for _, k := range []string{"wal level", "slot", "consumer", "retained wal", "publication", "replica identity"} {
		if !f[k].OK {
			t.Errorf("%s: %s", k, f[k].Msg)
		}
	}
	// A retained-WAL limit of one byte fails; a new partition lacks FULL.
	db.exec(t, `CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')`)
	f = findings(t, db, "doc", 1)
	if f["retained wal"].OK {
		t.Errorf("retained wal with a 1-byte limit: %s", f["retained wal"].Msg)
	}
	if f["replica identity"].OK || !strings.Contains(f["replica identity"].Msg, "events_2027") {
		t.Errorf("replica identity with a new partition: %s", f["replica identity"].Msg)
	}
}

// TestDoctorConsumerDown: with the slot and no consumer, doctor says the
// consumer is down; with the slot dropped after a batch was written, it
// says the trail has a gap; the consumer started again creates a new slot
// and records the gap in audit_wal_gaps, which doctor then reports.
func TestDoctorConsumerDown(t *testing.T) {
	db := newDB(t, "wal", parityDDL, parityTables)
	createSlot(t, db, "down")
	f := findings(t, db, "down", 0)
	if f["consumer"].OK || !strings.Contains(f["consumer"].Msg, "down") {
		t.Fatalf("consumer: %+v", f["consumer"])
	}
	db.exec(t, `INSERT INTO threadline.audit_wal_progress (slot, lsn) VALUES ('down', '0/1')`)
	db.exec(t, `SELECT pg_drop_replication_slot('down')`)
	f = findings(t, db, "down", 0)
	if f["slot"].OK || !strings.Contains(f["slot"].Msg, "gap") {
		t.Fatalf("slot after drop: %+v", f["slot"])
	}
	// The consumer started again creates a new slot and records the gap.
	waitStreaming(t, startConsumer(t, db, "down"))
	f = findings(t, db, "down", 0)
	if !f["slot"].OK || f["gaps"].OK || !strings.Contains(f["gaps"].Msg, "1 gap(s) recorded") {
		t.Fatalf("after the slot was recreated: slot %+v, gaps %+v", f["slot"], f["gaps"])
	}
	var after, until string
	if err := db.pool.QueryRow(context.Background(), `SELECT after_lsn::text, until_lsn::text FROM threadline.audit_wal_gaps`).Scan(&after, &until); err != nil || after != "0/1" {
		t.Fatalf("gap: %s..%s, %v", after, until, err)
	}
}

// trailAttacks are the statements no role but the owner (and the
// consumer's) may run against engine: wal's trail, slot and capture
// settings.
var trailAttacks = []string{
	`INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, op, captured_at) VALUES (1, 'public', 'notes', 'insert', now())`,
	`INSERT INTO threadline.audit_transactions (txid, started_at) VALUES ('1', now())`,
	`DELETE FROM threadline.audit_changes`,
	// A position ahead would make the consumer skip what comes before it.
	`UPDATE threadline.audit_wal_progress SET lsn = '0/0'`,
	`INSERT INTO threadline.audit_wal_progress (slot, lsn) VALUES ('safe', 'FFFFFFFF/0')`,
	`SELECT pg_drop_replication_slot('safe')`,
	`SELECT pg_replication_slot_advance('safe', pg_current_wal_lsn())`,
	`SELECT * FROM pg_logical_slot_get_changes('safe', NULL, NULL)`,
	`ALTER PUBLICATION threadline DROP TABLE notes`,
	// An action reaches the consumer only as record_action's insert.
	`INSERT INTO threadline.audit_actions (name) VALUES ('forged')`,
	`ALTER PUBLICATION threadline DROP TABLE threadline.audit_actions`,
	`ALTER TABLE notes REPLICA IDENTITY DEFAULT`,
	// What the consumer applies (exclude, mask), and the gaps.
	`UPDATE threadline.audit_wal_tables SET capture = '{}'`,
	`DELETE FROM threadline.audit_wal_tables`,
	`DELETE FROM threadline.audit_wal_gaps`,
	`SELECT pg_create_logical_replication_slot('evil', 'pgoutput')`,
	`CREATE PUBLICATION evil FOR TABLE notes`,
}

// TestRolesCannotReachTrailOrSlot: with the install applied, and the
// consumer run, by a non-superuser owner (LOGIN REPLICATION, owning the
// application's tables), an application role of privileges.writer_roles
// can attribute its writes and is captured, but can neither write nor
// read the trail, change what the consumer applies, hide a gap, nor
// drop, advance, create or stream a slot; neither can a reader role nor
// a retention role, which may read the trail.
func TestRolesCannotReachTrailOrSlot(t *testing.T) {
	roles := pgtest.RolesOn(t, cluster.URL, "owner REPLICATION", "app", "reader", "janitor")
	owner, app, reader, janitor := roles["owner"], roles["app"], roles["reader"], roles["janitor"]
	db := newDB(t, "wal", "", "")
	ctx := context.Background()
	db.exec(t, `GRANT CREATE ON DATABASE `+pgx.Identifier{db.name}.Sanitize()+` TO `+owner+`; GRANT CREATE ON SCHEMA public TO `+owner)
	asOwner := connectAs(t, db, owner)
	ownerExec := func(sql string) {
		t.Helper()
		if _, err := asOwner.Exec(ctx, sql); err != nil {
			t.Fatalf("as the owner: %v\n%s", err, sql)
		}
	}
	ownerExec(parityDDL)
	ownerExec(`GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO ` + app)
	privileges := "retention:\n  enabled: true\n  keep_days: 1\nprivileges:\n  writer_roles: [" + app + "]\n  reader_roles: [" + reader + "]\n  retention_roles: [" + janitor + "]\n"
	ownerExec(generate(t, db.pool, "wal", privileges, parityTables))
	ownerExec(`SELECT pg_create_logical_replication_slot('safe', 'pgoutput')`)
	waitStreaming(t, startConsumerWith(t, Config{SourceURL: roleURL(t, db, owner), Slot: "safe"}))
	// A gap for the attackers to try to hide.
	ownerExec(`INSERT INTO threadline.audit_wal_gaps (slot, after_lsn, until_lsn) VALUES ('safe', '0/1', '0/2')`)
	appConn := connectAs(t, db, app)
	if err := pgx.BeginFunc(ctx, appConn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT threadline.attribute('{"type":"user","id":"app"}')`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO notes VALUES (7, 'by the app')`)
		return err
	}); err != nil {
		t.Fatalf("the application's attributed write: %v", err)
	}
	for role, attacks := range map[string][]string{
		app:     append([]string{`SELECT * FROM threadline.audit_changes`, `SELECT * FROM threadline.audit_wal_gaps`}, trailAttacks...),
		reader:  trailAttacks,
		janitor: trailAttacks,
	} {
		conn := connectAs(t, db, role)
		for _, stmt := range attacks {
			if _, err := conn.Exec(ctx, stmt); err == nil {
				t.Errorf("%s could run: %s", role, stmt)
			} else if pe, ok := err.(*pgconn.PgError); !ok || (pe.Code != "42501" && pe.Code != "55006") {
				t.Errorf("%s: %s: want a permission error, got %v", role, stmt, err)
			}
		}
		// No replication connection.
		cfg, err := pgconn.ParseConfig(roleURL(t, db, role))
		if err != nil {
			t.Fatal(err)
		}
		cfg.RuntimeParams["replication"] = "database"
		if c, err := pgconn.ConnectConfig(ctx, cfg); err == nil {
			c.Close(ctx)
			t.Errorf("%s opened a replication connection", role)
		}
	}
	waitCaughtUp(t, db, "safe", 30*time.Second)
	var actor string
	if err := db.pool.QueryRow(ctx, `SELECT h.actor_ref->>'id' FROM threadline.audit_changes AS c JOIN threadline.audit_transactions AS h ON h.id = c.transaction_id WHERE c.table_pk = '{"id": 7}'`).Scan(&actor); err != nil || actor != "app" {
		t.Fatalf("the application's write in the trail: actor %q, %v", actor, err)
	}
	// The readers read the trail and its gaps.
	for _, role := range []string{reader, janitor} {
		var n int
		if err := connectAs(t, db, role).QueryRow(ctx, `SELECT (SELECT count(*) FROM threadline.audit_changes WHERE table_pk = '{"id": 7}') + (SELECT count(*) FROM threadline.audit_wal_gaps)`).Scan(&n); err != nil || n != 2 {
			t.Errorf("%s reads %d of the change and the gap, %v; want 2", role, n, err)
		}
	}
}
