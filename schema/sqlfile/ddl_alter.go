package sqlfile

import (
	"fmt"
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/threadline-go/threadline/schema"
)

// relevantCmds are the ALTER TABLE subcommands that change the model. An
// ALTER TABLE on an unknown relation is an error only when it holds one of
// them: ownership or default changes on views and sequences (pg_dump
// writes those with ALTER TABLE) are ignored.
var relevantCmds = map[pg_query.AlterTableType]bool{
	pg_query.AlterTableType_AT_AddColumn:       true,
	pg_query.AlterTableType_AT_DropColumn:      true,
	pg_query.AlterTableType_AT_AlterColumnType: true,
	pg_query.AlterTableType_AT_SetNotNull:      true,
	pg_query.AlterTableType_AT_DropNotNull:     true,
	pg_query.AlterTableType_AT_DropConstraint:  true,
	pg_query.AlterTableType_AT_AddIdentity:     true,
	pg_query.AlterTableType_AT_SetIdentity:     true,
	pg_query.AlterTableType_AT_DropIdentity:    true,
	pg_query.AlterTableType_AT_DropExpression:  true,
	pg_query.AlterTableType_AT_AttachPartition: true,
	pg_query.AlterTableType_AT_DetachPartition: true,
	pg_query.AlterTableType_AT_AddInherit:      true,
	pg_query.AlterTableType_AT_DropInherit:     true,
}

func isRelevant(cmd *pg_query.AlterTableCmd) bool {
	if cmd.GetSubtype() == pg_query.AlterTableType_AT_AddConstraint {
		return cmd.GetDef().GetConstraint().GetContype() == pg_query.ConstrType_CONSTR_PRIMARY
	}
	return relevantCmds[cmd.GetSubtype()]
}

// alterTable applies ALTER TABLE [IF EXISTS] [ONLY] name cmd, ….
func (l *loader) alterTable(s *pg_query.AlterTableStmt, defSchema string) error {
	if s.GetObjtype() != pg_query.ObjectType_OBJECT_TABLE {
		return nil
	}
	name := relName(s.GetRelation(), defSchema)
	t := l.tables[name]
	if t == nil {
		if s.GetMissingOk() || !slices.ContainsFunc(s.GetCmds(), func(n *pg_query.Node) bool { return isRelevant(n.GetAlterTableCmd()) }) {
			return nil
		}
		return fmt.Errorf("relation %q does not exist", name.String())
	}
	recurse := s.GetRelation().GetInh()
	cmds := slices.Clone(s.GetCmds())
	slices.SortStableFunc(cmds, func(a, b *pg_query.Node) int {
		return cmdPass(a.GetAlterTableCmd()) - cmdPass(b.GetAlterTableCmd())
	})
	for _, n := range cmds {
		if err := l.alterTableCmd(t, n.GetAlterTableCmd(), recurse, defSchema); err != nil {
			return err
		}
	}
	return nil
}

// cmdPass mirrors the passes in which PostgreSQL executes the subcommands
// of one ALTER TABLE (AT_PASS_* in tablecmds.c): drops first, then type
// changes, added columns, constraints, SET NOT NULL, indexes (primary
// keys), identity, and the rest; order is kept within a pass.
func cmdPass(cmd *pg_query.AlterTableCmd) int {
	switch cmd.GetSubtype() {
	case pg_query.AlterTableType_AT_DropColumn, pg_query.AlterTableType_AT_DropNotNull,
		pg_query.AlterTableType_AT_DropConstraint, pg_query.AlterTableType_AT_DropIdentity,
		pg_query.AlterTableType_AT_DropExpression:
		return 0
	case pg_query.AlterTableType_AT_AlterColumnType:
		return 1
	case pg_query.AlterTableType_AT_AddColumn:
		return 4
	case pg_query.AlterTableType_AT_AddConstraint:
		con := cmd.GetDef().GetConstraint()
		switch {
		case con.GetContype() != pg_query.ConstrType_CONSTR_PRIMARY:
			return 5
		case con.GetIndexname() != "":
			return 7
		}
		return 8
	case pg_query.AlterTableType_AT_SetNotNull:
		return 6
	case pg_query.AlterTableType_AT_AddIdentity:
		return 9
	}
	return 10
}

func (l *loader) alterTableCmd(t *tableDef, cmd *pg_query.AlterTableCmd, recurse bool, defSchema string) error {
	switch cmd.GetSubtype() {
	case pg_query.AlterTableType_AT_AddColumn:
		return l.addColumn(t, cmd, recurse, defSchema)
	case pg_query.AlterTableType_AT_DropColumn:
		return l.dropColumn(t, cmd.GetName(), cmd.GetMissingOk(), recurse)
	case pg_query.AlterTableType_AT_AddConstraint:
		if con := cmd.GetDef().GetConstraint(); con.GetContype() == pg_query.ConstrType_CONSTR_PRIMARY {
			return l.addPrimaryKey(t, constraintPK(con), recurse)
		}
	case pg_query.AlterTableType_AT_DropConstraint:
		if t.pk != nil && cmd.GetName() == t.pkName {
			l.dropPrimaryKey(t)
		}
	case pg_query.AlterTableType_AT_AttachPartition:
		return l.attachPartition(t, cmd.GetDef().GetPartitionCmd().GetName(), defSchema)
	case pg_query.AlterTableType_AT_DetachPartition:
		return l.detachPartition(t, cmd.GetDef().GetPartitionCmd().GetName(), defSchema)
	case pg_query.AlterTableType_AT_AddInherit:
		return l.addInherit(t, cmd.GetDef().GetRangeVar(), defSchema)
	case pg_query.AlterTableType_AT_DropInherit:
		p := relName(cmd.GetDef().GetRangeVar(), defSchema)
		t.inherits = slices.DeleteFunc(t.inherits, func(q schema.QualifiedName) bool { return q == p })
	default:
		return l.alterColumn(t, cmd, recurse, defSchema)
	}
	return nil
}

// alterColumn applies the ALTER COLUMN subcommands.
func (l *loader) alterColumn(t *tableDef, cmd *pg_query.AlterTableCmd, recurse bool, defSchema string) error {
	var change func(c *columnDef) error
	inherited := true // whether the change applies to child tables too
	switch cmd.GetSubtype() {
	case pg_query.AlterTableType_AT_AlterColumnType:
		ref, _ := l.typeRefOf(cmd.GetDef().GetColumnDef().GetTypeName(), defSchema)
		change = func(c *columnDef) error { c.typ = ref; return nil }
	case pg_query.AlterTableType_AT_SetNotNull:
		change = func(c *columnDef) error { c.notNull = true; return nil }
	case pg_query.AlterTableType_AT_DropNotNull:
		change = func(c *columnDef) error { return l.dropNotNull(t, c) }
	case pg_query.AlterTableType_AT_DropExpression:
		change = func(c *columnDef) error { c.generated = false; return nil }
	case pg_query.AlterTableType_AT_AddIdentity:
		kind := schema.IdentityKind(cmd.GetDef().GetConstraint().GetGeneratedWhen())
		change = func(c *columnDef) error { c.identity, c.notNull = kind, true; return nil }
		inherited = false
	case pg_query.AlterTableType_AT_SetIdentity:
		kind := setIdentityKind(cmd.GetDef().GetList().GetItems())
		change = func(c *columnDef) error {
			if c.identity != "" && kind != "" {
				c.identity = kind
			}
			return nil
		}
		inherited = false
	case pg_query.AlterTableType_AT_DropIdentity:
		change = func(c *columnDef) error { c.identity = ""; return nil }
		inherited = false
	default:
		return nil
	}
	c := t.col(cmd.GetName())
	if c == nil {
		return fmt.Errorf("column %q of relation %q does not exist", cmd.GetName(), t.name.String())
	}
	if err := change(c); err != nil {
		return err
	}
	if !recurse || !inherited {
		return nil
	}
	for _, child := range l.children(t) {
		if cc := child.col(cmd.GetName()); cc != nil {
			if err := change(cc); err != nil {
				return err
			}
		}
	}
	return nil
}

// setIdentityKind reads the kind from ALTER COLUMN SET GENERATED's options.
func setIdentityKind(opts []*pg_query.Node) string {
	for _, o := range opts {
		if d := o.GetDefElem(); d.GetDefname() == "generated" {
			return schema.IdentityKind(string(rune(d.GetArg().GetInteger().GetIval())))
		}
	}
	return ""
}

func (l *loader) dropNotNull(t *tableDef, c *columnDef) error {
	if slices.Contains(t.pk, c.name) {
		return fmt.Errorf("column %q is in a primary key", c.name)
	}
	if c.identity != "" {
		return fmt.Errorf("column %q of relation %q is an identity column", c.name, t.name.String())
	}
	c.notNull = false
	return nil
}

// addColumn applies ADD COLUMN [IF NOT EXISTS], adding the column to child
// tables too (without identity, as PostgreSQL does for partitions).
func (l *loader) addColumn(t *tableDef, cmd *pg_query.AlterTableCmd, recurse bool, defSchema string) error {
	cd := cmd.GetDef().GetColumnDef()
	if t.col(cd.GetColname()) != nil {
		if cmd.GetMissingOk() {
			return nil
		}
		return fmt.Errorf("column %q of relation %q already exists", cd.GetColname(), t.name.String())
	}
	c, pk := l.newColumn(cd, defSchema)
	t.cols = append(t.cols, c)
	if recurse {
		for _, child := range l.children(t) {
			if child.col(c.name) == nil {
				child.cols = append(child.cols, inheritedColumn(c))
			}
		}
	}
	if pk != nil {
		return l.addPrimaryKey(t, *pk, recurse)
	}
	return nil
}

// dropColumn applies DROP COLUMN [IF EXISTS]: the column leaves t, the
// partitions, and the inheritance children that do not define it locally.
// A primary key using the column is dropped with it.
func (l *loader) dropColumn(t *tableDef, name string, missingOK, recurse bool) error {
	if t.col(name) == nil {
		if missingOK {
			return nil
		}
		return fmt.Errorf("column %q of relation %q does not exist", name, t.name.String())
	}
	removeColumn(t, name)
	for _, child := range l.children(t) {
		c := child.col(name)
		switch {
		case c == nil:
		case recurse && (child.parent != nil || !c.local):
			removeColumn(child, name)
		default:
			c.local = true
		}
	}
	return nil
}

func removeColumn(t *tableDef, name string) {
	t.cols = slices.DeleteFunc(t.cols, func(c *columnDef) bool { return c.name == name })
	if slices.Contains(t.pk, name) {
		t.pk, t.pkName = nil, ""
	}
}

// dropPrimaryKey drops t's primary key and the partitions' ones (they are
// inherited); NOT NULL stays, as in PostgreSQL 15.
func (l *loader) dropPrimaryKey(t *tableDef) {
	t.pk, t.pkName = nil, ""
	for _, p := range l.partitions(t) {
		p.pk, p.pkName = nil, ""
	}
}

// attachPartition applies ATTACH PARTITION: the partition gets the
// parent's primary key when it has none.
func (l *loader) attachPartition(t *tableDef, rv *pg_query.RangeVar, defSchema string) error {
	child, err := l.existingTable(relName(rv, defSchema))
	if err != nil {
		return err
	}
	if child == t || slices.Contains(l.children(child), t) || child.parent != nil {
		return fmt.Errorf("cannot attach %q as a partition of %q", child.name.String(), t.name.String())
	}
	q := t.name
	child.parent = &q
	for _, c := range child.cols {
		c.local = false
	}
	if t.pk != nil && child.pk == nil {
		return l.addPrimaryKey(child, pkSpec{keys: t.pk}, true)
	}
	return nil
}

// detachPartition applies DETACH PARTITION; the table keeps its columns
// and primary key.
func (l *loader) detachPartition(t *tableDef, rv *pg_query.RangeVar, defSchema string) error {
	child, err := l.existingTable(relName(rv, defSchema))
	if err != nil {
		return err
	}
	if child.parent == nil || *child.parent != t.name {
		return fmt.Errorf("relation %q is not a partition of relation %q", child.name.String(), t.name.String())
	}
	child.parent = nil
	for _, c := range child.cols {
		c.local = true
	}
	return nil
}

// addInherit applies ALTER TABLE … INHERIT parent.
func (l *loader) addInherit(t *tableDef, rv *pg_query.RangeVar, defSchema string) error {
	p, err := l.existingTable(relName(rv, defSchema))
	if err != nil {
		return err
	}
	if p == t || slices.Contains(l.children(t), p) {
		return fmt.Errorf("circular inheritance not allowed")
	}
	if !slices.Contains(t.inherits, p.name) {
		t.inherits = append(t.inherits, p.name)
	}
	return nil
}

func (l *loader) existingTable(q schema.QualifiedName) (*tableDef, error) {
	if t := l.tables[q]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("relation %q does not exist", q.String())
}

// rename applies the RENAME forms of ALTER TABLE/INDEX/TYPE/DOMAIN/SCHEMA.
func (l *loader) rename(s *pg_query.RenameStmt, defSchema string) error {
	switch s.GetRenameType() {
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_INDEX:
		// PostgreSQL lets ALTER TABLE rename an index and ALTER INDEX a table.
		q := relName(s.GetRelation(), defSchema)
		if t := l.tables[q]; t != nil {
			return l.moveTable(t, schema.QualifiedName{Schema: q.Schema, Name: s.GetNewname()})
		}
		if s.GetRenameType() == pg_query.ObjectType_OBJECT_INDEX || l.relationExists(q) || s.GetMissingOk() {
			l.renameIndex(q, s.GetNewname())
			return nil
		}
		return fmt.Errorf("relation %q does not exist", q.String())
	case pg_query.ObjectType_OBJECT_COLUMN:
		if s.GetRelationType() != pg_query.ObjectType_OBJECT_TABLE {
			return nil
		}
		return l.withTable(s.GetRelation(), s.GetMissingOk(), defSchema, func(t *tableDef) error {
			return l.renameColumn(t, s.GetSubname(), s.GetNewname())
		})
	case pg_query.ObjectType_OBJECT_TABCONSTRAINT:
		return l.withTable(s.GetRelation(), s.GetMissingOk(), defSchema, func(t *tableDef) error {
			if t.pk != nil && t.pkName == s.GetSubname() {
				t.pkName = s.GetNewname()
			}
			return nil
		})
	case pg_query.ObjectType_OBJECT_TYPE, pg_query.ObjectType_OBJECT_DOMAIN:
		q := qualify(stringsOf(s.GetObject().GetList().GetItems()), defSchema)
		return l.moveType(q, schema.QualifiedName{Schema: q.Schema, Name: s.GetNewname()})
	case pg_query.ObjectType_OBJECT_SCHEMA:
		l.renameSchema(s.GetSubname(), s.GetNewname())
	}
	return nil
}

// withTable runs f on the named table; a missing table is an error unless
// missingOK.
func (l *loader) withTable(rv *pg_query.RangeVar, missingOK bool, defSchema string, f func(*tableDef) error) error {
	q := relName(rv, defSchema)
	t := l.tables[q]
	if t == nil {
		if missingOK {
			return nil
		}
		return fmt.Errorf("relation %q does not exist", q.String())
	}
	return f(t)
}

// renameColumn applies RENAME COLUMN to t and its children.
func (l *loader) renameColumn(t *tableDef, old, new string) error {
	if t.col(old) == nil {
		return fmt.Errorf("column %q of relation %q does not exist", old, t.name.String())
	}
	if t.col(new) != nil {
		return fmt.Errorf("column %q of relation %q already exists", new, t.name.String())
	}
	for _, tt := range append([]*tableDef{t}, l.children(t)...) {
		if c := tt.col(old); c != nil && tt.col(new) == nil {
			c.name = new
			renameIn(tt.pk, old, new)
			for _, idx := range l.indexes {
				if idx.table == tt.name {
					renameIn(idx.cols, old, new)
				}
			}
		}
	}
	return nil
}

func renameIn(names []string, old, new string) {
	for i, n := range names {
		if n == old {
			names[i] = new
		}
	}
}

// moveTable renames t and/or moves it to another schema; references from
// partitions, inheritance children and indexes follow.
func (l *loader) moveTable(t *tableDef, to schema.QualifiedName) error {
	from := t.name
	if from == to {
		return nil
	}
	if l.tables[to] != nil {
		return fmt.Errorf("relation %q already exists", to.String())
	}
	delete(l.tables, from)
	t.name = to
	l.tables[to] = t
	for _, o := range l.tables {
		if o.parent != nil && *o.parent == from {
			o.parent = &to
		}
		renameRef(o.inherits, from, to)
	}
	for q, idx := range l.indexes {
		if idx.table == from {
			idx.table = to
			delete(l.indexes, q)
			l.indexes[schema.QualifiedName{Schema: to.Schema, Name: q.Name}] = idx
		}
	}
	return nil
}

func renameRef(refs []schema.QualifiedName, from, to schema.QualifiedName) {
	for i, r := range refs {
		if r == from {
			refs[i] = to
		}
	}
}

// renameIndex follows ALTER INDEX … RENAME: renaming a primary key index
// renames the constraint too.
func (l *loader) renameIndex(q schema.QualifiedName, newName string) {
	to := schema.QualifiedName{Schema: q.Schema, Name: newName}
	if idx := l.indexes[q]; idx != nil && l.indexes[to] == nil {
		delete(l.indexes, q)
		l.indexes[to] = idx
	}
	for _, t := range l.tables {
		if t.name.Schema == q.Schema && t.pk != nil && t.pkName == q.Name {
			t.pkName = newName
		}
	}
}

// moveType renames an enum or domain or moves it to another schema;
// columns and domains declared with it follow. Unknown types (composites,
// ranges) are ignored.
func (l *loader) moveType(from, to schema.QualifiedName) error {
	if from == to || !l.userType(from) {
		return nil
	}
	if l.userType(to) {
		return fmt.Errorf("type %q already exists", to.String())
	}
	if e := l.enums[from]; e != nil {
		delete(l.enums, from)
		e.QualifiedName = to
		l.enums[to] = e
	}
	if d := l.domains[from]; d != nil {
		delete(l.domains, from)
		d.name = to
		l.domains[to] = d
	}
	l.eachTypeRef(func(r *typeRef) {
		if r.QualifiedName == from {
			r.QualifiedName = to
		}
	})
	return nil
}

// eachTypeRef calls f on every column type and domain base type.
func (l *loader) eachTypeRef(f func(*typeRef)) {
	for _, t := range l.tables {
		for _, c := range t.cols {
			f(&c.typ)
		}
	}
	for _, d := range l.domains {
		f(&d.base)
	}
}

// renameSchema applies ALTER SCHEMA … RENAME TO.
func (l *loader) renameSchema(from, to string) {
	if from == to {
		return
	}
	move := func(q schema.QualifiedName) schema.QualifiedName {
		if q.Schema == from {
			q.Schema = to
		}
		return q
	}
	for _, t := range l.sortedTables() {
		_ = l.moveTable(t, move(t.name))
	}
	for _, q := range l.typeNames() {
		_ = l.moveType(q, move(q))
	}
	for q, idx := range l.indexes {
		delete(l.indexes, q)
		l.indexes[move(q)] = idx
	}
}

// typeNames lists the enums and domains.
func (l *loader) typeNames() []schema.QualifiedName {
	var out []schema.QualifiedName
	for q := range l.enums {
		out = append(out, q)
	}
	for q := range l.domains {
		out = append(out, q)
	}
	return out
}

// setSchema applies ALTER TABLE/TYPE/DOMAIN … SET SCHEMA.
func (l *loader) setSchema(s *pg_query.AlterObjectSchemaStmt, defSchema string) error {
	switch s.GetObjectType() {
	case pg_query.ObjectType_OBJECT_TABLE:
		return l.withTable(s.GetRelation(), s.GetMissingOk(), defSchema, func(t *tableDef) error {
			return l.moveTable(t, schema.QualifiedName{Schema: s.GetNewschema(), Name: t.name.Name})
		})
	case pg_query.ObjectType_OBJECT_TYPE, pg_query.ObjectType_OBJECT_DOMAIN:
		q := qualify(stringsOf(s.GetObject().GetList().GetItems()), defSchema)
		return l.moveType(q, schema.QualifiedName{Schema: s.GetNewschema(), Name: q.Name})
	}
	return nil
}

// drop applies DROP TABLE/TYPE/DOMAIN/SCHEMA/INDEX.
func (l *loader) drop(s *pg_query.DropStmt, defSchema string) error {
	cascade := s.GetBehavior() == pg_query.DropBehavior_DROP_CASCADE
	for _, obj := range s.GetObjects() {
		var err error
		switch s.GetRemoveType() {
		case pg_query.ObjectType_OBJECT_TABLE:
			err = l.dropTable(qualify(stringsOf(obj.GetList().GetItems()), defSchema), s.GetMissingOk(), cascade)
		case pg_query.ObjectType_OBJECT_TYPE, pg_query.ObjectType_OBJECT_DOMAIN:
			err = l.dropType(qualify(stringsOf(obj.GetTypeName().GetNames()), defSchema), cascade)
		case pg_query.ObjectType_OBJECT_SCHEMA:
			err = l.dropSchema(obj.GetString_().GetSval(), cascade)
		case pg_query.ObjectType_OBJECT_INDEX:
			delete(l.indexes, qualify(stringsOf(obj.GetList().GetItems()), defSchema))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// dropTable drops a table with its partitions; inheritance children need
// CASCADE.
func (l *loader) dropTable(q schema.QualifiedName, missingOK, cascade bool) error {
	t := l.tables[q]
	if t == nil {
		if missingOK || l.untracked[q] {
			delete(l.untracked, q)
			return nil
		}
		return fmt.Errorf("table %q does not exist", q.String())
	}
	children := l.children(t)
	if !cascade && len(children) > len(l.partitions(t)) {
		return fmt.Errorf("cannot drop table %q because other objects depend on it", q.String())
	}
	for _, tt := range append(children, t) {
		delete(l.tables, tt.name)
		for iq, idx := range l.indexes {
			if idx.table == tt.name {
				delete(l.indexes, iq)
			}
		}
	}
	for _, o := range l.tables {
		o.inherits = slices.DeleteFunc(o.inherits, func(p schema.QualifiedName) bool { return p == q })
	}
	return nil
}

// dropType drops an enum or domain; with CASCADE, the columns and domains
// using it go too. Unknown types are ignored (composites, ranges…).
func (l *loader) dropType(q schema.QualifiedName, cascade bool) error {
	if !l.userType(q) {
		return nil
	}
	var usedBy []schema.QualifiedName
	for _, d := range l.domains {
		if d.base.QualifiedName == q {
			usedBy = append(usedBy, d.name)
		}
	}
	inUse := len(usedBy) > 0
	for _, t := range l.tables {
		for _, c := range t.cols {
			inUse = inUse || c.typ.QualifiedName == q
		}
	}
	if inUse && !cascade {
		return fmt.Errorf("cannot drop type %q because other objects depend on it", q.String())
	}
	delete(l.enums, q)
	delete(l.domains, q)
	for _, t := range l.tables {
		for _, c := range slices.Clone(t.cols) {
			if c.typ.QualifiedName == q {
				removeColumn(t, c.name)
			}
		}
	}
	for _, d := range usedBy {
		if err := l.dropType(d, true); err != nil {
			return err
		}
	}
	return nil
}

// dropSchema drops the tables and types of a schema; a non-empty schema
// needs CASCADE. Schemas themselves are not tracked.
func (l *loader) dropSchema(name string, cascade bool) error {
	var tables, types []schema.QualifiedName
	for q := range l.tables {
		if q.Schema == name {
			tables = append(tables, q)
		}
	}
	for _, q := range l.typeNames() {
		if q.Schema == name {
			types = append(types, q)
		}
	}
	if len(tables)+len(types) > 0 && !cascade {
		return fmt.Errorf("cannot drop schema %q because other objects depend on it", name)
	}
	for _, q := range tables {
		if err := l.dropTable(q, true, true); err != nil {
			return err
		}
	}
	for _, q := range types {
		if err := l.dropType(q, true); err != nil {
			return err
		}
	}
	return nil
}
