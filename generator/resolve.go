package generator

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/sqltemplates"
)

// Resolve checks the config's tables against the schema and returns the
// capture of every audited table, in qualified-name order. Errors are
// *config.Error values positioned at the offending config entry.
func Resolve(cfg *config.Config, s *schema.Schema) ([]sqltemplates.Capture, error) {
	var out []sqltemplates.Capture
	for _, tc := range cfg.Tables {
		c, err := ResolveTable(cfg, tc, s)
		if err != nil {
			return nil, err
		}
		if cfg.Engine == config.EngineWAL {
			c.WAL = &sqltemplates.WALCapture{Publication: cfg.WAL.Publication, Identity: cfg.WAL.Identity(c.Table)}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table.Less(out[j].Table) })
	return out, nil
}

// ResolveTable checks one configured table of cfg against the schema and
// returns its capture.
func ResolveTable(cfg *config.Config, tc *config.Table, s *schema.Schema) (sqltemplates.Capture, error) {
	q := tc.Qualified()
	t := s.Table(q)
	if t == nil {
		return sqltemplates.Capture{}, config.Errorf(tc.Name.Pos, "table %s not found in the schema%s", q, similarTables(s, q))
	}
	if t.PartitionOf != nil {
		return sqltemplates.Capture{}, config.Errorf(tc.Name.Pos, "table %s is a partition of %s: audit the partitioned table %s instead (its capture covers every partition)", q, t.PartitionOf, t.PartitionOf)
	}
	for _, list := range [][]config.Name{tc.Exclude, tc.Mask, tc.ExceptColumns, tc.Key} {
		for _, n := range list {
			if t.Column(n.Value) == nil {
				return sqltemplates.Capture{}, config.Errorf(n.Pos, "table %s has no column %q%s", q, n.Value, similarColumns(t, n.Value))
			}
		}
	}
	key := values(tc.Key)
	if len(key) == 0 {
		key = t.PrimaryKey
	}
	if len(key) == 0 {
		return sqltemplates.Capture{}, config.Errorf(tc.Name.Pos, "table %s has no primary key: set key: [column, ...] to the columns that identify a row", q)
	}
	if err := checkRedaction(s, tc, t, key); err != nil {
		return sqltemplates.Capture{}, err
	}
	c := sqltemplates.Capture{
		AuditSchema:      cfg.AuditSchema,
		Table:            q,
		Key:              key,
		Exclude:          sortedValues(tc.Exclude),
		Mask:             sortedValues(tc.Mask),
		Except:           sortedValues(tc.ExceptColumns),
		StoreChangedFrom: tc.StoreChangedFrom,
	}
	if len(c.Mask) > 0 {
		c.Placeholder = tc.MaskPlaceholder
	}
	c.Unpinned = true
	for _, col := range t.Columns {
		c.Columns = append(c.Columns, col.Name)
		c.Unpinned = c.Unpinned && sqltemplates.SettingsFree(col.Type)
	}
	c.Mode = tc.Capture
	if t.Partitioned {
		if tc.Capture == contract.ModeStatement && tc.CapturePos.Line > 0 {
			return sqltemplates.Capture{}, config.Errorf(tc.CapturePos, "table %s is partitioned: it is captured with a row-level trigger (PostgreSQL clones it to every partition); remove capture: statement", q)
		}
		c.Mode = sqltemplates.ModeRow
		c.TruncateAlso = descendants(s, q)
	}
	return c, nil
}

// checkRedaction refuses what redaction cannot honour: a key column masked
// or excluded (table_pk stores key values in clear), and an excluded
// column of a NOT NULL domain (the capture sets excluded columns to NULL
// before it builds an image, so their values are never converted; such a
// domain would reject that NULL and fail the write).
func checkRedaction(s *schema.Schema, tc *config.Table, t *schema.Table, key []string) error {
	q := tc.Qualified()
	for _, r := range []struct {
		what  string
		names []config.Name
	}{{"exclude", tc.Exclude}, {"mask", tc.Mask}} {
		for _, n := range r.names {
			if slices.Contains(key, n.Value) {
				return config.Errorf(n.Pos, "table %s: column %q is part of the key (%s), which is stored in clear in table_pk: it cannot be in %s",
					q, n.Value, strings.Join(key, ", "), r.what)
			}
		}
	}
	for _, n := range tc.Exclude {
		c := t.Column(n.Value)
		if c.Type.Domain == nil {
			continue
		}
		for _, d := range s.Domains {
			if d.QualifiedName == *c.Type.Domain && d.NotNull {
				return config.Errorf(n.Pos, "table %s: excluded column %q has the NOT NULL domain type %s, which Threadline cannot build images without "+
					"(it sets excluded columns to NULL first); mask it instead, or drop NOT NULL from the domain and put it on the column", q, n.Value, d.QualifiedName)
			}
		}
	}
	return nil
}

// descendants lists every partition below parent, depth first, in name
// order.
func descendants(s *schema.Schema, parent schema.QualifiedName) []schema.QualifiedName {
	var out []schema.QualifiedName
	for _, p := range s.Partitions(parent) {
		out = append(out, p.QualifiedName)
		out = append(out, descendants(s, p.QualifiedName)...)
	}
	return out
}

func values(ns []config.Name) []string {
	if len(ns) == 0 {
		return nil
	}
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Value
	}
	return out
}

func sortedValues(ns []config.Name) []string {
	out := values(ns)
	sort.Strings(out)
	return out
}

// similarColumns suggests the column whose name differs from name only
// in case, or else lists the table's columns.
func similarColumns(t *schema.Table, name string) string {
	var names []string
	for _, c := range t.Columns {
		names = append(names, c.Name)
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return fmt.Sprintf(" (did you mean %q?)", n)
		}
	}
	return fmt.Sprintf(" (columns: %s)", strings.Join(names, ", "))
}
