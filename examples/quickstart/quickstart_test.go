package quickstart_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/examples/quickstart/audit"
	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// setup creates a database with the example's schema (the up section of
// its migration) and the capture the generator writes for the example's
// threadline.yaml, through the real generator.
func setup(t *testing.T) *pgtest.DB {
	t.Helper()
	mig, err := os.ReadFile("db/migrations/20260101000000_app_schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	up, _, ok := strings.Cut(string(mig), "-- +goose Down")
	if !ok || !strings.Contains(up, "-- +goose Up") {
		t.Fatal("app schema migration has no goose sections")
	}
	cfg, err := os.ReadFile("threadline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The tables section: the lines after "tables:" up to the next
	// top-level key.
	_, rest, ok := strings.Cut(string(cfg), "\ntables:\n")
	if !ok {
		t.Fatal("threadline.yaml has no tables section")
	}
	var tables []string
	for _, line := range strings.Split(rest, "\n") {
		if line != "" && line[0] != ' ' && line[0] != '#' {
			break
		}
		tables = append(tables, line)
	}
	return capturetest.Setup(t, up, strings.Join(tables, "\n")+"\n")
}

var ctx = context.Background()

// write runs statements in one attributed transaction.
func write(t *testing.T, db *pgtest.DB, actor threadline.ActorRef, stmts ...string) {
	t.Helper()
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: actor}, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func queryInt(t *testing.T, db *pgtest.DB, sql string) int64 {
	t.Helper()
	var n int64
	if err := db.Pool.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func queryUUID(t *testing.T, db *pgtest.DB, sql string) threadline.UUID {
	t.Helper()
	var s string
	if err := db.Pool.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return threadline.MustParseUUID(s)
}

func ops[T any](cs []T, op func(T) threadline.Op) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, string(op(c)))
	}
	return strings.Join(parts, ",")
}

func userOps(cs []audit.UserChange) string {
	return ops(cs, func(c audit.UserChange) threadline.Op { return c.Op })
}

// TestUsersHistoryMaskedAndExcluded: an integer key, a masked column that
// never carries its value, an excluded column absent from the type and the
// audit trail, and except_columns.
func TestUsersHistoryMaskedAndExcluded(t *testing.T) {
	db := setup(t)
	ada := threadline.User("ada")
	write(t, db, ada, `INSERT INTO users (email, password_hash, display_name, settings)
		VALUES ('ada@example.com', 'secret-hash', 'Ada', '{"theme": "dark"}')`)
	id := queryInt(t, db, "SELECT id FROM users WHERE display_name = 'Ada'")
	write(t, db, ada, "UPDATE users SET display_name = 'Ada L.', email = 'ada@lovelace.org' WHERE id = "+fmt.Sprint(id))
	write(t, db, ada, "UPDATE users SET updated_at = now() + interval '1 day' WHERE id = "+fmt.Sprint(id)) // except column only
	write(t, db, ada, "UPDATE users SET password_hash = 'other-hash' WHERE id = "+fmt.Sprint(id))          // excluded column only

	h, err := audit.UsersHistory(ctx, db.Pool, audit.NewUserKey(id), threadline.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := userOps(h); got != "update,update,insert" {
		t.Fatalf("history ops %s", got)
	}
	secret, upd, ins := h[0], h[1], h[2]
	// The password change is a fact: its column is named, no value stored.
	if strings.Join(secret.ChangedFields, ",") != "password_hash" || secret.ChangedFrom != nil || secret.After == nil ||
		secret.After.DisplayName != "Ada L." {
		t.Fatalf("excluded-only update: fields %v from %+v after %+v", secret.ChangedFields, secret.ChangedFrom, secret.After)
	}
	if d, err := threadline.DiffChange(secret.Change); err != nil || len(d.Fields) != 1 || !d.Fields[0].Hidden || d.Fields[0].After != nil || d.PriorOmitted {
		t.Errorf("excluded-only diff: %+v %v", d, err)
	}
	if ins.Key == nil || ins.Key.ID != id || ins.After == nil || ins.Before != nil || ins.ChangedFrom != nil {
		t.Fatalf("insert: %+v", ins)
	}
	if ins.After.ID != id || ins.After.DisplayName != "Ada" || ins.After.Email.IsNull() || string(ins.After.Settings) != `{"theme": "dark"}` ||
		ins.After.CreatedAt.IsZero() || ins.Actor == nil || *ins.Actor != ada {
		t.Fatalf("insert row: %+v", ins.After)
	}
	if strings.Join(upd.ChangedFields, ",") != "display_name,email" || upd.ChangedFrom == nil ||
		upd.ChangedFrom.DisplayName == nil || *upd.ChangedFrom.DisplayName != "Ada" ||
		upd.ChangedFrom.Email == nil || upd.ChangedFrom.Email.IsNull() || upd.ChangedFrom.ID != nil {
		t.Fatalf("update: fields %v from %+v", upd.ChangedFields, upd.ChangedFrom)
	}
	if upd.After.DisplayName != "Ada L." {
		t.Fatalf("update row: %+v", upd.After)
	}
	// Neither the email nor the password hash is anywhere in the trail.
	var trail string
	if err := db.Pool.QueryRow(ctx, "SELECT string_agg(to_jsonb(c)::text, ' ') FROM threadline.audit_changes AS c").Scan(&trail); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"ada@example.com", "ada@lovelace.org", "secret-hash", "other-hash"} {
		if strings.Contains(trail, secret) {
			t.Errorf("the audit trail holds %q", secret)
		}
	}
	// The typed row cannot hold them either.
	rt := reflect.TypeOf(audit.User{})
	if _, ok := rt.FieldByName("PasswordHash"); ok {
		t.Error("audit.User has a PasswordHash field")
	}
	if f, _ := rt.FieldByName("Email"); f.Type != reflect.TypeOf(threadline.Masked{}) {
		t.Errorf("audit.User.Email is %v", f.Type)
	}
	b, _ := json.Marshal(upd.After)
	if !strings.Contains(string(b), `"email":"[REDACTED]"`) {
		t.Errorf("re-encoded row: %s", b)
	}
	// The typed change marshals with typed images under the raw names.
	b, _ = json.Marshal(upd)
	if !strings.Contains(string(b), `"changed_from":{"id":null,"email":"[REDACTED]","display_name":"Ada"`) || !strings.Contains(string(b), `"pk":{"id":`) {
		t.Errorf("typed change JSON: %s", b)
	}
	// A diff of the typed change's raw part.
	d, err := threadline.DiffChange(upd.Change)
	if err != nil || len(d.Fields) != 2 || string(d.Fields[0].Before) != `"Ada"` || string(d.Fields[1].After) != `"[REDACTED]"` {
		t.Errorf("diff: %+v %v", d, err)
	}
}

func TestPostsUUIDKeyEnumAndArrays(t *testing.T) {
	db := setup(t)
	write(t, db, threadline.User("ada"), `INSERT INTO users (email, password_hash, display_name) VALUES ('a@x', 'h', 'Ada')`)
	uid := queryInt(t, db, "SELECT id FROM users")
	write(t, db, threadline.User("ada"), fmt.Sprintf(`INSERT INTO posts (author_id, title, body, tags) VALUES (%d, 'Hello', 'one two three', '{go,sql}')`, uid))
	pid := queryUUID(t, db, "SELECT id::text FROM posts")
	write(t, db, threadline.User("ada"), "UPDATE posts SET status = 'published', published_at = '2026-03-04 05:06:07.5+00' WHERE id = '"+pid.String()+"'")
	write(t, db, threadline.User("ada"), "UPDATE posts SET updated_at = now() + interval '1 hour' WHERE id = '"+pid.String()+"'") // except only

	h, err := audit.PostsHistory(ctx, db.Pool, audit.NewPostKey(pid), threadline.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Op != threadline.OpUpdate || h[1].Op != threadline.OpInsert {
		t.Fatalf("history: %d changes", len(h))
	}
	ins, upd := h[1].After, h[0]
	if ins.ID != pid || ins.AuthorID != uid || ins.Title != "Hello" || ins.Body == nil || *ins.Body != "one two three" ||
		ins.Status != audit.PostStatusDraft || !reflect.DeepEqual(ins.Tags, []string{"go", "sql"}) ||
		ins.WordCount == nil || *ins.WordCount != 3 || ins.PublishedAt != nil {
		t.Fatalf("inserted post: %+v", ins)
	}
	if upd.After.Status != audit.PostStatusPublished || upd.After.PublishedAt == nil ||
		!upd.After.PublishedAt.Equal(time.Date(2026, 3, 4, 5, 6, 7, 500000000, time.UTC)) ||
		strings.Join(upd.ChangedFields, ",") != "published_at,status" ||
		upd.ChangedFrom == nil || upd.ChangedFrom.Status == nil || *upd.ChangedFrom.Status != audit.PostStatusDraft ||
		upd.ChangedFrom.PublishedAt != nil {
		t.Fatalf("update: %+v from %+v", upd.After, upd.ChangedFrom)
	}
	// Another post's key has no history.
	if h, err := audit.PostsHistory(ctx, db.Pool, audit.NewPostKey(threadline.UUID{1}), threadline.HistoryOptions{}); err != nil || len(h) != 0 {
		t.Fatalf("unknown key: %v %v", h, err)
	}
}

func TestCountriesTextKey(t *testing.T) {
	db := setup(t)
	write(t, db, threadline.System("seed"), "INSERT INTO countries VALUES ('US', 'United States'), ('FR', 'France'), ('D', 'padded')")
	write(t, db, threadline.Admin("7"), "UPDATE countries SET name = 'USA' WHERE code = 'US'")
	h, err := audit.CountriesHistory(ctx, db.Pool, audit.NewCountryKey("US"), threadline.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].After.Name != "USA" || h[1].After.Name != "United States" || h[0].ChangedFrom != nil {
		t.Fatalf("history of US: %+v", h)
	}
	if *h[0].Actor != threadline.Admin("7") || *h[1].Actor != threadline.System("seed") {
		t.Fatalf("actors %v %v", h[0].Actor, h[1].Actor)
	}
	// char(2) keeps its padding in table_pk: the key is the stored value.
	if h, _ := audit.CountriesHistory(ctx, db.Pool, audit.NewCountryKey("D "), threadline.HistoryOptions{}); len(h) != 1 || h[0].After.Code != "D " {
		t.Fatalf("padded key: %+v", h)
	}
}

func TestPostCollaboratorsCompositeKey(t *testing.T) {
	db := setup(t)
	write(t, db, threadline.User("ada"), `INSERT INTO users (email, password_hash, display_name) VALUES ('a@x', 'h', 'Ada'), ('b@x', 'h', 'Bob')`)
	ada := queryInt(t, db, "SELECT id FROM users WHERE display_name = 'Ada'")
	bob := queryInt(t, db, "SELECT id FROM users WHERE display_name = 'Bob'")
	write(t, db, threadline.User("ada"), fmt.Sprintf(`INSERT INTO posts (author_id, title) VALUES (%d, 'P')`, ada))
	pid := queryUUID(t, db, "SELECT id::text FROM posts")
	write(t, db, threadline.User("ada"), fmt.Sprintf(`INSERT INTO post_collaborators (post_id, user_id) VALUES ('%s', %d), ('%s', %d)`, pid, ada, pid, bob))
	write(t, db, threadline.User("ada"), fmt.Sprintf(`UPDATE post_collaborators SET role = 'owner' WHERE user_id = %d`, bob))
	write(t, db, threadline.User("ada"), fmt.Sprintf(`DELETE FROM post_collaborators WHERE user_id = %d`, bob))

	h, err := audit.PostCollaboratorsHistory(ctx, db.Pool, audit.NewPostCollaboratorKey(pid, bob), threadline.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(h, func(c audit.PostCollaboratorChange) threadline.Op { return c.Op }); got != "delete,update,insert" {
		t.Fatalf("ops %s", got)
	}
	if h[0].Before == nil || h[0].Before.Role != "owner" || h[0].After != nil || *h[0].Key != audit.NewPostCollaboratorKey(pid, bob) {
		t.Fatalf("delete: %+v", h[0])
	}
	if h, _ := audit.PostCollaboratorsHistory(ctx, db.Pool, audit.NewPostCollaboratorKey(pid, ada), threadline.HistoryOptions{}); len(h) != 1 {
		t.Fatalf("other collaborator: %d changes", len(h))
	}
	// As of the delete: gone; just before it: the updated row.
	key := audit.NewPostCollaboratorKey(pid, bob)
	if _, err := audit.PostCollaboratorsAsOf(ctx, db.Pool, key, h[0].CapturedAt); !errors.Is(err, threadline.ErrDeleted) {
		t.Fatalf("as of the delete: %v", err)
	}
	row, err := audit.PostCollaboratorsAsOf(ctx, db.Pool, key, h[0].CapturedAt.Add(-time.Microsecond))
	if err != nil || row.Role != "owner" || row.UserID != bob || row.PostID != pid || row.AddedAt.IsZero() {
		t.Fatalf("as of before the delete: %+v %v", row, err)
	}
}

func TestUsersAsOf(t *testing.T) {
	db := setup(t)
	var start time.Time
	if err := db.Pool.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&start); err != nil {
		t.Fatal(err)
	}
	actor := threadline.User("ada")
	write(t, db, actor, `INSERT INTO users (id, email, password_hash, display_name) OVERRIDING SYSTEM VALUE VALUES (5, 'a@x', 'h', 'v1')`)
	write(t, db, actor, `UPDATE users SET display_name = 'v2' WHERE id = 5`)
	write(t, db, actor, `UPDATE users SET display_name = 'v3' WHERE id = 5`)
	write(t, db, actor, `DELETE FROM users WHERE id = 5`)
	write(t, db, actor, `INSERT INTO users (id, email, password_hash, display_name) OVERRIDING SYSTEM VALUE VALUES (5, 'b@x', 'h', 'reborn')`)

	h, err := audit.UsersHistory(ctx, db.Pool, audit.NewUserKey(5), threadline.HistoryOptions{})
	if err != nil || userOps(h) != "insert,delete,update,update,insert" {
		t.Fatalf("history %s %v", userOps(h), err)
	}
	at := func(i int) time.Time { return h[i].CapturedAt }
	key := audit.NewUserKey(5)
	name := func(at time.Time) string {
		t.Helper()
		u, err := audit.UsersAsOf(ctx, db.Pool, key, at)
		switch {
		case errors.Is(err, threadline.ErrBeforeHorizon):
			return "before horizon"
		case errors.Is(err, threadline.ErrDeleted):
			return "deleted"
		case err != nil:
			t.Fatal(err)
		}
		if u.ID != 5 || u.Email.IsNull() {
			t.Fatalf("row %+v", u)
		}
		return u.DisplayName
	}
	cases := []struct {
		at   time.Time
		want string
	}{
		{start, "before horizon"},
		{at(4).Add(-time.Microsecond), "before horizon"},
		{at(4), "v1"},
		{at(3).Add(-time.Microsecond), "v1"},
		{at(3), "v2"},
		{at(2).Add(-time.Microsecond), "v2"},
		{at(2), "v3"},
		{at(1), "deleted"},
		{at(0).Add(-time.Microsecond), "deleted"},
		{at(0), "reborn"},
		{time.Now().Add(time.Hour), "reborn"},
	}
	for i, c := range cases {
		if got := name(c.at); got != c.want {
			t.Errorf("case %d: as of %s: %s, want %s", i, c.at.Format(time.RFC3339Nano), got, c.want)
		}
	}
	// Another key of the same table was never captured.
	if _, err := audit.UsersAsOf(ctx, db.Pool, audit.NewUserKey(6), time.Now()); !errors.Is(err, threadline.ErrBeforeHorizon) {
		t.Errorf("unknown key: %v", err)
	}
}

// TestUsersTimelineFiltersAndPaging pages through thousands of changes
// with the typed timeline and stream and checks for duplicates and gaps.
func TestUsersTimelineFiltersAndPaging(t *testing.T) {
	db := setup(t)
	write(t, db, threadline.Job("import"), `INSERT INTO users (email, password_hash, display_name)
		SELECT 'u' || g || '@x', 'h', 'user ' || g FROM generate_series(1, 3000) AS g`)
	write(t, db, threadline.Admin("root"), `UPDATE users SET display_name = display_name || '!' WHERE id % 10 = 0`)
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.Admin("root"), CorrelationID: "promo-1"}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET settings = '{"vip": true}' WHERE id <= 3`); err != nil {
			return err
		}
		_, err := threadline.RecordAction(ctx, tx, "users.promote", threadline.ActionOptions{Reason: "campaign"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	write(t, db, threadline.User("x"), `INSERT INTO countries VALUES ('US', 'United States')`)

	var want []int64
	rows, err := db.Pool.Query(ctx, `SELECT id FROM threadline.audit_changes WHERE table_schema = 'public' AND table_name = 'users'
		ORDER BY captured_at DESC, id DESC`)
	if err != nil {
		t.Fatal(err)
	}
	want, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(want) != 3303 {
		t.Fatalf("%d audit rows for users, %v", len(want), err)
	}

	// Pages of 250 through the typed timeline. The table filter is forced
	// to users even when the caller sets another table.
	var got []int64
	seen := map[int64]bool{}
	f := threadline.Filter{Table: "countries", Limit: 250}
	pages := 0
	for {
		cs, next, err := audit.UsersTimeline(ctx, db.Pool, f)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range cs {
			if c.Table != "users" || c.After == nil || seen[c.ID] {
				t.Fatalf("unexpected change %+v", c.Change)
			}
			seen[c.ID] = true
			got = append(got, c.ID)
		}
		if next == nil {
			break
		}
		f.After = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 14 {
		t.Fatalf("timeline: %d changes in %d pages, want %d in 14, same order", len(got), pages, len(want))
	}

	got = got[:0]
	for c, err := range audit.UsersChanges(ctx, db.Pool, threadline.Filter{Limit: 400}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stream: %d changes, want %d in the same order", len(got), len(want))
	}

	// Filters.
	count := func(f threadline.Filter) int {
		t.Helper()
		n := 0
		for _, err := range audit.UsersChanges(ctx, db.Pool, f) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	job, admin := threadline.Job("import"), threadline.Admin("root")
	if n := count(threadline.Filter{Actor: &job}); n != 3000 {
		t.Errorf("actor job:import: %d", n)
	}
	if n := count(threadline.Filter{Actor: &admin}); n != 303 {
		t.Errorf("actor admin:root: %d", n)
	}
	if n := count(threadline.Filter{CorrelationID: "promo-1"}); n != 3 {
		t.Errorf("correlation promo-1: %d", n)
	}
	cs, next, err := audit.UsersTimeline(ctx, db.Pool, threadline.Filter{CorrelationID: "promo-1"})
	if err != nil || len(cs) != 3 || next != nil || cs[0].ActionID == nil || string(cs[0].After.Settings) != `{"vip": true}` {
		t.Fatalf("promo timeline: %v %v %v", cs, next, err)
	}
	from := cs[2].CapturedAt
	if n := count(threadline.Filter{From: from}); n != 3 {
		t.Errorf("from the promotion: %d", n)
	}
	if n := count(threadline.Filter{To: from.Add(-time.Microsecond)}); n != 3300 {
		t.Errorf("to before the promotion: %d", n)
	}
	// The default page size.
	cs, next, err = audit.UsersTimeline(ctx, db.Pool, threadline.Filter{Limit: -1})
	if err != nil || len(cs) != threadline.DefaultLimit || next == nil {
		t.Fatalf("default limit: %d %v %v", len(cs), next, err)
	}
}

func TestUsersChangesStopsEarlyWithOneConnection(t *testing.T) {
	db := setup(t)
	write(t, db, threadline.Job("import"), `INSERT INTO users (email, password_hash, display_name)
		SELECT 'u' || g || '@x', 'h', 'user ' || g FROM generate_series(1, 500) AS g`)
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	n := 0
	for c, err := range audit.UsersChanges(ctx, pool, threadline.Filter{Limit: 100}) {
		if err != nil || c.After == nil {
			t.Fatalf("%+v %v", c, err)
		}
		if n++; n == 150 {
			break
		}
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var users int
	if err := pool.QueryRow(qctx, "SELECT count(*) FROM users").Scan(&users); err != nil || users != 500 {
		t.Fatalf("query after breaking out: %d %v", users, err)
	}
}

func TestBillingInvoicesSchemaQualified(t *testing.T) {
	db := setup(t)
	write(t, db, threadline.User("ada"), `INSERT INTO users (email, password_hash, display_name) VALUES ('a@x', 'h', 'Ada')`)
	uid := queryInt(t, db, "SELECT id FROM users")
	write(t, db, threadline.ServiceAccount("billing"), fmt.Sprintf(`INSERT INTO billing.invoices VALUES
		('INV-1', %d, 1234567890.10, 'EUR', '2026-02-28', false, '4242'),
		('INV-2', %d, 5, 'USD', '2026-03-01', true, NULL)`, uid, uid))
	write(t, db, threadline.ServiceAccount("billing"), `UPDATE billing.invoices SET paid = true, card_last4 = '1111' WHERE number = 'INV-1'`)

	h, err := audit.BillingInvoicesHistory(ctx, db.Pool, audit.NewBillingInvoiceKey("INV-1"), threadline.HistoryOptions{})
	if err != nil || len(h) != 2 {
		t.Fatalf("history: %v %v", h, err)
	}
	inv := h[1].After
	if inv.Number != "INV-1" || inv.Amount != "1234567890.10" || inv.Currency != "EUR" ||
		inv.IssuedOn != (threadline.Date{Year: 2026, Month: 2, Day: 28}) || inv.Paid || inv.CardLast4.IsNull() || h[1].Schema != "billing" {
		t.Fatalf("invoice: %+v", inv)
	}
	if strings.Join(h[0].ChangedFields, ",") != "card_last4,paid" {
		t.Fatalf("changed fields %v", h[0].ChangedFields)
	}
	if h[0].ChangedFrom != nil {
		t.Fatal("store_changed_from is off for billing.invoices")
	}
	d, err := threadline.DiffChange(h[0].Change)
	if err != nil || !d.PriorOmitted || len(d.Fields) != 2 || string(d.Fields[0].After) != `"****"` {
		t.Fatalf("diff: %+v %v", d, err)
	}
	inv2, err := audit.BillingInvoicesAsOf(ctx, db.Pool, audit.NewBillingInvoiceKey("INV-2"), time.Now().Add(time.Minute))
	if err != nil || !inv2.CardLast4.IsNull() || inv2.Amount != "5.00" {
		t.Fatalf("INV-2: %+v %v", inv2, err)
	}
	// The untyped runtime sees the same through the table constant.
	page, err := threadline.Audit{Schema: audit.AuditSchema}.Timeline(ctx, db.Pool, threadline.Filter{Table: audit.BillingInvoicesTable})
	if err != nil || len(page.Changes) != 3 {
		t.Fatalf("untyped timeline: %v %v", page, err)
	}
}

// TestPageViewsPartitionedCompositeTimeKey: a partitioned table with a
// (bigint, timestamptz) key, written in a UTC session.
func TestPageViewsPartitionedCompositeTimeKey(t *testing.T) {
	db := setup(t)
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.Anonymous()}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SET LOCAL TimeZone = 'UTC';
			INSERT INTO page_views (viewed_at, post_id, viewer_id) OVERRIDING SYSTEM VALUE
			VALUES ('2026-05-01 10:00:00.25+02', gen_random_uuid(), NULL), ('2027-01-01 00:00:00+00', gen_random_uuid(), 7)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	rows, _ := db.Pool.Query(ctx, "SELECT id, viewed_at FROM page_views")
	var all []audit.PageViewKey
	for rows.Next() {
		var k audit.PageViewKey
		if err := rows.Scan(&k.ID, &k.ViewedAt); err != nil {
			t.Fatal(err)
		}
		all = append(all, k)
		ids[k.ViewedAt.UTC().Format(time.RFC3339Nano)] = k.ID
	}
	if len(all) != 2 {
		t.Fatalf("%d page views", len(all))
	}
	k := audit.NewPageViewKey(ids["2026-05-01T08:00:00.25Z"], time.Date(2026, 5, 1, 8, 0, 0, 250000000, time.UTC))
	h, err := audit.PageViewsHistory(ctx, db.Pool, k, threadline.HistoryOptions{})
	if err != nil || len(h) != 1 || h[0].After.ViewerID != nil || !h[0].After.ViewedAt.Equal(k.ViewedAt) || *h[0].Actor != threadline.Anonymous() {
		t.Fatalf("history of %+v: %+v %v", k, h, err)
	}
	// The key's time zone does not matter, only the instant.
	k.ViewedAt = k.ViewedAt.In(time.FixedZone("x", -5*3600))
	if h, err := audit.PageViewsHistory(ctx, db.Pool, k, threadline.HistoryOptions{}); err != nil || len(h) != 1 {
		t.Fatalf("history with a zoned key: %v %v", h, err)
	}
	cs, _, err := audit.PageViewsTimeline(ctx, db.Pool, threadline.Filter{})
	if err != nil || len(cs) != 2 {
		t.Fatalf("timeline: %v %v", cs, err)
	}
}

func TestLegacyEventsConfiguredKey(t *testing.T) {
	db := setup(t)
	u := threadline.MustParseUUID("6f1c2f7e-3c1d-4f4e-9a7b-2b8c1d0e9f11")
	write(t, db, threadline.System("cron"), `INSERT INTO legacy_events (event_uuid, kind, payload) VALUES ('`+u.String()+`', 'ping', '{"n": 1}')`)
	write(t, db, threadline.System("cron"), `UPDATE legacy_events SET payload = NULL WHERE event_uuid = '`+u.String()+`'`)
	h, err := audit.LegacyEventsHistory(ctx, db.Pool, audit.NewLegacyEventKey(u), threadline.HistoryOptions{})
	if err != nil || len(h) != 2 {
		t.Fatalf("history: %v %v", h, err)
	}
	if string(h[0].After.Payload) != "null" || string(h[1].After.Payload) != `{"n": 1}` || h[0].Key.EventUUID != u {
		t.Fatalf("payloads %s %s", h[0].After.Payload, h[1].After.Payload)
	}
}

func TestUsersExportOnlyUsers(t *testing.T) {
	db := setup(t)
	ada := threadline.User("ada")
	write(t, db, ada, `INSERT INTO users (email, password_hash, display_name) VALUES ('a@x.org', 'pw-hash-1', 'A'), ('b@x.org', 'pw-hash-2', 'B')`)
	write(t, db, ada, `UPDATE users SET display_name = display_name || '!'`)
	write(t, db, ada, `INSERT INTO countries VALUES ('FR', 'France')`)
	var buf bytes.Buffer
	res, err := audit.UsersExport(ctx, db.Pool, &buf, threadline.ExportOptions{Format: threadline.ExportNDJSON})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if res.Rows != 4 || len(lines) != 4 || res.Truncated {
		t.Fatalf("exported %d rows (%d lines, truncated %v):\n%s", res.Rows, len(lines), res.Truncated, buf.String())
	}
	for _, l := range lines {
		var c struct {
			TableName string `json:"table_name"`
		}
		if err := json.Unmarshal([]byte(l), &c); err != nil || c.TableName != "users" {
			t.Errorf("line %s: table %q, %v", l, c.TableName, err)
		}
		if strings.Contains(l, "pw-hash") || strings.Contains(l, "@x.org") {
			t.Errorf("excluded or masked value exported: %s", l)
		}
	}
}
