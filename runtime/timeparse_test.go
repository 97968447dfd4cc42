package threadline

import (
	"errors"
	"testing"
	"time"
)

func TestParseTimeForms(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"2026-12-06T23:00:00Z":           "2026-12-06T23:00:00Z",
		"2026-12-07T00:00:00+01:00":      "2026-12-06T23:00:00Z",
		"2026-12-06T23:00:00.123456Z":    "2026-12-06T23:00:00.123456Z",
		"2026-12-06T23:00":               "2026-12-06T23:00:00Z",
		"2026-12-06T23:00:05":            "2026-12-06T23:00:05Z",
		"2026-12-06T23:00:05.5":          "2026-12-06T23:00:05.5Z",
		"2026-12-06 23:00:05":            "2026-12-06T23:00:05Z",
		"2026-12-06 23:00":               "2026-12-06T23:00:00Z",
		"2026-12-06":                     "2026-12-06T00:00:00Z",
		" 2026-12-06 ":                   "2026-12-06T00:00:00Z",
		"-30m":                           "2026-12-07T11:30:00Z",
		"-1h":                            "2026-12-07T11:00:00Z",
		"-90s":                           "2026-12-07T11:58:30Z",
		"-7d":                            "2026-11-30T12:00:00Z",
		"-2w":                            "2026-11-23T12:00:00Z",
		"-1d12h":                         "2026-12-06T00:00:00Z",
		"-0s":                            "2026-12-07T12:00:00Z",
		"2026-12-06T23:00:00.000000001Z": "2026-12-06T23:00:00.000000001Z",
	} {
		got, err := ParseTime(in, now)
		if err != nil {
			t.Errorf("ParseTime(%q): %v", in, err)
			continue
		}
		if s := got.UTC().Format(time.RFC3339Nano); s != want {
			t.Errorf("ParseTime(%q) = %s, want %s", in, s, want)
		}
	}
}

func TestParseTimeErrors(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	const forms = "RFC 3339 (2026-01-02T15:04:05Z, 2026-01-02T16:04:05+01:00), 2026-01-02T15:04 or 2026-01-02T15:04:05 (UTC), " +
		"a date 2026-01-02 (its midnight UTC), or a time relative to now: -30m, -1h, -7d (units s, m, h, d, w)"
	for in, want := range map[string]string{
		"yesterday":                  `threadline: invalid time: "yesterday" is not a time: write ` + forms,
		"2026-13-01":                 `threadline: invalid time: "2026-13-01" is not a time: write ` + forms,
		"1h":                         `threadline: invalid time: "1h" is not a time: write ` + forms,
		"-":                          `threadline: invalid time: "-": a number and a unit must follow the minus sign; write ` + forms,
		"-1":                         `threadline: invalid time: "-1": 1 has no unit; write ` + forms,
		"-1y":                        `threadline: invalid time: "-1y": unknown unit "y"; write ` + forms,
		"-1.5h":                      `threadline: invalid time: "-1.5h": unknown unit "."; write ` + forms,
		"-h":                         `threadline: invalid time: "-h": want a whole number before "h"; write ` + forms,
		"-99999999999999999999d":     `threadline: invalid time: "-99999999999999999999d": too far back; write ` + forms,
		"-106751d99999999999999999h": `threadline: invalid time: "-106751d99999999999999999h": too far back; write ` + forms,
	} {
		_, err := ParseTime(in, now)
		if err == nil || err.Error() != want || !errors.Is(err, ErrInvalidTime) {
			t.Errorf("ParseTime(%q) error:\n got %v\nwant %s", in, err, want)
		}
	}
}
