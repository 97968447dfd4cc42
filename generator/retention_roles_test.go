package generator_test

// The retention role only expires (SPEC §5a, issue 23 finding 1), and no
// reader or retention run queues the application's audited writes
// (finding 8): tested as the retention role (janitor) and the reader
// (auditor) against an install applied by the non-superuser owner.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

const dailyStorage = "storage:\n  partitions: daily\n  premake: 1\n"

// refused asserts that sql fails with SQLSTATE code.
func refused(t *testing.T, c *pgx.Conn, who, sql, code string) {
	t.Helper()
	_, err := c.Exec(context.Background(), sql)
	if sqlState(err) != code {
		t.Errorf("%s: %s: err = %v, want SQLSTATE %s", who, sql, err, code)
	}
}

// appWrite writes one audited row as the application, bounded by a
// timeout: a write queued behind a lock fails the test instead of hanging.
func (in *integrity) appWrite(t *testing.T, app *pgx.Conn, id int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := threadline.InTx(ctx, app, threadline.TxOptions{}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO users (id, name) VALUES ($1, 'w')", id)
		return err
	})
	if err != nil {
		t.Fatalf("audited write %d: %v", id, err)
	}
}

// TestAttackRetentionRoleCannotEraseFreshHistory: the retention role can
// neither delete, truncate nor lock an audit table, nor make the purge
// functions delete anything inside the retention window: a NULL or young
// cutoff is refused when a purge begins, and a purge record with a young
// cutoff (written by someone else) is refused by every batch function.
func TestAttackRetentionRoleCannotEraseFreshHistory(t *testing.T) {
	in := newIntegrity(t)
	app := in.as(t, "app")
	in.appWrite(t, app, 1)
	before := in.auditCounts(t)
	janitor := in.as(t, "janitor")
	for _, sql := range []string{
		`DELETE FROM threadline.audit_changes`,
		`DELETE FROM threadline.audit_transactions`,
		`TRUNCATE threadline.audit_changes`,
		`TRUNCATE threadline.audit_transactions`,
		`BEGIN; LOCK TABLE threadline.audit_changes IN ACCESS EXCLUSIVE MODE; COMMIT`,
		`BEGIN; LOCK TABLE threadline.audit_purge_lock IN EXCLUSIVE MODE; COMMIT`,
		`INSERT INTO threadline.audit_purges (cutoff) VALUES (now() + interval '1 year')`,
	} {
		denied(t, janitor, "janitor", sql)
		janitor.Exec(context.Background(), "ROLLBACK")
	}
	refused(t, janitor, "janitor", `SELECT threadline.begin_purge(NULL)`, "22004")
	refused(t, janitor, "janitor", `SELECT threadline.begin_purge(now())`, "22023")
	refused(t, janitor, "janitor", `SELECT threadline.begin_purge(now() + interval '1 year')`, "22023")
	refused(t, janitor, "janitor", `SELECT threadline.begin_purge(now() - interval '23 hours')`, "22023")
	// A record the janitor could not have written (as if by the owner, or
	// under a shorter window since) does not let it delete young data.
	in.db.Exec(t, `INSERT INTO threadline.audit_purges (cutoff) VALUES (now() + interval '1 year')`)
	young := fmt.Sprint(in.superInt(t, `SELECT max(id) FROM threadline.audit_purges`))
	refused(t, janitor, "janitor", `SELECT * FROM threadline.purge_changes(`+young+`, 0, 9223372036854775807, 1000)`, "22023")
	refused(t, janitor, "janitor", `SELECT * FROM threadline.purge_transactions(`+young+`, 0, 9223372036854775807, 1000)`, "22023")
	refused(t, janitor, "janitor", `SELECT * FROM threadline.purge_changes(987654, 0, 9223372036854775807, 1000)`, "22023")
	// An honest record deletes nothing young.
	var honest int64
	if err := janitor.QueryRow(context.Background(), `SELECT threadline.begin_purge(now() - interval '2 days')`).Scan(&honest); err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{"purge_changes", "purge_transactions"} {
		var n int64
		if err := janitor.QueryRow(context.Background(), `SELECT r_deleted FROM threadline.`+fn+`($1, 0, 9223372036854775807, 1000)`, honest).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s with an honest record: %d deleted, %v", fn, n, err)
		}
	}
	if got := in.auditCounts(t); got != before {
		t.Fatalf("audit rows %v after the attack, want %v", got, before)
	}
}

// superInt returns the integer a query returns, run as the superuser.
func (in *integrity) superInt(t *testing.T, sql string) int64 {
	t.Helper()
	var n int64
	if err := in.db.Pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAttackRetentionRoleCannotDropFreshPartitions: on partitioned
// storage, drop_partition drops nothing but expired partitions of the
// audit tables, whatever partition or purge record it is given; the
// earlier drop_partitions, which took a NULL cutoff as "everything", is
// gone.
func TestAttackRetentionRoleCannotDropFreshPartitions(t *testing.T) {
	in := newIntegrityWith(t, dailyStorage)
	ctx := context.Background()
	in.appWrite(t, in.as(t, "app"), 1)
	janitor := in.as(t, "janitor")
	today := "threadline.audit_changes_p" + time.Now().UTC().Format("20060102")
	tomorrow := "threadline.audit_changes_p" + time.Now().UTC().AddDate(0, 0, 1).Format("20060102")
	var exists bool
	if err := in.db.Pool.QueryRow(ctx, "SELECT to_regprocedure('threadline.drop_partitions(timestamptz, boolean, boolean)') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Fatalf("drop_partitions(timestamptz, boolean, boolean) still exists (%v)", err)
	}
	in.db.Exec(t, `INSERT INTO threadline.audit_purges (cutoff) VALUES (now() + interval '1 year')`)
	young := in.superInt(t, `SELECT max(id) FROM threadline.audit_purges`)
	if _, err := janitor.Exec(ctx, `SELECT threadline.drop_partition($1, $2)`, young, today); sqlState(err) != "22023" {
		t.Errorf("drop_partition with a young purge record: %v, want 22023", err)
	}
	var honest int64
	if err := janitor.QueryRow(ctx, `SELECT threadline.begin_purge(now() - interval '2 days')`).Scan(&honest); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{today, tomorrow, "threadline.audit_changes_default", "threadline.audit_transactions_default", "public.users", "threadline.audit_changes"} {
		var dropped bool
		if err := janitor.QueryRow(ctx, `SELECT threadline.drop_partition($1, $2)`, honest, part).Scan(&dropped); err != nil || dropped {
			t.Errorf("drop_partition(%s): %v, %v; want false", part, dropped, err)
		}
	}
	for _, part := range []string{today, tomorrow, "threadline.audit_changes_default", "public.users"} {
		if err := in.db.Pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", part).Scan(&exists); err != nil || !exists {
			t.Errorf("%s is gone (%v)", part, err)
		}
	}
	if n := in.superInt(t, "SELECT count(*) FROM threadline.audit_changes"); n != 1 {
		t.Fatalf("%d changes, want 1", n)
	}
}

// TestReadersAndRetentionTakeNoBlockingLock: the reader and the
// retention role can lock no table of the audit schema (partitions and
// the purge lock table included) in any mode above ACCESS SHARE.
func TestReadersAndRetentionTakeNoBlockingLock(t *testing.T) {
	in := newIntegrityWith(t, dailyStorage)
	ctx := context.Background()
	rows, err := in.db.Pool.Query(ctx, `SELECT c.oid::regclass::text FROM pg_class AS c
		WHERE c.relnamespace = 'threadline'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("audit tables: %v", tables)
	}
	modes := []string{"ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"}
	for _, role := range []string{"auditor", "janitor"} {
		c := in.as(t, role)
		for _, table := range tables {
			for _, mode := range modes {
				if mode == "ROW SHARE" {
					continue // SELECT … FOR UPDATE needs UPDATE; checked below
				}
				denied(t, c, role, "BEGIN; LOCK TABLE "+table+" IN "+mode+" MODE; COMMIT")
				c.Exec(ctx, "ROLLBACK")
			}
			denied(t, c, role, "SELECT FROM "+table+" FOR SHARE")
		}
	}
}

// TestUpgradeRevokesRetentionDeletes: an install whose retention role
// holds DELETE on the audit tables (as earlier releases granted) loses it,
// and every other write or lock-taking privilege a role other than the
// owner holds, in the update migration written when the retention window
// changes; the reader keeps SELECT.
func TestUpgradeRevokesRetentionDeletes(t *testing.T) {
	in := newIntegrity(t)
	ctx := context.Background()
	in.owner(t, "GRANT DELETE ON threadline.audit_changes, threadline.audit_transactions, threadline.audit_purge_lock TO "+in.roles["janitor"])
	in.owner(t, "GRANT TRUNCATE, REFERENCES, TRIGGER ON threadline.audit_changes TO "+in.roles["stranger"])
	in.dir.write("threadline.yaml", strings.Replace(in.config(integrityTables), "keep_days: 1", "keep_days: 2", 1))
	up := in.migrate(t)
	if !strings.Contains(up, "interval '172800 seconds'") {
		t.Fatalf("the update migration does not carry the new window:\n%.600s", up)
	}
	var grants string
	if err := in.db.Pool.QueryRow(ctx, `SELECT coalesce(string_agg(c.relname || ' ' || r.rolname || ' ' || a.privilege_type, ', ' ORDER BY 1), '')
		FROM pg_class AS c CROSS JOIN LATERAL aclexplode(c.relacl) AS a JOIN pg_roles AS r ON r.oid = a.grantee
		WHERE c.relnamespace = 'threadline'::regnamespace AND a.grantee <> c.relowner AND a.privilege_type <> 'SELECT'`).Scan(&grants); err != nil {
		t.Fatal(err)
	}
	if grants != "" {
		t.Fatalf("privileges left after the upgrade: %s", grants)
	}
	allowed(t, in.as(t, "auditor"), "auditor", `SELECT count(*) FROM threadline.audit_changes`)
	denied(t, in.as(t, "janitor"), "janitor", `DELETE FROM threadline.audit_changes`)
	refused(t, in.as(t, "janitor"), "janitor", `SELECT threadline.begin_purge(now() - interval '36 hours')`, "22023")
}

// waitForLock waits until a session of role waits for a lock, or logs
// (when not nil) show that a lock was retried.
func (in *integrity) waitForLock(t *testing.T, role string, logs *syncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); logs == nil || !strings.Contains(logs.String(), "threadline lock busy, retrying"); time.Sleep(2 * time.Millisecond) {
		if in.superInt(t, `SELECT count(*) FROM pg_stat_activity WHERE usename = '`+in.roles[role]+`' AND wait_event_type = 'Lock'`) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never waited for a lock", role)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// expiredDay puts one change and its transaction three days back into the
// default partitions, and has the retention role give them partitions of
// their own (which a purge then drops whole).
func (in *integrity) expiredDay(t *testing.T, txid int) {
	t.Helper()
	in.db.Exec(t, fmt.Sprintf(`INSERT INTO threadline.audit_transactions (txid, started_at) VALUES ('%d', now() - interval '3 days')`, txid))
	in.db.Exec(t, fmt.Sprintf(`INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
		SELECT id, 'public', 'users', '{"id": 9}', 'insert', '{"id": 9}', started_at FROM threadline.audit_transactions WHERE txid = '%d'`, txid))
	if _, err := (threadlineops.Audit{}).Maintain(context.Background(), in.pool(t, "janitor")); err != nil {
		t.Fatal(err)
	}
}

// readerHolds opens the auditor's REPEATABLE READ transaction that read
// the expired day: it holds ACCESS SHARE on audit_changes and its old
// partitions until the returned function ends it (once: defer it too, so
// that a failing test ends it before its cleanups close the pools a
// blocked purge holds).
func (in *integrity) readerHolds(t *testing.T) func() {
	t.Helper()
	ctx := context.Background()
	tx, err := in.as(t, "auditor").BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM threadline.audit_changes WHERE captured_at < now() - interval '2 days'").Scan(&n); err != nil || n == 0 {
		t.Fatalf("reader: %d old changes, %v", n, err)
	}
	var once sync.Once
	return func() { once.Do(func() { _ = tx.Commit(ctx) }) }
}

// TestPurgeBehindAReaderDoesNotQueueWriters: a reader transaction holds
// ACCESS SHARE on a partition that a purge must drop. The purge waits for
// its lock at most a short lock_timeout at a time, so the application's
// audited writes complete while it retries; it gives up with a clear error
// when the reader outlasts its lock wait, and drops the partition once the
// reader ends.
func TestPurgeBehindAReaderDoesNotQueueWriters(t *testing.T) {
	in := newIntegrityWith(t, dailyStorage)
	ctx := context.Background()
	in.expiredDay(t, 1)
	app := in.as(t, "app")
	policy := threadlineops.PurgePolicy{Enabled: true, Window: 24 * time.Hour, DeleteEmptyTransactions: true}
	ops := threadlineops.Audit{}

	end := in.readerHolds(t)
	defer end()
	// A lock wait shorter than the reader: a clear error.
	_, err := ops.Purge(ctx, in.pool(t, "janitor"), policy, threadlineops.PurgeOptions{LockWait: 300 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, threadlineops.ErrLockUnavailable) || !strings.Contains(err.Error(), "pg_stat_activity") || !strings.Contains(err.Error(), "audit_changes") {
		t.Fatalf("purge behind a reader: %v", err)
	}

	// A longer one: the writer's statements complete while it retries.
	var logs syncBuffer
	done := make(chan struct{})
	var res threadlineops.PurgeResult
	go func() {
		defer close(done)
		res, err = ops.Purge(ctx, in.pool(t, "janitor"), policy, threadlineops.PurgeOptions{
			LockWait: time.Minute, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
	}()
	in.waitForLock(t, "janitor", &logs)
	for i := range 5 {
		in.appWrite(t, app, 100+i)
	}
	select {
	case <-done:
		t.Fatalf("the purge ended while the reader held its partition: %+v %v", res, err)
	default:
	}
	if !strings.Contains(logs.String(), "threadline lock busy, retrying") {
		t.Fatalf("the purge did not retry its lock:\n%s", logs.String())
	}
	end()
	<-done
	if err != nil || len(res.Partitions) != 2 || res.DeletedChanges != 1 {
		t.Fatalf("purge after the reader ended: %+v %v", res, err)
	}
}

// TestMaintainBehindAReaderDoesNotQueueWriters: maintain must create a
// partition (ACCESS EXCLUSIVE on audit_changes) while a reader holds the
// table; the application's audited writes complete meanwhile, and
// maintain creates the partition once the reader ends.
func TestMaintainBehindAReaderDoesNotQueueWriters(t *testing.T) {
	in := newIntegrityWith(t, dailyStorage)
	ctx := context.Background()
	in.expiredDay(t, 1)
	tomorrow := "audit_changes_p" + time.Now().UTC().AddDate(0, 0, 1).Format("20060102")
	in.db.Exec(t, "DROP TABLE threadline."+tomorrow)
	app := in.as(t, "app")
	end := in.readerHolds(t)
	defer end()
	janitor := in.pool(t, "janitor")
	done := make(chan struct{})
	var acts []threadlineops.PartitionAction
	var err error
	go func() {
		defer close(done)
		acts, err = (threadlineops.Audit{}).Maintain(ctx, janitor)
	}()
	in.waitForLock(t, "janitor", nil)
	for i := range 5 {
		in.appWrite(t, app, 200+i)
	}
	select {
	case <-done:
		t.Fatalf("maintain ended while the reader held the table: %v %v", acts, err)
	default:
	}
	end()
	<-done
	if err != nil || len(acts) != 1 || acts[0].Partition != tomorrow || acts[0].Action != "created" {
		t.Fatalf("maintain after the reader ended: %v %v", acts, err)
	}
}
