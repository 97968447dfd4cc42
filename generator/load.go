package generator

import (
	"context"
	"fmt"
	"time"

	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/dburl"
	"github.com/threadline-go/threadline/schema"
)

// Parser is what the generator needs PostgreSQL's own SQL parser for.
// Package schema/sqlfile provides both functions; it needs cgo, so the
// generator takes them as values and itself builds with CGO_ENABLED=0.
type Parser struct {
	// LoadGlobs loads the schema from the SQL files matching the
	// schema.files patterns (sqlfile.LoadGlobs). Nil: a config that names
	// schema files is an error.
	LoadGlobs func(patterns []string) (*schema.Schema, error)
	// Check parses generated statements (sqlfile.Check). Nil: generated
	// SQL is not parsed before it is written.
	Check func(stmts []string) error
}

// LoadedFrom says where LoadSchema read the schema from.
type LoadedFrom struct {
	// Live is true when the schema came from a database.
	Live bool
	// URL is the database URL with any password redacted, or "".
	URL string
	// Pending, when Live, lists the application's migrations in the
	// migrations directory that the database has not applied, by the
	// migration tool's table PendingTable; empty when all are, or when no
	// tool's table could be read.
	Pending      []string
	PendingTable string
}

// LoadSchema loads the schema the config points at: the live database when
// schema.database_url expands to a non-empty URL; otherwise the
// schema.files globs (with p.LoadGlobs); otherwise the DATABASE_URL
// environment variable.
func LoadSchema(ctx context.Context, cfg *config.Config, getenv func(string) string, p Parser) (*schema.Schema, LoadedFrom, error) {
	url := cfg.Schema.DatabaseURL
	if url == "" && len(cfg.Schema.Files) == 0 {
		url = getenv("DATABASE_URL")
	}
	if url == "" {
		if len(cfg.Schema.Files) == 0 {
			return nil, LoadedFrom{}, config.Errorf(cfg.Schema.DatabaseURLPos,
				"no schema source: schema.database_url is empty (is the environment variable set?) and schema.files is not set")
		}
		if p.LoadGlobs == nil {
			return nil, LoadedFrom{}, config.Errorf(cfg.Schema.FilesPos,
				"schema.files needs PostgreSQL's SQL parser, which this build lacks (it was built without cgo): run threadline-gen, or set schema.database_url")
		}
		s, err := p.LoadGlobs(cfg.Schema.Files)
		if err != nil {
			return nil, LoadedFrom{}, err
		}
		// schema.files may cover the generator's own migrations: the audit
		// schema is never part of the user's schema.
		return s.WithoutSchemas(cfg.AuditSchema), LoadedFrom{}, nil
	}
	conn, err := schema.Connect(ctx, url)
	if err != nil {
		return nil, LoadedFrom{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s, err := schema.LoadLive(ctx, conn, schema.LiveOptions{ExcludeSchemas: []string{cfg.AuditSchema}})
	if err != nil {
		return nil, LoadedFrom{}, fmt.Errorf("%w (database %s)", err, dburl.Redact(url))
	}
	from := LoadedFrom{Live: true, URL: dburl.Redact(url)}
	from.Pending, from.PendingTable = pendingMigrations(ctx, conn, cfg.Migrations)
	return s, from, nil
}

// Env is what Run takes from the process.
type Env struct {
	Getenv func(string) string
	Now    func() time.Time
	Parser Parser
}

// Result is what Run found and generated.
type Result struct {
	*Output
	// Input is what Generate was given: its Migrations and Package hold
	// the files that exist now.
	Input Input
	// From says where the schema came from.
	From LoadedFrom
}

// Run is the pipeline of threadline-gen and of threadline doctor's
// generated-files check: load the schema cfg names, read the files of the
// migrations and package directories, and generate.
func Run(ctx context.Context, cfg *config.Config, env Env) (*Result, error) {
	sch, from, err := LoadSchema(ctx, cfg, env.Getenv, env.Parser)
	if err != nil {
		return nil, err
	}
	in := Input{Config: cfg, Schema: sch, Now: env.Now, Check: env.Parser.Check}
	if in.Migrations, err = ReadDir(cfg.Migrations.Dir); err != nil {
		return nil, err
	}
	if in.Package, err = ReadDir(cfg.Package.Dir); err != nil {
		return nil, err
	}
	out, err := Generate(in)
	if err != nil {
		return nil, err
	}
	if w := pendingWarning(cfg, from.Pending, from.PendingTable); w != "" {
		out.Warnings = append(out.Warnings, w)
	}
	return &Result{Output: out, Input: in, From: from}, nil
}
