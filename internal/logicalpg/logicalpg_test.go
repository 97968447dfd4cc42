package logicalpg

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var cluster *Cluster

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := Start(ctx)
	cancel()
	if err != nil {
		// The tests below fail on a nil cluster: nothing is skipped.
		fmt.Fprintln(os.Stderr, err)
	}
	cluster = c
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

// TestLogicalCluster: the private cluster runs with wal_level = logical
// and can create a logical slot.
func TestLogicalCluster(t *testing.T) {
	if cluster == nil {
		t.Fatal("the private logical cluster did not start (see stderr)")
	}
	ctx := context.Background()
	u, err := cluster.NewDatabase(ctx, "harness")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil || level != "logical" {
		t.Fatalf("wal_level = %q, %v", level, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot('harness', 'pgoutput')"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot('harness')"); err != nil {
		t.Fatal(err)
	}
}
