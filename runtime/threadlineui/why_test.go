package threadlineui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineui"
)

// write runs stmts in one InTx transaction with opts, records action
// (name, then options) when given, and names the new changes in the
// fixture so that shown lists them.
func (fx *fixture) write(t *testing.T, opts threadline.TxOptions, action []string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	err := threadline.InTx(ctx, fx.db.Pool, opts, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		if len(action) == 0 {
			return nil
		}
		var ao threadline.ActionOptions
		if len(action) > 1 {
			ao.Reason = action[1]
		}
		if len(action) > 2 {
			ao.Category = action[2]
		}
		_, err := threadline.RecordAction(ctx, tx, action[0], ao)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := threadline.Audit{}.Timeline(ctx, fx.db.Pool, threadline.Filter{Limit: threadline.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		var k any
		_ = json.Unmarshal(c.PK, &k)
		kb, _ := json.Marshal(k)
		name := fmt.Sprintf("%s.%s %s %s", c.Schema, c.Table, c.Op, kb)
		fx.ids[name], fx.names[c.ID] = c.ID, name
	}
}

// TestCorrelationFilterMatchesTransactions: posts written with a
// correlation id and no action (finding 1 of issue 27) are listed by the
// timeline's correlation filter, and the form says what it matches.
func TestCorrelationFilterMatchesTransactions(t *testing.T) {
	fx := newFixture(t)
	fx.write(t, threadline.TxOptions{Actor: threadline.User("5"), CorrelationID: "checkout-100"}, nil,
		"INSERT INTO posts VALUES (42, 'order 42')", "UPDATE posts SET title = 'order 42, paid' WHERE id = 42")
	h := fx.handler(threadlineui.Options{})
	r := get(t, h, "/changes?correlation_id=checkout-100")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got, want := fx.shown(r.body), `public.posts update {"id":42}; public.posts insert {"id":42}`; got != want {
		t.Fatalf("correlation filter:\n got %s\nwant %s", got, want)
	}
	mustContainAll(t, "timeline form", r.body, "the transaction's or its action's")
	// The action's correlation id still matches.
	if got := fx.shown(get(t, h, "/changes?correlation_id=corr-7").body); got != `public.users update {"id":1}` {
		t.Fatalf("action's correlation id: %s", got)
	}
}

func mustContainAll(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s lacks %q", what, s)
		}
	}
}

// TestWhyInEveryList: the action's name and reason next to the change in
// every list of changes (home, changes, actor, row history, transaction),
// linked to the Actions page; request and correlation ids as links.
func TestWhyInEveryList(t *testing.T) {
	fx := newFixture(t)
	fx.write(t, threadline.TxOptions{Actor: threadline.User("5"), CorrelationID: "checkout-100", RequestID: "req-9"}, []string{"order.pay", "card accepted"}, "INSERT INTO posts VALUES (42, 'order 42')")
	h := fx.handler(threadlineui.Options{})
	why := `<a class="action" href="/actions?name=user.rename">user.rename</a> <span class="reason">support ticket 12</span>`
	paid := `<a class="action" href="/actions?name=order.pay">order.pay</a> <span class="reason">card accepted</span>`
	ids := []string{`request <a href="/changes?request_id=req-9">req-9</a>`, `correlation <a href="/changes?correlation_id=checkout-100">checkout-100</a>`}
	for _, c := range []struct {
		target string
		want   []string
	}{
		{"/", append([]string{why, paid, `request <a href="/changes?request_id=req-1">req-1</a>`}, ids...)},
		{"/changes", append([]string{why, paid}, ids...)},
		{"/changes?table=users", []string{why, `<span class="muted">no action</span>`}},
		{"/actor?actor=admin%3A9", []string{why}},
		{"/actor?actor=user%3A5", append([]string{paid}, ids...)},
		{"/row?table=users&key=%7B%22id%22%3A1%7D", []string{why, `request <a href="/changes?request_id=req-1">req-1</a>`}},
		{"/row?table=posts&key=%7B%22id%22%3A42%7D", append([]string{paid}, ids...)},
		{fmt.Sprintf("/tx/%d", fx.actionTx), []string{`<a href="/changes?correlation_id=corr-7">corr-7</a>`}},
	} {
		r := get(t, h, c.target)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.target, r.status, r.body)
		}
		mustContainAll(t, c.target, r.body, c.want...)
	}
	// The transaction's own correlation id links its changes.
	p, err := threadline.Audit{}.Timeline(context.Background(), fx.db.Pool, threadline.Filter{CorrelationID: "checkout-100"})
	if err != nil || len(p.Changes) != 1 {
		t.Fatalf("%v %v", p, err)
	}
	r := get(t, h, fmt.Sprintf("/tx/%d", p.Changes[0].TransactionID))
	mustContainAll(t, "transaction", r.body, `<a href="/changes?correlation_id=checkout-100">checkout-100</a> <span class="muted">(setting)</span>`,
		`<dd><a href="/changes?request_id=req-9">req-9</a></dd>`)
}

// TestActionsPage: the recorded actions, newest first, with their
// reason, actor and transaction; filtered by name, category, status,
// actor, reason text and time; paged; linked from every page's
// navigation.
func TestActionsPage(t *testing.T) {
	fx := newFixture(t)
	fx.write(t, threadline.TxOptions{Actor: threadline.User("5")}, []string{"order.refund", "Damaged in transit", "billing"},
		"INSERT INTO posts VALUES (42, 'order 42')")
	fx.write(t, threadline.TxOptions{Actor: threadline.User("6")}, []string{"order.refund", "Customer changed mind", "billing"},
		"UPDATE posts SET title = 'order 42, refunded' WHERE id = 42")
	h := fx.handler(threadlineui.Options{Now: time.Now})
	shownActions := func(body string) string {
		var out []string
		for _, m := range actionAttr.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return strings.Join(out, " ")
	}
	names := func(body string) string {
		var out []string
		for _, m := range actionName.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct{ q, want string }{
		{"", "order.refund order.refund user.rename"},
		{"name=order.refund", "order.refund order.refund"},
		{"category=billing&reason=damaged", "order.refund"},
		{"reason=ticket", "user.rename"},
		{"actor=admin%3A9", "user.rename"},
		{"status=error", ""},
		{"from=-1h", "order.refund order.refund user.rename"},
		{"to=-1h", ""},
		{"correlation_id=corr-7", "user.rename"},
	} {
		r := get(t, h, "/actions?"+c.q)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.q, r.status, r.body)
		}
		if got := names(r.body); got != c.want {
			t.Errorf("actions?%s: got %q, want %q", c.q, got, c.want)
		}
	}
	r := get(t, h, "/actions?reason=damaged")
	mustContainAll(t, "actions page", r.body, "Damaged in transit", `<a href="/actor?actor=user%3A5">user:5</a>`,
		`<a href="/actions?category=billing">billing</a>`, `<a href="/tx/`, `<span class="status status-ok">ok</span>`,
		`<a href="/actions?from=-1h&amp;reason=damaged">Last hour</a>`, `<datalist id="actors"><option value="user:6">`)
	// Paged: one action a page.
	h1 := fx.handler(threadlineui.Options{PageSize: 1})
	r = get(t, h1, "/actions")
	first := shownActions(r.body)
	var next string
	for _, l := range hrefs(r.body) {
		if strings.HasPrefix(l, "/actions?after=") {
			next = l
		}
	}
	if first == "" || next == "" {
		t.Fatalf("page 1: %q next %q", first, next)
	}
	r = get(t, h1, next)
	if second := shownActions(r.body); second == "" || second == first || !strings.Contains(r.body, "« Newest") {
		t.Fatalf("page 2: %q after %q", second, first)
	}
	// Linked from the navigation of every page.
	for _, p := range []string{"/", "/changes", "/coverage"} {
		if !hasLink(get(t, h, p).body, "/actions") {
			t.Errorf("%s: no link to /actions", p)
		}
	}
	for _, bad := range []string{"/actions?status=maybe", "/actions?after=x", "/actions?colour=red", "/actions?actor=42"} {
		if r := get(t, h, bad); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, r.status)
		}
	}
}

var (
	actionAttr = regexp.MustCompile(`data-action="(\d+)"`)
	actionName = regexp.MustCompile(`<a class="action" href="[^"]*">([^<]*)</a>`)
)

// TestColumnFilterPickersAndPresets: "who changed name" lists the updates
// that changed it; the form offers the captured tables and the latest
// actors; the time presets are links that keep the filter.
func TestColumnFilterPickersAndPresets(t *testing.T) {
	fx := newFixture(t)
	h := fx.handler(threadlineui.Options{Now: time.Now})
	for q, want := range map[string]string{
		"column=name":              `public.users update {"id":1}`,
		"column=title":             `public.posts update {"id":10}`,
		"column=name&actor=user:1": ``,
		"column=nosuch":            ``,
		"column=title&table=posts": `public.posts update {"id":10}`,
		"from=-1h&table=posts":     `public.posts update {"id":10}; public.posts insert {"id":10}`,
		"from=-7d&column=name":     `public.users update {"id":1}`,
		"from=-24h&op=delete":      `public.users delete {"id":2}`,
	} {
		r := get(t, h, "/changes?"+q)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
		if got := fx.shown(r.body); got != want {
			t.Errorf("%s:\n got %s\nwant %s", q, got, want)
		}
	}
	r := get(t, h, "/changes?column=name&to=2999-01-01&after=2999-01-01T00:00:00Z_1")
	mustContainAll(t, "changes page", r.body,
		`<input name="column" value="name"`,
		`<input name="table" value="" placeholder="users or schema.table" list="tables">`,
		`<option value="public.users">`, `<option value="public.posts">`,
		`<input name="actor" value="" placeholder="user:42" list="actors">`,
		`<datalist id="actors"><option value="user:1"><option value="user:&lt;img src=x onerror=alert(2)&gt;"><option value="admin:9">`,
		// The presets keep the filter, and drop the cursor and the other bound.
		`<a href="/changes?column=name&amp;from=-1h">Last hour</a>`,
		`<a href="/changes?column=name&amp;from=-24h">24 h</a>`,
		`<a href="/changes?column=name&amp;from=-7d">7 days</a>`)
	r = get(t, h, "/changes?from=-24h")
	mustContainAll(t, "active preset", r.body, `<a href="/changes?from=-24h" aria-current="true">24 h</a>`)
	if r := get(t, h, "/changes?column=%20"); r.status != http.StatusOK {
		t.Errorf("a blank column is no filter: %d", r.status)
	}
}

// TestActionsPageSearchBudget: an Actions filter that matches only an old
// action says how far back it searched when the viewer's budget is spent,
// and its link searches on until the action is found.
func TestActionsPageSearchBudget(t *testing.T) {
	fx := newFixture(t)
	fx.db.Exec(t, `INSERT INTO threadline.audit_actions (name, reason) SELECT 'bulk.' || g, 'hay' FROM generate_series(1, 20000) AS g`)
	h := fx.handler(threadlineui.Options{SearchBudget: time.Nanosecond})
	target := "/actions?name=user.rename"
	for calls := 0; ; calls++ {
		if calls > 20 {
			t.Fatal("no end after 20 pages")
		}
		r := get(t, h, target)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", target, r.status, r.body)
		}
		if strings.Contains(r.body, ">user.rename</a>") {
			mustContainAll(t, "the found action", r.body, "support ticket 12", "End of the actions.")
			if calls == 0 {
				t.Fatal("the budget was never spent")
			}
			break
		}
		mustContainAll(t, "a page cut short", r.body, "Searched back to action #", "older actions were not searched yet", "Search older »")
		target = ""
		for _, l := range hrefs(r.body) {
			if strings.HasPrefix(l, "/actions?after=") {
				target = l
			}
		}
		if target == "" {
			t.Fatalf("no link that searches on:\n%s", r.body)
		}
	}
}
