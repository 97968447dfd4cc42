package generator_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/schema/sqlfile"
)

// project is a throwaway user repository: a config, a schema file and the
// generated output, in a temp dir.
type project struct {
	t   testing.TB
	dir string
	now time.Time
}

func newProject(t testing.TB, cfgText, schemaSQL string) *project {
	t.Helper()
	p := &project{t: t, dir: t.TempDir(), now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	p.write("threadline.yaml", cfgText)
	p.write("schema.sql", schemaSQL)
	return p
}

func (p *project) write(rel, content string) {
	p.t.Helper()
	path := filepath.Join(p.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// generate runs the generator like threadline-gen does and returns the
// files it wrote (relative to the migrations dir). Each call advances the
// clock by a minute.
func (p *project) generate() ([]generator.File, error) {
	p.t.Helper()
	out, err := p.run()
	if err != nil {
		return nil, err
	}
	return out.Migrations, nil
}

// run is generate returning the generator's whole output; it writes the
// migrations.
func (p *project) run() (*generator.Output, error) {
	p.t.Helper()
	p.now = p.now.Add(time.Minute)
	cfg, err := config.Load(filepath.Join(p.dir, "threadline.yaml"))
	if err != nil {
		return nil, err
	}
	s, _, err := generator.LoadSchema(context.Background(), cfg, func(string) string { return "" }, pgParser)
	if err != nil {
		return nil, err
	}
	existing, err := generator.ReadDir(cfg.Migrations.Dir)
	if err != nil {
		return nil, err
	}
	now := p.now
	out, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Now: func() time.Time { return now }, Migrations: existing, Check: pgParser.Check})
	if err != nil {
		return nil, err
	}
	return out, generator.Write(cfg.Migrations.Dir, out.Migrations)
}

func (p *project) mustGenerate() []generator.File {
	p.t.Helper()
	files, err := p.generate()
	if err != nil {
		p.t.Fatalf("generate: %v", err)
	}
	return files
}

// migrations lists the files in the migrations dir, sorted.
func (p *project) migrations() []string {
	p.t.Helper()
	files, err := generator.ReadDir(filepath.Join(p.dir, "migrations"))
	if err != nil {
		p.t.Fatal(err)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (p *project) read(rel string) string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, rel))
	if err != nil {
		p.t.Fatal(err)
	}
	return string(b)
}

// pgParser is PostgreSQL's parser, as threadline-gen gives it to the
// generator: tests load schema.files and check generated SQL with it.
var pgParser = generator.Parser{LoadGlobs: sqlfile.LoadGlobs, Check: sqlfile.Check}
