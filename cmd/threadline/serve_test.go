package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs "threadline serve" on a free port until the test ends
// and returns the URL it printed.
func startServe(t *testing.T, p *project, getenv map[string]string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	e := env{getenv: func(k string) string {
		if k == "DATABASE_URL" {
			return p.db.URL
		}
		return getenv[k]
	}}
	go func() {
		done <- runEnv(ctx, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...), &out, &errb, e)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
	})
	urlRE := regexp.MustCompile(`audit viewer at (http://\S+)`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve exited %d:\n%s\n%s", code, out.String(), errb.String())
		default:
		}
	}
	t.Fatalf("serve printed no URL:\n%s\n%s", out.String(), errb.String())
	return ""
}

func TestServeRequiresTheToken(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	printed := startServe(t, p, nil)
	u, err := url.Parse(printed)
	if err != nil {
		t.Fatal(err)
	}
	token := u.Query().Get("token")
	if len(token) < 40 {
		t.Fatalf("printed URL %s carries no generated token", printed)
	}
	base := "http://" + u.Host
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(target string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := do(base + "/"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	resp, _ := do(printed)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(resp.Cookies()) != 1 {
		t.Fatalf("printed URL: %d %v", resp.StatusCode, resp.Header)
	}
	cookie := resp.Cookies()[0]
	resp, body := do(base+"/coverage", "Cookie", cookie.Name+"="+cookie.Value)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "OK: every expected table is captured.") {
		t.Fatalf("with the cookie: %d\n%s", resp.StatusCode, body)
	}
	resp, body = do(base+"/changes?table=users", "Authorization", "Bearer "+token)
	if resp.StatusCode != http.StatusOK || strings.Count(body, "data-change=") != 3 || strings.Contains(body, "hash3") {
		t.Fatalf("with the bearer token: %d\n%s", resp.StatusCode, body)
	}
}

func TestServeTokenFromEnvironment(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	printed := startServe(t, p, map[string]string{tokenEnv: "from-env"})
	if strings.Contains(printed, "token=") {
		t.Fatalf("a token from the environment is printed: %s", printed)
	}
	for _, c := range []struct {
		auth string
		want int
	}{{"Bearer from-env", 200}, {"Bearer other", 401}} {
		req, _ := http.NewRequest(http.MethodGet, printed, nil)
		req.Header.Set("Authorization", c.auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.auth, resp.StatusCode, c.want)
		}
	}
	// -token wins over the environment.
	flagURL := startServe(t, p, map[string]string{tokenEnv: "from-env"}, "-token", "from-flag")
	req, _ := http.NewRequest(http.MethodGet, flagURL, nil)
	req.Header.Set("Authorization", "Bearer from-flag")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("-token: %d", resp.StatusCode)
	}
}
