package threadlineui

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/trailread"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// The search page: GET /search?q=TEXT[&table=T][&after=CURSOR] finds
//
//   - the rows whose key is TEXT, when TEXT reads as a key of the table
//     (or, without a table, of a captured table): a JSON object of its key
//     columns, or the value of its one key column ("42", "ada@example.com").
//     The row indexes find them: one index probe per row, whatever the
//     size of the trail;
//   - the changes whose key or a stored value contains TEXT
//     (case-insensitively), newest first, by the budgeted window search of
//     the changes page (Options.SearchBudget, the row lookups included): no
//     index serves a text, so a search that finds too little in time says
//     how far back it searched, with a link that searches on.
//
// It matches only what the trail stores, which is what the pages show:
// excluded columns are not stored, masked ones hold their placeholder.

// searchParams are the search page's parameters.
var searchParams = []string{"q", "table", "after"}

// maxSearchText bounds the search text, in bytes.
const maxSearchText = 200

// keyHit is one row whose key is the search text.
type keyHit struct {
	Table, Key, URL string
}

type searchData struct {
	pager
	Q, Table string
	// Searched is set when there was a text to search for.
	Searched bool
	// Keys are the rows whose key is the text, KeyChanges their latest
	// changes (KeyMore when they have more: each row's page lists them).
	Keys       []keyHit
	KeyChanges []changeView
	KeyMore    bool
	// Changes are the changes whose key or a value contains the text,
	// Count their number.
	Changes []changeView
	Count   countView
}

func (l links) search(q url.Values) string { return withQuery(l.prefix+"/search", q) }

// search: rows by key, and changes by a text in their key or values.
func (h *handler) search(ctx context.Context, tx pgx.Tx, r *http.Request) (view, error) {
	start := time.Now()
	q := r.URL.Query()
	if err := checkParams(q, searchParams); err != nil {
		return view{}, err
	}
	text, table := strings.TrimSpace(q.Get("q")), strings.TrimSpace(q.Get("table"))
	d := searchData{Q: text, Table: table}
	if text == "" {
		if table != "" {
			return view{}, badRequest("q is required: the text to search for (?q=42&table=%s)", table)
		}
		return view{name: "search", title: "Search", data: d}, nil
	}
	if len(text) > maxSearchText || !utf8.ValidString(text) || strings.IndexByte(text, 0) >= 0 {
		return view{}, badRequest("q: want a text of at most %d bytes", maxSearchText)
	}
	var tn *contract.QualifiedName
	if table != "" {
		if err := h.checkTable(ctx, tx, table); err != nil {
			return view{}, err
		}
		t, err := contract.ParseQualifiedName(table, "public")
		if err != nil {
			return view{}, err
		}
		tn = &t
	}
	f := trailread.Filter{Table: tn, Limit: h.o.PageSize}
	if v := strings.TrimSpace(q.Get("after")); v != "" {
		c, err := threadline.ParseCursor(v)
		if err != nil {
			return view{}, err
		}
		f.After = &trailread.Cursor{CapturedAt: c.CapturedAt, ID: c.ID}
	}
	d.Searched = true
	l := links{h.o.Prefix}
	rd := h.changeReader()
	if f.After == nil {
		if err := h.searchKeys(ctx, tx, rd, text, tn, &d); err != nil {
			return view{}, err
		}
	}
	// The page searches within the budget, the row lookups included: the
	// value search gets what they left (its first window runs whatever is
	// left).
	budget := h.o.SearchBudget
	if budget <= 0 {
		budget = trailread.DefaultSearchBudget
	}
	budget = max(time.Nanosecond, budget-time.Since(start))
	textCond := func(qq *trailread.Query) { qq.Text(text) }
	p, err := rd.Search(ctx, tx, f, trailread.Search{First: trailread.FirstWindow, Budget: budget, Cond: textCond})
	if err != nil {
		return view{}, err
	}
	if err := h.withActions(ctx, tx, p.Changes); err != nil {
		return view{}, err
	}
	d.Changes = l.viewChanges(p.Changes)
	if d.Count, err = h.countMatches(ctx, tx, f, textCond, p); err != nil {
		return view{}, err
	}
	sq := url.Values{"q": {text}}
	if table != "" {
		sq.Set("table", table)
	}
	d.pager = pager{FirstURL: l.search(sq), Paged: f.After != nil, SearchedFrom: p.SearchedFrom}
	if p.Next != nil {
		d.NextURL = l.search(with(sq, "after", (&threadline.Cursor{CapturedAt: p.Next.CapturedAt, ID: p.Next.ID}).String()))
	}
	if err := h.markSealed(ctx, tx, d.KeyChanges, d.Changes); err != nil {
		return view{}, err
	}
	return view{name: "search", title: "Search " + text, data: d}, nil
}

// searchKeys finds the rows whose key is text: of table t, or, when t is
// nil, of every captured table whose key text reads as.
func (h *handler) searchKeys(ctx context.Context, tx pgx.Tx, rd trailread.Reader[threadline.Change], text string, t *contract.QualifiedName, d *searchData) error {
	var tables []contract.QualifiedName
	if t != nil {
		tables = []contract.QualifiedName{*t}
	} else {
		rep, err := h.coverageReport(ctx, tx)
		if err != nil {
			return err
		}
		for _, c := range rep.Tables {
			switch c.Status {
			case threadlineops.CoverageCovered, threadlineops.CoverageStale, threadlineops.CoverageDisabled:
				if c.PartitionOf == "" {
					tables = append(tables, contract.QualifiedName{Schema: c.Schema, Name: c.Name})
				}
			}
		}
	}
	var rows []trailread.RowKey
	l := links{h.o.Prefix}
	keys, err := h.tableKeys(ctx, tx, tables)
	if err != nil {
		return err
	}
	for i, tn := range tables {
		if key, ok := keyFromText(text, keys[i]); ok {
			rows = append(rows, trailread.RowKey{Table: tn, Key: key})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	qq := rd.NewQuery()
	qq.Rows(rows)
	cs, err := rd.Run(ctx, tx, qq, h.o.PageSize+1, "search keys")
	if err != nil {
		return err
	}
	if len(cs) > h.o.PageSize {
		cs, d.KeyMore = cs[:h.o.PageSize], true
	}
	// The rows found: those with a change listed.
	for _, rk := range rows {
		for _, c := range cs {
			if c.Schema == rk.Table.Schema && c.Table == rk.Table.Name && (sameJSON(c.PK, rk.Key) || sameJSON(c.PKBefore, rk.Key)) {
				d.Keys = append(d.Keys, keyHit{Table: rk.Table.Text(), Key: rk.Key, URL: l.row(rk.Table.Text(), []byte(rk.Key), nil)})
				break
			}
		}
	}
	if err := h.withActions(ctx, tx, cs); err != nil {
		return err
	}
	d.KeyChanges = l.viewChanges(cs)
	return nil
}

// sameJSON reports whether stored JSON a and JSON text b are the same
// value.
func sameJSON(a []byte, b string) bool {
	if a == nil {
		return false
	}
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(strings.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	return da.Decode(&x) == nil && db.Decode(&y) == nil && reflect.DeepEqual(x, y)
}

// keyFromText reads text as a key of the columns cols: a JSON object of
// them, or, for a key of one column, its value (a number, true or false,
// or the text itself for a column whose values are strings). ok is false
// when text can never be such a key (keyProblems).
func keyFromText(text string, cols []keyColumn) (key string, ok bool) {
	if len(cols) == 0 {
		return "", false
	}
	if strings.HasPrefix(text, "{") {
		if len(keyProblems(text, cols)) > 0 {
			return "", false
		}
		return compactKey([]byte(text)), true
	}
	if len(cols) != 1 {
		return "", false
	}
	var v []byte
	switch c := cols[0]; c.Kind {
	case kindInteger, kindFloat, kindNumeric:
		if !json.Valid([]byte(text)) || (text[0] != '-' && (text[0] < '0' || text[0] > '9')) {
			return "", false
		}
		v = []byte(text)
	case kindBoolean:
		if text != "true" && text != "false" {
			return "", false
		}
		v = []byte(text)
	case kindString:
		v, _ = json.Marshal(text)
	default:
		return "", false
	}
	name, _ := json.Marshal(cols[0].Name)
	key = "{" + string(name) + ":" + string(v) + "}"
	if len(keyProblems(key, cols)) > 0 {
		return "", false
	}
	return key, true
}

// changeReader reads changes as the runtime's Change, for the queries of
// the search page, which the runtime has no read for. Its Decode mirrors
// the runtime's (TestSearchRendersChangesAsTheChangesPage compares the
// rendered rows).
func (h *handler) changeReader() trailread.Reader[threadline.Change] {
	return trailread.Reader[threadline.Change]{Trail: trailread.Trail{Schema: h.o.Audit.Schema}, Decode: decodeRow,
		Cursor: func(c threadline.Change) trailread.Cursor {
			return trailread.Cursor{CapturedAt: c.CapturedAt, ID: c.ID}
		}}
}

// decodeRow is the Change of one row.
func decodeRow(r *trailread.Row, prev *threadline.Change) threadline.Change {
	raw := func(b []byte) json.RawMessage {
		if b == nil {
			return nil
		}
		return json.RawMessage(b)
	}
	c := threadline.Change{ID: r.ID, TransactionID: r.TransactionID, Schema: r.Schema, Table: r.Table,
		PK: raw(r.PK), PKBefore: raw(r.PKBefore), Op: threadline.Op(r.Op), After: raw(r.After), Before: raw(r.Before),
		ChangedFields: r.ChangedFields, ChangedFrom: raw(r.ChangedFrom), CapturedAt: r.CapturedAt.UTC(),
		RequestID: trailread.Text(r.RequestID), CorrelationID: trailread.Text(r.CorrelationID), ActionID: r.ActionID,
		ActorInvalid: trailread.Text(r.ActorInvalid)}
	if prev != nil {
		if prev.Actor != nil {
			a := *prev.Actor
			c.Actor = &a
		}
		c.ActorInvalid = prev.ActorInvalid
		return c
	}
	if r.Actor != nil {
		if a, err := threadline.ParseActorRef(r.Actor); err == nil {
			c.Actor = &a
		} else if c.ActorInvalid == "" {
			c.ActorInvalid = string(r.Actor)
		}
	}
	return c
}

// withActions fills the action summaries of cs, with one read for all.
func (h *handler) withActions(ctx context.Context, tx pgx.Tx, cs []threadline.Change) error {
	var ids []int64
	for _, c := range cs {
		if c.ActionID != nil {
			ids = append(ids, *c.ActionID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := (trailread.Trail{Schema: h.o.Audit.Schema}).ActionSummaries(ctx, tx, ids)
	if err != nil {
		return err
	}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	for i := range cs {
		if id := cs[i].ActionID; id != nil {
			if a, ok := rows[*id]; ok {
				cs[i].Action = &threadline.ActionSummary{Name: a.Name, Status: a.Status, Verb: deref(a.Verb), Category: deref(a.Category), Reason: deref(a.Reason)}
			}
		}
	}
	return nil
}
