package threadlineui_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineui"
)

// requireAdmin stands for the application's own authentication.
func requireAdmin(h http.Handler) http.Handler { return h }

// An application mounts the viewer under a path of its own, behind its own
// authentication. Give the pool a role that may read the audit schema.
func ExampleHandler() {
	pool, err := pgxpool.New(context.Background(), os.Getenv("AUDIT_READER_URL"))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/audit/", requireAdmin(threadlineui.Handler(pool, threadlineui.Options{
		Audit:    threadline.Audit{Schema: "threadline"},
		Prefix:   "/admin/audit",
		Expected: map[string]string{"users": "", "posts": ""},
	})))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}

// Outside an application, RequireToken guards the viewer with a token
// (this is what "threadline serve" does).
func ExampleRequireToken() {
	pool, err := pgxpool.New(context.Background(), os.Getenv("AUDIT_READER_URL"))
	if err != nil {
		log.Fatal(err)
	}
	token := threadlineui.NewToken()
	log.Printf("open http://127.0.0.1:8470/?token=%s", token)
	log.Fatal(http.ListenAndServe("127.0.0.1:8470", threadlineui.RequireToken(token, "/", threadlineui.Handler(pool, threadlineui.Options{}))))
}
