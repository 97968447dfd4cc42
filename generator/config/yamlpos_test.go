package config

import "testing"

// A YAML syntax error names the offending line, its indentation as the
// column, and shows it: yaml.v3 alone reports a line near where the
// enclosing block began, lines above the key mis-indented.
func TestYAMLSyntaxErrorShowsOffendingLine(t *testing.T) {
	const keyHint = " (check this line's indentation: the keys of one mapping start in the same column)"
	for _, c := range []struct {
		name, text, want string
	}{
		{"key indented too little", head + "tables:\n  users:\n    exclude: [a]\n   mask: [b]\n",
			`t.yaml:12:4: invalid YAML: did not find expected key: "   mask: [b]"` + keyHint},
		{"key indented too much", head + "tables:\n  users:\n    exclude: [a]\n      mask: [b]\n",
			`t.yaml:12:7: invalid YAML: did not find expected key: "      mask: [b]"` + keyHint},
		{"key between two levels, after blank and comment lines", head + "tables:\n  users:\n    exclude: [a]\n\n    # posts next\n  posts: {}\n mask: [b]\n",
			`t.yaml:15:2: invalid YAML: did not find expected key: " mask: [b]"` + keyHint},
		{"nested section", "version: 1\nschema:\n  files: [a]\n   database_url: x\n",
			`t.yaml:4:4: invalid YAML: did not find expected key: "   database_url: x"` + keyHint},
		{"after a flow list over two lines", "version: 1\nschema:\n  files: [a,\n    b]\n  x: 1\n y: 2\n",
			`t.yaml:6:2: invalid YAML: did not find expected key: " y: 2"` + keyHint},
		{"tab", "version: 1\ntables:\n\tusers: {}\n",
			`t.yaml:3:1: invalid YAML: found character that cannot start any token: "\tusers: {}" (indent with spaces: YAML does not allow tabs)`},
		{"CRLF", "version: 1\r\ntables:\r\n  users:\r\n    exclude: [a]\r\n   mask: [b]\r\n",
			`t.yaml:5:4: invalid YAML: did not find expected key: "   mask: [b]"` + keyHint},
	} {
		_, err := Parse("t.yaml", []byte(c.text), nil)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.name, err, c.want)
		}
	}
}
