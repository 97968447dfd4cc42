package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/runtime/threadlineops"
)

func TestSealAndVerifyCommands(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	code, out, errb := p.cli(t, "seal", "-head-file", "heads.jsonl")
	expectCode(t, "seal", code, 0, out, errb)
	mustContain(t, "seal", out, "as seal 1 in ", "\nhead ")
	var rec struct {
		Seal int64  `json:"seal"`
		Head string `json:"head"`
	}
	b, err := os.ReadFile("heads.jsonl")
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.Seal != 1 || !strings.Contains(out, rec.Head) {
		t.Fatalf("heads.jsonl: %s %v", b, err)
	}
	code, out, errb = p.cli(t, "seal")
	expectCode(t, "idle seal", code, 0, out, errb)
	mustContain(t, "idle seal", errb, "nothing new committed since the last seal")

	code, out, errb = p.cli(t, "verify", "-head", rec.Head)
	expectCode(t, "verify", code, 0, out, errb)
	mustContain(t, "verify", out, "verified 1 seal: ", "head "+rec.Head)

	p.db.Exec(t, "UPDATE threadline.audit_changes SET data_after = data_after || '{\"name\": \"Eve\"}' WHERE table_pk = '{\"id\": 1}' AND table_name = 'users' AND op = 'insert'")
	code, out, errb = p.cli(t, "verify", "-head", rec.Head)
	expectCode(t, "tampered", code, 1, out, errb)
	mustContain(t, "tampered", errb, "threadline verify: FAILED: 1 problem; the first: seal 1: change ", ": its stored bytes changed since sealing")

	code, out, errb = p.cli(t, "verify", "-json")
	expectCode(t, "json", code, 1, out, errb)
	var rep struct {
		ProblemCount int64 `json:"problem_count"`
		Problems     []struct {
			Change int64 `json:"change"`
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.ProblemCount != 1 || rep.Problems[0].Change == 0 {
		t.Fatalf("verify -json: %s %v", out, err)
	}
	code, out, errb = p.cli(t, "verify", "-head", "nothex")
	expectCode(t, "bad head", code, 1, out, errb)
	mustContain(t, "bad head", errb, `-head "nothex" is not a 64-digit hex head`)
}

func TestExportWithProof(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	code, out, errb := p.cli(t, "seal", "-json")
	expectCode(t, "seal", code, 0, out, errb)
	var rec struct {
		Head string `json:"head"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatal(err)
	}
	code, out, errb = p.cli(t, "export", "-format", "ndjson", "-output", "proved.ndjson", "-with-proof")
	expectCode(t, "export", code, 0, out, errb)
	f, err := os.Open("proved.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := threadlineops.CheckProofs(f, rec.Head)
	if err != nil || rep.Changes != 7 {
		t.Fatalf("CheckProofs: %+v %v", rep, err)
	}
	code, out, errb = p.cli(t, "export", "-format", "csv", "-output", "x.csv", "-with-proof")
	expectCode(t, "csv", code, 2, out, errb)
	mustContain(t, "csv", errb, "-with-proof: want -format ndjson")
}

func TestMaintainCommand(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	code, out, errb := p.cli(t, "maintain")
	expectCode(t, "unpartitioned", code, 1, out, errb)
	mustContain(t, "unpartitioned", errb, "the audit tables are not partitioned (storage.partitions: none)")
}

func TestMaintainAndPurgePartitions(t *testing.T) {
	cfg := strings.Replace(projectConfig, "retention:\n  enabled: true\n", "storage:\n  partitions: daily\n  premake: 1\nretention:\n  enabled: true\n", 1)
	p := newProject(t, projectDDL, cfg)
	p.db.Exec(t, `INSERT INTO threadline.audit_transactions (txid, started_at) VALUES ('1', now() - interval '40 days')`)
	code, out, errb := p.cli(t, "doctor")
	expectCode(t, "doctor before maintain", code, 1, out, errb)
	mustContain(t, "doctor before maintain", out, "FAIL  partitions       1 row in the default partitions: run threadline maintain")
	code, out, errb = p.cli(t, "maintain")
	expectCode(t, "maintain", code, 0, out, errb)
	mustContain(t, "maintain", out, "audit_transactions: created audit_transactions_p", ", moved 1 row into it from the default partition")
	code, out, errb = p.cli(t, "maintain")
	expectCode(t, "again", code, 0, out, errb)
	mustContain(t, "again", out, "partitions ready: nothing to do")
	code, out, errb = p.cli(t, "doctor")
	expectCode(t, "doctor", code, 0, out, errb)
	mustContain(t, "doctor", out, "PASS  partitions       daily partitions: 1 ready ahead, default partitions empty")
	code, out, errb = p.cli(t, "purge", "-dry-run")
	expectCode(t, "dry run", code, 0, out, errb)
	mustContain(t, "dry run", out, "would delete 0 changes and 1 transaction", "  would drop partition threadline.audit_transactions_p")
	code, out, errb = p.cli(t, "purge", "-execute")
	expectCode(t, "purge", code, 0, out, errb)
	mustContain(t, "purge", out, "purged 0 changes and 1 transaction", "  dropped partition threadline.audit_transactions_p")
}
