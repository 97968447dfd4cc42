package sqlfile

import (
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/threadline-go/threadline/schema"
)

// loader is the in-memory state the offline loader applies DDL to.
type loader struct {
	tables  map[schema.QualifiedName]*tableDef
	enums   map[schema.QualifiedName]*schema.Enum
	domains map[schema.QualifiedName]*domainDef
	// indexes holds named unique indexes on plain columns, keyed by index
	// name (in the table's schema), for ADD PRIMARY KEY USING INDEX.
	indexes map[schema.QualifiedName]*indexDef
	// untracked holds tables created with CREATE TABLE AS / SELECT INTO,
	// whose columns cannot be known without running the query; dropping
	// them is not an error.
	untracked map[schema.QualifiedName]bool
}

type tableDef struct {
	name        schema.QualifiedName
	cols        []*columnDef
	pk          []string
	pkName      string
	partitioned bool
	parent      *schema.QualifiedName  // partition parent
	inherits    []schema.QualifiedName // INHERITS parents
}

type columnDef struct {
	name      string
	typ       typeRef
	notNull   bool
	generated bool
	identity  string
	// local is false for a column that only exists because a parent has it.
	local bool
}

type domainDef struct {
	name    schema.QualifiedName
	base    typeRef
	notNull bool
}

type indexDef struct {
	table schema.QualifiedName
	cols  []string
}

// pkSpec is a primary key to add: key columns, or an index to promote.
type pkSpec struct {
	keys  []string
	name  string
	index string
}

// CREATE TABLE (LIKE …) option bits (PostgreSQL's CREATE_TABLE_LIKE_*).
const (
	likeGenerated = 1 << 4
	likeIdentity  = 1 << 5
	likeIndexes   = 1 << 6
)

// maxIdentLen is PostgreSQL's identifier length limit (NAMEDATALEN-1).
const maxIdentLen = 63

func newLoader() *loader {
	return &loader{
		tables:  map[schema.QualifiedName]*tableDef{},
		enums:   map[schema.QualifiedName]*schema.Enum{},
		domains: map[schema.QualifiedName]*domainDef{},
		indexes: map[schema.QualifiedName]*indexDef{},

		untracked: map[schema.QualifiedName]bool{},
	}
}

func (t *tableDef) col(name string) *columnDef {
	for _, c := range t.cols {
		if c.name == name {
			return c
		}
	}
	return nil
}

// apply applies one parsed statement; unqualified relation names resolve
// to defSchema. Statements that do not shape the model are ignored.
func (l *loader) apply(n *pg_query.Node, defSchema string) error {
	switch s := n.GetNode().(type) {
	case *pg_query.Node_CreateStmt:
		return l.createTable(s.CreateStmt, defSchema)
	case *pg_query.Node_CreateEnumStmt:
		return l.createEnum(s.CreateEnumStmt, defSchema)
	case *pg_query.Node_AlterEnumStmt:
		return l.alterEnum(s.AlterEnumStmt, defSchema)
	case *pg_query.Node_CreateDomainStmt:
		return l.createDomain(s.CreateDomainStmt, defSchema)
	case *pg_query.Node_AlterDomainStmt:
		return l.alterDomain(s.AlterDomainStmt, defSchema)
	case *pg_query.Node_AlterTableStmt:
		return l.alterTable(s.AlterTableStmt, defSchema)
	case *pg_query.Node_RenameStmt:
		return l.rename(s.RenameStmt, defSchema)
	case *pg_query.Node_AlterObjectSchemaStmt:
		return l.setSchema(s.AlterObjectSchemaStmt, defSchema)
	case *pg_query.Node_DropStmt:
		return l.drop(s.DropStmt, defSchema)
	case *pg_query.Node_CreateSchemaStmt:
		return l.createSchema(s.CreateSchemaStmt)
	case *pg_query.Node_IndexStmt:
		l.createIndex(s.IndexStmt, defSchema)
	case *pg_query.Node_CreateTableAsStmt:
		if s.CreateTableAsStmt.GetObjtype() == pg_query.ObjectType_OBJECT_TABLE {
			l.untracked[relName(s.CreateTableAsStmt.GetInto().GetRel(), defSchema)] = true
		}
	}
	return nil
}

// createSchema applies the elements of CREATE SCHEMA … CREATE TABLE ….
func (l *loader) createSchema(s *pg_query.CreateSchemaStmt) error {
	name := s.GetSchemaname()
	if name == "" {
		name = s.GetAuthrole().GetRolename()
	}
	for _, e := range s.GetSchemaElts() {
		if err := l.apply(e, name); err != nil {
			return err
		}
	}
	return nil
}

// createTable applies CREATE TABLE, including PARTITION OF, INHERITS and
// LIKE. Temporary tables are ignored (they live in pg_temp).
func (l *loader) createTable(cs *pg_query.CreateStmt, defSchema string) error {
	if cs.GetRelation().GetRelpersistence() == "t" {
		return nil
	}
	name := relName(cs.GetRelation(), defSchema)
	if l.tables[name] != nil {
		if cs.GetIfNotExists() {
			return nil
		}
		return fmt.Errorf("relation %q already exists", name.String())
	}
	if cs.GetOfTypename() != nil {
		return fmt.Errorf("CREATE TABLE %s OF type: typed tables are not supported", name)
	}
	t := &tableDef{name: name, partitioned: cs.GetPartspec() != nil}
	if err := l.inheritColumns(t, cs, defSchema); err != nil {
		return err
	}
	pks, err := l.tableElements(t, cs.GetTableElts(), defSchema)
	if err != nil {
		return err
	}
	if len(pks) > 1 {
		return fmt.Errorf("multiple primary keys for table %q are not allowed", name.String())
	}
	for _, pk := range pks {
		if err := l.addPrimaryKey(t, pk, false); err != nil {
			return err
		}
	}
	if p := l.parentOf(t); p != nil && p.pk != nil && t.pk == nil {
		if err := l.addPrimaryKey(t, pkSpec{keys: p.pk}, true); err != nil {
			return err
		}
	}
	l.tables[name] = t
	return nil
}

// inheritColumns copies the columns of the PARTITION OF parent or the
// INHERITS parents into t (identity is not inherited).
func (l *loader) inheritColumns(t *tableDef, cs *pg_query.CreateStmt, defSchema string) error {
	for _, n := range cs.GetInhRelations() {
		p := l.tables[relName(n.GetRangeVar(), defSchema)]
		if p == nil {
			return fmt.Errorf("relation %q does not exist", relName(n.GetRangeVar(), defSchema).String())
		}
		if cs.GetPartbound() != nil {
			q := p.name
			t.parent = &q
		} else {
			t.inherits = append(t.inherits, p.name)
		}
		for _, pc := range p.cols {
			if c := t.col(pc.name); c != nil {
				c.notNull = c.notNull || pc.notNull
				continue
			}
			t.cols = append(t.cols, inheritedColumn(pc))
		}
	}
	return nil
}

// inheritedColumn is the copy of a parent column in a child table.
func inheritedColumn(pc *columnDef) *columnDef {
	return &columnDef{name: pc.name, typ: pc.typ, notNull: pc.notNull, generated: pc.generated}
}

// tableElements adds the column definitions and LIKE clauses of CREATE
// TABLE to t and returns the primary keys it declares.
func (l *loader) tableElements(t *tableDef, elts []*pg_query.Node, defSchema string) ([]pkSpec, error) {
	var pks []pkSpec
	for _, e := range elts {
		switch e := e.GetNode().(type) {
		case *pg_query.Node_ColumnDef:
			pk, err := l.tableColumn(t, e.ColumnDef, defSchema)
			if err != nil {
				return nil, err
			}
			if pk != nil {
				pks = append(pks, *pk)
			}
		case *pg_query.Node_Constraint:
			if e.Constraint.GetContype() == pg_query.ConstrType_CONSTR_PRIMARY {
				pks = append(pks, constraintPK(e.Constraint))
			}
		case *pg_query.Node_TableLikeClause:
			pk, err := l.copyLike(t, e.TableLikeClause, defSchema)
			if err != nil {
				return nil, err
			}
			if pk != nil {
				pks = append(pks, *pk)
			}
		}
	}
	return pks, nil
}

// tableColumn adds one column definition of CREATE TABLE to t, merging it
// into an inherited column of the same name.
func (l *loader) tableColumn(t *tableDef, cd *pg_query.ColumnDef, defSchema string) (*pkSpec, error) {
	if c := t.col(cd.GetColname()); c != nil {
		if c.local {
			return nil, fmt.Errorf("column %q specified more than once", cd.GetColname())
		}
		c.local = t.parent == nil
		return applyColumnConstraints(c, cd.GetConstraints()), nil
	}
	if cd.GetTypeName() == nil {
		return nil, fmt.Errorf("column %q does not exist", cd.GetColname())
	}
	c, pk := l.newColumn(cd, defSchema)
	t.cols = append(t.cols, c)
	return pk, nil
}

// newColumn builds a column from its definition; it returns the primary
// key the column declares, if any.
func (l *loader) newColumn(cd *pg_query.ColumnDef, defSchema string) (*columnDef, *pkSpec) {
	ref, serial := l.typeRefOf(cd.GetTypeName(), defSchema)
	c := &columnDef{name: cd.GetColname(), typ: ref, notNull: serial || cd.GetIsNotNull(), local: true}
	return c, applyColumnConstraints(c, cd.GetConstraints())
}

// applyColumnConstraints applies NOT NULL, PRIMARY KEY, identity and
// generated-column constraints to c.
func applyColumnConstraints(c *columnDef, cons []*pg_query.Node) *pkSpec {
	var pk *pkSpec
	for _, n := range cons {
		con := n.GetConstraint()
		switch con.GetContype() {
		case pg_query.ConstrType_CONSTR_NOTNULL:
			c.notNull = true
		case pg_query.ConstrType_CONSTR_PRIMARY:
			c.notNull = true
			pk = &pkSpec{keys: []string{c.name}, name: con.GetConname()}
		case pg_query.ConstrType_CONSTR_IDENTITY:
			c.identity = schema.IdentityKind(con.GetGeneratedWhen())
			c.notNull = true
		case pg_query.ConstrType_CONSTR_GENERATED:
			c.generated = true
		}
	}
	return pk
}

// constraintPK returns the primary key a PRIMARY KEY constraint declares.
func constraintPK(con *pg_query.Constraint) pkSpec {
	return pkSpec{keys: stringsOf(con.GetKeys()), name: con.GetConname(), index: con.GetIndexname()}
}

// copyLike applies CREATE TABLE (LIKE src [INCLUDING …]).
func (l *loader) copyLike(t *tableDef, like *pg_query.TableLikeClause, defSchema string) (*pkSpec, error) {
	src := l.tables[relName(like.GetRelation(), defSchema)]
	if src == nil {
		return nil, fmt.Errorf("relation %q does not exist", relName(like.GetRelation(), defSchema).String())
	}
	opts := like.GetOptions()
	for _, sc := range src.cols {
		if t.col(sc.name) != nil {
			return nil, fmt.Errorf("column %q specified more than once", sc.name)
		}
		c := &columnDef{name: sc.name, typ: sc.typ, notNull: sc.notNull, local: true}
		if opts&likeGenerated != 0 {
			c.generated = sc.generated
		}
		if opts&likeIdentity != 0 {
			c.identity = sc.identity
		}
		t.cols = append(t.cols, c)
	}
	if opts&likeIndexes != 0 && src.pk != nil {
		return &pkSpec{keys: slices.Clone(src.pk)}, nil
	}
	return nil, nil
}

// addPrimaryKey sets t's primary key and makes its columns NOT NULL; with
// recurse (no ONLY), the columns of all child tables become NOT NULL and
// partitions without a primary key get it too.
func (l *loader) addPrimaryKey(t *tableDef, pk pkSpec, recurse bool) error {
	if t.pk != nil {
		return fmt.Errorf("multiple primary keys for table %q are not allowed", t.name.String())
	}
	keys, name := pk.keys, pk.name
	if pk.index != "" {
		idx := l.indexes[schema.QualifiedName{Schema: t.name.Schema, Name: pk.index}]
		if idx == nil || idx.table != t.name {
			return fmt.Errorf("index %q does not exist or is not a unique index of %s", pk.index, t.name)
		}
		keys = idx.cols
		if name == "" {
			name = pk.index
		}
		delete(l.indexes, schema.QualifiedName{Schema: t.name.Schema, Name: pk.index})
	}
	if len(keys) == 0 {
		return fmt.Errorf("primary key of %q has no columns", t.name.String())
	}
	for _, k := range keys {
		c := t.col(k)
		if c == nil {
			return fmt.Errorf("column %q named in key does not exist", k)
		}
		c.notNull = true
	}
	if name == "" {
		name = l.defaultPKName(t.name)
	}
	t.pk, t.pkName = slices.Clone(keys), name
	if !recurse {
		return nil
	}
	// The implied SET NOT NULL reaches inheritance children too.
	for _, child := range l.children(t) {
		for _, k := range keys {
			if c := child.col(k); c != nil {
				c.notNull = true
			}
		}
	}
	for _, child := range l.partitions(t) {
		if child.pk == nil {
			if err := l.addPrimaryKey(child, pkSpec{keys: keys}, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// defaultPKName picks the name PostgreSQL gives an unnamed primary key:
// "<table>_pkey", the table name clipped to fit 63 bytes, with a number
// appended while the name is taken.
func (l *loader) defaultPKName(table schema.QualifiedName) string {
	for i := 0; i < 1000; i++ {
		label := "pkey"
		if i > 0 {
			label += strconv.Itoa(i)
		}
		name := makeObjectName(table.Name, label)
		if !l.relationExists(schema.QualifiedName{Schema: table.Schema, Name: name}) {
			return name
		}
	}
	return makeObjectName(table.Name, "pkey")
}

// makeObjectName mirrors PostgreSQL's makeObjectName(name, NULL, label).
func makeObjectName(name, label string) string {
	return clipIdent(name, maxIdentLen-len(label)-1) + "_" + label
}

// clipIdent clips s to at most n bytes without splitting a UTF-8 sequence.
func clipIdent(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// relationExists reports whether q names a table, a primary key index or a
// tracked unique index.
func (l *loader) relationExists(q schema.QualifiedName) bool {
	if l.tables[q] != nil || l.indexes[q] != nil {
		return true
	}
	for _, t := range l.tables {
		if t.name.Schema == q.Schema && t.pkName == q.Name {
			return true
		}
	}
	return false
}

// createIndex records a named unique index on plain columns.
func (l *loader) createIndex(s *pg_query.IndexStmt, defSchema string) {
	if !s.GetUnique() || s.GetIdxname() == "" || s.GetWhereClause() != nil {
		return
	}
	idx := &indexDef{table: relName(s.GetRelation(), defSchema)}
	for _, p := range s.GetIndexParams() {
		name := p.GetIndexElem().GetName()
		if name == "" {
			return
		}
		idx.cols = append(idx.cols, name)
	}
	l.indexes[schema.QualifiedName{Schema: idx.table.Schema, Name: s.GetIdxname()}] = idx
}

// parentOf returns the partition parent of t, or nil.
func (l *loader) parentOf(t *tableDef) *tableDef {
	if t.parent == nil {
		return nil
	}
	return l.tables[*t.parent]
}

// partitions returns all partitions of t, recursively (sub-partitions
// included), each once.
func (l *loader) partitions(t *tableDef) []*tableDef {
	return l.descendants(t, func(child, parent *tableDef) bool {
		return child.parent != nil && *child.parent == parent.name
	})
}

// children returns all partitions and inheritance children of t,
// recursively, each once, parents before children.
func (l *loader) children(t *tableDef) []*tableDef {
	return l.descendants(t, func(child, parent *tableDef) bool {
		return (child.parent != nil && *child.parent == parent.name) || slices.Contains(child.inherits, parent.name)
	})
}

func (l *loader) descendants(t *tableDef, isChild func(child, parent *tableDef) bool) []*tableDef {
	seen := map[*tableDef]bool{t: true}
	var out []*tableDef
	queue := []*tableDef{t}
	all := l.sortedTables()
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range all {
			if !seen[c] && isChild(c, p) {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out
}

// sortedTables returns the tables in name order, for deterministic walks.
func (l *loader) sortedTables() []*tableDef {
	out := make([]*tableDef, 0, len(l.tables))
	for _, t := range l.tables {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *tableDef) int {
		if a.name.Less(b.name) {
			return -1
		}
		if b.name.Less(a.name) {
			return 1
		}
		return 0
	})
	return out
}

// createEnum applies CREATE TYPE … AS ENUM.
func (l *loader) createEnum(s *pg_query.CreateEnumStmt, defSchema string) error {
	q := qualify(stringsOf(s.GetTypeName()), defSchema)
	if l.userType(q) {
		return fmt.Errorf("type %q already exists", q.String())
	}
	l.enums[q] = &schema.Enum{QualifiedName: q, Labels: stringsOf(s.GetVals())}
	return nil
}

// alterEnum applies ALTER TYPE … ADD VALUE / RENAME VALUE.
func (l *loader) alterEnum(s *pg_query.AlterEnumStmt, defSchema string) error {
	q := qualify(stringsOf(s.GetTypeName()), defSchema)
	e := l.enums[q]
	if e == nil {
		return fmt.Errorf("type %q does not exist", q.String())
	}
	if old := s.GetOldVal(); old != "" {
		return renameLabel(e, old, s.GetNewVal())
	}
	if slices.Contains(e.Labels, s.GetNewVal()) {
		if s.GetSkipIfNewValExists() {
			return nil
		}
		return fmt.Errorf("enum label %q already exists", s.GetNewVal())
	}
	at := len(e.Labels)
	if nb := s.GetNewValNeighbor(); nb != "" {
		at = slices.Index(e.Labels, nb)
		if at < 0 {
			return fmt.Errorf("%q is not an existing enum label", nb)
		}
		if s.GetNewValIsAfter() {
			at++
		}
	}
	e.Labels = slices.Insert(e.Labels, at, s.GetNewVal())
	return nil
}

func renameLabel(e *schema.Enum, old, new string) error {
	i := slices.Index(e.Labels, old)
	if i < 0 {
		return fmt.Errorf("%q is not an existing enum label", old)
	}
	if slices.Contains(e.Labels, new) {
		return fmt.Errorf("enum label %q already exists", new)
	}
	e.Labels[i] = new
	return nil
}

// createDomain applies CREATE DOMAIN.
func (l *loader) createDomain(s *pg_query.CreateDomainStmt, defSchema string) error {
	q := qualify(stringsOf(s.GetDomainname()), defSchema)
	if l.userType(q) {
		return fmt.Errorf("type %q already exists", q.String())
	}
	base, _ := l.typeRefOf(s.GetTypeName(), defSchema)
	if base.QualifiedName == q {
		return fmt.Errorf("type %q does not exist", q.String())
	}
	d := &domainDef{name: q, base: base}
	for _, n := range s.GetConstraints() {
		switch n.GetConstraint().GetContype() {
		case pg_query.ConstrType_CONSTR_NOTNULL:
			d.notNull = true
		case pg_query.ConstrType_CONSTR_NULL:
			d.notNull = false
		}
	}
	l.domains[q] = d
	return nil
}

// alterDomain applies ALTER DOMAIN … SET/DROP NOT NULL.
func (l *loader) alterDomain(s *pg_query.AlterDomainStmt, defSchema string) error {
	q := qualify(stringsOf(s.GetTypeName()), defSchema)
	d := l.domains[q]
	if d == nil {
		return fmt.Errorf("type %q does not exist", q.String())
	}
	switch s.GetSubtype() {
	case "O":
		d.notNull = true
	case "N":
		d.notNull = false
	}
	return nil
}

// schema builds the model from the loader state.
func (l *loader) schema() *schema.Schema {
	s := &schema.Schema{}
	for _, t := range l.tables {
		s.Tables = append(s.Tables, l.modelTable(t))
	}
	for _, e := range l.enums {
		s.Enums = append(s.Enums, &schema.Enum{QualifiedName: e.QualifiedName, Labels: nilIfEmpty(slices.Clone(e.Labels))})
	}
	for _, d := range l.domains {
		base := l.resolve(d.base)
		base.Domain = nil
		s.Domains = append(s.Domains, &schema.Domain{QualifiedName: d.name, Base: base, NotNull: d.notNull})
	}
	s.Sort()
	return s
}

func (l *loader) modelTable(t *tableDef) *schema.Table {
	mt := &schema.Table{QualifiedName: t.name, Partitioned: t.partitioned, PrimaryKey: nilIfEmpty(slices.Clone(t.pk))}
	if t.parent != nil {
		p := *t.parent
		mt.PartitionOf = &p
	}
	for _, c := range t.cols {
		mt.Columns = append(mt.Columns, &schema.Column{
			Name: c.name, Type: l.resolve(c.typ), NotNull: c.notNull,
			Generated: c.generated, Identity: c.identity,
		})
	}
	return mt
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
