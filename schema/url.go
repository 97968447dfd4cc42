package schema

import (
	"net/url"
	"regexp"
	"strings"
)

var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// RedactURL returns a database URL (or key=value DSN) with its password
// replaced by "xxxxx", for messages and logs.
func RedactURL(u string) string {
	if !strings.Contains(u, "://") {
		return dsnPassword.ReplaceAllString(u, "${1}xxxxx")
	}
	pu, err := url.Parse(u)
	if err != nil {
		return "(unparsable database URL)"
	}
	if pu.User != nil {
		if _, ok := pu.User.Password(); ok {
			pu.User = url.UserPassword(pu.User.Username(), "xxxxx")
		}
	}
	q := pu.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		pu.RawQuery = q.Encode()
	}
	return pu.String()
}
