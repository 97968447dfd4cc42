package threadline

import (
	"errors"
	"strings"
	"testing"
	"time"
)

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
		if err != nil || n.Limit != c.want {
			t.Errorf("Limit %d: normalized %d (%v), want %d", c.in, n.Limit, err, c.want)
		}
	}
	if clampLimit(0, DefaultStreamPageSize) != DefaultStreamPageSize {
		t.Error("stream page size default")
	}
	o, err := HistoryOptions{Limit: -1}.normalize()
	if err != nil || o.Limit != DefaultLimit {
		t.Errorf("HistoryOptions{Limit: -1}: %d %v", o.Limit, err)
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
