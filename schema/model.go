// Package schema holds the model of a PostgreSQL schema that Threadline
// generates capture code for, and loads it from a live database (catalog
// queries over pgx). Loading it from SQL files needs PostgreSQL's parser,
// and with it cgo: that loader is package schema/sqlfile, so this package
// builds with CGO_ENABLED=0.
package schema

import (
	"sort"
	"strings"

	"github.com/threadline-go/threadline/internal/contract"
)

// Schema is the set of user tables and types a generator run sees.
type Schema struct {
	// Tables in (Schema, Name) order. Partitions are listed too, with
	// PartitionOf set.
	Tables []*Table
	// Enums in (Schema, Name) order.
	Enums []*Enum
	// Domains in (Schema, Name) order.
	Domains []*Domain
}

// QualifiedName names an object inside a PostgreSQL schema (one type for
// the generator, the schema model and the runtime: contract.QualifiedName).
type QualifiedName = contract.QualifiedName

// Table is an ordinary or partitioned table.
type Table struct {
	QualifiedName
	// Columns in attribute order (attnum), dropped columns omitted.
	Columns []*Column
	// PrimaryKey holds the primary key column names in key order; nil when
	// the table has no primary key.
	PrimaryKey []string
	// Partitioned is true for a partitioned (parent) table.
	Partitioned bool
	// PartitionOf names the parent when this table is a partition.
	PartitionOf *QualifiedName
}

// Column is one table column.
type Column struct {
	Name string
	Type Type
	// NotNull is true when the column has a NOT NULL constraint (primary
	// key columns are always NOT NULL).
	NotNull bool
	// Generated is true for a stored generated column.
	Generated bool
	// Identity is "", "always" or "by default".
	Identity string
}

// Type describes a column's type after resolving domains.
//
// Name is the canonical catalog name of the element type: for built-in
// types the pg_type.typname ("int4", "int8", "text", "varchar",
// "timestamptz", "bool", "numeric", "jsonb", "uuid", "bytea", …) with
// Schema "pg_catalog"; for user types (enums, composites) their schema and
// name. Type modifiers (varchar(20), numeric(10,2)) are not kept.
type Type struct {
	Schema string
	Name   string
	// ArrayDims is > 0 for array types (PostgreSQL does not enforce the
	// number of dimensions; 1 is used for every array type).
	ArrayDims int
	// Domain names the domain when the column was declared with one; Schema
	// and Name then describe the domain's (recursively resolved) base type.
	Domain *QualifiedName
	// Enum is true when Name is an enum type.
	Enum bool
}

// String renders the type in SQL-like form for messages: "pg_catalog.int4[]".
func (t Type) String() string {
	s := t.Schema + "." + t.Name
	if t.Schema == "pg_catalog" {
		s = t.Name
	}
	return s + strings.Repeat("[]", t.ArrayDims)
}

// Enum is an enum type with its labels in sort order.
type Enum struct {
	QualifiedName
	Labels []string
}

// Domain is a domain with its resolved base type.
type Domain struct {
	QualifiedName
	Base    Type
	NotNull bool
}

// Column returns the named column or nil.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Table returns the table with the given qualified name or nil.
func (s *Schema) Table(q QualifiedName) *Table {
	for _, t := range s.Tables {
		if t.QualifiedName == q {
			return t
		}
	}
	return nil
}

// Enum returns the enum with the given qualified name or nil.
func (s *Schema) Enum(q QualifiedName) *Enum {
	for _, e := range s.Enums {
		if e.QualifiedName == q {
			return e
		}
	}
	return nil
}

// Sort puts tables, enums and domains in (Schema, Name) order.
func (s *Schema) Sort() {
	sort.Slice(s.Tables, func(i, j int) bool { return s.Tables[i].QualifiedName.Less(s.Tables[j].QualifiedName) })
	sort.Slice(s.Enums, func(i, j int) bool { return s.Enums[i].QualifiedName.Less(s.Enums[j].QualifiedName) })
	sort.Slice(s.Domains, func(i, j int) bool { return s.Domains[i].QualifiedName.Less(s.Domains[j].QualifiedName) })
}

// Partitions returns the partitions of parent, in name order.
func (s *Schema) Partitions(parent QualifiedName) []*Table {
	var out []*Table
	for _, t := range s.Tables {
		if t.PartitionOf != nil && *t.PartitionOf == parent {
			out = append(out, t)
		}
	}
	return out
}

// CatalogSchema is the schema of PostgreSQL's built-in types.
const CatalogSchema = "pg_catalog"

// MaxDomainDepth bounds domain resolution in both loaders; PostgreSQL
// cannot build cycles, but renames in arbitrary input can.
const MaxDomainDepth = 64

// IdentityKind turns the identity code of pg_attribute.attidentity (and of
// a parsed GENERATED … AS IDENTITY) into Column.Identity's words.
func IdentityKind(code string) string {
	switch code {
	case "a":
		return "always"
	case "d":
		return "by default"
	}
	return ""
}
