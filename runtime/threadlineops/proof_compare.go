package threadlineops

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
)

// How CheckProofs compares an exported change with its sealed records:
// each key of the export (threadline.CSVColumns) against one field of the
// change's record or of its transaction's record, by meaning: JSON as
// parsed JSON, times as instants, numbers as numbers.

// fieldCmp is how an exported value is compared with a record field.
type fieldCmp int

const (
	cmpInt       fieldCmp = iota // a JSON number; null for NULL
	cmpText                      // a JSON string; null for NULL
	cmpOptText                   // a JSON string; null for NULL or ""
	cmpJSON                      // JSON; null for NULL
	cmpTime                      // an RFC 3339 time
	cmpTextArray                 // a JSON array of strings; null for NULL
)

// exportField is one key of an exported change and the record field it
// shows: of the transaction's record (tx) or of the change's.
type exportField struct {
	key  string
	tx   bool
	expr string // the field's contract.SealField Expr
	cmp  fieldCmp
	// index is the field's position in its record (bindExportFields).
	index int
}

// exportFields lists every key of an exported change (runtime/export.go)
// with its sealed field.
func exportFields() []exportField {
	return []exportField{
		{key: "id", expr: "c.id::text", cmp: cmpInt},
		{key: "transaction_id", expr: "c.transaction_id::text", cmp: cmpInt},
		{key: "captured_at", expr: "c.captured_at", cmp: cmpTime},
		{key: "table_schema", expr: "c.table_schema", cmp: cmpText},
		{key: "table_name", expr: "c.table_name", cmp: cmpText},
		{key: "op", expr: "c.op", cmp: cmpText},
		{key: "table_pk", expr: "c.table_pk::text", cmp: cmpJSON},
		{key: "table_pk_before", expr: "c.table_pk_before::text", cmp: cmpJSON},
		{key: "actor", tx: true, expr: "t.actor_ref::text", cmp: cmpJSON},
		{key: "request_id", tx: true, expr: "t.request_id", cmp: cmpOptText},
		{key: "correlation_id", tx: true, expr: "t.correlation_id", cmp: cmpOptText},
		{key: "changed_fields", expr: "c.changed_fields::text", cmp: cmpTextArray},
		{key: "data_after", expr: "c.data_after::text", cmp: cmpJSON},
		{key: "data_before", expr: "c.data_before::text", cmp: cmpJSON},
		{key: "changed_from", expr: "c.changed_from::text", cmp: cmpJSON},
		{key: "action_id", tx: true, expr: "t.action_id::text", cmp: cmpInt},
		{key: "action_name", tx: true, expr: "ac.name", cmp: cmpText},
		{key: "action_status", tx: true, expr: "ac.status", cmp: cmpText},
		{key: "action_verb", tx: true, expr: "ac.verb", cmp: cmpText},
		{key: "action_category", tx: true, expr: "ac.category", cmp: cmpText},
		{key: "action_reason", tx: true, expr: "ac.reason", cmp: cmpText},
		{key: "action_comment", tx: true, expr: "ac.comment", cmp: cmpText},
		{key: "action_job_id", tx: true, expr: "ac.job_id", cmp: cmpText},
	}
}

// bindExportFields returns exportFields with each field's position in its
// record.
func bindExportFields() ([]exportField, error) {
	fields := exportFields()
	for i, f := range fields {
		record := contract.SealChangeFields()
		if f.tx {
			record = contract.SealTransactionFields()
		}
		fields[i].index = -1
		for j, r := range record {
			if r.Expr == f.expr {
				fields[i].index = j
			}
		}
		if fields[i].index < 0 {
			return nil, fmt.Errorf("proofs: the exported field %s has no sealed field %s", f.key, f.expr)
		}
	}
	return fields, nil
}

// recordField returns the index of the field expr in fields (-1 if none).
func recordField(fields []contract.SealField, expr string) int {
	for i, f := range fields {
		if f.Expr == expr {
			return i
		}
	}
	return -1
}

// parseRecord splits a canonical record of the given kind into its n
// field values (nil for NULL).
func parseRecord(b []byte, kind byte, n int) ([]*string, error) {
	if len(b) < 4 || string(b[:3]) != "tl1" || b[3] != kind {
		return nil, fmt.Errorf("not a %q record", kind)
	}
	b = b[4:]
	out := make([]*string, 0, n)
	for len(b) > 0 && len(out) < n {
		switch {
		case b[0] == 0:
			out, b = append(out, nil), b[1:]
		case b[0] == 1 && len(b) >= 5 && uint64(len(b)-5) >= uint64(binary.BigEndian.Uint32(b[1:5])):
			l := int(binary.BigEndian.Uint32(b[1:5]))
			s := string(b[5 : 5+l])
			out, b = append(out, &s), b[5+l:]
		default:
			return nil, fmt.Errorf("field %d is malformed", len(out)+1)
		}
	}
	if len(out) != n || len(b) != 0 {
		return nil, fmt.Errorf("want %d fields exactly", n)
	}
	return out, nil
}

// recordTime reads a time field of a record.
func recordTime(v *string) (time.Time, bool) {
	if v == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(contract.SealTimeLayout, *v)
	return t, err == nil
}

// recordInt reads an integer field of a record.
func recordInt(v *string) (int64, bool) {
	if v == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(*v, 10, 64)
	return n, err == nil
}

// maxJSONDepth bounds the nesting parseJSON accepts.
const maxJSONDepth = 1000

// parseJSON parses one JSON value as encoding/json does with UseNumber,
// but refuses invalid UTF-8, duplicate object keys (which readers resolve
// differently), nesting deeper than maxJSONDepth and anything after the
// value.
func parseJSON(b []byte) (any, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := parseJSONValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

func parseJSONValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("nested too deep")
	}
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		m := map[string]any{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := k.(string)
			if _, dup := m[key]; dup {
				return nil, fmt.Errorf("the key %q twice in one object", key)
			}
			if m[key], err = parseJSONValue(dec, depth+1); err != nil {
				return nil, err
			}
		}
		_, err = dec.Token()
		return m, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := parseJSONValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err = dec.Token()
		return a, err
	}
	return t, nil
}

// fieldMatches reports whether the exported value v shows the record
// field value rec (nil for NULL).
func fieldMatches(cmp fieldCmp, v any, rec *string) bool {
	if v == nil {
		switch cmp {
		case cmpOptText:
			return rec == nil || *rec == ""
		case cmpJSON:
			return rec == nil || *rec == "null"
		}
		return rec == nil
	}
	if rec == nil {
		return false
	}
	switch cmp {
	case cmpInt:
		n, ok := v.(json.Number)
		return ok && numbersEqual(string(n), *rec)
	case cmpText, cmpOptText:
		s, ok := v.(string)
		return ok && s == *rec
	case cmpTime:
		s, ok := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		r, rok := recordTime(rec)
		return ok && err == nil && rok && t.Equal(r)
	case cmpJSON:
		// As the export wrote it: a member nested past the export's depth
		// limit is a marker there (threadline.ExportedJSON).
		r, err := parseJSON(threadline.ExportedJSON(json.RawMessage(*rec)))
		return err == nil && jsonEqual(v, r)
	case cmpTextArray:
		return textArrayMatches(v, *rec)
	}
	return false
}

// textArrayMatches reports whether v, a JSON array of strings, holds the
// elements of rec, a text[] as PostgreSQL prints it.
func textArrayMatches(v any, rec string) bool {
	a, ok := v.([]any)
	r, err := parseTextArray(rec)
	if !ok || err != nil || len(a) != len(r) {
		return false
	}
	for i := range a {
		if s, ok := a[i].(string); !ok || s != r[i] {
			return false
		}
	}
	return true
}

// jsonEqual reports whether two parsed JSON values are equal: objects
// whatever the order of their keys, numbers by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numbersEqual(string(x), string(y))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// numbersEqual reports whether two decimal numbers (JSON number syntax)
// have the same value, without arithmetic on their size.
func numbersEqual(a, b string) bool {
	if a == b {
		return true
	}
	x, okx := decimal(a)
	y, oky := decimal(b)
	return okx && oky && x == y
}

// normDecimal is a decimal number as sign, significant digits (no
// leading or trailing zeros) and the power of ten of the last digit.
type normDecimal struct {
	neg    bool
	digits string
	exp    int64
}

// decimal normalizes a number in JSON syntax.
func decimal(s string) (normDecimal, bool) {
	var d normDecimal
	s, d.neg = strings.CutPrefix(s, "-")
	mant, e, hasExp := strings.Cut(strings.ToLower(s), "e")
	if hasExp {
		n, err := strconv.ParseInt(e, 10, 32)
		if err != nil {
			return d, false
		}
		d.exp = n
	}
	whole, frac, hasFrac := strings.Cut(mant, ".")
	if whole == "" || !allDigits(whole) || !allDigits(frac) || (hasFrac && frac == "") {
		return d, false
	}
	d.digits = strings.TrimLeft(whole+frac, "0")
	d.exp -= int64(len(frac))
	for strings.HasSuffix(d.digits, "0") {
		d.digits = d.digits[:len(d.digits)-1]
		d.exp++
	}
	if d.digits == "" {
		return normDecimal{}, true // zero, whatever its sign
	}
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseTextArray reads a one-dimensional text[] as PostgreSQL prints it
// ({a,"b c","d\"e"}); a NULL element is an error.
func parseTextArray(s string) ([]string, error) {
	body, ok := strings.CutPrefix(s, "{")
	if body, ok = strings.CutSuffix(body, "}"); !ok {
		return nil, errors.New("not an array")
	}
	out := []string{}
	for len(body) > 0 {
		el, rest, err := arrayElement(body)
		if err != nil {
			return nil, err
		}
		out = append(out, el)
		if rest == "" {
			break
		}
		if body, ok = strings.CutPrefix(rest, ","); !ok || body == "" {
			return nil, errors.New("malformed array")
		}
	}
	return out, nil
}

// arrayElement reads the first element of an array's body and returns
// the rest.
func arrayElement(body string) (el, rest string, err error) {
	if !strings.HasPrefix(body, `"`) {
		i := strings.IndexByte(body, ',')
		if i < 0 {
			i = len(body)
		}
		el = body[:i]
		if el == "" || strings.EqualFold(el, "NULL") || strings.ContainsAny(el, "\"\\{}") {
			return "", "", fmt.Errorf("array element %q: NULL or malformed", el)
		}
		return el, body[i:], nil
	}
	var b strings.Builder
	for i := 1; i < len(body); i++ {
		switch c := body[i]; {
		case c == '\\' && i+1 < len(body):
			i++
			b.WriteByte(body[i])
		case c == '"':
			return b.String(), body[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated array element")
}
