package threadlinecapture

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/internal/contract"
)

// column is one column of a relation message.
type column struct {
	name   string
	typ    uint32
	typmod int32
	cast   string // the SQL type its text is cast to in the audit database
}

// relation is a decoded relation with how its changes are recorded.
type relation struct {
	id           uint32
	schema, name string
	cols         []column
	// cap is the table's capture record; nil when the table is not
	// captured (its changes are ignored).
	cap *contract.WALRules
	// actions is set for the audit schema's audit_actions (published
	// so that record_action's insert arrives with its transaction).
	actions bool
	// imageCols are the indexes of the columns whose values are staged
	// (all but the excluded), excludedCols those of the excluded ones.
	imageCols, excludedCols []int
	// gen are the table's stored generated columns, which pgoutput does
	// not send; genSQL computes their values in the source database from
	// the columns genInputs (indexes into cols) that their expressions
	// read.
	gen       []genColumn
	genInputs []int
	genSQL    string
	// sql turns the staged rows of this relation (pg_temp.tl_stage.rel =
	// index) into pg_temp.tl_out rows; for audit_actions, it copies the
	// staged actions (pg_temp.tl_action.rel = index) to a trail on
	// another database.
	sql   string
	index int32
}

// genColumn is a stored generated column.
type genColumn struct {
	name string
	expr string // its generation expression, names qualified
	typ  string // its declared type
	// deps are the columns the expression reads: when one of them is
	// unknown (an unchanged TOASTed value not sent), so is its value.
	deps []string
	// excluded: its value never reaches the trail, only that it changed.
	excluded bool
}

// writer writes batches into the audit database.
type writer struct {
	cfg    Config
	log    *slog.Logger
	source *pgxpool.Pool // catalog lookups, slot state, audit_wal_tables
	audit  *pgx.Conn     // one connection: the batch's temp tables live in its session
	s      string        // quoted audit schema
	types  map[uint32]typeInfo
	nrel   int32
	rels   []*relation // by index
	// sameDB: the trail is in the captured database (record_action's
	// headers may be there).
	sameDB bool
	// nextXid is the source's next transaction id, read at nextAt.
	nextXid uint64
	nextAt  time.Time
}

type typeInfo struct {
	typtype  byte
	base     uint32
	basemod  int32
	elem     uint32
	category byte
}

func newWriter(ctx context.Context, cfg Config, log *slog.Logger) (*writer, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.SourceURL)
	if err != nil {
		return nil, errorf("source url: %w", err)
	}
	pcfg.MaxConns = 2
	// Generated columns are computed on this pool: their JSON values take
	// the settings of the trigger engine's capture functions.
	for k, v := range sessionParams {
		pcfg.ConnConfig.RuntimeParams[k] = v
	}
	// format_type and pg_get_expr qualify every name outside pg_catalog.
	pcfg.ConnConfig.RuntimeParams["search_path"] = "pg_catalog"
	pcfg.ConnConfig.RuntimeParams["application_name"] = "threadline capture (catalog)"
	source, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, errorf("source connection: %w", err)
	}
	acfg, err := pgx.ParseConfig(cfg.AuditURL)
	if err != nil {
		source.Close()
		return nil, errorf("audit url: %w", err)
	}
	for k, v := range sessionParams {
		acfg.RuntimeParams[k] = v
	}
	acfg.RuntimeParams["search_path"] = "pg_catalog, pg_temp"
	// A batch of a 100,000-row statement is sorted and staged in memory.
	acfg.RuntimeParams["work_mem"] = "64MB"
	acfg.RuntimeParams["temp_buffers"] = "128MB"
	acfg.RuntimeParams["application_name"] = "threadline capture (trail)"
	audit, err := pgx.ConnectConfig(ctx, acfg)
	if err != nil {
		source.Close()
		return nil, errorf("audit connection: %w", err)
	}
	w := &writer{cfg: cfg, log: log, source: source, audit: audit, sameDB: cfg.AuditURL == cfg.SourceURL, s: contract.QuoteIdent(cfg.AuditSchema), types: map[uint32]typeInfo{}}
	if err := w.setup(ctx); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *writer) close() {
	w.source.Close()
	_ = w.audit.Close(context.Background())
}

// setup creates the session's staging tables and the progress table (for
// a trail on another database, where no migration created it).
func (w *writer) setup(ctx context.Context) error {
	if len(w.cfg.AuditStore) > 0 {
		if err := w.installStore(ctx); err != nil {
			return err
		}
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + w.s + `.audit_wal_progress (slot text PRIMARY KEY, lsn pg_lsn NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
		`CREATE TABLE IF NOT EXISTS ` + w.s + `.audit_wal_gaps (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, slot text NOT NULL,
			after_lsn pg_lsn NOT NULL, until_lsn pg_lsn NOT NULL, last_written_at timestamptz, detected_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
		`CREATE TEMP TABLE tl_tx (tx int4, hid int8, xid int8, started_at timestamptz, commit_at timestamptz, actor text, request_id text, correlation_id text,
			action_id int8) ON COMMIT DELETE ROWS`,
		`CREATE TEMP TABLE tl_action (tx int4, rel int4, v text[]) ON COMMIT DELETE ROWS`,
		`CREATE TEMP TABLE tl_stage (seq int4, tx int4, rel int4, op text, n text[], o text[], xch text[], ko bool, nu text[], gn text, gold text) ON COMMIT DELETE ROWS`,
		`CREATE TEMP TABLE tl_out (seq int4, tx int4, table_schema text, table_name text, op text, table_pk jsonb, table_pk_before jsonb,
			data_after jsonb, data_before jsonb, changed_fields text[], changed_from jsonb) ON COMMIT DELETE ROWS`,
	}
	for _, s := range stmts {
		if _, err := w.audit.Exec(ctx, s); err != nil {
			return errorf("audit database setup: %w", err)
		}
	}
	// The roles that read the trail read its gaps too (threadline
	// continuity and verify show them): SELECT on audit_wal_gaps for each
	// role granted SELECT on audit_changes. A GRANT on a table another
	// role owns grants nothing, with a warning only.
	grant := `DO $threadline$
DECLARE
    v_role text;
BEGIN
    FOR v_role IN SELECT DISTINCT a.grantee::regrole::text
        FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
        WHERE c.oid = pg_catalog.to_regclass(` + contract.QuoteLiteral(w.s+".audit_changes") + `) AND a.privilege_type = 'SELECT'
          AND a.grantee <> 0 AND a.grantee <> c.relowner LOOP
        EXECUTE 'GRANT SELECT ON ` + w.s + `.audit_wal_gaps TO ' || v_role;
    END LOOP;
END
$threadline$`
	if _, err := w.audit.Exec(ctx, grant); err != nil {
		return errorf("audit database setup: grant the readers audit_wal_gaps: %w", err)
	}
	return nil
}

// installStore installs the audit schema on the audit database when its
// audit_changes table does not exist.
func (w *writer) installStore(ctx context.Context) error {
	var exists bool
	if err := w.audit.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, w.s+".audit_changes").Scan(&exists); err != nil {
		return errorf("audit database: %w", err)
	}
	if exists {
		return nil
	}
	err := pgx.BeginFunc(ctx, w.audit, func(tx pgx.Tx) error {
		for _, s := range w.cfg.AuditStore {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return errorf("install the audit schema on the audit database: %w", err)
	}
	w.log.Info("threadline capture: installed the audit schema on the audit database", "schema", w.cfg.AuditSchema)
	return nil
}

// progress returns the end of the last source transaction written.
func (w *writer) progress(ctx context.Context) (pglogrepl.LSN, error) {
	var s string
	err := w.audit.QueryRow(ctx, `SELECT lsn::text FROM `+w.s+`.audit_wal_progress WHERE slot = $1`, w.cfg.Slot).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, errorf("read progress: %w", err)
	}
	l, err := pglogrepl.ParseLSN(s)
	if err != nil {
		return 0, errorf("progress %q: %w", s, err)
	}
	return l, nil
}

// ensurePublication creates the publication, empty, when it does not
// exist yet. PostgreSQL 15's pgoutput fails on every change decoded
// before its publication existed, so a slot must not predate it: with
// the consumer started first (it creates both), a later migration that
// switches tables from the trigger engine adds them to the publication in
// the transaction that drops their triggers, with no gap.
func (w *writer) ensurePublication(ctx context.Context, name string) error {
	var exists bool
	if err := w.source.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname = $1)`, name).Scan(&exists); err != nil {
		return errorf("look up publication %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := w.source.Exec(ctx, `CREATE PUBLICATION `+contract.QuoteIdent(name)+` WITH (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)`); err != nil {
		return errorf("create publication %s: %w", name, err)
	}
	w.log.Warn("threadline capture: created the empty publication; the generated migrations add the tables", "publication", name)
	return nil
}

// recordGap records that the changes committed after the trail's last
// written transaction (after) and before a new slot's start (until) are
// not captured.
func (w *writer) recordGap(ctx context.Context, slot string, after pglogrepl.LSN, until string) error {
	_, err := w.audit.Exec(ctx, `INSERT INTO `+w.s+`.audit_wal_gaps (slot, after_lsn, until_lsn, last_written_at)
		SELECT $1, $2::pg_lsn, $3::pg_lsn, (SELECT updated_at FROM `+w.s+`.audit_wal_progress WHERE slot = $1)`, slot, after.String(), until)
	if err != nil {
		return errorf("record the gap of slot %s: %w", slot, err)
	}
	return nil
}

func (w *writer) slotExists(ctx context.Context, slot string) (bool, error) {
	var plugin string
	err := w.source.QueryRow(ctx, `SELECT coalesce(plugin, '') FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND database = current_database()`, slot).Scan(&plugin)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, errorf("look up slot %s: %w", slot, err)
	}
	if plugin != "pgoutput" {
		return false, errorf("slot %s uses plugin %q, not pgoutput", slot, plugin)
	}
	return true, nil
}

// relation builds the relation of a relation message: its capture record
// (audit_wal_tables, by table oid, else by name), its columns' types and
// its image SQL. A relation message comes before a table's first change
// in a session and after each change of its columns, so new and renamed
// columns are captured without regeneration.
func (w *writer) relation(ctx context.Context, m *pglogrepl.RelationMessage) (*relation, error) {
	r := &relation{id: m.RelationID, schema: m.Namespace, name: m.RelationName}
	for _, c := range m.Columns {
		r.cols = append(r.cols, column{name: c.Name, typ: c.DataType, typmod: c.TypeModifier})
	}
	if m.Namespace == w.cfg.AuditSchema && m.RelationName == "audit_actions" {
		return w.actionsRelation(ctx, r)
	}
	var raw []byte
	var schemaName, tableName string
	err := w.source.QueryRow(ctx, `SELECT table_schema, table_name, capture FROM `+w.s+`.audit_wal_tables
		WHERE relid = $1 OR (table_schema = $2 AND table_name = $3) ORDER BY relid = $1 DESC LIMIT 1`,
		m.RelationID, m.Namespace, m.RelationName).Scan(&schemaName, &tableName, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		var partition bool
		if err := w.source.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+w.s+`.audit_wal_tables
			WHERE relid = pg_catalog.pg_partition_root($1::oid::regclass))`, m.RelationID).Scan(&partition); err != nil {
			return nil, errorf("look up the root of %s.%s: %w", m.Namespace, m.RelationName, err)
		}
		if partition {
			// A partition of a captured table: its row changes come as
			// the root's (publish_via_partition_root); a TRUNCATE names
			// the root as well.
			return r, nil
		}
		w.log.Warn("threadline capture: a published table has no audit_wal_tables record: its changes are not captured (run the generated migrations)",
			"table", m.Namespace+"."+m.RelationName)
		return r, nil
	}
	if err != nil {
		return nil, errorf("read audit_wal_tables for %s.%s: %w", m.Namespace, m.RelationName, err)
	}
	var c contract.WALRules
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, errorf("audit_wal_tables record of %s.%s: %w", schemaName, tableName, err)
	}
	r.cap = &c
	// The trail names the table as configured (as the trigger engine's
	// capture function does), even after a rename.
	r.schema, r.name = schemaName, tableName
	for i := range r.cols {
		if slices.Contains(c.Exclude, r.cols[i].name) {
			r.excludedCols = append(r.excludedCols, i)
			continue
		}
		cast, err := w.castType(ctx, r.cols[i].typ, r.cols[i].typmod)
		if err != nil {
			return nil, err
		}
		r.cols[i].cast = cast
		r.imageCols = append(r.imageCols, i)
	}
	if err := w.generated(ctx, r); err != nil {
		return nil, err
	}
	r.index = w.nrel
	w.nrel++
	w.rels = append(w.rels, r)
	r.sql = imageSQL(r)
	return r, nil
}

// actionsRelation completes the relation of audit_actions: its copy
// statement, for a trail on another database. The copy keeps the
// action's id (the one RecordAction returned); only this consumer writes
// that database's audit_actions.
func (w *writer) actionsRelation(ctx context.Context, r *relation) (*relation, error) {
	r.actions, r.index = true, w.nrel
	w.nrel++
	names := make([]string, len(r.cols))
	vals := make([]string, len(r.cols))
	for i, col := range r.cols {
		cast, err := w.castType(ctx, col.typ, col.typmod)
		if err != nil {
			return nil, err
		}
		names[i] = contract.QuoteIdent(col.name)
		vals[i] = "(a.v[" + strconv.Itoa(i+1) + "])::" + cast
	}
	r.sql = `INSERT INTO ` + w.s + `.audit_actions (` + strings.Join(names, ", ") + `) OVERRIDING SYSTEM VALUE
SELECT ` + strings.Join(vals, ", ") + ` FROM pg_temp.tl_action AS a WHERE a.rel = $1 ORDER BY a.tx
ON CONFLICT (id) DO NOTHING`
	return r, nil
}

// actionID returns the id of a staged audit_actions row.
func actionID(t *txn) any {
	if t.action == nil {
		return nil
	}
	for i, col := range t.actionRel.cols {
		if col.name == "id" && t.action[i] != nil {
			id, err := strconv.ParseInt(*t.action[i], 10, 64)
			if err == nil {
				return id
			}
		}
	}
	return nil
}

// castType returns the type a column's text is cast to so that to_jsonb
// gives the trigger engine's value: a domain's base type (to_jsonb looks
// through domains), text for an enum (its JSON form is its label), an
// array of those for arrays, else the type itself with its modifier.
func (w *writer) castType(ctx context.Context, oid uint32, typmod int32) (string, error) {
	ti, ok := w.types[oid]
	if !ok {
		var tt, cat string
		err := w.source.QueryRow(ctx, `SELECT typtype::text, typbasetype, typtypmod, typelem, typcategory::text FROM pg_catalog.pg_type WHERE oid = $1`, oid).
			Scan(&tt, &ti.base, &ti.basemod, &ti.elem, &cat)
		if err != nil {
			return "", errorf("look up type %d: %w", oid, err)
		}
		ti.typtype, ti.category = tt[0], cat[0]
		w.types[oid] = ti
	}
	switch {
	case ti.typtype == 'd':
		return w.castType(ctx, ti.base, ti.basemod)
	case ti.typtype == 'e':
		return "text", nil
	case ti.category == 'A' && ti.elem != 0:
		e, err := w.castType(ctx, ti.elem, typmod)
		if err != nil {
			return "", err
		}
		if strings.HasSuffix(e, "]") {
			return e, nil
		}
		return e + "[]", nil
	}
	var name string
	if err := w.source.QueryRow(ctx, `SELECT pg_catalog.format_type($1, $2)`, oid, typmod).Scan(&name); err != nil {
		return "", errorf("format type %d: %w", oid, err)
	}
	return name, nil
}

// imageSQL renders the statement that turns the staged changes of r into
// their audit rows (pg_temp.tl_out), with the trigger engine's semantics
// (sqltemplates' Image, Redact, KeyOf, ChangedList, ChangedFrom).
func imageSQL(r *relation) string {
	c := r.cap
	img := func(v string) string {
		// jsonb_build_object takes at most 100 arguments: 50 columns a call.
		var parts []string
		for start := 0; start < len(r.imageCols); start += 50 {
			end := min(start+50, len(r.imageCols))
			var args []string
			for j := start; j < end; j++ {
				col := r.cols[r.imageCols[j]]
				args = append(args, contract.QuoteLiteral(col.name), "to_jsonb(("+v+"["+strconv.Itoa(j+1)+"])::"+col.cast+")")
			}
			parts = append(parts, "jsonb_build_object("+strings.Join(args, ", ")+")")
		}
		if len(parts) == 0 {
			return "'{}'::jsonb"
		}
		return strings.Join(parts, " || ")
	}
	keyOf := func(x string) string {
		parts := make([]string, 0, 2*len(c.Key))
		for _, k := range c.Key {
			parts = append(parts, contract.QuoteLiteral(k), x+"->"+contract.QuoteLiteral(k))
		}
		return "jsonb_build_object(" + strings.Join(parts, ", ") + ")"
	}
	keyChanged := func(o, n string) string {
		parts := make([]string, 0, len(c.Key))
		for _, k := range c.Key {
			l := contract.QuoteLiteral(k)
			parts = append(parts, o+"->"+l+" IS DISTINCT FROM "+n+"->"+l)
		}
		return "(" + strings.Join(parts, " OR ") + ")"
	}
	placeholder := "to_jsonb(" + contract.QuoteLiteral(c.Placeholder) + "::text)"
	redact := func(x string) string {
		out := x
		for start := 0; start < len(c.Mask); start += 50 {
			end := min(start+50, len(c.Mask))
			parts := make([]string, 0, 2*(end-start))
			for _, m := range c.Mask[start:end] {
				l := contract.QuoteLiteral(m)
				parts = append(parts, l, "CASE WHEN "+x+"->"+l+" = 'null'::jsonb THEN 'null'::jsonb ELSE "+placeholder+" END")
			}
			out = "(" + out + " || jsonb_build_object(" + strings.Join(parts, ", ") + "))"
		}
		return out
	}
	// The columns whose change counts, sorted as the generator sorts them.
	var names []string
	for _, col := range r.cols {
		if !slices.Contains(c.Except, col.name) {
			names = append(names, col.name)
		}
	}
	for _, g := range r.gen {
		if !slices.Contains(c.Except, g.name) {
			names = append(names, g.name)
		}
	}
	sort.Strings(names)
	var cases, all []string
	for _, n := range names {
		l := contract.QuoteLiteral(n)
		all = append(all, l)
		if slices.Contains(c.Exclude, n) {
			cases = append(cases, "CASE WHEN "+l+" = ANY (d.xch) THEN "+l+" END")
			continue
		}
		cases = append(cases, "CASE WHEN d.o->"+l+" IS DISTINCT FROM d.n->"+l+" THEN "+l+" END")
	}
	changed := "'{}'::text[]"
	allArr := "'{}'::text[]"
	if len(cases) > 0 {
		changed = "array_remove(ARRAY[" + strings.Join(cases, ", ") + "]::text[], NULL)"
		allArr = "ARRAY[" + strings.Join(all, ", ") + "]::text[]"
	}
	changedFrom := "NULL::jsonb"
	if c.StoreChangedFrom {
		prior := "e.o->k"
		if len(c.Mask) > 0 {
			prior = "CASE WHEN k = ANY (" + textArray(c.Mask) + ") AND e.o->k <> 'null'::jsonb THEN " + placeholder + " ELSE e.o->k END"
		}
		where := ""
		if len(c.Exclude) > 0 {
			where = " WHERE k <> ALL (" + textArray(c.Exclude) + ")"
		}
		changedFrom = "CASE WHEN e.op = 'update' AND e.o IS NOT NULL AND NOT e.ko THEN (SELECT jsonb_object_agg(k, " + prior + ") FROM unnest(e.f) AS k" + where + ") END"
	}
	// The generated columns' values, computed in the source database,
	// join the images before redaction (a mask applies to them).
	newImg, oldImg := img("s.n"), img("s.o")
	if len(r.gen) > 0 {
		newImg = "(" + newImg + ") || coalesce(s.gn::jsonb, '{}'::jsonb)"
		oldImg = "(" + oldImg + ") || coalesce(s.gold::jsonb, '{}'::jsonb)"
	}
	return `INSERT INTO pg_temp.tl_out (seq, tx, table_schema, table_name, op, table_pk, table_pk_before, data_after, data_before, changed_fields, changed_from)
SELECT e.seq, e.tx, ` + contract.QuoteLiteral(r.schema) + `, ` + contract.QuoteLiteral(r.name) + `, e.op,
    CASE e.op WHEN 'delete' THEN ` + keyOf("e.o") + ` WHEN 'truncate' THEN NULL ELSE ` + keyOf("e.n") + ` END,
    CASE WHEN e.op = 'update' AND e.o IS NOT NULL AND ` + keyChanged("e.o", "e.n") + ` THEN ` + keyOf("e.o") + ` END,
    CASE WHEN e.op IN ('insert', 'update') THEN ` + redact("e.n") + ` END,
    CASE WHEN e.op = 'delete' AND NOT e.ko THEN ` + redact("e.o") + ` END,
    CASE WHEN e.op = 'update' THEN e.f END,
    ` + changedFrom + `
FROM (
    SELECT d.seq, d.tx, d.op, d.n, d.o, d.ko,
        CASE WHEN d.op <> 'update' THEN NULL WHEN d.o IS NULL OR d.ko THEN ` + allArr + ` ELSE ` + changed + ` END AS f
    FROM (
        SELECT s.seq, s.tx, s.op, s.xch, s.ko,
            CASE WHEN s.n IS NULL THEN NULL ELSE (` + newImg + `) - coalesce(s.nu, '{}'::text[]) END AS n,
            CASE WHEN s.o IS NULL THEN NULL ELSE ` + oldImg + ` END AS o
        FROM pg_temp.tl_stage AS s WHERE s.rel = $1
        OFFSET 0
    ) AS d
    OFFSET 0
) AS e
WHERE e.op <> 'update' OR e.f <> '{}'::text[]`
}

func textArray(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = contract.QuoteLiteral(s)
	}
	return "ARRAY[" + strings.Join(q, ", ") + "]::text[]"
}

var opNames = map[byte]string{'i': "insert", 'u': "update", 'd': "delete", 't': "truncate"}

// xid8 turns a 32-bit transaction id into the 64-bit one
// pg_current_xact_id() gave the transaction: the 64-bit id nearest to
// next (the source's next transaction id, read recently) with those low
// 32 bits. The stream's transactions are within 2^31 of it.
func xid8(xid uint32, next uint64) int64 {
	return int64(next) + int64(int32(xid-uint32(next)))
}
