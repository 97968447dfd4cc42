package config

import (
	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/schema"
)

// checkIgnoredTables reports the tables of coverage.ignore_tables that
// are also required (coverage.expected_tables) or audited (tables): a
// table cannot be both.
func (d *decoder) checkIgnoredTables(cfg *Config) {
	expected := map[schema.QualifiedName]Name{}
	for _, n := range cfg.Coverage.ExpectedTables {
		if q, err := contract.ParseQualifiedName(n.Value, "public"); err == nil {
			expected[q] = n
		}
	}
	audited := map[schema.QualifiedName]*Table{}
	for _, t := range cfg.Tables {
		audited[t.Qualified()] = t
	}
	for _, n := range cfg.Coverage.IgnoreTables {
		q, err := contract.ParseQualifiedName(n.Value, "public")
		if err != nil {
			continue // reported by checkTableNames
		}
		if e, ok := expected[q]; ok {
			d.problem(n.Pos, "coverage.ignore_tables: table %s is also in coverage.expected_tables (line %d): a table cannot be both required and ignored", q, e.Pos.Line)
		} else if t, ok := audited[q]; ok {
			d.problem(n.Pos, "coverage.ignore_tables: table %s is audited (tables, line %d): remove it from ignore_tables", q, t.Name.Pos.Line)
		}
	}
}
