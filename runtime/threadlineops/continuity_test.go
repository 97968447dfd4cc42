package threadlineops_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

const continuityDDL = `
CREATE TABLE legacy (id int PRIMARY KEY, name text, email text, pw text);
CREATE TABLE fresh (id int PRIMARY KEY);
CREATE TABLE empty_t (id int PRIMARY KEY);
CREATE TABLE members (org text, id int, PRIMARY KEY (org, id));
CREATE TABLE logs (uuid text NOT NULL, v int);
`

const continuityTables = `  legacy:
    exclude: [pw]
    mask: [email]
  fresh: {}
  empty_t: {}
  members: {}
  logs:
    key: [uuid]
`

// brownfield creates the tables, fills legacy and logs, and only then
// installs capture; then it writes through the triggers.
func brownfield(t testing.TB) *pgtest.DB {
	db := pgtest.NewDB(t, continuityDDL,
		`INSERT INTO legacy SELECT g, 'n' || g, 'e' || g || '@x', 'pw' || g FROM generate_series(1, 5) AS g`,
		`INSERT INTO logs VALUES ('u1', 1), ('u2', 2)`)
	up, _ := capturetest.Generate(t, continuityDDL, continuityTables)
	db.Exec(t, up)
	db.Exec(t, `INSERT INTO legacy VALUES (6, 'new', NULL, 'x'), (7, 'new', 'e7@x', 'y')`)
	db.Exec(t, `UPDATE legacy SET name = 'renamed' WHERE id = 2`)
	db.Exec(t, `DELETE FROM legacy WHERE id = 3`)
	db.Exec(t, `INSERT INTO fresh SELECT generate_series(1, 3)`)
	db.Exec(t, `INSERT INTO members VALUES ('a', 1), ('a', 2)`)
	db.Exec(t, `UPDATE members SET id = 20 WHERE id = 2`)
	db.Exec(t, `INSERT INTO logs VALUES ('u3', 3)`)
	return db
}

func TestContinuityBrownfield(t *testing.T) {
	db := brownfield(t)
	ctx := context.Background()
	db.Exec(t, "ANALYZE")
	tables := []threadlineops.ContinuityTable{{Table: "legacy"}, {Table: "fresh"}, {Table: "empty_t"}, {Table: "members"},
		{Table: "logs", Key: []string{"uuid"}}, {Table: "nosuch"}}
	for _, exact := range []bool{false, true} {
		got, err := (threadlineops.Audit{}).Continuity(ctx, db.Pool, tables, threadlineops.ContinuityOptions{Exact: exact})
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			Table          string
			Exists, Rows   bool
			N, Without     int64
			Predates, Seen bool
			Ready          bool
		}
		var rows []row
		for _, c := range got {
			rows = append(rows, row{c.Table, c.Exists, c.HasRows, c.Rows, c.RowsWithoutOrigin, c.PredatesCapture, c.FirstChangeAt != nil, c.Ready})
			if c.Exists && c.Explanation == "" {
				t.Errorf("%s: no explanation", c.Table)
			}
			if c.RowsExact != exact && c.Exists {
				t.Errorf("%s: RowsExact %v", c.Table, c.RowsExact)
			}
		}
		// legacy: 5 old rows, 1 deleted, 2 new: 6 rows, 4 without a
		// captured insert (the update of row 2 does not count).
		without := int64(1)
		if exact {
			without = 4
		}
		capturetest.Equal(t, "continuity", rows, []row{
			{"public.legacy", true, true, 6, without, true, true, true},
			{"public.fresh", true, true, 3, 0, false, true, true},
			{"public.empty_t", true, false, 0, 0, false, false, true},
			{"public.members", true, true, 2, 0, false, true, true},
			{"public.logs", true, true, 3, min(without, 2), true, true, true},
			{"public.nosuch", false, false, 0, 0, false, false, false},
		})
		capturetest.Equal(t, "legacy key", got[0].Key, []string{"id"})
	}

	// With capture disabled the table is not ready; writes made meanwhile
	// have no captured origin either.
	db.Exec(t, "ALTER TABLE fresh DISABLE TRIGGER threadline_capture_insert")
	db.Exec(t, "INSERT INTO fresh VALUES (4)")
	got, err := (threadlineops.Audit{}).Continuity(ctx, db.Pool, []threadlineops.ContinuityTable{{Table: "fresh"}}, threadlineops.ContinuityOptions{Exact: true})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "disabled", [4]any{got[0].Ready, got[0].Capture, got[0].RowsWithoutOrigin, got[0].PredatesCapture},
		[4]any{false, threadlineops.CoverageDisabled, int64(1), true})
}

func TestBaseline(t *testing.T) {
	db := brownfield(t)
	ctx := context.Background()
	changesBefore := capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_changes")
	var progress []int64
	res, err := (threadlineops.Audit{}).Baseline(ctx, db.Pool, threadlineops.BaselineSpec{
		Table: "legacy", Exclude: []string{"pw"}, Mask: []string{"email"}, Placeholder: "[REDACTED]",
		Label: "  before go-live  ", BatchSize: 2, Progress: func(n int64) { progress = append(progress, n) },
	})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "result", [4]any{res.Table, res.Label, res.Rows, res.Batches}, [4]any{"public.legacy", "before go-live", int64(6), 3})
	capturetest.Equal(t, "progress", progress, []int64{2, 4, 6})
	rows, err := db.Pool.Query(ctx, `SELECT table_schema, table_name, table_pk::text, data::text, label, taken_at = $1
		FROM threadline.audit_baselines ORDER BY (table_pk->>'id')::int`, res.TakenAt)
	if err != nil {
		t.Fatal(err)
	}
	type bl struct {
		Schema, Table, PK, Data, Label string
		SameTime                       bool
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[bl])
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "baseline rows", got, []bl{
		{"public", "legacy", `{"id": 1}`, `{"id": 1, "name": "n1", "email": "[REDACTED]"}`, "before go-live", true},
		{"public", "legacy", `{"id": 2}`, `{"id": 2, "name": "renamed", "email": "[REDACTED]"}`, "before go-live", true},
		{"public", "legacy", `{"id": 4}`, `{"id": 4, "name": "n4", "email": "[REDACTED]"}`, "before go-live", true},
		{"public", "legacy", `{"id": 5}`, `{"id": 5, "name": "n5", "email": "[REDACTED]"}`, "before go-live", true},
		{"public", "legacy", `{"id": 6}`, `{"id": 6, "name": "new", "email": null}`, "before go-live", true},
		{"public", "legacy", `{"id": 7}`, `{"id": 7, "name": "new", "email": "[REDACTED]"}`, "before go-live", true},
	})
	capturetest.Equal(t, "audit_changes untouched", capturetest.QueryInt(t, db, "SELECT count(*) FROM threadline.audit_changes"), changesBefore)

	// Composite keys, batch boundaries inside a key prefix; a table
	// without primary key with its configured key.
	db.Exec(t, "INSERT INTO members SELECT 'b', g FROM generate_series(1, 5) AS g")
	res, err = (threadlineops.Audit{}).Baseline(ctx, db.Pool, threadlineops.BaselineSpec{Table: "members", Label: "m", BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "members", [2]any{res.Rows, res.Batches}, [2]any{int64(7), 3})
	var keys []string
	rows, _ = db.Pool.Query(ctx, "SELECT table_pk::text FROM threadline.audit_baselines WHERE table_name = 'members' ORDER BY id")
	keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "members keys", keys, []string{`{"id": 1, "org": "a"}`, `{"id": 20, "org": "a"}`, `{"id": 1, "org": "b"}`,
		`{"id": 2, "org": "b"}`, `{"id": 3, "org": "b"}`, `{"id": 4, "org": "b"}`, `{"id": 5, "org": "b"}`})
	res, err = (threadlineops.Audit{}).Baseline(ctx, db.Pool, threadlineops.BaselineSpec{Table: "logs", Key: []string{"uuid"}, Label: "l", BatchSize: 3})
	if err != nil || res.Rows != 3 || res.Batches != 1 {
		t.Fatalf("logs: %+v, %v", res, err)
	}
	var data json.RawMessage
	if err := db.Pool.QueryRow(ctx, "SELECT data FROM threadline.audit_baselines WHERE table_name = 'logs' AND table_pk = '{\"uuid\": \"u3\"}'").Scan(&data); err != nil {
		t.Fatal(err)
	}
	capturetest.Equal(t, "logs data", capturetest.NormJSON(t, string(data)), `{"uuid":"u3","v":3}`)

	for _, bad := range []threadlineops.BaselineSpec{{Table: "legacy"}, {Table: "logs", Label: "x"}, {Table: "legacy", Label: "x", Mask: []string{"email"}}} {
		if _, err := (threadlineops.Audit{}).Baseline(ctx, db.Pool, bad); !errors.Is(err, threadlineops.ErrInvalidBaseline) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
