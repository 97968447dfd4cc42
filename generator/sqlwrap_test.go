package generator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/pgtest"
)

// wrapCases are statements with every lexical trap wrapSQL must respect;
// FN is where a function name goes.
var wrapCases = []string{
	`SELECT 'a long string literal with many words in it, which must be broken somewhere' AS a, ` +
		`"a quoted identifier, with spaces" FROM (SELECT 1 AS "a quoted identifier, with spaces") AS t ` +
		`-- a trailing comment with a 'quote and "another`,
	`SELECT E'an escaped \\ string, with ''quotes'' and spaces that stay exactly as they are' AS e, ` +
		`$x$ a dollar-quoted literal, with -- no comment and 'no quote' inside $x$ AS d /* a block comment */`,
	`SELECT 'it''s a literal with a doubled quote, then a long tail of words to push it over' || ` +
		`format('%s and %s and %s', 'one thing', 'another thing', 'a third thing') AS f`,
	"SELECT 'a literal that spans a line break,\n the next line starting with a space, long enough to be broken' AS s",
	"CREATE FUNCTION FN() RETURNS text LANGUAGE plpgsql AS $threadline$\n" +
		"DECLARE v text := 'a variable with a long default value, long enough to be broken in two';\n" +
		"BEGIN\n" +
		"    -- a comment inside the body that is long enough to be re-flowed into several lines, with a 'quote\n" +
		"    RETURN v || ' and ' || (SELECT string_agg(x::text, ', ') FROM generate_series(1, 3) AS x);\n" +
		"END\n$threadline$",
}

// TestWrapSQLKeepsMeaning runs each case as written and as wrapSQL wraps
// it to a narrow width, and compares what PostgreSQL returns.
func TestWrapSQLKeepsMeaning(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	for i, c := range wrapCases {
		var got [2]string
		for j, text := range []string{c, wrapSQL(c, 40)} {
			query := text
			if strings.Contains(text, "FN()") {
				fn := fmt.Sprintf("f%d_%d", i, j)
				db.Exec(t, strings.Replace(text, "FN()", fn+"()", 1))
				query = "SELECT " + fn + "()"
			}
			var row []any
			rows, err := db.Pool.Query(ctx, query)
			if err != nil {
				t.Fatalf("case %d (wrapped: %v): %v\n%s", i, j == 1, err, text)
			}
			for rows.Next() {
				if row, err = rows.Values(); err != nil {
					t.Fatal(err)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("case %d (wrapped: %v): %v\n%s", i, j == 1, err, text)
			}
			got[j] = fmt.Sprint(row)
		}
		if got[0] != got[1] {
			t.Errorf("case %d: wrapping changed the result\nbefore: %s\nafter:  %s\n%s", i, got[0], got[1], wrapSQL(c, 40))
		}
		for _, line := range strings.Split(wrapSQL(c, 40), "\n") {
			if len(line) > 40 && strings.Count(line, " ") > 1 && !strings.Contains(line, "$x$") {
				t.Errorf("case %d: line of %d characters left: %q", i, len(line), line)
			}
		}
	}
}

// TestNoteLinesRoundTrip checks that a long state record written over
// several header lines reads back as one.
func TestNoteLinesRoundTrip(t *testing.T) {
	note := noteTable + `{"schema":"public","name":"a, b","capture":{"columns":["` +
		strings.Repeat(`x\"y", "`, 30) + `z"]}}`
	lines := noteLines(note, 60)
	if len(lines) < 3 {
		t.Fatalf("want the record over several lines, got %q", lines)
	}
	for _, l := range lines {
		if len(l) > 60 && strings.Contains(l, ",") {
			t.Errorf("line of %d characters: %q", len(l), l)
		}
	}
	got := readNotes(Header + "\n" + strings.Join(lines, "\n") + "\n" + checksumPrefix + "x\n\nSELECT 1;\n")
	if len(got) != 2 || got[0] != note {
		t.Fatalf("read back %q\nwant %q", got, note)
	}
}

// TestGeneratedSQLIsSkimmable holds every generated migration of the
// golden cases and the bundled example to what a reviewing DBA is
// promised: no line over MaxLineLength, and the capture functions'
// rationale once per file (docs/domain-reference.md).
func TestGeneratedSQLIsSkimmable(t *testing.T) {
	files, err := filepath.Glob("../testdata/cases/*/expected/*.sql.golden")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden SQL (%v)", err)
	}
	install, err := filepath.Glob("../examples/quickstart/db/migrations/*_threadline_install.sql")
	if err != nil || len(install) != 1 {
		t.Fatalf("want one install migration in the bundled example, got %v (%v)", install, err)
	}
	for _, f := range append(files, install...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if len(line) > MaxLineLength {
				t.Errorf("%s:%d: %d characters", f, i+1, len(line))
			}
		}
		n := strings.Count(string(b), rationaleTitle)
		if n > 1 || f == install[0] && n != 1 {
			t.Errorf("%s: the capture rationale appears %d times", f, n)
		}
	}
}

// rationaleTitle is the first line of sqltemplates.CaptureRationale.
const rationaleTitle = "-- How the capture functions work\n"
