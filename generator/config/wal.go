package config

import (
	"regexp"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/schema"
)

// The capture engines (engine:).
const (
	// EngineTrigger captures in the writing transaction with generated
	// triggers (the default).
	EngineTrigger = "trigger"
	// EngineWAL captures from logical decoding: the generator writes a
	// publication and replica identities, and `threadline capture`
	// writes the trail.
	EngineWAL = "wal"
)

// The replica identities wal.replica_identity accepts.
const (
	// IdentityFull sends every old value of an updated or deleted row:
	// what the trail's before-images and changed fields need (default).
	IdentityFull = "full"
	// IdentityDefault sends only the old key: smaller WAL for tables with
	// large TOASTed values, but updates then carry no before-image.
	IdentityDefault = "default"
)

// Default names of the WAL engine's publication and slot.
const (
	DefaultPublication = "threadline"
	DefaultSlot        = "threadline"
)

// WAL is the wal section: the WAL engine's replication objects. With
// engine: trigger, the section prepares a switch: the generator writes
// the publication (empty) and the attribute() that also sends the logical
// message, and keeps the triggers (Config.WALPrepared).
type WAL struct {
	// Pos is where the section starts (zero when absent).
	Pos Pos
	// Slot is the logical replication slot `threadline capture` reads.
	Slot string
	// Publication is the publication the generator writes.
	Publication string
	// AuditDatabaseURL, when set, is where the consumer writes the trail
	// (a database or server other than the captured one); environment
	// variables are expanded. "" writes into the captured database.
	AuditDatabaseURL    string
	AuditDatabaseURLRaw string
	// ReplicaIdentity maps tables to IdentityDefault; every other
	// captured table gets IdentityFull.
	ReplicaIdentity map[schema.QualifiedName]string
}

// WALPrepared reports whether the config asks for the WAL engine's objects:
// engine: wal, or a wal section with engine: trigger (a switch prepared).
func (c *Config) WALPrepared() bool {
	return c.Engine == EngineWAL || c.WAL.Pos != (Pos{})
}

// Identity returns the replica identity the generator sets on table q.
func (w WAL) Identity(q schema.QualifiedName) string {
	if v, ok := w.ReplicaIdentity[q]; ok {
		return v
	}
	return IdentityFull
}

// replicationName is what a slot name may hold (PostgreSQL: lower-case
// letters, digits and underscores, at most 63 bytes); publications follow
// the same rule here so that neither needs quoting in a connection string.
var replicationName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// engine decodes engine.
func (d *decoder) engine(cfg *Config) func(k, v *yaml.Node) error {
	return func(_, v *yaml.Node) error {
		s, err := d.str(v, "engine")
		if err != nil {
			return err
		}
		cfg.Engine, cfg.EnginePos = s, d.pos(v)
		switch s {
		case EngineTrigger, EngineWAL:
			return nil
		}
		return d.errf(v, "engine: %q: want trigger or wal", short(s))
	}
}

// wal decodes the wal section.
func (d *decoder) wal(w *WAL) func(k, v *yaml.Node) error {
	return func(k, v *yaml.Node) error {
		w.Pos = d.pos(k)
		name := func(path string, dst *string) func(_, v *yaml.Node) error {
			return func(_, v *yaml.Node) error {
				s, err := d.nonEmpty(v, path)
				if err != nil {
					return err
				}
				if !replicationName.MatchString(s) {
					d.problem(d.pos(v), "%s: %q: want lower-case letters, digits and underscores, at most 63, not starting with a digit", path, short(s))
				}
				*dst = s
				return nil
			}
		}
		return d.mapping(k, v, "wal", []field{
			{name: "slot", decode: name("wal.slot", &w.Slot)},
			{name: "publication", decode: name("wal.publication", &w.Publication)},
			{name: "audit_database_url", decode: func(_, v *yaml.Node) error {
				raw, err := d.nonEmpty(v, "wal.audit_database_url")
				if err != nil {
					return err
				}
				url, err := expandEnv(raw, d.getenv)
				if err != nil {
					return d.errf(v, "wal.audit_database_url: %v", err)
				}
				w.AuditDatabaseURL, w.AuditDatabaseURLRaw = url, raw
				return nil
			}},
			{name: "replica_identity", decode: func(_, v *yaml.Node) error { return d.replicaIdentity(v, w) }},
		})
	}
}

// replicaIdentity decodes wal.replica_identity: a mapping of table names
// ("schema.table", unqualified means public) to full or default.
func (d *decoder) replicaIdentity(v *yaml.Node, w *WAL) error {
	r := resolve(v)
	if isNull(r) {
		return nil
	}
	if r.Kind != yaml.MappingNode {
		return d.errf(v, "wal.replica_identity: want a mapping of table names to full or default, got %s", describe(r))
	}
	pairs, err := d.pairs(r, "wal.replica_identity")
	if err != nil {
		return err
	}
	w.ReplicaIdentity = map[schema.QualifiedName]string{}
	for _, p := range pairs {
		key := resolve(p.key)
		q, err := contract.ParseQualifiedName(key.Value, "public")
		if err != nil {
			d.problem(d.pos(p.key), "wal.replica_identity: %q: %v", short(key.Value), err)
			continue
		}
		path := "wal.replica_identity." + key.Value
		s, err := d.str(p.val, path)
		if err != nil {
			return err
		}
		switch s {
		case IdentityFull, IdentityDefault:
			w.ReplicaIdentity[q] = s
		default:
			d.problem(d.pos(p.val), "%s: %q: want full or default", path, short(s))
		}
	}
	return nil
}

// checkWAL fills the wal section's defaults and checks that it names
// only captured tables.
func (d *decoder) checkWAL(cfg *Config) {
	if cfg.WAL.Slot == "" {
		cfg.WAL.Slot = DefaultSlot
	}
	if cfg.WAL.Publication == "" {
		cfg.WAL.Publication = DefaultPublication
	}
	captured := map[schema.QualifiedName]bool{}
	for _, t := range cfg.Tables {
		captured[t.Qualified()] = true
	}
	var names []schema.QualifiedName
	for q := range cfg.WAL.ReplicaIdentity {
		names = append(names, q)
	}
	sort.Slice(names, func(i, j int) bool { return names[i].Less(names[j]) })
	for _, q := range names {
		if !captured[q] {
			d.problem(cfg.WAL.Pos, "wal.replica_identity: %s is not under tables", q)
		}
	}
}
