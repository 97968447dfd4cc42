package generator_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/pgtest"
	threadline "github.com/threadline-go/threadline/runtime"
)

// gooseUp returns the Up section of a goose migration (as goose runs it).
var gooseUp = installUp["goose"].part

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUpgradeFromPreviousInstall applies the bundled example's install as
// an earlier release generated it (testdata/upgrade/2026-11-27), records
// changes, then generates the update migration with this release and
// applies it: the old rows stay readable, new writes are captured under
// the current rules, and no function in the audit schema is left
// executable by PUBLIC.
func TestUpgradeFromPreviousInstall(t *testing.T) {
	ctx := context.Background()
	example := filepath.Join("..", "examples", "quickstart")
	appSchema := readFile(t, filepath.Join(example, "db", "migrations", "20260101000000_app_schema.sql"))
	oldInstall := readFile(t, filepath.Join("..", "testdata", "upgrade", "2026-11-27", "20261127060643_threadline_install.sql"))

	// The earlier install is not partitioned, and switching is not
	// supported: the example's config without its storage section.
	cfg, _, _ := strings.Cut(readFile(t, filepath.Join(example, "threadline.yaml")), "\n# Audit tables partitioned by day")
	p := newProject(t, cfg, "")
	p.now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	p.write("db/migrations/20260101000000_app_schema.sql", appSchema)
	p.write("db/migrations/20261127060643_threadline_install.sql", oldInstall)

	db := pgtest.NewDB(t, gooseUp(t, appSchema), gooseUp(t, oldInstall))
	write := func(sql string) {
		t.Helper()
		err := threadline.InTx(ctx, db.Pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		}, threadline.WithActor(threadline.User("ada")))
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	write(`INSERT INTO users (email, password_hash, display_name) VALUES ('ada@example.com', 'h1', 'Ada')`)
	write(`UPDATE users SET display_name = 'Ada L.' WHERE id = 1`)

	files := p.mustGenerate()
	if len(files) != 1 || !strings.HasSuffix(files[0].Path, "_threadline_update.sql") {
		t.Fatalf("generated %v, want one update migration", files)
	}
	db.Exec(t, gooseUp(t, string(files[0].Content)))

	write(`UPDATE users SET password_hash = 'h2' WHERE id = 1`) // recorded now, as a fact
	write(`UPDATE users SET display_name = 'Ada Lovelace' WHERE id = 1`)

	h, err := threadline.Audit{}.History(ctx, db.Pool, "users", map[string]any{"id": 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range h {
		got = append(got, string(c.Op)+" "+strings.Join(c.ChangedFields, ","))
	}
	want := []string{"update display_name", "update password_hash", "update display_name", "insert "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("history after the upgrade: %q, want %q", got, want)
	}
	var public int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_proc WHERE pronamespace = 'threadline'::regnamespace
		AND (proacl IS NULL OR proacl::text LIKE '%{=%' OR proacl::text LIKE '%,=%')`).Scan(&public); err != nil || public != 0 {
		t.Errorf("%d functions executable by PUBLIC after the upgrade (%v)", public, err)
	}
	var headers, perTx int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*), max(n) FROM (SELECT count(*) AS n FROM threadline.audit_transactions GROUP BY txid, started_at) AS g`).Scan(&headers, &perTx); err != nil || headers != 4 || perTx != 1 {
		t.Errorf("headers %d, at most %d per transaction (%v); want 4, 1", headers, perTx, err)
	}
}
