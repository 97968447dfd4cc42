package threadlineops_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

const proofDDL = `CREATE TABLE items (id bigint PRIMARY KEY, v numeric, "my note" text);
CREATE TABLE notes (id bigint PRIMARY KEY, body text);`

// proofWorld seals items' history in seal 1 (an attributed transaction
// with an action, then an update and a delete), then one note in seal 2
// and another in seal 3.
func proofWorld(t *testing.T) (*pgtest.DB, []threadlineops.SealResult) {
	t.Helper()
	db := capturetest.Setup(t, proofDDL, "  items: {store_changed_from: true}\n  notes: {}\n")
	actor := threadline.TxOptions{Actor: threadline.User("7"), RequestID: "req-1"}
	capturetest.Tx(t, db, actor, "items.create", "INSERT INTO items VALUES (1, 1.50, 'one'), (2, 2, 'two')")
	capturetest.Tx(t, db, threadline.TxOptions{}, "", `UPDATE items SET v = 10, "my note" = 'ten, "quoted"' WHERE id = 1`, "DELETE FROM items WHERE id = 2")
	seals := []threadlineops.SealResult{seal(t, db)}
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "INSERT INTO notes VALUES (1, 'n1')")
	seals = append(seals, seal(t, db))
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "INSERT INTO notes VALUES (2, 'n2')")
	return db, append(seals, seal(t, db))
}

func seal(t *testing.T, db *pgtest.DB) threadlineops.SealResult {
	t.Helper()
	res, err := sealOps.Seal(context.Background(), db.Pool)
	if err != nil || res.Seal == 0 {
		t.Fatalf("seal: %+v %v", res, err)
	}
	return res
}

// exportProof exports the changes f selects as NDJSON with their proofs
// leading to head (default: the latest seal).
func exportProof(t *testing.T, db *pgtest.DB, f threadline.Filter, head string) (string, threadlineops.ProofResult, error) {
	t.Helper()
	ctx := context.Background()
	var out strings.Builder
	var refs []threadlineops.ChangeRef
	opts := threadline.ExportOptions{Written: func(id, tx int64) { refs = append(refs, threadlineops.ChangeRef{ID: id, TransactionID: tx}) }}
	opts.Filter = f
	if _, err := (threadline.Audit{}).Export(ctx, db.Pool, &out, opts); err != nil {
		t.Fatal(err)
	}
	res, err := sealOps.WriteProofs(ctx, db.Pool, &out, refs, threadlineops.ProofOptions{Head: head})
	return out.String(), res, err
}

// mustExportProof is exportProof that must succeed.
func mustExportProof(t *testing.T, db *pgtest.DB, f threadline.Filter, head string) string {
	t.Helper()
	doc, _, err := exportProof(t, db, f, head)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// checkFails checks doc against head and wants an error containing want.
func checkFails(t *testing.T, what, doc, head, want string) {
	t.Helper()
	rep, err := threadlineops.CheckProofs(strings.NewReader(doc), head)
	if err == nil || !errors.Is(err, threadlineops.ErrProofFailed) || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: %+v, %v; want an error with %q\n%s", what, rep, err, want, doc)
	}
}

var items = threadline.Filter{Table: "items"}

// TestProofGenuine: an export with proofs checks against the head it was
// written for, latest or older, and a change sealed in seal 1 checks
// against the head of seal 3; not against another head.
func TestProofGenuine(t *testing.T) {
	db, seals := proofWorld(t)
	doc, res, err := exportProof(t, db, items, "")
	if err != nil || res != (threadlineops.ProofResult{Changes: 4, FirstSeal: 1, LastSeal: 3, Head: seals[2].Head}) {
		t.Fatalf("WriteProofs: %+v %v", res, err)
	}
	rep, err := threadlineops.CheckProofs(strings.NewReader(doc), seals[2].Head)
	if err != nil || rep != (threadlineops.ProofReport{Changes: 4, FirstSeal: 1, LastSeal: 3, Head: seals[2].Head}) {
		t.Fatalf("seal 1's changes against the head of seal 3: %+v %v\n%s", rep, err, doc)
	}
	checkFails(t, "against seal 1's head", doc, seals[0].Head, "the recorded head is the head of seal 1, but the proofs go on to seal 3")
	checkFails(t, "against another head", doc, strings.Repeat("ab", 32), "the head of the last seal (3) is not the recorded head")
	if _, err := threadlineops.CheckProofs(strings.NewReader(doc), "nothex"); err == nil || !strings.Contains(err.Error(), `head "nothex" is not a 64-digit hex head`) {
		t.Fatalf("malformed head: %v", err)
	}

	older := mustExportProof(t, db, items, seals[1].Head)
	if rep, err := threadlineops.CheckProofs(strings.NewReader(older), seals[1].Head); err != nil || rep.LastSeal != 2 || rep.Changes != 4 {
		t.Fatalf("against the older head of seal 2: %+v %v\n%s", rep, err, older)
	}
	all := mustExportProof(t, db, threadline.Filter{}, "")
	if rep, err := threadlineops.CheckProofs(strings.NewReader(all), seals[2].Head); err != nil || rep.Changes != 6 || rep.FirstSeal != 1 {
		t.Fatalf("every change: %+v %v\n%s", rep, err, all)
	}
	if _, _, err := exportProof(t, db, threadline.Filter{}, seals[1].Head); !errors.Is(err, threadlineops.ErrNotSealed) ||
		!strings.Contains(err.Error(), "1 of the 6 exported changes are not sealed by seal 2") {
		t.Fatalf("a head before the seal of an exported change: %v", err)
	}
	// Re-encoded lines (keys sorted, so in another order) check: the
	// comparison is by meaning.
	var reencoded []string
	for _, l := range strings.Split(strings.TrimSuffix(doc, "\n"), "\n") {
		reencoded = append(reencoded, string(mustMarshal(t, decodeLine(t, l))))
	}
	if _, err := threadlineops.CheckProofs(strings.NewReader(strings.Join(reencoded, "\n")), seals[2].Head); err != nil {
		t.Fatalf("re-encoded: %v", err)
	}
	if rep, err := threadlineops.CheckProofs(strings.NewReader(""), seals[2].Head); err != nil || rep.Changes != 0 {
		t.Fatalf("an empty export: %+v %v", rep, err)
	}
}

// TestProofVersion1Seal: a chain whose first seal is a version 1 seal of
// an earlier release proves its changes through it.
func TestProofVersion1Seal(t *testing.T) {
	db := capturetest.Setup(t, proofDDL, "  items: {}\n  notes: {}\n")
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "INSERT INTO items VALUES (1, 1, 'one')")
	seal(t, db)
	db.Exec(t, `UPDATE threadline.audit_seals AS s SET version = 1, purges_digest = NULL, entries_digest = NULL,
		head = sha256(convert_to('threadline seal v1', 'UTF8') || s.prev_head || int8send(s.id)
			|| decode('01', 'hex') || int4send(octet_length(s.snapshot)) || convert_to(s.snapshot, 'UTF8')
			|| (SELECT string_agg(int8send(e.transaction_id) || e.digest, ''::bytea ORDER BY e.transaction_id)
				FROM threadline.audit_seal_entries AS e WHERE e.seal_id = s.id))
		WHERE id = 1`)
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "INSERT INTO notes VALUES (1, 'n1')")
	second := seal(t, db)
	if _, problems := verify(t, db, threadlineops.VerifyOptions{Head: second.Head}); problems != "" {
		t.Fatalf("verify: %s", problems)
	}
	doc := mustExportProof(t, db, threadline.Filter{}, "")
	if !strings.Contains(doc, `"version":1,`) || !strings.Contains(doc, `"transactions":[[`) {
		t.Fatalf("no version 1 seal line:\n%s", doc)
	}
	if rep, err := threadlineops.CheckProofs(strings.NewReader(doc), second.Head); err != nil || rep.Changes != 2 || rep.FirstSeal != 1 || rep.LastSeal != 2 {
		t.Fatalf("CheckProofs: %+v %v\n%s", rep, err, doc)
	}
	checkFails(t, "a version 1 seal edited", editSeal(t, doc, 1, func(s map[string]any) { s["snapshot"] = "1:2:" }), second.Head,
		"seal 1: its fields do not give its head")
}

// TestProofEditedLines: a change line whose actor or value was edited,
// or that carries anything no seal covers, fails.
func TestProofEditedLines(t *testing.T) {
	db, seals := proofWorld(t)
	doc := mustExportProof(t, db, items, "")
	head := seals[2].Head
	// The insert of item 1, by user 7 with request id req-1.
	n, first := 0, map[string]any(nil)
	for i, l := range lines(doc) {
		if m := decodeLine(t, l); m["op"] == "insert" && fmt.Sprint(m["table_pk"]) == "map[id:1]" {
			n, first = i+1, m
		}
	}
	id := first["id"]
	at1 := fmt.Sprintf("change %s (line %d): ", id, n)
	edit := func(f func(m map[string]any)) string {
		return editData(t, doc, fmt.Sprint(id), f)
	}
	checkFails(t, "edited actor", edit(func(m map[string]any) { m["actor"] = map[string]any{"type": "user", "id": "8"} }), head,
		at1+"its actor is not the one in the record of its transaction")
	checkFails(t, "actor removed", edit(func(m map[string]any) { m["actor"] = nil }), head, "its actor is not the one")
	checkFails(t, "edited request id", edit(func(m map[string]any) { m["request_id"] = "req-2" }), head, "its request_id is not the one")
	checkFails(t, "edited value", edit(func(m map[string]any) {
		after := m["data_after"].(map[string]any)
		after["my note"] = "forged"
	}), head, at1+"its data_after is not the one in its record")
	checkFails(t, "edited time", edit(func(m map[string]any) { m["captured_at"] = "2020-01-01T00:00:00.000000Z" }), head, "its captured_at is not the one")
	checkFails(t, "edited table", edit(func(m map[string]any) { m["table_name"] = "notes" }), head, "its table_name is not the one")
	checkFails(t, "an added field", edit(func(m map[string]any) { m["approved_by"] = "ceo" }), head, `"approved_by" is not a field of an exported change: no seal covers it`)
	checkFails(t, "a removed field", edit(func(m map[string]any) { delete(m, "data_before") }), head, `not an exported change: it has no "data_before"`)
	// The same instant in another zone is the same value.
	at, err := time.Parse(time.RFC3339Nano, first["captured_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	same := edit(func(m map[string]any) { m["captured_at"] = at.In(time.FixedZone("x", 3600)).Format(time.RFC3339Nano) })
	if _, err := threadlineops.CheckProofs(strings.NewReader(same), head); err != nil {
		t.Fatalf("captured_at in another zone: %v", err)
	}
	// A key given twice: readers disagree on which one counts.
	dup := strings.Replace(doc, `"op":"insert"`, `"op":"insert","op":"delete"`, 1)
	checkFails(t, "a duplicate key", dup, head, `not a JSON line: the key "op" twice in one object`)
}

// TestProofUnproven: a change line without a proof, an unsealed change,
// a change edited in the database after sealing, and lines given twice,
// out of place or missing fail.
func TestProofUnproven(t *testing.T) {
	db, seals := proofWorld(t)
	head := seals[2].Head
	doc := mustExportProof(t, db, items, "")
	d := splitProof(t, doc)
	notes := splitProof(t, mustExportProof(t, db, threadline.Filter{Table: "notes"}, ""))
	noteID := decodeLine(t, notes.data[0])["id"]
	checkFails(t, "a change line without proof", proofDoc{data: append(d.data[:len(d.data):len(d.data)], notes.data[0]), proofs: d.proofs, seals: d.seals}.String(),
		head, fmt.Sprintf("line 5: change %s has no proof", noteID))
	for i, p := range d.proofs {
		if strings.HasPrefix(p, `{"proof_change"`) {
			rest := append(append([]string{}, d.proofs[:i]...), d.proofs[i+1:]...)
			checkFails(t, "a proof_change line removed", proofDoc{data: d.data, proofs: rest, seals: d.seals}.String(), head, "has no proof before the proof of its transaction")
			break
		}
	}
	mutations := []struct{ what, doc, want string }{
		{"a change line twice", proofDoc{data: append([]string{d.data[0]}, d.data...), proofs: d.proofs, seals: d.seals}.String(), "line 2: change"},
		{"a seal line twice", proofDoc{data: d.data, proofs: d.proofs, seals: append(d.seals, d.seals[2])}.String(), "seal 3 follows seal 3"},
		{"a seal line missing", proofDoc{data: d.data, proofs: d.proofs, seals: []string{d.seals[0], d.seals[2]}}.String(), "seal 3 follows seal 1"},
		{"no seal lines", proofDoc{data: d.data, proofs: d.proofs}.String(), "no seal proof: the changes are not linked to the head"},
		{"a proof line twice", proofDoc{data: d.data, proofs: append([]string{d.proofs[0]}, d.proofs...), seals: d.seals}.String(), "line 6: a second proof of change"},
		{"a change line after the proofs", proofDoc{data: d.data, proofs: append(d.proofs[:len(d.proofs):len(d.proofs)], d.data[0]), seals: d.seals}.String(), "a change line after the proof lines"},
		{"a transaction proof after the seals", proofDoc{data: d.data, proofs: d.proofs, seals: append(d.seals[:len(d.seals):len(d.seals)], d.proofs[len(d.proofs)-1])}.String(), "a transaction proof after the seal proofs"},
		{"an unused seal before", proofDoc{data: d.data, proofs: d.proofs, seals: append([]string{strings.Replace(d.seals[0], `{"id":1,`, `{"id":0,`, 1)}, d.seals...)}.String(), "seal 0: no exported change is sealed in it"},
		{"chunks on a seal without exported changes", proofDoc{data: d.data, proofs: d.proofs, seals: []string{d.seals[0], strings.TrimSuffix(editSeal(t, d.seals[1], 2, func(s map[string]any) { s["chunks"] = []any{map[string]any{"hash": strings.Repeat("00", 32)}} }), "\n"), d.seals[2]}}.String(), "seal 2 lists its entries, but no exported change is in it"},
		{"an unknown proof line", proofDoc{data: d.data, proofs: append([]string{`{"proof_other":{}}`}, d.proofs...), seals: d.seals}.String(), "not a proof line"},
	}
	for _, m := range mutations {
		checkFails(t, m.what, m.doc, head, m.want)
	}

	// Edited in the database after sealing: the line matches the record
	// of the data as it is now, which is not the one sealed.
	db.Exec(t, `UPDATE threadline.audit_changes SET data_after = '{"id": 2, "v": 3, "my note": "two"}' WHERE table_pk = '{"id": 2}' AND op = 'insert'`)
	edited := capturetest.QueryInt(t, db, `SELECT id FROM threadline.audit_changes WHERE table_pk = '{"id": 2}' AND op = 'insert'`)
	checkFails(t, "edited after sealing", mustExportProof(t, db, items, ""), head, fmt.Sprintf("change %d (line ", edited))
	checkFails(t, "edited after sealing", mustExportProof(t, db, items, ""), head, "its record is not the one sealed in transaction")
	db.Exec(t, `UPDATE threadline.audit_changes SET data_after = '{"id": 2, "v": 2, "my note": "two"}' WHERE id = $1`, edited)

	// Not sealed: no proof is written, and a forged one does not check.
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "INSERT INTO items VALUES (5, 5, NULL)")
	if _, _, err := exportProof(t, db, items, ""); !errors.Is(err, threadlineops.ErrNotSealed) ||
		!strings.Contains(err.Error(), "1 of the 5 exported changes are not sealed by seal 3") {
		t.Fatalf("WriteProofs with an unsealed change: %v", err)
	}
	unsealed := capturetest.QueryInt(t, db, `SELECT id FROM threadline.audit_changes WHERE table_pk = '{"id": 5}'`)
	line := exportedLine(t, db, unsealed)
	checkFails(t, "an unsealed change", proofDoc{data: append([]string{line}, d.data...), proofs: d.proofs, seals: d.seals}.String(),
		head, fmt.Sprintf("line 1: change %d has no proof", unsealed))
	change, tx := forgedProof(t, db, unsealed, 1)
	checkFails(t, "an unsealed change with a forged proof in seal 1", proofDoc{data: append([]string{line}, d.data...), proofs: append(d.proofs, change, tx), seals: d.seals}.String(),
		head, "is not in seal 1")
}

// TestProofForgedSeal: a genuine seal line plus a forged, self-consistent
// seal carrying a fabricated change does not check, wherever the forged
// seal is put.
func TestProofForgedSeal(t *testing.T) {
	db, seals := proofWorld(t)
	h1 := seals[0].Head
	d := splitProof(t, mustExportProof(t, db, items, h1))
	if _, err := threadlineops.CheckProofs(strings.NewReader(d.String()), h1); err != nil || len(d.seals) != 1 {
		t.Fatalf("genuine: %v\n%s", err, d)
	}
	f := fabricate(t)
	for _, c := range []struct {
		what, want string
		seal       int64
		prev       string
	}{
		{"seal 999", "seal 999 follows seal 1", 999, h1},
		{"seal 2 linked to seal 1", "the recorded head is the head of seal 1, but the proofs go on to seal 2", 2, h1},
		{"seal 2 not linked", "seal 2: its previous head is not the head of seal 1: broken link", 2, strings.Repeat("00", 32)},
	} {
		sealLine, txLine := f.seal(t, c.seal, c.prev)
		forged := proofDoc{data: append([]string{f.data}, d.data...), proofs: append(d.proofs[:len(d.proofs):len(d.proofs)], f.change, txLine), seals: append(d.seals, sealLine)}
		checkFails(t, c.what, forged.String(), h1, c.want)
	}
	// Alone, the forged seal is self-consistent: only the recorded head
	// tells it from a genuine one.
	sealLine, txLine := f.seal(t, 999, h1)
	alone := proofDoc{data: []string{f.data}, proofs: []string{f.change, txLine}, seals: []string{sealLine}}
	var s struct {
		Seal struct {
			Head string `json:"head"`
		} `json:"proof_seal"`
	}
	if err := json.Unmarshal([]byte(sealLine), &s); err != nil {
		t.Fatal(err)
	}
	if _, err := threadlineops.CheckProofs(strings.NewReader(alone.String()), s.Seal.Head); err != nil {
		t.Fatalf("the forged seal checked against its own head: %v", err)
	}
	checkFails(t, "the forged seal alone", alone.String(), h1, "the head of the last seal (999) is not the recorded head")
	// The fabricated transaction said to be in the genuine seal 1.
	_, txLine = f.seal(t, 1, h1)
	checkFails(t, "a fabricated transaction in seal 1", proofDoc{data: append([]string{f.data}, d.data...), proofs: append(d.proofs[:len(d.proofs):len(d.proofs)], f.change, txLine), seals: d.seals}.String(),
		h1, "transaction 888888 (line ")
}

// proofDoc is a proof file cut into its change lines, its change and
// transaction proof lines, and its seal lines.
type proofDoc struct{ data, proofs, seals []string }

func splitProof(t *testing.T, doc string) proofDoc {
	t.Helper()
	var d proofDoc
	for _, l := range lines(doc) {
		switch {
		case strings.HasPrefix(l, `{"proof_seal"`):
			d.seals = append(d.seals, l)
		case strings.HasPrefix(l, `{"proof_`):
			d.proofs = append(d.proofs, l)
		default:
			d.data = append(d.data, l)
		}
	}
	return d
}

func (d proofDoc) String() string {
	var all []string
	for _, part := range [][]string{d.data, d.proofs, d.seals} {
		all = append(all, part...)
	}
	return strings.Join(all, "\n") + "\n"
}

func lines(doc string) []string { return strings.Split(strings.TrimSuffix(doc, "\n"), "\n") }

func decodeLine(t *testing.T, l string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(l))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", l, err)
	}
	return m
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editData applies f to the change line of change id.
func editData(t *testing.T, doc, id string, f func(m map[string]any)) string {
	t.Helper()
	ls := lines(doc)
	for i, l := range ls {
		if m := decodeLine(t, l); fmt.Sprint(m["id"]) == id && m["op"] != nil {
			f(m)
			ls[i] = string(mustMarshal(t, m))
			return strings.Join(ls, "\n") + "\n"
		}
	}
	t.Fatalf("no change %s", id)
	return ""
}

// editSeal applies f to the proof_seal line of seal id in doc.
func editSeal(t *testing.T, doc string, id int64, f func(s map[string]any)) string {
	t.Helper()
	ls := lines(doc)
	for i, l := range ls {
		m := decodeLine(t, l)
		s, ok := m["proof_seal"].(map[string]any)
		if ok && fmt.Sprint(s["id"]) == fmt.Sprint(id) {
			f(s)
			ls[i] = string(mustMarshal(t, m))
			return strings.Join(ls, "\n") + "\n"
		}
	}
	t.Fatalf("no seal %d", id)
	return ""
}

// exportedLine is the NDJSON line of change id.
func exportedLine(t *testing.T, db *pgtest.DB, id int64) string {
	t.Helper()
	var out strings.Builder
	if _, err := (threadline.Audit{}).Export(context.Background(), db.Pool, &out, threadline.ExportOptions{Format: threadline.ExportNDJSON}); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines(out.String()) {
		if fmt.Sprint(decodeLine(t, l)["id"]) == fmt.Sprint(id) {
			return l
		}
	}
	t.Fatalf("change %d not exported", id)
	return ""
}

// The canonical encoding, written again here from docs/security.md, to
// forge proofs with.

func field(b []byte, v *string) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(len(*v)))
	return append(b, *v...)
}

func record(kind byte, values []*string) []byte {
	b := append([]byte("tl1"), kind)
	for _, v := range values {
		b = field(b, v)
	}
	return b
}

func sum(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// forgedChange is a transaction of one change, with its canonical
// records, to forge the proof lines of.
type forgedChange struct {
	id, tx           int64
	started, at      time.Time
	changeRec, txRec []byte
	data, change     string
}

// transactionLine is the proof_transaction line of the forged change in
// seal, and its entry hash.
func (f forgedChange) transactionLine(t *testing.T, seal int64) (string, []byte) {
	t.Helper()
	cd := sum(f.changeRec)
	digest := sum(f.txRec, cd)
	line := mustMarshal(t, map[string]any{"proof_transaction": map[string]any{
		"id": f.tx, "seal": seal, "record": base64.StdEncoding.EncodeToString(f.txRec),
		"started_at": f.started.UTC().Format(contract.SealTimeLayout), "digest": hex.EncodeToString(digest),
		"changes": []any{[]any{f.id, f.at.UTC().Format(contract.SealTimeLayout), hex.EncodeToString(cd)}},
	}})
	b := append(be64(f.tx), be64(f.started.UnixMicro())...)
	b = append(b, digest...)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(append(append(b, be64(f.id)...), be64(f.at.UnixMicro())...), cd...)
	return string(line), sum(b)
}

// seal forges a self-consistent version 2 seal line holding only the
// forged transaction, after the head prev (hex), and its transaction line.
func (f forgedChange) seal(t *testing.T, id int64, prev string) (sealLine, txLine string) {
	t.Helper()
	txLine, eh := f.transactionLine(t, id)
	prevHead, _ := hex.DecodeString(prev)
	snapshot := "1:1:"
	purges, entries := sum(), sum(sum(eh))
	head := sum([]byte("threadline seal v2"), prevHead, be64(id), field(nil, &snapshot), purges, entries)
	line := mustMarshal(t, map[string]any{"proof_seal": map[string]any{
		"id": id, "version": 2, "snapshot": snapshot, "prev_head": prev, "head": hex.EncodeToString(head),
		"purges_digest": hex.EncodeToString(purges), "entries_digest": hex.EncodeToString(entries),
		"chunks": []any{map[string]any{"entries": []any{[]any{f.tx, hex.EncodeToString(eh)}}}},
	}})
	return string(line), txLine
}

func ptr(s string) *string { return &s }

// fabricate makes up a change that never happened, with its change line
// and proof_change line.
func fabricate(t *testing.T) forgedChange {
	t.Helper()
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	ts := at.Format(contract.SealTimeLayout)
	f := forgedChange{id: 999999, tx: 888888, started: at, at: at}
	f.changeRec = record('C', []*string{ptr("999999"), ptr("888888"), ptr("public"), ptr("items"), ptr(`{"id": 99}`), nil, ptr("insert"),
		ptr(`{"id": 99, "v": 1000000, "my note": "forged"}`), nil, nil, nil, &ts})
	tx := make([]*string, len(contract.SealTransactionFields()))
	tx[0], tx[1], tx[2], tx[3] = ptr("888888"), ptr("1"), &ts, ptr(`{"id": "7", "type": "user"}`)
	f.txRec = record('T', tx)
	f.data = string(mustMarshal(t, map[string]any{"id": 999999, "transaction_id": 888888, "captured_at": ts, "table_schema": "public",
		"table_name": "items", "op": "insert", "table_pk": map[string]any{"id": 99}, "table_pk_before": nil,
		"actor": map[string]any{"type": "user", "id": "7"}, "request_id": nil, "correlation_id": nil, "changed_fields": nil,
		"data_after": map[string]any{"id": 99, "v": 1000000, "my note": "forged"}, "data_before": nil, "changed_from": nil,
		"action_id": nil, "action_name": nil, "action_status": nil, "action_verb": nil, "action_category": nil,
		"action_reason": nil, "action_comment": nil, "action_job_id": nil}))
	f.change = string(mustMarshal(t, map[string]any{"proof_change": map[string]any{"id": f.id, "record": base64.StdEncoding.EncodeToString(f.changeRec)}}))
	return f
}

// forgedProof forges the proof_change and proof_transaction lines of a
// change that is in the database but not sealed, as in seal.
func forgedProof(t *testing.T, db *pgtest.DB, id, seal int64) (change, tx string) {
	t.Helper()
	ctx := context.Background()
	f := forgedChange{id: id}
	f.tx = capturetest.QueryInt(t, db, "SELECT transaction_id FROM threadline.audit_changes WHERE id = $1", id)
	f.changeRec = dbRecord(t, db, 'C', contract.SealChangeFields(), "threadline.audit_changes AS c WHERE c.id = $1", id)
	f.txRec = dbRecord(t, db, 'T', contract.SealTransactionFields(),
		"threadline.audit_transactions AS t LEFT JOIN threadline.audit_actions AS ac ON ac.id = t.action_id WHERE t.id = $1", f.tx)
	if err := db.Pool.QueryRow(ctx, "SELECT t.started_at, c.captured_at FROM threadline.audit_changes AS c JOIN threadline.audit_transactions AS t ON t.id = c.transaction_id WHERE c.id = $1", id).
		Scan(&f.started, &f.at); err != nil {
		t.Fatal(err)
	}
	tx, _ = f.transactionLine(t, seal)
	change = string(mustMarshal(t, map[string]any{"proof_change": map[string]any{"id": id, "record": base64.StdEncoding.EncodeToString(f.changeRec)}}))
	return change, tx
}

// dbRecord reads a canonical record from the database.
func dbRecord(t *testing.T, db *pgtest.DB, kind byte, fields []contract.SealField, from string, arg int64) []byte {
	t.Helper()
	exprs := make([]string, len(fields))
	for i, f := range fields {
		exprs[i] = f.Expr
		if f.Time {
			exprs[i] = fmt.Sprintf("to_char(%s AT TIME ZONE 'UTC', '%s')", f.Expr, contract.SealTimeSQL)
		}
	}
	values := make([]*string, len(fields))
	dest := make([]any, len(fields))
	for i := range values {
		dest[i] = &values[i]
	}
	if err := db.Pool.QueryRow(context.Background(), "SELECT "+strings.Join(exprs, ", ")+" FROM "+from, arg).Scan(dest...); err != nil {
		t.Fatal(err)
	}
	return record(kind, values)
}

// TestProofDeepValue: a value nested past the export's depth limit is a
// marker in the export (threadline.ExportedJSON), and still proves.
func TestProofDeepValue(t *testing.T) {
	db := capturetest.Setup(t, `CREATE TABLE docs (id bigint PRIMARY KEY, body jsonb);`, "  docs: {}\n")
	deep := strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)
	capturetest.Tx(t, db, threadline.TxOptions{}, "", "INSERT INTO docs VALUES (1, '"+deep+"')")
	head := seal(t, db).Head
	doc := mustExportProof(t, db, threadline.Filter{Table: "docs"}, "")
	if !strings.Contains(doc, threadline.ExportDeepKey) {
		t.Fatalf("the export has no marker for a value 100 levels deep:\n%s", doc)
	}
	if rep, err := threadlineops.CheckProofs(strings.NewReader(doc), head); err != nil || rep.Changes != 1 {
		t.Fatalf("CheckProofs: %+v, %v", rep, err)
	}
}
