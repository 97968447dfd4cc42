package generator

import (
	"context"
	"fmt"

	"github.com/threadline-go/threadline/internal/config"
	"github.com/threadline-go/threadline/schema"
)

// SchemaSource says where LoadSchema read the schema from.
type SchemaSource struct {
	// Live is true when the schema came from a database.
	Live bool
	// URL is the database URL with any password redacted, or "".
	URL string
}

// LoadSchema loads the schema the config points at: the live database when
// schema.database_url expands to a non-empty URL; otherwise the
// schema.files globs; otherwise the DATABASE_URL environment variable.
func LoadSchema(ctx context.Context, cfg *config.Config, getenv func(string) string) (*schema.Schema, SchemaSource, error) {
	url := cfg.Schema.DatabaseURL
	if url == "" && len(cfg.Schema.Files) == 0 {
		url = getenv("DATABASE_URL")
	}
	if url == "" {
		if len(cfg.Schema.Files) == 0 {
			return nil, SchemaSource{}, config.Errorf(cfg.Schema.DatabaseURLPos,
				"no schema source: schema.database_url is empty (is the environment variable set?) and schema.files is not set")
		}
		s, err := schema.LoadGlobs(cfg.Schema.Files)
		if err != nil {
			return nil, SchemaSource{}, err
		}
		// schema.files may cover the generator's own migrations: the audit
		// schema is never part of the user's schema.
		return s.WithoutSchemas(cfg.AuditSchema), SchemaSource{}, nil
	}
	conn, err := schema.Connect(ctx, url)
	if err != nil {
		return nil, SchemaSource{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s, err := schema.LoadLive(ctx, conn, schema.LiveOptions{ExcludeSchemas: []string{cfg.AuditSchema}})
	if err != nil {
		return nil, SchemaSource{}, fmt.Errorf("%w (database %s)", err, schema.RedactURL(url))
	}
	return s, SchemaSource{Live: true, URL: schema.RedactURL(url)}, nil
}
