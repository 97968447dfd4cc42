package threadline_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	threadline "github.com/threadline-go/threadline/runtime"
)

func TestPageJSON(t *testing.T) {
	at := time.Date(2026, 12, 6, 23, 0, 0, 123456000, time.UTC)
	actor := threadline.User("42")
	c := threadline.Change{ID: 7, TransactionID: 3, Schema: "public", Table: "users", PK: json.RawMessage(`{"id":1}`),
		Op: threadline.OpInsert, After: json.RawMessage(`{"id":1}`), CapturedAt: at, Actor: &actor}
	for _, tc := range []struct {
		name string
		page threadline.Page
		want string
	}{
		{"empty", threadline.Page{}, `{"changes":[],"next":null}`},
		{"last page", threadline.Page{Changes: []threadline.Change{c}},
			`{"changes":[{"id":7,"transaction_id":3,"schema":"public","table":"users","pk":{"id":1},"pk_before":null,"op":"insert",` +
				`"after":{"id":1},"before":null,"changed_fields":null,"changed_from":null,"captured_at":"2026-12-06T23:00:00.123456Z",` +
				`"actor":{"type":"user","id":"42"},"action_id":null}],"next":null}`},
		{"more", threadline.Page{Changes: []threadline.Change{}, Next: c.Cursor(), SearchedFrom: at},
			`{"changes":[],"next":"2026-12-06T23:00:00.123456Z_7","searched_from":"2026-12-06T23:00:00.123456Z"}`},
	} {
		b, err := json.Marshal(tc.page)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, b, tc.want)
		}
		var back threadline.Page
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(back.Next, tc.page.Next) || !back.SearchedFrom.Equal(tc.page.SearchedFrom) || len(back.Changes) != len(tc.page.Changes) {
			t.Errorf("%s: round trip %+v", tc.name, back)
		}
	}
}
