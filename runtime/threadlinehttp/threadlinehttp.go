// Package threadlinehttp is the net/http middleware of Threadline: it puts
// the actor, request id, correlation id and remote address of each request
// in the request context, where threadline.InTx and threadline.RecordAction
// pick them up, so every write a handler makes is attributed without
// passing them around.
//
// It depends on the standard library and the Threadline runtime only.
// Middleware returns a standard func(http.Handler) http.Handler, so it
// works with net/http's ServeMux, chi and anything else that composes
// handlers:
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("POST /orders", createOrder)
//	handler := threadlinehttp.Middleware(threadlinehttp.Options{Actor: actorFromSession})(mux)
//
//	// chi
//	r := chi.NewRouter()
//	r.Use(threadlinehttp.Middleware(threadlinehttp.Options{Actor: actorFromSession}))
//
//	// echo: wrap it with echo.WrapMiddleware; handlers read the values from
//	// c.Request().Context().
//	e := echo.New()
//	e.Use(echo.WrapMiddleware(threadlinehttp.Middleware(threadlinehttp.Options{Actor: actorFromSession})))
//
// Handlers read the values with threadline.ActorFromContext,
// threadline.RequestIDFromContext, threadline.CorrelationIDFromContext and
// threadline.RemoteAddrFromContext.
package threadlinehttp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	threadline "github.com/threadline-go/threadline/runtime"
)

// Header names read (and, for the request id, written) by the middleware.
const (
	HeaderRequestID     = "X-Request-Id"
	HeaderCorrelationID = "X-Correlation-Id"
	HeaderForwardedFor  = "X-Forwarded-For"
	HeaderRealIP        = "X-Real-Ip"
)

// ErrUnauthenticated wraps the error returned by Options.Actor when it is
// passed to Options.OnError.
var ErrUnauthenticated = errors.New("threadlinehttp: unauthenticated")

// Options configures Middleware. The zero value is usable: every request
// is anonymous.
type Options struct {
	// Actor returns the actor making the request (from a session, a token,
	// an mTLS identity...). The request's context already holds the request
	// id, correlation id and remote address. Return threadline.Anonymous()
	// for an unauthenticated request that may proceed; return an error to
	// reject the request (see OnError). Nil: every request is anonymous.
	Actor func(*http.Request) (threadline.ActorRef, error)

	// OnError writes the response when the request cannot proceed: err
	// wraps ErrUnauthenticated (and the Actor function's error) when Actor
	// failed, or wraps threadline.ErrInvalidActor when Actor returned an
	// invalid ActorRef with a nil error (a bug). The X-Request-Id response
	// header is already set. Nil: 401 "unauthorized" for ErrUnauthenticated
	// and 500 "internal server error" otherwise, as text/plain.
	OnError func(w http.ResponseWriter, r *http.Request, err error)

	// TrustProxyHeaders takes the remote address from X-Real-Ip, else from
	// the first address of X-Forwarded-For, when they hold a valid IP
	// address. Enable it only behind a proxy that sets or overwrites these
	// headers: otherwise any client can choose its recorded address.
	TrustProxyHeaders bool

	// Logger receives the warnings about rejected headers and errors.
	// Nil: slog.Default().
	Logger *slog.Logger

	// GenerateRequestID returns a new request id when the request has no
	// valid X-Request-Id. Its result must satisfy the same rule as an
	// incoming header (else the default is used). Nil: 16 random bytes
	// from crypto/rand, hex encoded.
	GenerateRequestID func() string
}

// Middleware returns middleware that, for each request:
//
//   - takes the request id from X-Request-Id when it is 1 to
//     threadline.MaxRequestIDBytes bytes of printable ASCII without
//     spaces (the bound InTx enforces), else
//     generates one, and echoes it in the X-Request-Id response header;
//   - takes the correlation id from X-Correlation-Id, trimmed, when it is
//     non-empty, at most threadline.MaxCorrelationIDBytes bytes of valid
//     UTF-8 without control characters; an invalid one is ignored and
//     logged;
//   - records the remote address (an IP address without port; see
//     Options.TrustProxyHeaders);
//   - resolves the actor with Options.Actor (anonymous when nil);
//
// and stores them in the request context with threadline.ContextWithActor
// and friends before calling the next handler.
func Middleware(opts Options) func(http.Handler) http.Handler {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	onError := opts.OnError
	if onError == nil {
		onError = defaultOnError
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()

			reqID := r.Header.Get(HeaderRequestID)
			if !validRequestID(reqID) {
				if reqID != "" {
					logger.WarnContext(ctx, "threadline: replacing invalid "+HeaderRequestID+" header",
						slog.Int("bytes", len(reqID)))
				}
				reqID = newRequestID(ctx, opts.GenerateRequestID, logger)
			}
			w.Header().Set(HeaderRequestID, reqID)
			ctx = threadline.ContextWithRequestID(ctx, reqID)

			if values := r.Header.Values(HeaderCorrelationID); len(values) > 0 {
				cid, err := threadline.NormalizeCorrelationID(values[0])
				if err != nil {
					logger.WarnContext(ctx, "threadline: ignoring invalid "+HeaderCorrelationID+" header",
						slog.String("request_id", reqID), slog.String("error", err.Error()))
				} else {
					ctx = threadline.ContextWithCorrelationID(ctx, cid)
				}
			}

			ctx = threadline.ContextWithRemoteAddr(ctx, remoteAddr(r, opts.TrustProxyHeaders))
			r = r.WithContext(ctx)

			actor := threadline.Anonymous()
			if opts.Actor != nil {
				a, err := opts.Actor(r)
				if err != nil {
					err = fmt.Errorf("%w: %w", ErrUnauthenticated, err)
					logger.InfoContext(ctx, "threadline: request rejected",
						slog.String("request_id", reqID), slog.String("error", err.Error()))
					onError(w, r, err)
					return
				}
				if err := a.Validate(); err != nil {
					err = fmt.Errorf("threadlinehttp: the actor function returned an invalid actor: %w", err)
					logger.ErrorContext(ctx, "threadline: request rejected",
						slog.String("request_id", reqID), slog.String("error", err.Error()))
					onError(w, r, err)
					return
				}
				actor = a
			}
			next.ServeHTTP(w, r.WithContext(threadline.ContextWithActor(ctx, actor)))
		})
	}
}

// defaultOnError is the OnError used when Options.OnError is nil.
func defaultOnError(w http.ResponseWriter, _ *http.Request, err error) {
	if errors.Is(err, ErrUnauthenticated) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	http.Error(w, "internal server error", http.StatusInternalServerError)
}

// validRequestID reports whether s is 1 to threadline.MaxRequestIDBytes bytes of
// printable ASCII other than space.
func validRequestID(s string) bool {
	if s == "" || len(s) > threadline.MaxRequestIDBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// newRequestID returns a request id from gen, or a random one when gen is
// nil or returns an invalid id.
func newRequestID(ctx context.Context, gen func() string, logger *slog.Logger) string {
	if gen != nil {
		if id := gen(); validRequestID(id) {
			return id
		}
		logger.WarnContext(ctx, "threadline: GenerateRequestID returned an invalid request id; using a random one")
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand.Read crashes the program instead)
	return hex.EncodeToString(b[:])
}

// remoteAddr returns the client's IP address (RemoteAddr without its port,
// or the proxy headers when trusted).
func remoteAddr(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if ip, ok := parseIP(r.Header.Get(HeaderRealIP)); ok {
			return ip
		}
		if xff := r.Header.Get(HeaderForwardedFor); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip, ok := parseIP(first); ok {
				return ip
			}
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// parseIP parses an IP address, possibly with a port.
func parseIP(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String(), true
	}
	return "", false
}
