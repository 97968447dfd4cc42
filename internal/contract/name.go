package contract

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// QualifiedName names an object inside a PostgreSQL schema.
type QualifiedName struct {
	Schema string
	Name   string
}

// String returns schema.name, quoting neither part; use it for messages.
func (q QualifiedName) String() string { return q.Schema + "." + q.Name }

// Text returns the name in the form ParseQualifiedName reads, quoting a
// part only when it holds a dot or a double quote (QuotePart).
func (q QualifiedName) Text() string { return QuotePart(q.Schema) + "." + QuotePart(q.Name) }

// Less orders qualified names by schema, then name.
func (q QualifiedName) Less(o QualifiedName) bool {
	if q.Schema != o.Schema {
		return q.Schema < o.Schema
	}
	return q.Name < o.Name
}

// MarshalJSON encodes the name as ["schema", "name"].
func (q QualifiedName) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]string{q.Schema, q.Name})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (q *QualifiedName) UnmarshalJSON(b []byte) error {
	var p []string
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if len(p) != 2 {
		return fmt.Errorf("qualified name: want [schema, name], got %d parts", len(p))
	}
	q.Schema, q.Name = p[0], p[1]
	return nil
}

// QuotePart quotes one part of a table name in the text form
// ParseQualifiedName reads when it holds a dot or a double quote
// ("a.b" becomes "\"a.b\""), and returns it unchanged otherwise.
func QuotePart(s string) string {
	if !strings.ContainsAny(s, `."`) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// QuoteIdent quotes an identifier for SQL: "a""b".
func QuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// QuoteLiteral quotes a string literal for SQL. Strings holding a backslash use the
// E” form with backslashes doubled, so the result means the same whatever
// standard_conforming_strings is.
func QuoteLiteral(s string) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		return "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}

// Quoted returns the name quoted for SQL: "schema"."name".
func (q QualifiedName) Quoted() string { return QuoteIdent(q.Schema) + "." + QuoteIdent(q.Name) }

// NameError is the error of ParseQualifiedName.
type NameError struct {
	// Name is the text that was parsed; Reason says what is wrong with it.
	Name, Reason string
}

func (e *NameError) Error() string { return fmt.Sprintf("table name %q: %s", e.Name, e.Reason) }

// ParseQualifiedName reads "table" (in defaultSchema) or "schema.table".
// A part may be double-quoted to hold dots and quotes, with inner quotes
// doubled: "my.schema"."odd""name". Errors are *NameError. Parts must be non-empty valid UTF-8
// without NUL and at most MaxIdentifierBytes long.
func ParseQualifiedName(s, defaultSchema string) (QualifiedName, error) {
	bad := func(format string, args ...any) (QualifiedName, error) {
		return QualifiedName{}, &NameError{Name: s, Reason: fmt.Sprintf(format, args...)}
	}
	if !utf8.ValidString(s) {
		return bad("not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return bad("holds a NUL character")
	}
	parts, msg := splitParts(s)
	if msg != "" {
		return bad("%s", msg)
	}
	for _, p := range parts {
		if len(p) > MaxIdentifierBytes {
			return bad("part is %d bytes, more than PostgreSQL's %d", len(p), MaxIdentifierBytes)
		}
	}
	switch len(parts) {
	case 1:
		return QualifiedName{Schema: defaultSchema, Name: parts[0]}, nil
	case 2:
		return QualifiedName{Schema: parts[0], Name: parts[1]}, nil
	}
	return bad("want table or schema.table")
}

// splitParts splits s at the dots outside double quotes, or says why it
// cannot.
func splitParts(s string) ([]string, string) {
	var parts []string
	var cur strings.Builder
	inQuote, quotedPart, afterQuote := false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '"' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case inQuote && c == '"':
			inQuote, afterQuote = false, true
		case inQuote:
			cur.WriteByte(c)
		case c == '"':
			if cur.Len() > 0 || quotedPart {
				return nil, "a quote may only start a part"
			}
			inQuote, quotedPart = true, true
		case c == '.':
			if cur.Len() == 0 {
				return nil, "empty part"
			}
			parts = append(parts, cur.String())
			cur.Reset()
			quotedPart, afterQuote = false, false
		default:
			if afterQuote {
				return nil, "text after a closing quote"
			}
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, "unterminated quote"
	}
	if cur.Len() == 0 {
		return nil, "empty part"
	}
	return append(parts, cur.String()), ""
}
