package threadlineops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/tlerr"
	threadline "github.com/threadline-go/threadline/runtime"
)

// Continuity (brownfield): capture starts when the triggers are
// installed. Rows that already existed then have no captured insert, so
// their history starts at their first audited write; Threadline never
// fabricates the missing past. Continuity says, per audited table, whether
// that is the case, and Baseline optionally records a clearly labelled
// snapshot of the current rows in a separate table (audit_baselines),
// never in audit_changes.
//
// The rule: a current row "has a captured origin" when audit_changes
// holds an insert of its current key, or an update that changed a key
// into it (table_pk_before set). A table's rows predate capture when at
// least one current row has no captured origin: it was written before the
// triggers existed, or while they were disabled. The check is an index
// lookup per row (audit_changes_row_idx) that stops at the first such
// row; ContinuityOptions.Exact counts them all, and counts the rows.

// ContinuityTable names a table to check.
type ContinuityTable struct {
	// Table is "table" or "schema.table" (as threadline.Filter.Table).
	Table string
	// Key lists the columns stored in table_pk, in key order (the
	// table's key in threadline.yaml); nil means the primary key.
	Key []string
}

// ContinuityOptions tunes Continuity.
type ContinuityOptions struct {
	// Exact counts rows with count(*) instead of the planner's estimate
	// (pg_class.reltuples), and counts every row without a captured
	// origin instead of stopping at the first.
	Exact bool
}

// TableContinuity is the continuity of one table.
type TableContinuity struct {
	// Table is the qualified name (threadline.Filter.Table form).
	Table string `json:"table"`
	// Exists is false when there is no such table (nothing else is set).
	Exists bool `json:"exists"`
	// Key is the key used to match rows with captured changes.
	Key []string `json:"key,omitempty"`
	// Rows is the row count: exact when RowsExact, else the planner's
	// estimate (-1 when the table was never analyzed).
	Rows      int64 `json:"rows"`
	RowsExact bool  `json:"rows_exact"`
	// HasRows is true when the table holds at least one row.
	HasRows bool `json:"has_rows"`
	// PredatesCapture is true when some current rows have no captured
	// origin (see the rule above).
	PredatesCapture bool `json:"predates_capture"`
	// RowsWithoutOrigin counts those rows when Exact was set; else it is
	// 1 when PredatesCapture (at least one), 0 otherwise.
	RowsWithoutOrigin int64 `json:"rows_without_origin"`
	// FirstChangeAt is when the table's first captured change that still
	// exists was captured (nil: none). Retention may have purged older
	// ones.
	FirstChangeAt *time.Time `json:"first_change_at"`
	// Capture is the table's coverage status; Ready is true when its
	// capture triggers are all present and enabled.
	Capture CoverageStatus `json:"capture"`
	Ready   bool           `json:"ready"`
	// Gaps are the breaks in the table's coverage recorded by the WAL
	// engine (engine: wal): changes committed in them are not in the
	// trail. Only for a table the WAL engine captures or captured (an
	// audit_wal_tables row); oldest first.
	Gaps []CaptureGap `json:"gaps,omitempty"`
	// Explanation says in plain words where the table's history starts.
	Explanation string `json:"explanation"`
}

// Continuity reports, for each table, its rows, whether they predate
// capture, its first captured change and whether capture is ready.
func (a Audit) Continuity(ctx context.Context, db threadline.DBTX, tables []ContinuityTable, opts ContinuityOptions) ([]TableContinuity, error) {
	expected := map[string]string{}
	for _, t := range tables {
		expected[t.Table] = ""
	}
	cov, err := a.Coverage(ctx, db, expected, CoverageOptions{})
	if err != nil {
		return nil, tlerr.Wrap(err, "continuity")
	}
	status := map[string]TableCoverage{}
	for _, t := range cov.Tables {
		status[t.Table] = t
	}
	out := make([]TableContinuity, 0, len(tables))
	for _, t := range tables {
		tn, err := parseTableName(t.Table)
		if err != nil {
			return nil, tlerr.Wrap(err, "continuity")
		}
		tc := TableContinuity{Table: tn.Text()}
		c := status[tc.Table]
		tc.Capture, tc.Ready = c.Status, c.Status == CoverageCovered
		if c.Status == CoverageMissing {
			tc.Explanation = "no such table"
			out = append(out, tc)
			continue
		}
		tc.Exists = true
		if err := a.continuity(ctx, db, tn, t.Key, opts, &tc); err != nil {
			return nil, tlerr.Wrap(err, "continuity of %s", tc.Table)
		}
		out = append(out, tc)
	}
	return out, nil
}

// primaryKey reads the primary key columns of t, in key order.
func primaryKey(ctx context.Context, db threadline.DBTX, t tableName) ([]string, error) {
	var key []string
	err := db.QueryRow(ctx, `SELECT coalesce(array_agg(a.attname::text ORDER BY k.ord), '{}')
FROM pg_catalog.pg_index AS i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1::regclass AND i.indisprimary`, t.Quoted()).Scan(&key)
	if err != nil {
		return nil, fmt.Errorf("read the primary key: %w", err)
	}
	return key, nil
}

// keyExpr renders the table_pk object of row image j, as the capture
// builds it.
func keyExpr(key []string, j string) string {
	parts := make([]string, 0, 2*len(key))
	for _, k := range key {
		parts = append(parts, contract.QuoteLiteral(k), j+"->"+contract.QuoteLiteral(k))
	}
	return "jsonb_build_object(" + strings.Join(parts, ", ") + ")"
}

func (a Audit) continuity(ctx context.Context, db threadline.DBTX, tn tableName, key []string, opts ContinuityOptions, tc *TableContinuity) error {
	rel := tn.Quoted()
	if len(key) == 0 {
		var err error
		if key, err = primaryKey(ctx, db, tn); err != nil {
			return err
		}
	}
	tc.Key = key
	if err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+rel+")").Scan(&tc.HasRows); err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	if opts.Exact {
		tc.RowsExact = true
		if err := db.QueryRow(ctx, "SELECT count(*) FROM "+rel).Scan(&tc.Rows); err != nil {
			return fmt.Errorf("count rows: %w", err)
		}
	} else {
		// A partitioned table has no rows of its own: add up its leaves.
		// reltuples is -1 for a table never vacuumed or analyzed.
		var est float64
		var analyzed bool
		if err := db.QueryRow(ctx, `SELECT coalesce(sum(greatest(c.reltuples, 0)), 0), coalesce(bool_and(c.reltuples >= 0), false)
FROM pg_catalog.pg_class AS c
WHERE c.oid = $1::regclass AND c.relkind = 'r'
   OR c.oid IN (SELECT relid FROM pg_catalog.pg_partition_tree($1::regclass) WHERE isleaf)`, rel).Scan(&est, &analyzed); err != nil {
			return fmt.Errorf("estimate rows: %w", err)
		}
		tc.Rows = int64(est)
		if !analyzed {
			tc.Rows = -1
		}
	}
	s := a.schema()
	if err := db.QueryRow(ctx, "SELECT min(captured_at) FROM "+s+".audit_changes WHERE table_name = $1 AND table_schema = $2",
		tn.Name, tn.Schema).Scan(&tc.FirstChangeAt); err != nil {
		return fmt.Errorf("read the first captured change: %w", err)
	}
	if tc.FirstChangeAt != nil {
		u := tc.FirstChangeAt.UTC()
		tc.FirstChangeAt = &u
	}
	gaps, err := a.captureGaps(ctx, db, &tn)
	if err != nil {
		return err
	}
	tc.Gaps = gaps
	if tc.HasRows {
		if len(key) == 0 {
			tc.Explanation = "the table has no primary key: pass its key (as in threadline.yaml) to compare rows with captured changes"
			return nil
		}
		orphans := "FROM " + rel + " AS r WHERE NOT EXISTS (SELECT 1 FROM " + s + ".audit_changes AS c" +
			" WHERE jsonb_hash_extended(c.table_pk, hashtext(c.table_name)) = jsonb_hash_extended(" + keyExpr(key, "to_jsonb(r)") + ", hashtext($1::text))" +
			" AND c.table_name = $1 AND c.table_schema = $2 AND c.table_pk = " + keyExpr(key, "to_jsonb(r)") +
			" AND (c.op = 'insert' OR (c.op = 'update' AND c.table_pk_before IS NOT NULL)))"
		sql := "SELECT CASE WHEN EXISTS (SELECT 1 " + orphans + ") THEN 1 ELSE 0 END"
		if opts.Exact {
			sql = "SELECT count(*) " + orphans
		}
		if err := db.QueryRow(ctx, sql, tn.Name, tn.Schema).Scan(&tc.RowsWithoutOrigin); err != nil {
			return fmt.Errorf("compare rows with captured inserts: %w", err)
		}
		tc.PredatesCapture = tc.RowsWithoutOrigin > 0
	}
	tc.Explanation = explainContinuity(*tc)
	return nil
}

func explainContinuity(tc TableContinuity) string {
	var b strings.Builder
	switch {
	case !tc.HasRows:
		b.WriteString("The table is empty: every row written from now on is captured from its first write.")
	case !tc.PredatesCapture:
		b.WriteString("Every current row's insert was captured: history is complete for the current rows.")
	default:
		if tc.RowsWithoutOrigin > 1 || tc.FirstChangeAt == nil {
			fmt.Fprintf(&b, "%s current row(s) existed before capture started (or were written while it was off). ", countText(tc))
		} else {
			b.WriteString("Some current rows existed before capture started (or were written while it was off). ")
		}
		b.WriteString("Their history starts at their first audited write; earlier states were never recorded and are not reconstructed.")
		b.WriteString(" A baseline (threadline continuity --baseline) records their current state, labelled, in audit_baselines, outside the captured history.")
	}
	if tc.FirstChangeAt != nil {
		fmt.Fprintf(&b, " First captured change: %s.", tc.FirstChangeAt.Format(time.RFC3339))
	} else {
		b.WriteString(" No change captured yet.")
	}
	if n := len(tc.Gaps); n > 0 {
		fmt.Fprintf(&b, " Coverage has %d break(s): ", n)
		for i, g := range tc.Gaps {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(g.String())
		}
		b.WriteString(".")
	}
	if !tc.Ready {
		fmt.Fprintf(&b, " Capture is not ready (%s): writes are not being audited.", tc.Capture)
	}
	return b.String()
}

func countText(tc TableContinuity) string {
	if tc.RowsWithoutOrigin > 1 {
		return fmt.Sprint(tc.RowsWithoutOrigin)
	}
	if tc.Rows >= 0 {
		return fmt.Sprintf("All (about %d)", tc.Rows)
	}
	return "All"
}

// BaselineSpec describes a baseline snapshot of one table.
type BaselineSpec struct {
	// Table is "table" or "schema.table".
	Table string
	// Key lists the key columns (nil: the primary key).
	Key []string
	// Exclude and Mask redact the snapshot exactly as the capture does:
	// excluded columns are left out, masked ones hold Placeholder (a NULL
	// stays null; json/jsonb values are replaced whole). Pass the table's
	// exclude, mask and mask_placeholder from threadline.yaml.
	Exclude, Mask []string
	Placeholder   string
	// Label describes the snapshot (required), e.g. "brownfield baseline
	// before enabling capture".
	Label string
	// BatchSize is the number of rows copied per statement (default
	// 1000).
	BatchSize int
	// Progress, when set, is called after each batch with the rows copied.
	Progress func(rows int64)
}

// BaselineResult reports a Baseline.
type BaselineResult struct {
	Table   string    `json:"table"`
	Label   string    `json:"label"`
	TakenAt time.Time `json:"taken_at"`
	Rows    int64     `json:"rows"`
	Batches int       `json:"batches"`
}

// ErrInvalidBaseline is wrapped by errors about a BaselineSpec.
var ErrInvalidBaseline = errors.New("threadline: invalid baseline")

// EnsureBaselineTable creates <audit schema>.audit_baselines when it does
// not exist: id, table_schema, table_name, table_pk, data, label,
// taken_at, with an index on (table_name, table_pk). The connecting role
// needs CREATE on the audit schema.
func (a Audit) EnsureBaselineTable(ctx context.Context, db threadline.DBTX) error {
	s := a.schema()
	_, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s+`.audit_baselines (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_schema text NOT NULL,
    table_name text NOT NULL,
    table_pk jsonb NOT NULL,
    data jsonb NOT NULL,
    label text NOT NULL CHECK (label ~ '[^[:space:]]'),
    taken_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_baselines_row_idx ON `+s+`.audit_baselines (table_name, table_pk);
COMMENT ON TABLE `+s+`.audit_baselines IS 'Threadline baseline snapshots: rows as they were when the snapshot was taken, labelled; not captured history (see audit_changes)'`)
	if err != nil {
		return tlerr.Wrap(err, "create audit_baselines")
	}
	return nil
}

// Baseline copies the current rows of one table, redacted, into
// audit_baselines (created when missing) under spec.Label, in batches of
// spec.BatchSize rows in key order; each batch is one INSERT … SELECT,
// so its own short transaction when db is a pool or a connection. All
// rows of one run share TakenAt (the start); rows written while it runs
// are captured by the triggers as usual. Nothing is written to
// audit_changes.
func (a Audit) Baseline(ctx context.Context, db threadline.DBTX, spec BaselineSpec) (BaselineResult, error) {
	tn, err := parseTableName(spec.Table)
	if err != nil {
		return BaselineResult{}, tlerr.Wrap(err, "baseline")
	}
	res := BaselineResult{Table: tn.Text(), Label: strings.TrimSpace(spec.Label)}
	if res.Label == "" {
		return res, fmt.Errorf("%w: a label is required", ErrInvalidBaseline)
	}
	if len(spec.Mask) > 0 && spec.Placeholder == "" {
		return res, fmt.Errorf("%w: masked columns need a placeholder", ErrInvalidBaseline)
	}
	batch := spec.BatchSize
	if batch <= 0 {
		batch = 1000
	}
	key := spec.Key
	if len(key) == 0 {
		if key, err = primaryKey(ctx, db, tn); err != nil {
			return res, tlerr.Wrap(err, "baseline of %s", res.Table)
		}
		if len(key) == 0 {
			return res, fmt.Errorf("%w: %s has no primary key: give its key columns", ErrInvalidBaseline, res.Table)
		}
	}
	if err := a.EnsureBaselineTable(ctx, db); err != nil {
		return res, err
	}
	if err := db.QueryRow(ctx, "SELECT now()").Scan(&res.TakenAt); err != nil {
		return res, tlerr.Wrap(err, "baseline")
	}
	res.TakenAt = res.TakenAt.UTC()

	rel := tn.Quoted()
	cols := make([]string, len(key))
	for i, k := range key {
		cols[i] = pgx.Identifier{k}.Sanitize()
	}
	rowKey := "(r." + strings.Join(cols, ", r.") + ")"
	keyOf := func(param string) string {
		return "(SELECT p." + strings.Join(cols, ", p.") + " FROM jsonb_populate_record(NULL::" + rel + ", " + param + "::jsonb) AS p)"
	}
	order := " ORDER BY r." + strings.Join(cols, ", r.")
	after := " WHERE ($1::jsonb IS NULL OR " + rowKey + " > " + keyOf("$1") + ")"
	// The last key of the next batch, or NULL for a final partial batch.
	lastSQL := "SELECT " + keyExpr(key, "to_jsonb(r)") + " FROM " + rel + " AS r" + after + order + " OFFSET $2 - 1 LIMIT 1"
	redacted := "(SELECT coalesce(jsonb_object_agg(e.k, CASE WHEN e.k = ANY ($4::text[]) AND e.v <> 'null'::jsonb" +
		" THEN to_jsonb($5::text) ELSE e.v END), '{}'::jsonb) FROM jsonb_each(to_jsonb(r) - $3::text[]) AS e(k, v))"
	insertSQL := "INSERT INTO " + a.schema() + ".audit_baselines (table_schema, table_name, table_pk, data, label, taken_at)" +
		" SELECT $6, $7, " + keyExpr(key, "to_jsonb(r)") + ", " + redacted + ", $8, $9 FROM " + rel + " AS r" +
		after + " AND ($2::jsonb IS NULL OR " + rowKey + " <= " + keyOf("$2") + ")" + order
	exclude, mask := nonNil(spec.Exclude), nonNil(spec.Mask)
	var from []byte
	for {
		if err := ctx.Err(); err != nil {
			return res, tlerr.Wrap(err, "baseline of %s", res.Table)
		}
		var to []byte
		if err := db.QueryRow(ctx, lastSQL, from, batch).Scan(&to); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return res, tlerr.Wrap(err, "baseline of %s", res.Table)
		}
		tag, err := db.Exec(ctx, insertSQL, from, to, exclude, mask, spec.Placeholder,
			tn.Schema, tn.Name, res.Label, res.TakenAt)
		if err != nil {
			return res, tlerr.Wrap(err, "baseline of %s", res.Table)
		}
		if n := tag.RowsAffected(); n > 0 {
			res.Rows += n
			res.Batches++
			if spec.Progress != nil {
				spec.Progress(res.Rows)
			}
		}
		if to == nil {
			return res, nil
		}
		from = to
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
