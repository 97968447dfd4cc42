package threadline

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseFilterFullForm(t *testing.T) {
	f, err := ParseFilter(" table = billing.invoices , actor=service_account:billing:eu, from=2026-01-01T00:00:00Z," +
		"to=2026-02-01T12:30:00.5+01:00,correlation_id= req-7 ,limit=50,after=2026-01-15T10:00:00.123456Z_42")
	if err != nil {
		t.Fatal(err)
	}
	want := Filter{
		Table:         "billing.invoices",
		Actor:         &ActorRef{Kind: KindServiceAccount, ID: "billing:eu"},
		From:          time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		To:            time.Date(2026, 2, 1, 11, 30, 0, 500000000, time.UTC),
		CorrelationID: "req-7",
		Limit:         50,
		After:         &Cursor{CapturedAt: time.Date(2026, 1, 15, 10, 0, 0, 123456000, time.UTC), ID: 42},
	}
	if f.Table != want.Table || *f.Actor != *want.Actor || !f.From.Equal(want.From) || !f.To.Equal(want.To) ||
		f.CorrelationID != want.CorrelationID || f.Limit != want.Limit ||
		!f.After.CapturedAt.Equal(want.After.CapturedAt) || f.After.ID != want.After.ID {
		t.Fatalf("ParseFilter = %+v\nwant %+v", f, want)
	}
	// String writes the text form back; parsing it gives the same filter.
	again, err := ParseFilter(f.String())
	if err != nil {
		t.Fatalf("re-parse %q: %v", f.String(), err)
	}
	if again.String() != f.String() {
		t.Fatalf("round trip: %q != %q", again.String(), f.String())
	}
}

func TestParseFilterEmptyAndAnonymous(t *testing.T) {
	f, err := ParseFilter("   ")
	if err != nil || f.Table != "" || f.Actor != nil || f.Limit != 0 {
		t.Fatalf("empty: %+v %v", f, err)
	}
	f, err = ParseFilter("actor=anonymous")
	if err != nil || *f.Actor != Anonymous() {
		t.Fatalf("anonymous: %+v %v", f, err)
	}
}

func TestParseFilterUnknownKeyListsAllowedKeys(t *testing.T) {
	_, err := ParseFilter("table=users,user=42")
	if err == nil {
		t.Fatal("no error")
	}
	want := "threadline: invalid filter: user: unknown key (allowed keys: table, actor, op, from, to, correlation_id, request_id, limit, after)"
	if err.Error() != want {
		t.Fatalf("error = %q\nwant    %q", err, want)
	}
	var fe *FilterError
	if !errors.As(err, &fe) || fe.Key != "user" || !errors.Is(err, ErrInvalidFilter) {
		t.Fatalf("error type: %#v", err)
	}
}

func TestParseFilterErrors(t *testing.T) {
	long := strings.Repeat("x", 257)
	cases := []struct {
		text, key, contains string
	}{
		{"table", "table", "want key=value (allowed keys: table, actor, op, from, to, correlation_id, request_id, limit, after)"},
		{"table=users,table=posts", "table", "given more than once"},
		{"limit=", "limit", "empty value"},
		{"correlation_id=  ", "correlation_id", "empty value"},
		{"correlation_id=" + long, "correlation_id", "257 bytes, more than 256"},
		{"limit=ten", "limit", `"ten" is not an integer`},
		{"from=2026-01-01T25:00", "from", `"2026-01-01T25:00" is not a time: write RFC 3339`},
		{"to=yesterday", "to", `"yesterday" is not a time: write RFC 3339`},
		{"to=-1y", "to", `"-1y": unknown unit "y"; write RFC 3339`},
		{"from=2026-02-01T00:00:00Z,to=2026-01-01T00:00:00Z", "from", "is after to"},
		{"actor=user", "actor", `"user": use kind:id, e.g. user:42 (kinds: user, admin, service_account, job, system), or anonymous`},
		{"actor=user:", "actor", "needs a non-blank id"},
		{"actor=robot:7", "actor", `unknown kind "robot"`},
		{"actor=anonymous:7", "actor", "anonymous actor has no id"},
		{"after=42", "after", "is not a cursor"},
		{"after=2026-01-01T00:00:00Z_x", "after", "bad id"},
		{"after=2026-01-01T00:00:00Z_0", "after", "positive id"},
		{"table=a.b.c", "table", "want table or schema.table"},
		{"table=.users", "table", "empty part"},
		{"table=users.", "table", "empty part"},
		{`table="users`, "table", "unterminated quote"},
		{"table=" + strings.Repeat("t", 64), "table", "64 bytes, more than PostgreSQL's 63"},
	}
	for _, c := range cases {
		_, err := ParseFilter(c.text)
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Errorf("%q: error %v is not a *FilterError", c.text, err)
			continue
		}
		if fe.Key != c.key || !strings.Contains(err.Error(), c.contains) || !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("%q: error = %q (key %q), want key %q containing %q", c.text, err, fe.Key, c.key, c.contains)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bad := User("")
	cases := []struct {
		name string
		f    Filter
		key  string
	}{
		{"blank correlation id", Filter{CorrelationID: " \t "}, "correlation_id"},
		{"long correlation id", Filter{CorrelationID: strings.Repeat("é", 129)}, "correlation_id"},
		{"control character in correlation id", Filter{CorrelationID: "a\nb"}, "correlation_id"},
		{"from after to", Filter{From: t0.Add(time.Second), To: t0}, "from"},
		{"invalid actor", Filter{Actor: &bad}, "actor"},
		{"empty table part", Filter{Table: "public."}, "table"},
		{"NUL in table", Filter{Table: "us\x00ers"}, "table"},
		{"quote inside a part", Filter{Table: `us"ers"`}, "table"},
		{"text after a quoted part", Filter{Table: `"users"x`}, "table"},
		{"zero cursor", Filter{After: &Cursor{}}, "after"},
	}
	for _, c := range cases {
		err := c.f.Validate()
		var fe *FilterError
		if !errors.As(err, &fe) || fe.Key != c.key {
			t.Errorf("%s: Validate() = %v, want a *FilterError for %q", c.name, err, c.key)
		}
	}
	good := []Filter{
		{},
		{From: t0, To: t0}, // inclusive on both sides: one instant is fine
		{From: t0},
		{Table: "users", CorrelationID: strings.Repeat("x", 256)},
		{Table: `"my.schema"."odd""name"`},
		{Table: `"Users"`},
		{Limit: -5},
	}
	for _, f := range good {
		if err := f.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", f, err)
		}
	}
}

func TestLimitDefaults(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, DefaultLimit}, {-5, DefaultLimit}, {1, 1}, {MaxLimit, MaxLimit}, {MaxLimit + 1, MaxLimit}} {
		n, err := Filter{Limit: c.in}.normalize()
		if err != nil || n.limit != c.want {
			t.Errorf("Limit %d: normalized %d (%v), want %d", c.in, n.limit, err, c.want)
		}
	}
	if clampLimit(0, DefaultStreamPageSize) != DefaultStreamPageSize {
		t.Error("stream page size default")
	}
	o, err := applyHistoryOptions([]HistoryOption{HistoryLimit(-1)})
	if err != nil || o.limit != DefaultLimit {
		t.Errorf("HistoryLimit(-1): %d %v", o.limit, err)
	}
}

func TestCursorText(t *testing.T) {
	c := Cursor{CapturedAt: time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.FixedZone("x", 3600)), ID: 9}
	if got := c.String(); got != "2026-03-04T04:06:07.89Z_9" {
		t.Fatalf("String() = %q", got)
	}
	back, err := ParseCursor(c.String())
	if err != nil || !back.CapturedAt.Equal(c.CapturedAt) || back.ID != 9 {
		t.Fatalf("ParseCursor: %+v %v", back, err)
	}
	b, _ := c.MarshalText()
	var u Cursor
	if err := u.UnmarshalText(b); err != nil || u.ID != 9 {
		t.Fatalf("UnmarshalText: %+v %v", u, err)
	}
}

func TestKeyJSON(t *testing.T) {
	good := map[string]any{
		`{"id": 42}`:      `{"id": 42}`,
		`{"id":42}`:       []byte(`{"id":42}`),
		`{"a":"x","b":2}`: map[string]any{"b": 2, "a": "x"},
		`{"post_id":"p","n":1}`: struct {
			PostID string `json:"post_id"`
			N      int    `json:"n"`
		}{"p", 1},
	}
	for want, in := range good {
		got, err := keyJSON(in)
		if err != nil || got != want {
			t.Errorf("keyJSON(%v) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []any{nil, "42", `[1]`, `{"id":`, "{ }", map[string]any{}, 42} {
		if _, err := keyJSON(in); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("keyJSON(%#v) = %v, want ErrInvalidKey", in, err)
		}
	}
}

func TestParseFilterTimeFormsAndActorHint(t *testing.T) {
	before := time.Now()
	f, err := ParseFilter("from=-1h,to=2100-12-06T23:00")
	if err != nil {
		t.Fatal(err)
	}
	if d := before.Sub(f.From); d < time.Hour-time.Second || d > time.Hour+time.Minute {
		t.Errorf("from=-1h: %s, %s before now", f.From, d)
	}
	if want := time.Date(2100, 12, 6, 23, 0, 0, 0, time.UTC); !f.To.Equal(want) {
		t.Errorf("to = %s, want %s", f.To, want)
	}
	_, err = ParseFilter("actor=bob")
	if want := `threadline: invalid filter: actor: "bob": use kind:id, e.g. user:bob (kinds: user, admin, service_account, job, system), or anonymous`; err == nil || err.Error() != want {
		t.Errorf("actor=bob:\n got %v\nwant %s", err, want)
	}
}
