package sqlfile

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/threadline-go/threadline/schema"
)

// builtinTypes holds the pg_type.typname of every base, range and
// multirange type in pg_catalog (PostgreSQL 15/16), array types excepted.
// The offline loader resolves an unqualified type name found here to
// pg_catalog, as PostgreSQL does (pg_catalog is searched first).
var builtinTypes = toSet(`aclitem bit bool box bpchar bytea char cid cidr circle
	date datemultirange daterange float4 float8 gtsvector inet int2 int2vector
	int4 int4multirange int4range int8 int8multirange int8range interval json
	jsonb jsonpath line lseg macaddr macaddr8 money name numeric nummultirange
	numrange oid oidvector path pg_brin_bloom_summary pg_brin_minmax_multi_summary
	pg_dependencies pg_lsn pg_mcv_list pg_ndistinct pg_node_tree pg_snapshot
	point polygon refcursor regclass regcollation regconfig regdictionary
	regnamespace regoper regoperator regproc regprocedure regrole regtype text
	tid time timestamp timestamptz timetz tsmultirange tsquery tsrange
	tstzmultirange tstzrange tsvector txid_snapshot uuid varbit varchar xid xid8
	xml`)

// serialTypes maps the serial pseudo-types to the integer type of the
// column they create (the column is also NOT NULL).
var serialTypes = map[string]string{
	"smallserial": "int2", "serial2": "int2",
	"serial": "int4", "serial4": "int4",
	"bigserial": "int8", "serial8": "int8",
}

func toSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// typeRef is a type as the offline loader records it at declaration time:
// the qualified name of the declared element type, and whether it is an
// array. Whether the name is an enum or a domain is decided when the model
// is built, so renames and drops of types apply to columns declared earlier.
type typeRef struct {
	schema.QualifiedName
	array bool
}

// typeRefOf maps a parsed type name to a typeRef. Unqualified names resolve
// to pg_catalog when they name a built-in type, else to a user type in
// defSchema (when one exists there) or public. serial reports a serial
// pseudo-type, whose column is NOT NULL.
func (l *loader) typeRefOf(tn *pg_query.TypeName, defSchema string) (ref typeRef, serial bool) {
	names := stringsOf(tn.GetNames())
	ref.array = len(tn.GetArrayBounds()) > 0
	if len(names) == 0 {
		ref.QualifiedName = schema.QualifiedName{Schema: schema.CatalogSchema, Name: "unknown"}
		return ref, false
	}
	name := names[len(names)-1]
	if len(names) == 1 {
		if base, ok := serialTypes[name]; ok {
			ref.QualifiedName = schema.QualifiedName{Schema: schema.CatalogSchema, Name: base}
			return ref, true
		}
		ref.QualifiedName = l.unqualifiedType(name, defSchema, &ref.array)
		return ref, false
	}
	nsp := names[len(names)-2]
	if nsp == schema.CatalogSchema {
		name = builtinElem(name, &ref.array)
	}
	ref.QualifiedName = schema.QualifiedName{Schema: nsp, Name: name}
	return ref, false
}

// unqualifiedType resolves an unqualified type name the way the default
// search_path does (pg_catalog, then the schema, then public).
func (l *loader) unqualifiedType(name, defSchema string, array *bool) schema.QualifiedName {
	if elem := builtinElem(name, array); builtinTypes[elem] {
		return schema.QualifiedName{Schema: schema.CatalogSchema, Name: elem}
	}
	if defSchema != "public" && l.userType(schema.QualifiedName{Schema: defSchema, Name: name}) {
		return schema.QualifiedName{Schema: defSchema, Name: name}
	}
	return schema.QualifiedName{Schema: "public", Name: name}
}

// builtinElem maps the internal array name of a built-in type ("_int4") to
// its element name, setting *array; other names are returned unchanged.
func builtinElem(name string, array *bool) string {
	if elem, ok := strings.CutPrefix(name, "_"); ok && builtinTypes[elem] {
		*array = true
		return elem
	}
	return name
}

// userType reports whether q names an enum or domain of the loader.
func (l *loader) userType(q schema.QualifiedName) bool {
	return l.enums[q] != nil || l.domains[q] != nil
}

// resolve turns a typeRef into the model's Type: domains are resolved to
// their base type (Domain names the outermost one), enums are flagged.
func (l *loader) resolve(r typeRef) schema.Type {
	return l.resolveDepth(r, 0)
}

func (l *loader) resolveDepth(r typeRef, depth int) schema.Type {
	var t schema.Type
	switch d := l.domains[r.QualifiedName]; {
	case d != nil && depth < schema.MaxDomainDepth:
		t = l.resolveDepth(d.base, depth+1)
		q := d.name
		t.Domain = &q
	case l.enums[r.QualifiedName] != nil:
		t = schema.Type{Schema: r.Schema, Name: r.Name, Enum: true}
	default:
		t = schema.Type{Schema: r.Schema, Name: r.Name}
	}
	if r.array {
		t.ArrayDims = 1
	}
	return t
}

// stringsOf returns the string values of a list of String nodes.
func stringsOf(nodes []*pg_query.Node) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.GetString_().GetSval())
	}
	return out
}

// qualify turns a parsed name list (name, schema.name or db.schema.name)
// into a qualified name, defaulting the schema to defSchema.
func qualify(names []string, defSchema string) schema.QualifiedName {
	switch len(names) {
	case 0:
		return schema.QualifiedName{Schema: defSchema}
	case 1:
		return schema.QualifiedName{Schema: defSchema, Name: names[0]}
	}
	return schema.QualifiedName{Schema: names[len(names)-2], Name: names[len(names)-1]}
}

// relName qualifies a RangeVar, defaulting the schema to defSchema.
func relName(rv *pg_query.RangeVar, defSchema string) schema.QualifiedName {
	s := rv.GetSchemaname()
	if s == "" {
		s = defSchema
	}
	return schema.QualifiedName{Schema: s, Name: rv.GetRelname()}
}
