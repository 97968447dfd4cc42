package threadlinecapture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/logicalpg"
	"github.com/threadline-go/threadline/schema"
)

// cluster is the private wal_level = logical cluster of this test binary;
// nil (and every test fails) when it could not start.
var (
	cluster    *logicalpg.Cluster
	clusterErr error
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		// A consumer run as a subprocess of the test (TestKill9): it
		// runs until SIGINT or SIGTERM, or until it is killed.
		os.Exit(runChild())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cluster, clusterErr = logicalpg.Start(ctx)
	cancel()
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

// testDB is a database on the private cluster with the audit schema
// installed for one engine.
type testDB struct {
	name string
	url  string
	pool *pgxpool.Pool
}

// newDB creates a database, runs ddl, and installs the migration
// threadline-gen writes for engine and tablesYAML (none when empty).
func newDB(t testing.TB, engine, ddl, tablesYAML string) *testDB {
	t.Helper()
	if cluster == nil {
		t.Fatalf("the private logical cluster did not start: %v", clusterErr)
	}
	ctx := context.Background()
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := "tl_wal_" + hex.EncodeToString(b[:])
	u, err := cluster.NewDatabase(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		c, err := pgx.Connect(context.Background(), cluster.URL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		dropSlots(t, c, name)
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	if _, err := pool.Exec(ctx, ddl); err != nil {
		t.Fatalf("ddl: %v", err)
	}
	db := &testDB{name: name, url: u, pool: pool}
	if tablesYAML != "" {
		db.exec(t, generate(t, pool, engine, "", tablesYAML))
	}
	return db
}

// dropSlots drops the slots of database name. Slots are the cluster's,
// so one left behind would collide with the next test's slot of the same
// name; a consumer that has just stopped may still hold its slot for a
// moment (the server's walsender exits after the client), so it retries
// for up to 10 s.
func dropSlots(t testing.TB, c *pgx.Conn, name string) {
	ctx := context.Background()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		var left []string
		_, _ = c.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, name)
		if err := c.QueryRow(ctx, `SELECT coalesce(array_agg(slot_name::text), '{}') FROM pg_replication_slots WHERE database = $1`, name).Scan(&left); err != nil {
			t.Errorf("drop the slots of %s: %v", name, err)
			return
		}
		if len(left) == 0 {
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("slots of %s still in use after 10 s: %v", name, left)
			return
		}
	}
}

func (db *testDB) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := db.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec: %v\n%s", err, sql)
	}
}

// generate returns the install migration (plain format) of engine, with
// extra top-level config (YAML lines) when not empty.
func generate(t testing.TB, pool *pgxpool.Pool, engine, extra, tablesYAML string) string {
	t.Helper()
	return generateNext(t, pool, map[string][]byte{}, engine, extra, tablesYAML, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

// generateNext generates the next migration (plain format) after files,
// adds its files to files, and returns its up SQL.
func generateNext(t testing.TB, pool *pgxpool.Pool, files map[string][]byte, engine, extra, tablesYAML string, at time.Time) string {
	t.Helper()
	text := "version: 1\nschema:\n  database_url: unused\nmigrations:\n  dir: migrations\n  format: plain\n" +
		"package:\n  dir: audit\nengine: " + engine + "\n" + extra + "tables:\n" + tablesYAML
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "threadline.yaml"), []byte(text), func(string) string { return "" })
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	s, err := schema.LoadLive(context.Background(), pool, schema.LiveOptions{ExcludeSchemas: []string{cfg.AuditSchema}})
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	out, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Migrations: files, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	var up string
	for _, f := range out.Migrations {
		files[f.Path] = f.Content
		if strings.HasSuffix(f.Path, ".up.sql") {
			up = string(f.Content)
		}
	}
	if up == "" {
		t.Fatal("generate: no up migration")
	}
	return up
}

// roleURL is db's URL for role instead of postgres.
func roleURL(t testing.TB, db *testDB, role string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(db.url)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", role, cfg.Host, cfg.Port, cfg.Database)
}

// connectAs connects to db as role until the test ends.
func connectAs(t testing.TB, db *testDB, role string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), roleURL(t, db, role))
	if err != nil {
		t.Fatalf("connect as %s: %v", role, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// waitFor polls the boolean query q (with args) in db until it is true,
// failing t after within.
func waitFor(t testing.TB, db *testDB, within time.Duration, q string, args ...any) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		var ok bool
		if err := db.pool.QueryRow(context.Background(), q, args...).Scan(&ok); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if ok {
			return
		}
		if time.Since(start) > within {
			t.Fatalf("still false after %s: %s %v", within, q, args)
		}
	}
}

// waitStreaming waits until c streams from its slot (10 s at most).
func waitStreaming(t testing.TB, c *Consumer) {
	t.Helper()
	for start := time.Now(); !c.Status().Streaming; time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the consumer is not streaming after 10 s: %+v", c.Status())
		}
	}
}

// quietLogger logs warnings and errors to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = testWriter{}

// createSlot creates the slot before the workload (as an operator starts
// threadline capture before the application writes).
func createSlot(t testing.TB, db *testDB, slot string) {
	t.Helper()
	db.exec(t, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, slot)
}

// startConsumer runs a consumer in the background until the test ends.
func startConsumer(t testing.TB, db *testDB, slot string) *Consumer {
	t.Helper()
	return startConsumerWith(t, Config{SourceURL: db.url, Slot: slot})
}

// startConsumerWith is startConsumer with a config (publication and
// logger set here).
func startConsumerWith(t testing.TB, cfg Config) *Consumer {
	t.Helper()
	cfg.Publication, cfg.Logger = "threadline", testLogger(t)
	c := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	})
	return c
}

// waitCaughtUp waits until the slot's confirmed position reaches the
// source's current WAL position.
func waitCaughtUp(t testing.TB, db *testDB, slot string, timeout time.Duration) time.Duration {
	t.Helper()
	ctx := context.Background()
	var target string
	if err := db.pool.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, db, timeout, `SELECT coalesce(confirmed_flush_lsn >= $2::pg_lsn, false) FROM pg_replication_slots WHERE slot_name = $1`, slot, target)
	return time.Since(start)
}

// trailChange is one change as compared between engines: its transaction
// is named by its ordinal in the trail.
type trailChange struct {
	Tx                                             int
	Actor, ActorInvalid, Request, Correlation      string
	Action                                         string
	Schema, Table, PK, PKBefore, Op, After, Before string
	Changed                                        []string
	ChangedFrom                                    string
}

func (c trailChange) String() string {
	return fmt.Sprintf("tx%d actor=%s inv=%s req=%s corr=%s action=%s %s.%s %s pk=%s pkb=%s\n  after=%s\n  before=%s\n  changed=%v from=%s",
		c.Tx, c.Actor, c.ActorInvalid, c.Request, c.Correlation, c.Action, c.Schema, c.Table, c.Op, c.PK, c.PKBefore, c.After, c.Before, c.Changed, c.ChangedFrom)
}

// trail reads the trail in change order.
func trail(t testing.TB, pool *pgxpool.Pool) []trailChange {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT c.transaction_id, coalesce(h.actor_ref::text, ''), coalesce(h.actor_ref_invalid, ''), coalesce(h.request_id, ''),
		       coalesce(h.correlation_id, ''), coalesce(a.name, ''),
		       c.table_schema, c.table_name, coalesce(c.table_pk::text, ''), coalesce(c.table_pk_before::text, ''), c.op,
		       coalesce(c.data_after::text, ''), coalesce(c.data_before::text, ''), c.changed_fields, coalesce(c.changed_from::text, '')
		FROM threadline.audit_changes AS c JOIN threadline.audit_transactions AS h ON h.id = c.transaction_id
		LEFT JOIN threadline.audit_actions AS a ON a.id = h.action_id
		ORDER BY c.id`)
	if err != nil {
		t.Fatalf("read trail: %v", err)
	}
	defer rows.Close()
	ord := map[int64]int{}
	var out []trailChange
	for rows.Next() {
		var c trailChange
		var tx int64
		if err := rows.Scan(&tx, &c.Actor, &c.ActorInvalid, &c.Request, &c.Correlation, &c.Action, &c.Schema, &c.Table, &c.PK, &c.PKBefore,
			&c.Op, &c.After, &c.Before, &c.Changed, &c.ChangedFrom); err != nil {
			t.Fatal(err)
		}
		if _, ok := ord[tx]; !ok {
			ord[tx] = len(ord) + 1
		}
		c.Tx = ord[tx]
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func lsnOf(t testing.TB, s string) pglogrepl.LSN {
	l, err := pglogrepl.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
