package threadline

import (
	"encoding/json"
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

func TestDiffChangeGolden(t *testing.T) {
	var diffs []ChangeDiff
	for _, c := range diffCases() {
		diffs = append(diffs, DiffChange(c))
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
	ins := DiffChange(cs[0])
	if ins.SchemaVersion != 1 || ins.PriorOmitted || len(ins.Fields) != 5 || ins.Fields[0].Field != "display_name" ||
		ins.Fields[0].Kind != FieldSet || ins.Fields[0].Before != nil || string(ins.Fields[0].After) != `"Ada"` {
		t.Errorf("insert diff: %+v", ins)
	}
	// A NULL value is JSON null, not an absent value.
	if f := ins.Fields[3]; f.Field != "nickname" || string(f.After) != "null" {
		t.Errorf("insert null field: %+v", f)
	}
	upd := DiffChange(cs[1])
	if upd.PriorOmitted || len(upd.Fields) != 3 || string(upd.Fields[2].Before) != "null" || string(upd.Fields[2].After) != `"ada"` {
		t.Errorf("update diff: %+v", upd)
	}
	omitted := DiffChange(cs[2])
	if !omitted.PriorOmitted || !omitted.Fields[0].PriorOmitted || omitted.Fields[0].Before != nil {
		t.Errorf("update without changed_from: %+v", omitted)
	}
	del := DiffChange(cs[4])
	if len(del.Fields) != 4 || del.Fields[0].Kind != FieldRemoved || del.Fields[0].After != nil || string(del.Fields[0].Before) != "12.50" {
		t.Errorf("delete diff: %+v", del)
	}
	tr := DiffChange(cs[5])
	if tr.Fields == nil || len(tr.Fields) != 0 || string(tr.PK) != "null" {
		t.Errorf("truncate diff: %+v", tr)
	}
	b, _ := json.Marshal(tr)
	if want := `{"schema_version":1,"change_id":6,"transaction_id":15,"schema":"public","table":"countries","op":"truncate","pk":null,"captured_at":"2026-01-02T03:04:10.123456Z","prior_omitted":false,"fields":[]}`; string(b) != want {
		t.Errorf("truncate JSON:\n%s\nwant\n%s", b, want)
	}
}
