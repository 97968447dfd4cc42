package threadlinecapture

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/threadline-go/threadline/internal/contract"
)

// PostgreSQL 15's pgoutput sends no stored generated column, neither in
// the relation message nor in the tuples, while the trigger engine's
// images (to_jsonb(NEW)) have them. The consumer computes them in the
// source database, where the functions of their expressions certainly
// exist, from the values of the other columns: one query per batch per
// table that has generated columns.

// generated reads the stored generated columns of r's table from the
// source catalog and renders the query that computes them.
func (w *writer) generated(ctx context.Context, r *relation) error {
	rows, err := w.source.Query(ctx, `SELECT a.attname::text, pg_get_expr(d.adbin, d.adrelid), format_type(a.atttypid, a.atttypmod),
    ARRAY(SELECT c.attname::text FROM pg_depend AS p
        JOIN pg_attribute AS c ON c.attrelid = p.refobjid AND c.attnum = p.refobjsubid
        WHERE ((p.classid = 'pg_attrdef'::regclass AND p.objid = d.oid)
            OR (p.classid = 'pg_class'::regclass AND p.objid = a.attrelid AND p.objsubid = a.attnum))
          AND p.refclassid = 'pg_class'::regclass AND p.refobjid = a.attrelid
          AND p.refobjsubid > 0 AND p.refobjsubid <> a.attnum
        ORDER BY c.attnum)
FROM pg_attribute AS a JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = 's'
ORDER BY a.attnum`, r.id)
	if err != nil {
		return errorf("read the generated columns of %s.%s: %w", r.schema, r.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var g genColumn
		if err := rows.Scan(&g.name, &g.expr, &g.typ, &g.deps); err != nil {
			return errorf("read the generated columns of %s.%s: %w", r.schema, r.name, err)
		}
		g.excluded = slices.Contains(r.cap.Exclude, g.name)
		if missing := missingInput(r, g); missing != "" {
			// The catalog is read when the relation message is decoded:
			// ahead of the stream when the consumer lags behind a DDL that
			// renamed or dropped an input since.
			w.log.Warn("threadline capture: a generated column reads a column the stream does not have (changed since): left out of the images",
				"table", r.schema+"."+r.name, "column", g.name, "input", missing)
			continue
		}
		r.gen = append(r.gen, g)
	}
	if err := rows.Err(); err != nil {
		return errorf("read the generated columns of %s.%s: %w", r.schema, r.name, err)
	}
	if len(r.gen) == 0 {
		return nil
	}
	// Only the columns the expressions read are sent.
	for i, c := range r.cols {
		if slices.ContainsFunc(r.gen, func(g genColumn) bool { return slices.Contains(g.deps, c.name) }) {
			r.genInputs = append(r.genInputs, i)
		}
	}
	types, err := w.declaredTypes(ctx, r)
	if err != nil {
		return err
	}
	r.genSQL = genSQL(r, types)
	return nil
}

// missingInput returns an input column of g that r's relation message
// does not have, or "".
func missingInput(r *relation, g genColumn) string {
	for _, d := range g.deps {
		if !slices.ContainsFunc(r.cols, func(c column) bool { return c.name == d }) {
			return d
		}
	}
	return ""
}

// declaredTypes returns the declared type of each input column of r's
// generated columns (domains, enums and composites as they are: the
// generation expressions are evaluated in the source database against
// the real types).
func (w *writer) declaredTypes(ctx context.Context, r *relation) ([]string, error) {
	oids := make([]uint32, len(r.genInputs))
	mods := make([]int32, len(r.genInputs))
	for j, i := range r.genInputs {
		oids[j], mods[j] = r.cols[i].typ, r.cols[i].typmod
	}
	var types []string
	err := w.source.QueryRow(ctx, `SELECT coalesce(array_agg(format_type(t, m) ORDER BY i), '{}')
FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS x (t, m, i)`, oids, mods).Scan(&types)
	if err != nil {
		return nil, errorf("format the column types of %s.%s: %w", r.schema, r.name, err)
	}
	return types, nil
}

// genSQL renders the query that computes the generated columns of r:
// parameter j+1 holds the values (text) of the input column
// r.genInputs[j], one element a row image (unnest walks the arrays once; a subscript of a
// text array walks it from its start); each result row is one row
// image's generated values, as the text of their JSON values (to_jsonb,
// as the trigger engine's images), in r.gen order.
func genSQL(r *relation, types []string) string {
	vals := make([]string, len(r.gen))
	for i, g := range r.gen {
		vals[i] = "to_jsonb((" + g.expr + ")::" + g.typ + ")::text"
	}
	if len(r.genInputs) == 0 {
		return `SELECT ARRAY[` + strings.Join(vals, ", ") + `]::text[] FROM generate_series(1, $1::int4)`
	}
	args := make([]string, len(r.genInputs))
	names := make([]string, len(r.genInputs))
	cols := make([]string, len(r.genInputs))
	for j, i := range r.genInputs {
		n := strconv.Itoa(j + 1)
		args[j] = "$" + n + "::text[]"
		names[j] = "tl_c" + n
		cols[j] = "tl_u.tl_c" + n + "::" + types[j] + " AS " + contract.QuoteIdent(r.cols[i].name)
	}
	return `SELECT (SELECT ARRAY[` + strings.Join(vals, ", ") + `]::text[]
    FROM (SELECT ` + strings.Join(cols, ", ") + `) AS tl_row)
FROM unnest(` + strings.Join(args, ", ") + `) WITH ORDINALITY AS tl_u (` + strings.Join(names, ", ") + `, tl_k)
ORDER BY tl_u.tl_k`
}

// genImage is what the generated columns add to one staged change.
type genImage struct {
	n, o any      // JSON objects (text) merged into the new and old images (nil: none)
	xch  []string // the excluded generated columns whose value changed
}

// genInputs records, for a relation with generated columns, the values of
// every column the stream sent (the excluded ones too: the source
// database has them) for the new row and, when the whole old row is
// known, the old one.
func genInputs(ch *change, oldRaw, newRaw []*pglogrepl.TupleDataColumn) {
	r := ch.rel
	if oldRaw != nil && !ch.keyOnly {
		ch.srcOld = make([]*string, len(r.cols))
		for i := range r.cols {
			ch.srcOld[i], _ = tupleValue(oldRaw, i)
		}
	}
	if newRaw == nil {
		return
	}
	ch.srcNew = make([]*string, len(r.cols))
	for i := range r.cols {
		v, unchanged := tupleValue(newRaw, i)
		if unchanged {
			if ch.srcOld == nil {
				ch.srcUnknown = append(ch.srcUnknown, r.cols[i].name)
			} else {
				v = ch.srcOld[i]
			}
		}
		ch.srcNew[i] = v
	}
}

// computeGenerated computes the generated columns of changes,
// one query on the source per relation that has some.
func (w *writer) computeGenerated(ctx context.Context, changes [][]change) (map[*change]genImage, error) {
	byRel := map[*relation][]*change{}
	var order []*relation
	for _, chs := range changes {
		for j := range chs {
			ch := &chs[j]
			if len(ch.rel.gen) == 0 || ch.op == 't' {
				continue
			}
			if _, ok := byRel[ch.rel]; !ok {
				order = append(order, ch.rel)
			}
			byRel[ch.rel] = append(byRel[ch.rel], ch)
		}
	}
	out := map[*change]genImage{}
	for _, r := range order {
		if err := w.computeRelation(ctx, r, byRel[r], out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// computeRelation computes the generated columns of the changes of r.
func (w *writer) computeRelation(ctx context.Context, r *relation, chs []*change, out map[*change]genImage) error {
	args, rowsOf := genArgs(r, chs)
	vals, err := w.queryGenerated(ctx, r, args, rowsOf)
	if err != nil && evaluationError(err) {
		// The expression does not evaluate on these values (a DDL changed
		// it, its inputs or its functions since the stream's changes): the
		// trail goes on without these generated values rather than stop
		// on them.
		w.log.Error("threadline capture: generated columns not computed: left out of this batch's images",
			"table", r.schema+"."+r.name, "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	if len(vals) != rowsOf {
		return errorf("compute the generated columns of %s.%s: %d rows for %d", r.schema, r.name, len(vals), rowsOf)
	}
	k := 0
	for _, ch := range chs {
		var nv, ov []*string
		if ch.srcNew != nil {
			nv, k = vals[k], k+1
		}
		if ch.srcOld != nil {
			ov, k = vals[k], k+1
		}
		out[ch] = genImageOf(r, ch, nv, ov)
	}
	return nil
}

// evaluationError reports whether err is an error of the statement itself,
// which running it again would not cure, rather than of the connection,
// the server's state or its resources.
func evaluationError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) != 5 {
		return false
	}
	switch pe.Code[:2] {
	case "08", "40", "53", "55", "57", "58", "XX":
		return false
	}
	return true
}

// genArgs returns the parameters of r's generated columns query for the
// row images of chs (new, then old when known, change by change), and
// their number.
func genArgs(r *relation, chs []*change) ([]any, int) {
	n := 0
	for _, ch := range chs {
		for _, side := range [][]*string{ch.srcNew, ch.srcOld} {
			if side != nil {
				n++
			}
		}
	}
	if len(r.genInputs) == 0 {
		return []any{n}, n
	}
	cols := make([][]*string, len(r.genInputs))
	for j := range cols {
		cols[j] = make([]*string, 0, n)
	}
	for _, ch := range chs {
		for _, side := range [][]*string{ch.srcNew, ch.srcOld} {
			if side == nil {
				continue
			}
			for j, i := range r.genInputs {
				cols[j] = append(cols[j], side[i])
			}
		}
	}
	args := make([]any, len(cols))
	for i, c := range cols {
		args[i] = c
	}
	return args, n
}

// queryGenerated runs r's generated columns query with args, for n row
// images.
func (w *writer) queryGenerated(ctx context.Context, r *relation, args []any, n int) ([][]*string, error) {
	rows, err := w.source.Query(ctx, r.genSQL, args...)
	if err != nil {
		return nil, errorf("compute the generated columns of %s.%s: %w", r.schema, r.name, err)
	}
	defer rows.Close()
	vals := make([][]*string, 0, n)
	for rows.Next() {
		var v []*string
		if err := rows.Scan(&v); err != nil {
			return nil, errorf("compute the generated columns of %s.%s: %w", r.schema, r.name, err)
		}
		vals = append(vals, v)
	}
	if err := rows.Err(); err != nil {
		return nil, errorf("compute the generated columns of %s.%s: %w", r.schema, r.name, err)
	}
	return vals, nil
}

// genImageOf builds what the generated values nv (new row) and ov (old
// row) add to a change: the values of the non-excluded columns (a value
// whose inputs are not all known is left out, as unknown columns are),
// and the names of the excluded ones that changed.
func genImageOf(r *relation, ch *change, nv, ov []*string) genImage {
	var g genImage
	var n, o []string
	for i, col := range r.gen {
		unknown := slices.ContainsFunc(col.deps, func(d string) bool { return slices.Contains(ch.srcUnknown, d) })
		if col.excluded {
			if ch.op == 'u' && nv != nil && ov != nil && !unknown && !sameValue(nv[i], ov[i]) {
				g.xch = append(g.xch, col.name)
			}
			continue
		}
		key, _ := json.Marshal(col.name)
		if nv != nil && !unknown {
			n = append(n, string(key)+": "+jsonText(nv[i]))
		}
		if ov != nil {
			o = append(o, string(key)+": "+jsonText(ov[i]))
		}
	}
	if nv != nil {
		g.n = "{" + strings.Join(n, ", ") + "}"
	}
	if ov != nil {
		g.o = "{" + strings.Join(o, ", ") + "}"
	}
	return g
}

func jsonText(v *string) string {
	if v == nil {
		return "null"
	}
	return *v
}

func sameValue(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
