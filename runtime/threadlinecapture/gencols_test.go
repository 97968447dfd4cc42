package threadlinecapture

import (
	"context"
	"strings"
	"testing"
	"time"
)

const genAddedDDL = `
CREATE TABLE items (id int PRIMARY KEY, price numeric, qty int, note text);
`

// TestGeneratedColumnAdded: a stored generated column added by ALTER
// TABLE while the consumer runs (and has seen the table) is in the WAL
// images from the next change on, as in the trigger engine's, without a
// restart: the relation message that follows the ALTER TABLE brings it.
// (The trigger engine's changed_fields list the columns known when its
// migration was generated, the WAL engine's those of the relation
// message, so changed_fields are checked, not compared.)
func TestGeneratedColumnAdded(t *testing.T) {
	const tables = "  items:\n    store_changed_from: true\n"
	trig := newDB(t, "trigger", genAddedDDL, tables)
	wal := newDB(t, "wal", genAddedDDL, tables)
	createSlot(t, wal, "genadd")
	startConsumer(t, wal, "genadd")
	for _, tx := range [][]string{
		{`INSERT INTO items VALUES (1, 2.5, 4, 'a')`},
		{`ALTER TABLE items ADD COLUMN total numeric GENERATED ALWAYS AS (price * qty) STORED`},
		{`UPDATE items SET qty = 5 WHERE id = 1`},
		{`INSERT INTO items VALUES (2, 1, NULL, NULL)`},
		{`ALTER TABLE items ADD COLUMN label text GENERATED ALWAYS AS (upper(note) || '/' || id) STORED`},
		{`UPDATE items SET note = 'c', price = 3 WHERE id = 1`},
		{`DELETE FROM items WHERE id = 2`},
	} {
		runWorkload(t, trig, [][]string{tx})
		runWorkload(t, wal, [][]string{tx})
		// The consumer reads each relation message before the next DDL.
		waitCaughtUp(t, wal, "genadd", 30*time.Second)
	}
	want, got := trail(t, trig.pool), trail(t, wal.pool)
	if len(got) != len(want) {
		t.Fatalf("%d changes in the WAL trail, %d in the trigger engine's", len(got), len(want))
	}
	changed := []string{"", "qty total", "", "label note price total", ""}
	for i := range want {
		if got[i].After != want[i].After || got[i].Before != want[i].Before {
			t.Errorf("change %d:\ntrigger: %s\nwal:     %s", i+1, want[i], got[i])
		}
		if c := strings.Join(got[i].Changed, " "); c != changed[i] {
			t.Errorf("change %d: changed_fields %q, want %q", i+1, c, changed[i])
		}
	}
	if len(got) != 5 || !strings.Contains(got[4].Before, `"label": null, "price": 1, "total": null`) {
		t.Fatalf("the WAL trail lacks the added generated columns:\n%v", got)
	}
	if want := `{"note": "a", "label": "A/1", "price": 2.5, "total": 12.5}`; got[3].ChangedFrom != want {
		t.Errorf("change 4: changed_from %s, want %s", got[3].ChangedFrom, want)
	}
}

// TestGeneratedColumnCatalogAhead: the catalog is read when a relation
// message is decoded, so a consumer behind a DDL sees a generation
// expression newer than the changes it decodes. An expression that
// reads a column the stream's relation message does not have (renamed
// since) is left out of those images; one that no longer evaluates on
// the stream's values (an input's type changed since) is left out of the
// batch's images: the trail goes on, it does not stop on them.
func TestGeneratedColumnCatalogAhead(t *testing.T) {
	db := newDB(t, "wal", `CREATE TABLE items (id int PRIMARY KEY, note text, n text,
		label text GENERATED ALWAYS AS (upper(note)) STORED, twice int GENERATED ALWAYS AS (length(n) * 2) STORED)`, "  items: {}\n")
	createSlot(t, db, "genahead")
	runWorkload(t, db, [][]string{
		{`INSERT INTO items VALUES (1, 'a', 'xy')`},
		{`ALTER TABLE items RENAME COLUMN note TO memo`},
		{`ALTER TABLE items ALTER COLUMN n TYPE int USING length(n), DROP COLUMN twice, ADD COLUMN twice int GENERATED ALWAYS AS (n * 2) STORED`},
		{`INSERT INTO items VALUES (2, 'b', 3)`},
	})
	startConsumer(t, db, "genahead")
	waitCaughtUp(t, db, "genahead", 30*time.Second)
	got := trail(t, db.pool)
	if len(got) != 2 {
		t.Fatalf("%d changes, want 2", len(got))
	}
	if got[0].After != `{"n": "xy", "id": 1, "note": "a"}` {
		t.Errorf("change 1: %s", got[0].After)
	}
	if got[1].After != `{"n": 3, "id": 2, "memo": "b", "label": "B", "twice": 6}` {
		t.Errorf("change 2: %s", got[1].After)
	}
}

// TestGeneratedColumnUnknownInput: with replica identity default, an
// unchanged TOASTed value is not sent and cannot be taken from an old
// row: a generated column computed from it is left out of the image, as
// the value itself is, while one computed from known values is there.
func TestGeneratedColumnUnknownInput(t *testing.T) {
	db := newDB(t, "wal\nwal:\n  replica_identity:\n    docs: default", `CREATE TABLE docs (id int PRIMARY KEY, title text, body text,
		body_len int GENERATED ALWAYS AS (length(body)) STORED, title_up text GENERATED ALWAYS AS (upper(title)) STORED)`, "  docs: {}\n")
	createSlot(t, db, "genunk")
	startConsumer(t, db, "genunk")
	runWorkload(t, db, [][]string{
		{`INSERT INTO docs VALUES (1, 'a', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) AS g))`},
		{`UPDATE docs SET title = 'b' WHERE id = 1`},
	})
	waitCaughtUp(t, db, "genunk", 30*time.Second)
	got := trail(t, db.pool)
	if len(got) != 2 {
		t.Fatalf("%d changes, want 2", len(got))
	}
	if !strings.Contains(got[0].After, `"body_len": 96000`) || !strings.Contains(got[0].After, `"title_up": "A"`) {
		t.Errorf("insert: %s", short(got[0].After))
	}
	if got[1].After != `{"id": 1, "title": "b", "title_up": "B"}` {
		t.Errorf("update: %s, want the known values only", short(got[1].After))
	}
	var n int
	if err := db.pool.QueryRow(context.Background(), `SELECT count(*) FROM threadline.audit_changes WHERE data_after ? 'body_len'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d images with body_len (%v), want 1", n, err)
	}
}
