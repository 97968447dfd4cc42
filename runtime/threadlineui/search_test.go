package threadlineui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineui"
)

// section returns the part of a search page under the heading that starts
// with heading, up to the next heading.
func section(t *testing.T, body, heading string) string {
	t.Helper()
	i := strings.Index(body, "<h2>"+heading)
	if i < 0 {
		t.Fatalf("no section %q in:\n%s", heading, body)
	}
	rest := body[i+4:]
	if j := strings.Index(rest, "<h2>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func search(t *testing.T, h http.Handler, q url.Values) string {
	t.Helper()
	r := get(t, h, "/search?"+q.Encode())
	if r.status != http.StatusOK {
		t.Fatalf("search %v: %d %s", q, r.status, r.body)
	}
	return r.body
}

// TestSearch: a key finds its rows by the row index (with a table, and
// without one among the captured tables), a text finds the changes whose
// key or a value contains it, case-insensitively, never by a column name,
// an excluded value or a masked one.
func TestSearch(t *testing.T) {
	fx := newFixture(t)
	fx.write(t, threadline.TxOptions{Actor: threadline.User("5")}, []string{"post.retitle", "typo"},
		"UPDATE posts SET id = 11, title = 'Hello again' WHERE id = 10")
	h := fx.handler(threadlineui.Options{})

	body := search(t, h, url.Values{"q": {"1"}, "table": {"users"}})
	keys := section(t, body, "Rows whose key is 1")
	if got, want := fx.shown(keys), `public.users update {"id":1}; public.users insert {"id":1}`; got != want {
		t.Fatalf("key 1 of users:\n got %s\nwant %s", got, want)
	}
	mustContainAll(t, "key section", keys, `<a href="/row?key=%7B%22id%22%3A1%7D&amp;table=public.users">public.users <span class="key">{&#34;id&#34;:1}</span></a>`)

	// Without a table: 10 is the old key of post 11, and no other row's.
	keys = section(t, search(t, h, url.Values{"q": {"10"}}), "Rows whose key is 10")
	if got, want := fx.shown(keys), `public.posts update {"id":11}; public.posts update {"id":10}; public.posts insert {"id":10}`; got != want {
		t.Fatalf("key 10:\n got %s\nwant %s", got, want)
	}
	if n := strings.Count(keys, `<li>`); n != 1 {
		t.Fatalf("key 10 lists %d rows, want 1:\n%s", n, keys)
	}
	if got := fx.shown(section(t, search(t, h, url.Values{"q": {`{"id": 2}`}, "table": {"public.users"}}), "Rows whose key is")); got != `public.users delete {"id":2}; public.users insert {"id":2}` {
		t.Fatalf(`key {"id": 2}: %s`, got)
	}
	mustContainAll(t, "no key", search(t, h, url.Values{"q": {"Hello"}, "table": {"posts"}}), "Hello is no key of posts, or no such row was captured.")

	for _, c := range []struct{ q, want string }{
		{"hello", `public.posts update {"id":11}; public.posts update {"id":10}; public.posts insert {"id":10}`},
		{"ADA L", `public.users update {"id":1}`},
		{"alert(", `public.<script>alert(1)</script> insert {"id":1}`},
		{"title", ``},         // a column name
		{excludedMarker, ``},  // never stored
		{maskedMarker, ``},    // stored as its placeholder
		{"password_hash", ``}, // the excluded column's name
		{"typo", ``},          // an action's reason is no value of a change
	} {
		body := search(t, h, url.Values{"q": {c.q}})
		if got := fx.shown(section(t, body, "Changes whose key or a value contains")); got != c.want {
			t.Errorf("search %q:\n got %s\nwant %s", c.q, got, c.want)
		}
		if strings.Contains(body, excludedMarker+"-") || strings.Contains(body, maskedMarker+"@") {
			t.Errorf("search %q shows an excluded or masked value", c.q)
		}
	}
	// With a table: its changes only.
	if got := fx.shown(section(t, search(t, h, url.Values{"q": {"world"}, "table": {"posts"}}), "Changes whose")); got != `public.posts update {"id":10}` {
		t.Errorf("posts containing world: %s", got)
	}
	if got := fx.shown(section(t, search(t, h, url.Values{"q": {"world"}, "table": {"users"}}), "Changes whose")); got != "" {
		t.Errorf("users containing world: %s", got)
	}

	// The form alone, and bad input.
	r := get(t, h, "/search")
	if r.status != http.StatusOK || !strings.Contains(r.body, `<input name="q" value=""`) || strings.Contains(r.body, "<h2>") {
		t.Fatalf("empty search: %d\n%s", r.status, r.body)
	}
	for target, want := range map[string]string{
		"/search?q=x&table=nosuch":              `unknown table &#34;nosuch&#34;`,
		"/search?table=users":                   "q is required",
		"/search?q=" + strings.Repeat("x", 201): "q: want a text of at most 200 bytes",
		"/search?q=x&after=bad":                 "cursor",
		"/search?q=x&op=insert":                 `unknown parameter &#34;op&#34;`,
	} {
		if r := get(t, h, target); r.status != http.StatusBadRequest || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d, want 400 with %q:\n%s", target, r.status, want, r.body)
		}
	}
}

var changeRow = regexp.MustCompile(`(?s)<tr data-change="(\d+)">.*?</tr>`)

// TestSearchRendersChangesAsTheChangesPage: the search page reads changes
// with a decoder of its own; each change it lists renders exactly as on
// the changes page (actor, action, ids, seal badge).
func TestSearchRendersChangesAsTheChangesPage(t *testing.T) {
	fx := newFixture(t)
	fx.write(t, threadline.TxOptions{Actor: threadline.User("5"), RequestID: "req-9", CorrelationID: "c-9"},
		[]string{"post.retitle", "typo"}, "UPDATE posts SET title = 'Hello again' WHERE id = 10")
	h := fx.handler(threadlineui.Options{Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }})
	rows := map[string]string{}
	for _, m := range changeRow.FindAllStringSubmatch(get(t, h, "/changes").body, -1) {
		rows[m[1]] = m[0]
	}
	n := 0
	for _, q := range []string{"hello", "ada", "1", "alert"} {
		for _, m := range changeRow.FindAllStringSubmatch(search(t, h, url.Values{"q": {q}}), -1) {
			if n++; rows[m[1]] != m[0] {
				t.Errorf("change %s renders differently:\nsearch:  %s\nchanges: %s", m[1], m[0], rows[m[1]])
			}
		}
	}
	if n < 8 {
		t.Fatalf("only %d rows compared", n)
	}
}

// TestSearchSaysWhereItStopped: a search that spends its budget before it
// fills a page says how far back it searched and links to the rest, and
// the pages together list every match once.
func TestSearchSaysWhereItStopped(t *testing.T) {
	fx := newFixture(t)
	fx.db.Exec(t, `UPDATE threadline.audit_changes SET captured_at = captured_at - interval '5 hours' WHERE id = $1`,
		fx.ids[`public.users insert {"id":1}`])
	h := fx.handler(threadlineui.Options{SearchBudget: time.Nanosecond})
	var seen []string
	stopped := 0
	target := "/search?q=ada"
	for pages := 0; target != ""; pages++ {
		if pages > 10 {
			t.Fatalf("more than 10 pages")
		}
		r := get(t, h, target)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", target, r.status, r.body)
		}
		if s := fx.shown(r.body); s != "" {
			seen = append(seen, s)
		}
		target = ""
		if strings.Contains(r.body, "Searched back to") {
			stopped++
			mustContainAll(t, "a stopped search", r.body, "older changes were not searched yet.", `rel="next">Search older »</a>`,
				`<p class="count">at least `+strconv.Itoa(len(changeAttr.FindAllString(r.body, -1)))+` matching change`)
			if !strings.Contains(r.body, ` (not all searched yet)</p>`) {
				t.Errorf("a stopped search's count: %s", countLine.FindString(r.body))
			}
		}
		for _, l := range hrefs(r.body) {
			if strings.HasPrefix(l, "/search?after=") {
				target = l
			}
		}
	}
	if got, want := strings.Join(seen, "; "), `public.users update {"id":1}; public.users insert {"id":1}`; got != want {
		t.Errorf("pages showed %s, want %s", got, want)
	}
	if stopped < 4 {
		t.Errorf("%d stopped pages, want at least 4 (one per hour searched)", stopped)
	}
}
