package threadlinehttp_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/threadline-go/threadline/harness/capturetest"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlinehttp"
)

// attributedChange is one audit change with the attribution of its
// transaction and of the action linked to that transaction.
type attributedChange struct {
	Table, Op, PK                          string
	TxActor, TxRequest, TxCorrelation      string
	ActionName, ActionActor                string
	ActionRequest, ActionCorrelation, Verb string
}

// TestConcurrentRequestsAttribution sends concurrent requests with
// different actors, request ids and correlation ids through the middleware
// to handlers that write with InTx and RecordAction on a small pool, and
// checks that every change is attributed to its own request and nothing
// crossed over; failing handlers leave nothing.
//
// Long on purpose: one scenario told step by step against a real database; its steps share state and read in order.
func TestConcurrentRequestsAttribution(t *testing.T) {
	db := capturetest.Setup(t, `
		CREATE TABLE orders (id bigint PRIMARY KEY, note text NOT NULL);
		CREATE TABLE items (id bigint PRIMARY KEY, order_id bigint NOT NULL, sku text NOT NULL);`,
		"  orders: {}\n  items: {}\n")
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4 // connections are reused across actors
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		err = threadline.InTx(ctx, pool, threadline.TxOptions{}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1, 'new')`, id); err != nil {
				return err
			}
			for k := int64(1); k <= 2; k++ {
				if _, err := tx.Exec(ctx, `INSERT INTO items VALUES ($1, $2, $3)`, id*100+k, id, fmt.Sprintf("sku-%d", k)); err != nil {
					return err
				}
			}
			if _, err := threadline.RecordAction(ctx, tx, "order.place", threadline.ActionOptions{Verb: "place"}); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE orders SET note = 'placed' WHERE id = $1`, id); err != nil {
				return err
			}
			if r.Header.Get("X-Fail") != "" {
				return errors.New("payment declined")
			}
			return nil
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	srv := httptest.NewServer(threadlinehttp.Middleware(threadlinehttp.Options{
		Logger: slog.New(slog.DiscardHandler),
		Actor: func(r *http.Request) (threadline.ActorRef, error) {
			switch u := r.Header.Get("X-User"); {
			case u == "":
				return threadline.Anonymous(), nil
			case u == "bad":
				return threadline.ActorRef{}, errors.New("bad credentials")
			case strings.HasPrefix(u, "admin:"):
				return threadline.Admin(strings.TrimPrefix(u, "admin:")), nil
			default:
				return threadline.User(u), nil
			}
		},
	})(mux))
	defer srv.Close()

	const n = 20
	type request struct {
		id       int
		user     string // X-User header
		actor    string // expected actor_ref text
		fail     bool
		wantCode int
	}
	var reqs []request
	for i := 1; i <= n; i++ {
		r := request{id: i, user: fmt.Sprintf("u%d", i), actor: fmt.Sprintf(`{"id": "u%d", "type": "user"}`, i), wantCode: http.StatusCreated}
		switch {
		case i%7 == 0:
			r.user, r.actor = "", `{"type": "anonymous"}`
		case i%3 == 0:
			r.user, r.actor = fmt.Sprintf("admin:a%d", i), fmt.Sprintf(`{"id": "a%d", "type": "admin"}`, i)
		}
		if i%5 == 0 {
			r.fail, r.wantCode = true, http.StatusInternalServerError
		}
		reqs = append(reqs, r)
	}
	reqs = append(reqs, request{id: 99, user: "bad", wantCode: http.StatusUnauthorized})

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, len(reqs))
	for _, rq := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/orders/%d", srv.URL, rq.id), nil)
			if err != nil {
				errs <- err
				return
			}
			req.Header.Set("X-Request-Id", fmt.Sprintf("req-%d", rq.id))
			req.Header.Set("X-Correlation-Id", fmt.Sprintf(" corr-%d ", rq.id))
			if rq.user != "" {
				req.Header.Set("X-User", rq.user)
			}
			if rq.fail {
				req.Header.Set("X-Fail", "1")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != rq.wantCode || resp.Header.Get("X-Request-Id") != fmt.Sprintf("req-%d", rq.id) {
				errs <- fmt.Errorf("request %d: status %d (want %d), X-Request-Id %q", rq.id, resp.StatusCode, rq.wantCode, resp.Header.Get("X-Request-Id"))
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	ctx := context.Background()
	rows, err := pool.Query(ctx, `
		SELECT c.table_name, c.op, c.table_pk::text,
		       coalesce(t.actor_ref::text, ''), coalesce(t.request_id, ''), coalesce(t.correlation_id, ''),
		       coalesce(a.name, ''), coalesce(a.actor_ref::text, ''), coalesce(a.request_id, ''),
		       coalesce(a.correlation_id, ''), coalesce(a.verb, '')
		FROM threadline.audit_changes c
		JOIN threadline.audit_transactions t ON t.id = c.transaction_id
		LEFT JOIN threadline.audit_actions a ON a.id = t.action_id
		ORDER BY c.id`)
	if err != nil {
		t.Fatal(err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowToStructByPos[attributedChange])
	if err != nil {
		t.Fatal(err)
	}
	byRequest := map[string][]attributedChange{}
	for _, c := range all {
		byRequest[c.TxRequest] = append(byRequest[c.TxRequest], c)
	}

	succeeded := 0
	for _, rq := range reqs {
		reqID, corr := fmt.Sprintf("req-%d", rq.id), fmt.Sprintf("corr-%d", rq.id)
		got := byRequest[reqID]
		delete(byRequest, reqID)
		if rq.wantCode != http.StatusCreated {
			if len(got) != 0 {
				t.Errorf("%s (status %d) left changes: %+v", reqID, rq.wantCode, got)
			}
			continue
		}
		succeeded++
		mk := func(table, op string, pk int) attributedChange {
			return attributedChange{table, op, fmt.Sprintf(`{"id": %d}`, pk), rq.actor, reqID, corr,
				"order.place", rq.actor, reqID, corr, "place"}
		}
		want := []attributedChange{
			mk("orders", "insert", rq.id),
			mk("items", "insert", rq.id*100+1),
			mk("items", "insert", rq.id*100+2),
			mk("orders", "update", rq.id),
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got  %+v\n want %+v", reqID, got, want)
		}

		// Strict correlation: the changes of transactions whose action has
		// this correlation id are exactly this request's.
		rows, err := pool.Query(ctx, `
			SELECT c.table_name || ' ' || c.op || ' ' || c.table_pk::text
			FROM threadline.audit_changes c
			JOIN threadline.audit_transactions t ON t.id = c.transaction_id
			JOIN threadline.audit_actions a ON a.id = t.action_id
			WHERE a.correlation_id = $1
			ORDER BY c.id`, corr)
		if err != nil {
			t.Fatal(err)
		}
		strict, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		wantStrict := []string{
			fmt.Sprintf(`orders insert {"id": %d}`, rq.id),
			fmt.Sprintf(`items insert {"id": %d}`, rq.id*100+1),
			fmt.Sprintf(`items insert {"id": %d}`, rq.id*100+2),
			fmt.Sprintf(`orders update {"id": %d}`, rq.id),
		}
		if !reflect.DeepEqual(strict, wantStrict) {
			t.Errorf("correlation %s: %q, want %q", corr, strict, wantStrict)
		}
	}
	if len(byRequest) != 0 {
		t.Errorf("changes of unknown requests: %+v", byRequest)
	}

	// One header and one linked action per successful request, nothing
	// for the others.
	var txs, acts, linked, orders int
	if err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM threadline.audit_transactions),
		(SELECT count(*) FROM threadline.audit_actions),
		(SELECT count(DISTINCT action_id) FROM threadline.audit_transactions WHERE action_id IS NOT NULL),
		(SELECT count(*) FROM orders)`).Scan(&txs, &acts, &linked, &orders); err != nil {
		t.Fatal(err)
	}
	if txs != succeeded || acts != succeeded || linked != succeeded || orders != succeeded {
		t.Fatalf("transactions %d, actions %d, linked %d, orders %d; want %d each", txs, acts, linked, orders, succeeded)
	}
	if succeeded != 16 {
		t.Fatalf("%d requests succeeded, want 16", succeeded)
	}
}
