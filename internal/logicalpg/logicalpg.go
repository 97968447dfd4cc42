// Package logicalpg starts a private PostgreSQL cluster with
// wal_level = logical for the tests of the WAL capture engine.
//
// The shared server on 127.0.0.1:5432 runs with wal_level = replica, and
// changing it needs a restart, so the tests bring their own cluster:
// initdb and pg_ctl from `pg_config --bindir`, run as the postgres user
// (through runuser) when the tests run as root, in a fresh directory under
// the system temporary directory, on a free port. Start it once per test
// binary (TestMain) and Stop it at the end. A test that cannot start it
// fails: it never skips.
package logicalpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running private cluster.
type Cluster struct {
	// Dir holds the data directory and the log.
	Dir string
	// Port is the TCP port it listens on (127.0.0.1 only).
	Port int
	// URL connects to its postgres database as the superuser postgres.
	URL string

	bindir string
	asUser string // "" when the current user runs the server
}

// Start initialises and starts a cluster with wal_level = logical. extra
// lines are appended to postgresql.conf.
func Start(ctx context.Context, extra ...string) (*Cluster, error) {
	bindir, err := binDir(ctx)
	if err != nil {
		return nil, err
	}
	c := &Cluster{bindir: bindir}
	if os.Geteuid() == 0 {
		c.asUser = "postgres"
		if _, err := user.Lookup(c.asUser); err != nil {
			return nil, fmt.Errorf("logicalpg: running as root needs the postgres user to run the server: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "threadline-logical-")
	if err != nil {
		return nil, fmt.Errorf("logicalpg: temp dir: %w", err)
	}
	c.Dir = dir
	if c.asUser != "" {
		// MkdirTemp makes the directory 0700 and owned by root: hand it
		// to the server's user.
		if out, err := exec.CommandContext(ctx, "chown", c.asUser, dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("logicalpg: chown %s: %w: %s", dir, err, out)
		}
	}
	data := filepath.Join(dir, "data")
	if err := c.run(ctx, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, c.fail(err)
	}
	port, err := freePort()
	if err != nil {
		return nil, c.fail(err)
	}
	c.Port = port
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(port),
		"unix_socket_directories = '" + dir + "'",
		"wal_level = logical",
		"max_replication_slots = 20",
		"max_wal_senders = 20",
		"max_connections = 200",
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"shared_buffers = 128MB",
		"logical_decoding_work_mem = 64MB",
	}
	conf = append(conf, extra...)
	if err := c.appendConf(filepath.Join(data, "postgresql.conf"), conf); err != nil {
		return nil, c.fail(err)
	}
	if err := c.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		return nil, c.fail(err)
	}
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.URL)
		if err == nil {
			_ = conn.Close(ctx)
			break
		}
		if time.Now().After(deadline) {
			c.Stop()
			return nil, fmt.Errorf("logicalpg: connect %s: %w (log: %s)", c.URL, err, c.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c, nil
}

// binDir finds initdb and pg_ctl: `pg_config --bindir`, else the newest
// Debian server directory (/usr/lib/postgresql/N/bin).
func binDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "pg_config", "--bindir").Output()
	if err == nil {
		dir := strings.TrimSpace(string(out))
		if _, serr := os.Stat(filepath.Join(dir, "initdb")); serr == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	best, bestV := "", -1
	for _, d := range dirs {
		v, perr := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(d))))
		if perr == nil && v > bestV {
			best, bestV = filepath.Dir(d), v
		}
	}
	if best == "" {
		return "", fmt.Errorf("logicalpg: no initdb (pg_config --bindir: %v; none under /usr/lib/postgresql): install PostgreSQL's server packages", err)
	}
	return best, nil
}

// Host returns the unix socket directory, for connections that avoid TCP.
func (c *Cluster) Host() string { return c.Dir }

// Stop stops the server (fast shutdown) and removes its directory.
func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_ = c.run(ctx, "pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "fast", "-w", "stop")
	_ = os.RemoveAll(c.Dir)
}

// DatabaseURL returns the URL of database name on the cluster.
func (c *Cluster) DatabaseURL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, name)
}

func (c *Cluster) fail(err error) error {
	log := c.log()
	c.Stop()
	if log != "" {
		return fmt.Errorf("%w (server log: %s)", err, log)
	}
	return err
}

func (c *Cluster) log() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// run runs a server program from the bindir as the server's user.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) error {
	path := filepath.Join(c.bindir, prog)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = os.TempDir()
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("logicalpg: %s %s: %w: %s", prog, strings.Join(args, " "), err, buf.String())
	}
	return nil
}

// appendConf appends lines to postgresql.conf (as the server's user when
// the file is theirs: through runuser and tee).
func (c *Cluster) appendConf(path string, lines []string) error {
	text := "\n" + strings.Join(lines, "\n") + "\n"
	if c.asUser == "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("logicalpg: %w", err)
		}
		_, err = f.WriteString(text)
		return errors.Join(err, f.Close())
	}
	cmd := exec.Command("runuser", "-u", c.asUser, "--", "tee", "-a", path)
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("logicalpg: append to %s: %w: %s", path, err, out)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("logicalpg: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// NewDatabase creates a fresh database on the cluster and returns its URL.
func (c *Cluster) NewDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		return "", fmt.Errorf("logicalpg: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		return "", fmt.Errorf("logicalpg: create database %s: %w", name, err)
	}
	return c.DatabaseURL(name), nil
}
