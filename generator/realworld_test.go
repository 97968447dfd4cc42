package generator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/schema/sqlfile"
	"github.com/threadline-go/threadline/sqltemplates"
)

// The real-world fixture (testdata/realworld) is the schema of a
// multi-tenant B2B SaaS: 165 audited tables in six schemas with text, uuid,
// char(n), domain, enum, timestamptz and composite keys, tables without a
// primary key, partitioned tables, identity and generated columns, arrays,
// ranges and quoted names. The test generates capture for every table,
// installs it, writes one row through every table and checks every audit
// row against the table's own row images.

const rwMinTables = 150

// rwSchemas are the fixture's application schemas.
var rwSchemas = []string{"public", "billing", "catalog", "support", "hr", "analytics"}

// rwDomainValues gives each domain of the fixture two values that pass its
// CHECK (insert, update). Other domains get a value of their base type.
var rwDomainValues = map[string][2]string{
	"public.email":           {"'ops@example.com'", "'billing@example.org'"},
	"public.work_email":      {"'ops@example.com'", "'billing@example.org'"},
	"public.slug":            {"'sample-slug'", "'other-slug'"},
	"public.country_code":    {"'US'", "'DE'"},
	"public.currency_code":   {"'USD'", "'EUR'"},
	"public.percentage":      {"12.5", "15"},
	"public.tag_list":        {"'{alpha,beta}'", "'{gamma}'"},
	"public.hex_color":       {"'#a1b2c3'", "'#000000'"},
	"billing.positive_money": {"12.50", "99.99"},
	"billing.unit_price":     {"12.50", "99.99"},
	"hr.employee_number":     {"'E00042'", "'E00043'"},
}

// rwOverrides are per-column insert values for the CHECK constraints a
// generic value cannot satisfy. Columns listed here are never the column an
// UPDATE changes.
var rwOverrides = map[string]string{
	"public.team_members.role":              "'lead'",
	"public.exchange_rates.quote":           "'EUR'",
	"public.webhook_endpoints.url":          "'https://hooks.example.com/in'",
	"public.export_jobs.format":             "'csv'",
	"public.announcements.ends_at":          "'2026-02-01 00:00:00+00'",
	"public.orders.order_number":            "'SO-000042'",
	"public.warehouses.code":                "'NV01'",
	"public.packages.dimensions_mm":         "'{300,200,100}'",
	"billing.payment_methods.exp_year":      "2030",
	"billing.coupons.amount_off":            "NULL",
	"billing.invoices.number":               "'INV-000042'",
	"billing.ledger_entries.credit":         "0",
	"billing.disputes.id":                   "'dp_42abc'",
	"catalog.skus.sku":                      "'WID-0042'",
	"support.ticket_links.linked_ticket_id": "4",
	"support.business_hours.closes":         "'17:30'",
	"support.call_logs.direction":           "'inbound'",
}

type rwType struct {
	schema, name string
	typtype      string // b, d, e, r, ...
	category     string
	elem         uint32
	base         uint32
	baseTypmod   int32
	notNull      bool   // a domain declared NOT NULL
	format       string // format_type(oid, -1)
}

type rwColumn struct {
	name      string
	typ       uint32
	typmod    int32
	format    string // format_type(atttypid, atttypmod)
	notNull   bool
	identity  string
	generated string
}

type rwTable struct {
	q     schema.QualifiedName
	ident string
	cfg   *config.Table
	cols  []*rwColumn
	key   []string // primary key, or the configured key
	// partitions lists a partitioned table's partitions (schema.name).
	partitions  []string
	partitioned bool
	exclude     map[string]bool
	mask        map[string]bool
	except      map[string]bool
	inserted    map[string]bool // columns given a non-NULL value on insert
	insert      string
	noop        string // UPDATE of except columns only ("" when none)
	secret      string // UPDATE of excluded columns only ("" when none)
	secretCols  []string
	update      string
	updated     string // the column update changes
	updateKind  string // how: "to NULL", "to a new value", "of a key column"
}

// rwNote is a "-- threadline:table" record of a generated migration.
type rwNote struct {
	Schema  string `json:"schema"`
	Name    string `json:"name"`
	Capture *struct {
		Columns          []string `json:"columns"`
		Key              []string `json:"key"`
		Exclude          []string `json:"exclude"`
		Mask             []string `json:"mask"`
		Except           []string `json:"except"`
		StoreChangedFrom bool     `json:"store_changed_from"`
		Row              bool     `json:"row"`
	} `json:"capture"`
}

type rwChange struct {
	id, txID                                 int64
	op                                       string
	pk, pkBefore, after, before, changedFrom any
	changedFields                            []string
}

// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestRealWorldSchema(t *testing.T) {
	ctx := context.Background()
	cfgText := rwRead(t, "threadline.yaml")
	schemaSQL := rwRead(t, "schema.sql")

	// (a) Generate offline, in a temp copy of the fixture.
	p := newProject(t, cfgText, schemaSQL)
	files := p.mustGenerate()
	var up, down string
	for _, f := range files {
		switch {
		case strings.HasSuffix(f.Path, "_threadline_install.up.sql"):
			up = string(f.Content)
		case strings.HasSuffix(f.Path, "_threadline_install.down.sql"):
			down = string(f.Content)
		default:
			t.Errorf("unexpected generated file %s", f.Path)
		}
	}
	if len(files) != 2 || up == "" || down == "" {
		t.Fatalf("want one install migration (up and down), got %v", paths(files))
	}
	notes := rwNotes(t, up)
	if len(notes) < rwMinTables {
		t.Fatalf("install migration records %d tables, want >= %d", len(notes), rwMinTables)
	}
	if again := p.mustGenerate(); len(again) != 0 {
		t.Fatalf("second run wrote %v", paths(again))
	}
	cfg, err := config.Load(filepath.Join(p.dir, "threadline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Tables) != len(notes) {
		t.Errorf("config lists %d tables, migration records %d", len(cfg.Tables), len(notes))
	}

	// (b) Install on a database holding the schema.
	db := pgtest.NewDB(t, schemaSQL)
	rwCompareLoaders(t, db, cfg)
	db.Exec(t, up)
	types := rwTypes(t, db)
	tables := rwTables(t, db, cfg)
	if len(tables) != len(cfg.Tables) {
		t.Fatalf("found %d of the %d configured tables in the database", len(tables), len(cfg.Tables))
	}
	for _, tb := range tables {
		n := notes[tb.q]
		switch {
		case n == nil || n.Capture == nil:
			t.Errorf("%s: no threadline:table record in the install migration", tb.q)
		case !reflect.DeepEqual(n.Capture.Key, tb.key):
			t.Errorf("%s: migration records key %v, the table's key is %v", tb.q, n.Capture.Key, tb.key)
		case n.Capture.Row != tb.partitioned:
			t.Errorf("%s: row-level capture = %v, partitioned = %v", tb.q, n.Capture.Row, tb.partitioned)
		}
	}
	rwCheckTriggers(t, db, tables)
	rwCoverage(t, tables, types)

	// (c) One row through every table: insert, update, delete.
	rwDropForeignKeys(t, db)
	updates := map[string]int{}
	for _, tb := range tables {
		rwPlan(t, tb, types)
		updates[tb.updateKind]++
		if tb.noop != "" {
			updates["also except-only"]++
		}
		if tb.secret != "" {
			updates["also excluded-only"]++
		}
	}
	t.Logf("updates: %v", updates)
	rwExecAll(t, db, "insert", tables, func(tb *rwTable) string { return tb.insert })
	afterInsert := rwSnapshot(t, db, tables)
	rwExecAll(t, db, "no-op update", tables, func(tb *rwTable) string { return tb.noop })
	rwExecAll(t, db, "excluded-only update", tables, func(tb *rwTable) string { return tb.secret })
	rwExecAll(t, db, "update", tables, func(tb *rwTable) string { return tb.update })
	afterUpdate := rwSnapshot(t, db, tables)
	rwExecAll(t, db, "delete", tables, func(tb *rwTable) string { return "DELETE FROM " + tb.ident })

	changes := rwChanges(t, db)
	txOf := map[string]map[int64]bool{}
	for _, tb := range tables {
		got := changes[tb.q]
		delete(changes, tb.q)
		if tb.secret != "" {
			got = rwCheckSecretUpdate(t, tb, got)
		}
		if len(got) != 3 || got[0].op != "insert" || got[1].op != "update" || got[2].op != "delete" {
			var ops []string
			for _, c := range got {
				ops = append(ops, c.op)
			}
			t.Errorf("%s: changes %v, want [insert update delete]", tb.q, ops)
			continue
		}
		for _, c := range got {
			if txOf[c.op] == nil {
				txOf[c.op] = map[int64]bool{}
			}
			txOf[c.op][c.txID] = true
		}
		rwCheckRow(t, tb, got, afterInsert[tb.q], afterUpdate[tb.q])
	}
	for q, cs := range changes {
		t.Errorf("%d changes recorded for %s, which is not audited", len(cs), q)
	}
	// Each multi-statement batch is one transaction: one header each.
	for op, ids := range txOf {
		if len(ids) != 1 {
			t.Errorf("%s changes span %d audit transactions, want 1", op, len(ids))
		}
	}
	var headers int
	rwQueryRow(t, db, `SELECT count(*) FROM threadline.audit_transactions`, nil, &headers)
	if headers != 4 {
		t.Errorf("audit_transactions = %d, want 4 (the no-op batch records nothing)", headers)
	}

	// (d) Redaction: excluded and masked values never reach an audit row.
	for _, marker := range []string{"SECRET-", "MASKED-"} {
		var hits int
		rwQueryRow(t, db, `SELECT count(*) FROM threadline.audit_changes c WHERE c::text LIKE '%' || $1 || '%'`, []any{marker}, &hits)
		if hits != 0 {
			t.Errorf("%d audit rows hold a %s value", hits, marker)
		}
	}

	// TRUNCATE: one change for a plain table and for a single partition
	// (attributed to the audited parent).
	for _, tc := range []struct{ stmt, table string }{
		{`TRUNCATE public.tags`, "tags"},
		{`TRUNCATE analytics.events_2026_02`, "events"},
	} {
		var before int64
		rwQueryRow(t, db, `SELECT coalesce(max(id), 0) FROM threadline.audit_changes`, nil, &before)
		db.Exec(t, tc.stmt)
		rows, err := db.Pool.Query(ctx, `SELECT table_name || ':' || op || ':' || coalesce(table_pk::text, 'null')
			FROM threadline.audit_changes WHERE id > $1 ORDER BY id`, before)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{tc.table + ":truncate:null"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: changes %v, want %v", tc.stmt, got, want)
		}
	}
	// TRUNCATE of a partitioned parent is captured once, for the parent,
	// although PostgreSQL fires the truncate triggers of the parent and of
	// every partition.
	var before int64
	rwQueryRow(t, db, `SELECT coalesce(max(id), 0) FROM threadline.audit_changes`, nil, &before)
	db.Exec(t, `TRUNCATE analytics.usage_by_region`)
	var parentTruncates, others int
	rwQueryRow(t, db, `SELECT count(*) FILTER (WHERE table_name = 'usage_by_region' AND op = 'truncate'),
		count(*) FILTER (WHERE table_name <> 'usage_by_region' OR op <> 'truncate')
		FROM threadline.audit_changes WHERE id > $1`, []any{before}, &parentTruncates, &others)
	if parentTruncates != 1 || others != 0 {
		t.Errorf("TRUNCATE analytics.usage_by_region: %d truncate changes for the parent and %d others", parentTruncates, others)
	}

	// (e) The down migration removes every trace of Threadline.
	db.Exec(t, down)
	var triggers, functions int
	var auditSchema *string
	rwQueryRow(t, db, `SELECT
		(SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'threadline\_%'),
		(SELECT count(*) FROM pg_proc WHERE proname LIKE 'capture\_%' OR pronamespace::regnamespace::text = 'threadline'),
		(SELECT nspname::text FROM pg_namespace WHERE nspname = 'threadline')`, nil, &triggers, &functions, &auditSchema)
	if triggers != 0 || functions != 0 || auditSchema != nil {
		t.Errorf("after down: %d triggers, %d functions, schema %v remain", triggers, functions, auditSchema)
	}
}

func rwRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "realworld", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rwCompareLoaders checks that the offline loader (pg_query over
// schema.sql) and the live loader (catalog queries) see the same schema.
func rwCompareLoaders(t *testing.T, db *pgtest.DB, cfg *config.Config) {
	t.Helper()
	offline, err := sqlfile.LoadGlobs(cfg.Schema.Files)
	if err != nil {
		t.Fatalf("offline schema: %v", err)
	}
	live, err := schema.LoadLive(context.Background(), db.Pool, schema.LiveOptions{ExcludeSchemas: []string{cfg.AuditSchema}})
	if err != nil {
		t.Fatalf("live schema: %v", err)
	}
	offline.Sort()
	live.Sort()
	if len(offline.Tables) != len(live.Tables) {
		t.Errorf("offline loader sees %d tables, live loader %d", len(offline.Tables), len(live.Tables))
	}
	for _, lt := range live.Tables {
		ot := offline.Table(lt.QualifiedName)
		if !reflect.DeepEqual(ot, lt) {
			t.Errorf("%s: offline and live models differ:\noffline %s\n   live %s", lt.QualifiedName, rwJSON(ot), rwJSON(lt))
		}
	}
	if !reflect.DeepEqual(offline.Enums, live.Enums) {
		t.Errorf("enums differ:\noffline %s\n   live %s", rwJSON(offline.Enums), rwJSON(live.Enums))
	}
	if !reflect.DeepEqual(offline.Domains, live.Domains) {
		t.Errorf("domains differ:\noffline %s\n   live %s", rwJSON(offline.Domains), rwJSON(live.Domains))
	}
}

func rwJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// rwNotes parses the threadline:table records of a migration.
func rwNotes(t *testing.T, up string) map[schema.QualifiedName]*rwNote {
	t.Helper()
	out := map[schema.QualifiedName]*rwNote{}
	for _, rec := range generator.TableRecords(up) {
		var n rwNote
		if err := json.Unmarshal([]byte(rec), &n); err != nil {
			t.Fatalf("bad threadline:table record %q: %v", rec, err)
		}
		q := schema.QualifiedName{Schema: n.Schema, Name: n.Name}
		if out[q] != nil {
			t.Errorf("table %s recorded twice", q)
		}
		out[q] = &n
	}
	return out
}

// rwQueryRow runs a one-row query with args and scans it into dest.
func rwQueryRow(t *testing.T, db *pgtest.DB, sql string, args []any, dest ...any) {
	t.Helper()
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func rwTypes(t *testing.T, db *pgtest.DB) map[uint32]*rwType {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
		SELECT t.oid, n.nspname::text, t.typname::text, t.typtype::text, t.typcategory::text,
		       t.typelem, t.typbasetype, t.typtypmod, t.typnotnull, format_type(t.oid, -1)
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE t.typtype IN ('b', 'd', 'e', 'r') AND n.nspname <> 'pg_toast'`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]*rwType{}
	for rows.Next() {
		var oid uint32
		var ty rwType
		if err := rows.Scan(&oid, &ty.schema, &ty.name, &ty.typtype, &ty.category, &ty.elem, &ty.base, &ty.baseTypmod, &ty.notNull, &ty.format); err != nil {
			t.Fatal(err)
		}
		out[oid] = &ty
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rwTables reads the columns and primary keys of the configured tables from
// the catalog, in config order.
//
// Long on purpose: the fixture's per-table settings, one case each.
func rwTables(t *testing.T, db *pgtest.DB, cfg *config.Config) []*rwTable {
	t.Helper()
	ctx := context.Background()
	byName := map[schema.QualifiedName]*rwTable{}
	var out []*rwTable
	for _, tc := range cfg.Tables {
		q := tc.Qualified()
		tb := &rwTable{
			q: q, ident: q.Quoted(), cfg: tc,
			exclude: rwSet(tc.Exclude), mask: rwSet(tc.Mask), except: rwSet(tc.ExceptColumns),
			inserted: map[string]bool{},
		}
		byName[q] = tb
		out = append(out, tb)
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT n.nspname::text, c.relname::text, c.relkind::text, a.attname::text, a.atttypid, a.atttypmod,
		       format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity::text, a.attgenerated::text
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND n.nspname = ANY ($1)
		ORDER BY n.nspname, c.relname, a.attnum`, rwSchemas)
	if err != nil {
		t.Fatal(err)
	}
	found := map[schema.QualifiedName]bool{}
	for rows.Next() {
		var q schema.QualifiedName
		var kind string
		c := &rwColumn{}
		if err := rows.Scan(&q.Schema, &q.Name, &kind, &c.name, &c.typ, &c.typmod, &c.format, &c.notNull, &c.identity, &c.generated); err != nil {
			t.Fatal(err)
		}
		if tb := byName[q]; tb != nil {
			tb.cols = append(tb.cols, c)
			tb.partitioned = kind == "p"
			found[q] = true
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err = db.Pool.Query(ctx, `
		SELECT n.nspname::text, c.relname::text, array_agg(a.attname::text ORDER BY k.ord)
		FROM pg_index i
		JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k (attnum, ord)
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
		WHERE i.indisprimary AND n.nspname = ANY ($1)
		GROUP BY 1, 2`, rwSchemas)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var q schema.QualifiedName
		var key []string
		if err := rows.Scan(&q.Schema, &q.Name, &key); err != nil {
			t.Fatal(err)
		}
		if tb := byName[q]; tb != nil {
			tb.key = key
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err = db.Pool.Query(ctx, `
		SELECT pn.nspname::text, p.relname::text, cn.nspname::text || '.' || c.relname::text
		FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_namespace cn ON cn.oid = c.relnamespace
		JOIN pg_class p ON p.oid = i.inhparent
		JOIN pg_namespace pn ON pn.oid = p.relnamespace
		WHERE pn.nspname = ANY ($1)`, rwSchemas)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var q schema.QualifiedName
		var part string
		if err := rows.Scan(&q.Schema, &q.Name, &part); err != nil {
			t.Fatal(err)
		}
		if tb := byName[q]; tb != nil {
			tb.partitions = append(tb.partitions, part)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var kept []*rwTable
	for _, tb := range out {
		if !found[tb.q] {
			t.Errorf("configured table %s not in the database", tb.q)
			continue
		}
		if len(tb.cfg.Key) > 0 {
			if tb.key != nil {
				t.Errorf("%s: has a primary key %v and a configured key", tb.q, tb.key)
			}
			tb.key = nil
			for _, k := range tb.cfg.Key {
				tb.key = append(tb.key, k.Value)
			}
		}
		if len(tb.key) == 0 {
			t.Errorf("%s: no key", tb.q)
			continue
		}
		kept = append(kept, tb)
	}
	return kept
}

func rwSet(names []config.Name) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n.Value] = true
	}
	return m
}

// rwCheckTriggers asserts every audited table (and every partition of a
// partitioned one) has exactly its capture triggers, each calling the
// table's capture function, and that each table has one function.
func rwCheckTriggers(t *testing.T, db *pgtest.DB, tables []*rwTable) {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
		SELECT n.nspname::text || '.' || c.relname::text, tg.tgname::text || '->' || fn.nspname::text || '.' || p.proname::text
		FROM pg_trigger tg
		JOIN pg_class c ON c.oid = tg.tgrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_proc p ON p.oid = tg.tgfoid
		JOIN pg_namespace fn ON fn.oid = p.pronamespace
		WHERE tg.tgname LIKE 'threadline\_%' OR fn.nspname = 'threadline'`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for rows.Next() {
		var table, trigger string
		if err := rows.Scan(&table, &trigger); err != nil {
			t.Fatal(err)
		}
		got[table] = append(got[table], trigger)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, tb := range tables {
		fn := "threadline." + sqltemplates.FunctionName(tb.q)
		names := []string{contract.TriggerDelete, contract.TriggerInsert, contract.TriggerTruncate, contract.TriggerUpdate}
		if tb.partitioned {
			// A row-level trigger on the parent, cloned by PostgreSQL to
			// every partition; truncate triggers on the parent and on each
			// partition.
			names = []string{contract.TriggerRow, contract.TriggerTruncate}
			if len(tb.partitions) == 0 {
				t.Errorf("%s: partitioned table without partitions", tb.q)
			}
		}
		var w []string
		for _, n := range names {
			w = append(w, n+"->"+fn)
		}
		want[tb.q.String()] = w
		for _, part := range tb.partitions {
			want[part] = w
		}
	}
	for table, w := range want {
		g := got[table]
		sort.Strings(g)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: triggers %v, want %v", table, g, w)
		}
	}
	for table, g := range got {
		if want[table] == nil {
			t.Errorf("%s: unexpected capture triggers %v", table, g)
		}
	}
	var functions, distinct int
	rwQueryRow(t, db, `SELECT count(*), count(DISTINCT proname) FROM pg_proc
		WHERE pronamespace = 'threadline'::regnamespace AND proname LIKE 'capture\_%'`, nil, &functions, &distinct)
	if functions != len(tables) || distinct != len(tables) {
		t.Errorf("%d capture functions (%d names) installed, want %d", functions, distinct, len(tables))
	}
}

// rwCoverage logs what the fixture covers and fails when it stops covering
// the key shapes it exists for.
func rwCoverage(t *testing.T, tables []*rwTable, types map[uint32]*rwType) {
	t.Helper()
	perSchema := map[string]int{}
	keyTypes := map[string]bool{}
	var composite, configured, partitioned, notID int
	for _, tb := range tables {
		perSchema[tb.q.Schema]++
		switch {
		case len(tb.cfg.Key) > 0:
			configured++
		case len(tb.key) > 1:
			composite++
		}
		if tb.partitioned {
			partitioned++
		}
		if len(tb.key) != 1 || tb.key[0] != "id" {
			notID++
		}
		for _, c := range tb.cols {
			if slicesContain(tb.key, c.name) {
				kind := types[c.typ].typtype
				if kind == "b" {
					kind = types[c.typ].name
				}
				keyTypes[kind] = true
			}
		}
	}
	var kinds []string
	for k := range keyTypes {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	t.Logf("%d tables %v: %d with composite keys, %d with a configured key (no primary key), %d partitioned, %d keyed by something other than id; key column types %v (d=domain, e=enum)",
		len(tables), perSchema, composite, configured, partitioned, notID, kinds)
	for _, k := range []string{"int4", "int8", "int2", "text", "bpchar", "uuid", "date", "timestamptz", "cidr", "d", "e"} {
		if !keyTypes[k] {
			t.Errorf("fixture: no key column of type %s", k)
		}
	}
	if composite < 40 || configured < 5 || partitioned < 2 || notID < 100 {
		t.Errorf("fixture lost coverage: composite=%d configured=%d partitioned=%d notID=%d", composite, configured, partitioned, notID)
	}
}

// rwDropForeignKeys drops every foreign key of the application schemas so
// that each table can take a row on its own (test database only).
func rwDropForeignKeys(t *testing.T, db *pgtest.DB) {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
		SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname)
		FROM pg_constraint
		WHERE contype = 'f' AND conparentid = 0 AND connamespace::regnamespace::text = ANY ($1)`, rwSchemas)
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) < 100 {
		t.Fatalf("found only %d foreign keys to drop", len(stmts))
	}
	db.Exec(t, strings.Join(stmts, ";\n"))
}

// rwPlan builds the statements that write one row through tb.
//
// Long on purpose: the fixture's schema changes, one case each, in order.
func rwPlan(t *testing.T, tb *rwTable, types map[uint32]*rwType) {
	t.Helper()
	var names, values []string
	isKey := map[string]bool{}
	for _, k := range tb.key {
		isKey[k] = true
	}
	for _, c := range tb.cols {
		if c.identity == "a" || c.generated != "" {
			continue
		}
		v, ok := rwOverrides[tb.q.String()+"."+c.name]
		if !ok {
			v = rwValue(t, tb, c, types, 0)
		}
		if v != "NULL" {
			tb.inserted[c.name] = true
		}
		names = append(names, sqltemplates.QuoteIdent(c.name))
		values = append(values, "("+v+")::"+c.format)
	}
	tb.insert = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", tb.ident, strings.Join(names, ", "), strings.Join(values, ", "))

	// An UPDATE of except columns only must record nothing; one of
	// excluded columns only records the fact, with no value.
	var noop, secret []string
	for _, c := range tb.cols {
		set := func() string {
			return sqltemplates.QuoteIdent(c.name) + " = (" + rwValue(t, tb, c, types, 1) + ")::" + c.format
		}
		switch {
		case isKey[c.name]:
		case tb.except[c.name]:
			noop = append(noop, set())
		case tb.exclude[c.name]:
			secret = append(secret, set())
			tb.secretCols = append(tb.secretCols, c.name)
		}
	}
	if len(noop) > 0 {
		tb.noop = "UPDATE " + tb.ident + " SET " + strings.Join(noop, ", ")
	}
	if len(secret) > 0 {
		tb.secret = "UPDATE " + tb.ident + " SET " + strings.Join(secret, ", ")
		sort.Strings(tb.secretCols)
	}

	// The UPDATE changes one ordinary column: the last nullable one that
	// holds a value (set to NULL), else the last NOT NULL one (set to a
	// second value), else — for a table of key columns only — the last key
	// column.
	usable := func(c *rwColumn) bool {
		_, overridden := rwOverrides[tb.q.String()+"."+c.name]
		return c.identity != "a" && c.generated == "" && !overridden &&
			!tb.exclude[c.name] && !tb.except[c.name]
	}
	nullable := func(c *rwColumn) bool {
		if c.notNull {
			return false
		}
		for ty := types[c.typ]; ty != nil && ty.typtype == "d"; ty = types[ty.base] {
			if ty.notNull {
				return false
			}
		}
		return true
	}
	var pick *rwColumn
	setNull := false
	for _, c := range tb.cols {
		if usable(c) && !isKey[c.name] && nullable(c) && tb.inserted[c.name] {
			pick, setNull = c, true
		}
	}
	if pick == nil {
		for _, c := range tb.cols {
			if usable(c) && !isKey[c.name] {
				pick = c
			}
		}
	}
	if pick == nil {
		for _, c := range tb.cols {
			if usable(c) && isKey[c.name] {
				pick = c
			}
		}
	}
	if pick == nil {
		t.Fatalf("%s: no column to update", tb.q)
	}
	v := "NULL"
	tb.updateKind = "to NULL"
	if !setNull {
		v = "(" + rwValue(t, tb, pick, types, 1) + ")::" + pick.format
		tb.updateKind = "to a new value"
		if isKey[pick.name] {
			tb.updateKind = "of a key column"
		}
	}
	tb.updated = pick.name
	tb.update = "UPDATE " + tb.ident + " SET " + sqltemplates.QuoteIdent(pick.name) + " = " + v
}

// rwValue returns a SQL expression for value number v (0 or 1) of column c.
// Excluded and masked text and json columns get marker values that must
// never reach the audit tables.
func rwValue(t *testing.T, tb *rwTable, c *rwColumn, types map[uint32]*rwType, v int) string {
	t.Helper()
	marker := ""
	switch {
	case tb.exclude[c.name]:
		marker = "SECRET-"
	case tb.mask[c.name]:
		marker = "MASKED-"
	}
	length := 0
	if c.typmod > 4 {
		length = int(c.typmod) - 4 // char(n), varchar(n)
	}
	return rwLiteral(t, types, c.typ, c.name, marker, length, v)
}

// Long on purpose: one case per PostgreSQL type, in one switch.
func rwLiteral(t *testing.T, types map[uint32]*rwType, oid uint32, col, marker string, length, v int) string {
	t.Helper()
	ty := types[oid]
	if ty == nil {
		t.Fatalf("column %s: unknown type oid %d", col, oid)
	}
	pick := func(a, b string) string {
		if v == 0 {
			return a
		}
		return b
	}
	switch ty.typtype {
	case "d":
		if vals, ok := rwDomainValues[ty.schema+"."+ty.name]; ok {
			return vals[v]
		}
		base := types[ty.base]
		return "(" + rwLiteral(t, types, ty.base, col, marker, length, v) + ")::" + base.format
	case "e":
		return fmt.Sprintf("(enum_range(NULL::%s))[%d]", ty.format, v+1)
	}
	if ty.category == "A" && ty.elem != 0 {
		elem := types[ty.elem]
		return "ARRAY[(" + rwLiteral(t, types, ty.elem, col, marker, 0, v) + ")::" + elem.format + "]"
	}
	text := strings.ToLower(col) + pick("_one", "_two")
	if marker != "" {
		text = marker + strings.ToLower(col) + pick("-1", "-2")
	}
	switch ty.name {
	case "int2", "int4", "int8":
		return pick("3", "4")
	case "numeric":
		return pick("0.75", "0.5")
	case "float4", "float8":
		return pick("1.5", "2.5")
	case "bool":
		return pick("true", "false")
	case "text", "varchar":
		if length > 0 && len(text) > length {
			text = text[:length]
		}
		return rwQuote(text)
	case "bpchar":
		n := max(length, 1)
		return rwQuote(strings.Repeat(pick("A", "B"), n))
	case "date":
		return pick("'2026-01-15'", "'2026-01-16'")
	case "timestamptz":
		return pick("'2026-01-15 10:00:00+00'", "'2026-01-16 11:30:00+00'")
	case "timestamp":
		return pick("'2026-01-15 10:00:00'", "'2026-01-16 11:30:00'")
	case "time":
		return pick("'09:00'", "'10:30'")
	case "interval":
		return pick("'1 hour'", "'2 hours 30 minutes'")
	case "uuid":
		h := fnv.New32a()
		h.Write([]byte(col))
		return fmt.Sprintf("'00000000-0000-4000-8000-%012d'", uint64(h.Sum32())*2+uint64(v))
	case "json", "jsonb":
		if marker != "" {
			return rwQuote(`{"v": "` + text + `"}`)
		}
		return pick(`'{"k": "one", "n": [1, 2]}'`, `'{"k": "two"}'`)
	case "bytea":
		return pick(`'\x01020304'`, `'\x05060708'`)
	case "inet":
		return pick("'192.0.2.10'", "'192.0.2.11'")
	case "cidr":
		return pick("'192.0.2.0/24'", "'198.51.100.0/24'")
	case "int4range", "int8range":
		return pick("'[1,5)'", "'[2,6)'")
	case "daterange":
		return pick("'[2026-01-01,2026-02-01)'", "'[2026-02-01,2026-03-01)'")
	case "tstzrange":
		return pick("'[2026-01-01 00:00:00+00,2026-02-01 00:00:00+00)'", "'[2026-02-01 00:00:00+00,2026-03-01 00:00:00+00)'")
	}
	t.Fatalf("column %s: no test value for type %s", col, ty.format)
	return ""
}

func rwQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// rwExecAll runs one statement per table as a single multi-statement batch
// (one transaction). On failure it finds the failing statement.
func rwExecAll(t *testing.T, db *pgtest.DB, what string, tables []*rwTable, stmt func(*rwTable) string) {
	t.Helper()
	ctx := context.Background()
	var stmts []string
	for _, tb := range tables {
		if s := stmt(tb); s != "" {
			stmts = append(stmts, s)
		}
	}
	_, err := db.Pool.Exec(ctx, strings.Join(stmts, ";\n"))
	if err == nil {
		return
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		t.Logf("%s batch: %s (table %s.%s, constraint %s)", what, pe.Message, pe.SchemaName, pe.TableName, pe.ConstraintName)
	}
	// Find the failing statements, one savepoint each.
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, "SAVEPOINT s"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, s); err != nil {
			t.Errorf("%s: %v\n%s", what, err, s)
			tx.Exec(ctx, "ROLLBACK TO SAVEPOINT s")
		}
	}
	t.FailNow()
}

// rwSnapshot returns every audited table's only row as decoded to_jsonb.
func rwSnapshot(t *testing.T, db *pgtest.DB, tables []*rwTable) map[schema.QualifiedName]map[string]any {
	t.Helper()
	var parts []string
	for i, tb := range tables {
		parts = append(parts, fmt.Sprintf("SELECT %d, to_jsonb(r)::text FROM %s AS r", i, tb.ident))
	}
	rows, err := db.Pool.Query(context.Background(), strings.Join(parts, "\nUNION ALL\n"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[schema.QualifiedName]map[string]any{}
	for rows.Next() {
		var i int
		var text string
		if err := rows.Scan(&i, &text); err != nil {
			t.Fatal(err)
		}
		q := tables[i].q
		if out[q] != nil {
			t.Fatalf("%s holds more than one row", q)
		}
		m, _ := rwDecode(t, text).(map[string]any)
		out[q] = m
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if out[tb.q] == nil {
			t.Fatalf("%s holds no row", tb.q)
		}
	}
	return out
}

func rwDecode(t *testing.T, text string) any {
	t.Helper()
	if text == "" {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader([]byte(text)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", text, err)
	}
	return v
}

// rwChanges returns the audit rows of every table, in id order.
func rwChanges(t *testing.T, db *pgtest.DB) map[schema.QualifiedName][]rwChange {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
		SELECT id, transaction_id, table_schema, table_name, op,
		       coalesce(table_pk::text, ''), coalesce(table_pk_before::text, ''),
		       coalesce(data_after::text, ''), coalesce(data_before::text, ''),
		       changed_fields, coalesce(changed_from::text, '')
		FROM threadline.audit_changes ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[schema.QualifiedName][]rwChange{}
	for rows.Next() {
		var c rwChange
		var q schema.QualifiedName
		var pk, pkBefore, after, before, from string
		if err := rows.Scan(&c.id, &c.txID, &q.Schema, &q.Name, &c.op, &pk, &pkBefore, &after, &before, &c.changedFields, &from); err != nil {
			t.Fatal(err)
		}
		c.pk, c.pkBefore, c.after, c.before, c.changedFrom =
			rwDecode(t, pk), rwDecode(t, pkBefore), rwDecode(t, after), rwDecode(t, before), rwDecode(t, from)
		out[q] = append(out[q], c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rwCheckRow compares a table's insert, update and delete changes with
// its row images before (r1) and after (r2) the update.
// rwCheckSecretUpdate checks the change the update of excluded columns
// only recorded (the second of got: the fact, the column names, no value)
// and returns got without it.
func rwCheckSecretUpdate(t *testing.T, tb *rwTable, got []rwChange) []rwChange {
	t.Helper()
	if len(got) != 4 || got[1].op != "update" {
		return got // reported by the caller
	}
	c := got[1]
	if !reflect.DeepEqual(c.changedFields, tb.secretCols) || c.changedFrom != nil || c.pkBefore != nil {
		t.Errorf("%s excluded-only update: changed_fields %v, changed_from %v, pk_before %v; want %v, none, none",
			tb.q, c.changedFields, c.changedFrom, c.pkBefore, tb.secretCols)
	}
	return append(got[:1:1], got[2:]...)
}

// Long on purpose: one case per PostgreSQL type, in one switch.
func rwCheckRow(t *testing.T, tb *rwTable, got []rwChange, r1, r2 map[string]any) {
	t.Helper()
	placeholder := tb.cfg.MaskPlaceholder
	redact := func(row map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range row {
			switch {
			case tb.exclude[k]:
			case tb.mask[k] && v != nil:
				out[k] = placeholder
			default:
				out[k] = v
			}
		}
		return out
	}
	keyOf := func(row map[string]any) map[string]any {
		out := map[string]any{}
		for _, k := range tb.key {
			out[k] = row[k]
		}
		return out
	}
	var changed []string
	for k := range r2 {
		if !tb.exclude[k] && !tb.except[k] && !reflect.DeepEqual(r1[k], r2[k]) {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	if !slicesContain(changed, tb.updated) {
		t.Errorf("%s: the update of %s changed %v", tb.q, tb.updated, changed)
	}
	var pkBefore any
	if !reflect.DeepEqual(keyOf(r1), keyOf(r2)) {
		pkBefore = keyOf(r1)
	}
	var changedFrom any
	if tb.cfg.StoreChangedFrom {
		m := map[string]any{}
		red := redact(r1)
		for _, k := range changed {
			m[k] = red[k]
		}
		changedFrom = m
	}
	asAny := func(m map[string]any) any { return m }
	want := []rwChange{
		{op: "insert", pk: asAny(keyOf(r1)), after: asAny(redact(r1))},
		{op: "update", pk: asAny(keyOf(r2)), pkBefore: pkBefore, after: asAny(redact(r2)), changedFields: changed, changedFrom: changedFrom},
		{op: "delete", pk: asAny(keyOf(r2)), before: asAny(redact(r2))},
	}
	for i, w := range want {
		g := got[i]
		g.id, g.txID = 0, 0
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s %s:\n got %s\nwant %s", tb.q, w.op, rwShow(g), rwShow(w))
		}
	}
	// Explicitly, for the redaction rules: excluded columns are absent
	// everywhere, masked columns hold the placeholder.
	for _, c := range got {
		for _, img := range []any{c.after, c.before, c.changedFrom} {
			m, _ := img.(map[string]any)
			for col := range tb.exclude {
				if _, ok := m[col]; ok {
					t.Errorf("%s %s: excluded column %s stored", tb.q, c.op, col)
				}
			}
			for col := range tb.mask {
				if v, ok := m[col]; ok && v != nil && v != placeholder {
					t.Errorf("%s %s: masked column %s holds %v", tb.q, c.op, col, v)
				}
			}
		}
		for _, f := range c.changedFields {
			if tb.except[f] {
				t.Errorf("%s %s: changed_fields lists %s", tb.q, c.op, f)
			}
		}
	}
	for col := range tb.mask {
		if tb.inserted[col] {
			if m, _ := got[0].after.(map[string]any); m[col] != placeholder {
				t.Errorf("%s insert: masked column %s = %v, want %q", tb.q, col, m[col], placeholder)
			}
		}
	}
}

func slicesContain(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func rwShow(c rwChange) string {
	j := func(v any) string {
		if v == nil {
			return "NULL"
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	return fmt.Sprintf("pk=%s pk_before=%s after=%s before=%s changed=%v from=%s",
		j(c.pk), j(c.pkBefore), j(c.after), j(c.before), c.changedFields, j(c.changedFrom))
}
