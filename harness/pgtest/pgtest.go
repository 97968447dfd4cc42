// Package pgtest gives each test its own PostgreSQL database.
//
// Tests never mock the database: they talk to the server named by
// THREADLINE_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
// When the server cannot be reached the test fails; it never skips, so a CI
// run without PostgreSQL is red, not silently green.
//
// Like every package under harness/, it is this repository's own test and
// benchmark tooling, not part of Threadline's API: it may change or go at
// any commit (see the compatibility policy in README.md).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/internal/dburl"
)

// EnvURL is the environment variable that points tests at a server.
const EnvURL = "THREADLINE_TEST_DATABASE_URL"

// DefaultURL is used when EnvURL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the URL of the maintenance database tests connect to.
func ServerURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// DB is a fresh, empty database that is dropped when the test ends.
type DB struct {
	// Name is the database name.
	Name string
	// URL connects to the database.
	URL string
	// Pool is a connection pool on the database, closed at cleanup.
	Pool *pgxpool.Pool
}

// WithDatabase returns u with its database name replaced by name.
func WithDatabase(u, name string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	pu.Path = "/" + name
	return pu.String(), nil
}

// NewDB creates a new database for t, runs setup statements in it, and
// registers its removal. It fails t when PostgreSQL is unreachable.
func NewDB(t testing.TB, setup ...string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatalf("pgtest: PostgreSQL unreachable at %s (set %s): %v", dburl.Redact(ServerURL()), EnvURL, err)
	}
	defer admin.Close(context.Background())

	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "tl_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, ServerURL())
		if err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	u, err := WithDatabase(ServerURL(), name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", dburl.Redact(u), err)
	}
	t.Cleanup(pool.Close)
	for _, s := range setup {
		if _, err := pool.Exec(ctx, s); err != nil {
			t.Fatalf("pgtest: setup: %v\n%s", err, s)
		}
	}
	return &DB{Name: name, URL: u, Pool: pool}
}

// Exec runs sql in db and fails t on error.
func (db *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// Roles creates one LOGIN role per kind, named tl_<kind>_<random suffix>,
// and returns the names by kind. Cleanup drops them (with what they own
// in the maintenance database). Call it before NewDB, so that the test's
// databases are dropped first (cleanups run last-registered first).
func Roles(t testing.TB, kinds ...string) map[string]string {
	t.Helper()
	return RolesOn(t, ServerURL(), kinds...)
}

// RolesOn is Roles on the server whose maintenance database serverURL
// names (a private cluster, say). A kind may be followed by role options
// ("owner REPLICATION"); the name and the key are the kind's first word.
func RolesOn(t testing.TB, serverURL string, kinds ...string) map[string]string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		hint := ""
		if serverURL == ServerURL() {
			hint = " (set " + EnvURL + ")"
		}
		t.Fatalf("pgtest: PostgreSQL unreachable at %s%s: %v", dburl.Redact(serverURL), hint, err)
	}
	defer admin.Close(ctx)
	out := map[string]string{}
	for _, k := range kinds {
		kind, options, _ := strings.Cut(k, " ")
		name := "tl_" + kind + "_" + suffix
		if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN "+options); err != nil {
			t.Fatalf("pgtest: create role %s: %v", name, err)
		}
		out[kind] = name
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			t.Errorf("pgtest: drop roles: %v", err)
			return
		}
		defer c.Close(ctx)
		for _, name := range out {
			q := pgx.Identifier{name}.Sanitize()
			if _, err := c.Exec(ctx, "DROP OWNED BY "+q+"; DROP ROLE IF EXISTS "+q); err != nil {
				t.Errorf("pgtest: drop role %s: %v", name, err)
			}
		}
	})
	return out
}
