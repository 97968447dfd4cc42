package threadlineui_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
	"github.com/threadline-go/threadline/runtime/threadlineui"
)

// sealFact is the Seal line of a transaction's page, without its markup.
var sealFact = regexp.MustCompile(`(?s)<dt>Seal</dt><dd class="seal">(.*?)</dd>`)

func sealLine(t *testing.T, h http.Handler, txID int64) string {
	t.Helper()
	r := get(t, h, fmt.Sprintf("/tx/%d", txID))
	if r.status != http.StatusOK {
		t.Fatalf("tx %d: status %d: %s", txID, r.status, r.body)
	}
	m := sealFact.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("tx %d: no Seal line", txID)
	}
	return pageText(m[1])
}

// pageText is a page's text without markup, its spaces collapsed.
func pageText(body string) string {
	return strings.Join(strings.Fields(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(body, " ")), " ")
}

// badges counts the seal badges of a list.
func badges(body string) (sealed, pending, missing int) {
	return strings.Count(body, `">sealed</span>`), strings.Count(body, `">not sealed yet</span>`), strings.Count(body, `">not in its seal</span>`)
}

// TestSealState: a transaction's page says which seal covers it (found
// among seven seals), that it is not sealed yet, that the trail was never
// sealed, or that the seal that saw it does not hold it; lists badge each
// change's transaction, and nothing while the trail was never sealed.
func TestSealState(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	h := fx.handler(threadlineui.Options{Now: func() time.Time { return time.Now().Add(90 * time.Minute) }})
	if got, want := sealLine(t, h, fx.actionTx), "never sealed run threadline seal to make tampering evident"; got != want {
		t.Fatalf("never sealed:\n got %q\nwant %q", got, want)
	}
	if s, p, m := badges(get(t, h, "/changes").body); s+p+m != 0 {
		t.Fatalf("a trail never sealed has badges: %d %d %d", s, p, m)
	}
	mustContainAll(t, "home, never sealed", pageText(get(t, h, "/").body),
		"Never sealed run threadline seal (regularly) to make tampering evident")

	seal := func(want int64) {
		t.Helper()
		res, err := threadlineops.Audit{}.Seal(ctx, fx.db.Pool)
		if err != nil || res.Seal != want {
			t.Fatalf("seal: %+v %v, want seal %d", res, err, want)
		}
	}
	txOf := func(table, key string) int64 {
		t.Helper()
		var id int64
		if err := fx.db.Pool.QueryRow(ctx, `SELECT transaction_id FROM threadline.audit_changes WHERE table_name = $1 AND table_pk = $2::jsonb ORDER BY id DESC LIMIT 1`,
			table, key).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	seal(1)
	var posts []int64
	for i := range 6 {
		fx.write(t, threadline.TxOptions{Actor: threadline.User("3")}, nil, fmt.Sprintf("INSERT INTO posts VALUES (%d, 'p')", 100+i))
		posts = append(posts, txOf("posts", fmt.Sprintf(`{"id":%d}`, 100+i)))
		seal(int64(i + 2))
	}
	fx.write(t, threadline.TxOptions{Actor: threadline.User("3")}, nil, "INSERT INTO posts VALUES (200, 'late')")
	late := txOf("posts", `{"id":200}`)

	if got, want := sealLine(t, h, fx.actionTx), "sealed by seal #1, made 1 h ago"; !strings.HasPrefix(got, want) {
		t.Fatalf("sealed by the first seal:\n got %q\nwant %q…", got, want)
	}
	for i, id := range posts {
		if got, want := sealLine(t, h, id), fmt.Sprintf("sealed by seal #%d, made 1 h ago", i+2); !strings.HasPrefix(got, want) {
			t.Errorf("post %d:\n got %q\nwant %q…", i, got, want)
		}
	}
	if got, want := sealLine(t, h, late), "not sealed yet committed after the latest seal (#7): the next threadline seal covers it"; got != want {
		t.Fatalf("after the latest seal:\n got %q\nwant %q", got, want)
	}
	// A header written afterwards with an old transaction id: the first
	// seal saw that id, and does not hold it.
	var forged int64
	if err := fx.db.Pool.QueryRow(ctx, `INSERT INTO threadline.audit_transactions (txid, started_at)
		VALUES ('3'::xid8, now()) RETURNING id`).Scan(&forged); err != nil {
		t.Fatal(err)
	}
	if got, want := sealLine(t, h, forged), "not sealed seal #1 saw this transaction but does not hold it: "+
		"it was written after that seal, or the seal tables were changed; run threadline verify"; got != want {
		t.Fatalf("forged header:\n got %q\nwant %q", got, want)
	}

	home := get(t, h, "/")
	mustContainAll(t, "home", pageText(home.body), "Sealed 1 h ago: seal #7 made "+time.Now().UTC().Format("2006-01-02 "),
		", covering 1 transaction (1 change) committed since the seal before; check the chain with threadline verify")
	if s, p, _ := badges(home.body); s != 13 || p != 1 {
		t.Fatalf("home: %d sealed, %d not yet; want 13, 1", s, p)
	}

	// The fixture's 7 changes and the 6 posts are sealed, the late post
	// is not.
	r := get(t, h, "/changes")
	if s, p, m := badges(r.body); s != 13 || p != 1 || m != 0 {
		t.Fatalf("changes: %d sealed, %d not yet, %d missing; want 13, 1, 0", s, p, m)
	}
	mustContainAll(t, "changes", r.body, `title="covered by seal #1, made `, `title="committed after the latest seal (#7): the next threadline seal covers it"`)
	if s, p, _ := badges(get(t, h, "/actor?actor=user:3").body); s != 6 || p != 1 {
		t.Fatalf("actor: %d sealed, %d not yet; want 6, 1", s, p)
	}
	if s, p, _ := badges(get(t, h, "/row?table=public.users&key=%7B%22id%22%3A1%7D").body); s != 2 || p != 0 {
		t.Fatalf("row: %d sealed, %d not yet; want 2, 0", s, p)
	}
}
