package config

import (
	"strings"
	"testing"

	"github.com/threadline-go/threadline/schema"
)

const walBase = `version: 1
schema:
  files: [schema.sql]
migrations:
  dir: migrations
  format: plain
package:
  dir: audit
tables:
  users: {}
  billing.invoices: {}
`

// TestEngineDefault: without engine the trigger engine is used and the
// wal section's names take their defaults.
func TestEngineDefault(t *testing.T) {
	cfg, err := Parse("cfg/threadline.yaml", []byte(walBase), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Engine != EngineTrigger || cfg.WAL.Slot != DefaultSlot || cfg.WAL.Publication != DefaultPublication {
		t.Fatalf("engine %q, wal %+v", cfg.Engine, cfg.WAL)
	}
}

// TestEngineWAL decodes engine: wal with every key of the wal section.
func TestEngineWAL(t *testing.T) {
	y := walBase + `engine: wal
wal:
  slot: app_slot
  publication: app_pub
  audit_database_url: postgres://audit@${AUDIT_HOST}/trail
  replica_identity:
    billing.invoices: default
    users: full
`
	cfg, err := Parse("cfg/threadline.yaml", []byte(y), env(map[string]string{"AUDIT_HOST": "h"}))
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.WAL
	if cfg.Engine != EngineWAL || w.Slot != "app_slot" || w.Publication != "app_pub" || w.AuditDatabaseURL != "postgres://audit@h/trail" {
		t.Fatalf("%+v", w)
	}
	if w.Identity(schema.QualifiedName{Schema: "billing", Name: "invoices"}) != IdentityDefault ||
		w.Identity(schema.QualifiedName{Schema: "public", Name: "users"}) != IdentityFull {
		t.Fatalf("identities %v", w.ReplicaIdentity)
	}
}

// TestWALSectionPreparesSwitch: a wal section with the trigger engine is
// valid: it prepares a switch (Config.WALPrepared).
func TestWALSectionPreparesSwitch(t *testing.T) {
	cfg, err := Parse("cfg/threadline.yaml", []byte(walBase+"wal:\n  slot: s\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Engine != EngineTrigger || !cfg.WALPrepared() || cfg.WAL.Slot != "s" {
		t.Fatalf("engine %q, prepared %v, wal %+v", cfg.Engine, cfg.WALPrepared(), cfg.WAL)
	}
	cfg, err = Parse("cfg/threadline.yaml", []byte(walBase), env(nil))
	if err != nil || cfg.WALPrepared() {
		t.Fatalf("no wal section: prepared %v, %v", cfg != nil && cfg.WALPrepared(), err)
	}
}

// TestEngineErrors: every wrong engine or wal value is an error at its
// file:line:col.
func TestEngineErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"engine: logical\n", `cfg/threadline.yaml:12:9: engine: "logical": want trigger or wal`},
		{"engine: wal\nwal:\n  slot: Bad-Name\n", `cfg/threadline.yaml:14:9: wal.slot: "Bad-Name": want lower-case letters`},
		{"engine: wal\nwal:\n  publication: 1pub\n", `cfg/threadline.yaml:14:16: wal.publication: "1pub"`},
		{"engine: wal\nwal:\n  replica_identity:\n    users: nothing\n", `cfg/threadline.yaml:15:12: wal.replica_identity.users: "nothing": want full or default`},
		{"engine: wal\nwal:\n  replica_identity:\n    orders: full\n", "cfg/threadline.yaml:13:1: wal.replica_identity: public.orders is not under tables"},
		{"engine: wal\nwal:\n  replica_identity: [users]\n", "cfg/threadline.yaml:14:21: wal.replica_identity: want a mapping"},
		{"engine: wal\nwal:\n  sloot: x\n", "cfg/threadline.yaml:14:3: "},
	} {
		_, err := Parse("cfg/threadline.yaml", []byte(walBase+tc.yaml), env(nil))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want prefix %q", tc.yaml, err, tc.want)
		}
	}
}
