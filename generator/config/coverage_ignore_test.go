package config

import (
	"strings"
	"testing"
)

func TestCoverageIgnoreTables(t *testing.T) {
	c, err := Parse("t.yaml", []byte(minimal+"coverage:\n  expected_tables: [users]\n  ignore_tables: [scratch, river.river_job]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range c.Coverage.IgnoreTables {
		got = append(got, n.Value+"@"+n.Pos.String())
	}
	if want := "scratch@t.yaml:13:19 river.river_job@t.yaml:13:28"; strings.Join(got, " ") != want {
		t.Errorf("ignore_tables = %s, want %s", strings.Join(got, " "), want)
	}
	for _, c := range []struct{ name, text, want string }{
		{"bad name", "coverage:\n  ignore_tables: [a.b.c]\n",
			`t.yaml:12:19: coverage.ignore_tables[0]: table name "a.b.c": want table or schema.table`},
		{"twice", "coverage:\n  ignore_tables: [scratch, public.scratch]\n",
			"t.yaml:12:28: coverage.ignore_tables: table public.scratch is listed twice"},
		{"not a list", "coverage:\n  ignore_tables: scratch\n",
			`t.yaml:12:18: coverage.ignore_tables: want a list, got the string "scratch" (write [scratch])`},
		{"also expected", "coverage:\n  expected_tables: [users, posts]\n  ignore_tables: [scratch, posts]\n",
			"t.yaml:13:28: coverage.ignore_tables: table public.posts is also in coverage.expected_tables (line 12): a table cannot be both required and ignored"},
		{"audited", "coverage:\n  ignore_tables: [public.users]\n",
			"t.yaml:12:19: coverage.ignore_tables: table public.users is audited (tables, line 10): remove it from ignore_tables"},
	} {
		_, err := Parse("t.yaml", []byte(minimal+c.text), nil)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.name, err, c.want)
		}
	}
}
