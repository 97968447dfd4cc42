package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder walks the YAML tree of one config file. Structural errors
// (syntax, unknown or duplicate keys, wrong types) stop the walk and are
// returned at once; validation problems are collected and the earliest
// one in the file is reported.
type decoder struct {
	file     string
	dir      string
	getenv   func(string) string
	problems []*Error
}

// pos returns the position of n.
func (d *decoder) pos(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

// errf builds a structural error at n.
func (d *decoder) errf(n *yaml.Node, format string, args ...any) error {
	return Errorf(d.pos(n), format, args...)
}

// problem records a validation problem at p.
func (d *decoder) problem(p Pos, format string, args ...any) {
	d.problems = append(d.problems, Errorf(p, format, args...))
}

// firstProblem returns the recorded problem that comes first in the file,
// or nil.
func (d *decoder) firstProblem() error {
	if len(d.problems) == 0 {
		return nil
	}
	sort.SliceStable(d.problems, func(i, j int) bool {
		a, b := d.problems[i].Pos, d.problems[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return d.problems[0]
}

// abs resolves p against the config file's directory.
func (d *decoder) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.dir, p)
}

// absPattern resolves the glob pattern p against the config file's
// directory, escaping glob metacharacters in the directory (where the
// platform allows escapes) so they match literally.
func (d *decoder) absPattern(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	dir := d.dir
	if filepath.Separator == '/' && strings.ContainsAny(dir, `*?[\`) {
		var b strings.Builder
		for _, r := range dir {
			if strings.ContainsRune(`*?[\`, r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		dir = b.String()
	}
	return filepath.Join(dir, p)
}

// pair is one key/value entry of a mapping.
type pair struct{ key, val *yaml.Node }

// where renders a mapping path for messages ("at top level", "in schema").
func where(path string) string {
	if path == "" {
		return "at top level"
	}
	return "in " + path
}

// join appends key to a mapping path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// pairs returns the entries of the mapping n (null counts as empty),
// rejecting non-mappings, non-scalar keys, merge keys and duplicates.
func (d *decoder) pairs(n *yaml.Node, path string) ([]pair, error) {
	r := resolve(n)
	if isNull(r) {
		return nil, nil
	}
	if r.Kind != yaml.MappingNode {
		if path == "" {
			return nil, d.errf(n, "the config must be a mapping, got %s", describe(r))
		}
		return nil, d.errf(n, "%s: want a mapping, got %s", path, describe(r))
	}
	seen := make(map[string]*yaml.Node, len(r.Content)/2)
	out := make([]pair, 0, len(r.Content)/2)
	for i := 0; i+1 < len(r.Content); i += 2 {
		k, v := r.Content[i], r.Content[i+1]
		rk := resolve(k)
		if rk.Kind != yaml.ScalarNode {
			return nil, d.errf(k, "keys must be strings, got %s %s", describe(rk), where(path))
		}
		if rk.ShortTag() == "!!merge" {
			return nil, d.errf(k, "merge keys (<<) are not supported %s", where(path))
		}
		if first, dup := seen[rk.Value]; dup {
			return nil, d.errf(k, "duplicate key %q %s (first at line %d)", rk.Value, where(path), first.Line)
		}
		seen[rk.Value] = k
		out = append(out, pair{key: k, val: v})
	}
	return out, nil
}

// field is one allowed key of a fixed-shape mapping.
type field struct {
	name     string
	required bool
	decode   func(key, val *yaml.Node) error
}

// mapping decodes the fixed-shape mapping n, calling each field's decode
// in file order. Missing required keys are reported at owner (the key
// that holds the mapping, or the root node).
func (d *decoder) mapping(owner, n *yaml.Node, path string, fields []field) error {
	pairs, err := d.pairs(n, path)
	if err != nil {
		return err
	}
	got := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		name := resolve(p.key).Value
		f := lookup(fields, name)
		if f == nil {
			return d.errf(p.key, "unknown key %q %s (allowed: %s)", name, where(path), allowed(fields))
		}
		got[name] = true
		if err := f.decode(p.key, p.val); err != nil {
			return err
		}
	}
	for _, f := range fields {
		if f.required && !got[f.name] {
			if path == "" {
				return d.errf(owner, "missing required key %q", f.name)
			}
			return d.errf(owner, "%s: missing required key %q", path, f.name)
		}
	}
	return nil
}

// lookup finds the field called name.
func lookup(fields []field, name string) *field {
	for i := range fields {
		if fields[i].name == name {
			return &fields[i]
		}
	}
	return nil
}

// allowed lists the field names for messages.
func allowed(fields []field) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// str decodes a string scalar. Other scalars (numbers, booleans, null) are
// errors: quote them to use them as strings.
func (d *decoder) str(n *yaml.Node, path string) (string, error) {
	r := resolve(n)
	if r.Kind != yaml.ScalarNode || r.ShortTag() != "!!str" {
		hint := ""
		if r.Kind == yaml.ScalarNode && !isNull(r) {
			hint = " (quote it to use it as a string)"
		}
		return "", d.errf(n, "%s: want a string, got %s%s", path, describe(r), hint)
	}
	var s string
	if err := r.Decode(&s); err != nil {
		return "", d.errf(n, "%s: want a string, got %s", path, describe(r))
	}
	return s, nil
}

// nonEmpty decodes a string scalar that may not be empty.
func (d *decoder) nonEmpty(n *yaml.Node, path string) (string, error) {
	s, err := d.str(n, path)
	if err == nil && s == "" {
		err = d.errf(n, "%s: must not be empty", path)
	}
	return s, err
}

// int decodes an integer scalar (floats are rejected).
func (d *decoder) int(n *yaml.Node, path string) (int, error) {
	r := resolve(n)
	if r.Kind != yaml.ScalarNode || r.ShortTag() != "!!int" {
		return 0, d.errf(n, "%s: want an integer, got %s", path, describe(r))
	}
	var v int
	if err := r.Decode(&v); err != nil {
		return 0, d.errf(n, "%s: integer %s is out of range", path, short(r.Value))
	}
	return v, nil
}

// bool decodes a boolean scalar, accepting what yaml.v3 decodes into a
// bool (true/false, and the YAML 1.1 forms yes/no/on/off).
func (d *decoder) bool(n *yaml.Node, path string) (bool, error) {
	r := resolve(n)
	var v bool
	if r.Kind != yaml.ScalarNode || isNull(r) || r.Decode(&v) != nil {
		return false, d.errf(n, "%s: want a boolean (true or false), got %s", path, describe(r))
	}
	return v, nil
}

// names decodes a list of non-empty strings (null counts as empty); what
// names an entry for messages ("column name").
func (d *decoder) names(n *yaml.Node, path, what string) ([]Name, error) {
	r := resolve(n)
	if isNull(r) {
		return nil, nil
	}
	if r.Kind != yaml.SequenceNode {
		hint := ""
		if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str" {
			hint = fmt.Sprintf(" (write [%s])", short(r.Value))
		}
		return nil, d.errf(n, "%s: want a list, got %s%s", path, describe(r), hint)
	}
	var out []Name
	for i, item := range r.Content {
		p := path + "[" + strconv.Itoa(i) + "]"
		s, err := d.str(item, p)
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, d.errf(item, "%s: empty %s", p, what)
		}
		out = append(out, Name{Value: s, Pos: d.pos(item)})
	}
	return out, nil
}
