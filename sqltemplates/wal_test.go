package sqltemplates

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/threadline-go/threadline/internal/contract"
)

// TestWALRulesReadCaptureRecords checks that contract.WALRules, what
// threadline capture reads of an audit_wal_tables record, reads every
// field it names from the JSON of a Capture (walUnit writes that JSON).
func TestWALRulesReadCaptureRecords(t *testing.T) {
	c := Capture{
		Columns: []string{"id", "email", "secret", "seen_at"},
		Key:     []string{"id"}, Exclude: []string{"secret"}, Mask: []string{"email"}, Placeholder: "[hidden]",
		Except: []string{"seen_at"}, StoreChangedFrom: true,
		WAL: &WALCapture{Publication: "threadline", Identity: "full"},
	}
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got contract.WALRules
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := contract.WALRules{Key: c.Key, Exclude: c.Exclude, Mask: c.Mask, Placeholder: c.Placeholder, Except: c.Except, StoreChangedFrom: true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("WALRules read %+v from %s, want %+v", got, raw, want)
	}
	// Every WALRules field is one Capture has, with the same JSON name.
	ct := reflect.TypeOf(Capture{})
	rt := reflect.TypeOf(contract.WALRules{})
	for i := range rt.NumField() {
		f := rt.Field(i)
		cf, ok := ct.FieldByName(f.Name)
		if !ok || cf.Tag.Get("json") != f.Tag.Get("json") {
			t.Errorf("WALRules.%s (json %q) has no Capture field with the same JSON name", f.Name, f.Tag.Get("json"))
		}
	}
}
