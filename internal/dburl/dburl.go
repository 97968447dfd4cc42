// Package dburl redacts the password of a database URL (or key=value
// connection string) in the text of messages and logs: the one place that
// knows where a password can hide in one.
package dburl

import (
	"net/url"
	"regexp"
	"strings"
)

var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// Redact returns a database URL (or key=value DSN) with its password
// replaced by "xxxxx", for messages and logs.
func Redact(u string) string {
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

// Password extracts the password of a URL or key=value string, or "".
func Password(u string) string {
	if pu, err := url.Parse(u); err == nil && pu.Scheme != "" {
		if pw, ok := pu.User.Password(); ok {
			return pw
		}
		return pu.Query().Get("password")
	}
	if m := dsnPassword.FindStringSubmatch(u); m != nil {
		return strings.Trim(m[2], "'")
	}
	return ""
}

// RedactIn replaces in s the password of each of the database URLs by
// "xxxxx" (a driver's error may quote it).
func RedactIn(s string, urls ...string) string {
	for _, u := range urls {
		if pw := Password(u); pw != "" {
			s = strings.ReplaceAll(s, pw, "xxxxx")
		}
	}
	return s
}
