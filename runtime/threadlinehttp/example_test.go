package threadlinehttp_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlinehttp"
)

func ExampleMiddleware() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		// A real handler calls threadline.InTx(r.Context(), pool, ...): the
		// writes are attributed to these values.
		ctx := r.Context()
		actor, _ := threadline.ActorFromContext(ctx)
		reqID, _ := threadline.RequestIDFromContext(ctx)
		corr, _ := threadline.CorrelationIDFromContext(ctx)
		addr, _ := threadline.RemoteAddrFromContext(ctx)
		fmt.Fprintln(w, actor, reqID, corr, addr)
	})
	handler := threadlinehttp.Middleware(threadlinehttp.Options{
		Actor: func(r *http.Request) (threadline.ActorRef, error) {
			token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			switch token {
			case "":
				return threadline.Anonymous(), nil
			case "token-of-42":
				return threadline.User("42"), nil
			}
			return threadline.ActorRef{}, errors.New("unknown token")
		},
	})(mux)

	req := httptest.NewRequest("POST", "/orders", nil)
	req.RemoteAddr = "192.0.2.1:5555"
	req.Header.Set("Authorization", "Bearer token-of-42")
	req.Header.Set("X-Request-Id", "req-1")
	req.Header.Set("X-Correlation-Id", " checkout-9f2c ")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Header().Get("X-Request-Id"), " ", rec.Body.String())

	req.Header.Set("Authorization", "Bearer stolen")
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 200 req-1 user:42 req-1 checkout-9f2c 192.0.2.1
	// 401 unauthorized
}
