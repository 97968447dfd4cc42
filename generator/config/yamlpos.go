package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxLocateLines and maxLocateBytes bound the work of syntaxLine: each
// line it tries parses the file up to that line again.
const (
	maxLocateLines = 500
	maxLocateBytes = 1 << 20
)

// syntaxLine finds the line a yaml.v3 syntax error is about. yaml.v3
// reports the line where the enclosing block began (an indentation error
// deep inside tables: is reported at the table's first key), so the line
// is found by parsing ever longer prefixes of data, from line from on:
// the first prefix that fails with the same error ends with the offending
// line. It returns 0 when no prefix does, or the file is too large to
// try.
func syntaxLine(data []byte, err error, from int) int {
	if len(data) > maxLocateBytes {
		return 0
	}
	want := err.Error()
	n, end := 0, 0
	for end < len(data) {
		if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(data)
		}
		n++
		switch {
		case n < from:
			continue
		case n >= from+maxLocateLines:
			return 0
		}
		if e := firstYAMLError(data[:end]); e != nil && e.Error() == want {
			return n
		}
	}
	return 0
}

// firstYAMLError decodes every document of data and returns the first
// syntax error.
func firstYAMLError(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// lineAt returns line n (1-based) of data without its line ending.
func lineAt(data []byte, n int) string {
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSuffix(lines[n-1], "\r")
}

// indentColumn is the 1-based column of the first character of line that
// is not a space (a tab counts: YAML does not indent with tabs).
func indentColumn(line string) int {
	return len(line) - len(strings.TrimLeft(line, " ")) + 1
}

// syntaxHint explains the usual cause of a yaml.v3 message on line.
func syntaxHint(msg, line string) string {
	indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
	switch {
	case strings.Contains(indent, "\t"):
		return " (indent with spaces: YAML does not allow tabs)"
	case strings.HasPrefix(msg, "did not find expected key"):
		return " (check this line's indentation: the keys of one mapping start in the same column)"
	}
	return ""
}

// quoteLine quotes a line of the config for a message, at most 80
// characters of it.
func quoteLine(line string) string {
	const max = 80
	if utf8.RuneCountInString(line) > max {
		line = string([]rune(line)[:max]) + "…"
	}
	return fmt.Sprintf("%q", line)
}
