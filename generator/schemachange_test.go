package generator_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/harness/capturetest"
	"github.com/threadline-go/threadline/harness/pgtest"
)

// Schema changes under capture. The capture function of a table is
// generated from the table's columns as they were at generation time: the
// row image is to_jsonb of the whole row (so it follows the table), but the
// key, the excluded and masked columns, the changed-fields list and the
// table name are static. These tests apply DDL to an audited table, record
// what capture does before the generator is re-run (whatever it is, it is
// asserted here, hazards included), then update the offline schema (and
// the config where the change requires it), re-run the generator and check
// that it writes exactly one new migration, that it applies cleanly and
// that capture is correct afterwards.

const scDDL = `CREATE TABLE accounts (
    id integer PRIMARY KEY,
    name text,
    email text,
    secret text,
    score integer
);`

const scTables = `  accounts:
    exclude: [secret]
    mask: [email]
    store_changed_from: true
`

// scFixture is a project (config + offline schema + migrations) and the
// database its migrations are applied to.
type scFixture struct {
	t   *testing.T
	p   *project
	db  *pgtest.DB
	ddl string
}

func scConfig(tables string) string {
	return "version: 1\nschema:\n  files: [schema.sql]\nmigrations:\n  dir: migrations\n  format: plain\npackage:\n  dir: audit\n  name: audit\ntables:\n" + tables
}

func newSCFixture(t *testing.T) *scFixture {
	f := &scFixture{t: t, p: newProject(t, scConfig(scTables), scDDL), ddl: scDDL}
	f.db = pgtest.NewDB(t, scDDL)
	f.apply(f.p.mustGenerate())
	f.exec(`INSERT INTO accounts VALUES (1, 'Ann', 'ann@example.com', 'S1', 10)`)
	return f
}

func (f *scFixture) exec(sqls ...string) {
	f.t.Helper()
	for _, s := range sqls {
		f.db.Exec(f.t, s)
	}
}

// apply runs the up migrations among files; it returns how many there were.
func (f *scFixture) apply(files []generator.File) int {
	f.t.Helper()
	n := 0
	for _, file := range files {
		if strings.HasSuffix(file.Path, ".up.sql") {
			n++
			if _, err := f.db.Pool.Exec(context.Background(), string(file.Content)); err != nil {
				f.t.Fatalf("apply %s: %v\n%s", file.Path, err, file.Content)
			}
		}
	}
	return n
}

// alter applies DDL to the database and appends it to the offline schema.
func (f *scFixture) alter(ddl string) {
	f.t.Helper()
	f.exec(ddl)
	f.ddl += "\n" + ddl + ";"
	f.p.write("schema.sql", f.ddl)
}

// regenerate re-runs the generator (like threadline-gen) and returns the
// full output; it writes the migrations.
func (f *scFixture) regenerate() (*generator.Output, error) {
	f.t.Helper()
	return f.p.run()
}

// fix regenerates and applies; exactly one new migration is expected.
func (f *scFixture) fix() *generator.Output {
	f.t.Helper()
	out, err := f.regenerate()
	if err != nil {
		f.t.Fatalf("regenerate: %v", err)
	}
	if n := f.apply(out.Migrations); n != 1 {
		f.t.Fatalf("regenerating wrote %d up migrations (%v), want 1", n, paths(out.Migrations))
	}
	if again, err := f.regenerate(); err != nil || len(again.Migrations) != 0 {
		f.t.Fatalf("a second regeneration wrote %v (%v)", paths(again.Migrations), err)
	}
	return out
}

// since returns the changes after the first n, with JSON canonicalised.
func (f *scFixture) since(n int) []capturetest.Change {
	f.t.Helper()
	all := capturetest.Changes(f.t, f.db)
	if len(all) < n {
		f.t.Fatalf("%d changes, fewer than %d", len(all), n)
	}
	out := all[n:]
	for i := range out {
		c := &out[i]
		c.TransactionID = 0
		c.PK, c.PKBefore = canonicalText(f.t, c.PK), canonicalText(f.t, c.PKBefore)
		c.After, c.Before, c.ChangedFrom = canonicalText(f.t, c.After), canonicalText(f.t, c.Before), canonicalText(f.t, c.ChangedFrom)
	}
	return out
}

func (f *scFixture) count() int {
	f.t.Helper()
	return capturetest.Count(f.t, f.db, "audit_changes")
}

func change(table, op, pk, after, before string, changed []string, from string) capturetest.Change {
	return capturetest.Change{Schema: "public", Table: table, Op: op, PK: pk, After: after, Before: before,
		ChangedFields: changed, ChangedFrom: from}
}

func TestSchemaChangeAddColumn(t *testing.T) {
	f := newSCFixture(t)
	f.alter(`ALTER TABLE accounts ADD COLUMN nickname text`)
	n := f.count()
	f.exec(
		`INSERT INTO accounts VALUES (2, 'Bob', NULL, 'S2', 20, 'bobby')`,
		// Only the new column changes: the stale function's changed-fields
		// list does not know it, so the UPDATE is judged a no-op and
		// NOTHING is recorded — silent loss until regeneration.
		`UPDATE accounts SET nickname = 'bobster' WHERE id = 2`,
		// With a known column: recorded, but the new column is missing
		// from changed_fields and changed_from (the image has it).
		`UPDATE accounts SET name = 'Robert', nickname = 'rob' WHERE id = 2`,
		`DELETE FROM accounts WHERE id = 2`,
	)
	assertChanges(t, f.since(n), []capturetest.Change{
		// The row image is to_jsonb of the whole row: the new column is there.
		change("accounts", "insert", `{"id":2}`, `{"email":null,"id":2,"name":"Bob","nickname":"bobby","score":20}`, "", nil, ""),
		change("accounts", "update", `{"id":2}`, `{"email":null,"id":2,"name":"Robert","nickname":"rob","score":20}`, "",
			[]string{"name"}, `{"name":"Bob"}`),
		change("accounts", "delete", `{"id":2}`, "", `{"email":null,"id":2,"name":"Robert","nickname":"rob","score":20}`, nil, ""),
	})

	f.fix()
	n = f.count()
	f.exec(`UPDATE accounts SET nickname = 'annie' WHERE id = 1`)
	assertChanges(t, f.since(n), []capturetest.Change{
		change("accounts", "update", `{"id":1}`, `{"email":"[REDACTED]","id":1,"name":"Ann","nickname":"annie","score":10}`, "",
			[]string{"nickname"}, `{"nickname":null}`),
	})
}

func TestSchemaChangeDropColumn(t *testing.T) {
	f := newSCFixture(t)
	f.alter(`ALTER TABLE accounts DROP COLUMN score`)
	f.alter(`ALTER TABLE accounts DROP COLUMN email`) // a masked column
	n := f.count()
	f.exec(
		`INSERT INTO accounts VALUES (2, 'Bob', 'S2')`,
		`UPDATE accounts SET name = 'Robert' WHERE id = 2`,
		`DELETE FROM accounts WHERE id = 2`,
	)
	// Capture keeps working: the image follows the table. But the stale
	// function still masks "email": the masking expression adds the
	// placeholder for a column the row no longer has (a missing value is
	// not JSON null), so every image shows a phantom "email".
	assertChanges(t, f.since(n), []capturetest.Change{
		change("accounts", "insert", `{"id":2}`, `{"email":"[REDACTED]","id":2,"name":"Bob"}`, "", nil, ""),
		change("accounts", "update", `{"id":2}`, `{"email":"[REDACTED]","id":2,"name":"Robert"}`, "", []string{"name"}, `{"name":"Bob"}`),
		change("accounts", "delete", `{"id":2}`, "", `{"email":"[REDACTED]","id":2,"name":"Robert"}`, nil, ""),
	})

	// Regenerating with the config still masking the dropped column is a
	// loud generate-time error naming it; with the config fixed, one
	// migration.
	_, err := f.regenerate()
	if err == nil || !strings.Contains(err.Error(), "email") {
		t.Fatalf("regenerate with mask on a dropped column: err = %v, want an error naming email", err)
	}
	if got := f.p.migrations(); len(got) != 2 {
		t.Fatalf("a failed generation wrote files: %v", got)
	}
	f.p.write("threadline.yaml", scConfig("  accounts:\n    exclude: [secret]\n    store_changed_from: true\n"))
	f.fix()
	n = f.count()
	f.exec(`UPDATE accounts SET name = 'Annie' WHERE id = 1`)
	assertChanges(t, f.since(n), []capturetest.Change{
		change("accounts", "update", `{"id":1}`, `{"id":1,"name":"Annie"}`, "", []string{"name"}, `{"name":"Ann"}`),
	})
}

func TestSchemaChangeRenameColumn(t *testing.T) {
	f := newSCFixture(t)
	f.alter(`ALTER TABLE accounts RENAME COLUMN name TO full_name`)
	f.alter(`ALTER TABLE accounts RENAME COLUMN secret TO api_secret`)   // an excluded column
	f.alter(`ALTER TABLE accounts RENAME COLUMN email TO contact_email`) // a masked column
	n := f.count()
	f.exec(
		// Only the renamed column changes: not recorded (silent loss).
		`UPDATE accounts SET full_name = 'Annie' WHERE id = 1`,
		`INSERT INTO accounts VALUES (2, 'Bob', 'bob@example.com', 'LEAKED-SECRET', 20)`,
		`DELETE FROM accounts WHERE id = 2`,
	)
	// HAZARD: exclusion and masking are by column name, so the renamed
	// excluded and masked columns are stored in clear until the generator
	// is re-run with the config updated (and the old masked name shows up
	// as a phantom placeholder).
	const leaked = `{"api_secret":"LEAKED-SECRET","contact_email":"bob@example.com","email":"[REDACTED]","full_name":"Bob","id":2,"score":20}`
	assertChanges(t, f.since(n), []capturetest.Change{
		change("accounts", "insert", `{"id":2}`, leaked, "", nil, ""),
		change("accounts", "delete", `{"id":2}`, "", leaked, nil, ""),
	})

	// The config still excludes "secret": a loud generate-time error.
	if _, err := f.regenerate(); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("regenerate with exclude on a renamed column: err = %v, want an error naming secret", err)
	}
	f.p.write("threadline.yaml", scConfig("  accounts:\n    exclude: [api_secret]\n    mask: [contact_email]\n    store_changed_from: true\n"))
	f.fix()
	n = f.count()
	f.exec(
		`UPDATE accounts SET full_name = 'Ann B.' WHERE id = 1`,
		`INSERT INTO accounts VALUES (3, 'Cy', 'cy@example.com', 'NOT-STORED', 30)`,
	)
	assertChanges(t, f.since(n), []capturetest.Change{
		change("accounts", "update", `{"id":1}`, `{"contact_email":"[REDACTED]","full_name":"Ann B.","id":1,"score":10}`, "",
			[]string{"full_name"}, `{"full_name":"Annie"}`),
		change("accounts", "insert", `{"id":3}`, `{"contact_email":"[REDACTED]","full_name":"Cy","id":3,"score":30}`, "", nil, ""),
	})
}

func TestSchemaChangeRenameKeyColumn(t *testing.T) {
	f := newSCFixture(t)
	f.alter(`ALTER TABLE accounts RENAME COLUMN id TO account_id`)
	n := f.count()
	f.exec(`INSERT INTO accounts VALUES (2, 'Bob', NULL, 'S2', 20)`)
	// The stale function builds table_pk from the old key name: the key
	// is recorded as null (the row image still has it). Row history by key
	// cannot find this change.
	assertChanges(t, f.since(n), []capturetest.Change{
		change("accounts", "insert", `{"id":null}`, `{"account_id":2,"email":null,"name":"Bob","score":20}`, "", nil, ""),
	})
	f.fix()
	n = f.count()
	f.exec(`UPDATE accounts SET name = 'Robert' WHERE account_id = 2`)
	assertChanges(t, f.since(n), []capturetest.Change{
		change("accounts", "update", `{"account_id":2}`, `{"account_id":2,"email":null,"name":"Robert","score":20}`, "",
			[]string{"name"}, `{"name":"Bob"}`),
	})
}

func TestSchemaChangeRenameTable(t *testing.T) {
	f := newSCFixture(t)
	f.alter(`ALTER TABLE accounts RENAME TO customers`)
	n := f.count()
	f.exec(`INSERT INTO customers VALUES (2, 'Bob', NULL, 'S2', 20)`)
	// The triggers follow the table (they are attached to it, not to its
	// name), but the function records the name it was generated for:
	// changes to "customers" are filed under "accounts".
	assertChanges(t, f.since(n), []capturetest.Change{
		change("accounts", "insert", `{"id":2}`, `{"email":null,"id":2,"name":"Bob","score":20}`, "", nil, ""),
	})

	// The config still names "accounts", which no longer exists in the
	// schema: a loud generate-time error.
	if _, err := f.regenerate(); err == nil || !strings.Contains(err.Error(), "accounts") {
		t.Fatalf("regenerate with a renamed table: err = %v, want an error naming accounts", err)
	}
	f.p.write("threadline.yaml", scConfig(strings.Replace(scTables, "accounts:", "customers:", 1)))
	out, err := f.regenerate()
	if err != nil {
		t.Fatalf("regenerate: %v", err)
	}
	var up []string
	for _, file := range out.Migrations {
		if strings.HasSuffix(file.Path, ".up.sql") {
			up = append(up, string(file.Content))
		}
	}
	if len(up) != 1 {
		t.Fatalf("regenerating wrote %v, want one migration", paths(out.Migrations))
	}
	// The migration creates capture for customers and drops the capture
	// of accounts. Applied to the database it must succeed and leave
	// exactly one set of triggers on customers, recording "customers".
	if _, err := f.db.Pool.Exec(context.Background(), up[0]); err != nil {
		t.Errorf("BUG: the migration regenerated after RENAME TABLE does not apply: %v\n(the renamed table still "+
			"carries the old threadline_capture_* triggers, which the migration creates again without dropping them)", err)
		// The documented workaround (docs/security.md): drop the old
		// triggers on the renamed table first. The failed migration ran as
		// one implicit transaction and left nothing behind.
		f.exec(`DROP TRIGGER threadline_capture_insert ON customers`, `DROP TRIGGER threadline_capture_update ON customers`,
			`DROP TRIGGER threadline_capture_delete ON customers`, `DROP TRIGGER threadline_capture_truncate ON customers`)
		f.exec(up[0])
	}
	n = f.count()
	f.exec(`UPDATE customers SET name = 'Robert' WHERE id = 2`)
	assertChanges(t, f.since(n), []capturetest.Change{
		change("customers", "update", `{"id":2}`, `{"email":null,"id":2,"name":"Robert","score":20}`, "", []string{"name"}, `{"name":"Bob"}`),
	})
	var fns int
	if err := f.db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_proc WHERE pronamespace = 'threadline'::regnamespace AND proname LIKE 'capture\_%'`).Scan(&fns); err != nil {
		t.Fatal(err)
	}
	if fns != 1 {
		t.Errorf("%d capture functions left, want 1 (the one of accounts must be dropped)", fns)
	}
}

func TestSchemaChangeColumnType(t *testing.T) {
	f := newSCFixture(t)
	f.alter(`ALTER TABLE accounts ALTER COLUMN score TYPE text USING score::text || ' pts'`)
	n := f.count()
	f.exec(`UPDATE accounts SET score = '11 pts' WHERE id = 1`)
	// The image follows the new type (a JSON string now); changed-field
	// detection compares JSON values, so it keeps working.
	assertChanges(t, f.since(n), []capturetest.Change{
		change("accounts", "update", `{"id":1}`, `{"email":"[REDACTED]","id":1,"name":"Ann","score":"11 pts"}`, "",
			[]string{"score"}, `{"score":"10 pts"}`),
	})

	// The capture SQL does not depend on column types: regenerating
	// writes NO migration (the fingerprint is unchanged) — only the Go
	// package changes, the row type's field following the new column type.
	cfgBefore := f.p.read("migrations/" + f.p.migrations()[len(f.p.migrations())-1])
	out, err := f.regenerate()
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Migrations) != 0 {
		t.Errorf("a type change wrote migrations %v; the capture SQL does not depend on types", paths(out.Migrations))
	}
	if f.p.read("migrations/"+f.p.migrations()[len(f.p.migrations())-1]) != cfgBefore {
		t.Error("a migration was edited")
	}
	var goCode string
	for _, file := range out.Package {
		goCode += string(file.Content)
	}
	if !regexp.MustCompile(`Score\s+\*string\b`).MatchString(goCode) {
		t.Errorf("the generated row type does not follow the new type of score (want Score *string):\n%s", goCode)
	}
	n = f.count()
	f.exec(`UPDATE accounts SET score = '12 pts' WHERE id = 1`)
	if got := f.since(n); len(got) != 1 || got[0].After != `{"email":"[REDACTED]","id":1,"name":"Ann","score":"12 pts"}` {
		t.Errorf("capture after the type change: %s", dump(got))
	}
}

// TestCaptureModeChange switches a table from statement-level to
// row-level capture and back: each switch is one migration, and every
// write is recorded exactly once (the previous mode's triggers are gone).
func TestCaptureModeChange(t *testing.T) {
	f := newSCFixture(t)
	id := 2
	for _, mode := range []string{"row", "statement"} {
		f.p.write("threadline.yaml", scConfig(scTables+"    capture: "+mode+"\n"))
		f.fix()
		var triggers []string
		if err := f.db.Pool.QueryRow(context.Background(), `SELECT array_agg(tgname::text ORDER BY tgname)
			FROM pg_trigger WHERE tgrelid = 'accounts'::regclass AND NOT tgisinternal`).Scan(&triggers); err != nil {
			t.Fatal(err)
		}
		want := []string{"threadline_capture_row", "threadline_capture_truncate"}
		if mode == "statement" {
			want = []string{"threadline_capture_delete", "threadline_capture_insert", "threadline_capture_truncate", "threadline_capture_update"}
		}
		if strings.Join(triggers, ",") != strings.Join(want, ",") {
			t.Fatalf("%s: triggers %v, want %v", mode, triggers, want)
		}
		n := f.count()
		f.exec(
			fmt.Sprintf(`INSERT INTO accounts VALUES (%d, 'Bob', 'bob@example.com', 'S2', 1)`, id),
			fmt.Sprintf(`UPDATE accounts SET score = 2 WHERE id = %d`, id),
			fmt.Sprintf(`DELETE FROM accounts WHERE id = %d`, id),
		)
		pk := fmt.Sprintf(`{"id":%d}`, id)
		img := func(score int) string {
			return fmt.Sprintf(`{"email":"[REDACTED]","id":%d,"name":"Bob","score":%d}`, id, score)
		}
		assertChanges(t, f.since(n), []capturetest.Change{
			change("accounts", "insert", pk, img(1), "", nil, ""),
			change("accounts", "update", pk, img(2), "", []string{"score"}, `{"score":1}`),
			change("accounts", "delete", pk, "", img(2), nil, ""),
		})
		id++
	}
}
