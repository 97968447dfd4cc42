package threadlinecapture

import (
	"context"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/schema"
)

// generatedMain uses the package threadline-gen writes for engine: wal: an
// attributed write through its InTx (no WALMessage set by the caller),
// its WaitForTrail (no slot named), then the trail of the write, read at
// once.
const generatedMain = `package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	threadline "github.com/threadline-go/threadline/runtime"

	"example.com/generated/audit"
)

func main() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Args[1])
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	err = audit.InTx(ctx, pool, threadline.TxOptions{Actor: threadline.User("u-gen"), RequestID: "req-gen"}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO notes VALUES (11, 'generated')")
		return err
	})
	if err != nil {
		panic(err)
	}
	if err := audit.WaitForTrail(ctx, pool, threadline.TrailWaitOptions{Timeout: 30 * time.Second}); err != nil {
		panic(err)
	}
	var got string
	err = pool.QueryRow(ctx, ` + "`" + `SELECT string_agg(c.op || ' ' || c.table_pk::text || ' ' || coalesce(h.actor_ref::text, '-') || ' ' || coalesce(h.request_id, '-'), '; ')
		FROM threadline.audit_changes AS c JOIN threadline.audit_transactions AS h ON h.id = c.transaction_id` + "`" + `).Scan(&got)
	if err != nil {
		panic(err)
	}
	fmt.Print(got)
}
`

// TestGeneratedPackageWAL: the Go package threadline-gen writes for
// engine: wal sends the attribution message from its InTx, without the
// caller asking, and its WaitForTrail waits on the configured slot: right
// after it returns, the write is in the trail with its actor and request
// id. It builds and runs a program against the generated package (the go
// command, so it is slow).
func TestGeneratedPackageWAL(t *testing.T) {
	db := newDB(t, "wal", waitDDL, "  notes: {}\n")
	createSlot(t, db, "gen_slot")
	runConsumer(t, db, "gen_slot")

	dir := t.TempDir()
	text := "version: 1\nschema:\n  database_url: unused\nmigrations:\n  dir: migrations\n  format: plain\n" +
		"package:\n  dir: audit\nengine: wal\nwal:\n  slot: gen_slot\ntables:\n  notes: {}\n"
	cfg, err := config.Parse(filepath.Join(dir, "threadline.yaml"), []byte(text), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.LoadLive(context.Background(), db.pool, schema.LiveOptions{ExcludeSchemas: []string{cfg.AuditSchema}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Migrations: map[string][]byte{}, Package: map[string][]byte{},
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	gomod := "module example.com/generated\n\ngo 1.26\n\nrequire github.com/threadline-go/threadline v0.0.0\n\nreplace github.com/threadline-go/threadline => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "check/main.go": []byte(generatedMain)} {
		p := filepath.Join(mod, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := generator.Write(filepath.Join(mod, "audit"), out.Package); err != nil {
		t.Fatal(err)
	}
	goBin, err := osexec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	cmd := osexec.Command(goBin, "run", "./check", db.url)
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go run: %v\n%s", err, stderr.String())
	}
	if got, want := stdout.String(), `insert {"id": 11} {"id": "u-gen", "type": "user"} req-gen`; got != want {
		t.Fatalf("the trail right after audit.WaitForTrail: %q, want %q", got, want)
	}
}
