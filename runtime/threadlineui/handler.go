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

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/internal/tlerr"
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
	// fingerprints of other tables (threadlineops.CoverageOptions.Fingerprints), so that
	// drift shows as stale. "threadline serve" fills both from the config
	// and the live schema, as "threadline coverage" does.
	Expected, Fingerprints map[string]string
	// Ignored names tables not meant to be captured
	// (threadlineops.CoverageOptions.Ignored; coverage.ignore_tables in
	// threadline.yaml): without capture they show as ignored, as the
	// migration tools' own tables do, not as uncovered.
	Ignored []string
	// Keys names the key columns of tables, by table ("users" or
	// "schema.table", as threadline.Filter.Table): the columns the
	// capture writes into table_pk, as key: sets them in threadline.yaml.
	// A table it does not name is keyed by its primary key. The row page
	// answers 400, naming the key columns and their types (read from the
	// catalog), for a key that can never match, and the lookup form has
	// one input per key column. "threadline serve" fills it from the
	// config and the live schema.
	Keys map[string][]string
	// PageSize is the number of changes per page (default 50, at most
	// threadline.MaxLimit).
	PageSize int
	// SearchBudget bounds the time a listing searches for one page
	// (threadline.DefaultSearchBudget when zero or negative): a page it
	// cut short shows how far back it searched, with a link that
	// searches on.
	SearchBudget time.Duration
	// CountBudget bounds the time the count of a listing's matches takes
	// (10 ms when zero or negative; a statement_timeout): the changes
	// and search pages count at most 1,000 matches, and say "more than
	// 1,000" beyond, or, when the count did not finish in time, how many
	// they know of at least.
	CountBudget time.Duration
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
	// keys is Options.Keys by parsed table name.
	keys map[contract.QualifiedName][]string
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
	h := &handler{db: db, o: o, mux: http.NewServeMux(), tmpl: parseTemplates(o.Now), keys: map[contract.QualifiedName][]string{}}
	for table, cols := range o.Keys {
		if t, err := contract.ParseQualifiedName(table, "public"); err == nil && len(cols) > 0 {
			h.keys[t] = cols
		}
	}
	h.mux.HandleFunc("GET /{$}", h.page(h.home))
	h.mux.HandleFunc("GET /changes", h.page(h.timeline))
	h.mux.HandleFunc("GET /row", h.page(h.row))
	h.mux.HandleFunc("GET /lookup", h.lookup)
	h.mux.HandleFunc("GET /tx/{id}", h.page(h.transaction))
	h.mux.HandleFunc("GET /actor", h.page(h.actor))
	h.mux.HandleFunc("GET /actions", h.page(h.actions))
	h.mux.HandleFunc("GET /coverage", h.page(h.coverage))
	h.mux.HandleFunc("GET /search", h.page(h.search))
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
	// linkURL, when set, is a page that helps, linkText its label.
	linkURL, linkText string
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
	// Hint says what to do about it (a permission error: the role
	// section of threadline.yaml to use).
	Hint string
	// LinkURL, when set, is a page that helps, LinkText its label.
	LinkURL, LinkText string
}

// fail renders the error page: 400 for invalid input (an invalid filter,
// key or time), 404 for what does not exist, 503 when the viewer's
// database role may not read the audit trail (permission denied: the
// page names the role and the role section of threadline.yaml to use),
// 500 otherwise; 500 and 503 are logged.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, err.Error()
	d := errorData{}
	var he *httpError
	switch {
	case errors.As(err, &he):
		status, d.LinkURL, d.LinkText = he.status, he.linkURL, he.linkText
	case errors.Is(err, threadline.ErrInvalidFilter), errors.Is(err, threadline.ErrInvalidKey):
		status = http.StatusBadRequest
	case errors.Is(err, threadline.ErrNotFound):
		status = http.StatusNotFound
	case tlerr.IsPermissionDenied(err):
		status, d.Hint = http.StatusServiceUnavailable, h.permissionHint(r.Context())
	}
	if status >= http.StatusInternalServerError {
		h.o.Logger.Error("threadlineui: request failed", "path", r.URL.Path, "err", err)
	}
	d.Status, d.StatusText, d.Message = status, http.StatusText(status), msg
	h.render(w, r, status, view{name: "error", title: http.StatusText(status), data: d})
}

// permissionHint names the viewer's database role and the role section
// of threadline.yaml it must be in (tlerr.PermissionHint).
func (h *handler) permissionHint(ctx context.Context) string {
	schema := h.o.Audit.Schema
	if schema == "" {
		schema = threadline.DefaultSchema
	}
	var role tlerr.Role
	_ = h.readOnly(ctx, func(tx pgx.Tx) error {
		var err error
		role, err = tlerr.LookupRole(ctx, tx, schema)
		return err
	})
	return tlerr.PermissionHint(tlerr.DutyRead, role)
}
