package generator

import (
	"strings"
	"testing"

	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/sqltemplates"
)

// TestCoreDownNeedsRecordedInputs: the down of a helper function update
// renders the previous functions again only from recorded inputs this
// release renders to the installed fingerprint; otherwise (an earlier
// release's install) the down refuses, saying why.
func TestCoreDownNeedsRecordedInputs(t *testing.T) {
	tables := map[schema.QualifiedName]*tableState{}
	old := state{Core: "sha256:an-earlier-release", Tables: tables}
	m, _, err := planMigration("threadline", sqltemplates.Grants{}, sqltemplates.Storage{}, old, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Irreversible, "replaces functions an earlier release of threadline-gen installed") {
		t.Fatalf("update over an earlier release: Irreversible = %q", m.Irreversible)
	}

	prev := coreInputs{Grants: sqltemplates.Grants{Readers: []string{"old_reader"}}}
	old = state{Core: coreFingerprint("threadline", prev.Grants, prev.Storage), CoreInputs: &prev, Tables: tables}
	m, _, err = planMigration("threadline", sqltemplates.Grants{Readers: []string{"new_reader"}}, sqltemplates.Storage{}, old, nil)
	if err != nil {
		t.Fatal(err)
	}
	down := strings.Join(m.Down, ";\n")
	if m.Irreversible != "" || !strings.Contains(down, `REVOKE ALL ON SCHEMA "threadline" FROM "new_reader"`) ||
		!strings.Contains(down, `audit_actions TO "old_reader"`) {
		t.Fatalf("update of recorded inputs: Irreversible %q, down:\n%s", m.Irreversible, down)
	}
}
