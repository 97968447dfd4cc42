package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Load reads and parses the config file at path. Environment variables in
// schema.database_url expand with os.Getenv. Every error is an *Error; a
// file that cannot be read wraps the underlying *fs.PathError.
func Load(path string) (*Config, error) {
	return LoadEnv(path, os.Getenv)
}

// LoadEnv is Load with the environment lookup supplied by the caller.
func LoadEnv(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		return nil, &Error{Pos: Pos{File: path}, Msg: "cannot read config: " + msg, Err: err}
	}
	return Parse(path, data, getenv)
}

// Parse decodes and validates the config text data read from path. path
// is used in error positions as given, and its directory (made absolute)
// is what relative paths resolve against. getenv expands variables in
// schema.database_url; nil means every variable is empty.
//
// Parse returns the first error: the first structural error (invalid
// YAML, unknown or duplicate key, wrong type) in file order, otherwise the
// validation problem that comes first in the file. Every error is an
// *Error.
func Parse(path string, data []byte, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, &Error{Pos: Pos{File: path}, Msg: "cannot resolve the config directory: " + err.Error(), Err: err}
	}
	root, err := readYAML(path, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: path, dir: dir, getenv: getenv}
	cfg, err := d.config(root)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// config decodes the root mapping. The version is checked first so that
// a config for another version fails on its version, not on its keys.
func (d *decoder) config(root *yaml.Node) (*Config, error) {
	cfg := &Config{
		Path:        d.file,
		Dir:         d.dir,
		AuditSchema: DefaultAuditSchema,
		Retention: Retention{
			BatchSize:               DefaultBatchSize,
			MaxBatches:              DefaultMaxBatches,
			DeleteEmptyTransactions: true,
		},
		Storage: Storage{Partitions: PartitionsNone, Premake: DefaultPremake},
		Engine:  EngineTrigger,
	}
	if err := d.version(root, cfg); err != nil {
		return nil, err
	}
	tables := &tableSet{}
	err := d.mapping(root, root, "", []field{
		{name: "version", required: true, decode: func(_, _ *yaml.Node) error { return nil }},
		{name: "schema", required: true, decode: d.schemaSection(&cfg.Schema)},
		{name: "audit_schema", decode: d.auditSchema(cfg)},
		{name: "migrations", required: true, decode: d.migrations(&cfg.Migrations)},
		{name: "package", required: true, decode: d.pkg(&cfg.Package)},
		{name: "tables", required: true, decode: d.tables(tables)},
		{name: "coverage", decode: d.coverage(&cfg.Coverage)},
		{name: "retention", decode: d.retention(&cfg.Retention)},
		{name: "privileges", decode: d.privileges(&cfg.Privileges)},
		{name: "storage", decode: d.storage(&cfg.Storage)},
		{name: "engine", decode: d.engine(cfg)},
		{name: "wal", decode: d.wal(&cfg.WAL)},
	})
	if err != nil {
		return nil, err
	}
	cfg.Tables = tables.list
	d.checkTables(tables, cfg.AuditSchema)
	d.checkIgnoredTables(cfg)
	d.checkWAL(cfg)
	if err := d.firstProblem(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// SupportedVersion is the only config version this package reads.
const SupportedVersion = 1

// version checks that the root mapping has version: 1.
func (d *decoder) version(root *yaml.Node, cfg *Config) error {
	pairs, err := d.pairs(root, "")
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if resolve(p.key).Value != "version" {
			continue
		}
		v, err := d.int(p.val, "version")
		if err != nil {
			return err
		}
		if v != SupportedVersion {
			return d.errf(p.val, "version: unsupported version %d (want %d)", v, SupportedVersion)
		}
		cfg.Version = v
		return nil
	}
	return d.errf(root, "missing required key %q", "version")
}

// schemaSection decodes schema.
func (d *decoder) schemaSection(s *SchemaSource) func(k, v *yaml.Node) error {
	return func(k, v *yaml.Node) error {
		err := d.mapping(k, v, "schema", []field{
			{name: "database_url", decode: func(_, v *yaml.Node) error { return d.databaseURL(v, s) }},
			{name: "files", decode: func(_, v *yaml.Node) error { return d.files(v, s) }},
		})
		if err != nil {
			return err
		}
		if s.DatabaseURLRaw == "" && len(s.Files) == 0 {
			d.problem(d.pos(k), "schema: set database_url (live database) or files (SQL files), or both")
		}
		return nil
	}
}

// databaseURL decodes schema.database_url and expands its variables.
func (d *decoder) databaseURL(v *yaml.Node, s *SchemaSource) error {
	raw, err := d.nonEmpty(v, "schema.database_url")
	if err != nil {
		return err
	}
	url, err := expandEnv(raw, d.getenv)
	if err != nil {
		return d.errf(v, "schema.database_url: %v", err)
	}
	s.DatabaseURL, s.DatabaseURLRaw, s.DatabaseURLPos = url, raw, d.pos(v)
	return nil
}

// files decodes schema.files into absolute glob patterns.
func (d *decoder) files(v *yaml.Node, s *SchemaSource) error {
	names, err := d.names(v, "schema.files", "glob pattern")
	if err != nil {
		return err
	}
	s.FilesPos = d.pos(v)
	s.Files = nil
	for i, n := range names {
		if _, err := filepath.Match(n.Value, ""); err != nil {
			d.problem(n.Pos, "schema.files[%d]: bad glob pattern %q: %v", i, n.Value, err)
		}
		s.Files = append(s.Files, d.absPattern(n.Value))
	}
	return nil
}

// auditSchema decodes audit_schema.
func (d *decoder) auditSchema(cfg *Config) func(k, v *yaml.Node) error {
	return func(_, v *yaml.Node) error {
		s, err := d.str(v, "audit_schema")
		if err != nil {
			return err
		}
		cfg.AuditSchema, cfg.AuditSchemaPos = s, d.pos(v)
		if msg := schemaNameProblem(s); msg != "" {
			d.problem(d.pos(v), "audit_schema: %s", msg)
		}
		return nil
	}
}

// migrations decodes the migrations section.
func (d *decoder) migrations(m *Migrations) func(k, v *yaml.Node) error {
	return func(k, v *yaml.Node) error {
		err := d.mapping(k, v, "migrations", []field{
			{name: "dir", required: true, decode: func(_, v *yaml.Node) error {
				dir, err := d.nonEmpty(v, "migrations.dir")
				m.Dir = d.abs(dir)
				return err
			}},
			{name: "format", required: true, decode: func(_, v *yaml.Node) error {
				f, err := d.str(v, "migrations.format")
				if err != nil {
					return err
				}
				m.Format, m.FormatPos = f, d.pos(v)
				if !isFormat(f) {
					d.problem(d.pos(v), "migrations.format: unsupported format %q (want one of: %s)", f, formatList())
				}
				return nil
			}},
			{name: "versioning", decode: d.versioning(m)},
		})
		if err == nil && m.Format == "tern" && m.Versioning == VersioningTimestamp {
			d.problem(m.VersioningPos, "migrations.versioning: tern numbers migrations contiguously (001, 002, …); timestamp versions are not supported with format tern")
		}
		return err
	}
}

// versioning decodes migrations.versioning.
func (d *decoder) versioning(m *Migrations) func(k, v *yaml.Node) error {
	return func(_, v *yaml.Node) (err error) {
		if m.Versioning, err = d.str(v, "migrations.versioning"); err != nil {
			return err
		}
		m.VersioningPos = d.pos(v)
		switch m.Versioning {
		case VersioningTimestamp, VersioningSequential:
			return nil
		}
		return d.errf(v, "migrations.versioning: %q: want timestamp or sequential", short(m.Versioning))
	}
}

// pkg decodes the package section; the name defaults to the base name of
// the directory.
func (d *decoder) pkg(p *Package) func(k, v *yaml.Node) error {
	return func(k, v *yaml.Node) error {
		var dirNode, nameNode *yaml.Node
		err := d.mapping(k, v, "package", []field{
			{name: "dir", required: true, decode: func(_, v *yaml.Node) error {
				dir, err := d.nonEmpty(v, "package.dir")
				p.Dir, dirNode = d.abs(dir), v
				return err
			}},
			{name: "name", decode: func(_, v *yaml.Node) error {
				name, err := d.str(v, "package.name")
				p.Name, nameNode = name, v
				return err
			}},
		})
		if err != nil {
			return err
		}
		if nameNode != nil {
			p.Pos = d.pos(nameNode)
			if !isPackageName(p.Name) {
				d.problem(p.Pos, "package.name: %q is not a valid Go package name (want a Go identifier that is not a keyword or _)", p.Name)
			}
			return nil
		}
		p.Name, p.Pos = filepath.Base(p.Dir), d.pos(dirNode)
		if !isPackageName(p.Name) {
			d.problem(p.Pos, "package.dir: the directory name %q is not a valid Go package name; set package.name", p.Name)
		}
		return nil
	}
}

// coverage decodes the coverage section.
func (d *decoder) coverage(c *Coverage) func(k, v *yaml.Node) error {
	list := func(name string, dst *[]Name) field {
		return field{name: name, decode: func(_, v *yaml.Node) error {
			names, err := d.names(v, "coverage."+name, "table name")
			*dst = names
			if err == nil {
				d.checkTableNames("coverage."+name, names)
			}
			return err
		}}
	}
	return func(k, v *yaml.Node) error {
		return d.mapping(k, v, "coverage", []field{
			list("expected_tables", &c.ExpectedTables),
			list("ignore_tables", &c.IgnoreTables),
		})
	}
}

// privileges decodes the privileges section: lists of role names.
func (d *decoder) privileges(p *Privileges) func(k, v *yaml.Node) error {
	roles := func(name string, dst *[]Name) field {
		return field{name: name, decode: func(_, v *yaml.Node) error {
			path := "privileges." + name
			names, err := d.names(v, path, "role name")
			*dst = names
			seen := map[string]bool{}
			for _, n := range names {
				if seen[n.Value] {
					d.problem(n.Pos, "%s: role %q is listed twice", path, n.Value)
				}
				seen[n.Value] = true
			}
			return err
		}}
	}
	return func(k, v *yaml.Node) error {
		return d.mapping(k, v, "privileges", []field{
			roles("writer_roles", &p.WriterRoles),
			roles("reader_roles", &p.ReaderRoles),
			roles("retention_roles", &p.RetentionRoles),
		})
	}
}

// retention decodes the retention section; k's presence makes a window
// (keep_days or max_age_seconds) required.
func (d *decoder) retention(r *Retention) func(k, v *yaml.Node) error {
	return func(k, v *yaml.Node) error {
		r.Pos = d.pos(k)
		var keepDays, maxAge *yaml.Node
		boolField := func(name string, dst *bool) field {
			return field{name: name, decode: func(_, v *yaml.Node) (err error) {
				*dst, err = d.bool(v, "retention."+name)
				return err
			}}
		}
		intField := func(name string, dst *int, node **yaml.Node, max int) field {
			return field{name: name, decode: func(_, v *yaml.Node) (err error) {
				*dst, err = d.int(v, "retention."+name)
				if node != nil {
					*node = v
				}
				if err == nil {
					d.checkPositive(v, "retention."+name, *dst, max)
				}
				return err
			}}
		}
		err := d.mapping(k, v, "retention", []field{
			boolField("enabled", &r.Enabled),
			intField("keep_days", &r.KeepDays, &keepDays, MaxKeepDays),
			intField("max_age_seconds", &r.MaxAgeSeconds, &maxAge, MaxAgeSeconds),
			intField("batch_size", &r.BatchSize, nil, 0),
			intField("max_batches", &r.MaxBatches, nil, 0),
			boolField("delete_empty_transactions", &r.DeleteEmptyTransactions),
		})
		if err != nil {
			return err
		}
		d.checkWindow(k, keepDays, maxAge)
		return nil
	}
}

// storage decodes the storage section.
func (d *decoder) storage(st *Storage) func(k, v *yaml.Node) error {
	return func(k, v *yaml.Node) error {
		st.Pos = d.pos(k)
		return d.mapping(k, v, "storage", []field{
			{name: "partitions", decode: func(_, v *yaml.Node) (err error) {
				if st.Partitions, err = d.str(v, "storage.partitions"); err != nil {
					return err
				}
				switch st.Partitions {
				case PartitionsNone, PartitionsDaily, PartitionsWeekly, PartitionsMonthly:
					return nil
				}
				return d.errf(v, "storage.partitions: %q: want none, daily, weekly or monthly", short(st.Partitions))
			}},
			{name: "premake", decode: func(_, v *yaml.Node) (err error) {
				if st.Premake, err = d.int(v, "storage.premake"); err == nil {
					d.checkPositive(v, "storage.premake", st.Premake, MaxPremake)
				}
				return err
			}},
		})
	}
}
