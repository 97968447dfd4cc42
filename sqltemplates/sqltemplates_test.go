package sqltemplates

import (
	"regexp"
	"slices"
	"testing"

	"github.com/threadline-go/threadline/internal/contract"
)

// TestCaptureUnitCreatesContractTriggers checks that a capture unit creates
// exactly the triggers contract names for its mode: the templates take the
// name from the unit (they spell none themselves), and the runtime's
// coverage check looks for contract's names.
func TestCaptureUnitCreatesContractTriggers(t *testing.T) {
	created := regexp.MustCompile(`^CREATE TRIGGER "([a-z_]+)" `)
	for _, mode := range []contract.Mode{contract.ModeStatement, contract.ModeRow} {
		u, err := CaptureUnit(Capture{AuditSchema: "a", Table: contract.QualifiedName{Schema: "s", Name: "t"},
			Columns: []string{"id"}, Key: []string{"id"}, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range u.Create {
			if m := created.FindStringSubmatch(s); m != nil {
				got = append(got, m[1])
			}
		}
		if want := contract.Triggers(mode); !slices.Equal(got, want) {
			t.Errorf("%s: creates triggers %v, want %v", mode, got, want)
		}
	}
}
