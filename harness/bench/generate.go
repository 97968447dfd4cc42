package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/schema/sqlfile"
)

// schemaOf writes a schema of n tables of varied shapes: integer, uuid,
// text and composite keys, 6 to 30 columns of mixed types.
func schemaOf(n int) (ddl, tables string) {
	var b, t strings.Builder
	b.WriteString("CREATE TYPE status AS ENUM ('new', 'active', 'closed');\n")
	types := []string{"text", "integer", "bigint", "numeric(12,2)", "boolean", "timestamptz", "date", "jsonb", "text[]", "status", "uuid", "bytea"}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("table_%03d", i)
		fmt.Fprintf(&b, "CREATE TABLE %s (\n", name)
		switch i % 4 {
		case 0:
			b.WriteString("    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
		case 1:
			b.WriteString("    id uuid PRIMARY KEY DEFAULT gen_random_uuid()")
		case 2:
			b.WriteString("    code text PRIMARY KEY")
		case 3:
			b.WriteString("    org_id bigint NOT NULL,\n    seq integer NOT NULL")
		}
		cols := 6 + i%25
		for c := 0; c < cols; c++ {
			fmt.Fprintf(&b, ",\n    col_%02d %s", c, types[(i+c)%len(types)])
		}
		if i%4 == 3 {
			b.WriteString(",\n    PRIMARY KEY (org_id, seq)")
		}
		b.WriteString("\n);\n")
		fmt.Fprintf(&t, "  %s:", name)
		if i%5 == 0 {
			t.WriteString("\n    exclude: [col_00]\n    mask: [col_01]\n    store_changed_from: true\n")
		} else {
			t.WriteString(" {}\n")
		}
	}
	return b.String(), t.String()
}

// generate times threadline-gen's whole pipeline (config, offline schema
// parse, generation with SQL validation) for a GenTables-table schema.
func (r *runner) generate(ctx context.Context) ([]Result, error) {
	dir, err := os.MkdirTemp("", "threadline-bench-gen-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ddl, tables := schemaOf(r.o.GenTables)
	if err := os.WriteFile(filepath.Join(dir, "schema.sql"), []byte(ddl), 0o644); err != nil {
		return nil, err
	}
	cfgText := "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: goose\npackage:\n  dir: audit\ntables:\n" + tables
	path := filepath.Join(dir, "threadline.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o644); err != nil {
		return nil, err
	}
	var secs []float64
	var files int
	for i := 0; i < r.o.Rounds; i++ {
		start := time.Now()
		cfg, err := config.Load(path)
		if err != nil {
			return nil, err
		}
		s, _, err := generator.LoadSchema(ctx, cfg, os.Getenv, generator.Parser{LoadGlobs: sqlfile.LoadGlobs})
		if err != nil {
			return nil, err
		}
		out, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Now: time.Now, Migrations: map[string][]byte{}})
		if err != nil {
			return nil, err
		}
		secs = append(secs, time.Since(start).Seconds())
		files = len(out.Migrations) + len(out.Package)
	}
	s := summarize(secs)
	return []Result{{
		Workload: "generate", Metric: fmt.Sprintf("%d-table schema, offline, %d files", r.o.GenTables, files),
		Ratio: fmt.Sprintf("%.2f s", s.median), Spread: fmt.Sprintf("%.2f–%.2f s", s.lo, s.hi), Target: "<= 5 s",
	}}, nil
}
