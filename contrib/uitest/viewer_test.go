package uitest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// root is the repository root, relative to this module.
const root = "../.."

// example is the bundled example project the viewer is served for.
var example = filepath.Join(root, "examples", "quickstart")

// chromium finds the browser; the test fails without it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("THREADLINE_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("THREADLINE_CHROMIUM: %v", err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install the Debian package chromium (.ci/run does) or set THREADLINE_CHROMIUM")
	return ""
}

// gooseUp returns the Up section of a goose migration.
func gooseUp(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	up, _, _ := strings.Cut(string(b), "-- +goose Down")
	return up
}

// exampleDB creates a database with the example's schema and capture
// installed, and writes some attributed history into it.
func exampleDB(t *testing.T) *pgtest.DB {
	t.Helper()
	migrations, err := filepath.Glob(filepath.Join(example, "db", "migrations", "*.sql"))
	if err != nil || len(migrations) < 2 {
		t.Fatalf("example migrations: %v %v", migrations, err)
	}
	db := pgtest.NewDB(t)
	for _, m := range migrations {
		db.Exec(t, gooseUp(t, m))
	}
	ctx := context.Background()
	write := func(actor threadline.ActorRef, request string, f func(tx pgx.Tx) error) {
		t.Helper()
		if err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: actor, RequestID: request}, f); err != nil {
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
	write(threadline.User("1"), "req-signup-1", exec(
		`INSERT INTO users (email, password_hash, display_name) VALUES ('ada@example.com', 'EXCLUDED-MARKER-1', 'Ada')`,
		`INSERT INTO users (email, password_hash, display_name) VALUES ('grace@example.com', 'EXCLUDED-MARKER-2', 'Grace')`,
		`INSERT INTO countries VALUES ('FR', 'France'), ('JP', 'Japan')`))
	write(threadline.User("1"), "req-post-7", exec(
		`INSERT INTO posts (id, author_id, title, body, tags) VALUES ('6f1c2a43-1f5e-4a0c-9a57-1f0e4c3b2a19', 1, 'Notes on the engine', 'First draft', '{math}')`))
	write(threadline.Admin("ops-7"), "req-support-42", func(tx pgx.Tx) error {
		if err := exec(
			`UPDATE users SET display_name = 'Ada Lovelace', email = 'ada@lovelace.example', password_hash = 'EXCLUDED-MARKER-3' WHERE id = 1`,
			`UPDATE posts SET status = 'published', body = 'The Analytical Engine weaves algebraic patterns', published_at = now() WHERE author_id = 1`)(tx); err != nil {
			return err
		}
		_, err := threadline.RecordAction(ctx, tx, "user.rename", threadline.ActionOptions{CorrelationID: "ticket-4711", Verb: "rename", Category: "support", Reason: "name change requested by the user"})
		return err
	})
	write(threadline.ServiceAccount("billing"), "req-invoice-9", exec(
		`INSERT INTO billing.invoices VALUES ('INV-2026-001', 1, 120.00, 'EUR', '2026-11-01', false, '4242')`,
		`UPDATE billing.invoices SET paid = true WHERE number = 'INV-2026-001'`))
	write(threadline.Admin("ops-7"), "req-cleanup-3", func(tx pgx.Tx) error {
		if err := exec(`DELETE FROM users WHERE id = 2`)(tx); err != nil {
			return err
		}
		_, err := threadline.RecordAction(ctx, tx, "user.erase", threadline.ActionOptions{Category: "privacy", Reason: "erasure requested under GDPR article 17"})
		return err
	})
	return db
}

// serve builds the threadline command and runs "threadline serve" for the
// example project; it returns the URL the command printed.
func serve(t *testing.T, dbURL string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "threadline")
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", bin, "./cmd/threadline")
	build.Dir = abs
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build threadline: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "-config", filepath.Join(example, "threadline.yaml"), "-database-url", dbURL, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "THREADLINE_UI_TOKEN=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		m := regexp.MustCompile(`audit viewer at (http://\S+)`).FindStringSubmatch(l)
		if !ok || m == nil {
			t.Fatalf("threadline serve printed %q", l)
		}
		go func() {
			for range lines {
			}
		}()
		return m[1]
	case <-time.After(60 * time.Second):
		t.Fatal("threadline serve printed no URL within a minute")
	}
	return ""
}

// shots saves screenshots where THREADLINE_UI_SCREENSHOTS says.
type shots struct {
	dir string
	t   *testing.T
}

func newShots(t *testing.T) shots {
	dir := os.Getenv("THREADLINE_UI_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "threadline-ui-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return shots{dir: dir, t: t}
}

// take captures the page as name.png.
func (s shots) take(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func TestViewerInChromium(t *testing.T) {
	browser := chromium(t)
	db := exampleDB(t)
	printed := serve(t, db.URL)
	u, err := url.Parse(printed)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + u.Host

	// Without the token: 401.
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s", resp.StatusCode, body)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	// Start the browser on the context without a deadline (a deadline on
	// the first Run would bound the browser's life), then bound each step.
	if _, err := chromedp.Run(ctx, chromedp.Location()); err != nil {
		t.Fatalf("start %s: %v", browser, err)
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	location := func() string {
		t.Helper()
		l, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	count := func(sel string) int {
		t.Helper()
		nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0)))
		if err != nil {
			t.Fatalf("nodes %s: %v", sel, err)
		}
		return len(nodes)
	}
	// clickTo clicks the first element matching sel and waits for an
	// element only the next page has.
	clickTo := func(sel, next string) {
		t.Helper()
		step("click "+sel, chromedp.Click(chromedp.CSS(sel)), chromedp.WaitReady(chromedp.CSS(next)))
	}
	shot := newShots(t)
	contains := func(page, s string, subs ...string) {
		t.Helper()
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				t.Errorf("%s lacks %q:\n%s", page, sub, s)
			}
		}
		// The excluded column's name may show (a change of it is a fact);
		// its values never do.
		for _, bad := range []string{"EXCLUDED-MARKER", "ada@example.com", "ada@lovelace.example"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s shows %q", page, bad)
			}
		}
	}

	// The printed URL carries the token once: the viewer sets its cookie
	// and takes the token out of the address.
	step("open the printed URL", chromedp.Navigate(printed), chromedp.WaitReady(chromedp.CSS("section.cards")))
	if l := location(); l != base+"/" {
		t.Fatalf("after the token URL the browser is at %s", l)
	}
	contains("home", text("main"), "Audit trail", "Coverage OK", "public.users", "billing.invoices", "Latest changes")
	shot.take(ctx, "home")

	// Who changed user 1, and why? From the home page, through the row
	// lookup form of users: its history names the actor, the action and
	// its reason next to each change.
	clickTo(`table.tables a.lookup[href="/lookup?table=public.users"]`, "form.lookup")
	shot.take(ctx, "lookup")
	step("look up user 1", chromedp.SetValue(chromedp.CSS(`form.lookup input[name="k.id"]`), "1"),
		chromedp.Submit(chromedp.CSS("form.lookup")), chromedp.WaitReady(chromedp.CSS("form.asof")))
	contains("who changed user 1 and why", text("main"), `{"id":1}`, "by admin:ops-7", "user.rename", "name change requested by the user",
		"by user:1", "no action", "request req-signup-1")
	if n := count(`article.change a.action[href="/actions?name=user.rename"]`); n != 1 {
		t.Errorf("the row history links the action user.rename %d times, want 1", n)
	}
	shot.take(ctx, "who-changed")

	// The Actions page, from the navigation; filtered by reason text.
	clickTo(`header.top nav a[href="/actions"]`, "table.actions")
	if n := count("table.actions > tbody > tr"); n != 2 {
		t.Errorf("the actions page lists %d actions, want 2", n)
	}
	contains("actions", text("table.actions"), "user.erase", "privacy", "erasure requested under GDPR article 17",
		"user.rename", "support", "name change requested by the user", "admin:ops-7", "req-support-42")
	shot.take(ctx, "actions")
	step("filter the actions", chromedp.SetValue(chromedp.CSS(`form.filters input[name="reason"]`), "GDPR"),
		chromedp.Submit(chromedp.CSS("form.filters")), chromedp.WaitReady(chromedp.CSS(`a[href="/actions"]`)))
	if l := location(); !strings.Contains(l, "reason=GDPR") {
		t.Fatalf("the actions filter went to %s", l)
	}
	if n := count("table.actions > tbody > tr"); n != 1 || !strings.Contains(text("table.actions"), "user.erase") {
		t.Errorf("the reason filter shows %d actions: %s", n, text("main"))
	}
	// The action → its transaction and its changes.
	clickTo(`table.actions a[href^="/tx/"]`, "section.action")
	contains("the erasure", text("main"), "user.erase", "erasure requested under GDPR article 17", "public.users", "delete")

	// Who changed display_name? The changed-column filter and a time
	// preset, both plain GET links and forms.
	step("column filter", chromedp.Navigate(base+"/changes"), chromedp.WaitReady(chromedp.CSS("form.filters")))
	step("who changed display_name", chromedp.SetValue(chromedp.CSS(`form.filters input[name="column"]`), "display_name"),
		chromedp.Submit(chromedp.CSS("form.filters")), chromedp.WaitReady(chromedp.CSS(`nav.presets`)))
	if n := count("table.changes > tbody > tr"); n != 1 {
		t.Errorf("the display_name filter shows %d changes, want 1", n)
	}
	contains("display_name", text("table.changes"), "update", "admin:ops-7", "user.rename")
	clickTo(`nav.presets a[href*="from=-24h"]`, `nav.presets a[aria-current]`)
	if l := location(); !strings.Contains(l, "column=display_name") || !strings.Contains(l, "from=-24h") {
		t.Errorf("the 24 h preset went to %s", l)
	}
	if n := count("table.changes > tbody > tr"); n != 1 {
		t.Errorf("the 24 h preset shows %d changes, want 1", n)
	}

	// Search for a value: the rename's new name, found in its change.
	step("search", chromedp.Navigate(base+"/search?q=Lovelace"), chromedp.WaitReady(chromedp.CSS("form.filters")))
	contains("search", text("main"), "Changes whose key or a value contains Lovelace", "public.users", "update", "admin:ops-7")
	shot.take(ctx, "search")

	step("home again", chromedp.Navigate(base+"/"), chromedp.WaitReady(chromedp.CSS("section.cards")))

	// Home → a table.
	clickTo(`table.tables a[href="/changes?table=public.users"]`, "form.filters")
	if l := location(); !strings.HasSuffix(l, "/changes?table=public.users") {
		t.Fatalf("the table link went to %s", l)
	}
	if n := count("table.changes > tbody > tr"); n != 4 {
		t.Errorf("the timeline of users shows %d changes, want 4", n)
	}
	contains("timeline", text("table.changes"), "delete", "update", "insert", "admin:ops-7", "user:1")
	shot.take(ctx, "timeline")

	// A table → a row's history (Ada: her insert, then the rename).
	clickTo(`table.changes tr:last-child td.key a`, "form.asof")
	contains("row history", text("main"), `{"id":1}`, "Ada", "Ada Lovelace", "[REDACTED]", "admin:ops-7", "request req-support-42")
	// The rename changed display_name, email (masked) and the excluded
	// password_hash, shown as a fact with no value.
	if n := count("table.diff tr.f-changed"); n != 3 {
		t.Errorf("the rename shows %d changed fields, want 3", n)
	}
	contains("row history", text("main"), "password_hash", "the value is excluded and recorded nowhere")
	shot.take(ctx, "row-history")

	// As of an hour ago, before the history starts.
	step("as of", chromedp.SetValue(chromedp.CSS(`input[name="at"]`), time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")),
		chromedp.Submit(chromedp.CSS("form.asof")), chromedp.WaitReady(chromedp.CSS("section.asof-result")))
	contains("as of", text("section.asof-result"), "history starts later")

	// The row's history → the transaction of the rename.
	clickTo(`article.change header a[href^="/tx/"]`, "section.action")
	contains("transaction", text("main"), "Transaction #", "user.rename", "support", "name change requested by the user", "ticket-4711",
		"admin:ops-7", "req-support-42", "public.posts", "public.users")
	shot.take(ctx, "transaction")

	// The transaction → its actor.
	clickTo(`dl.facts a[href^="/actor"]`, "h1 .actor")
	contains("actor", text("main"), "admin:ops-7", "delete", "update")
	shot.take(ctx, "actor")

	// Coverage, from the navigation.
	clickTo(`header.top nav a[href="/coverage"]`, "table.coverage")
	contains("coverage", text("main"), "OK: every expected table is captured.", "public.legacy_events", "covered")
	shot.take(ctx, "coverage")

	// A bad filter: a 400 page that says what is wrong.
	step("bad filter", chromedp.Navigate(base+"/changes?from=yesterday"), chromedp.WaitReady(chromedp.CSS("section.error")))
	contains("bad filter", text("main"), "400 Bad Request", `from: "yesterday" is not a time`)

	// Dark mode.
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	step("dark timeline", chromedp.Navigate(base+"/changes"), chromedp.WaitReady(chromedp.CSS("form.filters")))
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if err != nil {
		t.Fatal(err)
	}
	if bg != "rgb(21, 23, 27)" {
		t.Errorf("dark mode background is %s", bg)
	}
	shot.take(ctx, "timeline-dark")
}
