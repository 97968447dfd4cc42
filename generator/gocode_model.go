package generator

// The model of the generated Go package: the names, fields and Go types
// generated for each audited table, derived from the capture records and
// the schema. gocode.go renders it.

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/sqltemplates"
)

type goGen struct {
	cfg      *config.Config
	s        *schema.Schema
	names    *nameSet // package-level identifiers
	files    *nameSet // file names without .go
	enums    map[schema.QualifiedName]*goEnum
	enumList []*goEnum
	warnings []string
}

// goTable is one audited table and the names generated for it.
type goTable struct {
	capture sqltemplates.Capture
	table   *schema.Table
	// Types.
	row, key, change, from string
	// newKey is the key constructor.
	newKey string
	// Functions and the table constant.
	tableConst, timeline, history, asOf, changes, export string
	// newChange is the unexported converter from threadline.Change.
	newChange string
	file      string
	fields    []*goField // every column, in column order
	byName    map[string]*goField
}

// goField is one column of a table.
type goField struct {
	col      *schema.Column
	name     string
	typ      goType
	nullable bool
	excluded bool
	masked   bool
}

// goType is the Go type of a column's value.
type goType struct {
	// code renders the non-null type (no pointer).
	code func() *jen.Statement
	// noPointer types represent NULL themselves (slices, json.RawMessage,
	// threadline.Masked): nullable columns do not add a pointer.
	noPointer bool
	// desc is the PostgreSQL type for comments.
	desc string
}

// goEnum is a generated enum type.
type goEnum struct {
	q      schema.QualifiedName
	name   string
	labels []string
	consts []string
}

func (g *goGen) newTable(c sqltemplates.Capture, t *schema.Table) *goTable {
	plural := goName(c.Table.Name)
	if c.Table.Schema != "public" {
		plural = goName(c.Table.Schema) + plural
	}
	single := singular(plural)
	gt := &goTable{capture: c, table: t}
	rowSuffix := ""
	if single == plural {
		rowSuffix = "Row"
	}
	suffix := g.names.uniqueGroup(func(sfx string) []string {
		s, p := single+sfx, plural+sfx
		return []string{s + rowSuffix, s + "Key", "New" + s + "Key", s + "Change", s + "ChangedFrom",
			p + "Table", p + "Timeline", p + "History", p + "AsOf", p + "Changes", p + "Export"}
	})
	s, p := single+suffix, plural+suffix
	gt.row, gt.key, gt.change, gt.from = s+rowSuffix, s+"Key", s+"Change", s+"ChangedFrom"
	gt.newKey = "New" + gt.key
	gt.tableConst, gt.timeline, gt.history, gt.asOf, gt.changes = p+"Table", p+"Timeline", p+"History", p+"AsOf", p+"Changes"
	gt.export = p + "Export"
	gt.newChange = "new" + gt.change
	gt.file = g.files.unique(goFileName(c.Table.Schema, c.Table.Name)) + ".go"

	fieldNames := newNameSet("MarshalJSON", "UnmarshalJSON")
	gt.byName = map[string]*goField{}
	for _, col := range t.Columns {
		f := &goField{
			col:      col,
			name:     fieldNames.unique(goName(col.Name)),
			excluded: contains(c.Exclude, col.Name),
			masked:   contains(c.Mask, col.Name),
		}
		gt.fields = append(gt.fields, f)
		gt.byName[col.Name] = f
	}
	return gt
}

// image returns the fields of t's row image (every column but the
// excluded ones) and, for comments, the excluded and masked column names.
func (t *goTable) image() (image []*goField, excluded, masked []string) {
	for _, fd := range t.fields {
		switch {
		case fd.excluded:
			excluded = append(excluded, commentName(fd.col.Name))
		default:
			image = append(image, fd)
			if fd.masked {
				masked = append(masked, commentName(fd.col.Name))
			}
		}
	}
	return image, excluded, masked
}

// keyFields returns the fields of t's key columns in key order and their
// names for comments.
func (t *goTable) keyFields() (fields []*goField, names []string) {
	for _, k := range t.capture.Key {
		fields = append(fields, t.byName[k])
		names = append(names, commentName(k))
	}
	return fields, names
}

// changedFromFields returns the fields whose prior values changed_from may
// hold (sqltemplates.Capture.ChangedFromColumns), in column order.
func (t *goTable) changedFromFields() []*goField {
	var out []*goField
	cols := t.capture.ChangedFromColumns()
	for _, fd := range t.fields {
		if contains(cols, fd.col.Name) {
			out = append(out, fd)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mapFields gives every column its Go type.
func (g *goGen) mapFields(t *goTable) {
	for _, f := range t.fields {
		typ, ok := g.goTypeFor(f.col.Type)
		if !ok {
			g.warnings = append(g.warnings, fmt.Sprintf(
				"table %s column %s: PostgreSQL type %s has no Go mapping; its field %s.%s is json.RawMessage",
				t.capture.Table, commentName(f.col.Name), f.col.Type, t.row, f.name))
		}
		f.typ = typ
		f.nullable = !f.col.NotNull && !g.domainNotNull(f.col.Type)
	}
}

func (g *goGen) domainNotNull(t schema.Type) bool {
	if t.Domain == nil {
		return false
	}
	for _, d := range g.s.Domains {
		if d.QualifiedName == *t.Domain {
			return d.NotNull
		}
	}
	return false
}

func qual(name string) func() *jen.Statement {
	return func() *jen.Statement { return jen.Qual(runtimePath, name) }
}

// scalarTypes maps pg_catalog types (pg_type.typname) to Go types. Every
// type not listed here or below (citext, enums) is unsupported: its
// fields are json.RawMessage and generation warns.
//
//	PostgreSQL                              Go
//	bool                                    bool
//	int2, int4, int8                        int16, int32, int64
//	oid                                     uint32
//	float4, float8                          float32, float64 (NaN/Infinity do not decode)
//	numeric                                 threadline.Numeric (exact decimal text)
//	text, varchar, bpchar, char, name,
//	citext (any schema)                     string
//	uuid                                    threadline.UUID
//	json, jsonb                             json.RawMessage
//	bytea                                   threadline.Bytes
//	timestamptz                             time.Time
//	timestamp                               threadline.Timestamp
//	date                                    threadline.Date
//	time, timetz, interval                  threadline.Time, threadline.TimeTZ, threadline.Interval
//	inet, cidr, macaddr, macaddr8, money,
//	bit, varbit, xml, tsvector, tsquery,
//	pg_lsn, jsonpath, geometric types,
//	range and multirange types, reg* types  string (their text form)
//	enum                                    a generated string type with a constant per label
//	domain                                  the mapping of its base type
//	T[]                                     []T (NULL elements decode as zero values)
//	anything else (composite, extension)    json.RawMessage, with a warning
var scalarTypes = map[string]goType{
	"bool":        {code: func() *jen.Statement { return jen.Bool() }},
	"int2":        {code: func() *jen.Statement { return jen.Int16() }},
	"int4":        {code: func() *jen.Statement { return jen.Int32() }},
	"int8":        {code: func() *jen.Statement { return jen.Int64() }},
	"oid":         {code: func() *jen.Statement { return jen.Uint32() }},
	"float4":      {code: func() *jen.Statement { return jen.Float32() }},
	"float8":      {code: func() *jen.Statement { return jen.Float64() }},
	"numeric":     {code: qual("Numeric")},
	"uuid":        {code: qual("UUID")},
	"json":        {code: jsonRaw, noPointer: true},
	"jsonb":       {code: jsonRaw, noPointer: true},
	"bytea":       {code: qual("Bytes"), noPointer: true},
	"timestamptz": {code: func() *jen.Statement { return jen.Qual("time", "Time") }},
	"timestamp":   {code: qual("Timestamp")},
	"date":        {code: qual("Date")},
	"time":        {code: qual("Time")},
	"timetz":      {code: qual("TimeTZ")},
	"interval":    {code: qual("Interval")},
}

// textTypes are pg_catalog types whose to_jsonb form is their text
// output; they map to string.
var textTypes = toSet(`text varchar bpchar char name inet cidr macaddr macaddr8 money bit varbit xml
	tsvector tsquery pg_lsn jsonpath point line lseg box path polygon circle
	int4range int8range numrange tsrange tstzrange daterange
	int4multirange int8multirange nummultirange tsmultirange tstzmultirange datemultirange
	regclass regcollation regconfig regdictionary regnamespace regoper regoperator regproc
	regprocedure regrole regtype xid xid8 cid tid`)

func jsonRaw() *jen.Statement { return jen.Qual("encoding/json", "RawMessage") }

var stringType = goType{code: func() *jen.Statement { return jen.String() }}

var rawType = goType{code: jsonRaw, noPointer: true}

// goTypeFor maps a column type; ok is false for unsupported types (mapped
// to json.RawMessage).
func (g *goGen) goTypeFor(t schema.Type) (goType, bool) {
	elem := t
	elem.ArrayDims = 0
	base, ok := g.scalar(elem)
	base.desc = t.String()
	if t.Domain != nil {
		base.desc = "domain " + t.Domain.String() + " over " + t.String()
	}
	if !ok {
		return goType{code: jsonRaw, noPointer: true, desc: base.desc}, false
	}
	if t.ArrayDims > 0 {
		inner := base.code
		return goType{code: func() *jen.Statement { return jen.Index().Add(inner()) }, noPointer: true, desc: base.desc}, true
	}
	return base, true
}

// scalar maps a non-array type.
func (g *goGen) scalar(t schema.Type) (goType, bool) {
	if t.Enum {
		e := g.enum(schema.QualifiedName{Schema: t.Schema, Name: t.Name})
		return goType{code: func() *jen.Statement { return jen.Id(e.name) }}, true
	}
	if t.Name == "citext" {
		return stringType, true
	}
	if t.Schema != "pg_catalog" {
		return rawType, false
	}
	if m, ok := scalarTypes[t.Name]; ok {
		return m, true
	}
	if textTypes[t.Name] {
		return stringType, true
	}
	return rawType, false
}

// enum returns the generated type of an enum, naming it on first use.
func (g *goGen) enum(q schema.QualifiedName) *goEnum {
	if e := g.enums[q]; e != nil {
		return e
	}
	base := goName(q.Name)
	if q.Schema != "public" {
		base = goName(q.Schema) + base
	}
	e := &goEnum{q: q, name: g.names.unique(base)}
	if def := g.s.Enum(q); def != nil {
		e.labels = def.Labels
	} else {
		g.warnings = append(g.warnings, fmt.Sprintf("enum %s: labels unknown; type %s has no constants", q, e.name))
	}
	for _, l := range e.labels {
		e.consts = append(e.consts, g.names.unique(e.name+goNameSuffix(l)))
	}
	g.enums[q] = e
	g.enumList = append(g.enumList, e)
	return e
}
