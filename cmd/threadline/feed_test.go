package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// ndjsonIDs returns the change ids of NDJSON lines.
func ndjsonIDs(t *testing.T, s string) []int64 {
	t.Helper()
	var ids []int64
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var c struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil || c.ID == 0 {
			t.Fatalf("not a change line: %q (%v)", line, err)
		}
		ids = append(ids, c.ID)
	}
	return ids
}

// TestExportCursorFile: runs with a cursor file export each change once;
// a run that stops between its output and its cursor write is repeated
// whole by the next (at least once, the same ids); -follow streams.
func TestExportCursorFile(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	feed := []string{"export", "-format", "ndjson", "-output", "-", "-cursor-file", "feed.cursor"}

	code, out, errb := p.cli(t, feed...)
	expectCode(t, "first run", code, 0, out, errb)
	first := ndjsonIDs(t, out)
	if len(first) == 0 {
		t.Fatal("first run exported nothing")
	}
	mustContain(t, "first run", errb, "position ", "saved to feed.cursor")
	if strings.Contains(out, "ann@example.com") || strings.Contains(out, "hash1") {
		t.Fatalf("the feed carries a masked or excluded value:\n%s", out)
	}
	saved, err := os.ReadFile("feed.cursor")
	if err != nil || !strings.Contains(string(saved), `"snapshot": "`) {
		t.Fatalf("feed.cursor: %s %v", saved, err)
	}

	// Nothing new: nothing exported.
	code, out, errb = p.cli(t, feed...)
	expectCode(t, "idle run", code, 0, out, errb)
	if out != "" {
		t.Fatalf("idle run exported:\n%s", out)
	}

	// A crash after the output, before the cursor: the next run exports
	// the same changes again.
	p.db.Exec(t, `INSERT INTO posts VALUES (50, 1, 'fifty'), (51, 1, 'fifty-one')`)
	before, _ := os.ReadFile("feed.cursor")
	crash := errors.New("crash")
	code, out, errb = p.cliEnv(t, context.Background(), env{beforeCursorWrite: func() error { return crash }}, feed...)
	expectCode(t, "crashed run", code, 1, out, errb)
	crashed := ndjsonIDs(t, out)
	if after, _ := os.ReadFile("feed.cursor"); string(after) != string(before) || len(crashed) != 2 {
		t.Fatalf("crashed run: %d changes, cursor changed: %v", len(crashed), string(after) != string(before))
	}
	code, out, errb = p.cli(t, feed...)
	expectCode(t, "rerun", code, 0, out, errb)
	if again := ndjsonIDs(t, out); len(again) != 2 || again[0] != crashed[0] || again[1] != crashed[1] {
		t.Fatalf("rerun exported %v, want %v again", again, crashed)
	}

	// -follow: every new change once, until interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		time.Sleep(150 * time.Millisecond)
		p.db.Exec(t, `INSERT INTO posts VALUES (60, 1, 'sixty')`)
		time.Sleep(150 * time.Millisecond)
		p.db.Exec(t, `UPDATE posts SET title = 'sixty!' WHERE id = 60`)
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	code, out, errb = p.cliEnv(t, ctx, env{}, append(feed, "-follow", "-interval", "50ms")...)
	expectCode(t, "follow", code, 0, out, errb)
	followed := ndjsonIDs(t, out)
	if len(followed) != 2 || !sort.SliceIsSorted(followed, func(i, j int) bool { return followed[i] < followed[j] }) {
		t.Fatalf("follow exported %v, want the insert and the update", followed)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{append(feed, "-table", "users"), "-cursor-file exports every change since its position: no -table"},
		{[]string{"export", "-format", "json", "-output", "-", "-cursor-file", "f"}, "want -format ndjson or csv"},
		{[]string{"export", "-format", "csv", "-output", "x.csv", "-cursor-file", "f", "-follow"}, "-follow streams NDJSON to standard output"},
		{[]string{"export", "-format", "ndjson", "-output", "-", "-follow"}, "-follow needs -cursor-file"},
	} {
		code, out, errb := p.cli(t, c.args...)
		expectCode(t, c.want, code, 2, out, errb)
		mustContain(t, c.want, errb, c.want)
	}
	if err := os.WriteFile("bad.cursor", []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errb = p.cli(t, "export", "-format", "ndjson", "-output", "-", "-cursor-file", "bad.cursor")
	expectCode(t, "bad cursor", code, 1, out, errb)
	mustContain(t, "bad cursor", errb, "-cursor-file bad.cursor: not a cursor written by threadline export")
}
