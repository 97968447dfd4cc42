package generator

import "strings"

// MaxLineLength is the longest line threadline-gen writes into a
// migration (a DBA reviews the file; docs/domain-reference.md), save one
// wrapSQL cannot break: a long quoted identifier, or a string literal
// without a space or comma. TestGeneratedSQLIsSkimmable holds every
// golden migration to it.
const MaxLineLength = 120

// wrapSQL breaks every line of sql longer than limit at spaces outside
// quoted identifiers, dollar-quoted strings and comments, so the statement
// means exactly what it meant. A continued code line is indented four
// spaces deeper than the line it continues; a continued comment line keeps
// its indent and "-- ". A plain string literal is broken after a space
// or comma inside it, by closing it and opening the rest on the next line:
// PostgreSQL joins string constants separated by a line break ('a '
// newline 'b' is 'a b'). The text of function bodies quoted with
// $threadline$ (or $threadlineN$) is code and is wrapped like code; any
// other dollar-quoted string is a literal.
func wrapSQL(sql string, limit int) string {
	var out strings.Builder
	var st lexState
	lines := strings.Split(sql, "\n")
	for i, line := range lines {
		if i > 0 {
			out.WriteByte('\n')
		}
		out.WriteString(wrapLine(line, limit, &st))
	}
	return out.String()
}

// lexState is what the lexer carries from one line to the next: the kind
// of literal a line ends inside, if any.
type lexState struct {
	quote  byte   // '\'' or '"' while inside such a literal
	plain  bool   // the ' literal is a plain one (not E'', U&'', B'')
	dollar string // the closing tag while inside a dollar-quoted literal
	block  int    // depth of /* */ comments
}

// code reports whether the lexer is outside every literal and comment.
func (s *lexState) code() bool { return s.quote == 0 && s.dollar == "" && s.block == 0 }

// breakAt is a space a line may be broken at, or, inLiteral, a space or
// comma in a plain string literal that ends the first piece (the break
// then closes the literal after it and reopens it on the next line).
type breakAt struct {
	pos       int
	inLiteral bool
}

// wrapLine wraps one line, advancing st over it.
func wrapLine(line string, limit int, st *lexState) string {
	indent := len(line) - len(strings.TrimLeft(line, " "))
	if st.code() && strings.HasPrefix(line[indent:], "--") {
		return wrapComment(line, indent, limit)
	}
	breaks, comment := breakPoints(line, st)
	if len(line) <= limit {
		return line
	}
	cont := strings.Repeat(" ", indent+4)
	var out strings.Builder
	start, prefix := 0, "" // start of the current piece, and what goes before it
	for len(prefix)+len(line)-start > limit {
		b, ok := pickBreak(line, breaks, start, start+limit-len(prefix)-1, comment)
		if !ok {
			break
		}
		out.WriteString(prefix)
		if b.inLiteral {
			out.WriteString(line[start:b.pos+1] + "'\n")
			start, prefix = b.pos+1, cont+"'"
		} else {
			out.WriteString(line[start:b.pos] + "\n")
			start, prefix = b.pos+1, cont
		}
	}
	rest := prefix + line[start:]
	if start == comment {
		rest = wrapComment(rest, len(prefix), limit)
	}
	out.WriteString(rest)
	return out.String()
}

// pickBreak returns the best break in (start, end]: the last one after a
// comma when there is one in the second half of the piece, else the last
// code break, else the last one in a literal. Breaks at or after comment
// (the start of a trailing -- comment) are not taken.
func pickBreak(line string, breaks []breakAt, start, end, comment int) (breakAt, bool) {
	var last, comma, lit breakAt
	for _, b := range breaks {
		if b.pos <= start || b.pos > end || b.pos >= comment {
			continue
		}
		switch {
		case b.inLiteral:
			if b.pos < end { // the piece ends with the space and a closing quote
				lit = b
			}
		case line[b.pos-1] == ',':
			comma, last = b, b
		default:
			last = b
		}
	}
	switch {
	case comma.pos > start+(end-start)/2:
		return comma, true
	case last.pos > 0:
		return last, true
	}
	return lit, lit.pos > 0
}

// breakPoints lexes line from state st and returns the spaces it may be
// broken at (each after a non-space), and where a trailing -- comment
// starts (len(line) when none).
func breakPoints(line string, st *lexState) (breaks []breakAt, comment int) {
	comment = len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case st.quote != 0:
			switch {
			case c == st.quote && i+1 < len(line) && line[i+1] == st.quote:
				i++
			case c == st.quote:
				st.quote = 0
			case st.plain && (c == ',' || c == ' ' && i > 0 && line[i-1] != ' ' && line[i-1] != st.quote):
				breaks = append(breaks, breakAt{pos: i, inLiteral: true})
			}
		case st.dollar != "":
			if strings.HasPrefix(line[i:], st.dollar) {
				i += len(st.dollar) - 1
				st.dollar = ""
			}
		case st.block > 0:
			if strings.HasPrefix(line[i:], "*/") {
				st.block--
				i++
			} else if strings.HasPrefix(line[i:], "/*") {
				st.block++
				i++
			}
		case c == '\'' || c == '"':
			st.quote = c
			st.plain = c == '\'' && (i == 0 || !identChar(line[i-1]))
		case strings.HasPrefix(line[i:], "/*"):
			st.block++
			i++
		case strings.HasPrefix(line[i:], "--"):
			return breaks, i
		case c == '$' && (i == 0 || !identChar(line[i-1])):
			if tag, ok := dollarTag(line[i:]); ok {
				if !strings.HasPrefix(tag, "$threadline") {
					st.dollar = tag
				}
				i += len(tag) - 1
			}
		case c == ' ' && i > 0 && line[i-1] != ' ':
			breaks = append(breaks, breakAt{pos: i})
		}
	}
	return breaks, comment
}

// identChar reports whether c may continue an unquoted identifier (where
// a $ is part of the name, not the start of a dollar quote).
func identChar(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// dollarTag returns the dollar-quote tag s starts with ("$$", "$fn$").
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '$':
			return s[:j+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 1 && c >= '0' && c <= '9':
		default:
			return "", false
		}
	}
	return "", false
}

// wrapComment re-flows a -- comment line longer than limit into several,
// each with the same indent and "-- ".
func wrapComment(line string, indent, limit int) string {
	if len(line) <= limit {
		return line
	}
	prefix := line[:indent] + "-- "
	words := strings.Fields(strings.TrimPrefix(line[indent:], "--"))
	var out strings.Builder
	cur := prefix
	for _, w := range words {
		if cur != prefix && len(cur)+1+len(w) > limit {
			out.WriteString(cur + "\n")
			cur = prefix
		}
		if cur != prefix {
			cur += " "
		}
		cur += w
	}
	out.WriteString(cur)
	return out.String()
}
