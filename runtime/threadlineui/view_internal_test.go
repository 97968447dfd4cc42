package threadlineui

import (
	"encoding/json"
	"testing"
	"time"
)

func TestRelTime(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{2 * time.Second, "just now"},
		{-2 * time.Second, "just now"},
		{42 * time.Second, "42 s ago"},
		{5 * time.Minute, "5 min ago"},
		{30 * time.Hour, "30 h ago"},
		{3 * 24 * time.Hour, "3 days ago"},
		{90 * 24 * time.Hour, "3 months ago"},
		{3 * 365 * 24 * time.Hour, "3 years ago"},
		{-2 * time.Hour, "in 2 h"},
	} {
		if got := relTime(now, now.Add(-c.d)); got != c.want {
			t.Errorf("relTime(-%s) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for raw, want := range map[string]value{
		``:                 {Kind: "absent", Text: "not stored"},
		`null`:             {Kind: "null", Text: "NULL"},
		`"<b>x</b>"`:       {Kind: "string", Text: "<b>x</b>"},
		`"[REDACTED]"`:     {Kind: "string", Text: "[REDACTED]"},
		`12.50`:            {Kind: "number", Text: "12.50"},
		`true`:             {Kind: "bool", Text: "true"},
		`{"a": [1, 2]}`:    {Kind: "object", Text: `{"a":[1,2]}`},
		` [ "x" , null ] `: {Kind: "array", Text: `["x",null]`},
	} {
		if got := formatValue(json.RawMessage(raw)); got != want {
			t.Errorf("formatValue(%s) = %+v, want %+v", raw, got, want)
		}
	}
}

func TestParseTimeForms(t *testing.T) {
	want := time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC)
	now := want.Add(7 * 24 * time.Hour)
	for _, s := range []string{"2026-01-02T15:04:00Z", "2026-01-02T16:04:00+01:00", "2026-01-02T15:04", "2026-01-02T15:04:00", "2026-01-02 15:04:00", "-7d", "-168h"} {
		got, err := parseTime("from", s, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %s, %v", s, got, err)
		}
	}
	if got, err := parseTime("to", "2026-01-02", now); err != nil || !got.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date: %s %v", got, err)
	}
}
