package threadlinecapture

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestReplicaIdentityDefault: with wal.replica_identity: default the
// stream carries no old row: an update lists every column as changed and
// has no prior values, a key change still records the old key, a delete
// records its key and no before-image, and an unchanged TOASTed value,
// which nothing sent, is left out of the image (not invented).
func TestReplicaIdentityDefault(t *testing.T) {
	db := newDB(t, "wal\nwal:\n  replica_identity:\n    docs: default", `CREATE TABLE docs (id int PRIMARY KEY, title text, body text)`, "  docs:\n    store_changed_from: true\n")
	var ident string
	if err := db.pool.QueryRow(context.Background(), `SELECT relreplident::text FROM pg_class WHERE relname = 'docs'`).Scan(&ident); err != nil || ident != "d" {
		t.Fatalf("replica identity %q, %v", ident, err)
	}
	createSlot(t, db, "ident")
	startConsumer(t, db, "ident")
	runWorkload(t, db, [][]string{
		{`INSERT INTO docs VALUES (1, 'a', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) AS g))`},
		{`UPDATE docs SET title = 'b' WHERE id = 1`},
		{`UPDATE docs SET id = 2 WHERE id = 1`},
		{`DELETE FROM docs WHERE id = 2`},
	})
	waitCaughtUp(t, db, "ident", 30*time.Second)
	got := trail(t, db.pool)
	if len(got) != 4 {
		t.Fatalf("%d changes, want 4", len(got))
	}
	type want struct{ op, pk, pkb, after, before, changed, from string }
	for i, w := range []want{
		{"insert", `{"id": 1}`, "", `"body": "`, "", "[]", ""},
		{"update", `{"id": 1}`, "", `{"id": 1, "title": "b"}`, "", "[body id title]", ""},
		{"update", `{"id": 2}`, `{"id": 1}`, `{"id": 2, "title": "b"}`, "", "[body id title]", ""},
		{"delete", `{"id": 2}`, "", "", "", "[]", ""},
	} {
		c := got[i]
		if c.Op != w.op || c.PK != w.pk || c.PKBefore != w.pkb || !strings.Contains(c.After, w.after) || (w.after == "" && c.After != "") ||
			c.Before != w.before || strings.Replace(strings.Trim(strings.Join(c.Changed, " "), " "), "", "", 1) != strings.Trim(w.changed, "[]") || c.ChangedFrom != w.from {
			t.Errorf("change %d: %s", i+1, short(c.String()))
		}
	}
}
