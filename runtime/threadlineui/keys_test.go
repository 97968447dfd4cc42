package threadlineui_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/runtime/threadlineui"
)

// keysDDL has a composite key, a key over a domain, a smallint key and a
// table without a primary key whose capture is keyed by key: [slug].
const keysDDL = `
CREATE DOMAIN qty AS integer;
CREATE TABLE orders (tenant_id bigint, order_no integer, status text, PRIMARY KEY (tenant_id, order_no));
CREATE TABLE lots (n qty PRIMARY KEY, label text);
CREATE TABLE small (id smallint PRIMARY KEY);
CREATE TABLE notes (slug text NOT NULL, body text);
`

const keysTables = `  orders: {}
  lots: {}
  small: {}
  notes:
    key: [slug]
`

// keysFixture is a database with changes of orders (1, 42) and notes "a".
func keysFixture(t *testing.T) *pgtest.DB {
	t.Helper()
	db := capturetest.Setup(t, keysDDL, keysTables)
	db.Exec(t, `INSERT INTO orders VALUES (1, 42, 'new')`)
	db.Exec(t, `UPDATE orders SET status = 'paid' WHERE tenant_id = 1 AND order_no = 42`)
	db.Exec(t, `INSERT INTO notes VALUES ('a', 'hello')`)
	db.Exec(t, `INSERT INTO lots VALUES (7, 'seven')`)
	return db
}

func keysHandler(db *pgtest.DB, o threadlineui.Options) http.Handler {
	return threadlineui.Handler(db.Pool, o)
}

func rowURL(table, key string) string {
	return "/row?" + url.Values{"table": {table}, "key": {key}}.Encode()
}

// TestRowKeyThatCanNeverMatchIs400: the row page checks a key against
// the table's key columns and their types and answers 400 naming them,
// with a link to the lookup form, instead of "Nothing was captured for
// this row."
func TestRowKeyThatCanNeverMatchIs400(t *testing.T) {
	db := keysFixture(t)
	h := keysHandler(db, threadlineui.Options{Keys: map[string][]string{"notes": {"slug"}}})
	const orderCols = "Its key columns are tenant_id bigint, order_no integer: write the key as {\"tenant_id\":1,\"order_no\":1}"
	cases := []struct{ table, key, msg string }{
		{"orders", `{"order_no":42}`, `key {"order_no":42} can never match a row of public.orders: tenant_id is missing. ` + orderCols},
		{"orders", `{"tenant_id":"1","order_no":"42"}`, `key {"tenant_id":"1","order_no":"42"} can never match a row of public.orders: ` +
			`tenant_id (bigint) must be a JSON integer, not the string "1"; order_no (integer) must be a JSON integer, not the string "42". ` + orderCols},
		{"orders", `{"id":42}`, `key {"id":42} can never match a row of public.orders: tenant_id is missing; order_no is missing; "id" is not a key column. ` + orderCols},
		{"orders", `{"tenant_id":1,"order_no":4.5}`, `order_no (integer) must be a JSON integer, not the number 4.5. `},
		{"orders", `{"tenant_id":1,"order_no":3000000000}`, `order_no (integer): 3000000000 is out of its range. `},
		{"orders", `{"tenant_id":null,"order_no":42}`, `tenant_id must not be null. `},
		{"orders", `[1,42]`, `key "[1,42]": not a JSON object of the key columns (tenant_id bigint, order_no integer), like {"tenant_id":1,"order_no":1}`},
		{"lots", `{"n":"7"}`, `n (qty) must be a JSON integer, not the string "7". Its key columns are n qty`},
		{"small", `{"id":40000}`, `id (smallint): 40000 is out of its range. Its key columns are id smallint`},
		{"notes", `{"slug":5}`, `slug (text) must be a JSON string, not the number 5. Its key columns are slug text: write the key as {"slug":"…"}`},
	}
	for _, c := range cases {
		r := get(t, h, rowURL(c.table, c.key))
		body := html.UnescapeString(r.body)
		if r.status != http.StatusBadRequest || !strings.Contains(body, c.msg) {
			t.Errorf("%s %s: %d, want 400 with\n%s\n%s", c.table, c.key, r.status, c.msg, body)
			continue
		}
		if strings.Contains(body, "Nothing was captured") || !hasLink(r.body, "/lookup?table=public."+c.table) {
			t.Errorf("%s %s: no link to the lookup form:\n%s", c.table, c.key, body)
		}
	}

	// Keys that can match still show the row's history, whatever the order
	// of their members.
	for _, c := range []struct{ table, key string }{
		{"orders", `{"order_no":42,"tenant_id":1}`}, {"lots", `{"n":7}`}, {"notes", `{"slug":"a"}`},
	} {
		r := get(t, h, rowURL(c.table, c.key))
		if r.status != http.StatusOK || !strings.Contains(r.body, "data-change=") {
			t.Errorf("%s %s: %d\n%s", c.table, c.key, r.status, r.body)
		}
	}
	// A valid key of a row that never changed is still "nothing captured".
	if r := get(t, h, rowURL("orders", `{"tenant_id":1,"order_no":43}`)); r.status != http.StatusOK || !strings.Contains(r.body, "Nothing was captured for this row.") {
		t.Errorf("an unchanged row: %d\n%s", r.status, r.body)
	}
	// Without Options.Keys, a table without a primary key is not checked.
	if r := get(t, keysHandler(db, threadlineui.Options{}), rowURL("notes", `{"slug":5}`)); r.status != http.StatusOK {
		t.Errorf("notes without Options.Keys: %d\n%s", r.status, r.body)
	}
}

// TestRowLookupForm: a form per table with one input per key column,
// labelled with its type, that leads to the row's history page; values
// that can never match show the form again with a 400 saying why.
func TestRowLookupForm(t *testing.T) {
	db := keysFixture(t)
	h := keysHandler(db, threadlineui.Options{Prefix: "/audit", Keys: map[string][]string{"notes": {"slug"}}})

	r := get(t, h, "/audit/lookup?table=orders")
	if r.status != http.StatusOK {
		t.Fatalf("lookup form: %d\n%s", r.status, r.body)
	}
	for _, want := range []string{
		`<form class="lookup" method="get" action="">`,
		`<input type="hidden" name="table" value="public.orders">`,
		`<label>tenant_id <span class="muted">bigint, an integer</span> <input name="k.tenant_id" value="" required></label>`,
		`<label>order_no <span class="muted">integer, an integer</span> <input name="k.order_no" value="" required></label>`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("lookup form lacks %s:\n%s", want, r.body)
		}
	}
	if strings.Contains(r.body, "<script") || r.header.Get("Content-Security-Policy") == "" {
		t.Errorf("lookup form: a script, or no CSP")
	}

	// Submitted: 303 to the row's history, which shows the changes.
	r = get(t, h, "/audit/lookup?table=orders&k.tenant_id=1&k.order_no=+42")
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || loc != "/audit"+rowURL("public.orders", `{"tenant_id":1,"order_no":42}`) {
		t.Fatalf("lookup submitted: %d %q", r.status, loc)
	}
	if r := get(t, h, loc); r.status != http.StatusOK || strings.Count(r.body, "data-change=") != 2 {
		t.Errorf("the row page it leads to: %d\n%s", r.status, r.body)
	}
	r = get(t, h, "/audit/lookup?table=notes&k.slug=a")
	if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || loc != "/audit"+rowURL("public.notes", `{"slug":"a"}`) {
		t.Errorf("notes lookup: %d %q", r.status, loc)
	}

	for _, c := range []struct{ target, msg string }{
		{"/audit/lookup?table=orders&k.tenant_id=one&k.order_no=42", `tenant_id (bigint) takes a number, not "one"`},
		{"/audit/lookup?table=orders&k.tenant_id=1&k.order_no=4.5", `order_no (integer) must be a JSON integer, not the number 4.5`},
		{"/audit/lookup?table=orders&k.tenant_id=1&k.order_no=", `order_no is required`},
		{"/audit/lookup?table=small&k.id=70000", `id (smallint): 70000 is out of its range`},
	} {
		r := get(t, h, c.target)
		body := html.UnescapeString(r.body)
		if r.status != http.StatusBadRequest || !strings.Contains(body, c.msg) || !strings.Contains(r.body, `<form class="lookup"`) {
			t.Errorf("%s: %d, want 400 with the form and %q:\n%s", c.target, r.status, c.msg, body)
		}
	}
	for _, c := range []struct{ target, msg string }{
		{"/audit/lookup?table=orders&k.id=1", `unknown parameter "k.id" (allowed: table, k.tenant_id, k.order_no)`},
		{"/audit/lookup?table=nope", `unknown table "nope"`},
	} {
		r := get(t, h, c.target)
		if body := html.UnescapeString(r.body); r.status != http.StatusBadRequest || !strings.Contains(body, c.msg) {
			t.Errorf("%s: %d, want 400 with %q:\n%s", c.target, r.status, c.msg, body)
		}
	}

	// A table whose key columns are unknown (no primary key, not in
	// Options.Keys) gets one input for the JSON key, sent to the row page.
	r = get(t, keysHandler(db, threadlineui.Options{}), "/lookup?table=notes")
	if r.status != http.StatusOK || !strings.Contains(r.body, `<form class="lookup" method="get" action="/row">`) || !strings.Contains(r.body, `<input name="key"`) {
		t.Errorf("lookup of a table without a known key: %d\n%s", r.status, r.body)
	}

	// Without a table, it asks for one; the home page links each table's
	// form, and every page links the lookup.
	r = get(t, h, "/audit/lookup")
	if r.status != http.StatusOK || !strings.Contains(r.body, `<input name="table" placeholder="users or schema.table" required>`) {
		t.Errorf("lookup without a table: %d\n%s", r.status, r.body)
	}
	r = get(t, h, "/audit/")
	if !hasLink(r.body, "/audit/lookup?table=public.orders") || !hasLink(r.body, "/audit/lookup?table=public.notes") || !hasLink(r.body, "/audit/lookup") {
		t.Errorf("home page: no lookup links: %v", hrefs(r.body))
	}
}

// TestPermissionErrorPageNamesTheRoleSection: a viewer whose role may
// not read the audit trail answers every page with 503 and a page naming
// the role and privileges.reader_roles, not a bare 500.
func TestPermissionErrorPageNamesTheRoleSection(t *testing.T) {
	app := pgtest.Roles(t, "app")["app"]
	ctx := context.Background()
	db := capturetest.SetupWith(t, keysDDL, "privileges:\n  writer_roles: ["+app+"]\n", keysTables)
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = app
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	h := threadlineui.Handler(pool, threadlineui.Options{})
	want := `role "` + app + `" is a writer role (privileges.writer_roles) and may not read the audit trail: connect as a role listed in privileges.reader_roles in threadline.yaml (a role added there gets its grants from the next migration threadline-gen writes, once applied)`
	for _, target := range []string{"/", "/changes", rowURL("orders", `{"tenant_id":1,"order_no":42}`)} {
		r := get(t, h, target)
		body := html.UnescapeString(r.body)
		if r.status != http.StatusServiceUnavailable || !strings.Contains(body, "permission denied for ") || !strings.Contains(body, `<p class="hint">`+want+`</p>`) {
			t.Errorf("%s as the writer: %d\n%s", target, r.status, body)
		}
	}
}

// TestLookupFormEscapesNames: a table and key column named with markup
// are shown as text in the lookup form, and the form still leads to the
// row's history.
func TestLookupFormEscapesNames(t *testing.T) {
	fx := newFixture(t)
	h := fx.handler(threadlineui.Options{})
	r := get(t, h, "/lookup?"+url.Values{"table": {hostileTable}}.Encode())
	if r.status != http.StatusOK || strings.Contains(r.body, "<script>") || !strings.Contains(r.body, `name="k.id"`) {
		t.Fatalf("lookup of %s: %d\n%s", hostileTable, r.status, r.body)
	}
	r = get(t, h, "/lookup?"+url.Values{"table": {hostileTable}, "k.id": {"1"}}.Encode())
	if r.status != http.StatusSeeOther {
		t.Fatalf("lookup submitted: %d\n%s", r.status, r.body)
	}
	if r := get(t, h, r.header.Get("Location")); r.status != http.StatusOK || strings.Count(r.body, "data-change=") != 1 {
		t.Errorf("row page: %d\n%s", r.status, r.body)
	}
}
