package threadline

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sebdah/goldie/v2"
)

// diffCases are changes as the capture stores them (jsonb text output,
// with its spaces), one per op and variant.
func diffCases() []Change {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	return []Change{
		{
			ID: 1, TransactionID: 10, Schema: "public", Table: "users", Op: OpInsert,
			PK:         json.RawMessage(`{"id": 1}`),
			After:      json.RawMessage(`{"id": 1, "email": "[REDACTED]", "settings": {"theme": "dark", "tags": [1, 2]}, "nickname": null, "display_name": "Ada"}`),
			CapturedAt: at,
		},
		{
			ID: 2, TransactionID: 11, Schema: "public", Table: "users", Op: OpUpdate,
			PK:            json.RawMessage(`{"id": 1}`),
			After:         json.RawMessage(`{"id": 1, "email": "[REDACTED]", "settings": {}, "nickname": "ada", "display_name": "Ada L."}`),
			ChangedFields: []string{"display_name", "email", "nickname"},
			ChangedFrom:   json.RawMessage(`{"email": "[REDACTED]", "nickname": null, "display_name": "Ada"}`),
			CapturedAt:    at.Add(time.Second),
		},
		{
			ID: 3, TransactionID: 12, Schema: "public", Table: "posts", Op: OpUpdate,
			PK:            json.RawMessage(`{"id": "0b7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a19"}`),
			After:         json.RawMessage(`{"id": "0b7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a19", "title": "New"}`),
			ChangedFields: []string{"title"},
			CapturedAt:    at.Add(2 * time.Second),
		},
		{
			ID: 4, TransactionID: 13, Schema: "public", Table: "users", Op: OpUpdate,
			PK:            json.RawMessage(`{"id": 2}`),
			PKBefore:      json.RawMessage(`{"id": 1}`),
			After:         json.RawMessage(`{"id": 2, "display_name": "Ada L."}`),
			ChangedFields: []string{"id"},
			ChangedFrom:   json.RawMessage(`{"id": 1}`),
			CapturedAt:    at.Add(3 * time.Second),
		},
		{
			ID: 5, TransactionID: 14, Schema: "billing", Table: "invoices", Op: OpDelete,
			PK:         json.RawMessage(`{"number": "INV-1"}`),
			Before:     json.RawMessage(`{"paid": false, "amount": 12.50, "number": "INV-1", "card_last4": null}`),
			CapturedAt: at.Add(4 * time.Second),
		},
		{
			ID: 6, TransactionID: 15, Schema: "public", Table: "countries", Op: OpTruncate,
			CapturedAt: at.Add(5 * time.Second),
		},
	}
}

func mustDiff(t *testing.T, c Change) ChangeDiff {
	t.Helper()
	d, err := DiffChange(c)
	if err != nil {
		t.Fatalf("change %d: %v", c.ID, err)
	}
	return d
}

func TestDiffChangeGolden(t *testing.T) {
	var diffs []ChangeDiff
	for _, c := range diffCases() {
		diffs = append(diffs, mustDiff(t, c))
	}
	b, err := json.MarshalIndent(diffs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	g := goldie.New(t, goldie.WithFixtureDir("testdata"), goldie.WithNameSuffix(".golden.json"))
	g.Assert(t, "diff", append(b, '\n'))
}

func TestDiffChangeShape(t *testing.T) {
	cs := diffCases()
	ins := mustDiff(t, cs[0])
	if ins.SchemaVersion != 1 || ins.PriorOmitted || len(ins.Fields) != 5 || ins.Fields[0].Field != "display_name" ||
		ins.Fields[0].Kind != FieldSet || ins.Fields[0].Before != nil || string(ins.Fields[0].After) != `"Ada"` {
		t.Errorf("insert diff: %+v", ins)
	}
	// A NULL value is JSON null, not an absent value.
	if f := ins.Fields[3]; f.Field != "nickname" || string(f.After) != "null" {
		t.Errorf("insert null field: %+v", f)
	}
	upd := mustDiff(t, cs[1])
	if upd.PriorOmitted || len(upd.Fields) != 3 || string(upd.Fields[2].Before) != "null" || string(upd.Fields[2].After) != `"ada"` {
		t.Errorf("update diff: %+v", upd)
	}
	omitted := mustDiff(t, cs[2])
	if !omitted.PriorOmitted || !omitted.Fields[0].PriorOmitted || omitted.Fields[0].Before != nil {
		t.Errorf("update without changed_from: %+v", omitted)
	}
	del := mustDiff(t, cs[4])
	if len(del.Fields) != 4 || del.Fields[0].Kind != FieldRemoved || del.Fields[0].After != nil || string(del.Fields[0].Before) != "12.50" {
		t.Errorf("delete diff: %+v", del)
	}
	tr := mustDiff(t, cs[5])
	if tr.Fields == nil || len(tr.Fields) != 0 || string(tr.PK) != "null" {
		t.Errorf("truncate diff: %+v", tr)
	}
	b, _ := json.Marshal(tr)
	if want := `{"schema_version":1,"change_id":6,"transaction_id":15,"schema":"public","table":"countries","op":"truncate","pk":null,"captured_at":"2026-01-02T03:04:10.123456Z","prior_omitted":false,"fields":[]}`; string(b) != want {
		t.Errorf("truncate JSON:\n%s\nwant\n%s", b, want)
	}
}

// deepJSON is a JSON array nested n levels deep.
func deepJSON(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// TestDiffChangeUndecodable: an image Go cannot decode (a jsonb value
// nested 10,001 levels deep, which PostgreSQL stores) makes DiffChange
// fail with a *DecodeError naming the part, with no fields: never a field
// shown hidden ("excluded, recorded nowhere") or its prior value shown as
// not stored.
func TestDiffChangeUndecodable(t *testing.T) {
	deep := `{"id": 1, "doc": ` + deepJSON(10001) + `, "note": "b"}`
	for _, c := range []struct {
		change Change
		part   string
	}{
		{Change{ID: 1, Op: OpUpdate, PK: json.RawMessage(`{"id": 1}`), After: json.RawMessage(deep), ChangedFields: []string{"doc", "note"},
			ChangedFrom: json.RawMessage(`{"doc": {}, "note": "a"}`)}, "after"},
		{Change{ID: 2, Op: OpUpdate, PK: json.RawMessage(`{"id": 1}`), After: json.RawMessage(`{"id": 1, "doc": {}, "note": "c"}`),
			ChangedFields: []string{"doc", "note"}, ChangedFrom: json.RawMessage(deep)}, "changed_from"},
		{Change{ID: 3, Op: OpInsert, PK: json.RawMessage(`{"id": 1}`), After: json.RawMessage(deep)}, "after"},
		{Change{ID: 4, Op: OpDelete, PK: json.RawMessage(`{"id": 1}`), Before: json.RawMessage(deep)}, "before"},
		{Change{ID: 5, Op: OpInsert, PK: json.RawMessage(`{"id": 1}`), After: json.RawMessage(`[1]`)}, "after"},
	} {
		d, err := DiffChange(c.change)
		var de *DecodeError
		if !errors.As(err, &de) || de.ChangeID != c.change.ID || de.Part != c.part {
			t.Errorf("change %d: err = %v, want a *DecodeError for %s", c.change.ID, err, c.part)
		}
		if d.Fields == nil || len(d.Fields) != 0 || d.PriorOmitted || d.ChangeID != c.change.ID || string(d.PK) != `{"id":1}` {
			t.Errorf("change %d: diff %+v, want its metadata and no fields", c.change.ID, d)
		}
	}
	// 9,999 levels inside the image (10,000 in all) still decode.
	d, err := DiffChange(Change{ID: 6, Op: OpUpdate, After: json.RawMessage(`{"doc": ` + deepJSON(9999) + `}`), ChangedFields: []string{"doc"}})
	if err != nil || len(d.Fields) != 1 || d.Fields[0].Hidden || len(d.Fields[0].After) != 2*9999 {
		t.Errorf("9,999 levels: %v %+v", err, d.Fields)
	}
}
