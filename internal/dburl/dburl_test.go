package dburl

import "testing"

func TestRedactAndPassword(t *testing.T) {
	for _, c := range []struct{ in, redacted, password string }{
		{"postgres://u:s3cr%40t@h/db", "postgres://u:xxxxx@h/db", "s3cr@t"},
		{"postgres://h/db?password=pw&sslmode=disable", "postgres://h/db?password=xxxxx&sslmode=disable", "pw"},
		{"host=h password='a b' user=u", "host=h password=xxxxx user=u", "a b"},
		{"postgres://u@h/db", "postgres://u@h/db", ""},
	} {
		if got := Redact(c.in); got != c.redacted {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.redacted)
		}
		if got := Password(c.in); got != c.password {
			t.Errorf("Password(%q) = %q, want %q", c.in, got, c.password)
		}
	}
	if got := RedactIn("connect as u:pw failed", "postgres://u:pw@h/db"); got != "connect as u:xxxxx failed" {
		t.Errorf("RedactIn = %q", got)
	}
}
