package threadlineui

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/trailread"
	threadline "github.com/threadline-go/threadline/runtime"
)

// Query parameters of the pages. Empty values count as absent (a form
// submits its empty fields); unknown parameters are errors, so a typo
// never silently widens a filter.
var (
	filterParams = []string{"table", "actor", "op", "column", "from", "to", "correlation_id", "request_id", "after"}
	actionParams = []string{"name", "category", "status", "actor", "from", "to", "reason", "correlation_id", "after"}
	rowParams    = []string{"table", "key", "at", "after"}
	actorParams  = []string{"actor", "after"}
	txParams     = []string{"after"}
	noParams     = []string{}
)

// checkParams rejects parameters not in allowed, and repeated ones.
func checkParams(q url.Values, allowed []string) error {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !contains(allowed, k) {
			if len(allowed) == 0 {
				return badRequest("unknown parameter %q: this page takes none", k)
			}
			return badRequest("unknown parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(q[k]) > 1 {
			return badRequest("parameter %q given %d times", k, len(q[k]))
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseTime reads the time parameter key in the forms of
// threadline.ParseTime (the CLI's too), relative times against now.
func parseTime(key, v string, now time.Time) (time.Time, error) {
	t, err := threadline.ParseTime(v, now)
	var te *threadline.TimeError
	if errors.As(err, &te) {
		return time.Time{}, badRequest("%s: %s", key, te.Msg)
	}
	return t, err
}

// filterForm is the timeline filter as its form shows it.
type filterForm struct {
	Table, Actor, Op, Column, From, To, CorrelationID, RequestID string
}

// parseFilter reads the timeline filter of q. A table must exist in the
// database: a typo is a 400, not an empty page.
func (h *handler) parseFilter(ctx context.Context, db threadline.DBTX, q url.Values) (threadline.Filter, filterForm, error) {
	var f threadline.Filter
	var form filterForm
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	if v := get("table"); v != "" {
		form.Table = v
		if err := h.checkTable(ctx, db, v); err != nil {
			return f, form, err
		}
		f.Table = v
	}
	if v := get("actor"); v != "" {
		form.Actor = v
		a, err := parseActor(v)
		if err != nil {
			return f, form, err
		}
		f.Actor = &a
	}
	if v := get("op"); v != "" {
		form.Op, f.Op = v, threadline.Op(v)
	}
	form.Column, f.Column = get("column"), get("column")
	for _, t := range []struct {
		key  string
		dst  *time.Time
		form *string
	}{{"from", &f.From, &form.From}, {"to", &f.To, &form.To}} {
		if v := get(t.key); v != "" {
			*t.form = v
			tm, err := parseTime(t.key, v, h.o.Now())
			if err != nil {
				return f, form, err
			}
			*t.dst = tm
		}
	}
	form.CorrelationID, f.CorrelationID = get("correlation_id"), get("correlation_id")
	form.RequestID, f.RequestID = get("request_id"), get("request_id")
	if v := get("after"); v != "" {
		c, err := threadline.ParseCursor(v)
		if err != nil {
			return f, form, err
		}
		f.After = &c
	}
	return f, form, f.Validate()
}

// checkTable fails with 400 when table is malformed or names no table.
func (h *handler) checkTable(ctx context.Context, db threadline.DBTX, table string) error {
	if err := (threadline.Filter{Table: table}).Validate(); err != nil {
		return err
	}
	t, err := contract.ParseQualifiedName(table, "public")
	if err != nil {
		return err
	}
	ok, err := trailread.TableExists(ctx, db, t)
	if err != nil {
		return err
	}
	if !ok {
		return badRequest("unknown table %q: no such table in the database (write users or schema.table)", table)
	}
	return nil
}

// filterQuery renders f as query parameters (the cursor left out).
func filterQuery(f threadline.Filter) url.Values {
	q := url.Values{}
	if f.Table != "" {
		q.Set("table", f.Table)
	}
	if f.Actor != nil {
		q.Set("actor", f.Actor.String())
	}
	if f.Op != "" {
		q.Set("op", string(f.Op))
	}
	if f.Column != "" {
		q.Set("column", f.Column)
	}
	if !f.From.IsZero() {
		q.Set("from", f.From.UTC().Format(time.RFC3339Nano))
	}
	if !f.To.IsZero() {
		q.Set("to", f.To.UTC().Format(time.RFC3339Nano))
	}
	if f.CorrelationID != "" {
		q.Set("correlation_id", f.CorrelationID)
	}
	if f.RequestID != "" {
		q.Set("request_id", f.RequestID)
	}
	return q
}

// parseID reads a positive integer path value.
func parseID(what, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, badRequest("%s %q is not a positive integer", what, v)
	}
	return n, nil
}

// withQuery joins a path and its query.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
