package threadline_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// feedRun runs one feed read from pos and returns what it delivered and
// the next position.
func feedRun(t *testing.T, db *pgtest.DB, pos threadline.FeedPosition) (string, threadline.FeedPosition) {
	t.Helper()
	var cs []threadline.Change
	next := pos
	for c, err := range audit.Feed(context.Background(), db.Pool, pos, &next) {
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	if next.Snapshot == "" {
		t.Fatalf("feed from %q: no position after the run", pos.Snapshot)
	}
	for i := 1; i < len(cs); i++ {
		if cs[i].ID <= cs[i-1].ID {
			t.Fatalf("feed not in id order: %d after %d", cs[i].ID, cs[i-1].ID)
		}
	}
	return describe(cs), next
}

// TestFeedNeverSkipsALateCommit: a transaction that wrote before a later
// one and commits after it, and after a feed run, is delivered by the next
// run; nothing is delivered twice.
func TestFeedNeverSkipsALateCommit(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)

	long, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer long.Rollback(ctx)
	if _, err := long.Exec(ctx, "INSERT INTO accounts VALUES (1, 'long', NULL)"); err != nil {
		t.Fatal(err)
	}
	// A transaction that begins before the first run and writes after it.
	late, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Rollback(ctx)
	if _, err := late.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	inTx(t, db, threadline.TxOptions{}, "INSERT INTO accounts VALUES (2, 'short', NULL)")

	got, pos := feedRun(t, db, threadline.FeedPosition{})
	if want := `public.accounts insert {"id":2}`; got != want {
		t.Fatalf("run 1: %s, want %s", got, want)
	}
	if _, err := late.Exec(ctx, "INSERT INTO billing.accounts VALUES (7, 'pro')"); err != nil {
		t.Fatal(err)
	}
	if err := long.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got, pos = feedRun(t, db, pos)
	if want := `public.accounts insert {"id":1}`; got != want {
		t.Fatalf("run 2: %s, want %s", got, want)
	}
	if err := late.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	inTx(t, db, threadline.TxOptions{}, "UPDATE accounts SET name = 'short 2' WHERE id = 2")
	got, pos = feedRun(t, db, pos)
	if want := `billing.accounts insert {"id":7}; public.accounts update {"id":2}`; got != want {
		t.Fatalf("run 3: %s, want %s", got, want)
	}
	if got, _ = feedRun(t, db, pos); got != "" {
		t.Fatalf("run 4: %s, want nothing", got)
	}
}

func TestExportFeed(t *testing.T) {
	ctx := context.Background()
	db := capturetest.Setup(t, queryDDL, queryTables)
	inTx(t, db, threadline.TxOptions{Actor: threadline.User("7")}, "INSERT INTO accounts VALUES (1, 'Ada', 'ada@example.com')")
	var out bytes.Buffer
	pos, res, err := audit.ExportFeed(ctx, db.Pool, &out, threadline.FeedPosition{}, threadline.ExportOptions{Format: threadline.ExportNDJSON})
	if err != nil || res.Rows != 1 || pos.Snapshot == "" {
		t.Fatalf("ExportFeed: %+v %+v %v", pos, res, err)
	}
	if s := out.String(); strings.Count(s, "\n") != 1 || !strings.Contains(s, `"op":"insert"`) || !strings.Contains(s, `"id":"7"`) ||
		strings.Contains(s, "ada@example.com") {
		t.Fatalf("ExportFeed wrote:\n%s", s)
	}
	out.Reset()
	if _, res, err = audit.ExportFeed(ctx, db.Pool, &out, pos, threadline.ExportOptions{Format: threadline.ExportCSV}); err != nil || res.Rows != 0 ||
		strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("second run: %+v %v\n%s", res, err, out.String())
	}
	for _, c := range []struct {
		pos  string
		want string
	}{
		{"12", `bad feed position: not a snapshot: "12" is not xmin:xmax:xip`},
		{"5:4:", `bad feed position: not a snapshot: "5:4:": bad xmax`},
		{"5:9:3", `bad feed position: not a snapshot: "5:9:3": bad in-progress id "3"`},
		{"9000000000:9000000000:", `bad feed position: 9000000000:9000000000: is ahead of this database's transaction ids`},
	} {
		_, _, err := audit.ExportFeed(ctx, db.Pool, &out, threadline.FeedPosition{Snapshot: c.pos}, threadline.ExportOptions{Format: threadline.ExportNDJSON})
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, threadline.ErrFeedPosition) {
			t.Errorf("position %q: %v, want %s", c.pos, err, c.want)
		}
	}
	if _, _, err := audit.ExportFeed(ctx, db.Pool, &out, threadline.FeedPosition{}, threadline.ExportOptions{Format: threadline.ExportJSON}); err == nil {
		t.Error("a JSON document feed was accepted")
	}
}
