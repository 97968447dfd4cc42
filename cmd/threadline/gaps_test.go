package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// recordGap creates the WAL engine's tables that name a gap, as threadline
// capture and the engine: wal migration create them, marks public.users
// as captured by the WAL engine, and records one gap of its slot.
func (p *project) recordGap(t *testing.T) {
	t.Helper()
	p.db.Exec(t, `CREATE TABLE threadline.audit_wal_tables (table_schema text NOT NULL, table_name text NOT NULL, relid oid NOT NULL, capture jsonb NOT NULL,
		PRIMARY KEY (table_schema, table_name))`)
	p.db.Exec(t, `INSERT INTO threadline.audit_wal_tables VALUES ('public', 'users', 'users'::regclass, '{}')`)
	p.db.Exec(t, `CREATE TABLE threadline.audit_wal_gaps (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, slot text NOT NULL,
		after_lsn pg_lsn NOT NULL, until_lsn pg_lsn NOT NULL, last_written_at timestamptz, detected_at timestamptz NOT NULL DEFAULT clock_timestamp())`)
	p.db.Exec(t, `INSERT INTO threadline.audit_wal_gaps (slot, after_lsn, until_lsn, last_written_at, detected_at)
		VALUES ('threadline', '0/1A2B3C4', '0/2000060', '2026-01-02 03:04:05.5+00', '2026-01-02 04:00:00+00')`)
}

const gapReasonText = "slot threadline was gone (dropped, or lost to max_slot_wal_keep_size) and threadline capture created it again"

// TestContinuityShowsCaptureGaps: a gap recorded by the WAL engine is a
// break in the coverage of the tables it captures (not of a table the
// triggers capture), in the report and its JSON; readiness (the exit
// code) is about capture now and does not change.
func TestContinuityShowsCaptureGaps(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	p.recordGap(t)
	code, out, errb := p.cli(t, "continuity", "-exact", "-table", "users")
	expectCode(t, "continuity", code, 0, out, errb)
	first := out[strings.Index(out, "first captured change:  ")+len("first captured change:  ") : strings.Index(out, "\n  breaks")]
	at, err := time.Parse(time.RFC3339Nano, first)
	if err != nil {
		t.Fatalf("first captured change %q: %v\n%s", first, err, out)
	}
	want := "public.users\n" +
		"  capture:                ready (triggers present and enabled)\n" +
		"  rows:                   2\n" +
		"  rows predate capture:   no\n" +
		"  first captured change:  " + first + "\n" +
		"  breaks in coverage:     1 (engine wal: changes committed in them are not in the trail)\n" +
		"    WAL 0/1A2B3C4 to 0/2000060: " + gapReasonText + "; last written 2026-01-02T03:04:05.5Z, detected 2026-01-02T04:00:00Z\n" +
		"  Every current row's insert was captured: history is complete for the current rows. First captured change: " + at.Format(time.RFC3339) + "." +
		" Coverage has 1 break(s): changes committed between WAL 0/1A2B3C4 and 0/2000060 are not in the trail (" + gapReasonText +
		"; last written 2026-01-02T03:04:05.5Z, detected 2026-01-02T04:00:00Z).\n\n" + continuityNote + "\n"
	if out != want {
		t.Fatalf("continuity:\n%s\nwant\n%s", out, want)
	}

	code, out, errb = p.cli(t, "continuity", "-table", "posts")
	expectCode(t, "posts", code, 0, out, errb)
	if strings.Contains(out, "breaks in coverage") || strings.Contains(out, "break(s)") {
		t.Fatalf("a table the triggers capture has no WAL gap:\n%s", out)
	}

	code, out, errb = p.cli(t, "continuity", "-table", "users", "-json")
	expectCode(t, "json", code, 0, out, errb)
	var doc struct {
		Tables []threadlineops.TableContinuity `json:"tables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Tables) != 1 {
		t.Fatalf("json: %v\n%s", err, out)
	}
	gaps, _ := json.Marshal(doc.Tables[0].Gaps)
	if want := `[{"slot":"threadline","from":"0/1A2B3C4","to":"0/2000060","last_written_at":"2026-01-02T03:04:05.5Z","detected_at":"2026-01-02T04:00:00Z","reason":"` + gapReasonText + `"}]`; string(gaps) != want {
		t.Fatalf("json gaps:\n%s\nwant\n%s", gaps, want)
	}
}

// TestVerifyShowsCaptureGaps: verify reports a recorded gap as a known
// gap, not tampering: exit 0 as for a recorded purge, a line per gap and
// a count; with tampering as well it fails on the tampering only.
func TestVerifyShowsCaptureGaps(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	code, out, errb := p.cli(t, "seal")
	expectCode(t, "seal", code, 0, out, errb)
	p.recordGap(t)
	code, out, errb = p.cli(t, "verify")
	expectCode(t, "verify", code, 0, out, errb)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("verify:\n%s", out)
	}
	wantGap := "known gap, not tampering: WAL 0/1A2B3C4 to 0/2000060: " + gapReasonText + "; last written 2026-01-02T03:04:05.5Z, detected 2026-01-02T04:00:00Z"
	wantCount := "1 capture gap recorded in threadline.audit_wal_gaps: changes committed in them were never captured (not a verify failure; threadline continuity lists them, threadline doctor fails until they are acknowledged)"
	if lines[0] != wantGap || !strings.HasPrefix(lines[1], "verified 1 seal: 5 transactions, 7 changes in ") || lines[2] != wantCount {
		t.Fatalf("verify:\n%s\nwant\n%s\nverified 1 seal: 5 transactions, 7 changes in …\n%s", out, wantGap, wantCount)
	}

	code, out, errb = p.cli(t, "verify", "-json")
	expectCode(t, "json", code, 0, out, errb)
	var rep threadlineops.VerifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Gaps) != 1 || rep.ProblemCount != 0 || rep.Gaps[0].From != "0/1A2B3C4" || rep.Gaps[0].To != "0/2000060" || rep.Gaps[0].Reason != gapReasonText {
		t.Fatalf("verify -json: %+v", rep)
	}

	p.db.Exec(t, `UPDATE threadline.audit_changes SET data_after = data_after || '{"name": "Eve"}' WHERE table_pk = '{"id": 1}' AND table_name = 'users' AND op = 'insert'`)
	code, out, errb = p.cli(t, "verify")
	expectCode(t, "tampered", code, 1, out, errb)
	mustContain(t, "tampered", out, wantGap+"\n", wantCount)
	mustContain(t, "tampered", errb, "threadline verify: FAILED: 1 problem; the first: seal 1: change ")
}
