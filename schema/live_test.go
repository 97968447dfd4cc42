package schema

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/dburl"
)

// The types the generator hands to LoadLive.
var (
	_ Querier = (*pgx.Conn)(nil)
	_ Querier = (*pgxpool.Pool)(nil)
	_ Querier = pgx.Tx(nil)
)

func TestLoadLiveExcludesSchemas(t *testing.T) {
	db := pgtest.NewDB(t, `
CREATE SCHEMA threadline;
CREATE TYPE threadline.op AS ENUM ('insert', 'update');
CREATE DOMAIN threadline.txid AS bigint;
CREATE TABLE threadline.audit_changes (id bigint PRIMARY KEY, op threadline.op);
CREATE TABLE public.keep (id int PRIMARY KEY, op threadline.op);
CREATE EXTENSION IF NOT EXISTS citext;`)
	ctx := context.Background()
	s, err := LoadLive(ctx, db.Pool, LiveOptions{ExcludeSchemas: []string{"threadline"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := tableNames(s); len(got) != 1 || got[0] != "public.keep" {
		t.Errorf("tables = %v, want [public.keep]", got)
	}
	if len(s.Enums) != 0 || len(s.Domains) != 0 {
		t.Errorf("enums %v domains %v, want none", s.Enums, s.Domains)
	}
	// A column may still use a type of an excluded schema.
	if got := s.Table(qn("public", "keep")).Column("op").Type; got != (Type{Schema: "threadline", Name: "op", Enum: true}) {
		t.Errorf("keep.op = %+v", got)
	}

	all, err := LoadLive(ctx, db.Pool, LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if all.Table(qn("threadline", "audit_changes")) == nil || len(all.Enums) != 1 || len(all.Domains) != 1 {
		t.Errorf("without exclusion: tables %v enums %d domains %d", tableNames(all), len(all.Enums), len(all.Domains))
	}
}

func TestLoadLiveInTransaction(t *testing.T) {
	db := pgtest.NewDB(t, "CREATE TABLE t (id int PRIMARY KEY)")
	ctx := context.Background()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "CREATE TABLE uncommitted (id int)"); err != nil {
		t.Fatal(err)
	}
	s, err := LoadLive(ctx, tx, LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tableNames(s); strings.Join(got, ",") != "public.t,public.uncommitted" {
		t.Errorf("tables = %v", got)
	}
}

// countingQuerier counts the queries LoadLive runs.
type countingQuerier struct {
	Querier
	n int
}

func (c *countingQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.n++
	return c.Querier.Query(ctx, sql, args...)
}

// TestLoadLiveManyTables checks that loading is set-based: the number of
// queries does not grow with the number of tables.
func TestLoadLiveManyTables(t *testing.T) {
	var b strings.Builder
	b.WriteString("CREATE TYPE st AS ENUM ('a', 'b');\n")
	for i := range 200 {
		fmt.Fprintf(&b, "CREATE TABLE t%03d (id bigint PRIMARY KEY, name text NOT NULL, s st, tags text[], at timestamptz);\n", i)
	}
	db := pgtest.NewDB(t, b.String())
	q := &countingQuerier{Querier: db.Pool}
	start := time.Now()
	s, err := LoadLive(context.Background(), q, LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d tables with %d queries in %v", len(s.Tables), q.n, time.Since(start))
	if len(s.Tables) != 200 || q.n > 3 {
		t.Errorf("tables %d queries %d; want 200 tables in at most 3 queries", len(s.Tables), q.n)
	}
	if tb := s.Tables[199]; tb.Name != "t199" || len(tb.Columns) != 5 || tb.PrimaryKey[0] != "id" {
		t.Errorf("last table = %+v", tb)
	}
}

func TestConnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := Connect(ctx, pgtest.ServerURL())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	conn.Close(ctx)

	for _, url := range []string{
		"postgres://alice:s3cr3t-pw@127.0.0.1:1/app?sslmode=disable&connect_timeout=5",
		"host=127.0.0.1 port=1 user=alice password=s3cr3t-pw dbname=app sslmode=disable connect_timeout=5",
	} {
		_, err := Connect(ctx, url)
		if err == nil {
			t.Fatalf("Connect(%s) succeeded", dburl.Redact(url))
		}
		msg := err.Error()
		if strings.Contains(msg, "s3cr3t-pw") || !strings.Contains(msg, "xxxxx") || !strings.Contains(msg, "127.0.0.1") {
			t.Errorf("error %q must name the URL without its password", msg)
		}
	}
}

func qn(s, n string) QualifiedName { return QualifiedName{Schema: s, Name: n} }

func tableNames(s *Schema) []string {
	var out []string
	for _, t := range s.Tables {
		out = append(out, t.String())
	}
	return out
}
