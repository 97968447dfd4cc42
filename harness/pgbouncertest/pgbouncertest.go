// Package pgbouncertest runs a real PgBouncer in front of a test database,
// for tests of what a connection pooler does to sessions (transaction
// pooling shares one server connection between clients).
//
// Start writes a generated configuration (listen on a free 127.0.0.1
// port, auth_type trust, the pool mode and size asked for, every database
// of the server behind it) into a directory of its own, starts pgbouncer
// in the foreground and stops it when the test ends. PgBouncer refuses to
// run as root: when the test runs as root, pgbouncer runs as the postgres
// user (or nobody), which owns the directory.
//
// Like package pgtest, it never skips: when pgbouncer is not installed the
// test fails, naming the Debian package (pgbouncer), which CI (.ci/run)
// installs.
//
// Usage:
//
//	db := pgtest.NewDB(t)
//	b := pgbouncertest.Start(t, db.URL, pgbouncertest.Options{PoolSize: 2})
//	cfg, _ := pgxpool.ParseConfig(b.URL)
//	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec // no named prepared statements
//	pool, _ := pgxpool.NewWithConfig(ctx, cfg)
//
// Like every package under harness/, it is this repository's own test and
// benchmark tooling, not part of Threadline's API: it may change or go at
// any commit (see the compatibility policy in README.md).
package pgbouncertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Package is the Debian package that provides pgbouncer.
const Package = "pgbouncer"

// startTimeout bounds how long Start waits for pgbouncer to accept a
// query, and stopTimeout how long the cleanup waits for it to exit.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
)

// Options configures Start. The zero value is transaction pooling with
// two server connections per database and user.
type Options struct {
	// PoolMode is pool_mode: "transaction" (default), "session" or
	// "statement".
	PoolMode string
	// PoolSize is default_pool_size: the server connections per
	// (database, user) pair (default 2). Clients beyond it share them.
	PoolSize int
	// Users are further roles clients connect as; the user of the URL
	// given to Start is always allowed. (auth_type trust still checks the
	// name against the auth file.)
	Users []string
	// Settings are further "key = value" lines of the [pgbouncer]
	// section.
	Settings []string
}

// Bouncer is a running pgbouncer, stopped when the test that started it
// ends.
type Bouncer struct {
	// URL is the URL given to Start with its host and port replaced by
	// pgbouncer's: the same database and user, through the pooler.
	URL string
	// Port is the port pgbouncer listens on, on 127.0.0.1.
	Port int

	dir    string
	stderr *lockedBuffer
}

// URLFor returns URL with its user replaced by user (one of
// Options.Users).
func (b *Bouncer) URLFor(user string) string {
	u, err := url.Parse(b.URL)
	if err != nil {
		return b.URL // b.URL was built by Start from a parsed URL
	}
	u.User = url.User(user)
	return u.String()
}

// Log returns what pgbouncer has logged so far (it runs in the
// foreground and logs to its standard error), for failure messages.
func (b *Bouncer) Log() string {
	return b.stderr.String()
}

// Binary returns the path of the pgbouncer executable: on PATH, or where
// Debian installs it (/usr/sbin, not on every user's PATH).
func Binary() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	const debian = "/usr/sbin/pgbouncer"
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	return "", fmt.Errorf("pgbouncer not found on PATH nor at /usr/sbin/pgbouncer (Debian: apt-get install %s)", Package)
}

// Start starts pgbouncer in front of the server of dbURL and returns it;
// it fails t when pgbouncer is not installed or does not come up.
func Start(t testing.TB, dbURL string, o Options) *Bouncer {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatalf("pgbouncertest: %v", err)
	}
	cfg, err := pgconn.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("pgbouncertest: parse database URL: %v", err)
	}
	dir, owner, err := makeDir()
	if err != nil {
		t.Fatalf("pgbouncertest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	b := &Bouncer{dir: dir, stderr: &lockedBuffer{}}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken before pgbouncer binds it
		if lastErr = b.start(t, bin, cfg, dbURL, o, owner); lastErr == nil {
			return b
		}
	}
	t.Fatalf("pgbouncertest: %v\n%s", lastErr, b.Log())
	return nil
}

// start makes one attempt: a free port, the configuration, the process,
// and a first query through it.
func (b *Bouncer) start(t testing.TB, bin string, cfg *pgconn.Config, dbURL string, o Options, owner *account) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	ini, err := b.writeConfig(cfg, o, port, owner)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, ini)
	cmd.Stderr, cmd.Stdout = b.stderr, b.stderr
	runAs(cmd, owner)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Port = port
	if b.URL, err = replaceHost(dbURL, port); err != nil {
		stop(cmd, exited)
		return err
	}
	if err := b.waitReady(exited); err != nil {
		stop(cmd, exited)
		return err
	}
	t.Cleanup(func() { stop(cmd, exited) })
	return nil
}

// writeConfig writes pgbouncer.ini and the auth file into b.dir and
// returns the ini's path.
func (b *Bouncer) writeConfig(cfg *pgconn.Config, o Options, port int, owner *account) (string, error) {
	mode, size := o.PoolMode, o.PoolSize
	if mode == "" {
		mode = "transaction"
	}
	if size <= 0 {
		size = 2
	}
	var users strings.Builder
	fmt.Fprintf(&users, "%s %s\n", quote(cfg.User), quote(cfg.Password))
	for _, u := range o.Users {
		if u != cfg.User {
			fmt.Fprintf(&users, "%s \"\"\n", quote(u))
		}
	}
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = %s
default_pool_size = %d
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
%s
`, cfg.Host, cfg.Port, port, filepath.Join(b.dir, "userlist.txt"), mode, size, strings.Join(o.Settings, "\n"))
	path := filepath.Join(b.dir, "pgbouncer.ini")
	for name, content := range map[string]string{"userlist.txt": users.String(), "pgbouncer.ini": ini} {
		if err := writeOwned(filepath.Join(b.dir, name), content, owner); err != nil {
			return "", err
		}
	}
	return path, nil
}

// waitReady waits until a query through pgbouncer succeeds, or the
// process exits, or startTimeout passes.
func (b *Bouncer) waitReady(exited <-chan error) error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("pgbouncer exited at start: %v", err)
		default:
		}
		err := ping(b.URL)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgbouncer on port %d not ready after %s: %w", b.Port, startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ping runs one query through u.
func ping(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "select 1", pgx.QueryExecModeSimpleProtocol)
	return err
}

// stop ends pgbouncer (immediate shutdown), killing it when it does not
// exit in time.
func stop(cmd *exec.Cmd, exited <-chan error) {
	if cmd.Process == nil {
		return
	}
	_ = terminate(cmd.Process)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("find a free port: not a TCP address")
	}
	return addr.Port, nil
}

// replaceHost returns u with its host 127.0.0.1:port.
func replaceHost(u string, port int) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	pu.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return pu.String(), nil
}

// quote renders s as a double-quoted auth-file field.
func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// lockedBuffer collects pgbouncer's output while Log may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
