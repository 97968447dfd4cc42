package sqlfile

import (
	"strings"
	"testing"

	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/sqltemplates"
)

func TestValidateSQLRejectsBrokenSQL(t *testing.T) {
	cases := map[string]string{
		"syntax":   "CREATE TABEL x (id int)",
		"plpgsql":  "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF THEN END; $$",
		"unclosed": "SELECT 'abc",
	}
	for name, sql := range cases {
		if err := Check([]string{sql}); err == nil || !strings.Contains(err.Error(), "threadline-gen bug") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// TestEveryTemplateParses renders every template in both capture modes,
// with every redaction option, and parses each statement (PL/pgSQL bodies
// included) with pg_query.
func TestEveryTemplateParses(t *testing.T) {
	grants := sqltemplates.Grants{Writers: []string{"app"}, Readers: []string{"odd \"role\""}, Retention: []string{"ops"}}
	stmts := append(sqltemplates.Install("audit \"x\"", grants, sqltemplates.Storage{}), sqltemplates.Uninstall("audit")...)
	stmts = append(stmts, sqltemplates.Install("audit'x", grants, sqltemplates.Storage{Unit: "day", Premake: 3})...)
	stmts = append(stmts, sqltemplates.SwitchToPartitions("audit'x", grants, sqltemplates.Storage{Unit: "month", Premake: 1})...)
	for _, mode := range []sqltemplates.Mode{sqltemplates.ModeStatement, sqltemplates.ModeRow} {
		for _, redact := range []bool{false, true} {
			c := sqltemplates.Capture{
				AuditSchema: "threadline", Table: schema.QualifiedName{Schema: "s p", Name: `t"$threadline$`},
				Columns: []string{"id", "b", "c", "d"}, Key: []string{"id", "b"}, Mode: mode,
				TruncateAlso: []schema.QualifiedName{{Schema: "s", Name: "p1"}},
			}
			if redact {
				c.Exclude, c.Mask, c.Placeholder, c.Except, c.StoreChangedFrom = []string{"c"}, []string{"d"}, `x'\y`, []string{"b"}, true
			}
			u, err := sqltemplates.CaptureUnit(c)
			if err != nil {
				t.Fatal(err)
			}
			stmts = append(stmts, u.Create...)
			stmts = append(stmts, u.Drop...)
		}
	}
	if err := Check(stmts); err != nil {
		t.Fatal(err)
	}
}
