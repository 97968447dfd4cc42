package generator_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/schema/sqlfile"
)

// TestGoPackageEngineFuncs: the generated InTx and WaitForTrail follow the
// config's engine (engine: wal sets TxOptions.WALMessage and the
// configured slot; engine: trigger calls the runtime as is), and tables
// and enums named in_tx and wait_for_trail get other Go names (an enum's
// type would be InTx), so the package builds and vets for both engines.
func TestGoPackageEngineFuncs(t *testing.T) {
	for _, engine := range []string{"trigger", "wal"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "schema.sql"), []byte("CREATE TYPE in_tx AS ENUM ('a'); CREATE TYPE wait_for_trail AS ENUM ('b');"+
			" CREATE TABLE in_tx (id int PRIMARY KEY, s in_tx); CREATE TABLE wait_for_trail (id int PRIMARY KEY, w wait_for_trail);"), 0o644); err != nil {
			t.Fatal(err)
		}
		text := "version: 1\nschema:\n  files: [" + filepath.Join(dir, "schema.sql") + "]\nmigrations: {dir: m, format: plain}\npackage: {dir: p, name: p}\n" +
			"engine: " + engine + "\nwal:\n  slot: orders_slot\ntables:\n  in_tx: {}\n  wait_for_trail: {}\n"
		cfg, err := config.Parse(filepath.Join(dir, "threadline.yaml"), []byte(text), func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		s, err := sqlfile.LoadGlobs(cfg.Schema.Files)
		if err != nil {
			t.Fatal(err)
		}
		out, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Now: time.Now, Migrations: map[string][]byte{}, Package: map[string][]byte{}})
		if err != nil {
			t.Fatal(err)
		}
		var shared string
		for _, f := range out.Package {
			if f.Path == "threadline.go" {
				shared = string(f.Content)
			}
		}
		wantWAL := engine == "wal"
		if strings.Contains(shared, "opts.WALMessage = true") != wantWAL || strings.Contains(shared, `opts.Slot = "orders_slot"`) != wantWAL ||
			!strings.Contains(shared, "\nfunc InTx(ctx context.Context, db threadline.Beginner, opts threadline.TxOptions, fn func(pgx.Tx) error) error {\n") ||
			!strings.Contains(shared, "\nfunc WaitForTrail(ctx context.Context, db threadline.DBTX, opts threadline.TrailWaitOptions) error {\n") {
			t.Fatalf("engine %s: threadline.go:\n%s", engine, shared)
		}
		mod := tempModule(t, "p", out.Package)
		if out, err := goTool(t, mod, "vet", "./..."); err != nil {
			t.Fatalf("engine %s: go vet: %v\n%s", engine, err, out)
		}
	}
}
