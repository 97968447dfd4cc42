package threadlinehttp_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlinehttp"
)

// seen is what the next handler found in its request context.
type seen struct {
	called        bool
	actor         threadline.ActorRef
	hasActor      bool
	requestID     string
	correlationID string
	hasCorr       bool
	remoteAddr    string
}

// serve runs one request through the middleware and returns the response
// and what the handler saw.
func serve(t *testing.T, opts threadlinehttp.Options, req *http.Request) (*httptest.ResponseRecorder, seen) {
	t.Helper()
	var s seen
	h := threadlinehttp.Middleware(opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s.called = true
		s.actor, s.hasActor = threadline.ActorFromContext(ctx)
		s.requestID, _ = threadline.RequestIDFromContext(ctx)
		s.correlationID, s.hasCorr = threadline.CorrelationIDFromContext(ctx)
		s.remoteAddr, _ = threadline.RemoteAddrFromContext(ctx)
		w.WriteHeader(http.StatusNoContent)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, s
}

func newRequest(headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func logTo(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestID(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header []string
		keep   bool
		logged bool
	}{
		{"valid", []string{"X-Request-Id", "abc-123_XYZ.~!"}, true, false},
		{"max length", []string{"X-Request-Id", strings.Repeat("a", threadline.MaxRequestIDBytes)}, true, false},
		{"230 bytes", []string{"X-Request-Id", strings.Repeat("a", 230)}, true, false},
		{"missing", nil, false, false},
		{"empty", []string{"X-Request-Id", ""}, false, false},
		{"too long", []string{"X-Request-Id", strings.Repeat("a", threadline.MaxRequestIDBytes+1)}, false, true},
		{"space", []string{"X-Request-Id", "a b"}, false, true},
		{"non-ASCII", []string{"X-Request-Id", "réq"}, false, true},
		{"control", []string{"X-Request-Id", "a\x01"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			rec, s := serve(t, threadlinehttp.Options{Logger: logTo(&logs)}, newRequest(tc.header...))
			got := rec.Header().Get("X-Request-Id")
			if got != s.requestID || !s.called {
				t.Fatalf("echoed %q, handler saw %q", got, s.requestID)
			}
			if tc.keep {
				if got != tc.header[1] {
					t.Fatalf("request id %q, want %q", got, tc.header[1])
				}
			} else if !hex32.MatchString(got) {
				t.Fatalf("generated request id %q", got)
			}
			if logged := strings.Contains(logs.String(), "invalid X-Request-Id"); logged != tc.logged {
				t.Fatalf("logged=%v: %s", logged, logs.String())
			}
		})
	}

	// Generated ids differ.
	r1, _ := serve(t, threadlinehttp.Options{}, newRequest())
	r2, _ := serve(t, threadlinehttp.Options{}, newRequest())
	if r1.Header().Get("X-Request-Id") == r2.Header().Get("X-Request-Id") {
		t.Fatal("generated request ids repeat")
	}

	// Custom generator; an invalid result falls back to a random id.
	rec, _ := serve(t, threadlinehttp.Options{GenerateRequestID: func() string { return "gen-1" }}, newRequest())
	if got := rec.Header().Get("X-Request-Id"); got != "gen-1" {
		t.Fatalf("custom generator: %q", got)
	}
	var logs bytes.Buffer
	rec, _ = serve(t, threadlinehttp.Options{Logger: logTo(&logs), GenerateRequestID: func() string { return "bad id" }}, newRequest())
	if got := rec.Header().Get("X-Request-Id"); !hex32.MatchString(got) || !strings.Contains(logs.String(), "GenerateRequestID") {
		t.Fatalf("invalid custom id: %q, logs %s", got, logs.String())
	}
}

func TestCorrelationID(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header []string
		want   string // "" when ignored
		logged bool
	}{
		{"valid", []string{"X-Correlation-Id", "checkout-1"}, "checkout-1", false},
		{"trimmed", []string{"X-Correlation-Id", "  checkout-1 \t"}, "checkout-1", false},
		{"unicode", []string{"X-Correlation-Id", "zoë"}, "zoë", false},
		{"256 bytes", []string{"X-Correlation-Id", strings.Repeat("c", 256)}, strings.Repeat("c", 256), false},
		{"256 bytes after trimming", []string{"X-Correlation-Id", " " + strings.Repeat("c", 256) + " "}, strings.Repeat("c", 256), false},
		{"first of several", []string{"X-Correlation-Id", "a", "X-Correlation-Id", "b"}, "a", false},
		{"missing", nil, "", false},
		{"blank", []string{"X-Correlation-Id", "   "}, "", true},
		{"empty", []string{"X-Correlation-Id", ""}, "", true},
		{"257 bytes", []string{"X-Correlation-Id", strings.Repeat("c", 257)}, "", true},
		{"control character", []string{"X-Correlation-Id", "a\x7fb"}, "", true},
		{"invalid UTF-8", []string{"X-Correlation-Id", "a\xffb"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			_, s := serve(t, threadlinehttp.Options{Logger: logTo(&logs)}, newRequest(tc.header...))
			if s.correlationID != tc.want || s.hasCorr != (tc.want != "") {
				t.Fatalf("correlation id %q (%v), want %q", s.correlationID, s.hasCorr, tc.want)
			}
			if logged := strings.Contains(logs.String(), "ignoring invalid X-Correlation-Id"); logged != tc.logged {
				t.Fatalf("logged=%v: %s", logged, logs.String())
			}
			if tc.logged && !strings.Contains(logs.String(), "request_id="+s.requestID) {
				t.Fatalf("log line lacks the request id: %s", logs.String())
			}
		})
	}
}

func TestRemoteAddr(t *testing.T) {
	for _, tc := range []struct {
		name    string
		remote  string
		headers []string
		trust   bool
		want    string
	}{
		{"ipv4", "192.0.2.1:1234", nil, false, "192.0.2.1"},
		{"ipv6", "[2001:db8::1]:443", nil, false, "2001:db8::1"},
		{"no port", "192.0.2.9", nil, false, "192.0.2.9"},
		{"proxy headers ignored", "192.0.2.1:1234", []string{"X-Forwarded-For", "203.0.113.5", "X-Real-Ip", "203.0.113.6"}, false, "192.0.2.1"},
		{"x-real-ip first", "192.0.2.1:1234", []string{"X-Forwarded-For", "203.0.113.5", "X-Real-Ip", "203.0.113.6"}, true, "203.0.113.6"},
		{"first forwarded-for", "192.0.2.1:1234", []string{"X-Forwarded-For", " 203.0.113.5 , 198.51.100.1"}, true, "203.0.113.5"},
		{"forwarded-for with port", "192.0.2.1:1234", []string{"X-Forwarded-For", "[2001:db8::2]:80"}, true, "2001:db8::2"},
		{"invalid headers", "192.0.2.1:1234", []string{"X-Forwarded-For", "unknown", "X-Real-Ip", "not-an-ip"}, true, "192.0.2.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(tc.headers...)
			r.RemoteAddr = tc.remote
			_, s := serve(t, threadlinehttp.Options{TrustProxyHeaders: tc.trust}, r)
			if s.remoteAddr != tc.want {
				t.Fatalf("remote address %q, want %q", s.remoteAddr, tc.want)
			}
		})
	}
}

func TestActor(t *testing.T) {
	// No Actor function: anonymous.
	_, s := serve(t, threadlinehttp.Options{}, newRequest())
	if !s.hasActor || s.actor != threadline.Anonymous() {
		t.Fatalf("default actor %v (%v)", s.actor, s.hasActor)
	}

	// The Actor function sees the request id and gets its actor stored.
	opts := threadlinehttp.Options{Actor: func(r *http.Request) (threadline.ActorRef, error) {
		id, _ := threadline.RequestIDFromContext(r.Context())
		return threadline.User("u-" + id), nil
	}}
	rec, s := serve(t, opts, newRequest("X-Request-Id", "r1"))
	if rec.Code != http.StatusNoContent || s.actor != threadline.User("u-r1") {
		t.Fatalf("code %d actor %v", rec.Code, s.actor)
	}

	// An error: 401, plain text, handler not called, request id echoed.
	var logs bytes.Buffer
	errDenied := errors.New("bad token")
	opts = threadlinehttp.Options{Logger: logTo(&logs), Actor: func(*http.Request) (threadline.ActorRef, error) {
		return threadline.ActorRef{}, errDenied
	}}
	rec, s = serve(t, opts, newRequest("X-Request-Id", "r2"))
	body, _ := io.ReadAll(rec.Body)
	if s.called || rec.Code != http.StatusUnauthorized || string(body) != "unauthorized\n" ||
		rec.Header().Get("X-Request-Id") != "r2" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("code %d body %q headers %v called %v", rec.Code, body, rec.Header(), s.called)
	}
	if !strings.Contains(logs.String(), "bad token") || !strings.Contains(logs.String(), "request_id=r2") {
		t.Fatalf("logs: %s", logs.String())
	}

	// An invalid actor with a nil error is a bug: 500.
	opts = threadlinehttp.Options{Logger: logTo(&logs), Actor: func(*http.Request) (threadline.ActorRef, error) {
		return threadline.User(" "), nil
	}}
	rec, s = serve(t, opts, newRequest())
	body, _ = io.ReadAll(rec.Body)
	if s.called || rec.Code != http.StatusInternalServerError || string(body) != "internal server error\n" {
		t.Fatalf("invalid actor: code %d body %q", rec.Code, body)
	}

	// OnError decides the response.
	var gotErr error
	opts = threadlinehttp.Options{
		Logger: logTo(&logs),
		Actor: func(*http.Request) (threadline.ActorRef, error) {
			return threadline.ActorRef{}, errDenied
		},
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			gotErr = err
			id, _ := threadline.RequestIDFromContext(r.Context())
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":"forbidden","request_id":"`+id+`"}`)
		},
	}
	rec, _ = serve(t, opts, newRequest("X-Request-Id", "r3"))
	body, _ = io.ReadAll(rec.Body)
	if rec.Code != http.StatusForbidden || string(body) != `{"error":"forbidden","request_id":"r3"}` {
		t.Fatalf("OnError: code %d body %s", rec.Code, body)
	}
	if !errors.Is(gotErr, threadlinehttp.ErrUnauthenticated) || !errors.Is(gotErr, errDenied) {
		t.Fatalf("OnError got %v", gotErr)
	}
}
