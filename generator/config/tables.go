package config

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/schema"
)

// tableSet collects the decoded tables in file order.
type tableSet struct {
	list []*Table
	// unqualified marks tables written without a schema ("users").
	unqualified map[*Table]bool
}

// tables decodes the tables mapping; it needs at least one entry.
func (d *decoder) tables(set *tableSet) func(k, v *yaml.Node) error {
	return func(k, v *yaml.Node) error {
		pairs, err := d.pairs(v, "tables")
		if err != nil {
			return err
		}
		if len(pairs) == 0 {
			return d.errf(k, "tables: list at least one table to audit")
		}
		set.unqualified = make(map[*Table]bool, len(pairs))
		for _, p := range pairs {
			t, unqualified, err := d.table(p.key, p.val)
			if err != nil {
				return err
			}
			set.list = append(set.list, t)
			set.unqualified[t] = unqualified
		}
		return nil
	}
}

// table decodes one entry of tables; the value may be null or {}.
func (d *decoder) table(key, val *yaml.Node) (t *Table, unqualified bool, err error) {
	q, unqualified, err := d.tableName(key)
	if err != nil {
		return nil, false, err
	}
	name := resolve(key).Value
	path := "tables." + name
	t = &Table{Name: Name{Value: name, Pos: d.pos(key)}, MaskPlaceholder: DefaultMaskPlaceholder, Capture: contract.ModeStatement, qname: q}
	list := func(field string, dst *[]Name) func(_, v *yaml.Node) error {
		return func(_, v *yaml.Node) (err error) {
			*dst, err = d.names(v, path+"."+field, "column name")
			return err
		}
	}
	err = d.mapping(key, val, path, []field{
		{name: "exclude", decode: list("exclude", &t.Exclude)},
		{name: "mask", decode: list("mask", &t.Mask)},
		{name: "mask_placeholder", decode: func(_, v *yaml.Node) (err error) {
			t.MaskPlaceholder, err = d.str(v, path+".mask_placeholder")
			t.MaskPlaceholderPos = d.pos(v)
			return err
		}},
		{name: "store_changed_from", decode: func(_, v *yaml.Node) (err error) {
			t.StoreChangedFrom, err = d.bool(v, path+".store_changed_from")
			return err
		}},
		{name: "except_columns", decode: list("except_columns", &t.ExceptColumns)},
		{name: "capture", decode: func(_, v *yaml.Node) (err error) {
			t.CapturePos = d.pos(v)
			mode, err := d.str(v, path+".capture")
			if err != nil {
				return err
			}
			t.Capture = contract.Mode(mode)
			if t.Capture != contract.ModeStatement && t.Capture != contract.ModeRow {
				return d.errf(v, "%s.capture: want %q or %q, got %q", path, contract.ModeStatement, contract.ModeRow, mode)
			}
			return nil
		}},
		{name: "key", decode: func(k, v *yaml.Node) (err error) {
			t.KeyPos = d.pos(v)
			return list("key", &t.Key)(k, v)
		}},
	})
	if err != nil {
		return nil, false, err
	}
	d.checkTable(t, path)
	return t, unqualified, nil
}

// tableName parses a key of tables; unqualified names are in "public".
func (d *decoder) tableName(key *yaml.Node) (q schema.QualifiedName, unqualified bool, err error) {
	k := resolve(key)
	if k.ShortTag() != "!!str" {
		return q, false, d.errf(key, "tables: a table name must be a string, got %s", describe(k))
	}
	if k.Value == "" {
		return q, false, d.errf(key, "tables: empty table name")
	}
	q, perr := contract.ParseQualifiedName(k.Value, "")
	if perr != nil {
		return q, false, d.errf(key, "tables: %v", perr)
	}
	if q.Schema == "" {
		q.Schema, unqualified = "public", true
	}
	return q, unqualified, nil
}

// checkTable validates one table's column lists and placeholder.
func (d *decoder) checkTable(t *Table, path string) {
	for _, l := range []struct {
		field string
		names []Name
	}{{"exclude", t.Exclude}, {"mask", t.Mask}, {"except_columns", t.ExceptColumns}, {"key", t.Key}} {
		d.checkDuplicates(path+"."+l.field, "column", l.names)
	}
	excluded := set(t.Exclude)
	for _, m := range t.Mask {
		if excluded[m.Value] {
			d.problem(m.Pos, "%s: column %q is both excluded and masked", path, m.Value)
		}
	}
	if t.KeyPos != (Pos{}) && len(t.Key) == 0 {
		d.problem(t.KeyPos, "%s.key: list at least one column (or remove key to use the primary key)", path)
	}
	if t.MaskPlaceholderPos != (Pos{}) {
		if msg := placeholderProblem(t.MaskPlaceholder); msg != "" {
			d.problem(t.MaskPlaceholderPos, "%s.mask_placeholder: %s", path, msg)
		}
	}
}

// checkTables validates the tables together: no table twice, none of
// Threadline's own.
func (d *decoder) checkTables(set *tableSet, auditSchema string) {
	first := make(map[schema.QualifiedName]*Table, len(set.list))
	for _, t := range set.list {
		q, path := t.qname, "tables."+t.Name.Value
		if prev, dup := first[q]; dup {
			d.problem(t.Name.Pos, "%s: duplicate table %s (already listed as %q at line %d)", path, q, prev.Name.Value, prev.Name.Pos.Line)
			continue
		}
		first[q] = t
		if msg := ownTableProblem(q, set.unqualified[t], auditSchema); msg != "" {
			d.problem(t.Name.Pos, "%s: %s", path, msg)
		}
	}
}

// ownTableProblem explains why q may not be audited, or returns "".
func ownTableProblem(q schema.QualifiedName, unqualified bool, auditSchema string) string {
	switch {
	case q.Schema == auditSchema && isOwnTable(q.Name):
		return fmt.Sprintf("%s is one of Threadline's own audit tables", q)
	case q.Schema == auditSchema:
		return fmt.Sprintf("%s is in the audit schema %q, which holds Threadline's own audit tables; audited tables must live elsewhere", q, auditSchema)
	case unqualified && isOwnTable(q.Name):
		return fmt.Sprintf("%s is one of Threadline's own audit tables (write %s if you mean a table of your own)", q.Name, q)
	}
	return ""
}

// checkTableNames validates a list of table names at path
// (coverage.expected_tables, coverage.ignore_tables).
func (d *decoder) checkTableNames(path string, names []Name) {
	seen := make(map[schema.QualifiedName]bool, len(names))
	for i, n := range names {
		q, err := contract.ParseQualifiedName(n.Value, "public")
		if err != nil {
			d.problem(n.Pos, "%s[%d]: %v", path, i, err)
			continue
		}
		if seen[q] {
			d.problem(n.Pos, "%s: table %s is listed twice", path, q)
		}
		seen[q] = true
	}
}

// checkDuplicates reports names listed twice in one list.
func (d *decoder) checkDuplicates(path, what string, names []Name) {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n.Value] {
			d.problem(n.Pos, "%s: %s %q is listed twice", path, what, n.Value)
		}
		seen[n.Value] = true
	}
}

// set returns the values of names as a set.
func set(names []Name) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n.Value] = true
	}
	return m
}
