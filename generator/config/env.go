package config

import (
	"errors"
	"fmt"
	"strings"
)

// expandEnv replaces ${NAME} and $NAME in s with getenv(NAME). $$ is a
// literal $, and a $ followed by anything else (or nothing) stays as it
// is. NAME is [A-Za-z_][A-Za-z0-9_]*. Errors never echo s, which may hold
// a password.
func expandEnv(s string, getenv func(string) string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch next := s[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New("unterminated ${ (write ${NAME}, $NAME, or $$ for a literal $)")
			}
			name := s[i+2 : i+2+end]
			if !isEnvName(name) {
				return "", fmt.Errorf("invalid variable reference ${%s} (write ${NAME}, $NAME, or $$ for a literal $)", short(name))
			}
			b.WriteString(getenv(name))
			i += 2 + end
		case isEnvStart(next):
			j := i + 1
			for j < len(s) && (isEnvStart(s[j]) || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			b.WriteString(getenv(s[i+1 : j]))
			i = j - 1
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}

// isEnvStart reports whether c may start a variable name.
func isEnvStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isEnvName reports whether s is a variable name.
func isEnvName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isEnvStart(s[i]) && (i == 0 || s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return s != ""
}
