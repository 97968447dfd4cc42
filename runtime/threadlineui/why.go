package threadlineui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/trailread"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// The "why" of the trail: the Actions page, and what helps a listing find
// its answer (the pickers of tables and actors, the time presets).

// pickerActors is the number of latest transactions whose actors the
// actor picker offers, and pickerMax the most it lists.
const (
	pickerActors = 1000
	pickerMax    = 50
)

// preset is a link to a listing of the last hour, day or week.
type preset struct {
	Label, URL string
	Active     bool
}

// presets are the time presets of a listing with filter query fq (its
// cursor and time bounds replaced), shown by at; from and to are the
// bounds as the form shows them, to mark the preset in use.
func presets(fq url.Values, from, to string, at func(url.Values) string) []preset {
	var out []preset
	for _, p := range []struct{ label, from string }{{"Last hour", "-1h"}, {"24 h", "-24h"}, {"7 days", "-7d"}} {
		q := with(fq, "from", p.from)
		q.Del("to")
		q.Del("after")
		out = append(out, preset{Label: p.label, URL: at(q), Active: from == p.from && to == ""})
	}
	return out
}

// pickers are the choices the filter forms offer (<datalist>): the
// captured tables, and the actors of the latest transactions.
type pickers struct {
	Tables []string
	Actors []string
}

// readPickers reads the pickers: the tables with a capture (the coverage
// report's), and the distinct actors of the latest pickerActors
// transactions.
func (h *handler) readPickers(ctx context.Context, tx pgx.Tx) (pickers, error) {
	var p pickers
	rep, err := h.coverageReport(ctx, tx)
	if err != nil {
		return p, err
	}
	for _, t := range rep.Tables {
		switch t.Status {
		case threadlineops.CoverageCovered, threadlineops.CoverageStale, threadlineops.CoverageDisabled:
			if t.PartitionOf == "" {
				p.Tables = append(p.Tables, t.Table)
			}
		}
	}
	actors, err := (trailread.Trail{Schema: h.o.Audit.Schema}).RecentActors(ctx, tx, pickerActors, pickerMax)
	if err != nil {
		return p, err
	}
	for _, b := range actors {
		if a, err := threadline.ParseActorRef(b); err == nil {
			p.Actors = append(p.Actors, a.String())
		}
	}
	return p, nil
}

// timelineExtras are the parts of the timeline page that help a search:
// pickers and time presets.
type timelineExtras struct {
	pickers
	Presets []preset
}

// timelineExtras reads the pickers and builds the presets of the
// timeline with filter query fq, shown in form.
func (h *handler) timelineExtras(ctx context.Context, tx pgx.Tx, fq url.Values, form filterForm) (timelineExtras, error) {
	p, err := h.readPickers(ctx, tx)
	if err != nil {
		return timelineExtras{}, err
	}
	l := links{h.o.Prefix}
	return timelineExtras{pickers: p, Presets: presets(fq, form.From, form.To, l.timeline)}, nil
}

// actionView is one action as the Actions page shows it.
type actionView struct {
	threadline.Action
	NameURL, CategoryURL, ActorText, ActorURL, TxURL, CorrelationURL, RequestURL string
}

// actionForm is the Actions filter as its form shows it.
type actionForm struct {
	Name, Category, Status, Actor, From, To, Reason, CorrelationID string
}

type actionsData struct {
	Form     actionForm
	Filtered bool
	Actions  []actionView
	Presets  []preset
	pickers
	ClearURL string
	FirstURL string
	NextURL  string
	Paged    bool
	// SearchedFrom is the lowest action id searched when the search
	// budget was spent (threadline.ActionPage.SearchedFrom): NextURL
	// searches on.
	SearchedFrom int64
}

// parseActionFilter reads the Actions filter of q.
func (h *handler) parseActionFilter(q url.Values) (threadline.ActionFilter, actionForm, url.Values, error) {
	var f threadline.ActionFilter
	var form actionForm
	fq := url.Values{}
	get := func(k string) string {
		v := strings.TrimSpace(q.Get(k))
		if v != "" && k != "after" {
			fq.Set(k, v)
		}
		return v
	}
	form.Name, f.Name = get("name"), get("name")
	form.Category, f.Category = get("category"), get("category")
	form.Status, f.Status = get("status"), get("status")
	form.Reason, f.Reason = get("reason"), get("reason")
	form.CorrelationID, f.CorrelationID = get("correlation_id"), get("correlation_id")
	if v := get("actor"); v != "" {
		form.Actor = v
		a, err := parseActor(v)
		if err != nil {
			return f, form, fq, err
		}
		f.Actor = &a
	}
	for _, t := range []struct {
		key  string
		dst  *time.Time
		form *string
	}{{"from", &f.From, &form.From}, {"to", &f.To, &form.To}} {
		if v := get(t.key); v != "" {
			*t.form = v
			tm, err := parseTime(t.key, v, h.o.Now())
			if err != nil {
				return f, form, fq, err
			}
			*t.dst = tm
		}
	}
	if v := get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return f, form, fq, badRequest("after %q: want the action id the previous page ended at", v)
		}
		f.After = n
	}
	return f, form, fq, nil
}

// actions: the recorded actions, newest first, filtered by name,
// category, status, actor, time, reason text and correlation id.
func (h *handler) actions(ctx context.Context, tx pgx.Tx, r *http.Request) (view, error) {
	q := r.URL.Query()
	if err := checkParams(q, actionParams); err != nil {
		return view{}, err
	}
	f, form, fq, err := h.parseActionFilter(q)
	if err != nil {
		return view{}, err
	}
	f.Limit = h.o.PageSize
	actx := ctx
	if h.o.SearchBudget > 0 {
		actx = trailread.WithSearchBudget(ctx, h.o.SearchBudget)
	}
	p, err := h.o.Audit.Actions(actx, tx, f)
	if err != nil && !errors.Is(err, threadline.ErrSearchBudgetSpent) {
		return view{}, err
	}
	pk, err := h.readPickers(ctx, tx)
	if err != nil {
		return view{}, err
	}
	l := links{h.o.Prefix}
	d := actionsData{Form: form, Filtered: len(fq) > 0, ClearURL: l.actions(nil), FirstURL: l.actions(fq), Paged: f.After != 0,
		Presets: presets(fq, form.From, form.To, l.actions), pickers: pk, SearchedFrom: p.SearchedFrom}
	if p.Next != 0 {
		d.NextURL = l.actions(with(fq, "after", strconv.FormatInt(p.Next, 10)))
	}
	for _, a := range p.Actions {
		v := actionView{Action: a, NameURL: l.actions(url.Values{"name": {a.Name}})}
		if a.Category != "" {
			v.CategoryURL = l.actions(url.Values{"category": {a.Category}})
		}
		if a.Actor != nil {
			v.ActorText, v.ActorURL = a.Actor.String(), l.actor(*a.Actor)
		}
		if a.TransactionID != 0 {
			v.TxURL = l.tx(a.TransactionID)
		}
		if a.CorrelationID != "" {
			v.CorrelationURL = l.timeline(url.Values{"correlation_id": {a.CorrelationID}})
		}
		if a.RequestID != "" {
			v.RequestURL = l.timeline(url.Values{"request_id": {a.RequestID}})
		}
		d.Actions = append(d.Actions, v)
	}
	return view{name: "actions", title: "Actions", data: d}, nil
}
