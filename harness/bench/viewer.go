package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline-go/threadline/runtime/threadlineui"
)

// viewerPage is one page of the audit viewer the workload renders: target
// returns a request path for the next sample.
type viewerPage struct {
	name   string
	target func() string
}

// viewer measures the server time of every page of the audit viewer
// (threadlineui.Handler, rendered in process: the database queries and the
// template) on the lookup workload's seeded trail of AuditRows changes.
func (r *runner) viewer(ctx context.Context) ([]Result, error) {
	pool, keys, err := r.seedAudit(ctx, "viewer", r.o.AuditRows)
	if err != nil {
		return nil, err
	}
	// The seeded changes name tables table_0…; the viewer checks that a
	// table it is asked about exists.
	for i := range seedTables {
		if _, err := pool.Exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS table_%d (id bigint PRIMARY KEY)", i)); err != nil {
			return nil, err
		}
	}
	actions, err := seedActions(ctx, pool)
	if err != nil {
		return nil, err
	}
	seals, err := seedSeals(ctx, pool, r.o.AuditRows)
	if err != nil {
		return nil, err
	}
	h := threadlineui.Handler(pool, threadlineui.Options{Expected: map[string]string{"items": ""}})
	rng := rand.New(rand.NewPCG(3, 4))
	table := func() string { return fmt.Sprintf("public.table_%d", rng.IntN(seedTables)) }
	key := func() string { return fmt.Sprintf(`{"id":%d}`, rng.IntN(keys)) }
	instant := func() time.Time { return seedStart.Add(time.Duration(rng.Int64N(int64(seedSpan)))) }
	cursor, err := secondPageCursor(ctx, h)
	if err != nil {
		return nil, err
	}
	txs := max(1, (r.o.AuditRows+4)/5)
	pages := []viewerPage{
		{"home (tables, activity of the latest 10,000, 15 latest changes)", func() string { return "/" }},
		{"changes, no filter, first page of 50", func() string { return "/changes" }},
		{"changes, no filter, second page (keyset cursor)", func() string { return "/changes?after=" + url.QueryEscape(cursor) }},
		{"changes of one table", func() string { return "/changes?table=" + table() }},
		{"changes of one table, 1-hour window", func() string {
			from := instant()
			return "/changes?" + url.Values{"table": {table()}, "from": {from.Format(time.RFC3339)}, "to": {from.Add(time.Hour).Format(time.RFC3339)}}.Encode()
		}},
		{"changes of one operation (update)", func() string { return "/changes?op=update" }},
		{"changes of one operation matching only the oldest tenth (insert)", func() string { return "/changes?op=insert" }},
		{"row history (one key)", func() string { return "/row?" + url.Values{"table": {table()}, "key": {key()}}.Encode() }},
		{"row history with as-of", func() string {
			return "/row?" + url.Values{"table": {table()}, "key": {key()}, "at": {instant().Format(time.RFC3339)}}.Encode()
		}},
		{fmt.Sprintf("transaction (its seal found among %d)", seals), func() string { return fmt.Sprintf("/tx/%d", 1+rng.IntN(txs)) }},
		{"actor", func() string { return fmt.Sprintf("/actor?actor=user:%d", rng.IntN(500)) }},
		{"coverage", func() string { return "/coverage" }},
		{"search, the form", func() string { return "/search" }},
		{"changes of one column (who changed amount)", func() string { return "/changes?column=amount" }},
		{"changes of one column matching nothing (budgeted)", func() string { return "/changes?column=nosuch" }},
		{"changes of one correlation id matching nothing (budgeted)", func() string { return "/changes?correlation_id=checkout-1" }},
		{"changes, last hour preset", func() string { return "/changes?from=-1h" }},
		{fmt.Sprintf("actions, no filter (%d actions)", actions), func() string { return "/actions" }},
		{"actions of one name (1 in 20)", func() string { return fmt.Sprintf("/actions?name=order.%d", rng.IntN(seedActionNames)) }},
		{"actions of one actor (1 in 50)", func() string { return fmt.Sprintf("/actions?actor=user:%d", 10*rng.IntN(50)) }},
		{"actions of a name matching nothing (budgeted)", func() string { return "/actions?name=order.nosuch" }},
		{"actions by reason text", func() string { return "/actions?reason=damaged" }},
		{"actions of a rare status (error, 1 in 50)", func() string { return "/actions?status=error" }},
	}
	pages = append(pages, searchPages(rng, r.o.AuditRows, keys)...)
	samples := 100
	if r.o.Quick {
		samples = 20
	}
	var out []Result
	for _, p := range pages {
		ds, err := measurePage(ctx, h, p, samples)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		out = append(out, Result{Workload: "viewer", Metric: fmt.Sprintf("%s, %d audit rows", p.name, r.o.AuditRows),
			Ratio: fmt.Sprintf("p50 %s", ms(percentile(ds, 0.5))), Spread: fmt.Sprintf("p99 %s", ms(percentile(ds, 0.99))), Target: "<= 50 ms"})
	}
	return out, nil
}

// measurePage renders p samples times (after 5 warm-up renders) and
// returns the server times.
func measurePage(ctx context.Context, h http.Handler, p viewerPage, samples int) ([]time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < samples+5; i++ {
		target := p.target()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(start)
		if rec.Code != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d: %.300s", target, rec.Code, rec.Body.String())
		}
		if i >= 5 {
			ds = append(ds, d)
		}
	}
	return ds, nil
}

// secondPageCursor returns the cursor of the first unfiltered page, read
// from its "older" link.
func secondPageCursor(ctx context.Context, h http.Handler) (string, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/changes", nil))
	m := afterParam.FindStringSubmatch(rec.Body.String())
	if m == nil {
		return "", fmt.Errorf("the first page of changes has no link to the next")
	}
	return url.QueryUnescape(m[1])
}

// afterParam finds the cursor of a page's "older" link.
var afterParam = regexp.MustCompile(`after=([^"&]+)`)

// seedActionNames is the number of distinct action names seedActions
// writes.
const seedActionNames = 20

// seedActions records an action for every tenth seeded transaction (its
// name one of seedActionNames in turn, its actor the transaction's, one in
// fifty failed, one in three with the reason "Damaged in transit"), links
// it, and returns the number of actions.
func seedActions(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	if _, err := pool.Exec(ctx, `INSERT INTO threadline.audit_actions (name, actor_ref, status, category, reason, inserted_at)
	SELECT 'order.' || (t.id / 10 % $1), t.actor_ref, CASE WHEN t.id % 500 = 0 THEN 'error' ELSE 'ok' END,
	       'category_' || (t.id % 5), CASE WHEN t.id % 30 = 0 THEN 'Damaged in transit' ELSE 'ticket ' || t.id END, t.started_at
	FROM threadline.audit_transactions AS t WHERE t.id % 10 = 0 ORDER BY t.id`, seedActionNames); err != nil {
		return 0, fmt.Errorf("seed actions: %w", err)
	}
	// The actions were numbered in the order of their transactions: the
	// k-th is the one of transaction 10k.
	if _, err := pool.Exec(ctx, `UPDATE threadline.audit_transactions AS t SET action_id = a.id
	FROM threadline.audit_actions AS a WHERE t.id = a.id * 10 AND t.action_id IS NULL`); err != nil {
		return 0, fmt.Errorf("link actions: %w", err)
	}
	var n int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM threadline.audit_actions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count actions: %w", err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE threadline.audit_actions, threadline.audit_transactions`); err != nil {
		return 0, err
	}
	return n, nil
}
