package threadline_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/harness/capturetest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// deepArray is a JSON array nested n levels deep.
func deepArray(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// TestExportDeepValues: a stored value nested deeper than ExportMaxDepth
// (3,000 levels: Python's json stops near 1,000) is exported in JSON and
// NDJSON as a marker holding its stored text, so the file stays readable
// by common readers; a value at the limit is exported as stored; a stored
// value that reads as a marker is wrapped too, so a reader can unwrap
// every marker; CSV holds the stored text.
func TestExportDeepValues(t *testing.T) {
	db := capturetest.Setup(t, `CREATE TABLE docs (id int PRIMARY KEY, doc jsonb, note text)`, "  docs: {}\n")
	db.Exec(t, `INSERT INTO docs VALUES
		(1, (repeat('[', 3000) || repeat(']', 3000))::jsonb, 'deep'),
		(2, (repeat('[', 64) || repeat(']', 64))::jsonb, 'at the limit'),
		(3, jsonb_build_object('a', (repeat('[', 64) || repeat(']', 64))::jsonb), 'one over'),
		(4, '{"$threadline_deep_json": "[1]"}', 'reads as a marker'),
		(5, '{"$threadline_deep_json": "x", "y": 1}', 'not a marker')`)
	want := map[string]string{ // data_after by id, as exported
		"1": `{"id": 1, "doc": {"$threadline_deep_json": "` + deepArray(3000) + `"}, "note": "deep"}`,
		"2": `{"id": 2, "doc": ` + deepArray(64) + `, "note": "at the limit"}`,
		"3": `{"id": 3, "doc": {"$threadline_deep_json": "{\"a\": ` + deepArray(64) + `}"}, "note": "one over"}`,
		"4": `{"id": 4, "doc": {"$threadline_deep_json": "{\"$threadline_deep_json\": \"[1]\"}"}, "note": "reads as a marker"}`,
		"5": `{"id": 5, "doc": {"y": 1, "$threadline_deep_json": "x"}, "note": "not a marker"}`,
	}
	export := func(format threadline.ExportFormat) []byte {
		var buf bytes.Buffer
		if _, err := (threadline.Audit{}).Export(context.Background(), db.Pool, &buf, threadline.ExportOptions{Format: format, Filter: threadline.Filter{Table: "docs"}}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	type row struct {
		PK        map[string]json.Number `json:"table_pk"`
		DataAfter json.RawMessage        `json:"data_after"`
	}
	check := func(format string, rows []row) {
		t.Helper()
		got := map[string]string{}
		for _, r := range rows {
			got[r.PK["id"].String()] = string(r.DataAfter)
		}
		for id, w := range want {
			if got[id] != w {
				t.Errorf("%s: data_after of %s:\n%.300s\nwant\n%.300s", format, id, got[id], w)
			}
		}
	}
	jsonDoc := export(threadline.ExportJSON)
	var doc struct{ Changes []row }
	if err := json.Unmarshal(jsonDoc, &doc); err != nil || len(doc.Changes) != 5 {
		t.Fatalf("json export: %d changes, %v", len(doc.Changes), err)
	}
	check("json", doc.Changes)
	if d := maxDepth(jsonDoc); d > threadline.ExportMaxDepth+4 {
		t.Errorf("json export nests %d levels, more than %d", d, threadline.ExportMaxDepth+4)
	}
	ndjson := export(threadline.ExportNDJSON)
	var lines []row
	for _, l := range bytes.Split(bytes.TrimSpace(ndjson), []byte("\n")) {
		var r row
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, r)
	}
	check("ndjson", lines)

	records, err := csv.NewReader(bytes.NewReader(export(threadline.ExportCSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var deepCell string
	for _, r := range records[1:] {
		if r[6] == `{"id": 1}` {
			deepCell = r[12]
		}
	}
	if deepCell != `{"id": 1, "doc": `+deepArray(3000)+`, "note": "deep"}` {
		t.Errorf("csv data_after of 1: %.100s", deepCell)
	}

	// The files read with Python's json module, when there is one.
	python, err := osexec.LookPath("python3")
	if err != nil {
		t.Log("no python3: skipping the Python check")
		return
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"export.json": jsonDoc, "export.ndjson": ndjson} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := osexec.Command(python, "-c", `import json, sys
p = sys.argv[1]
n = len(json.load(open(p))["changes"]) if p.endswith(".json") else sum(1 for l in open(p) if json.loads(l))
print(n)`, p).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(5) {
			t.Errorf("python3 reading %s: %v\n%.500s", name, err, out)
		}
	}
}

// maxDepth returns the deepest nesting of arrays and objects in JSON text.
func maxDepth(b []byte) int {
	depth, deepest, in := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && (c == '[' || c == '{'):
			depth++
			deepest = max(deepest, depth)
		case !in && (c == ']' || c == '}'):
			depth--
		}
	}
	return deepest
}
