package threadline

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
)

// Go value types for generated row images. Each decodes the JSON that
// PostgreSQL's to_jsonb writes for its column type (that is what the
// capture stores) and encodes back to that same JSON, so a generated key
// compares equal to the stored table_pk.

// Numeric is an exact decimal (PostgreSQL numeric) kept as its decimal
// text, for example "12.50"; it also holds "NaN", "Infinity" and
// "-Infinity". It decodes a JSON number or one of those strings and
// encodes back to the same JSON. The zero value encodes as null.
type Numeric string

// MarshalJSON implements json.Marshaler.
func (n Numeric) MarshalJSON() ([]byte, error) {
	switch s := string(n); {
	case s == "":
		return []byte("null"), nil
	case s == "NaN" || s == "Infinity" || s == "-Infinity":
		return []byte(`"` + s + `"`), nil
	case isJSONNumber(s):
		return []byte(s), nil
	}
	return nil, fmt.Errorf("threadline: %q is not a numeric", string(n))
}

// UnmarshalJSON implements json.Unmarshaler. JSON null leaves n unchanged.
func (n *Numeric) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	switch {
	case s == "null":
		return nil
	case s == `"NaN"` || s == `"Infinity"` || s == `"-Infinity"`:
		*n = Numeric(s[1 : len(s)-1])
		return nil
	case isJSONNumber(s):
		*n = Numeric(s)
		return nil
	}
	return fmt.Errorf("threadline: cannot decode %.40s as numeric", s)
}

// String returns the decimal text.
func (n Numeric) String() string { return string(n) }

// Float64 converts n to the nearest float64 (NaN and ±Inf included).
func (n Numeric) Float64() (float64, error) {
	switch n {
	case "Infinity":
		return strconv.ParseFloat("+Inf", 64)
	case "-Infinity":
		return strconv.ParseFloat("-Inf", 64)
	}
	return strconv.ParseFloat(string(n), 64)
}

// Rat returns n as an exact rational; ok is false for NaN, the infinities
// and malformed text.
func (n Numeric) Rat() (r *big.Rat, ok bool) {
	if !isJSONNumber(string(n)) {
		return nil, false
	}
	return new(big.Rat).SetString(string(n))
}

func isJSONNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var v json.Number
	return json.Unmarshal([]byte(s), &v) == nil
}

// Infinity values of Timestamp and Date.
const (
	// Finite marks an ordinary value.
	Finite = 0
	// PositiveInfinity is PostgreSQL's 'infinity'.
	PositiveInfinity = 1
	// NegativeInfinity is PostgreSQL's '-infinity'.
	NegativeInfinity = -1
)

// Timestamp is a PostgreSQL timestamp without time zone: a wall-clock
// reading with no zone. to_jsonb writes it as "2026-03-04T05:06:07" (with
// up to six fractional digits, a " BC" suffix for years before 1, or
// "infinity"/"-infinity"). Time holds the reading in time.UTC; it is not
// an instant.
type Timestamp struct {
	// Time is the wall-clock reading, in time.UTC.
	Time time.Time
	// Infinity is Finite, PositiveInfinity or NegativeInfinity; Time is
	// zero for the infinities.
	Infinity int8
}

// MarshalJSON implements json.Marshaler with to_jsonb's format.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if s, ok := infinityText(t.Infinity); ok {
		return []byte(s), nil
	}
	return []byte(`"` + formatPGDateTime(t.Time, false) + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler. JSON null leaves t unchanged.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	s, null, err := jsonString(b, "timestamp")
	if err != nil || null {
		return err
	}
	if inf, ok := parseInfinity(s); ok {
		*t = Timestamp{Infinity: inf}
		return nil
	}
	v, err := parsePGDateTime(s, true, false)
	if err != nil {
		return err
	}
	*t = Timestamp{Time: v}
	return nil
}

// String returns the to_jsonb text without quotes.
func (t Timestamp) String() string {
	b, _ := t.MarshalJSON()
	return strings.Trim(string(b), `"`)
}

// Date is a PostgreSQL date. to_jsonb writes "2026-03-04" (a " BC" suffix
// for years before 1, or "infinity"/"-infinity").
type Date struct {
	// Year is the astronomical year: 0 is 1 BC, -1 is 2 BC.
	Year  int
	Month time.Month
	Day   int
	// Infinity is Finite, PositiveInfinity or NegativeInfinity; the other
	// fields are zero for the infinities.
	Infinity int8
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// In returns midnight of d in loc (the zero time for the infinities).
func (d Date) In(loc *time.Location) time.Time {
	if d.Infinity != Finite {
		return time.Time{}
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// MarshalJSON implements json.Marshaler with to_jsonb's format.
func (d Date) MarshalJSON() ([]byte, error) {
	if s, ok := infinityText(d.Infinity); ok {
		return []byte(s), nil
	}
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler. JSON null leaves d unchanged.
func (d *Date) UnmarshalJSON(b []byte) error {
	s, null, err := jsonString(b, "date")
	if err != nil || null {
		return err
	}
	if inf, ok := parseInfinity(s); ok {
		*d = Date{Infinity: inf}
		return nil
	}
	v, err := parsePGDateTime(s, false, false)
	if err != nil {
		return err
	}
	*d = DateOf(v)
	return nil
}

// String returns the date as to_jsonb writes it, without quotes.
func (d Date) String() string {
	if s, ok := infinityText(d.Infinity); ok {
		return strings.Trim(s, `"`)
	}
	return formatPGDate(d.Year, d.Month, d.Day)
}

// Time is a PostgreSQL time (without time zone) as to_jsonb writes it:
// "05:06:07" or "05:06:07.123456".
type Time string

// TimeTZ is a PostgreSQL time with time zone as to_jsonb writes it (its
// text output): "05:06:07+02", "05:06:07.5+05:30".
type TimeTZ string

// Interval is a PostgreSQL interval in the output format of the session
// that captured it (IntervalStyle; by default "1 day 02:03:04").
type Interval string

// UUID is a PostgreSQL uuid. Its JSON form is the lower-case hyphenated
// text to_jsonb writes: "0b7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a19".
type UUID [16]byte

// ParseUUID reads a UUID in hyphenated (8-4-4-4-12) or plain 32-digit
// hexadecimal form, in either case.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	h := s
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return u, fmt.Errorf("threadline: %q is not a UUID", s)
		}
		h = s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	if len(h) != 32 {
		return u, fmt.Errorf("threadline: %q is not a UUID", s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("threadline: %q is not a UUID", s)
	}
	return u, nil
}

// MustParseUUID is ParseUUID that panics on error, for constants in tests
// and examples.
func MustParseUUID(s string) UUID {
	u, err := ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

// String returns the lower-case hyphenated form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// MarshalText implements encoding.TextMarshaler (and so JSON encoding).
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (and so JSON
// decoding).
func (u *UUID) UnmarshalText(b []byte) error {
	v, err := ParseUUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// Bytes is a PostgreSQL bytea. to_jsonb writes it in the session's
// bytea_output format: "\\x00ff" (hex, the default) or the escape format;
// both decode. It encodes to the hex format.
type Bytes []byte

// MarshalJSON implements json.Marshaler.
func (b Bytes) MarshalJSON() ([]byte, error) {
	return json.Marshal(`\x` + hex.EncodeToString(b))
}

// UnmarshalJSON implements json.Unmarshaler. JSON null leaves b unchanged.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	s, null, err := jsonString(data, "bytea")
	if err != nil || null {
		return err
	}
	if h, ok := strings.CutPrefix(s, `\x`); ok {
		v, err := hex.DecodeString(h)
		if err != nil {
			return fmt.Errorf("threadline: bad hex bytea: %v", err)
		}
		*b = v
		return nil
	}
	v, err := unescapeBytea(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// unescapeBytea decodes bytea's escape output format: \\ is a backslash,
// \ooo an octal byte, anything else itself.
func unescapeBytea(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]):
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			out = append(out, v)
			i += 3
		default:
			return nil, errors.New("threadline: bad escaped bytea")
		}
	}
	return out, nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// Masked is the value of a masked column. The capture stores a
// placeholder instead of the value (and keeps NULL as null), so Masked
// records only whether the original value was NULL: it cannot carry the
// value, and a real value found in older captures (taken before the column
// was masked) is discarded when decoding. The zero value is NULL.
type Masked struct {
	present bool
}

// MaskedText is what Masked encodes to (in JSON and String) for a non-NULL
// value: the default mask placeholder.
const MaskedText = contract.DefaultMaskPlaceholder

// IsNull reports whether the original value was NULL.
func (m Masked) IsNull() bool { return !m.present }

// String returns MaskedText, or "NULL".
func (m Masked) String() string {
	if m.present {
		return MaskedText
	}
	return "NULL"
}

// MarshalJSON encodes null or the string MaskedText.
func (m Masked) MarshalJSON() ([]byte, error) {
	if m.present {
		return []byte(`"` + MaskedText + `"`), nil
	}
	return []byte("null"), nil
}

// UnmarshalJSON implements json.Unmarshaler: JSON null is NULL, any other
// JSON value (the placeholder, or an unmasked value) is "not NULL" and is
// discarded.
func (m *Masked) UnmarshalJSON(b []byte) error {
	s := bytes.TrimSpace(b)
	if !json.Valid(s) {
		return errors.New("threadline: masked value is not JSON")
	}
	m.present = string(s) != "null"
	return nil
}

// jsonString decodes a JSON string; null reports JSON null.
func jsonString(b []byte, what string) (s string, null bool, err error) {
	t := bytes.TrimSpace(b)
	if string(t) == "null" {
		return "", true, nil
	}
	if len(t) == 0 || t[0] != '"' {
		return "", false, fmt.Errorf("threadline: cannot decode %.40s as %s", t, what)
	}
	if err := json.Unmarshal(t, &s); err != nil {
		return "", false, fmt.Errorf("threadline: cannot decode %.40s as %s: %v", t, what, err)
	}
	return s, false, nil
}

func parseInfinity(s string) (int8, bool) {
	switch s {
	case "infinity":
		return PositiveInfinity, true
	case "-infinity":
		return NegativeInfinity, true
	}
	return 0, false
}

func infinityText(inf int8) (string, bool) {
	switch {
	case inf > 0:
		return `"infinity"`, true
	case inf < 0:
		return `"-infinity"`, true
	}
	return "", false
}

// parsePGDateTime reads the ISO forms to_jsonb writes for date ("Y-MM-DD"),
// timestamp ("Y-MM-DDTHH:MM:SS[.ffffff]") and timestamptz (the same with
// a "+HH:MM[:SS]" offset). Y has four or more digits; " BC" may follow.
func parsePGDateTime(s string, clock, zone bool) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("threadline: cannot decode %q as a PostgreSQL date/time", s)
	}
	bc := false
	if rest, ok := strings.CutSuffix(s, " BC"); ok {
		s, bc = rest, true
	}
	i := strings.IndexByte(s, '-')
	if i < 4 {
		return bad()
	}
	year, err := strconv.Atoi(s[:i])
	if err != nil || year < 0 {
		return bad()
	}
	if bc {
		year = 1 - year
	}
	r := s[i:]
	if len(r) < 6 || r[0] != '-' || r[3] != '-' {
		return bad()
	}
	month, err1 := strconv.Atoi(r[1:3])
	day, err2 := strconv.Atoi(r[4:6])
	if err1 != nil || err2 != nil || month < 1 || month > 12 || day < 1 || day > 31 {
		return bad()
	}
	r = r[6:]
	var hh, mm, ss, nsec int
	loc := time.UTC
	if clock {
		if len(r) < 9 || r[0] != 'T' || r[3] != ':' || r[6] != ':' {
			return bad()
		}
		var e1, e2, e3 error
		hh, e1 = strconv.Atoi(r[1:3])
		mm, e2 = strconv.Atoi(r[4:6])
		ss, e3 = strconv.Atoi(r[7:9])
		if e1 != nil || e2 != nil || e3 != nil {
			return bad()
		}
		r = r[9:]
		if strings.HasPrefix(r, ".") {
			j := 1
			for j < len(r) && r[j] >= '0' && r[j] <= '9' {
				j++
			}
			frac := r[1:j]
			if frac == "" || len(frac) > 9 {
				return bad()
			}
			nsec, _ = strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
			r = r[j:]
		}
		if zone {
			off, ok := parseOffset(r)
			if !ok {
				return bad()
			}
			loc = time.FixedZone("", off)
			r = ""
		}
	}
	if r != "" {
		return bad()
	}
	t := time.Date(year, time.Month(month), day, hh, mm, ss, nsec, loc)
	if t.Day() != day {
		return bad()
	}
	return t, nil
}

// parseOffset reads "+HH", "+HH:MM" or "+HH:MM:SS" (or "Z").
func parseOffset(s string) (int, bool) {
	if s == "Z" {
		return 0, true
	}
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	parts := strings.Split(s[1:], ":")
	if len(parts) > 3 {
		return 0, false
	}
	mult := []int{3600, 60, 1}
	off := 0
	for i, p := range parts {
		if len(p) != 2 {
			return 0, false
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, false
		}
		off += n * mult[i]
	}
	return sign * off, true
}

func formatPGDate(year int, month time.Month, day int) string {
	bc := year <= 0
	if bc {
		year = 1 - year
	}
	s := fmt.Sprintf("%04d-%02d-%02d", year, int(month), day)
	if bc {
		s += " BC"
	}
	return s
}

// formatPGDateTime writes t as to_jsonb writes a timestamp (zone false:
// the wall clock of t) or a timestamptz in a UTC session (zone true: t in
// UTC with "+00:00").
func formatPGDateTime(t time.Time, zone bool) string {
	if zone {
		t = t.UTC()
	}
	y, mo, d := t.Date()
	bc := y <= 0
	s := formatPGDate(y, mo, d)
	s = strings.TrimSuffix(s, " BC")
	s += fmt.Sprintf("T%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second())
	if us := t.Nanosecond() / 1000; us != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%06d", us), "0")
	}
	if zone {
		s += "+00:00"
	}
	if bc {
		s += " BC"
	}
	return s
}

// MarshalObject encodes alternating names and values as a JSON object, in
// the given order. Generated code uses it for key types and for structs
// whose column names cannot be JSON struct tags. Values are encoded with
// encoding/json, except time.Time (and *time.Time), which is written the
// way to_jsonb writes a timestamptz in a UTC session
// ("2026-03-04T05:06:07.5+00:00"), so that a generated key equals the
// table_pk the capture stored.
func MarshalObject(namesAndValues ...any) ([]byte, error) {
	if len(namesAndValues)%2 != 0 {
		return nil, errors.New("threadline: MarshalObject needs name, value pairs")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i < len(namesAndValues); i += 2 {
		name, ok := namesAndValues[i].(string)
		if !ok {
			return nil, fmt.Errorf("threadline: MarshalObject: name %d is %T, not a string", i/2, namesAndValues[i])
		}
		if i > 0 {
			b.WriteByte(',')
		}
		nb, _ := json.Marshal(name)
		b.Write(nb)
		b.WriteByte(':')
		var vb []byte
		var err error
		switch v := namesAndValues[i+1].(type) {
		case time.Time:
			vb, err = json.Marshal(formatPGDateTime(v, true))
		case *time.Time:
			if v == nil {
				vb = []byte("null")
			} else {
				vb, err = json.Marshal(formatPGDateTime(*v, true))
			}
		default:
			vb, err = json.Marshal(v)
		}
		if err != nil {
			return nil, fmt.Errorf("threadline: encode %q: %w", name, err)
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalObject decodes a JSON object into the fields named by the keys
// of fields (pointers to the destination values). Names match exactly;
// object keys without a field are ignored, and fields whose key is absent
// are left unchanged. JSON null is not an error.
func UnmarshalObject(data []byte, fields map[string]any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	for _, name := range sortedKeys(fields) {
		dst := fields[name]
		v, ok := m[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("threadline: decode %q: %w", name, err)
		}
	}
	return nil
}
