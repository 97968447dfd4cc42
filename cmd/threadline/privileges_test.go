package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/schema"
)

// asRole returns the URL of db for role.
func asRole(t *testing.T, db *pgtest.DB, role string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(db.URL, "://"+cfg.User+"@", "://"+role+"@", 1)
}

// newOwnedProject is newProject with partitioned storage and the roles of
// a production install: the DDL and the generated migration applied by a
// non-superuser owner role, and threadline.yaml's privileges naming a
// writer (app), a reader and a retention role (janitor). It returns the
// project (whose database URL is the superuser's) and the role names.
func newOwnedProject(t *testing.T) (*project, map[string]string) {
	t.Helper()
	r := pgtest.Roles(t, "owner", "app", "reader", "janitor")
	cfgText := projectConfig + "storage:\n  partitions: daily\nprivileges:\n  writer_roles: [" + r["app"] + "]\n  reader_roles: [" + r["reader"] + "]\n  retention_roles: [" + r["janitor"] + "]\n"
	dir := t.TempDir()
	for name, content := range map[string]string{"schema.sql": projectDDL, "threadline.yaml": cfgText} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "threadline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	db := pgtest.NewDB(t)
	db.Exec(t, "GRANT CREATE ON DATABASE "+pgx.Identifier{db.Name}.Sanitize()+" TO "+r["owner"])
	db.Exec(t, "GRANT CREATE ON SCHEMA public TO "+r["owner"])
	ctx := context.Background()
	owner, err := pgx.Connect(ctx, asRole(t, db, r["owner"]))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	if _, err := owner.Exec(ctx, projectDDL); err != nil {
		t.Fatal(err)
	}
	s, err := schema.LoadLive(ctx, db.Pool, schema.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Now: capturetest.Clock, Migrations: map[string][]byte{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Migrations {
		if strings.HasSuffix(f.Path, ".up.sql") {
			if _, err := owner.Exec(ctx, string(f.Content)); err != nil {
				t.Fatalf("apply as the owner: %v", err)
			}
		}
	}
	t.Chdir(dir)
	p := &project{dir: dir, db: db}
	p.seed(t)
	return p, r
}

// cliAs runs the CLI connected as role, for at most 30 seconds (a serve
// that starts runs until then).
func (p *project) cliAs(t *testing.T, role string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.cliEnv(t, ctx, env{}, append([]string{args[0], "-database-url", asRole(t, p.db, role)}, args[1:]...)...)
}

// The hints, as the CLI prints them after a permission error.
const (
	grantsNote      = " in threadline.yaml (a role added there gets its grants from the next migration threadline-gen writes, once applied)"
	writerReadHint  = `hint: role "%s" is a writer role (privileges.writer_roles) and may not read the audit trail: connect as a role listed in privileges.reader_roles` + grantsNote
	readerWriteHint = `hint: role "%s" may not purge, maintain or seal the audit trail: connect as a role listed in privileges.retention_roles` + grantsNote
	writerPlanHint  = `hint: role "%s" is a writer role (privileges.writer_roles) and may not plan a purge: connect as a role listed in privileges.reader_roles or privileges.retention_roles` + grantsNote
)

// TestPermissionErrorsNameTheRoleSection runs every command that touches
// the audit trail as a role that may not: each fails with PostgreSQL's
// permission error followed by the hint naming the role section of
// threadline.yaml and the current role, and purge says nothing about an
// interrupted run.
func TestPermissionErrorsNameTheRoleSection(t *testing.T) {
	p, r := newOwnedProject(t)
	app, reader := r["app"], r["reader"]
	cases := []struct {
		role string
		args []string
		hint string
	}{
		{reader, []string{"seal"}, readerWriteHint},
		{reader, []string{"maintain"}, readerWriteHint},
		{reader, []string{"purge", "-execute"}, readerWriteHint},
		{app, []string{"export", "-format", "ndjson", "-output", "-"}, writerReadHint},
		{app, []string{"export", "-format", "ndjson", "-output", "-", "-cursor-file", "feed.cursor"}, writerReadHint},
		{app, []string{"verify"}, writerReadHint},
		{app, []string{"continuity"}, `hint: role "%s" is a writer role (privileges.writer_roles) and may not report continuity: connect as a role listed in privileges.reader_roles in threadline.yaml that may also SELECT the audited tables (a role added there gets its grants from the next migration threadline-gen writes, once applied)`},
		{app, []string{"purge", "-dry-run"}, writerPlanHint},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := p.cliAs(t, c.role, c.args...)
			expectCode(t, strings.Join(c.args, " "), code, 1, stdout, stderr)
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			want := strings.Replace(c.hint, "%s", c.role, 1)
			if len(lines) != 2 || !strings.Contains(lines[0], "permission denied for ") || lines[1] != want {
				t.Errorf("stderr:\n%s\nwant the permission error, then\n%s", stderr, want)
			}
			if strings.Contains(stdout, "interrupted") || strings.Contains(stdout, "run it again") {
				t.Errorf("stdout says more than the error:\n%s", stdout)
			}
		})
	}

	// doctor reports the failed check with the hint below it.
	code, stdout, stderr := p.cliAs(t, app, "doctor")
	expectCode(t, "doctor", code, 1, stdout, stderr)
	mustContain(t, "doctor as the writer", stdout, "FAIL  partitions", "permission denied for ", strings.Replace(writerReadHint, "%s", app, 1))

	// The roles that may do it do it: no hint.
	for _, c := range []struct {
		role string
		args []string
	}{{r["janitor"], []string{"seal"}}, {r["janitor"], []string{"maintain"}}, {reader, []string{"verify"}}, {reader, []string{"purge", "-dry-run"}}} {
		code, stdout, stderr := p.cliAs(t, c.role, c.args...)
		expectCode(t, strings.Join(c.args, " "), code, 0, stdout, stderr)
	}
}

// TestServeRefusesTheWriterRole: serve checks its role before it listens
// and refuses the application's writer role, saying which role section
// to use; a reader role serves.
func TestServeRefusesTheWriterRole(t *testing.T) {
	p, r := newOwnedProject(t)
	code, stdout, stderr := p.cliAs(t, r["app"], "serve", "-addr", "127.0.0.1:0")
	expectCode(t, "serve as the writer", code, 1, stdout, stderr)
	want := "threadline serve: refusing to serve the viewer: " + strings.TrimPrefix(strings.Replace(writerReadHint, "%s", r["app"], 1), "hint: ") + "\n"
	if stderr != want || strings.Contains(stdout, "audit viewer at") {
		t.Errorf("serve as the writer:\nstdout %q\nstderr %q\nwant   %q", stdout, stderr, want)
	}

	// A role that can do nothing at all is refused the same way.
	stranger := pgtest.Roles(t, "stranger")["stranger"]
	code, stdout, stderr = p.cliAs(t, stranger, "serve", "-addr", "127.0.0.1:0")
	expectCode(t, "serve as a stranger", code, 1, stdout, stderr)
	mustContain(t, "serve as a stranger", stderr, `refusing to serve the viewer: role "`+stranger+`" may not read the audit trail: connect as a role listed in privileges.reader_roles`+grantsNote)

	readerURL := asRole(t, p.db, r["reader"])
	u := startServe(t, p, nil, "-database-url", readerURL)
	if !strings.Contains(u, "token=") {
		t.Fatalf("serve as the reader printed %s", u)
	}
}
