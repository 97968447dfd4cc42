package threadlineui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// TokenCookie is the cookie RequireToken sets after a request carried the
// token in its URL.
const TokenCookie = "threadline_ui_token"

// NewToken returns a random token (32 bytes, URL-safe base64).
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// RequireToken lets a request through to h only when it carries token:
// in an "Authorization: Bearer" header, in the TokenCookie cookie, or in a
// "token" query parameter. A request with a valid ?token= is answered
// with a redirect to the same URL without it, on this site (see onSite),
// setting the cookie (HttpOnly, SameSite=Strict, limited to path): the
// token leaves the address bar and the browser history, and later
// requests carry the cookie. Anything else is 401. Tokens are compared in constant time.
// "threadline serve" wraps its viewer in it; an application mounting
// Handler behind its own authentication does not need it.
func RequireToken(token, path string, h http.Handler) http.Handler {
	if path == "" {
		path = "/"
	}
	want := []byte(token)
	valid := func(s string) bool { return s != "" && subtle.ConstantTimeCompare([]byte(s), want) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Has("token") {
			if !valid(q.Get("token")) {
				unauthorized(w, "the token in the URL is not the viewer's token")
				return
			}
			http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: token, Path: path, HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			q.Del("token")
			w.Header().Set("Referrer-Policy", "no-referrer")
			http.Redirect(w, r, onSite(r.URL, q), http.StatusSeeOther)
			return
		}
		if auth := r.Header.Get("Authorization"); auth != "" {
			scheme, cred, _ := strings.Cut(auth, " ")
			if !strings.EqualFold(scheme, "Bearer") || !valid(strings.TrimSpace(cred)) {
				unauthorized(w, "the Authorization header does not carry the viewer's token")
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(TokenCookie); err == nil && valid(c.Value) {
			h.ServeHTTP(w, r)
			return
		}
		unauthorized(w, "this audit viewer needs its token: open the URL \"threadline serve\" printed, or send Authorization: Bearer <token>")
	})
}

// onSite returns the path of u with query q as a redirect target on this
// site. A target that starts with two slashes, or a slash and a backslash
// (which browsers read as a slash), is protocol-relative: "//evil.example/x"
// names another host. So the path keeps exactly one leading slash; the
// rest stays escaped as the request had it (an encoded slash or backslash
// is part of a path segment, never an authority).
func onSite(u *url.URL, q url.Values) string {
	target := "/" + strings.TrimLeft(u.EscapedPath(), `/\`)
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	return target
}

// unauthorized answers 401 with a plain-text reason.
func unauthorized(w http.ResponseWriter, msg string) {
	hd := w.Header()
	hd.Set("WWW-Authenticate", `Bearer realm="threadline"`)
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte("401 Unauthorized: " + msg + "\n"))
}
