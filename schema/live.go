package schema

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/dburl"
)

// Querier runs a query; *pgx.Conn, *pgxpool.Pool and pgx.Tx satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// LiveOptions tunes LoadLive.
type LiveOptions struct {
	// ExcludeSchemas are skipped in addition to the system schemas
	// (pg_catalog, information_schema, pg_toast, pg_temp_*); the generator
	// passes its audit schema.
	ExcludeSchemas []string
}

// systemSchemas are always skipped by LoadLive.
var systemSchemas = []string{"pg_catalog", "information_schema", "pg_toast"}

// Connect opens a connection to url. The error names the URL with its
// password replaced by "xxxxx".
func Connect(ctx context.Context, url string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("load schema: connect to %s: %s", dburl.Redact(url), dburl.RedactIn(err.Error(), url))
	}
	return conn, nil
}

// LoadLive reads the user tables (ordinary and partitioned), enums and
// domains of the database with a few catalog queries. Objects in system
// schemas, in opts.ExcludeSchemas and owned by extensions are skipped.
func LoadLive(ctx context.Context, db Querier, opts LiveOptions) (*Schema, error) {
	exclude := append(slices.Clone(systemSchemas), opts.ExcludeSchemas...)
	types, err := loadTypes(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("load schema: types: %w", err)
	}
	tables, err := loadTables(ctx, db, exclude, types)
	if err != nil {
		return nil, fmt.Errorf("load schema: tables: %w", err)
	}
	if err := loadPrimaryKeys(ctx, db, exclude, tables); err != nil {
		return nil, fmt.Errorf("load schema: primary keys: %w", err)
	}
	s := &Schema{}
	for _, t := range tables {
		s.Tables = append(s.Tables, t)
	}
	s.Enums, s.Domains = types.userTypes(exclude)
	s.Sort()
	return s, nil
}

// excluded reports whether objects of schema nsp are skipped.
func excluded(nsp string, exclude []string) bool {
	return slices.Contains(exclude, nsp) || strings.HasPrefix(nsp, "pg_temp_") || strings.HasPrefix(nsp, "pg_toast_temp_")
}

// pgType is one pg_type row.
type pgType struct {
	QualifiedName
	typtype   string
	elem      int64
	base      int64
	notNull   bool
	isArray   bool
	extension bool
	labels    []string
}

type typeMap map[int64]*pgType

const typesQuery = `
SELECT t.oid::int8, n.nspname::text, t.typname::text, t.typtype::text,
       t.typelem::int8, t.typbasetype::int8, t.typnotnull,
       coalesce(t.typcategory = 'A' AND e.typarray = t.oid, false),
       EXISTS (SELECT 1 FROM pg_depend d
               WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'),
       CASE WHEN t.typtype = 'e' THEN ARRAY(
           SELECT l.enumlabel::text FROM pg_enum l
           WHERE l.enumtypid = t.oid ORDER BY l.enumsortorder) END
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_type e ON e.oid = t.typelem`

// loadTypes reads every type, so column types can be resolved in Go.
func loadTypes(ctx context.Context, db Querier) (typeMap, error) {
	rows, err := db.Query(ctx, typesQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := typeMap{}
	for rows.Next() {
		var oid int64
		t := &pgType{}
		if err := rows.Scan(&oid, &t.Schema, &t.Name, &t.typtype, &t.elem, &t.base,
			&t.notNull, &t.isArray, &t.extension, &t.labels); err != nil {
			return nil, err
		}
		types[oid] = t
	}
	return types, rows.Err()
}

// resolve maps a type oid to the model's Type: domains resolve to their
// base (Domain names the outermost one), arrays to their element type.
func (m typeMap) resolve(oid int64) Type {
	return m.resolveDepth(oid, 0)
}

func (m typeMap) resolveDepth(oid int64, depth int) Type {
	t := m[oid]
	switch {
	case t == nil || depth > MaxDomainDepth:
		return Type{Schema: CatalogSchema, Name: fmt.Sprintf("oid%d", oid)}
	case t.typtype == "d":
		r := m.resolveDepth(t.base, depth+1)
		q := t.QualifiedName
		r.Domain = &q
		return r
	case t.isArray:
		r := m.resolveDepth(t.elem, depth+1)
		r.ArrayDims = 1
		return r
	}
	return Type{Schema: t.Schema, Name: t.Name, Enum: t.typtype == "e"}
}

// userTypes lists the enums and domains outside the excluded schemas.
func (m typeMap) userTypes(exclude []string) ([]*Enum, []*Domain) {
	var enums []*Enum
	var domains []*Domain
	for oid, t := range m {
		if t.extension || excluded(t.Schema, exclude) {
			continue
		}
		switch t.typtype {
		case "e":
			e := &Enum{QualifiedName: t.QualifiedName}
			if len(t.labels) > 0 {
				e.Labels = t.labels
			}
			enums = append(enums, e)
		case "d":
			base := m.resolve(oid)
			base.Domain = nil
			domains = append(domains, &Domain{QualifiedName: t.QualifiedName, Base: base, NotNull: t.notNull})
		}
	}
	return enums, domains
}

const tablesQuery = `
SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind = 'p',
       coalesce(pn.nspname::text, ''), coalesce(pc.relname::text, ''),
       coalesce(a.attname::text, ''), coalesce(a.atttypid::int8, 0),
       coalesce(a.attnotnull, false), coalesce(a.attgenerated::text, ''),
       coalesce(a.attidentity::text, '')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
LEFT JOIN pg_class pc ON pc.oid = i.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p')
  AND n.nspname <> ALL ($1::text[])
  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY c.oid, a.attnum`

// loadTables reads the tables with their columns, keyed by oid.
func loadTables(ctx context.Context, db Querier, exclude []string, types typeMap) (map[int64]*Table, error) {
	rows, err := db.Query(ctx, tablesQuery, exclude)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tables := map[int64]*Table{}
	for rows.Next() {
		var (
			oid                      int64
			t                        Table
			parentSchema, parentName string
			col                      string
			typ                      int64
			notNull                  bool
			generated, identity      string
		)
		if err := rows.Scan(&oid, &t.Schema, &t.Name, &t.Partitioned, &parentSchema, &parentName,
			&col, &typ, &notNull, &generated, &identity); err != nil {
			return nil, err
		}
		tt := tables[oid]
		if tt == nil {
			tt = &t
			if parentName != "" {
				tt.PartitionOf = &QualifiedName{Schema: parentSchema, Name: parentName}
			}
			tables[oid] = tt
		}
		if col != "" {
			tt.Columns = append(tt.Columns, &Column{
				Name: col, Type: types.resolve(typ), NotNull: notNull,
				Generated: generated == "s", Identity: IdentityKind(identity),
			})
		}
	}
	return tables, rows.Err()
}

const primaryKeysQuery = `
SELECT i.indrelid::int8, a.attname::text
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indisprimary AND k.ord <= i.indnkeyatts
  AND c.relkind IN ('r', 'p') AND n.nspname <> ALL ($1::text[])
ORDER BY i.indrelid, k.ord`

// loadPrimaryKeys sets the primary key columns, in key order.
func loadPrimaryKeys(ctx context.Context, db Querier, exclude []string, tables map[int64]*Table) error {
	rows, err := db.Query(ctx, primaryKeysQuery, exclude)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var oid int64
		var col string
		if err := rows.Scan(&oid, &col); err != nil {
			return err
		}
		if t := tables[oid]; t != nil {
			t.PrimaryKey = append(t.PrimaryKey, col)
		}
	}
	return rows.Err()
}
