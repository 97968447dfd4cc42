package threadlineui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/trailread"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// homeLatest is the number of latest changes the home page lists.
const homeLatest = 15

// activityRow is one table on the home page.
type activityRow struct {
	Table    string
	URL      string
	Changes  int64
	Latest   time.Time
	Status   threadlineops.CoverageStatus
	Expected bool
	// LookupURL is the table's row lookup form.
	LookupURL string
}

type homeData struct {
	Sample      int64
	Since       time.Time
	Tables      []activityRow
	Coverage    threadlineops.CoverageSummary
	CoverageOK  bool
	Violations  []threadlineops.TableCoverage
	CoverageURL string
	Latest      []changeView
	TimelineURL string
	ActionsURL  string
	// Seal is the latest seal (ID 0 when the trail was never sealed).
	Seal trailread.LatestSeal
}

// home: the audited tables with their share of the latest changes, the
// coverage verdict, and the latest changes.
func (h *handler) home(ctx context.Context, tx pgx.Tx, r *http.Request) (view, error) {
	if err := checkParams(r.URL.Query(), noParams); err != nil {
		return view{}, err
	}
	l := links{h.o.Prefix}
	act, err := (trailread.Trail{Schema: h.o.Audit.Schema}).RecentActivity(ctx, tx, 0)
	if err != nil {
		return view{}, err
	}
	rep, err := h.coverageReport(ctx, tx)
	if err != nil {
		return view{}, err
	}
	latest, err := h.readTimeline(ctx, tx, threadline.Filter{Limit: homeLatest})
	if err != nil {
		return view{}, err
	}
	d := homeData{Sample: act.Sample, Since: act.Since, Coverage: rep.Summary, CoverageOK: rep.OK, Violations: rep.Violations,
		CoverageURL: l.coverage(), Latest: l.viewChanges(latest.Changes), TimelineURL: l.timeline(nil)}
	d.ActionsURL = l.actions(nil)
	if d.Seal, err = h.readLatestSeal(ctx, tx); err != nil {
		return view{}, err
	}
	if err := h.markSealed(ctx, tx, d.Latest); err != nil {
		return view{}, err
	}
	seen := map[string]bool{}
	status := map[string]threadlineops.TableCoverage{}
	for _, t := range rep.Tables {
		status[t.Table] = t
	}
	for _, t := range act.Tables {
		seen[t.Table] = true
		c := status[t.Table]
		d.Tables = append(d.Tables, activityRow{Table: t.Table, URL: l.table(t.Schema, t.Name), Changes: t.Changes,
			Latest: t.Latest, Status: c.Status, Expected: c.Expected, LookupURL: l.lookup(tableText(t.Schema, t.Name))})
	}
	for _, t := range rep.Tables {
		if seen[t.Table] || t.PartitionOf != "" || t.Status == threadlineops.CoverageIgnored || (t.Status == threadlineops.CoverageUncovered && !t.Expected) {
			continue
		}
		d.Tables = append(d.Tables, activityRow{Table: t.Table, URL: l.table(t.Schema, t.Name), Status: t.Status, Expected: t.Expected,
			LookupURL: l.lookup(tableText(t.Schema, t.Name))})
	}
	return view{name: "home", title: "Audit trail", data: d}, nil
}

// coverageReport runs the coverage check with the configured
// expectations.
func (h *handler) coverageReport(ctx context.Context, tx pgx.Tx) (threadlineops.CoverageReport, error) {
	return threadlineops.Audit{Schema: h.o.Audit.Schema}.Coverage(ctx, tx, h.o.Expected, threadlineops.CoverageOptions{Fingerprints: h.o.Fingerprints, Ignored: h.o.Ignored})
}

// pager is the keyset navigation of a listing: back to the newest page,
// on to older changes.
type pager struct {
	FirstURL string
	NextURL  string
	Paged    bool
	// SearchedFrom is set when the listing stopped searching there to
	// answer in time (threadline.Page.SearchedFrom): NextURL searches on.
	SearchedFrom time.Time
}

// exports links the export of a listing's filter.
type exports struct {
	CSVURL    string
	NDJSONURL string
}

func (l links) exports(q url.Values) exports {
	return exports{CSVURL: l.export("csv", q), NDJSONURL: l.export("ndjson", q)}
}

// historyOptions reads the cursor of a row history or transaction page,
// asking for one change more than a page to tell whether another follows.
func (h *handler) historyOptions(q url.Values) (threadline.HistoryOptions, bool, error) {
	o := threadline.HistoryOptions{Limit: h.o.PageSize + 1}
	v := strings.TrimSpace(q.Get("after"))
	if v == "" {
		return o, false, nil
	}
	c, err := threadline.ParseCursor(v)
	if err != nil {
		return o, false, err
	}
	o.After = &c
	return o, true, nil
}

type timelineData struct {
	pager
	exports
	timelineExtras
	Form     filterForm
	Ops      []threadline.Op
	Filtered bool
	Changes  []changeView
	ClearURL string
	// Count is the number of changes matching the filter.
	Count countView
}

// timeline: the changes matching the filter, newest first, a page at a
// time (keyset: "older" carries the cursor of the last change shown).
func (h *handler) timeline(ctx context.Context, tx pgx.Tx, r *http.Request) (view, error) {
	q := r.URL.Query()
	if err := checkParams(q, filterParams); err != nil {
		return view{}, err
	}
	f, form, err := h.parseFilter(ctx, tx, q)
	if err != nil {
		return view{}, err
	}
	f.Limit = h.o.PageSize
	p, err := h.readTimeline(ctx, tx, f)
	if err != nil {
		return view{}, err
	}
	l := links{h.o.Prefix}
	fq := filterQuery(f)
	d := timelineData{Form: form, Ops: []threadline.Op{threadline.OpInsert, threadline.OpUpdate, threadline.OpDelete, threadline.OpTruncate},
		Filtered: len(fq) > 0, Changes: l.viewChanges(p.Changes), ClearURL: l.timeline(nil),
		pager: recentPager(p, f, fq, l.timeline), exports: l.exports(fq)}
	if d.timelineExtras, err = h.timelineExtras(ctx, tx, fq, form); err != nil {
		return view{}, err
	}
	if err := h.markSealed(ctx, tx, d.Changes); err != nil {
		return view{}, err
	}
	rf, err := readFilter(f)
	if err != nil {
		return view{}, err
	}
	if d.Count, err = h.countMatches(ctx, tx, rf, nil, readPage(p)); err != nil {
		return view{}, err
	}
	return view{name: "timeline", title: "Changes", data: d}, nil
}

// readTimeline reads a page of f as Timeline does, within the viewer's search
// budget (Options.SearchBudget): a page the budget cut short is a result
// to show (with Page.SearchedFrom and a link that searches on), not an
// error.
func (h *handler) readTimeline(ctx context.Context, tx pgx.Tx, f threadline.Filter) (threadline.Page, error) {
	if h.o.SearchBudget > 0 {
		ctx = trailread.WithSearchBudget(ctx, h.o.SearchBudget)
	}
	p, err := h.o.Audit.Timeline(ctx, tx, f)
	if errors.Is(err, threadline.ErrSearchBudgetSpent) {
		err = nil
	}
	return p, err
}

// recentPager is the pager of a timeline listing of filter f (fq
// in query form) whose pages at renders: older from Next, and the search
// budget's stop (SearchedFrom).
func recentPager(p threadline.Page, f threadline.Filter, fq url.Values, at func(url.Values) string) pager {
	pg := pager{FirstURL: at(fq), Paged: f.After != nil, SearchedFrom: p.SearchedFrom}
	if p.Next != nil {
		pg.NextURL = at(with(fq, "after", p.Next.String()))
	}
	return pg
}

// with returns a copy of q with key set to v.
func with(q url.Values, key, v string) url.Values {
	out := url.Values{}
	for k, vs := range q {
		out[k] = append([]string(nil), vs...)
	}
	out.Set(key, v)
	return out
}

type asOfView struct {
	At     time.Time
	State  string // "row", "deleted", "horizon" or "undecodable"
	Fields []field
	// Undecodable describes an image that did not decode.
	Undecodable *undecodable
}

type rowData struct {
	pager
	Table    string
	Key      string
	TableURL string
	Changes  []changeView
	AtForm   string
	AsOf     *asOfView
}

// row: the history of one row, each change as a diff, and its state as
// of an instant.
func (h *handler) row(ctx context.Context, tx pgx.Tx, r *http.Request) (view, error) {
	q := r.URL.Query()
	if err := checkParams(q, rowParams); err != nil {
		return view{}, err
	}
	table, key := strings.TrimSpace(q.Get("table")), strings.TrimSpace(q.Get("key"))
	if table == "" || key == "" {
		return view{}, badRequest(`a row is named by table and key: ?table=users&key={"id":42}`)
	}
	if err := h.checkTable(ctx, tx, table); err != nil {
		return view{}, err
	}
	if err := h.checkKey(ctx, tx, table, key); err != nil {
		return view{}, err
	}
	opts, paged, err := h.historyOptions(q)
	if err != nil {
		return view{}, err
	}
	cs, err := h.o.Audit.History(ctx, tx, table, key, opts)
	if err != nil {
		if errors.Is(err, threadline.ErrInvalidKey) {
			return view{}, badRequest("key %q: not a JSON object of the key columns (like {\"id\":42})", key)
		}
		return view{}, err
	}
	l := links{h.o.Prefix}
	d := rowData{Table: table, Key: compactKey([]byte(key)), pager: pager{Paged: paged}}
	d.TableURL = l.timeline(url.Values{"table": {table}})
	d.FirstURL = l.row(table, []byte(key), nil)
	if len(cs) > h.o.PageSize {
		cs = cs[:h.o.PageSize]
		next := url.Values{"after": {cs[len(cs)-1].Cursor().String()}}
		if at := strings.TrimSpace(q.Get("at")); at != "" {
			next.Set("at", at)
		}
		d.NextURL = l.row(table, []byte(key), next)
	}
	d.Changes = l.viewChanges(cs)
	if v := strings.TrimSpace(q.Get("at")); v != "" {
		d.AtForm = v
		at, err := parseTime("at", v, h.o.Now())
		if err != nil {
			return view{}, err
		}
		a := &asOfView{At: at}
		img, err := h.o.Audit.AsOf(ctx, tx, table, key, at)
		switch {
		case errors.Is(err, threadline.ErrDeleted):
			a.State = "deleted"
		case errors.Is(err, threadline.ErrBeforeHorizon):
			a.State = "horizon"
		case err != nil:
			return view{}, err
		default:
			a.State = "row"
			if a.Fields, err = rowFields(img); err != nil {
				a.State, a.Undecodable = "undecodable", newUndecodable("row image", img, err)
			}
		}
		d.AsOf = a
	}
	if err := h.markSealed(ctx, tx, d.Changes); err != nil {
		return view{}, err
	}
	return view{name: "row", title: table + " " + d.Key, data: d}, nil
}

type txData struct {
	pager
	// Seal is the transaction's seal state.
	Seal sealBadge

	Tx             threadline.Transaction
	ActorText      string
	ActorURL       string
	Meta           string
	RequestURL     string
	CorrelationURL string
	ActionCorrURL  string
	ActionReqURL   string
	Changes        []changeView
}

// transaction: one audited transaction, its attribution, its action and
// its changes.
func (h *handler) transaction(ctx context.Context, tx pgx.Tx, r *http.Request) (view, error) {
	q := r.URL.Query()
	if err := checkParams(q, txParams); err != nil {
		return view{}, err
	}
	id, err := parseID("transaction id", r.PathValue("id"))
	if err != nil {
		return view{}, err
	}
	t, err := h.o.Audit.Transaction(ctx, tx, id)
	if err != nil {
		return view{}, err
	}
	opts, paged, err := h.historyOptions(q)
	if err != nil {
		return view{}, err
	}
	cs, err := h.o.Audit.TransactionChanges(ctx, tx, id, opts)
	if err != nil {
		return view{}, err
	}
	l := links{h.o.Prefix}
	d := txData{Tx: t, pager: pager{FirstURL: l.tx(id), Paged: paged}}
	if len(cs) > h.o.PageSize {
		cs = cs[:h.o.PageSize]
		d.NextURL = withQuery(l.tx(id), url.Values{"after": {cs[len(cs)-1].Cursor().String()}})
	}
	d.Changes = l.viewChanges(cs)
	if t.Actor != nil {
		d.ActorText, d.ActorURL = t.Actor.String(), l.actor(*t.Actor)
	}
	if len(t.Meta) > 0 {
		d.Meta = formatValue(t.Meta).Text
	}
	if t.RequestID != "" {
		d.RequestURL = l.timeline(url.Values{"request_id": {t.RequestID}})
	}
	if t.Action != nil && t.Action.CorrelationID != "" {
		d.ActionCorrURL = l.timeline(url.Values{"correlation_id": {t.Action.CorrelationID}})
	}
	if t.Action != nil && t.Action.RequestID != "" {
		d.ActionReqURL = l.timeline(url.Values{"request_id": {t.Action.RequestID}})
	}
	if t.CorrelationID != "" {
		d.CorrelationURL = l.timeline(url.Values{"correlation_id": {t.CorrelationID}})
	}
	badges, err := h.sealBadges(ctx, tx, []int64{id})
	if err != nil {
		return view{}, err
	}
	d.Seal = badges[id]
	return view{name: "tx", title: fmt.Sprintf("Transaction %d", id), data: d}, nil
}

type actorData struct {
	pager
	exports
	Actor       string
	Changes     []changeView
	TimelineURL string
}

// actor: what one actor did, newest first.
func (h *handler) actor(ctx context.Context, tx pgx.Tx, r *http.Request) (view, error) {
	q := r.URL.Query()
	if err := checkParams(q, actorParams); err != nil {
		return view{}, err
	}
	v := strings.TrimSpace(q.Get("actor"))
	if v == "" {
		return view{}, badRequest("actor is required: ?actor=user:42 (kind:id, or anonymous)")
	}
	a, err := parseActor(v)
	if err != nil {
		return view{}, err
	}
	f := threadline.Filter{Limit: h.o.PageSize}
	if c := strings.TrimSpace(q.Get("after")); c != "" {
		cur, err := threadline.ParseCursor(c)
		if err != nil {
			return view{}, err
		}
		f.After = &cur
	}
	f.Actor = &a
	p, err := h.readTimeline(ctx, tx, f)
	if err != nil {
		return view{}, err
	}
	l := links{h.o.Prefix}
	fq := url.Values{"actor": {a.String()}}
	d := actorData{Actor: a.String(), Changes: l.viewChanges(p.Changes), TimelineURL: l.timeline(fq),
		pager: recentPager(p, f, fq, l.actorPage), exports: l.exports(fq)}
	if err := h.markSealed(ctx, tx, d.Changes); err != nil {
		return view{}, err
	}
	return view{name: "actor", title: "Actor " + a.String(), data: d}, nil
}

type coverageData struct {
	Report threadlineops.CoverageReport
	Rows   []coverageRow
}

type coverageRow struct {
	threadlineops.TableCoverage
	URL     string
	Problem bool
}

// coverageProblem reports a table the coverage page highlights: an
// expected table not covered, or capture that is broken (disabled,
// stale); not a table simply without capture, nor an ignored one.
func coverageProblem(t threadlineops.TableCoverage) bool {
	switch t.Status {
	case threadlineops.CoverageCovered, threadlineops.CoverageIgnored:
		return false
	case threadlineops.CoverageUncovered:
		return t.Expected
	}
	return true
}

// coverage: the capture state of every table, problems first in colour.
func (h *handler) coverage(ctx context.Context, tx pgx.Tx, r *http.Request) (view, error) {
	if err := checkParams(r.URL.Query(), noParams); err != nil {
		return view{}, err
	}
	rep, err := h.coverageReport(ctx, tx)
	if err != nil {
		return view{}, err
	}
	l := links{h.o.Prefix}
	d := coverageData{Report: rep}
	for _, t := range rep.Tables {
		row := coverageRow{TableCoverage: t, Problem: coverageProblem(t)}
		if t.Status != threadlineops.CoverageMissing {
			row.URL = l.table(t.Schema, t.Name)
		}
		d.Rows = append(d.Rows, row)
	}
	return view{name: "coverage", title: "Coverage", data: d}, nil
}

// export streams the changes matching the filter as CSV or NDJSON, from
// one read-only transaction. CSV cells are guarded against spreadsheet
// formula injection: the people who download a CSV from a browser open
// it in a spreadsheet.
func (h *handler) export(format threadline.ExportFormat) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if err := checkParams(q, filterParams); err != nil {
			h.fail(w, r, err)
			return
		}
		started := false
		err := h.readOnly(r.Context(), func(tx pgx.Tx) error {
			f, _, err := h.parseFilter(r.Context(), tx, q)
			if err != nil {
				return err
			}
			hd := w.Header()
			ct := "text/csv; charset=utf-8"
			if format == threadline.ExportNDJSON {
				ct = "application/x-ndjson"
			}
			hd.Set("Content-Type", ct)
			hd.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="threadline-changes-%s.%s"`, h.o.Now().UTC().Format("20060102T150405Z"), format))
			hd.Set("Cache-Control", "no-store")
			if r.Method == http.MethodHead {
				return nil
			}
			started = true
			_, err = h.o.Audit.Export(r.Context(), tx, flushWriter{w}, threadline.ExportOptions{Format: format, Filter: f, Now: h.o.Now})
			return err
		})
		switch {
		case err != nil && !started:
			h.fail(w, r, err)
		case err != nil:
			// Headers are sent: the truncated body is all the client gets.
			h.o.Logger.Error("threadlineui: export failed", "err", err)
		}
	}
}

// flushWriter flushes each write to the client, so that an export
// streams.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
