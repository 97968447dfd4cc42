package sqlfile

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
)

// Check parses every statement with PostgreSQL's own parser
// (pg_query), and the body of every PL/pgSQL function with its PL/pgSQL
// parser. A failure is a bug in the templates, reported with the
// statement so it can be fixed.
func Check(stmts []string) error {
	for _, s := range stmts {
		tree, err := pg_query.Parse(s)
		if err != nil {
			return fmt.Errorf("generated SQL does not parse (a threadline-gen bug): %w\n%s", err, s)
		}
		for _, raw := range tree.Stmts {
			fn := raw.Stmt.GetCreateFunctionStmt()
			if fn == nil || !isPlpgsql(fn) {
				continue
			}
			if _, err := pg_query.ParsePlPgSqlToJSON(s); err != nil {
				return fmt.Errorf("generated PL/pgSQL does not parse (a threadline-gen bug): %w\n%s", err, s)
			}
		}
	}
	return nil
}

func isPlpgsql(fn *pg_query.CreateFunctionStmt) bool {
	for _, o := range fn.Options {
		d := o.GetDefElem()
		if d != nil && d.Defname == "language" && strings.EqualFold(d.Arg.GetString_().GetSval(), "plpgsql") {
			return true
		}
	}
	return false
}
