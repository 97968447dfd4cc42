package trailread

import (
	"strings"

	"github.com/threadline-go/threadline/internal/contract"
)

// The viewer's search: changes of given rows (by the row indexes), and
// changes whose key or a stored value contains a text (within the budget
// of a Search, window by window).

// Text adds the condition "the change's key (table_pk) or one of its
// stored values (data_after, data_before, changed_from) contains text,
// case-insensitively": each top-level value of those objects as text
// (jsonb_each_text: strings without quotes, numbers and booleans as
// written, nested objects and arrays as JSON), never the column names. It
// reads only what the trail stores, so an excluded column, which is not
// stored, never matches, and a masked one matches by its placeholder
// only. No index serves it: run it in a Search's windows.
//
// A text without quotes, backslashes or control characters, which the
// JSON text of an object holds as they are, is first looked for in the
// object's whole JSON text, and its values are read only where it is
// found: a change that does not hold it costs about a fifth (200,000
// changes scanned for a text none holds: 0.7–1.2 s against 4.3–5.5 s).
func (q *Query) Text(text string) {
	p := q.Arg(text)
	plain := !strings.ContainsFunc(text, func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 })
	parts := make([]string, 0, 4)
	for _, col := range []string{"table_pk", "data_after", "data_before", "changed_from"} {
		part := "EXISTS (SELECT 1 FROM jsonb_each_text(CASE WHEN jsonb_typeof(c." + col + ") = 'object' THEN c." + col +
			" END) AS v WHERE strpos(lower(v.value), lower(" + p + "::text)) > 0)"
		if plain {
			part = "(strpos(lower(c." + col + "::text), lower(" + p + "::text)) > 0 AND " + part + ")"
		}
		parts = append(parts, part)
	}
	q.Cond("(" + strings.Join(parts, " OR ") + ")")
}

// RowKey names one row: its table and its key as JSON text.
type RowKey struct {
	Table contract.QualifiedName
	Key   string
}

// Rows adds the condition "the change belongs to one of rows" (each as
// Row selects it), served by the row indexes: one index probe per row.
// rows must not be empty.
func (q *Query) Rows(rows []RowKey) {
	parts := make([]string, 0, len(rows))
	for _, r := range rows {
		s, n, k := q.Arg(r.Table.Schema), q.Arg(r.Table.Name), q.Arg(r.Key)
		parts = append(parts, "(c.table_schema = "+s+" AND "+RowMatch("c", n, k)+")")
	}
	q.Cond("(" + strings.Join(parts, " OR ") + ")")
}
