package threadline_test

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// toJSONB returns to_jsonb(expr)::text as PostgreSQL computes it, with the
// given session settings (SET LOCAL name = value) in effect.
func toJSONB(t *testing.T, db *pgtest.DB, expr string, settings ...string) string {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, s := range settings {
		if _, err := tx.Exec(ctx, "SET LOCAL "+s); err != nil {
			t.Fatalf("SET LOCAL %s: %v", s, err)
		}
	}
	var out string
	if err := tx.QueryRow(ctx, "SELECT to_jsonb("+expr+")::text").Scan(&out); err != nil {
		t.Fatalf("to_jsonb(%s): %v", expr, err)
	}
	return out
}

// jsonbEqual reports whether PostgreSQL considers two JSON texts equal as
// jsonb (the comparison History and AsOf use for keys).
func jsonbEqual(t *testing.T, db *pgtest.DB, a, b string) bool {
	t.Helper()
	var eq bool
	if err := db.Pool.QueryRow(context.Background(), "SELECT $1::jsonb = $2::jsonb", a, b).Scan(&eq); err != nil {
		t.Fatalf("compare %s and %s: %v", a, b, err)
	}
	return eq
}

// TestValueTypesDecodePostgreSQLJSON decodes what to_jsonb writes for each
// type into the runtime value types, and checks that encoding them gives
// JSON that PostgreSQL finds equal (so generated keys match table_pk).
func TestValueTypesDecodePostgreSQLJSON(t *testing.T) {
	db := pgtest.NewDB(t)
	utc := []string{"TimeZone = 'UTC'"}
	cases := []struct {
		name     string
		expr     string
		settings []string
		into     func() any // a pointer to a new zero value
		want     any
		// roundTrip: the re-encoded value is jsonb-equal to PostgreSQL's.
		roundTrip bool
	}{
		{"numeric scale kept", "12.50::numeric(12,2)", nil, func() any { return new(threadline.Numeric) }, threadline.Numeric("12.50"), true},
		{"numeric huge", "123456789012345678901234567890.123456789::numeric", nil, func() any { return new(threadline.Numeric) }, threadline.Numeric("123456789012345678901234567890.123456789"), true},
		{"numeric negative", "-0.001::numeric", nil, func() any { return new(threadline.Numeric) }, threadline.Numeric("-0.001"), true},
		{"numeric NaN", "'NaN'::numeric", nil, func() any { return new(threadline.Numeric) }, threadline.Numeric("NaN"), true},
		{"numeric infinity", "'-Infinity'::numeric", nil, func() any { return new(threadline.Numeric) }, threadline.Numeric("-Infinity"), true},
		{"uuid", "'0B7B5C3E-2F4D-4C1A-9A57-1F0E4C3B2A19'::uuid", nil, func() any { return new(threadline.UUID) }, threadline.MustParseUUID("0b7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a19"), true},
		{"date", "'2026-03-04'::date", nil, func() any { return new(threadline.Date) }, threadline.Date{Year: 2026, Month: 3, Day: 4}, true},
		{"date BC", "'0044-03-15 BC'::date", nil, func() any { return new(threadline.Date) }, threadline.Date{Year: -43, Month: 3, Day: 15}, true},
		{"date infinity", "'infinity'::date", nil, func() any { return new(threadline.Date) }, threadline.Date{Infinity: threadline.PositiveInfinity}, true},
		{"date in another DateStyle", "'2026-03-04'::date", []string{"DateStyle = 'SQL, DMY'"}, func() any { return new(threadline.Date) }, threadline.Date{Year: 2026, Month: 3, Day: 4}, true},
		{"timestamp", "'2026-03-04 05:06:07.25'::timestamp", nil, func() any { return new(threadline.Timestamp) }, threadline.Timestamp{Time: time.Date(2026, 3, 4, 5, 6, 7, 250000000, time.UTC)}, true},
		{"timestamp whole second", "'2026-03-04 05:06:07'::timestamp", nil, func() any { return new(threadline.Timestamp) }, threadline.Timestamp{Time: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}, true},
		{"timestamp microseconds", "'2026-03-04 05:06:07.000001'::timestamp", nil, func() any { return new(threadline.Timestamp) }, threadline.Timestamp{Time: time.Date(2026, 3, 4, 5, 6, 7, 1000, time.UTC)}, true},
		{"timestamp year 10000", "'10000-01-01 00:00:00'::timestamp", nil, func() any { return new(threadline.Timestamp) }, threadline.Timestamp{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, true},
		{"timestamp BC", "'0001-12-31 23:00:00 BC'::timestamp", nil, func() any { return new(threadline.Timestamp) }, threadline.Timestamp{Time: time.Date(0, 12, 31, 23, 0, 0, 0, time.UTC)}, true},
		{"timestamp -infinity", "'-infinity'::timestamp", nil, func() any { return new(threadline.Timestamp) }, threadline.Timestamp{Infinity: threadline.NegativeInfinity}, true},
		{"timestamptz in UTC session", "'2026-03-04 05:06:07.5+00'::timestamptz", utc, func() any { return new(time.Time) }, time.Date(2026, 3, 4, 5, 6, 7, 500000000, time.UTC), false},
		{"timestamptz in Kolkata session", "'2026-03-04 05:06:07.5+00'::timestamptz", []string{"TimeZone = 'Asia/Kolkata'"}, func() any { return new(time.Time) }, time.Date(2026, 3, 4, 5, 6, 7, 500000000, time.UTC), false},
		{"bytea hex", `'\x00ff10'::bytea`, nil, func() any { return new(threadline.Bytes) }, threadline.Bytes{0, 0xff, 0x10}, true},
		{"bytea escape output", `'\x00ff105c41'::bytea`, []string{"bytea_output = 'escape'"}, func() any { return new(threadline.Bytes) }, threadline.Bytes{0, 0xff, 0x10, '\\', 'A'}, false},
		{"bytea empty", `''::bytea`, nil, func() any { return new(threadline.Bytes) }, threadline.Bytes{}, true},
		{"time", "'05:06:07.25'::time", nil, func() any { return new(threadline.Time) }, threadline.Time("05:06:07.25"), true},
		{"timetz", "'05:06:07+02'::timetz", nil, func() any { return new(threadline.TimeTZ) }, threadline.TimeTZ("05:06:07+02"), true},
		{"interval", "'1 day 2 hours'::interval", nil, func() any { return new(threadline.Interval) }, threadline.Interval("1 day 02:00:00"), true},
		{"float8", "1.5::float8", nil, func() any { return new(float64) }, 1.5, true},
		{"int array with NULL", "'{1,NULL,3}'::int4[]", nil, func() any { return new([]int32) }, []int32{1, 0, 3}, false},
		{"text array", `ARRAY['a', 'b"c']`, nil, func() any { return new([]string) }, []string{"a", `b"c`}, true},
		{"uuid array", "ARRAY['0b7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a19'::uuid]", nil, func() any { return new([]threadline.UUID) }, []threadline.UUID{threadline.MustParseUUID("0b7b5c3e2f4d4c1a9a571f0e4c3b2a19")}, true},
		{"date array", "ARRAY['2026-01-02'::date, 'infinity']", nil, func() any { return new([]threadline.Date) }, []threadline.Date{{Year: 2026, Month: 1, Day: 2}, {Infinity: 1}}, true},
		{"inet is text", "'10.0.0.1/8'::inet", nil, func() any { return new(string) }, "10.0.0.1/8", true},
		{"money is text", "12.5::money", []string{"lc_monetary = 'C'"}, func() any { return new(string) }, "$12.50", true},
		{"point is text", "point(1, 2)", nil, func() any { return new(string) }, "(1,2)", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pg := toJSONB(t, db, c.expr, c.settings...)
			dst := c.into()
			if err := json.Unmarshal([]byte(pg), dst); err != nil {
				t.Fatalf("decode %s: %v", pg, err)
			}
			got := reflect.ValueOf(dst).Elem().Interface()
			if gt, ok := got.(time.Time); ok {
				if !gt.Equal(c.want.(time.Time)) {
					t.Fatalf("decode %s = %v, want %v", pg, gt, c.want)
				}
			} else if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("decode %s = %#v, want %#v", pg, got, c.want)
			}
			if !c.roundTrip {
				return
			}
			enc, err := json.Marshal(got)
			if err != nil {
				t.Fatalf("encode %#v: %v", got, err)
			}
			if !jsonbEqual(t, db, string(enc), pg) {
				t.Fatalf("encode %#v = %s, PostgreSQL wrote %s", got, enc, pg)
			}
		})
	}
}

// TestMarshalObjectMatchesTablePK checks that a key encoded with
// MarshalObject (as generated key types do) is jsonb-equal to the object
// the capture builds from to_jsonb values, timestamptz included (the
// capture writes it in the session time zone; keys match sessions in UTC).
func TestMarshalObjectMatchesTablePK(t *testing.T) {
	db := pgtest.NewDB(t)
	ts := time.Date(2026, 3, 4, 5, 6, 7, 120000000, time.FixedZone("CET", 3600))
	day := threadline.Date{Year: 2026, Month: 3, Day: 4}
	id := threadline.MustParseUUID("0b7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a19")
	var nilTime *time.Time
	got, err := threadline.MarshalObject("room", "A 1", "day", day, "slot", ts, "seq", threadline.Numeric("1.50"),
		"guest", id, "n", int64(42), "gone", nilTime, "b", threadline.Bytes{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	pg := toJSONB(t, db, `(SELECT jsonb_build_object('room', 'A 1'::text, 'day', '2026-03-04'::date,
		'slot', '2026-03-04 04:06:07.12+00'::timestamptz, 'seq', 1.50::numeric,
		'guest', '0b7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a19'::uuid, 'n', 42::bigint, 'gone', NULL::timestamptz,
		'b', '\x0102'::bytea))`, "TimeZone = 'UTC'")
	if !jsonbEqual(t, db, string(got), pg) {
		t.Fatalf("MarshalObject = %s\nPostgreSQL:    %s", got, pg)
	}
}

func TestMaskedCarriesOnlyNullness(t *testing.T) {
	var row struct {
		A threadline.Masked  `json:"a"`
		B threadline.Masked  `json:"b"`
		C threadline.Masked  `json:"c"`
		D threadline.Masked  `json:"d"`
		E *threadline.Masked `json:"e"`
	}
	// c holds a real value, as captured before the column was masked.
	if err := json.Unmarshal([]byte(`{"a": "[REDACTED]", "b": null, "c": {"card": "4111"}, "e": "****"}`), &row); err != nil {
		t.Fatal(err)
	}
	if row.A.IsNull() || !row.B.IsNull() || row.C.IsNull() || !row.D.IsNull() || row.E == nil || row.E.IsNull() {
		t.Fatalf("null-ness: %+v", row)
	}
	b, _ := json.Marshal(row)
	if string(b) != `{"a":"[REDACTED]","b":null,"c":"[REDACTED]","d":null,"e":"[REDACTED]"}` {
		t.Fatalf("re-encoded: %s", b)
	}
	if row.C.String() != "[REDACTED]" || row.B.String() != "NULL" {
		t.Fatalf("String: %q %q", row.C, row.B)
	}
	// Masked has no exported field and no way to hold the value.
	if reflect.TypeOf(threadline.Masked{}).NumField() != 1 || reflect.TypeOf(threadline.Masked{}).Field(0).Type.Kind() != reflect.Bool {
		t.Fatal("Masked must hold only a bool")
	}
}

func TestNumericConversions(t *testing.T) {
	f, err := threadline.Numeric("12.50").Float64()
	if err != nil || f != 12.5 {
		t.Fatalf("Float64: %v %v", f, err)
	}
	if f, _ := threadline.Numeric("-Infinity").Float64(); !math.IsInf(f, -1) {
		t.Fatalf("-Infinity: %v", f)
	}
	r, ok := threadline.Numeric("0.1").Rat()
	if !ok || r.String() != "1/10" {
		t.Fatalf("Rat: %v %v", r, ok)
	}
	if _, ok := threadline.Numeric("NaN").Rat(); ok {
		t.Fatal("NaN has no Rat")
	}
	if b, _ := json.Marshal(threadline.Numeric("")); string(b) != "null" {
		t.Fatalf("zero Numeric: %s", b)
	}
	if _, err := json.Marshal(threadline.Numeric("12,5")); err == nil {
		t.Fatal("malformed numeric encoded")
	}
	var n threadline.Numeric
	if err := json.Unmarshal([]byte(`"12"`), &n); err == nil {
		t.Fatal("a JSON string other than NaN/Infinity decoded as numeric")
	}
}

func TestUUIDParse(t *testing.T) {
	for _, bad := range []string{"", "0b7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a1", "0b7b5c3e_2f4d_4c1a_9a57_1f0e4c3b2a19", "zz7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a19"} {
		if _, err := threadline.ParseUUID(bad); err == nil {
			t.Errorf("ParseUUID(%q) accepted", bad)
		}
	}
	var u threadline.UUID
	if err := json.Unmarshal([]byte(`"0B7B5C3E2F4D4C1A9A571F0E4C3B2A19"`), &u); err != nil || u.String() != "0b7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a19" {
		t.Fatalf("decode: %v %v", u, err)
	}
}

func TestDateTimeDecodeErrors(t *testing.T) {
	for _, bad := range []string{`"2026-13-01"`, `"2026-02-30"`, `"26-01-01"`, `12`, `"2026-01-01T00:00:00"`} {
		var d threadline.Date
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("Date accepted %s", bad)
		}
	}
	for _, bad := range []string{`"2026-01-01"`, `"2026-01-01T25:00"`, `"2026-01-01T00:00:00+01:00"`, `"2026-01-01T00:00:00."`} {
		var ts threadline.Timestamp
		if err := json.Unmarshal([]byte(bad), &ts); err == nil {
			t.Errorf("Timestamp accepted %s", bad)
		}
	}
	var d threadline.Date
	if err := json.Unmarshal([]byte(`null`), &d); err != nil || d != (threadline.Date{}) {
		t.Errorf("null date: %v %v", d, err)
	}
	if got := threadline.DateOf(time.Date(2026, 5, 6, 23, 0, 0, 0, time.UTC)).String(); got != "2026-05-06" {
		t.Errorf("DateOf: %s", got)
	}
}

func TestUnmarshalObjectExactNames(t *testing.T) {
	var a, b *string
	var c []int32
	err := threadline.UnmarshalObject([]byte(`{"first name": "Ada", "FIRST NAME": "x", "new\nline": null, "ids": [1, 2]}`),
		map[string]any{"first name": &a, "new\nline": &b, "ids": &c})
	if err != nil || a == nil || *a != "Ada" || b != nil || len(c) != 2 {
		t.Fatalf("UnmarshalObject: %v %v %v %v", a, b, c, err)
	}
	if err := threadline.UnmarshalObject([]byte(`{"ids": "x"}`), map[string]any{"ids": &c}); err == nil {
		t.Fatal("type mismatch not reported")
	}
	if _, err := threadline.MarshalObject("odd"); err == nil {
		t.Fatal("odd argument count accepted")
	}
}
