package sqltemplates

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/threadline-go/threadline/internal/contract"
)

// WALMessagePrefix is the prefix of the logical messages that carry a
// transaction's attribution with engine: wal (contract.WALMessagePrefix).
const WALMessagePrefix = contract.WALMessagePrefix

// WALCore configures the audit schema for engine: wal (Storage.WAL).
type WALCore struct {
	// Publication is the publication the captured tables join.
	Publication string `json:"publication"`
}

// WALCapture marks a Capture as captured by engine: wal (Capture.WAL).
type WALCapture struct {
	// Publication is the publication the table joins.
	Publication string `json:"publication"`
	// Identity is the table's replica identity, "full" or "default".
	Identity string `json:"identity"`
}

// walData is the data of the wal templates.
type walData struct {
	coreData
	Pub, PubLit, PrefixLit, ActionsLit     string
	On, OnLit, SchemaLit, NameLit, Comment string
	Identity, CaptureLit                   string
}

func newWALData(d coreData, pub string) walData {
	return walData{coreData: d, Pub: QuoteIdent(pub), PubLit: QuoteLiteral(pub), PrefixLit: QuoteLiteral(WALMessagePrefix),
		ActionsLit: QuoteLiteral(d.S + ".audit_actions")}
}

// walFunctions returns the statements engine: wal adds to Functions: the
// publication, the tables threadline capture reads and writes, and the
// attribute function that sends a logical message. Nil for the trigger
// engine.
func walFunctions(d coreData, st Storage) []Statement {
	if st.WAL == nil {
		return nil
	}
	w := newWALData(d, st.WAL.Publication)
	var out []Statement
	for _, name := range []string{"wal_publication", "wal_tables", "wal_tables_comment", "wal_progress", "wal_progress_comment", "wal_attribute"} {
		out = append(out, render(name, w))
	}
	return out
}

// walUnit renders what engine: wal installs for one table: its replica
// identity, its membership of the publication and its audit_wal_tables
// row. No trigger and no function.
func walUnit(c Capture) (Unit, error) {
	rec, err := json.Marshal(c)
	if err != nil {
		return Unit{}, fmt.Errorf("capture %s: %w", c.Table, err)
	}
	d := newWALData(newCoreData(c.AuditSchema, Storage{}), c.WAL.Publication)
	d.On, d.OnLit = c.Table.Quoted(), QuoteLiteral(c.Table.Quoted())
	d.SchemaLit, d.NameLit, d.Comment = QuoteLiteral(c.Table.Schema), QuoteLiteral(c.Table.Name), commentSafe(c.Table.String())
	d.Identity, d.CaptureLit = "FULL", QuoteLiteral(string(rec))
	if c.WAL.Identity == "default" {
		d.Identity = "DEFAULT"
	}
	add := fixDollarTag(render("wal_add", d))
	drop := fixDollarTag(render("wal_drop", d))
	sum := sha256.Sum256([]byte(add))
	fp := "sha256:" + hex.EncodeToString(sum[:])[:32]
	// A trigger capture installed before (a switch from engine: trigger)
	// is dropped by its own unit; Clear drops the trigger names a renamed
	// table may carry.
	clear := captureClear(c)
	return Unit{
		Table:       c.Table,
		Fingerprint: fp,
		Create:      []Statement{add},
		Clear:       clear,
		Drop:        []Statement{drop},
	}, nil
}

// captureClear renders the trigger engine's Clear for c (DROP TRIGGER IF
// EXISTS of every Threadline trigger name).
func captureClear(c Capture) []Statement {
	t := c
	t.WAL = nil
	u, err := CaptureUnit(t)
	if err != nil {
		return nil
	}
	return u.Clear
}
