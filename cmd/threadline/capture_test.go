package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/logicalpg"
	"github.com/threadline-go/threadline/schema"
)

const walProjectConfig = `version: 1
schema:
  files: [schema.sql]
migrations:
  dir: db/migrations
  format: golang-migrate
package:
  dir: internal/audit
  name: audit
engine: wal
wal:
  slot: cli_test
tables:
  users:
    exclude: [password_hash]
    mask: [email]
  posts: {}
coverage:
  expected_tables: [users, posts]
`

const walProjectDDL = `CREATE TABLE users (id bigint PRIMARY KEY, email text, password_hash text);
CREATE TABLE posts (id bigint PRIMARY KEY, author bigint, title text);`

// TestCaptureCommand runs engine: wal end to end through the CLI on a
// private wal_level = logical cluster: the generated migration, then
// threadline capture (which creates the slot), an attributed write,
// coverage and doctor passing while it runs, SIGTERM-like cancellation
// stopping it cleanly, and coverage and doctor failing (exit 1) once it
// is down.
func TestCaptureCommand(t *testing.T) {
	ctx := context.Background()
	cluster, err := logicalpg.Start(ctx)
	if err != nil {
		t.Fatalf("private logical cluster: %v", err)
	}
	t.Cleanup(cluster.Stop)
	u, err := cluster.NewDatabase(ctx, "cli_capture")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, walProjectDDL); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{"schema.sql": walProjectDDL, "threadline.yaml": walProjectConfig} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "threadline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.LoadLive(ctx, pool, schema.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Migrations: map[string][]byte{},
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := generator.Write(cfg.Migrations.Dir, out.Migrations); err != nil {
		t.Fatal(err)
	}
	if err := generator.Write(cfg.Package.Dir, out.Package); err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Migrations {
		if strings.HasSuffix(f.Path, ".up.sql") {
			if _, err := pool.Exec(ctx, string(f.Content)); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Chdir(dir)
	e := env{getenv: func(k string) string {
		if k == "DATABASE_URL" {
			return u
		}
		return ""
	}}
	cli := func(args ...string) (int, string, string) {
		var o, eb bytes.Buffer
		code := runEnv(ctx, args, &o, &eb, e)
		return code, o.String(), eb.String()
	}

	cctx, stop := context.WithCancel(ctx)
	var capOut, capErr syncBuffer
	done := make(chan int, 1)
	go func() { done <- runEnv(cctx, []string{"capture", "-health", "127.0.0.1:0"}, &capOut, &capErr, e) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(capErr.String(), "streaming") {
		if time.Now().After(deadline) {
			t.Fatalf("threadline capture did not start streaming:\n%s", capErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT threadline.attribute('{"type":"user","id":"cli"}', 'req-cli')`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO users VALUES (1, 'a@b.c', 'secret'); INSERT INTO posts VALUES (1, 1, 'hello')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var got string
	for deadline := time.Now().Add(30 * time.Second); ; {
		err := pool.QueryRow(ctx, `SELECT string_agg(c.table_name || ' ' || c.data_after::text || ' ' || (h.actor_ref->>'id') || ' ' || h.request_id, '; ' ORDER BY c.id)
			FROM threadline.audit_changes AS c JOIN threadline.audit_transactions AS h ON h.id = c.transaction_id`).Scan(&got)
		if err == nil && strings.Count(got, ";") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trail: %q, %v\n%s", got, err, capErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	want := `users {"id": 1, "email": "[REDACTED]"} cli req-cli; posts {"id": 1, "title": "hello", "author": 1} cli req-cli`
	if got != want {
		t.Errorf("trail:\n got %s\nwant %s", got, want)
	}
	code, stdout, stderr := cli("coverage")
	expectCode(t, "coverage with the consumer running", code, 0, stdout, stderr)
	mustContain(t, "coverage", stdout, "engine: wal", "OK: all 2 expected tables are covered")
	code, stdout, stderr = cli("doctor")
	for _, check := range []string{"wal level", "slot", "consumer", "retained wal", "publication", "replica identity"} {
		if !strings.Contains(stdout, "PASS  "+check) {
			t.Errorf("doctor: no PASS for %s:\n%s", check, stdout)
		}
	}

	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("threadline capture after cancel: exit %d\n%s", code, capErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("threadline capture did not stop")
	}
	mustContain(t, "capture log", capErr.String(), "stopped", "health on http://127.0.0.1:")
	code, stdout, stderr = cli("coverage")
	expectCode(t, "coverage with the consumer down", code, 1, stdout, stderr)
	mustContain(t, "coverage", stdout, "disabled", "threadline capture is down")
	code, stdout, _ = cli("doctor")
	if code != 1 || !strings.Contains(stdout, "FAIL  consumer") {
		t.Errorf("doctor with the consumer down: exit %d\n%s", code, stdout)
	}
	_ = code
	_ = stderr
}

// TestCaptureRefusesTriggerEngine: threadline capture needs engine: wal.
func TestCaptureRefusesTriggerEngine(t *testing.T) {
	dir := t.TempDir()
	cfgText := strings.Replace(walProjectConfig, "engine: wal\nwal:\n  slot: cli_test\n", "", 1)
	if err := os.WriteFile(filepath.Join(dir, "threadline.yaml"), []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var o, eb bytes.Buffer
	code := runEnv(context.Background(), []string{"capture"}, &o, &eb, env{getenv: func(string) string { return "postgres://x@127.0.0.1:1/x" }})
	if code != 1 || !strings.Contains(eb.String(), "engine is trigger") {
		t.Fatalf("exit %d: %s", code, eb.String())
	}
}
