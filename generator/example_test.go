package generator_test

import (
	"fmt"
	"log"
	"time"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/schema"
)

// Generate called from a program of your own: a config parsed from text
// and a schema built in code (or loaded with schema.LoadLive, or with
// sqlfile.LoadGlobs).
func ExampleGenerate() {
	cfg, err := config.Parse("/project/threadline.yaml", []byte(`version: 1
schema:
  database_url: postgres://localhost/app
migrations:
  dir: db/migrations
  format: goose
package:
  dir: audit
tables:
  users:
    mask: [email]
`), func(string) string { return "" })
	if err != nil {
		log.Fatal(err)
	}
	text := schema.Type{Schema: "pg_catalog", Name: "text"}
	s := &schema.Schema{Tables: []*schema.Table{{
		QualifiedName: schema.QualifiedName{Schema: "public", Name: "users"},
		Columns: []*schema.Column{
			{Name: "id", Type: schema.Type{Schema: "pg_catalog", Name: "int8"}, NotNull: true},
			{Name: "email", Type: text},
		},
		PrimaryKey: []string{"id"},
	}}}
	out, err := generator.Generate(generator.Input{
		Config: cfg, Schema: s,
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range out.Plan {
		fmt.Println("plan:", p)
	}
	for _, f := range out.Migrations {
		fmt.Println("migration:", f.Path)
	}
	for _, f := range out.Package {
		fmt.Println("package:", f.Path)
	}
	// Output:
	// plan: install audit schema threadline
	// plan: capture public.users
	// migration: 20260102030405_threadline_install.sql
	// package: threadline.go
	// package: users.go
}
