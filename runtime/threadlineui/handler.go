// Package threadlineui is a read-only web viewer of a Threadline audit
// trail: an http.Handler an application mounts behind its own
// authentication, and the handler behind "threadline serve".
//
//	mux.Handle("/admin/audit/", requireAdmin(threadlineui.Handler(pool, threadlineui.Options{
//		Prefix: "/admin/audit",
//	})))
//
// Pages are rendered on the server with html/template; the style sheet is
// embedded; there is no script. Every page reads through the runtime
// package (threadline.Audit) inside a read-only transaction, so the viewer
// cannot write even when its role could. It depends on the standard
// library, pgx and the runtime only, and builds with CGO_ENABLED=0.
package threadlineui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	threadline "github.com/threadline-go/threadline/runtime"
)

// DB is what the viewer needs from a database handle: a way to begin
// transactions. *pgxpool.Pool satisfies it (a *pgx.Conn does too, but
// serves one request at a time).
type DB interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// Options configure Handler. The zero value serves the default audit
// schema at the root path.
type Options struct {
	// Audit names the audit schema (audit_schema in threadline.yaml).
	Audit threadline.Audit
	// Prefix is the path the handler is mounted under, without a trailing
	// slash ("/admin/audit"); "" for the root. Requests outside it are
	// 404; links carry it.
	Prefix string
	// Expected lists the tables that must be covered, with the capture
	// fingerprint each must carry ("" for any), as
	// threadline.Audit.Coverage takes them; Fingerprints adds expected
	// fingerprints of other tables (threadlineops.WithFingerprints), so that
	// drift shows as stale. "threadline serve" fills both from the config
	// and the live schema, as "threadline coverage" does.
	Expected, Fingerprints map[string]string
	// Ignored names tables not meant to be captured
	// (threadlineops.WithIgnored; coverage.ignore_tables in
	// threadline.yaml): without capture they show as ignored, as the
	// migration tools' own tables do, not as uncovered.
	Ignored []string
	// PageSize is the number of changes per page (default 50, at most
	// threadline.MaxLimit).
	PageSize int
	// SearchBudget bounds the time a listing searches for one page
	// (threadline.DefaultSearchBudget when zero or negative): a page it
	// cut short shows how far back it searched, with a link that
	// searches on.
	SearchBudget time.Duration
	// Now returns the current time, for relative times (default
	// time.Now).
	Now func() time.Time
	// Logger receives errors of failed requests (default slog.Default()).
	Logger *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

// contentSecurityPolicy allows the embedded style sheet and nothing else:
// no script, no frame, no third-party request, forms only to the viewer.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// handler serves the viewer.
type handler struct {
	db   DB
	o    Options
	mux  *http.ServeMux
	tmpl map[string]*template.Template
}

// Handler returns the viewer for the audit trail db holds. Every request
// runs in its own read-only transaction (REPEATABLE READ, so that the
// queries of one page see one snapshot). Only GET and HEAD are served.
func Handler(db DB, o Options) http.Handler {
	o.Prefix = strings.TrimRight(o.Prefix, "/")
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	o.PageSize = min(o.PageSize, threadline.MaxLimit)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &handler{db: db, o: o, mux: http.NewServeMux(), tmpl: parseTemplates(o.Now)}
	h.mux.HandleFunc("GET /{$}", h.page(h.home))
	h.mux.HandleFunc("GET /changes", h.page(h.timeline))
	h.mux.HandleFunc("GET /row", h.page(h.row))
	h.mux.HandleFunc("GET /tx/{id}", h.page(h.transaction))
	h.mux.HandleFunc("GET /actor", h.page(h.actor))
	h.mux.HandleFunc("GET /coverage", h.page(h.coverage))
	h.mux.HandleFunc("GET /export.csv", h.export(threadline.ExportCSV))
	h.mux.HandleFunc("GET /export.ndjson", h.export(threadline.ExportNDJSON))
	h.mux.HandleFunc("GET /static/style.css", serveStyle)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, &httpError{status: http.StatusNotFound, msg: "no page at " + r.URL.Path})
	})
	return h
}

// ServeHTTP sets the security headers and routes below the prefix.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		h.fail(w, r, &httpError{status: http.StatusMethodNotAllowed, msg: "the audit viewer is read-only: " + r.Method + " is not allowed"})
		return
	}
	p := r.URL.Path
	if h.o.Prefix != "" {
		rest, ok := strings.CutPrefix(p, h.o.Prefix)
		if !ok || (rest != "" && rest[0] != '/') {
			h.fail(w, r, &httpError{status: http.StatusNotFound, msg: "no page at " + p})
			return
		}
		if rest == "" {
			http.Redirect(w, r, h.o.Prefix+"/", http.StatusMovedPermanently)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		r2.URL.RawPath = ""
		r = r2
	}
	h.mux.ServeHTTP(w, r)
}

func serveStyle(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(styleCSS)
}

// httpError is a failure with the status and message the error page
// shows.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// badRequest is a 400 saying what is wrong with the request.
func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// view is what a page function returns: the template and its data.
type view struct {
	name  string
	title string
	data  any
}

// pageFunc reads what a page shows, in the request's read-only
// transaction.
type pageFunc func(ctx context.Context, tx pgx.Tx, r *http.Request) (view, error)

// page runs f in a read-only transaction and renders its view.
func (h *handler) page(f pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var v view
		err := h.readOnly(r.Context(), func(tx pgx.Tx) error {
			var err error
			v, err = f(r.Context(), tx, r)
			return err
		})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.render(w, r, http.StatusOK, v)
	}
}

// readOnly runs f in a read-only REPEATABLE READ transaction, always
// rolled back, with JIT compilation off: a page's queries read little,
// and a plan whose estimate crosses jit_above_cost (a window of many
// changes, each with its header) spent more compiling than executing.
func (h *handler) readOnly(ctx context.Context, f func(pgx.Tx) error) error {
	tx, err := h.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin a read-only transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
		return fmt.Errorf("begin a read-only transaction: %w", err)
	}
	return f(tx)
}

// layout is the data every page template receives.
type layout struct {
	Title  string
	Prefix string
	Nav    string
	Now    time.Time
	Data   any
}

// render executes the named template into a buffer, then writes it.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, v view) {
	t, ok := h.tmpl[v.name]
	if !ok {
		h.o.Logger.Error("threadlineui: no template", "name", v.name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", layout{Title: v.title, Prefix: h.o.Prefix, Nav: v.name, Now: h.o.Now(), Data: v.data}); err != nil {
		h.o.Logger.Error("threadlineui: render", "page", v.name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// errorData is the data of the error page.
type errorData struct {
	Status     int
	StatusText string
	Message    string
}

// fail renders the error page: 400 for invalid input (an invalid filter,
// key or time), 404 for what does not exist, 500 otherwise (logged).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, err.Error()
	var he *httpError
	switch {
	case errors.As(err, &he):
		status = he.status
	case errors.Is(err, threadline.ErrInvalidFilter), errors.Is(err, threadline.ErrInvalidKey):
		status = http.StatusBadRequest
	case errors.Is(err, threadline.ErrNotFound):
		status = http.StatusNotFound
	}
	if status == http.StatusInternalServerError {
		h.o.Logger.Error("threadlineui: request failed", "path", r.URL.Path, "err", err)
	}
	h.render(w, r, status, view{name: "error", title: http.StatusText(status),
		data: errorData{Status: status, StatusText: http.StatusText(status), Message: msg}})
}
