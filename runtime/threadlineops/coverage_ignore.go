package threadlineops

import (
	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/tlerr"
)

// CoverageIgnored: a table without capture that is not meant to have
// one: a migration tool's own table (MigrationToolTables) or a table
// in CoverageOptions.Ignored. It is informative and never a violation; an
// expected table is never ignored, and a table with capture triggers
// keeps its status.
const CoverageIgnored CoverageStatus = "ignored"

// MigrationToolTables maps the names of the tables migration tools keep
// their own state in, in whatever schema, to what they are. Coverage
// reports such a table without capture as ignored, not uncovered.
var MigrationToolTables = map[string]string{
	contract.GooseVersionTable:  "goose's version table",
	contract.MigrateTable:       "the version table of golang-migrate or dbmate",
	contract.AtlasRevisionTable: "atlas's revision table",
	contract.TernVersionTable:   "tern's version table",
}

// parseIgnored parses the names of CoverageOptions.Ignored.
func parseIgnored(names []string) (map[tableName]bool, error) {
	out := make(map[tableName]bool, len(names))
	for _, n := range names {
		t, err := parseTableName(n)
		if err != nil {
			return nil, tlerr.Wrap(err, "coverage: ignored table")
		}
		out[t] = true
	}
	return out, nil
}

// ignoreStatus turns an uncovered table that is not expected into an
// ignored one when it is a migration tool's table or in ignored.
func ignoreStatus(t *TableCoverage, ignored map[tableName]bool) {
	if t.Status != CoverageUncovered || t.Expected {
		return
	}
	if ignored[tableName{Schema: t.Schema, Name: t.Name}] {
		t.Status, t.Detail = CoverageIgnored, "in the ignore list (coverage.ignore_tables)"
		return
	}
	if what, ok := MigrationToolTables[t.Name]; ok {
		t.Status, t.Detail = CoverageIgnored, what
	}
}
