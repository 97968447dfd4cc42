package threadlineui_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/runtime/threadlineops"
	"github.com/threadline-go/threadline/runtime/threadlineui"
)

// TestSearchTextWithQuotes: a text with a quote or a control character,
// which the JSON text of a row writes escaped, is matched against the
// values themselves, and an escape of the JSON text is no value.
func TestSearchTextWithQuotes(t *testing.T) {
	fx := newFixture(t)
	fx.db.Exec(t, `INSERT INTO posts VALUES (12, E'say "Hi"\tthere')`)
	id := capturetest.QueryInt(t, fx.db, `SELECT max(id) FROM threadline.audit_changes`)
	h := fx.handler(threadlineui.Options{})
	for q, want := range map[string]bool{`"hi"`: true, "hi\"\tTHERE": true, `say "`: true, `\t`: false, `\"`: false, "say": true} {
		body := search(t, h, url.Values{"q": {q}})
		if got := strings.Contains(section(t, body, "Changes whose"), `data-change="`+strconv.FormatInt(id, 10)+`"`); got != want {
			t.Errorf("search %q finds the post: %v, want %v", q, got, want)
		}
	}
}

// TestSearchSealBadges: both lists of the search page badge their
// changes' seal state, read once for the page.
func TestSearchSealBadges(t *testing.T) {
	fx := newFixture(t)
	if _, err := (threadlineops.Audit{}).Seal(context.Background(), fx.db.Pool); err != nil {
		t.Fatal(err)
	}
	fx.db.Exec(t, `INSERT INTO posts VALUES (13, 'hello, late')`)
	h := fx.handler(threadlineui.Options{})
	body := search(t, h, url.Values{"q": {"hello"}})
	if s, p, m := badges(section(t, body, "Changes whose")); s != 2 || p != 1 || m != 0 {
		t.Errorf("values: %d sealed, %d not yet, %d missing; want 2, 1, 0", s, p, m)
	}
	body = search(t, h, url.Values{"q": {"10"}, "table": {"posts"}})
	if s, p, _ := badges(section(t, body, "Rows whose key is")); s != 2 || p != 0 {
		t.Errorf("keys: %d sealed, %d not yet; want 2, 0", s, p)
	}
}
