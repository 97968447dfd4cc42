package generator_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// gooseUp returns the Up section of a goose migration (as goose runs it).
var gooseUp = installUp["goose"].part

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUpgradeFromPreviousInstall applies the bundled example's install as
// an earlier release generated it (testdata/upgrade/2026-11-27), records
// changes, then generates the update migration with this release and
// applies it: the old rows stay readable, new writes are captured under
// the current rules, and no function in the audit schema is left
// executable by PUBLIC.
func TestUpgradeFromPreviousInstall(t *testing.T) {
	ctx := context.Background()
	example := filepath.Join("..", "examples", "quickstart")
	appSchema := readFile(t, filepath.Join(example, "db", "migrations", "20260101000000_app_schema.sql"))
	oldInstall := readFile(t, filepath.Join("..", "testdata", "upgrade", "2026-11-27", "20261127060643_threadline_install.sql"))

	// The earlier install is not partitioned, and switching is not
	// supported: the example's config without its storage section.
	cfg, _, _ := strings.Cut(readFile(t, filepath.Join(example, "threadline.yaml")), "\n# Audit tables partitioned by day")
	p := newProject(t, cfg, "")
	p.now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	p.write("db/migrations/20260101000000_app_schema.sql", appSchema)
	p.write("db/migrations/20261127060643_threadline_install.sql", oldInstall)

	db := pgtest.NewDB(t, gooseUp(t, appSchema), gooseUp(t, oldInstall))
	write := func(sql string) {
		t.Helper()
		err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.User("ada")}, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	write(`INSERT INTO users (email, password_hash, display_name) VALUES ('ada@example.com', 'h1', 'Ada')`)
	write(`UPDATE users SET display_name = 'Ada L.' WHERE id = 1`)

	files := p.mustGenerate()
	if len(files) != 1 || !strings.HasSuffix(files[0].Path, "_threadline_update.sql") {
		t.Fatalf("generated %v, want one update migration", files)
	}
	db.Exec(t, gooseUp(t, string(files[0].Content)))

	write(`UPDATE users SET password_hash = 'h2' WHERE id = 1`) // recorded now, as a fact
	write(`UPDATE users SET display_name = 'Ada Lovelace' WHERE id = 1`)

	h, err := threadline.Audit{}.History(ctx, db.Pool, "users", map[string]any{"id": 1}, threadline.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range h {
		got = append(got, string(c.Op)+" "+strings.Join(c.ChangedFields, ","))
	}
	want := []string{"update display_name", "update password_hash", "update display_name", "insert "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("history after the upgrade: %q, want %q", got, want)
	}
	var public int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_proc WHERE pronamespace = 'threadline'::regnamespace
		AND (proacl IS NULL OR proacl::text LIKE '%{=%' OR proacl::text LIKE '%,=%')`).Scan(&public); err != nil || public != 0 {
		t.Errorf("%d functions executable by PUBLIC after the upgrade (%v)", public, err)
	}
	// The earlier release's hash row index is a btree now (a hot row's
	// writes slowed down with its history: docs/benchmarks.md).
	var am string
	if err := db.Pool.QueryRow(ctx, `SELECT a.amname FROM pg_class AS c JOIN pg_am AS a ON a.oid = c.relam
		WHERE c.oid = 'threadline.audit_changes_row_idx'::regclass`).Scan(&am); err != nil || am != "btree" {
		t.Errorf("audit_changes_row_idx after the upgrade: %q (%v), want btree", am, err)
	}
	var headers, perTx int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*), max(n) FROM (SELECT count(*) AS n FROM threadline.audit_transactions GROUP BY txid, started_at) AS g`).Scan(&headers, &perTx); err != nil || headers != 4 || perTx != 1 {
		t.Errorf("headers %d, at most %d per transaction (%v); want 4, 1", headers, perTx, err)
	}
	// The update brings attribute() and per-transaction attribution: InTx
	// (which binds its settings to the transaction) stays attributed.
	var attribute bool
	var unattributed int
	if err := db.Pool.QueryRow(ctx, `SELECT to_regprocedure('threadline.attribute(jsonb, text, text)') IS NOT NULL,
		(SELECT count(*) FROM threadline.audit_transactions WHERE actor_ref IS DISTINCT FROM '{"type": "user", "id": "ada"}')`).
		Scan(&attribute, &unattributed); err != nil || !attribute || unattributed != 0 {
		t.Errorf("after the upgrade: attribute() installed %v, %d headers not attributed to ada (%v)", attribute, unattributed, err)
	}
}

// TestSwitchToPartitions: an installed plain audit schema with rows
// switches to daily partitions through the generated update migration;
// the old rows stay readable, ids go on, new writes land in the new
// partitions, maintain and purge work on the result.
func TestSwitchToPartitions(t *testing.T) {
	ctx := context.Background()
	const ddl = "CREATE TABLE items (id bigint PRIMARY KEY, v int);\n"
	const cfg = "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: plain\npackage:\n  dir: audit\n" +
		"retention:\n  keep_days: 10\ntables:\n  items: {}\n"
	p := newProject(t, cfg, ddl)
	var install string
	for _, f := range p.mustGenerate() {
		if strings.HasSuffix(f.Path, ".up.sql") {
			install = string(f.Content)
		}
	}
	db := pgtest.NewDB(t, ddl, install)
	write := func(sql string) {
		t.Helper()
		if err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.User("ada")}, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, sql); return err }); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	write("INSERT INTO items VALUES (1, 1)")
	write("UPDATE items SET v = 2 WHERE id = 1")
	db.Exec(t, "UPDATE threadline.audit_changes SET captured_at = captured_at - interval '20 days' WHERE op = 'insert'")

	p.write("threadline.yaml", cfg+"storage:\n  partitions: daily\n  premake: 1\n")
	p.now = p.now.Add(time.Minute)
	var update string
	for _, f := range p.mustGenerate() {
		if strings.HasSuffix(f.Path, ".up.sql") {
			update = string(f.Content)
		}
	}
	if !strings.Contains(update, "-- threadline:storage day") {
		t.Fatalf("the update migration does not record the storage:\n%.400s", update)
	}
	db.Exec(t, update)
	write("UPDATE items SET v = 3 WHERE id = 1")

	var parts []string
	rows, err := db.Pool.Query(ctx, `SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'threadline.audit_changes'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if parts, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	tomorrow := "audit_changes_p" + time.Now().UTC().AddDate(0, 0, 1).Format("20060102")
	if got := strings.Join(parts, " "); got != "audit_changes_default "+tomorrow+" audit_changes_unpartitioned" {
		t.Fatalf("partitions after the switch: %s", got)
	}
	h, err := threadline.Audit{}.History(ctx, db.Pool, "items", map[string]any{"id": 1}, threadline.HistoryOptions{})
	if err != nil || len(h) != 3 || h[2].Op != threadline.OpInsert || h[0].Actor == nil || h[0].Actor.ID != "ada" {
		t.Fatalf("history across the switch: %+v %v", h, err)
	}
	if h[0].ID <= h[1].ID {
		t.Fatalf("ids did not go on: %d after %d", h[0].ID, h[1].ID)
	}
	// The old insert is expired: purge deletes it in a batch (its
	// partition, the old table, also holds today's rows).
	res, err := threadlineops.Audit{}.Purge(ctx, db.Pool, threadlineops.PurgePolicy{Enabled: true, Window: 10 * 24 * time.Hour}, threadlineops.PurgeOptions{})
	if err != nil || res.DeletedChanges != 1 || len(res.Partitions) != 0 {
		t.Fatalf("purge after the switch: %+v %v", res, err)
	}
	if acts, err := (threadlineops.Audit{}).Maintain(ctx, db.Pool); err != nil || len(acts) != 0 {
		t.Fatalf("maintain after the switch: %v %v", acts, err)
	}
}
