package generator_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// TestUpgradeKeepsVersion1Seals restores an install with two version 1
// seals as the release before sealing v2 wrote them
// (testdata/upgrade/2026-12-07-seals-v1), applies this release's update
// migration, and seals again: the chain goes on from the old head with a
// version 2 seal, verify checks both versions against the heads recorded
// then, and an edit of data sealed by a version 1 seal is still found.
func TestUpgradeKeepsVersion1Seals(t *testing.T) {
	ctx := context.Background()
	fixture := filepath.Join("..", "testdata", "upgrade", "2026-12-07-seals-v1")
	example := filepath.Join("..", "examples", "quickstart")
	appSchema := readFile(t, filepath.Join(example, "db", "migrations", "20260101000000_app_schema.sql"))
	oldInstall := readFile(t, filepath.Join(fixture, "20261207003020_threadline_install.sql"))
	cfg, _, _ := strings.Cut(readFile(t, filepath.Join(example, "threadline.yaml")), "\n# Audit tables partitioned by day")
	p := newProject(t, cfg, "")
	p.now = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	p.write("db/migrations/20260101000000_app_schema.sql", appSchema)
	p.write("db/migrations/20261207003020_threadline_install.sql", oldInstall)

	// The fixture's rows as dumped, without firing the capture.
	data := "BEGIN;\nSET LOCAL session_replication_role = replica;\n" + readFile(t, filepath.Join(fixture, "audit_data.sql")) + "COMMIT;\n"
	db := pgtest.NewDB(t, gooseUp(t, appSchema), gooseUp(t, oldInstall), data)
	// The fixture was written on a new cluster: its transaction ids must
	// be behind this one's (a new CI cluster may not be there yet).
	for capturetest.QueryInt(t, db, "SELECT pg_current_xact_id()::text::bigint") < 1000 {
	}
	const head1, head2 = "b9c0025d5498ce0d2aa93208502142ed218f0a01597129d19b4025c6d1c2b172",
		"86025cf6832bc72f53953680c9d8a11d3c4c0ba7e0a9b7c25b225fa577c2b19a"

	files := p.mustGenerate()
	if len(files) != 1 || !strings.HasSuffix(files[0].Path, "_threadline_update.sql") {
		t.Fatalf("generated %v, want one update migration", files)
	}
	db.Exec(t, gooseUp(t, string(files[0].Content)))
	ops := threadlineops.Audit{}
	err := threadline.InTx(ctx, db.Pool, threadline.TxOptions{Actor: threadline.User("ada")}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE countries SET name = 'République française' WHERE code = 'FR'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ops.Seal(ctx, db.Pool)
	if err != nil || res.Seal != 3 || res.Transactions != 1 || res.Changes != 1 {
		t.Fatalf("first seal after the upgrade: %+v, %v", res, err)
	}
	capturetest.Equal(t, "seal versions", capturetest.QueryInt(t, db, "SELECT sum(version * 10 ^ (id - 1))::bigint FROM threadline.audit_seals"), 211)
	for _, head := range []string{head1, head2, res.Head} {
		rep, err := ops.Verify(ctx, db.Pool, threadlineops.VerifyOptions{Head: head})
		if err != nil || rep.Seals != 3 || rep.Transactions != 4 || rep.Changes != 6 {
			t.Fatalf("verify -head %s after the upgrade: %+v, %v", head, rep, err)
		}
	}
	db.Exec(t, `UPDATE threadline.audit_changes SET data_after = '{"code": "FR", "name": "Vichy"}' WHERE id = 5`)
	rep, err := ops.Verify(ctx, db.Pool, threadlineops.VerifyOptions{Head: res.Head})
	if err == nil || rep.ProblemCount != 1 || rep.Problems[0].What != "seal 2: change 5 of transaction 4: its stored bytes changed since sealing" {
		t.Fatalf("an edit under a version 1 seal: %+v, %v", rep, err)
	}
}
