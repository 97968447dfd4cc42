package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// offline runs the CLI with no database URL and no config file.
func offline(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runEnv(context.Background(), args, &out, &errb, env{getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

// sealHead runs threadline seal and returns the new head.
func sealHead(t *testing.T, p *project) string {
	t.Helper()
	code, out, errb := p.cli(t, "seal", "-json")
	expectCode(t, "seal", code, 0, out, errb)
	var rec struct {
		Head string `json:"head"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Head
}

// TestVerifyProofCommand: threadline verify -proof FILE -head H checks an
// export -with-proof offline: exit 0 with a summary for a genuine file
// and the head it leads to, exit 1 naming the line for an edited file or
// another head.
func TestVerifyProofCommand(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	h1 := sealHead(t, p)
	code, out, errb := p.cli(t, "export", "-format", "ndjson", "-output", "proved.ndjson", "-with-proof")
	expectCode(t, "export", code, 0, out, errb)
	mustContain(t, "export", out, "with proofs through seals 1..1 to head "+h1)
	if err := os.Remove("threadline.yaml"); err != nil { // no config, no database: offline
		t.Fatal(err)
	}
	code, out, errb = offline(t, "verify", "-proof", "proved.ndjson", "-head", h1)
	expectCode(t, "verify -proof", code, 0, out, errb)
	if want := "proved 7 changes against head " + h1 + " (seals 1..1)\n"; out != want {
		t.Fatalf("verify -proof: %q, want %q", out, want)
	}
	code, out, errb = offline(t, "verify", "-proof", "proved.ndjson", "-head", h1, "-json")
	expectCode(t, "verify -proof -json", code, 0, out, errb)
	mustContain(t, "verify -proof -json", out, `"changes": 7`, `"last_seal": 1`)

	doc, err := os.ReadFile("proved.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(doc), `"actor":{"type":"admin","id":"ops"}`, `"actor":{"type":"admin","id":"root"}`, 1)
	if edited == string(doc) {
		t.Fatalf("no admin actor in the export:\n%s", doc)
	}
	if err := os.WriteFile("edited.ndjson", []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errb = offline(t, "verify", "-proof", "edited.ndjson", "-head", h1)
	expectCode(t, "edited", code, 1, out, errb)
	mustContain(t, "edited", errb, "threadline verify: FAILED: edited.ndjson: line ", "its actor is not the one in the record of its transaction")

	code, out, errb = offline(t, "verify", "-proof", "proved.ndjson", "-head", strings.Repeat("0", 64))
	expectCode(t, "another head", code, 1, out, errb)
	mustContain(t, "another head", errb, "FAILED: proved.ndjson: the head of the last seal (1) is not the recorded head")
	code, out, errb = offline(t, "verify", "-proof", "proved.ndjson")
	expectCode(t, "no head", code, 2, out, errb)
	mustContain(t, "no head", errb, "-proof needs -head")
}

// TestExportProofHead: export -with-proof -proof-head leads the proofs to
// an older seal; an export with a change the seal does not cover fails
// and writes no file.
func TestExportProofHead(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	h1 := sealHead(t, p)
	p.db.Exec(t, `INSERT INTO posts VALUES (3, 1, 'later')`)
	h2 := sealHead(t, p)
	code, out, errb := p.cli(t, "export", "-format", "ndjson", "-output", "old.ndjson", "-with-proof", "-proof-head", h1, "-table", "users")
	expectCode(t, "export to seal 1", code, 0, out, errb)
	code, out, errb = offline(t, "verify", "-proof", "old.ndjson", "-head", h1)
	expectCode(t, "verify against seal 1", code, 0, out, errb)
	mustContain(t, "verify against seal 1", out, "(seals 1..1)")
	code, out, errb = offline(t, "verify", "-proof", "old.ndjson", "-head", h2)
	expectCode(t, "verify against seal 2", code, 1, out, errb)

	code, out, errb = p.cli(t, "export", "-format", "ndjson", "-output", "all.ndjson", "-with-proof", "-proof-head", h1)
	expectCode(t, "a change after seal 1", code, 1, out, errb)
	mustContain(t, "a change after seal 1", errb, "1 of the 8 exported changes are not sealed by seal 1")
	if _, err := os.Stat("all.ndjson"); !os.IsNotExist(err) {
		t.Fatalf("all.ndjson written: %v", err)
	}
	code, out, errb = p.cli(t, "export", "-format", "ndjson", "-output", "all.ndjson", "-with-proof")
	expectCode(t, "export to the latest seal", code, 0, out, errb)
	code, out, errb = offline(t, "verify", "-proof", "all.ndjson", "-head", h2)
	expectCode(t, "verify against seal 2", code, 0, out, errb)
	mustContain(t, "verify against seal 2", out, "proved 8 changes against head "+h2+" (seals 1..2)")
	code, out, errb = p.cli(t, "export", "-format", "ndjson", "-output", "x.ndjson", "-proof-head", h1)
	expectCode(t, "-proof-head alone", code, 2, out, errb)
}
