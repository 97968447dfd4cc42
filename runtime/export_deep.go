package threadline

import (
	"bytes"
	"encoding/json"
	"strings"
)

// ExportMaxDepth is the deepest nesting of a stored value that JSON and
// NDJSON exports write as JSON. PostgreSQL stores jsonb nested thousands
// of levels deep, which common readers refuse (Python's json module stops
// near 1000 levels, Ruby's JSON at 100 by default, serde_json at 128), so
// one such value would make a whole file unreadable. A member of
// table_pk, table_pk_before, data_after, data_before or changed_from
// nested deeper (a scalar has depth 0, [] and {} depth 1, [[1]] depth 2)
// is exported as a marker object holding its stored text as a string:
//
//	{"$threadline_deep_json": "[[[[…]]]]"}
//
// so that no exported document nests deeper than ExportMaxDepth+4 levels.
// A stored member value that is itself an object whose only key is
// ExportDeepKey is exported the same way, so that a reader can always
// replace a marker by the JSON its string holds. CSV exports hold each
// value's stored text whatever its depth (a cell is text to a CSV reader).
const ExportMaxDepth = 64

// ExportDeepKey is the only key of the marker object of a value exported
// as text (ExportMaxDepth).
const ExportDeepKey = "$threadline_deep_json"

var exportDeepKey = []byte(ExportDeepKey)

// ExportedJSON returns stored JSON (a row image, a key or changed_from,
// as PostgreSQL prints it) as JSON and NDJSON exports write it: each
// member nested deeper than ExportMaxDepth, or that reads as a marker,
// written as a marker. Code that compares an export with the database
// (a proof check) compares with this. SQL NULL (nil) stays nil.
func ExportedJSON(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	return appendImage(nil, raw)
}

// appendImage appends stored JSON (an object: a row image, a key,
// changed_from) with each member value deeper than ExportMaxDepth, or
// that reads as a marker, written as a marker. SQL NULL is null. The
// common case, a shallow image that does not mention the marker key, is
// copied as stored.
func appendImage(b []byte, raw json.RawMessage) []byte {
	if raw == nil {
		return append(b, "null"...)
	}
	if !bytes.Contains(raw, exportDeepKey) {
		// An object one level deeper than its deepest member.
		d, open := jsonDepth(raw), skipSpace(raw, 0)
		if d <= ExportMaxDepth || d == ExportMaxDepth+1 && open < len(raw) && raw[open] == '{' {
			return append(b, raw...)
		}
	}
	if out, ok := appendMembers(b, raw); ok {
		return out
	}
	return appendMember(b, raw)
}

// appendMembers copies object raw with each member value through
// appendMember, keeping the stored spacing; ok is false when raw is not
// a JSON object.
func appendMembers(b, raw []byte) (out []byte, ok bool) {
	open := skipSpace(raw, 0)
	if open >= len(raw) || raw[open] != '{' {
		return b, false
	}
	start := len(b)
	b = append(b, raw[:open+1]...)
	i := open + 1
	if j := skipSpace(raw, i); j < len(raw) && raw[j] == '}' {
		return append(b, raw[i:]...), true
	}
	for {
		k := endString(raw, skipSpace(raw, i))
		if k < 0 {
			return b[:start], false
		}
		c := skipSpace(raw, k)
		if c >= len(raw) || raw[c] != ':' {
			return b[:start], false
		}
		v := skipSpace(raw, c+1)
		e := endValue(raw, v)
		if e < 0 {
			return b[:start], false
		}
		n := skipSpace(raw, e)
		if n >= len(raw) || (raw[n] != ',' && raw[n] != '}') {
			return b[:start], false
		}
		b = append(b, raw[i:v]...)
		b = appendMember(b, raw[v:e])
		b = append(b, raw[e:n+1]...)
		i = n + 1
		if raw[n] == '}' {
			return append(b, raw[i:]...), true
		}
	}
}

// appendMember appends value v, or its marker when it is deeper than
// ExportMaxDepth or reads as a marker itself.
func appendMember(b, v []byte) []byte {
	if jsonDepth(v) <= ExportMaxDepth && !isMarker(v) {
		return append(b, v...)
	}
	b = append(b, `{"`+ExportDeepKey+`": `...)
	b = appendJSONString(b, string(v))
	return append(b, '}')
}

// isMarker reports whether v is an object whose only key is
// ExportDeepKey.
func isMarker(v []byte) bool {
	if !bytes.Contains(v, exportDeepKey) {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return false
	}
	_, ok := m[ExportDeepKey]
	return ok && len(m) == 1
}

// jsonDepth returns the deepest nesting of arrays and objects in JSON
// text v (0 for a scalar).
func jsonDepth(v []byte) int {
	depth, deepest := 0, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			if i = endString(v, i) - 1; i < 0 {
				return deepest
			}
		case '[', '{':
			if depth++; depth > deepest {
				deepest = depth
			}
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// skipSpace returns the index of the first byte of v at or after i that
// is not JSON white space (len(v) when there is none).
func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// endString returns the index after the JSON string that starts at v[i],
// or -1.
func endString(v []byte, i int) int {
	if i >= len(v) || v[i] != '"' {
		return -1
	}
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// endValue returns the index after the JSON value that starts at v[i],
// or -1.
func endValue(v []byte, i int) int {
	if i >= len(v) {
		return -1
	}
	switch v[i] {
	case '"':
		return endString(v, i)
	case '[', '{':
		depth := 0
		for ; i < len(v); i++ {
			switch v[i] {
			case '"':
				if i = endString(v, i) - 1; i < 0 {
					return -1
				}
			case '[', '{':
				depth++
			case ']', '}':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for i < len(v) && strings.IndexByte(",}] \t\n\r", v[i]) < 0 {
		i++
	}
	return i
}
