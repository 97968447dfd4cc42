package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// readYAML parses data into its single document's root node. A file with
// no document, or a document that is only null, is an error.
func readYAML(file string, data []byte) (root *yaml.Node, err error) {
	defer func() {
		// yaml.v3 is not known to panic on v3.0.1, but a config
		// parser must never take the generator down with it.
		if r := recover(); r != nil {
			root, err = nil, Errorf(Pos{File: file, Line: 1}, "invalid YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errorf(Pos{File: file, Line: 1, Col: 1}, "empty config file")
		}
		return nil, yamlError(file, data, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(file, data, err)
	default:
		return nil, Errorf(Pos{File: file, Line: extra.Line, Col: extra.Column},
			"more than one YAML document (a config file holds exactly one)")
	}
	if len(doc.Content) == 0 || isNull(resolve(doc.Content[0])) {
		return nil, Errorf(Pos{File: file, Line: 1, Col: 1}, "empty config file")
	}
	return doc.Content[0], nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError turns a yaml.v3 syntax error in data into an *Error at the
// offending line, quoted, with its indentation as the column. yaml.v3
// reports a line (no column) that is often where the enclosing block
// began, and leaves it out for errors on the first line: syntaxLine finds
// the offending one; when it cannot, the reported line is kept.
func yamlError(file string, data []byte, err error) error {
	msg := err.Error()
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n > 0 {
			line = n
		}
		msg = msg[len(m[0]):]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if n := syntaxLine(data, err, line-1); n > 0 {
		text := lineAt(data, n)
		return &Error{Pos: Pos{File: file, Line: n, Col: indentColumn(text)},
			Msg: "invalid YAML: " + msg + ": " + quoteLine(text) + syntaxHint(msg, text), Err: err}
	}
	return &Error{Pos: Pos{File: file, Line: line}, Msg: "invalid YAML: " + msg, Err: err}
}

// maxAliasDepth bounds alias chains (an alias of an alias …).
const maxAliasDepth = 100

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxAliasDepth; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is a null scalar ("", "~", "null").
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's type and value for messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := short(n.Value)
		switch tag := n.ShortTag(); tag {
		case "!!null":
			return "null"
		case "!!str":
			return "the string " + strconv.Quote(v)
		case "!!int":
			return "the integer " + v
		case "!!float":
			return "the number " + v
		case "!!bool":
			return "the boolean " + v
		default:
			return fmt.Sprintf("a %s value %q", tag, v)
		}
	}
	return "an unsupported YAML node"
}

// short truncates s for messages.
func short(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}
