package threadline

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAppendImage: appendImage copies shallow stored JSON as it is
// (spacing included; brackets inside strings do not count), and writes a
// deep or marker-like member, or a deep value that is not an object, as a
// marker holding its text.
func TestAppendImage(t *testing.T) {
	deep := strings.Repeat("[", ExportMaxDepth+1) + strings.Repeat("]", ExportMaxDepth+1)
	brackets := strings.Repeat("[", 3*ExportMaxDepth)
	for raw, want := range map[string]string{
		``:                                 `null`,
		`{}`:                               `{}`,
		` { } `:                            ` { } `,
		`{"a": 1, "b": [true]}`:            `{"a": 1, "b": [true]}`,
		`{"s": "` + brackets + `"}`:        `{"s": "` + brackets + `"}`,
		`{"q": "\"[[", "d": ` + deep + `}`: `{"q": "\"[[", "d": {"$threadline_deep_json": "` + deep + `"}}`,
		`{ "d" :` + deep + ` , "e": {"f": "}"} }`: `{ "d" :{"$threadline_deep_json": "` + deep + `"} , "e": {"f": "}"} }`,
		deep: `{"$threadline_deep_json": "` + deep + `"}`,
		`{"m": {"$threadline_deep_json": "a\"b"}}`:    `{"m": {"$threadline_deep_json": "{\"$threadline_deep_json\": \"a\\\"b\"}"}}`,
		`{"m": {"$threadline_deep_json": 1, "n": 2}}`: `{"m": {"$threadline_deep_json": 1, "n": 2}}`,
		`{"m": [{"$threadline_deep_json": 1}]}`:       `{"m": [{"$threadline_deep_json": 1}]}`,
		`{"$threadline_deep_json": "top"}`:            `{"$threadline_deep_json": "top"}`,
	} {
		var in json.RawMessage
		if raw != "" {
			in = json.RawMessage(raw)
		}
		if got := string(appendImage(nil, in)); got != want {
			t.Errorf("appendImage(%.80s) =\n%.200s\nwant\n%.200s", raw, got, want)
		}
		if got := ExportedJSON(in); (in == nil) != (got == nil) || in != nil && string(got) != want {
			t.Errorf("ExportedJSON(%.80s) = %.200s", raw, got)
		}
	}
}
