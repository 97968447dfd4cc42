package config

import (
	"fmt"
	"go/token"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxIdentifierLen is PostgreSQL's identifier limit (NAMEDATALEN-1), in
// bytes.
const maxIdentifierLen = 63

// schemaNameProblem explains why s is not a usable audit schema name, or
// returns "". Names are unquoted PostgreSQL identifiers in lower case.
func schemaNameProblem(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > maxIdentifierLen:
		return fmt.Sprintf("%q is longer than %d bytes", short(s), maxIdentifierLen)
	case !isLowerIdentifier(s):
		return fmt.Sprintf("%q is not a valid schema name (use lowercase letters, digits and underscores, starting with a letter or underscore)", s)
	case s == "information_schema" || strings.HasPrefix(s, "pg_"):
		return fmt.Sprintf("%q is reserved by PostgreSQL", s)
	}
	return ""
}

// isLowerIdentifier reports whether s matches [a-z_][a-z0-9_]*.
func isLowerIdentifier(s string) bool {
	for i, c := range []byte(s) {
		switch {
		case c == '_' || c >= 'a' && c <= 'z':
		case i > 0 && c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return s != ""
}

// isFormat reports whether f is one of Formats.
func isFormat(f string) bool {
	for _, x := range Formats {
		if x == f {
			return true
		}
	}
	return false
}

// formatList renders Formats for messages.
func formatList() string { return strings.Join(Formats, ", ") }

// isPackageName reports whether s can name a Go package: an identifier
// that is neither a keyword nor the blank identifier.
func isPackageName(s string) bool {
	return s != "_" && token.IsIdentifier(s)
}

// placeholderProblem explains why s is not a usable mask placeholder, or
// returns "".
func placeholderProblem(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if n := utf8.RuneCountInString(s); n > MaxPlaceholderLen {
		return fmt.Sprintf("is %d characters long (at most %d)", n, MaxPlaceholderLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("must not contain control characters (found %U)", r)
		}
	}
	return ""
}

// checkPositive reports v <= 0, or v > max when max > 0.
func (d *decoder) checkPositive(n *yaml.Node, path string, v, max int) {
	switch {
	case v <= 0:
		d.problem(d.pos(n), "%s: must be positive, got %d", path, v)
	case max > 0 && v > max:
		d.problem(d.pos(n), "%s: %d is too large (at most %d)", path, v, max)
	}
}

// checkWindow reports a retention section with both or neither of
// keep_days and max_age_seconds (nil when not set).
func (d *decoder) checkWindow(section, keepDays, maxAge *yaml.Node) {
	switch {
	case keepDays != nil && maxAge != nil:
		later := maxAge
		if keepDays.Line > maxAge.Line || keepDays.Line == maxAge.Line && keepDays.Column > maxAge.Column {
			later = keepDays
		}
		d.problem(d.pos(later), "retention: set only one of keep_days and max_age_seconds")
	case keepDays == nil && maxAge == nil:
		d.problem(d.pos(section), "retention: set keep_days or max_age_seconds")
	}
}
