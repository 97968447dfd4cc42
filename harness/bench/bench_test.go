package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/schema/sqlfile"
)

// BenchmarkGenerate200Tables times threadline-gen's pipeline (config,
// offline schema parse, SQL and Go generation with validation) on a
// 200-table schema. Target (SPEC §13): under 5 s.
func BenchmarkGenerate200Tables(b *testing.B) {
	dir := b.TempDir()
	ddl, tables := schemaOf(200)
	os.WriteFile(filepath.Join(dir, "schema.sql"), []byte(ddl), 0o644)
	path := filepath.Join(dir, "threadline.yaml")
	os.WriteFile(path, []byte("version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: m\n  format: goose\npackage:\n  dir: a\ntables:\n"+tables), 0o644)
	ctx := context.Background()
	for b.Loop() {
		cfg, err := config.Load(path)
		if err != nil {
			b.Fatal(err)
		}
		s, _, err := generator.LoadSchema(ctx, cfg, os.Getenv, generator.Parser{LoadGlobs: sqlfile.LoadGlobs})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Now: time.Now, Migrations: map[string][]byte{}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSingleRowUpdate compares one-row UPDATE statements (each in its
// own transaction) on an unaudited and an audited copy of the same table.
// Compare the two ns/op figures: their ratio is the per-statement cost of
// capture.
func BenchmarkSingleRowUpdate(b *testing.B) {
	const ddl = `CREATE TABLE items (id bigint PRIMARY KEY, qty integer NOT NULL, note text);
		INSERT INTO items SELECT g, 0, 'item ' || g FROM generate_series(1, 10000) AS g`
	for _, audited := range []bool{false, true} {
		b.Run(fmt.Sprintf("audited=%v", audited), func(b *testing.B) {
			var db *pgtest.DB
			if audited {
				db = capturetest.Setup(b, ddl, "  items: {}\n")
			} else {
				db = pgtest.NewDB(b, ddl)
			}
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				if _, err := db.Pool.Exec(ctx, `UPDATE items SET qty = qty + 1 WHERE id = $1`, 1+i%10000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
