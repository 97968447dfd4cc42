package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/threadline-go/threadline/runtime/threadlineui"
)

// tokenEnv names the environment variable that holds the viewer's token.
const tokenEnv = "THREADLINE_UI_TOKEN"

type serveArgs struct {
	addr, token string
}

func serveFlags(fs *flag.FlagSet) func(*cli) int {
	var a serveArgs
	fs.StringVar(&a.addr, "addr", "127.0.0.1:8470", "address to listen on")
	fs.StringVar(&a.token, "token", "", "token every request must carry (default $"+tokenEnv+"; generated and printed in the URL when both are unset)")
	return func(c *cli) int { return c.serve(a) }
}

// serve runs the audit viewer until the context ends. Every session it
// opens is read-only (default_transaction_read_only), on top of the
// viewer's own read-only transactions: give it a reader role
// (privileges.reader_roles) all the same.
func (c *cli) serve(a serveArgs) int {
	token, generated := a.token, false
	if token == "" {
		token = c.env.getenv(tokenEnv)
	}
	if token == "" {
		token, generated = threadlineui.NewToken(), true
	}
	c.connParams = map[string]string{"default_transaction_read_only": "on", "application_name": "threadline serve"}
	if code, ok := c.setup(); !ok {
		return code
	}
	if err := c.checkServeRole(); err != nil {
		return c.fail("%v", err)
	}
	res, expected, err := c.expectations()
	if err != nil {
		return c.fail("%v", err)
	}
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		return c.fail("listen on %s: %v", a.addr, err)
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, nil))
	keys := map[string][]string{}
	for t, capt := range res.captures {
		keys[t.Text()] = capt.Key
	}
	viewer := threadlineui.Handler(c.pool, threadlineui.Options{
		Audit: c.audit(), Expected: expected, Fingerprints: res.fingerprints, Ignored: c.ignoredTables(), Keys: keys, Logger: logger,
	})
	srv := &http.Server{
		Handler:           threadlineui.RequireToken(token, "/", viewer),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	u := url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/"}
	if generated {
		u.RawQuery = url.Values{"token": {token}}.Encode()
		fmt.Fprintf(c.stdout, "threadline serve: audit viewer at %s\n", u.String())
	} else {
		fmt.Fprintf(c.stdout, "threadline serve: audit viewer at %s (open it with ?token=<token>, or send Authorization: Bearer <token>)\n", u.String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return c.fail("%v", err)
	case <-c.ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return c.fail("shut down: %v", err)
	}
	return 0
}
