package threadlineui_test

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/runtime/threadlineui"
)

// Migration tools' tables and the tables of Options.Ignored show as
// ignored, never as problems, and the home page leaves them out.
func TestCoverageShowsIgnoredTables(t *testing.T) {
	fx := newFixture(t)
	fx.db.Exec(t, `CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL)`)
	fx.db.Exec(t, `CREATE TABLE scratch (id int PRIMARY KEY)`)
	h := fx.handler(threadlineui.Options{Expected: map[string]string{"users": ""}, Ignored: []string{"notes"}})
	r := get(t, h, "/coverage")
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	rows := regexp.MustCompile(`(?s)<tr( class="problem")?>\s*<td>(?:<a [^>]*>)?([^<]*)(?:</a>)?</td>\s*<td><span class="status status-(\w+)">\w+</span></td>\s*<td>[^<]*</td>\s*<td>([^<]*)</td>`).FindAllStringSubmatch(r.body, -1)
	var got []string
	for _, m := range rows {
		got = append(got, fmt.Sprintf("%s %s problem=%v: %s", html.UnescapeString(m[2]), m[3], m[1] != "", html.UnescapeString(m[4])))
	}
	want := []string{
		"public.<script>alert(1)</script> covered problem=false: ",
		"public.goose_db_version ignored problem=false: goose's version table",
		"public.notes ignored problem=false: in the ignore list (coverage.ignore_tables)",
		"public.posts covered problem=false: ",
		"public.scratch uncovered problem=false: no capture trigger",
		"public.users covered problem=false: ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("coverage rows:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(r.body, "6 tables: 3 covered, 1 uncovered, 0 disabled, 0 stale, 2 ignored;") {
		t.Errorf("coverage summary:\n%s", r.body)
	}
	home := get(t, h, "/")
	if !strings.Contains(home.body, "3 covered · 0 stale · 0 disabled · 1 uncovered · 2 ignored</span>") {
		t.Errorf("home coverage card:\n%s", home.body)
	}
	if strings.Contains(home.body, "goose_db_version") || strings.Contains(home.body, "public.notes") {
		t.Errorf("home lists an ignored table:\n%s", home.body)
	}
}
