package threadlineui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineui"
)

const ddl = `
CREATE TABLE users (id bigint PRIMARY KEY, email text, password_hash text, name text NOT NULL);
CREATE TABLE posts (id bigint PRIMARY KEY, title text);
CREATE TABLE "<script>alert(1)</script>" (id bigint PRIMARY KEY, "<b>col</b>" text);
CREATE TABLE notes (id bigint PRIMARY KEY);
`

const tables = `  users:
    exclude: [password_hash]
    mask: [email]
    store_changed_from: true
  posts: {}
  '"<script>alert(1)</script>"': {}
`

// Markers that must never reach a page or an export: the excluded
// column's values and the masked column's real values.
const (
	excludedMarker = "EXCLUDED-MARKER-7f3a"
	maskedMarker   = "MASKED-MARKER-c21e"
)

const (
	hostileActor = `<img src=x onerror=alert(2)>`
	hostileValue = `<script>alert("v")</script>`
	hostileTable = `public."<script>alert(1)</script>"`
)

// fixture is a database with a small, known audit trail.
type fixture struct {
	db *pgtest.DB
	// ids maps a change description ("public.users update {"id":1}") to
	// its id, and back.
	ids   map[string]int64
	names map[int64]string
	// actionTx is the transaction that recorded an action.
	actionTx int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := capturetest.Setup(t, ddl, tables)
	run := func(opts threadline.TxOptions, f func(tx pgx.Tx) error) {
		t.Helper()
		if err := threadline.InTx(ctx, db.Pool, opts, f); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(stmts ...string) func(tx pgx.Tx) error {
		return func(tx pgx.Tx) error {
			for _, s := range stmts {
				if _, err := tx.Exec(ctx, s); err != nil {
					return fmt.Errorf("%s: %w", s, err)
				}
			}
			return nil
		}
	}
	run(threadline.TxOptions{Actor: threadline.User("1"), RequestID: "req-1"},
		exec(`INSERT INTO users VALUES (1, 'ada-`+maskedMarker+`@example.com', '`+excludedMarker+`-1', 'Ada'), (2, NULL, '`+excludedMarker+`-2', 'Bob')`))
	run(threadline.TxOptions{Actor: threadline.Admin("9")}, func(tx pgx.Tx) error {
		if err := exec(`UPDATE users SET name = 'Ada L.', email = 'ada2-` + maskedMarker + `@example.com', password_hash = '` + excludedMarker + `-3' WHERE id = 1`)(tx); err != nil {
			return err
		}
		_, err := threadline.RecordAction(ctx, tx, "user.rename", threadline.ActionOptions{CorrelationID: "corr-7", Reason: "support ticket 12"})
		return err
	})
	run(threadline.TxOptions{Actor: threadline.User(hostileActor)},
		exec(`INSERT INTO "<script>alert(1)</script>" VALUES (1, '`+strings.ReplaceAll(hostileValue, "'", "''")+`')`))
	run(threadline.TxOptions{Actor: threadline.User("1"), RequestID: "req-2"},
		exec(`DELETE FROM users WHERE id = 2`, `INSERT INTO posts VALUES (10, 'Hello')`, `UPDATE posts SET title = 'Hello, world' WHERE id = 10`))

	fx := &fixture{db: db, ids: map[string]int64{}, names: map[int64]string{}}
	p, err := threadline.Audit{}.Timeline(ctx, db.Pool, threadline.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		var k any
		_ = json.Unmarshal(c.PK, &k)
		kb, _ := json.Marshal(k)
		name := fmt.Sprintf("%s.%s %s %s", c.Schema, c.Table, c.Op, kb)
		fx.ids[name], fx.names[c.ID] = c.ID, name
		if c.ActionID != nil {
			fx.actionTx = c.TransactionID
		}
	}
	if len(p.Changes) != 7 || fx.actionTx == 0 {
		t.Fatalf("fixture: %d changes, action tx %d", len(p.Changes), fx.actionTx)
	}
	return fx
}

// response is what a request returned.
type response struct {
	status int
	header http.Header
	body   string
}

func serve(t *testing.T, h http.Handler, method, target string, hdr ...string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return response{status: rec.Code, header: rec.Result().Header, body: string(b)}
}

func get(t *testing.T, h http.Handler, target string) response {
	t.Helper()
	return serve(t, h, http.MethodGet, target)
}

var changeAttr = regexp.MustCompile(`data-change="(\d+)"`)

// shown lists the changes a page shows, described, in page order.
func (fx *fixture) shown(body string) string {
	var out []string
	for _, m := range changeAttr.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, fx.names[id])
	}
	return strings.Join(out, "; ")
}

func (fx *fixture) handler(o threadlineui.Options) http.Handler {
	if o.Now == nil {
		o.Now = func() time.Time { return time.Now().Add(time.Hour) }
	}
	return threadlineui.Handler(fx.db.Pool, o)
}

// hrefs returns the unescaped link targets of a page.
var hrefAttr = regexp.MustCompile(`href="([^"]*)"`)

func hrefs(body string) []string {
	var out []string
	for _, m := range hrefAttr.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func hasLink(body, prefix string) bool {
	for _, h := range hrefs(body) {
		if strings.HasPrefix(h, prefix) {
			return true
		}
	}
	return false
}

func TestPages(t *testing.T) {
	fx := newFixture(t)
	h := fx.handler(threadlineui.Options{Expected: map[string]string{"users": "", "posts": ""}})
	users1 := `/row?key=%7B%22id%22%3A1%7D&table=public.users`
	updID := fx.ids[`public.users update {"id":1}`]
	var updTx int64

	cases := []struct {
		name, target string
		want         string // the changes shown, in order
		contains     []string
		links        []string
	}{
		{"home", "/", `public.posts update {"id":10}; public.posts insert {"id":10}; public.users delete {"id":2}; ` +
			`public.<script>alert(1)</script> insert {"id":1}; public.users update {"id":1}; public.users insert {"id":2}; public.users insert {"id":1}`,
			[]string{"Coverage OK", "7 latest changes", `<td class="num">4</td>`},
			[]string{"/changes?table=public.users", "/coverage", "/tx/", "/actor?actor=user%3A1", users1}},
		{"timeline", "/changes", `public.posts update {"id":10}; public.posts insert {"id":10}; public.users delete {"id":2}; ` +
			`public.<script>alert(1)</script> insert {"id":1}; public.users update {"id":1}; public.users insert {"id":2}; public.users insert {"id":1}`,
			[]string{"End of the trail."}, []string{"/export.csv", "/export.ndjson"}},
		{"row history", users1, `public.users update {"id":1}; public.users insert {"id":1}`,
			[]string{"Ada", "Ada L.", "[REDACTED]", "<del>Ada</del>", "<ins>Ada L.</ins>", "admin:9", `request <a href="/changes?request_id=req-1">req-1</a>`},
			[]string{"/changes?table=public.users", "/actor?actor=admin%3A9", "/tx/"}},
		{"actor", "/actor?actor=user:1", `public.posts update {"id":10}; public.posts insert {"id":10}; public.users delete {"id":2}; public.users insert {"id":2}; public.users insert {"id":1}`,
			[]string{"user:1"}, []string{"/changes?actor=user%3A1", "/export.csv?actor=user%3A1"}},
		{"coverage", "/coverage", "", []string{"OK: every expected table is captured.", "public.notes", "uncovered", "covered"},
			[]string{"/changes?table=public.posts"}},
	}
	for _, c := range cases {
		r := get(t, h, c.target)
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d\n%s", c.name, r.status, r.body)
		}
		if got := fx.shown(r.body); got != c.want {
			t.Errorf("%s shows:\n %s\nwant\n %s", c.name, got, c.want)
		}
		for _, s := range c.contains {
			if !strings.Contains(r.body, html.EscapeString(s)) && !strings.Contains(r.body, s) {
				t.Errorf("%s: page lacks %q", c.name, s)
			}
		}
		for _, l := range c.links {
			if !hasLink(r.body, l) {
				t.Errorf("%s: no link to %s in %v", c.name, l, hrefs(r.body))
			}
		}
		if c.name == "row history" {
			for _, l := range hrefs(r.body) {
				if strings.HasPrefix(l, "/tx/") {
					n, _ := strconv.ParseInt(strings.TrimPrefix(l, "/tx/"), 10, 64)
					updTx = max(updTx, n)
				}
			}
		}
	}

	// The transaction of the update: its changes, actor and action.
	if updTx != fx.actionTx {
		t.Fatalf("row history links transaction %d, the update's is %d (change %d)", updTx, fx.actionTx, updID)
	}
	r := get(t, h, fmt.Sprintf("/tx/%d", updTx))
	if r.status != http.StatusOK || fx.shown(r.body) != `public.users update {"id":1}` {
		t.Fatalf("transaction page: %d %s", r.status, fx.shown(r.body))
	}
	for _, s := range []string{"user.rename", "support ticket 12", "corr-7", "admin:9"} {
		if !strings.Contains(r.body, s) {
			t.Errorf("transaction page lacks %q", s)
		}
	}
	for _, l := range []string{"/actor?actor=admin%3A9", "/changes?correlation_id=corr-7", users1} {
		if !hasLink(r.body, l) {
			t.Errorf("transaction page: no link to %s", l)
		}
	}
	// The transaction of the delete carries a request id, linked to the
	// timeline filtered by it.
	r = get(t, h, "/changes?request_id=req-2")
	if fx.shown(r.body) != `public.posts update {"id":10}; public.posts insert {"id":10}; public.users delete {"id":2}` {
		t.Errorf("request id filter: %s", fx.shown(r.body))
	}
}

func TestRowAsOf(t *testing.T) {
	fx := newFixture(t)
	h := fx.handler(threadlineui.Options{})
	ctx := context.Background()
	p, err := threadline.Audit{}.Timeline(ctx, fx.db.Pool, threadline.Filter{Table: "users"})
	if err != nil {
		t.Fatal(err)
	}
	var insertAt, deleteAt time.Time
	for _, c := range p.Changes {
		switch fx.names[c.ID] {
		case `public.users insert {"id":2}`:
			insertAt = c.CapturedAt
		case `public.users delete {"id":2}`:
			deleteAt = c.CapturedAt
		}
	}
	row := func(at time.Time) string {
		r := get(t, h, "/row?"+url.Values{"table": {"users"}, "key": {`{"id": 2}`}, "at": {at.Format(time.RFC3339Nano)}}.Encode())
		if r.status != http.StatusOK {
			t.Fatalf("as of %s: %d %s", at, r.status, r.body)
		}
		return r.body
	}
	if b := row(insertAt); !strings.Contains(b, `<td class="v-string">Bob</td>`) || !strings.Contains(b, `<td class="v-null">NULL</td>`) {
		t.Errorf("as of the insert: no row image\n%s", b)
	}
	if b := row(deleteAt); !strings.Contains(b, "The row did not exist then") {
		t.Errorf("as of the delete: not deleted")
	}
	if b := row(insertAt.Add(-time.Second)); !strings.Contains(b, "history starts later") {
		t.Errorf("before the insert: not before the horizon")
	}
}

func TestTimelineFilters(t *testing.T) {
	fx := newFixture(t)
	h := fx.handler(threadlineui.Options{})
	p, err := threadline.Audit{}.Timeline(context.Background(), fx.db.Pool, threadline.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	upd := p.Changes[4] // the users update
	if fx.names[upd.ID] != `public.users update {"id":1}` {
		t.Fatalf("fixture order: %s", fx.names[upd.ID])
	}
	at := upd.CapturedAt.Format(time.RFC3339Nano)
	cases := map[string]string{
		"table=users":                                    `public.users delete {"id":2}; public.users update {"id":1}; public.users insert {"id":2}; public.users insert {"id":1}`,
		"table=" + url.QueryEscape(hostileTable):         `public.<script>alert(1)</script> insert {"id":1}`,
		"actor=admin:9":                                  `public.users update {"id":1}`,
		"actor=" + url.QueryEscape("user:"+hostileActor): `public.<script>alert(1)</script> insert {"id":1}`,
		"op=delete":                                      `public.users delete {"id":2}`,
		"op=update&table=posts":                          `public.posts update {"id":10}`,
		"from=" + url.QueryEscape(at) + "&to=" + url.QueryEscape(at): `public.users update {"id":1}`,
		"to=" + url.QueryEscape(at) + "&table=users&actor=":          `public.users update {"id":1}; public.users insert {"id":2}; public.users insert {"id":1}`,
		"correlation_id=corr-7":                                      `public.users update {"id":1}`,
		"request_id=req-1":                                           `public.users insert {"id":2}; public.users insert {"id":1}`,
		"table=notes":                                                ``,
		"from=2000-01-01T00:00&to=2000-01-02":                        ``,
		// Relative to the handler's clock, an hour ahead of the database's.
		"from=-2h&table=users": `public.users delete {"id":2}; public.users update {"id":1}; public.users insert {"id":2}; public.users insert {"id":1}`,
		"to=-2h":               ``,
	}
	for q, want := range cases {
		r := get(t, h, "/changes?"+q)
		if r.status != http.StatusOK {
			t.Errorf("%s: status %d: %s", q, r.status, r.body)
			continue
		}
		if got := fx.shown(r.body); got != want {
			t.Errorf("%s:\n got %s\nwant %s", q, got, want)
		}
	}
}

func TestKeysetPaging(t *testing.T) {
	fx := newFixture(t)
	for _, start := range []string{"/changes?table=users", "/actor?actor=user%3A1", "/changes"} {
		h := fx.handler(threadlineui.Options{PageSize: 2})
		var seen []string
		target := start
		for pages := 0; target != ""; pages++ {
			if pages > 5 {
				t.Fatalf("%s: more than 5 pages", start)
			}
			r := get(t, h, target)
			if r.status != http.StatusOK {
				t.Fatalf("%s: %d %s", target, r.status, r.body)
			}
			if n := len(changeAttr.FindAllString(r.body, -1)); n > 2 {
				t.Fatalf("%s: %d changes on a page of 2", target, n)
			}
			seen = append(seen, fx.shown(r.body))
			target = ""
			for _, l := range hrefs(r.body) {
				if strings.Contains(l, "after=") && strings.Contains(r.body, `rel="next"`) && !strings.Contains(l, "/export") {
					target = l
				}
			}
		}
		all := strings.Join(seen, "; ")
		single := get(t, fx.handler(threadlineui.Options{PageSize: 100}), start)
		if want := fx.shown(single.body); all != want {
			t.Errorf("%s paged:\n got %s\nwant %s", start, all, want)
		}
	}
	// Row history and transaction pages page too.
	h := fx.handler(threadlineui.Options{PageSize: 1})
	r := get(t, h, `/row?table=users&key={"id":1}`)
	if fx.shown(r.body) != `public.users update {"id":1}` || !strings.Contains(r.body, `rel="next"`) {
		t.Fatalf("row page 1: %s", fx.shown(r.body))
	}
	// The update changed the excluded password_hash: the fact is shown,
	// never a value.
	if !strings.Contains(r.body, "password_hash</th>") || !strings.Contains(r.body, "the value is excluded and recorded nowhere") {
		t.Errorf("row page 1 does not show the excluded column's change as a fact:\n%s", r.body)
	}
	var next string
	for _, l := range hrefs(r.body) {
		if strings.Contains(l, "after=") {
			next = l
		}
	}
	if r = get(t, h, next); fx.shown(r.body) != `public.users insert {"id":1}` || strings.Contains(r.body, `rel="next"`) {
		t.Fatalf("row page 2 (%s): %s", next, fx.shown(r.body))
	}
	// The row page's "older" link keeps the as-of instant.
	r = get(t, h, `/row?table=users&key={"id":1}&at=2030-01-01T00:00`)
	if !strings.Contains(r.body, `rel="next"`) || !hasLink(r.body, `/row?after=`) || !strings.Contains(strings.Join(hrefs(r.body), " "), "&at=2030-01-01T00%3A00&") {
		t.Errorf("row page with as-of: the older link drops it:\n%s", hrefs(r.body))
	}
}

func TestBadInputIs400SayingWhatIsWrong(t *testing.T) {
	fx := newFixture(t)
	h := fx.handler(threadlineui.Options{})
	cases := []struct {
		target string
		status int
		msg    string
	}{
		{"/row?table=users&key=42", 400, `key &#34;42&#34;: not a JSON object of the key columns`},
		{"/row?table=users&key=%7Bid", 400, `not a JSON object`},
		{"/row?table=users", 400, "a row is named by table and key"},
		{"/row?table=nope&key=%7B%22id%22%3A1%7D", 400, `unknown table &#34;nope&#34;: no such table in the database`},
		{"/row?table=users&key=%7B%22id%22%3A1%7D&at=yesterday", 400, `at: &#34;yesterday&#34; is not a time`},
		{"/changes?table=nope", 400, `unknown table &#34;nope&#34;`},
		{"/changes?table=a.b.c", 400, "want table or schema.table"},
		{"/changes?from=last+week", 400, `from: &#34;last week&#34; is not a time`},
		{"/changes?to=2026-13-01", 400, `to: &#34;2026-13-01&#34; is not a time`},
		{"/changes?from=2026-02-01&to=2026-01-01", 400, "is after to"},
		{"/changes?op=upsert", 400, `op: &#34;upsert&#34;: want insert, update, delete or truncate`},
		{"/changes?actor=bob", 400, `actor: &#34;bob&#34;: use kind:id, e.g. user:bob (kinds: user, admin, service_account, job, system), or anonymous`},
		{"/actor?actor=bob", 400, `actor: &#34;bob&#34;: use kind:id, e.g. user:bob (kinds: user, admin, service_account, job, system), or anonymous`},
		{"/changes?from=-1y", 400, `from: &#34;-1y&#34;: unknown unit &#34;y&#34;; write RFC 3339 (2026-01-02T15:04:05Z, 2026-01-02T16:04:05&#43;01:00), 2026-01-02T15:04 or 2026-01-02T15:04:05 (UTC), a date 2026-01-02 (its midnight UTC), or a time relative to now: -30m, -1h, -7d (units s, m, h, d, w)`},
		{"/changes?after=nope", 400, "is not a cursor"},
		{"/changes?colour=red", 400, `unknown parameter &#34;colour&#34; (allowed: table, actor, op, column, from, to, correlation_id, request_id, after)`},
		{"/changes?table=users&table=posts", 400, `parameter &#34;table&#34; given 2 times`},
		{"/export.csv?table=nope", 400, `unknown table &#34;nope&#34;`},
		{"/actor", 400, "actor is required"},
		{"/tx/abc", 400, `transaction id &#34;abc&#34; is not a positive integer`},
		{"/tx/999999", 404, "not found: transaction 999999"},
		{"/coverage?x=1", 400, "this page takes none"},
		{"/nope", 404, "no page at /nope"},
	}
	for _, c := range cases {
		r := get(t, h, c.target)
		if r.status != c.status || !strings.Contains(r.body, c.msg) {
			t.Errorf("%s: %d, want %d with %q:\n%s", c.target, r.status, c.status, c.msg, r.body)
		}
		if !strings.Contains(r.body, "<h1>"+strconv.Itoa(c.status)) {
			t.Errorf("%s: not the error page", c.target)
		}
	}
	if r := serve(t, h, http.MethodPost, "/changes"); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", r.status, r.header)
	}
}

func TestSecurityHeadersAndEscaping(t *testing.T) {
	fx := newFixture(t)
	h := fx.handler(threadlineui.Options{})
	targets := append(crawl(t, h, "/"), "/nope", "/changes?op=bad", "/static/style.css")
	for _, target := range targets {
		r := get(t, h, target)
		hd := r.header
		if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", target, csp)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("X-Frame-Options") != "DENY" || hd.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", target, hd)
		}
		if strings.HasSuffix(target, ".css") || strings.Contains(target, "/export.") {
			continue // not HTML: a style sheet, an attachment
		}
		if hd.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", target, hd.Get("Cache-Control"))
		}
		// Hostile names and values render as text: no markup but the
		// viewer's own, no script anywhere, no third-party URL.
		for _, bad := range []string{"<script", "<img", "<b>", "http://", "https://"} {
			if strings.Contains(strings.ToLower(r.body), bad) {
				t.Errorf("%s: page holds %q", target, bad)
			}
		}
	}
	// The hostile values are there, escaped.
	r := get(t, h, "/changes?table="+url.QueryEscape(hostileTable))
	for _, s := range []string{html.EscapeString(`"<script>alert(1)</script>"`), html.EscapeString(hostileActor), html.EscapeString(hostileValue), "&lt;b&gt;col&lt;/b&gt;"} {
		if !strings.Contains(r.body, s) {
			t.Errorf("hostile page lacks the escaped %s", s)
		}
	}
}

// crawl follows every link of the viewer from start (exports included)
// and returns the targets visited.
func crawl(t *testing.T, h http.Handler, start string) []string {
	t.Helper()
	seen := map[string]bool{start: true}
	queue := []string{start}
	for len(queue) > 0 && len(seen) < 300 {
		target := queue[0]
		queue = queue[1:]
		r := get(t, h, target)
		if r.status != http.StatusOK {
			t.Errorf("crawl: %s: %d\n%s", target, r.status, r.body)
			continue
		}
		for _, l := range hrefs(r.body) {
			if strings.HasPrefix(l, "/") && !seen[l] {
				seen[l] = true
				queue = append(queue, l)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestRedactionMarkerNeverShown(t *testing.T) {
	fx := newFixture(t)
	h := fx.handler(threadlineui.Options{})
	ctx := context.Background()
	// The markers are in the application's table, and the capture kept
	// neither.
	var n int
	if err := fx.db.Pool.QueryRow(ctx, "SELECT count(*) FROM users WHERE password_hash LIKE $1 AND email LIKE $2", excludedMarker+"%", "%"+maskedMarker+"%").Scan(&n); err != nil || n != 1 {
		t.Fatalf("fixture: %d %v", n, err)
	}
	targets := crawl(t, h, "/")
	var p threadline.Page
	p, _ = threadline.Audit{}.Timeline(ctx, fx.db.Pool, threadline.Filter{})
	for _, c := range p.Changes {
		targets = append(targets, fmt.Sprintf("/tx/%d", c.TransactionID))
		if c.PK != nil {
			targets = append(targets, "/row?"+url.Values{"table": {c.Schema + "." + c.Table}, "key": {string(c.PK)}, "at": {c.CapturedAt.Format(time.RFC3339Nano)}}.Encode())
		}
	}
	exports := 0
	for _, target := range targets {
		r := get(t, h, target)
		if strings.Contains(r.body, excludedMarker) || strings.Contains(r.body, maskedMarker) {
			t.Errorf("%s shows an excluded or masked value", target)
		}
		if strings.Contains(target, "/export.") {
			exports++
		}
	}
	if exports < 4 || len(targets) < 20 {
		t.Fatalf("crawl reached %d pages and %d exports", len(targets), exports)
	}
}

func TestExport(t *testing.T) {
	fx := newFixture(t)
	h := fx.handler(threadlineui.Options{Now: func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }})
	r := get(t, h, "/export.csv?table=users&op=insert")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		r.header.Get("Content-Disposition") != `attachment; filename="threadline-changes-20260304T050607Z.csv"` {
		t.Fatalf("csv: %d %v\n%s", r.status, r.header, r.body)
	}
	lines := strings.Split(strings.TrimSuffix(r.body, "\r\n"), "\r\n")
	if len(lines) != 3 || lines[0] != strings.Join(threadline.CSVColumns, ",") ||
		!strings.Contains(lines[1], `"{""id"": 2}"`) || !strings.Contains(lines[2], `"{""id"": 1}"`) {
		t.Fatalf("csv lines:\n%s", r.body)
	}
	r = get(t, h, "/export.ndjson?actor=user%3A1")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("ndjson: %d %v", r.status, r.header)
	}
	var ops []string
	for _, l := range strings.Split(strings.TrimSpace(r.body), "\n") {
		var row struct {
			Op    string `json:"op"`
			Table string `json:"table_name"`
		}
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("ndjson line %q: %v", l, err)
		}
		ops = append(ops, row.Table+" "+row.Op)
	}
	if strings.Join(ops, ", ") != "posts update, posts insert, users delete, users insert, users insert" {
		t.Fatalf("ndjson rows: %v", ops)
	}
}

func TestCoverageHighlightsDrift(t *testing.T) {
	fx := newFixture(t)
	fx.db.Exec(t, `ALTER TABLE posts DISABLE TRIGGER USER`)
	h := fx.handler(threadlineui.Options{
		Expected:     map[string]string{"users": "", "posts": "", "gone": ""},
		Fingerprints: map[string]string{`"<script>alert(1)</script>"`: "sha256:not-what-is-installed"},
	})
	r := get(t, h, "/coverage")
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	rows := regexp.MustCompile(`(?s)<tr( class="problem")?>\s*<td>(?:<a [^>]*>)?([^<]*)(?:</a>)?</td>\s*<td><span class="status status-(\w+)">`).FindAllStringSubmatch(r.body, -1)
	var got []string
	for _, m := range rows {
		got = append(got, fmt.Sprintf("%s %s problem=%v", html.UnescapeString(m[2]), m[3], m[1] != ""))
	}
	want := `public.<script>alert(1)</script> stale problem=true, public.notes uncovered problem=false, ` +
		`public.posts disabled problem=true, public.users covered problem=false, public.gone missing problem=true`
	if strings.Join(got, ", ") != want {
		t.Fatalf("coverage rows:\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
	if !strings.Contains(r.body, "2 expected tables are not covered.") {
		t.Errorf("no verdict")
	}
	if home := get(t, h, "/"); !strings.Contains(home.body, "Coverage: 2 problems") {
		t.Errorf("home does not show the coverage problems")
	}
}

func TestPrefix(t *testing.T) {
	fx := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("/admin/audit/", fx.handler(threadlineui.Options{Prefix: "/admin/audit/"}))
	r := get(t, mux, "/admin/audit/")
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for _, l := range hrefs(r.body) {
		if !strings.HasPrefix(l, "/admin/audit/") {
			t.Errorf("link %s outside the prefix", l)
		}
	}
	if got := crawl(t, mux, "/admin/audit/"); len(got) < 15 {
		t.Errorf("crawl under the prefix reached %d pages", len(got))
	}
	h := fx.handler(threadlineui.Options{Prefix: "/admin/audit"})
	if r := get(t, h, "/admin/auditx"); r.status != http.StatusNotFound {
		t.Errorf("outside the prefix: %d", r.status)
	}
	if r := get(t, h, "/admin/audit"); r.status != http.StatusMovedPermanently || r.header.Get("Location") != "/admin/audit/" {
		t.Errorf("bare prefix: %d %v", r.status, r.header)
	}
}

// readOnlyDB checks that every transaction the viewer begins is read-only.
type readOnlyDB struct {
	*pgtest.DB
	t     *testing.T
	count int
}

func (d *readOnlyDB) BeginTx(ctx context.Context, o pgx.TxOptions) (pgx.Tx, error) {
	d.count++
	if o.AccessMode != pgx.ReadOnly {
		d.t.Errorf("transaction begun with access mode %q", o.AccessMode)
	}
	tx, err := d.Pool.BeginTx(ctx, o)
	if err != nil {
		return nil, err
	}
	var ro string
	if err := tx.QueryRow(ctx, "SHOW transaction_read_only").Scan(&ro); err != nil || ro != "on" {
		d.t.Errorf("transaction_read_only = %q, %v", ro, err)
	}
	return tx, nil
}

func TestEveryRequestIsReadOnly(t *testing.T) {
	fx := newFixture(t)
	db := &readOnlyDB{DB: fx.db, t: t}
	h := threadlineui.Handler(db, threadlineui.Options{})
	pages := crawl(t, h, "/")
	if db.count < len(pages)-1 {
		t.Fatalf("%d transactions for %d pages", db.count, len(pages))
	}
}

func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "inside "+r.URL.RequestURI()) })
	h := threadlineui.RequireToken("s3cret", "/", ok)
	cases := []struct {
		name   string
		target string
		hdr    []string
		status int
	}{
		{"nothing", "/changes", nil, 401},
		{"bearer", "/changes", []string{"Authorization", "Bearer s3cret"}, 200},
		{"wrong bearer", "/changes", []string{"Authorization", "Bearer s3cre"}, 401},
		{"basic", "/changes", []string{"Authorization", "Basic czNjcmV0"}, 401},
		{"cookie", "/changes", []string{"Cookie", threadlineui.TokenCookie + "=s3cret"}, 200},
		{"wrong cookie", "/changes", []string{"Cookie", threadlineui.TokenCookie + "=x"}, 401},
		{"wrong query", "/changes?token=x", nil, 401},
		{"empty query", "/changes?token=", nil, 401},
	}
	for _, c := range cases {
		r := serve(t, h, http.MethodGet, c.target, c.hdr...)
		if r.status != c.status {
			t.Errorf("%s: %d, want %d", c.name, r.status, c.status)
		}
		if r.status == 401 && (r.header.Get("WWW-Authenticate") == "" || strings.Contains(r.body, "inside")) {
			t.Errorf("%s: 401 without challenge or with content", c.name)
		}
	}
	r := serve(t, h, http.MethodGet, "/changes?table=users&token=s3cret")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/changes?table=users" {
		t.Fatalf("token in URL: %d %v", r.status, r.header)
	}
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{threadlineui.TokenCookie + "=s3cret", "Path=/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %s", cookie, want)
		}
	}
	if tok := threadlineui.NewToken(); len(tok) != 43 || tok == threadlineui.NewToken() {
		t.Errorf("NewToken: %q", tok)
	}
}

// TestSearchBudget: a listing that spends its search budget before the
// page is full says how far back it searched and links "Search older";
// following the links shows every match, each once.
func TestSearchBudget(t *testing.T) {
	fx := newFixture(t)
	// The first insert of users moves five hours into the past: with a
	// budget spent after every window (the first, an hour on a trail this
	// short), each page searches one hour further back.
	fx.db.Exec(t, `UPDATE threadline.audit_changes SET captured_at = captured_at - interval '5 hours' WHERE id = $1`,
		fx.ids[`public.users insert {"id":1}`])
	h := fx.handler(threadlineui.Options{SearchBudget: time.Nanosecond})
	var seen []string
	searched := 0
	target := "/changes?table=users&op=insert"
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
			searched++
			if !strings.Contains(r.body, `rel="next">Search older »</a>`) {
				t.Fatalf("a partial page without its link:\n%s", r.body)
			}
		}
		for _, l := range hrefs(r.body) {
			if strings.Contains(l, "after=") && strings.Contains(r.body, `rel="next"`) && !strings.Contains(l, "/export") {
				target = l
			}
		}
	}
	if got, want := strings.Join(seen, "; "), `public.users insert {"id":2}; public.users insert {"id":1}`; got != want {
		t.Errorf("pages showed %s, want %s", got, want)
	}
	if searched < 4 {
		t.Errorf("%d partial pages, want at least 4 (one per hour searched)", searched)
	}
}

// TestRequireTokenRedirectStaysOnSite: the redirect that drops ?token=
// from the URL never leaves the site, whatever the path looks like
// (protocol-relative, a backslash browsers read as a slash, encoded
// slashes, tabs browsers strip).
func TestRequireTokenRedirectStaysOnSite(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := threadlineui.RequireToken("s3cret", "/", ok)
	for target, want := range map[string]string{
		"//evil.example/x?token=s3cret":         "/evil.example/x",
		"///evil.example/x?token=s3cret":        "/evil.example/x",
		`/\evil.example/x?token=s3cret`:         "/%5Cevil.example/x",
		`/\\evil.example?token=s3cret`:          "/%5C%5Cevil.example",
		"/%2F%2Fevil.example/x?token=s3cret":    "/%2F%2Fevil.example/x",
		"/%5Cevil.example?token=s3cret":         "/%5Cevil.example",
		"/%09/evil.example?token=s3cret":        "/%09/evil.example",
		"//evil.example/x?a=1&token=s3cret":     "/evil.example/x?a=1",
		"/changes?table=users&token=s3cret":     "/changes?table=users",
		"/?token=s3cret":                        "/",
		"/tx/7?token=s3cret":                    "/tx/7",
		"/a/../..//evil.example?token=s3cret":   "/evil.example",
		"/./%2F/evil.example/?token=s3cret":     "/%2F/evil.example/",
		"http://evil.example/x?token=s3cret":    "/x",
		"http://evil.example//y/x?token=s3cret": "/y/x",
	} {
		r := serve(t, h, http.MethodGet, target)
		loc := r.header.Get("Location")
		if r.status != http.StatusSeeOther || loc != want {
			t.Errorf("%s: %d to %q, want 303 to %q", target, r.status, loc, want)
		}
		u, err := url.Parse(strings.NewReplacer(`\`, "/", "\t", "", "\n", "").Replace(loc))
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(loc, "/") {
			t.Errorf("%s: %q leaves the site", target, loc)
		}
	}
}

// TestUndecodableValueIsShownRaw: an UPDATE sets a jsonb column to a value
// nested 10,001 levels deep (PostgreSQL stores it; Go's decoder reads
// 10,000) together with the changes to hide. Every page showing the
// change says its stored value could not be decoded and shows the start
// of the stored text, labelled with its length; none says a value is
// excluded and recorded nowhere, or not stored.
func TestUndecodableValueIsShownRaw(t *testing.T) {
	db := capturetest.Setup(t, `CREATE TABLE docs (id int PRIMARY KEY, doc jsonb, note text, secret text)`,
		"  docs:\n    exclude: [secret]\n    store_changed_from: true\n")
	db.Exec(t, `INSERT INTO docs VALUES (1, '{}', 'a', 's')`)
	db.Exec(t, `UPDATE docs SET doc = (repeat('[', 10001) || repeat(']', 10001))::jsonb, note = 'b', secret = 't' WHERE id = 1`)
	var tx int64
	var after string
	if err := db.Pool.QueryRow(context.Background(), `SELECT transaction_id, data_after::text FROM threadline.audit_changes WHERE op = 'update'`).Scan(&tx, &after); err != nil {
		t.Fatal(err)
	}
	if len(after) != 20033 {
		t.Fatalf("stored image of %d bytes, want 20033", len(after))
	}
	shown := html.EscapeString(after[:4096]) + " … (20033 bytes in all)</pre>"
	label := html.EscapeString("The stored data_after could not be decoded for display (invalid character '[' exceeded max depth). The values are recorded; the first 4096 of the 20033 bytes of its stored text follow.")
	h := threadlineui.Handler(db.Pool, threadlineui.Options{})
	key := url.QueryEscape(`{"id":1}`)
	for _, target := range []string{"/tx/" + strconv.FormatInt(tx, 10), "/row?table=docs&key=" + key, "/changes?op=update"} {
		r := get(t, h, target)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", target, r.status, r.body)
		}
		for _, want := range []string{label, shown, `Changed fields: <span class="key">doc, note, secret</span>`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("%s does not show %.120q", target, want)
			}
		}
		for _, lie := range []string{"excluded and recorded nowhere", "prior value not stored", "No fields."} {
			if strings.Contains(r.body, lie) {
				t.Errorf("%s says %q", target, lie)
			}
		}
	}
	// The row as of now: its image does not decode either.
	at := url.QueryEscape(time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	r := get(t, h, "/row?table=docs&key="+key+"&at="+at)
	if want := html.EscapeString("The stored row image could not be decoded for display (invalid character '[' exceeded max depth). The values are recorded; the first 4096 of the 20033 bytes of its stored text follow."); r.status != http.StatusOK || !strings.Contains(r.body, want) || !strings.Contains(r.body, shown) {
		t.Errorf("as of now: %d, want %q and the stored text", r.status, want)
	}
}
