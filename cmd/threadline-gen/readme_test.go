package main

import (
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/pgtest"
)

// readmeSteps returns the shell commands and the go:generate line of the
// README's "Using it in your project" section, in order.
func readmeSteps(t *testing.T, readme string) (commands [][]string, generateLine string) {
	t.Helper()
	start := strings.Index(readme, "## Using it in your project")
	if start < 0 {
		t.Fatal(`README has no "## Using it in your project"`)
	}
	section := readme[start:]
	if end := strings.Index(section, "\n### "); end >= 0 {
		section = section[:end]
	}
	for _, m := range regexp.MustCompile("(?s)```(sh|go)\n(.*?)```").FindAllStringSubmatch(section, -1) {
		if m[1] == "go" {
			generateLine = strings.TrimSpace(m[2])
			continue
		}
		var block []string
		for _, line := range strings.Split(m[2], "\n") {
			if line = strings.TrimSpace(line); line != "" {
				block = append(block, line)
			}
		}
		commands = append(commands, block)
	}
	if len(commands) != 2 || !strings.HasPrefix(generateLine, "//go:generate ") {
		t.Fatalf("the section changed shape (want two sh blocks and the go:generate line); update this test:\n%q %q", commands, generateLine)
	}
	return commands, generateLine
}

// freshModuleConfig is what a user writes into threadline.yaml after
// init: their schema, a custom audit schema, the plain format (applied
// below without a migration tool), and the README's two roles: WRITER
// (the application's role) and READER, replaced by the test's roles.
const freshModuleConfig = `version: 1
schema:
  files: [db/schema.sql]
audit_schema: app_audit
migrations: {dir: db/migrations, format: plain}
package: {dir: internal/audit, name: audit}
tables:
  users: {}
privileges:
  writer_roles: [WRITER]
  reader_roles: [READER]
`

const freshModuleDDL = `CREATE TABLE users (id bigint PRIMARY KEY, display_name text NOT NULL);`

// freshModuleTest is the README's "In your application" snippet as a test
// of the new module, run against a real database with the custom
// audit_schema: the generated RecordAction must write there. Like the
// snippet it uses two pools: the writer (the application's role, a
// writer_roles member) writes through InTx and RecordAction, and its read
// of the trail fails as the README says; the reader (a reader_roles
// member) investigates.
const freshModuleTest = `package app

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	threadline "github.com/threadline-go/threadline/runtime"

	"example.com/app/internal/audit"
)

func TestReadmeSnippet(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("APP_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	install, err := os.ReadFile(os.Getenv("APP_INSTALL"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, string(install)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO users VALUES (42, 'Ann')"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "GRANT SELECT, UPDATE ON users TO "+os.Getenv("APP_WRITER_ROLE")); err != nil {
		t.Fatal(err)
	}
	writer, err := pgxpool.New(ctx, os.Getenv("APP_WRITER_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := pgxpool.New(ctx, os.Getenv("APP_READER_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	ctx = threadline.ContextWithActor(ctx, threadline.User("7"))
	err = threadline.InTx(ctx, writer, threadline.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE users SET display_name = $1 WHERE id = $2", "Ann B", 42); err != nil {
			return err
		}
		_, err := audit.RecordAction(ctx, tx, "user.rename", threadline.ActionOptions{Reason: "support ticket 4411"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// One pool for both: the first read fails.
	if _, _, err := audit.UsersTimeline(ctx, writer, threadline.Filter{Limit: 50}); err == nil || !strings.Contains(err.Error(), "permission denied for table audit_changes") {
		t.Fatalf("timeline through the writer pool: %v, want permission denied for table audit_changes", err)
	}
	changes, _, err := audit.UsersTimeline(ctx, reader, threadline.Filter{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Op != threadline.OpUpdate || changes[0].After.DisplayName != "Ann B" {
		t.Fatalf("timeline: %+v", changes)
	}
	txn, err := audit.Audit().Transaction(ctx, reader, changes[0].TransactionID)
	if err != nil {
		t.Fatal(err)
	}
	if txn.Action == nil || txn.Actor == nil || txn.Action.Name != "user.rename" || txn.Action.Reason != "support ticket 4411" || txn.Actor.String() != "user:7" {
		t.Fatalf("transaction: %+v, action %+v", txn, txn.Action)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM app_audit.audit_actions WHERE name = 'user.rename'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("app_audit.audit_actions: %d rows, %v", n, err)
	}
}
`

// TestReadmeUsingItInYourProject follows the README's "Using it in your
// project" literally in a fresh module: the shell commands as written,
// the go:generate line, then the README's application snippet against a
// real database with a custom audit_schema. The module requires this
// repository through a replace directive (standing in for a release);
// modules come from the local module cache through the module proxy
// protocol first, the environment's proxy only for what the cache lacks.
//
// Long on purpose: it replays the README's walkthrough in the README's order.
func TestReadmeUsingItInYourProject(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, generateLine := readmeSteps(t, string(readme))
	checkTwoPoolSnippet(t, string(readme))

	goBin, err := osexec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	modCache, err := osexec.Command(goBin, "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	goProxy, err := osexec.Command(goBin, "env", "GOPROXY").Output()
	if err != nil {
		t.Fatal(err)
	}
	// Module lookups of this repository's paths (go get -tool asks for
	// the latest version of each prefix of the tool's path) find an empty
	// version list, so the required v0.0.0, replaced, stays; every other
	// module comes from the local module cache, or else the environment's
	// proxy (go mod tidy needs the test dependencies of dependencies).
	stub := t.TempDir()
	for _, p := range []string{"", "/cmd", "/cmd/threadline-gen"} {
		d := filepath.Join(stub, "github.com", "threadline-go", "threadline"+p, "@v")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "list"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	proxy := "file://" + filepath.ToSlash(stub) + ",file://" + filepath.ToSlash(filepath.Join(strings.TrimSpace(string(modCache)), "cache", "download"))
	if p := strings.TrimSpace(string(goProxy)); p != "" && p != "off" {
		proxy += "," + p
	}
	dir := t.TempDir()
	// The snippet's two roles, before the database (dropped after it).
	r := pgtest.Roles(t, "readme_writer", "readme_reader")
	writerRole, readerRole := r["readme_writer"], r["readme_reader"]
	db := pgtest.NewDB(t, freshModuleDDL)
	environ := append(os.Environ(), "GOPROXY="+proxy,
		"GOSUMDB=off", "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=1",
		"APP_DATABASE_URL="+db.URL, "APP_WRITER_ROLE="+writerRole,
		"APP_WRITER_URL="+urlWithUser(t, db.URL, writerRole), "APP_READER_URL="+urlWithUser(t, db.URL, readerRole))
	sh := func(command string) (string, error) {
		t.Helper()
		cmd := osexec.Command("bash", "-c", command)
		cmd.Dir, cmd.Env = dir, environ
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(command string) string {
		t.Helper()
		out, err := sh(command)
		if err != nil {
			t.Fatalf("%s: %v\n%s", command, err, out)
		}
		return out
	}

	// A new module that depends on this repository.
	must("go mod init example.com/app")
	must("go mod edit -require=github.com/threadline-go/threadline@v0.0.0 -replace=github.com/threadline-go/threadline=" + root)

	// go get -tool …; go tool threadline-gen init.
	for _, c := range blocks[0] {
		must(c)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "threadline.yaml")); err != nil || !strings.Contains(string(b), "version: 1") {
		t.Fatalf("init wrote no config: %v", err)
	}
	// The user edits the config and adds the go:generate line.
	for name, content := range map[string]string{
		"threadline.yaml": strings.NewReplacer("WRITER", writerRole, "READER", readerRole).Replace(freshModuleConfig),
		"db/schema.sql":   freshModuleDDL,
		"app.go":          "// Package app is a service using Threadline.\npackage app\n\n" + generateLine + "\n",
		"app_test.go":     freshModuleTest,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// go generate ./...; go mod tidy; go build && go vet. The first
	// generate prints the note about go mod tidy exactly when the
	// generated package does not build yet. (The runtime imports pgx
	// only, whose modules go get -tool already recorded for the tool, so
	// today it builds; go mod tidy still makes them the module's own
	// requirements.)
	steps := blocks[1]
	if len(steps) != 3 || steps[0] != "go generate ./..." || steps[1] != "go mod tidy" {
		t.Fatalf("README steps changed: %q", steps)
	}
	out := must(steps[0])
	noted := strings.Contains(out, "threadline-gen: note: the generated package internal/audit does not build yet") && strings.Contains(out, "\tgo mod tidy\n")
	buildOut, buildErr := sh("go build ./internal/audit")
	if noted != (buildErr != nil) {
		t.Errorf("first go generate: note printed %v, but go build of the package failed %v:\n%s\n%s", noted, buildErr != nil, out, buildOut)
	}
	must(steps[1])
	must(steps[2])
	// From now on go generate is silent and changes nothing.
	if out := must("go generate ./... && go tool threadline-gen check"); out != "" {
		t.Errorf("go generate after go mod tidy is not silent:\n%s", out)
	}

	// The README's application snippet, with the custom audit_schema.
	installs, err := filepath.Glob(filepath.Join(dir, "db", "migrations", "*_threadline_install.up.sql"))
	if err != nil || len(installs) != 1 {
		t.Fatalf("install migration: %v %v", installs, err)
	}
	environ = append(environ, "APP_INSTALL="+installs[0])
	if out := must("go test -count=1 -run TestReadmeSnippet -v ./..."); !strings.Contains(out, "--- PASS: TestReadmeSnippet") {
		t.Fatalf("the snippet test did not run:\n%s", out)
	}
}

// checkTwoPoolSnippet checks that the README's application snippet is the
// one freshModuleTest runs: a writer pool for InTx and RecordAction, a
// reader pool for every read of the trail, and the failure of one pool.
func checkTwoPoolSnippet(t *testing.T, readme string) {
	t.Helper()
	start := strings.Index(readme, "## In your application")
	if start < 0 {
		t.Fatal(`README has no "## In your application"`)
	}
	section := readme[start:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindStringSubmatch(section)
	if m == nil {
		t.Fatal(`README: no Go snippet under "## In your application"`)
	}
	snippet := m[1]
	for _, want := range []string{
		"writer, err := pgxpool.New(", "reader, err := pgxpool.New(",
		"threadline.InTx(ctx, writer,", "audit.RecordAction(ctx, tx,",
		"audit.UsersTimeline(ctx, reader,", "audit.UsersAsOf(ctx, reader,", "audit.Audit().Transaction(ctx, reader,",
	} {
		if !strings.Contains(snippet, want) {
			t.Errorf("README's application snippet lacks %q (freshModuleTest runs it)", want)
		}
	}
	if strings.Contains(snippet, "(ctx, pool,") {
		t.Errorf("README's application snippet uses a single pool again:\n%s", snippet)
	}
	if !strings.Contains(section, "permission denied for table audit_changes") || !strings.Contains(section, "reader_roles") {
		t.Errorf("README: the two-pool explanation is gone from the application section")
	}
}

// urlWithUser is u with its user replaced by user.
func urlWithUser(t *testing.T, u, user string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.User = url.User(user)
	return p.String()
}
