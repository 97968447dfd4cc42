package threadline

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/threadline-go/threadline/internal/trailread"
)

// TestStoredActorFast checks the decoder's fast path against the full
// decoder on the text PostgreSQL prints for jsonb actor references,
// including shapes the fast path must leave to the full decoder.
func TestStoredActorFast(t *testing.T) {
	inputs := []string{
		`{"id": "u-1", "type": "user"}`,
		`{"id": "svc", "type": "service_account"}`,
		`{"type": "anonymous"}`,
		`{"id": "x", "type": "anonymous"}`,
		`{"id": "", "type": "user"}`,
		`{"id": "  ", "type": "user"}`,
		`{"id": "a\"b", "type": "user"}`,
		`{"id": "a\\b", "type": "user"}`,
		`{"id": "a\nb", "type": "user"}`,
		`{"id": "x", "type": "robot"}`,
		`{"id": "x", "type": "user", "extra": 1}`,
		`{"z": 1, "id": "x", "type": "user"}`,
		`{"id": "x\", \"type\": \"admin", "type": "user"}`,
		`{"id": "ünï", "type": "job"}`,
		`{"id": 5, "type": "user"}`,
		`{"id": "x", "type": "user"`,
		`[1]`,
	}
	for _, in := range inputs {
		var want *ActorRef
		var full ActorRef
		if err := json.Unmarshal([]byte(in), &full); err == nil {
			want = &full
		}
		fast, ok := storedActorFast([]byte(in))
		if ok && (want == nil || !reflect.DeepEqual(fast, *want)) {
			t.Errorf("%s: fast path decoded %+v, full decoder %+v", in, fast, want)
		}
		// The second change reuses the first one's actor (the read
		// engine hands it over when the actor columns repeat), as its own
		// copy.
		r := trailread.Row{Actor: []byte(in)}
		first := decodeChange(&r, nil)
		second := decodeChange(&r, &first)
		for i, got := range []*ActorRef{first.Actor, second.Actor} {
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s (change %d): decode = %+v, want %+v", in, i+1, got, want)
			}
		}
		if first.Actor != nil && first.Actor == second.Actor {
			t.Errorf("%s: two changes share one ActorRef", in)
		}
	}
	if _, ok := storedActorFast([]byte(`{"id": "u-1", "type": "user"}`)); !ok {
		t.Error("the common shape missed the fast path")
	}
}
