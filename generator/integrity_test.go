package generator_test

// The integrity model (SPEC §5a), tested as the attacker would try it: the
// application's own role (app), after SQL injection, against an install
// applied by a non-superuser owner role. The reader (auditor) and retention
// (janitor) roles come from the privileges section; stranger is a role
// that was given nothing.

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/sqltemplates"
)

const integrityDDL = `
CREATE TABLE users (id int PRIMARY KEY, email text, password_hash text, name text);
CREATE TABLE events (id bigint, at date NOT NULL, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE TABLE notes (id int PRIMARY KEY, body text);
`

const integrityTables = `  users:
    exclude: [password_hash]
    mask: [email]
    store_changed_from: true
  events: {}
`

// integrity is an install applied by a non-superuser owner, with the
// roles of the privileges section.
type integrity struct {
	db    *pgtest.DB
	roles map[string]string // owner, app, auditor, janitor, stranger
	dir   *project
	extra string // top-level config added to config's
}

func (in *integrity) config(tables string) string {
	return "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: plain\npackage:\n  dir: audit\n" +
		"privileges:\n  writer_roles: [" + in.roles["app"] + "]\n  reader_roles: [" + in.roles["auditor"] + "]\n  retention_roles: [" + in.roles["janitor"] + "]\n" +
		"retention:\n  enabled: true\n  keep_days: 1\n" + in.extra + "tables:\n" + tables
}

func newIntegrity(t *testing.T) *integrity {
	t.Helper()
	return newIntegrityWith(t, "")
}

// newIntegrityWith is newIntegrity with extra top-level config.
func newIntegrityWith(t *testing.T, extra string) *integrity {
	t.Helper()
	in := &integrity{roles: pgtest.Roles(t, "owner", "app", "auditor", "janitor", "stranger"), extra: extra}
	in.db = pgtest.NewDB(t)
	in.db.Exec(t, "GRANT CREATE ON DATABASE "+pgx.Identifier{in.db.Name}.Sanitize()+" TO "+in.roles["owner"])
	in.db.Exec(t, "GRANT CREATE ON SCHEMA public TO "+in.roles["owner"])
	// A schema the attacker owns, for attacks outside pg_temp.
	in.db.Exec(t, "CREATE SCHEMA appown AUTHORIZATION "+in.roles["app"])
	in.owner(t, integrityDDL)
	in.owner(t, "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO "+in.roles["app"])
	in.dir = newProject(t, in.config(integrityTables), integrityDDL)
	in.migrate(t)
	return in
}

// owner runs sql as the owner role.
func (in *integrity) owner(t *testing.T, sql string) {
	t.Helper()
	if _, err := connectAs(t, in.db, in.roles["owner"]).Exec(context.Background(), sql); err != nil {
		t.Fatalf("as owner: %v\n%s", err, sql)
	}
}

// migrate generates the next migration of the project and applies its up
// file as the owner; it returns the up SQL.
func (in *integrity) migrate(t *testing.T) string {
	t.Helper()
	var up string
	for _, f := range in.dir.mustGenerate() {
		if strings.HasSuffix(f.Path, ".up.sql") {
			up = string(f.Content)
		}
	}
	if up == "" {
		t.Fatal("no migration generated")
	}
	in.owner(t, up)
	return up
}

func (in *integrity) as(t *testing.T, role string) *pgx.Conn {
	t.Helper()
	return connectAs(t, in.db, in.roles[role])
}

func (in *integrity) pool(t *testing.T, role string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(in.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = in.roles[role]
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func captureFunction(table string) string {
	return "threadline." + sqltemplates.FunctionName(schema.QualifiedName{Schema: "public", Name: table})
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// auditCounts returns the row counts of the three audit tables.
func (in *integrity) auditCounts(t *testing.T) [3]int {
	t.Helper()
	return [3]int{capturetest.Count(t, in.db, "audit_changes"), capturetest.Count(t, in.db, "audit_transactions"), capturetest.Count(t, in.db, "audit_actions")}
}

// retentionFunctions are the functions the retention roles may execute
// with plain storage (TestFunctionPrivilegeAllowList).
var retentionFunctions = map[string]bool{"lock_purge": true, "begin_purge": true, "purge_changes": true, "purge_transactions": true, "seal": true}

// TestFunctionPrivilegeAllowList lists every function in the audit schema
// and checks EXECUTE for every role against the documented allow-list
// (docs/security.md): only the writer roles may execute record_action and
// attribute, only the retention roles the purge functions and seal;
// nothing else is executable by any role but the owner. It checks after
// the install and after a delta migration that adds a capture function.
func TestFunctionPrivilegeAllowList(t *testing.T) {
	in := newIntegrity(t)
	check := func(stage string) {
		t.Helper()
		rows, err := in.db.Pool.Query(context.Background(), `
			SELECT p.oid::regprocedure::text, p.proname, coalesce(p.proacl::text, 'NULL'),
			       has_function_privilege($1, p.oid, 'EXECUTE'), has_function_privilege($2, p.oid, 'EXECUTE'),
			       has_function_privilege($3, p.oid, 'EXECUTE'), has_function_privilege($4, p.oid, 'EXECUTE')
			FROM pg_proc AS p WHERE p.pronamespace = 'threadline'::regnamespace ORDER BY 1`,
			in.roles["app"], in.roles["auditor"], in.roles["janitor"], in.roles["stranger"])
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var sig, name, acl string
			var got [4]bool
			if err := rows.Scan(&sig, &name, &acl, &got[0], &got[1], &got[2], &got[3]); err != nil {
				t.Fatal(err)
			}
			n++
			want := [4]bool{name == "record_action" || name == "attribute", false, retentionFunctions[name], false}
			if got != want {
				t.Errorf("%s: %s EXECUTE for app, auditor, janitor, stranger = %v, want %v (acl %s)", stage, sig, got, want, acl)
			}
			if acl == "NULL" || strings.Contains(acl, "{=") || strings.Contains(acl, ",=") {
				t.Errorf("%s: %s is executable by PUBLIC: acl %s", stage, sig, acl)
			}
		}
		if n < 6 {
			t.Errorf("%s: %d functions in the audit schema, want at least 6", stage, n)
		}
	}
	check("install")
	in.dir.write("threadline.yaml", in.config(integrityTables+"  notes: {}\n"))
	up := in.migrate(t)
	if !strings.Contains(up, sqltemplates.FunctionName(schema.QualifiedName{Schema: "public", Name: "notes"})) {
		t.Fatal("the delta migration does not create the notes capture function")
	}
	check("delta migration")
}

// TestAttackCaptureFunctionOnOwnTable: the application role attaches a
// capture function to a table of its own (temp, or in a schema it owns;
// row- and statement-level shapes) whose column type has a cast to json
// that runs its own code. It cannot create the trigger (no EXECUTE), nor
// one on the audited table (no TRIGGER privilege). When a grant slips
// (EXECUTE granted by mistake), the function still refuses to run for a
// table other than its own, before any value is converted: the cast never
// runs as the audit owner, and no audit row is written.
func TestAttackCaptureFunctionOnOwnTable(t *testing.T) {
	in := newIntegrity(t)
	ctx := context.Background()
	app := in.as(t, "app")
	fn := captureFunction("users")
	before := in.auditCounts(t)
	evil := func(schema string) []string {
		return []string{
			`CREATE TYPE ` + schema + `.mood AS ENUM ('happy')`,
			`CREATE FUNCTION ` + schema + `.mood_json(` + schema + `.mood) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'GRANT DELETE, UPDATE ON threadline.audit_changes TO ` + in.roles["app"] + `';
    DELETE FROM threadline.audit_changes;
    RETURN '"owned"'::json;
END $$`,
			`CREATE CAST (` + schema + `.mood AS json) WITH FUNCTION ` + schema + `.mood_json(` + schema + `.mood)`,
			`CREATE TABLE ` + schema + `.users (id int PRIMARY KEY, email text, password_hash text, name text, m ` + schema + `.mood)`,
		}
	}
	shapes := map[string]string{
		"row":       `AFTER INSERT OR UPDATE OR DELETE ON %s.users FOR EACH ROW EXECUTE FUNCTION ` + fn + `()`,
		"statement": `AFTER INSERT ON %s.users REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ` + fn + `()`,
		"truncate":  `AFTER TRUNCATE ON %s.users FOR EACH STATEMENT EXECUTE FUNCTION ` + fn + `()`,
	}
	for _, schema := range []string{"pg_temp", "appown"} {
		for _, s := range evil(schema) {
			if _, err := app.Exec(ctx, s); err != nil {
				t.Fatalf("setup as app: %v\n%s", err, s)
			}
		}
		for shape, tmpl := range shapes {
			_, err := app.Exec(ctx, "CREATE TRIGGER evil_"+shape+" "+fmt.Sprintf(tmpl, schema))
			if sqlState(err) != "42501" {
				t.Errorf("%s %s trigger with %s: err = %v, want permission denied", schema, shape, fn, err)
			}
		}
	}
	// Nor on the audited table itself.
	_, err := app.Exec(ctx, `CREATE TRIGGER evil AFTER INSERT ON public.users FOR EACH ROW EXECUTE FUNCTION `+fn+`()`)
	if sqlState(err) != "42501" {
		t.Errorf("trigger on public.users: err = %v, want permission denied", err)
	}
	denied(t, app, "app", `ALTER TABLE public.users DISABLE TRIGGER ALL`)

	// A grant slips: the function refuses to run for the attacker's tables.
	in.owner(t, "GRANT EXECUTE ON FUNCTION "+fn+"() TO "+in.roles["app"])
	for _, schema := range []string{"pg_temp", "appown"} {
		for shape, tmpl := range shapes {
			if _, err := app.Exec(ctx, "CREATE TRIGGER evil_"+shape+" "+fmt.Sprintf(tmpl, schema)); err != nil {
				t.Fatalf("with EXECUTE granted: %v", err)
			}
		}
		for _, s := range []string{
			`INSERT INTO ` + schema + `.users VALUES (1, 'a@b', 'h', 'forged', 'happy')`,
			`TRUNCATE ` + schema + `.users`,
		} {
			_, err := app.Exec(ctx, s)
			if sqlState(err) != "42501" || !strings.Contains(err.Error(), "capture function for") {
				t.Errorf("%s: err = %v, want the capture function's refusal", s, err)
			}
		}
	}
	if got := in.auditCounts(t); got != before {
		t.Errorf("audit rows %v, want %v: history was forged or deleted", got, before)
	}
	var canDelete bool
	if err := in.db.Pool.QueryRow(ctx, `SELECT has_table_privilege($1, 'threadline.audit_changes', 'DELETE')`, in.roles["app"]).Scan(&canDelete); err != nil || canDelete {
		t.Errorf("app has DELETE on audit_changes: %v, %v (the cast ran as the audit owner)", canDelete, err)
	}
}

// TestAttackRecordActionActors: record_action refuses an invalid actor in
// either actor argument and stores nothing.
func TestAttackRecordActionActors(t *testing.T) {
	in := newIntegrity(t)
	ctx := context.Background()
	app := in.as(t, "app")
	for _, actor := range []string{`{"type":"root","id":0,"superuser":true}`, `[1,2,3]`, `"admin"`, `{"type":"user","id":""}`, `{"type":"user","id":"1","x":1}`} {
		for _, arg := range []string{"p_actor", "p_ctx_actor"} {
			sql := fmt.Sprintf(`SELECT * FROM threadline.record_action('x', %s, %s, 'ok', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
				map[bool]string{true: "$1::jsonb", false: "NULL"}[arg == "p_actor"], map[bool]string{true: "$1::jsonb", false: "NULL"}[arg == "p_ctx_actor"])
			_, err := app.Exec(ctx, sql, actor)
			if sqlState(err) != "22023" {
				t.Errorf("%s %s: err = %v, want invalid_parameter_value", arg, actor, err)
			}
		}
	}
	if got := in.auditCounts(t); got != [3]int{} {
		t.Errorf("audit rows %v after refused actions", got)
	}
}

// TestAttackSeveralHeadersPerTransaction: whatever the caller does to
// threadline.transaction (clear it, point it at another transaction's
// header, plant garbage), one database transaction has exactly one header
// and at most one action, and every change points at it.
func TestAttackSeveralHeadersPerTransaction(t *testing.T) {
	in := newIntegrity(t)
	ctx := context.Background()
	app := in.as(t, "app")
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := app.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO users VALUES (1, NULL, 'h', 'first')`) // an earlier transaction's header
	var other int64
	if err := in.db.Pool.QueryRow(ctx, `SELECT max(id) FROM threadline.audit_transactions`).Scan(&other); err != nil {
		t.Fatal(err)
	}
	exec(`BEGIN`)
	exec(`SELECT threadline.attribute('{"type":"user","id":"a"}')`)
	exec(`INSERT INTO users VALUES (2, NULL, 'h', 'two')`)
	exec(`SELECT set_config('threadline.transaction', '', true)`)
	exec(`SELECT threadline.attribute('{"type":"user","id":"b"}')`)
	exec(`INSERT INTO users VALUES (3, NULL, 'h', 'three')`)
	exec(`SELECT set_config('threadline.transaction', pg_current_xact_id()::text || ':' || $1::bigint::text, true)`, other)
	exec(`UPDATE users SET name = 'three!' WHERE id = 3`)
	exec(`SELECT set_config('threadline.transaction', 'garbage', true)`)
	exec(`SELECT * FROM threadline.record_action('first', NULL, NULL, 'ok', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
	exec(`SELECT set_config('threadline.transaction', '', true)`)
	var existing *int64
	if err := app.QueryRow(ctx, `SELECT r_existing_action_id FROM threadline.record_action('second', NULL, NULL, 'ok', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`).Scan(&existing); err != nil {
		t.Fatal(err)
	}
	if existing == nil {
		t.Error("a second action was recorded in the same transaction")
	}
	exec(`COMMIT`)

	var headers, actions int
	var actor string
	if err := in.db.Pool.QueryRow(ctx, `SELECT count(*), max(actor_ref::text) FROM threadline.audit_transactions WHERE id > $1`, other).Scan(&headers, &actor); err != nil {
		t.Fatal(err)
	}
	if err := in.db.Pool.QueryRow(ctx, `SELECT count(*) FROM threadline.audit_actions`).Scan(&actions); err != nil {
		t.Fatal(err)
	}
	if headers != 1 || actions != 1 || actor != `{"id": "a", "type": "user"}` {
		t.Errorf("headers %d (actor %s), actions %d; want 1 (the first actor), 1", headers, actor, actions)
	}
	var spread int
	if err := in.db.Pool.QueryRow(ctx, `SELECT count(DISTINCT transaction_id) FROM threadline.audit_changes WHERE transaction_id > $1`, other).Scan(&spread); err != nil || spread != 1 {
		t.Errorf("the transaction's changes point at %d headers (%v), want 1", spread, err)
	}
	var otherChanges int
	if err := in.db.Pool.QueryRow(ctx, `SELECT count(*) FROM threadline.audit_changes WHERE transaction_id = $1`, other).Scan(&otherChanges); err != nil || otherChanges != 1 {
		t.Errorf("the earlier transaction has %d changes (%v), want its own 1", otherChanges, err)
	}
}

// TestAttackPlantedSettingCannotFailAWrite: values of threadline.* that a
// caller plants, transaction- or session-level (left on a pooled
// connection), never make an audited write fail.
func TestAttackPlantedSettingCannotFailAWrite(t *testing.T) {
	in := newIntegrity(t)
	ctx := context.Background()
	app := in.as(t, "app")
	planted := []string{
		`pg_current_xact_id()::text || ':x'`,
		`pg_current_xact_id()::text || ':99999999999999999999999'`,
		`pg_current_xact_id()::text || ':-1'`,
		`pg_current_xact_id()::text || ':'`,
		`':' || pg_current_xact_id()::text`,
		`pg_current_xact_id()::text || ':1:2'`,
		`repeat('9', 100000)`,
	}
	for i, value := range planted {
		for _, local := range []bool{true, false} {
			id := 100 + 2*i
			if !local {
				id++
			}
			tx, err := app.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tx.Exec(ctx, fmt.Sprintf(`SELECT set_config('threadline.transaction', %s, %v)`, value, local))
			if err == nil {
				_, err = tx.Exec(ctx, `SELECT set_config('threadline.actor_ref', repeat('{', 5000), $1)`, local)
			}
			if err == nil {
				_, err = tx.Exec(ctx, `INSERT INTO users VALUES ($1, NULL, 'h', 'x')`, id)
			}
			if err == nil {
				err = tx.Commit(ctx)
			}
			if err != nil {
				tx.Rollback(ctx)
				t.Errorf("planted %s (local %v): the write failed: %v", value, local, err)
			}
		}
	}
	// The session-level values are still set: the next write works too.
	if _, err := app.Exec(ctx, `INSERT INTO users VALUES (1, NULL, 'h', 'after')`); err != nil {
		t.Errorf("write after planted session values: %v", err)
	}
	if n := capturetest.Count(t, in.db, "audit_changes"); n != 2*len(planted)+1 {
		t.Errorf("%d changes, want %d", n, 2*len(planted)+1)
	}
}

// TestAttackTruncateIsRecorded: a TRUNCATE of an audited table or of any
// existing partition is recorded whatever the caller set; a partition
// created after generation is reported by coverage.
func TestAttackTruncateIsRecorded(t *testing.T) {
	in := newIntegrity(t)
	ctx := context.Background()
	app := in.as(t, "app")
	for _, sql := range []string{
		`INSERT INTO events VALUES (1, '2026-05-01', 'a'), (2, '2027-05-01', 'b')`,
		// The old de-duplication counter, and anything like it, is ignored.
		`SELECT set_config('threadline.skip_` + sqltemplates.FunctionName(schema.QualifiedName{Schema: "public", Name: "events"}) + `', '100', false)`,
		`TRUNCATE events_2026`,
		`TRUNCATE events_2027`,
		`INSERT INTO events VALUES (3, '2026-06-01', 'c')`,
		`TRUNCATE events`,
	} {
		if _, err := app.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var ops []string
	for _, c := range capturetest.Changes(t, in.db) {
		ops = append(ops, c.Table+" "+c.Op)
	}
	want := []string{"events insert", "events insert", "events truncate", "events truncate", "events insert", "events truncate"}
	if !slices.Equal(ops, want) {
		t.Errorf("changes %v, want %v", ops, want)
	}

	// A partition created after generation: PostgreSQL clones the row
	// trigger, not the TRUNCATE trigger. Coverage names it.
	in.owner(t, `CREATE TABLE events_2028 PARTITION OF events FOR VALUES FROM ('2028-01-01') TO ('2029-01-01')`)
	r, err := (threadlineops.Audit{}).Coverage(ctx, in.pool(t, "auditor"), map[string]string{"public.events": ""}, threadlineops.CoverageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "public.events_2028 stale") {
		t.Errorf("coverage with a new partition: %v", err)
	}
}

// TestExcludedValueNeverComputed: an excluded value too large for a jsonb
// string (over 256 MiB) does not fail the write, in either capture mode,
// and an update of it alone is recorded as a fact with no value.
func TestExcludedValueNeverComputed(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode contract.Mode) {
		db := capturetest.SetupMode(t, mode, `CREATE TABLE secrets (id int PRIMARY KEY, name text, blob text)`, "  secrets:\n    exclude: [blob]\n    store_changed_from: true\n")
		ctx := context.Background()
		for _, sql := range []string{
			`INSERT INTO secrets VALUES (1, 'a', repeat('x', 257 * 1024 * 1024))`,
			`UPDATE secrets SET blob = repeat('y', 257 * 1024 * 1024)`,
			`UPDATE secrets SET name = 'b'`,
			`DELETE FROM secrets`,
		} {
			if _, err := db.Pool.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		var got []string
		for _, c := range capturetest.Changes(t, db) {
			got = append(got, fmt.Sprintf("%s %s %s %v %s", c.Op, c.After, c.Before, c.ChangedFields, c.ChangedFrom))
		}
		want := []string{
			`insert {"id": 1, "name": "a"}  [] `,
			`update {"id": 1, "name": "a"}  [blob] `,
			`update {"id": 1, "name": "b"}  [name] {"name": "a"}`,
			`delete  {"id": 1, "name": "b"} [] `,
		}
		if !slices.Equal(got, want) {
			t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestRolesDoWhatTheirCommandsNeed: the writer writes and records actions
// and can read nothing; the reader investigates and exports (the CSV
// formula guard on by default); the retention role purges — and nobody
// else can take the purge lock or block it.
func TestRolesDoWhatTheirCommandsNeed(t *testing.T) {
	in := newIntegrity(t)
	ctx := context.Background()
	a := threadline.Audit{}
	err := threadline.InTx(ctx, in.pool(t, "app"), threadline.TxOptions{Actor: threadline.User("ann"), RequestID: `=HYPERLINK("http://evil")`}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO users VALUES (1, 'a@b', 'h', 'Ann')`); err != nil {
			return err
		}
		_, err := threadline.RecordAction(ctx, tx, "user.create", threadline.ActionOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	// Two days old, so that the purge below may take it (keep_days: 1).
	in.db.Exec(t, "UPDATE threadline.audit_changes SET captured_at = captured_at - interval '2 days'")
	in.db.Exec(t, "UPDATE threadline.audit_transactions SET started_at = started_at - interval '2 days'")
	in.db.Exec(t, "UPDATE threadline.audit_actions SET inserted_at = inserted_at - interval '2 days'")
	app := in.as(t, "app")
	denied(t, app, "app", `SELECT count(*) FROM threadline.audit_changes`)
	denied(t, app, "app", `BEGIN; LOCK TABLE threadline.audit_purge_lock IN EXCLUSIVE MODE; COMMIT`)
	app.Exec(ctx, `ROLLBACK`)
	// An advisory lock (what purge used to take) blocks nothing.
	if _, err := app.Exec(ctx, `SELECT pg_advisory_lock(k) FROM generate_series(-5, 5) AS k`); err != nil {
		t.Fatal(err)
	}

	reader := in.pool(t, "auditor")
	h, err := a.History(ctx, reader, "users", map[string]any{"id": 1}, threadline.HistoryOptions{})
	if err != nil || len(h) != 1 {
		t.Fatalf("reader history: %v, %v", h, err)
	}
	var out bytes.Buffer
	if _, err := a.Export(ctx, reader, &out, threadline.ExportOptions{Format: threadline.ExportCSV}); err != nil {
		t.Fatalf("reader export: %v", err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(recs), `'=HYPERLINK`) || strings.Contains(fmt.Sprint(recs), ` =HYPERLINK`) {
		t.Errorf("CSV request id not guarded: %q", recs)
	}
	readerConn := in.as(t, "auditor")
	denied(t, readerConn, "auditor", `DELETE FROM threadline.audit_changes`)
	// No lock at all: the reader has no privilege on the lock table.
	denied(t, readerConn, "auditor", `BEGIN; LOCK TABLE threadline.audit_purge_lock IN ACCESS SHARE MODE; COMMIT`)
	readerConn.Exec(ctx, `ROLLBACK`)

	// The retention role seals; the reader verifies; the application
	// can neither read nor write the seals.
	ops := threadlineops.Audit{Schema: a.Schema}
	sealed, err := ops.Seal(ctx, in.pool(t, "janitor"))
	if err != nil || sealed.Seal != 1 || sealed.Changes != 1 {
		t.Fatalf("seal as the retention role: %+v, %v", sealed, err)
	}
	if rep, err := ops.Verify(ctx, in.pool(t, "auditor"), threadlineops.VerifyOptions{Head: sealed.Head}); err != nil || rep.Changes != 1 {
		t.Fatalf("verify as the reader: %+v, %v", rep, err)
	}
	denied(t, app, "app", `INSERT INTO threadline.audit_seals (id, snapshot, prev_head, head, transactions, changes) VALUES (9, '1:1:', '', '', 0, 0)`)
	denied(t, app, "app", `SELECT count(*) FROM threadline.audit_seal_entries`)
	denied(t, app, "app", `INSERT INTO threadline.audit_purges (cutoff) VALUES (now())`)
	denied(t, readerConn, "auditor", `INSERT INTO threadline.audit_purges (cutoff) VALUES (now())`)

	policy := threadlineops.PurgePolicy{Enabled: true, Window: 24 * time.Hour, DeleteEmptyTransactions: true}
	res, err := ops.Purge(ctx, in.pool(t, "janitor"), policy, threadlineops.PurgeOptions{})
	if err != nil {
		t.Fatalf("purge as the retention role: %v", err)
	}
	if res.DeletedChanges != 1 || res.DeletedTransactions != 1 {
		t.Errorf("purge deleted %d changes, %d transactions; want 1, 1", res.DeletedChanges, res.DeletedTransactions)
	}
	// The retention role's own lock by hand (lock_purge) blocks a second
	// purge; the table itself it cannot lock.
	janitor := in.as(t, "janitor")
	jtx, err := janitor.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer jtx.Rollback(ctx)
	if _, err := jtx.Exec(ctx, `SELECT threadline.lock_purge()`); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Purge(ctx, in.pool(t, "janitor"), policy, threadlineops.PurgeOptions{}); !errors.Is(err, threadlineops.ErrPurgeRunning) {
		t.Errorf("purge while another holds the lock: %v", err)
	}
	jtx.Rollback(ctx)
	denied(t, janitor, "janitor", `UPDATE threadline.audit_changes SET op = 'delete'`)
	denied(t, janitor, "janitor", `DELETE FROM threadline.audit_actions`)
	denied(t, janitor, "janitor", `UPDATE threadline.audit_seals SET head = ''`)
	denied(t, janitor, "janitor", `DELETE FROM threadline.audit_seal_entries`)
	denied(t, janitor, "janitor", `DELETE FROM threadline.audit_purges`)
	// The purge recorded itself: once a seal covers the record, verify
	// counts what it took.
	if _, err := ops.Seal(ctx, in.pool(t, "janitor")); err != nil {
		t.Fatalf("seal after the purge: %v", err)
	}
	if rep, err := ops.Verify(ctx, in.pool(t, "auditor"), threadlineops.VerifyOptions{Head: sealed.Head}); err != nil || rep.PurgedChanges != 1 {
		t.Fatalf("verify after the purge: %+v, %v", rep, err)
	}
}

// TestPartitionedStorageRoles: on a partitioned install applied by the
// owner, the retention role maintains the partitions and purges whole
// ones; the application and the reader can run neither function.
func TestPartitionedStorageRoles(t *testing.T) {
	in := newIntegrityWith(t, "storage:\n  partitions: daily\n  premake: 1\n")
	ctx := context.Background()
	for _, c := range []struct {
		fn   string
		role string
		want bool
	}{
		{"maintain_partitions()", "janitor", true}, {"drop_partition(bigint, text)", "janitor", true},
		{"expired_partitions(timestamptz, boolean, text)", "janitor", true}, {"expired_partitions(timestamptz, boolean, text)", "auditor", true},
		{"maintain_partitions()", "app", false}, {"drop_partition(bigint, text)", "app", false},
		{"maintain_partitions()", "auditor", false}, {"drop_partition(bigint, text)", "auditor", false},
		{"drop_partition(bigint, text)", "stranger", false}, {"expired_partitions(timestamptz, boolean, text)", "app", false},
	} {
		var ok bool
		if err := in.db.Pool.QueryRow(ctx, "SELECT has_function_privilege($1, $2, 'EXECUTE')", in.roles[c.role], "threadline."+c.fn).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if ok != c.want {
			t.Errorf("%s EXECUTE on %s: %v, want %v", c.role, c.fn, ok, c.want)
		}
	}
	denied(t, in.as(t, "app"), "app", `SELECT threadline.drop_partition(1, 'threadline.audit_changes_default')`)
	// An expired day lands in the default partitions; the retention role
	// gives it a partition, then purges it whole.
	in.db.Exec(t, `INSERT INTO threadline.audit_transactions (txid, started_at) VALUES ('1', now() - interval '3 days')`)
	ops := threadlineops.Audit{}
	janitor := in.pool(t, "janitor")
	acts, err := ops.Maintain(ctx, janitor)
	if err != nil || len(acts) != 1 || acts[0].Action != "moved" {
		t.Fatalf("maintain as the retention role: %v %v", acts, err)
	}
	policy := threadlineops.PurgePolicy{Enabled: true, Window: 24 * time.Hour, DeleteEmptyTransactions: true}
	// The dry run works for the reader and the retention role alike.
	for _, role := range []string{"auditor", "janitor"} {
		plan, err := ops.PurgePlan(ctx, in.pool(t, role), policy, threadlineops.PurgeOptions{})
		if err != nil || len(plan.Partitions) != 1 || plan.DeletedTransactions != 1 {
			t.Fatalf("purge plan as %s: %+v %v", role, plan, err)
		}
	}
	res, err := ops.Purge(ctx, janitor, policy, threadlineops.PurgeOptions{})
	if err != nil || len(res.Partitions) != 1 || res.DeletedTransactions != 1 {
		t.Fatalf("purge as the retention role: %+v %v", res, err)
	}
	if n := capturetest.QueryInt(t, in.db, "SELECT count(*) FROM pg_tables WHERE tablename = $1", acts[0].Partition); n != 0 {
		t.Fatalf("partition %s was not dropped", acts[0].Partition)
	}
}
