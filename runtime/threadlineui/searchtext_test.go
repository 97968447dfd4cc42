package threadlineui_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/capturetest"
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
