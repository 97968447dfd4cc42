package threadlineui_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threadline-go/threadline/runtime/threadlineui"
)

var countLine = regexp.MustCompile(`<p class="count">([^<]*)</p>`)

func countOf(t *testing.T, h http.Handler, target string) string {
	t.Helper()
	r := get(t, h, target)
	if r.status != http.StatusOK {
		t.Fatalf("%s: %d %s", target, r.status, r.body)
	}
	m := countLine.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("%s: no count", target)
	}
	return m[1]
}

// TestMatchCounts: the changes and search pages count their matches:
// exactly (from the page itself when it holds them all, else by a count
// query, whatever page is shown), "more than 1,000" beyond, and "at
// least" what the page found when counting runs out of its budget.
func TestMatchCounts(t *testing.T) {
	fx := newFixture(t)
	// A generous count budget: this machine may be slow.
	all := fx.handler(threadlineui.Options{PageSize: 100, CountBudget: 5 * time.Second})
	small := fx.handler(threadlineui.Options{PageSize: 2, CountBudget: 5 * time.Second})
	// Each filter's count, read two changes a page, is the number of
	// changes its full listing holds.
	for _, q := range []string{"", "table=users", "actor=user%3A1", "op=insert", "column=name", "correlation_id=corr-7",
		"request_id=req-2", "table=posts&op=update", "from=-2h"} {
		n := len(changeAttr.FindAllString(get(t, all, "/changes?"+q).body, -1))
		want := strconv.Itoa(n) + " matching changes"
		if n == 1 {
			want = "1 matching change"
		}
		if got := countOf(t, small, "/changes?"+q); got != want {
			t.Errorf("changes?%s: %q, want %q", q, got, want)
		}
		if got := countOf(t, all, "/changes?"+q); got != want {
			t.Errorf("changes?%s, one page: %q, want %q", q, got, want)
		}
	}
	// The second page counts the whole filter.
	r := get(t, small, "/changes?table=users")
	var next string
	for _, l := range hrefs(r.body) {
		if strings.HasPrefix(l, "/changes?after=") {
			next = l
		}
	}
	if next == "" {
		t.Fatal("no second page")
	}
	if got := countOf(t, small, next); got != "4 matching changes" {
		t.Errorf("second page: %q", got)
	}
	if got := countOf(t, small, "/search?q=hello"); got != "2 matching changes" {
		t.Errorf("search hello: %q", got)
	}
	if got := countOf(t, all, "/search?q=ada+l"); got != "1 matching change" {
		t.Errorf("search ada l: %q", got)
	}

	// 60,000 posts more.
	fx.db.Exec(t, "INSERT INTO posts SELECT g, 'post ' || g FROM generate_series(1000, 60999) AS g")
	if got := countOf(t, all, "/changes?table=posts"); got != "more than 1,000 matching changes" {
		t.Errorf("posts: %q", got)
	}
	if got := countOf(t, all, "/search?q=post+6"); got != "more than 1,000 matching changes" {
		t.Errorf("search post 6: %q", got)
	}
	// A count that cannot finish in a millisecond: the first of the
	// 2,000 posts holding "post 6" comes after 5,000 that do not, and each
	// of their values is read. The page still renders what it read after
	// the cancelled count (seal badges) and its pager.
	tight := fx.handler(threadlineui.Options{CountBudget: time.Microsecond, PageSize: 100})
	r = get(t, tight, "/search?q=post+6")
	if m := countLine.FindStringSubmatch(r.body); m == nil || m[1] != "at least 100 matching changes (counting stopped after 1 ms)" {
		t.Errorf("search post 6 in a millisecond: %q", m)
	}
	if got := len(changeAttr.FindAllString(section(t, r.body, "Changes whose"), -1)); got != 100 {
		t.Errorf("search post 6 in a millisecond lists %d changes", got)
	}
	mustContainAll(t, "after a cancelled count", r.body, `rel="next">Older »</a>`)
}
