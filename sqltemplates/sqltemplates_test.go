package sqltemplates

import (
	"strings"
	"testing"

	"github.com/threadline-go/threadline/internal/contract"
)

// TestTriggerTemplatesCreateTheirTrigger checks that each trigger template
// creates the trigger contract names for it: the templates spell the name
// themselves, and the runtime's coverage check looks for contract's.
func TestTriggerTemplatesCreateTheirTrigger(t *testing.T) {
	if len(triggerTemplate) != len(contract.TriggerNames) {
		t.Fatalf("%d trigger templates for %d trigger names", len(triggerTemplate), len(contract.TriggerNames))
	}
	for _, name := range contract.TriggerNames {
		got := render(triggerTemplate[name], captureData{c: &Capture{}, On: `"s"."t"`, Func: `"a"."f"`, S: `"a"`})
		if !strings.HasPrefix(got, "CREATE TRIGGER "+name+" ") {
			t.Errorf("template %s renders %q, want CREATE TRIGGER %s", triggerTemplate[name], got, name)
		}
	}
}
