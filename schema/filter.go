package schema

import "slices"

// WithoutSchemas returns a copy of s without the tables, enums and domains
// of the named schemas (the tables, columns and types themselves are
// shared). LoadFiles has no exclusion option: when the SQL files include
// Threadline's own migrations, the generator drops the audit schema with
// this, as LiveOptions.ExcludeSchemas does for LoadLive. Columns keep
// types from excluded schemas.
func (s *Schema) WithoutSchemas(names ...string) *Schema {
	out := &Schema{}
	for _, t := range s.Tables {
		if !slices.Contains(names, t.Schema) {
			out.Tables = append(out.Tables, t)
		}
	}
	for _, e := range s.Enums {
		if !slices.Contains(names, e.Schema) {
			out.Enums = append(out.Enums, e)
		}
	}
	for _, d := range s.Domains {
		if !slices.Contains(names, d.Schema) {
			out.Domains = append(out.Domains, d)
		}
	}
	return out
}
