package threadline

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidTime is matched (errors.Is) by every *TimeError.
var ErrInvalidTime = errors.New("threadline: invalid time")

// TimeError is the error of ParseTime: Msg quotes the text and says
// what is wrong, and lists the forms ParseTime reads, for callers to
// put after the name of their parameter.
type TimeError struct {
	Msg string
}

// Error renders "threadline: invalid time: message".
func (e *TimeError) Error() string { return ErrInvalidTime.Error() + ": " + e.Msg }

// Is reports whether target is ErrInvalidTime.
func (e *TimeError) Is(target error) bool { return target == ErrInvalidTime }

// TimeForms describes, for messages and help texts, the forms ParseTime
// reads.
const TimeForms = "RFC 3339 (2026-01-02T15:04:05Z, 2026-01-02T16:04:05+01:00), " +
	"2026-01-02T15:04 or 2026-01-02T15:04:05 (UTC), a date 2026-01-02 (its midnight UTC), " +
	"or a time relative to now: -30m, -1h, -7d (units s, m, h, d, w)"

// timeLayouts are the absolute forms ParseTime reads, in the order tried.
// Layouts without a zone read as UTC; "2006-01-02 15:04:05" is what
// people paste from psql.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTime reads a time as the operator CLI (-from, -to) and the audit
// viewer (from, to, at) take it: an RFC 3339 time; a
// date and time without a zone (2006-01-02T15:04, 2006-01-02T15:04:05,
// fractions allowed, a space instead of the T too), read as UTC; a date
// (2006-01-02), its midnight UTC; or a time relative to now, a minus sign
// and whole numbers of units s, m, h, d (24 hours) or w (7 days), as in
// -30m, -1h, -7d or -1d12h. Surrounding white space is ignored. Errors
// are *TimeError values that quote s and list the accepted forms
// (TimeForms).
func ParseTime(s string, now time.Time) (time.Time, error) {
	t, err := parseTime(s, now)
	if err != nil {
		return t, err
	}
	return t, nil
}

// parseTime is ParseTime with its concrete error type.
func parseTime(s string, now time.Time) (time.Time, *TimeError) {
	v := strings.TrimSpace(s)
	if strings.HasPrefix(v, "-") {
		d, err := parseAgo(v[1:])
		if err != nil {
			return time.Time{}, &TimeError{Msg: fmt.Sprintf("%q: %v; write %s", s, err, TimeForms)}
		}
		return now.Add(-d), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &TimeError{Msg: fmt.Sprintf("%q is not a time: write %s", s, TimeForms)}
}

// agoUnits are the units of a relative time.
var agoUnits = map[byte]time.Duration{
	's': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour,
}

// parseAgo reads the part of a relative time after its minus sign: one
// or more whole numbers, each followed by a unit.
func parseAgo(v string) (time.Duration, error) {
	if v == "" {
		return 0, errors.New("a number and a unit must follow the minus sign")
	}
	var total time.Duration
	for v != "" {
		i := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("want a whole number before %q", v)
		}
		if i == len(v) {
			return 0, fmt.Errorf("%s has no unit", v)
		}
		unit, ok := agoUnits[v[i]]
		if !ok {
			return 0, fmt.Errorf("unknown unit %q", v[i:i+1])
		}
		n, err := strconv.ParseInt(v[:i], 10, 64)
		if err != nil || n > int64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(n)*unit {
			return 0, errors.New("too far back")
		}
		total += time.Duration(n) * unit
		v = v[i+1:]
	}
	return total, nil
}
