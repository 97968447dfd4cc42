package generator

import (
	"fmt"
	"go/token"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Naming rules of the generated Go package. They are deterministic: the
// same schema and config always give the same names.
//
// Go names (goName) are built from SQL names this way:
//
//  1. The name is split into words at every character that cannot appear
//     in a Go identifier (underscores, spaces, quotes, punctuation, emoji,
//     combining marks...) and at camel-case boundaries ("createdAt" is
//     created + At, "HTTPServer" is HTTP + Server). Letters and digits of
//     any script are kept; digits stay attached to their word ("utf8",
//     "address2").
//  2. Each word is capitalised ("created" → "Created"; an all-capitals
//     word is first lower-cased: "NAME" → "Name"), except common
//     initialisms, which are written in capitals: "id" → "ID", "url" →
//     "URL", "user_id" → "UserID", "api_key" → "APIKey"; their plural
//     keeps a lower-case s: "ids" → "IDs". The list is commonInitialisms.
//  3. A name that would not start with an upper-case letter — it starts
//     with a digit ("2fa_enabled" → "X2faEnabled") or with a letter that
//     has no case ("名前" → "X名前") — gets the prefix "X". A name with no
//     letter or digit at all becomes "X".
//
// Every generated exported name starts with an upper-case letter, so it can
// never be a Go keyword or a predeclared identifier (those are all lower
// case). The lower-case names the generator derives — parameters of the key
// constructors (paramName) — get a trailing underscore when they would be a
// keyword or a predeclared identifier ("type" → type_, "len" → len_); the
// package name is checked against the same list.
//
// Two names that come out the same (columns "user_id" and "userId", two
// tables "users" and "Users", a table type and an enum type) are told
// apart by order: the first keeps the name, the following ones get "_2",
// "_3", ... (columns in column order, tables in schema.table order, enums
// after all tables). Enum constants are the enum type's name followed by
// the label's words (post_status 'draft' → PostStatusDraft; no "X" is
// needed after the prefix). Field names also avoid the generated method names
// (MarshalJSON, UnmarshalJSON).
//
// Table names give two stems. The plural stem is goName(table) — with
// goName(schema) in front when the schema is not public (billing.invoices
// → "BillingInvoices") — and names the functions: UsersTimeline,
// UsersHistory, UsersAsOf, UsersChanges, and the constant UsersTable. The
// singular stem names the types (User, UserKey, UserChange,
// UserChangedFrom); it is the plural stem with this simple suffix rule,
// applied to its end (no inflection dictionary):
//
//   - a plural initialism loses its "s" (apis → APIs → API);
//   - "ies" → "y" (countries → Country);
//   - "sses" → "ss" (addresses → Address);
//   - "xes", "ches", "shes" → drop "es" (boxes → Box, batches → Batch);
//   - ending in "ss", "us" or "is" → unchanged (status, analysis);
//   - otherwise a final "s" is dropped (users → User, page_views →
//     PageView);
//   - otherwise unchanged (person, data).
//
// When the singular stem equals the plural one the row type gets the
// suffix "Row" (table "data" → DataRow, with DataKey, DataChange and
// DataTimeline).

// commonInitialisms are written in capitals in Go names (the list of
// golint, plus a few common in schemas).
var commonInitialisms = map[string]bool{
	"ACL": true, "API": true, "ASCII": true, "CPU": true, "CSS": true, "CSV": true, "DB": true,
	"DNS": true, "EOF": true, "GUID": true, "HTML": true, "HTTP": true, "HTTPS": true, "ID": true,
	"IP": true, "JSON": true, "JSONB": true, "JWT": true, "LHS": true, "OS": true, "PDF": true, "QPS": true, "RAM": true,
	"RHS": true, "RPC": true, "SKU": true, "SLA": true, "SMTP": true, "SQL": true, "SSH": true, "SSO": true,
	"TCP": true, "TLS": true, "TTL": true, "UDP": true, "UI": true, "UID": true, "URI": true,
	"URL": true, "UTC": true, "UTF8": true, "UUID": true, "VM": true, "XML": true, "XMPP": true,
	"XSRF": true, "XSS": true,
}

// goKeywords and goPredeclared are Go's reserved words and predeclared
// identifiers.
var goKeywords = toSet(`break case chan const continue default defer else fallthrough for func go goto if
	import interface map package range return select struct switch type var`)

var goPredeclared = toSet(`any bool byte comparable complex64 complex128 error float32 float64 int int8
	int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr true false iota nil append cap
	clear close complex copy delete imag len make max min new panic print println real recover`)

func toSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// isGoReserved reports whether s is a Go keyword or predeclared identifier.
func isGoReserved(s string) bool { return goKeywords[s] || goPredeclared[s] }

// isGoIdentifier reports whether s is a valid Go identifier.
func isGoIdentifier(s string) bool {
	if s == "" || token.IsKeyword(s) {
		return false
	}
	for i, r := range s {
		if !(unicode.IsLetter(r) || r == '_' || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

// splitWords splits a SQL name into the words of rule 1.
func splitWords(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	runes := []rune(s)
	for i, r := range runes {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if len(cur) > 0 && unicode.IsUpper(r) {
			prev := cur[len(cur)-1]
			nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) && !allDigits(cur) || (unicode.IsUpper(prev) && nextLower) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

func allDigits(rs []rune) bool {
	for _, r := range rs {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// goName turns a SQL name into an exported Go name (rules 1-3).
func goName(s string) string {
	var b strings.Builder
	for _, w := range splitWords(s) {
		b.WriteString(goWord(w))
	}
	n := b.String()
	if r, _ := utf8.DecodeRuneInString(n); n == "" || !unicode.IsUpper(r) {
		n = "X" + n
	}
	return n
}

// paramName turns an exported Go name into an unexported one for a
// parameter: its first word is lower-cased ("UserID" → "userID", "ID" →
// "id", "HTTPServer" → "httpServer", "X2fa" → "x2fa"). A result that is a
// Go keyword or predeclared identifier gets a trailing underscore ("Type" →
// "type_", "Len" → "len_").
func paramName(exported string) string {
	runes := []rune(exported)
	n := 0
	for n < len(runes) && unicode.IsUpper(runes[n]) {
		n++
	}
	switch {
	case n == 0:
	case n == len(runes) || n == 1,
		runes[n] == 's' && (n+1 == len(runes) || !unicode.IsLower(runes[n+1])):
		// All capitals ("ID"), one capital ("User"), or a plural
		// initialism ("IDs").
		for i := 0; i < n; i++ {
			runes[i] = unicode.ToLower(runes[i])
		}
	case unicode.IsLower(runes[n]):
		// "HTTPServer": the last capital starts the next word.
		for i := 0; i < n-1; i++ {
			runes[i] = unicode.ToLower(runes[i])
		}
	default:
		// Capitals then a digit or caseless letter ("X2fa", "UTF8").
		for i := 0; i < n; i++ {
			runes[i] = unicode.ToLower(runes[i])
		}
	}
	s := string(runes)
	if isGoReserved(s) {
		s += "_"
	}
	return s
}

// goNameSuffix is goName for the part of a name that follows a prefix (an
// enum label after its type name): no "X" is needed before a digit or a
// caseless letter. Only a label without letters or digits becomes "X".
func goNameSuffix(s string) string {
	var b strings.Builder
	for _, w := range splitWords(s) {
		b.WriteString(goWord(w))
	}
	if b.Len() == 0 {
		return "X"
	}
	return b.String()
}

// goWord capitalises one word (rule 2).
func goWord(w string) string {
	up := strings.ToUpper(w)
	if commonInitialisms[up] {
		return up
	}
	if base, ok := strings.CutSuffix(w, "s"); ok && commonInitialisms[strings.ToUpper(base)] && base == strings.ToLower(base) {
		return strings.ToUpper(base) + "s"
	}
	if w == up || w == strings.ToLower(w) {
		w = strings.ToLower(w)
	}
	r, size := utf8.DecodeRuneInString(w)
	return string(unicode.ToUpper(r)) + w[size:]
}

// singular applies the singular rule to a plural stem; see the package
// naming rules. It returns the stem unchanged when no rule applies.
func singular(p string) string {
	cut := func(n int, add string) string {
		if len(p) <= n {
			return p
		}
		return p[:len(p)-n] + add
	}
	n := len(p)
	switch {
	case n >= 2 && p[n-1] == 's' && p[n-2] >= 'A' && p[n-2] <= 'Z':
		// A plural initialism: APIs → API, UserIDs → UserID.
		return p[:n-1]
	case hasSuffixFold(p, "ies"):
		return cut(3, "y")
	case hasSuffixFold(p, "sses"):
		return cut(2, "")
	case hasSuffixFold(p, "xes"), hasSuffixFold(p, "ches"), hasSuffixFold(p, "shes"):
		return cut(2, "")
	case hasSuffixFold(p, "ss"), hasSuffixFold(p, "us"), hasSuffixFold(p, "is"):
		return p
	case hasSuffixFold(p, "s"):
		return cut(1, "")
	}
	return p
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// nameSet hands out unique names: the first request for a name gets it,
// later ones get "_2", "_3", ...
type nameSet struct {
	used map[string]bool
}

func newNameSet(reserved ...string) *nameSet {
	n := &nameSet{used: map[string]bool{}}
	for _, r := range reserved {
		n.used[r] = true
	}
	return n
}

// unique returns base, or base with the smallest suffix "_N" (N >= 2) that
// is free, and marks it used.
func (n *nameSet) unique(base string) string {
	name := base
	for i := 2; n.used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	n.used[name] = true
	return name
}

// uniqueGroup finds the smallest suffix ("" or "_N") that makes every name
// built by names(suffix) free, marks them used and returns the suffix.
func (n *nameSet) uniqueGroup(names func(suffix string) []string) string {
	for i := 1; ; i++ {
		suffix := ""
		if i > 1 {
			suffix = fmt.Sprintf("_%d", i)
		}
		all := names(suffix)
		free := true
		seen := map[string]bool{}
		for _, s := range all {
			if n.used[s] || seen[s] {
				free = false
				break
			}
			seen[s] = true
		}
		if free {
			for _, s := range all {
				n.used[s] = true
			}
			return suffix
		}
	}
}

// goFileName derives a file name (without ".go") from a table: the
// lower-cased ASCII letters and digits of schema_table (schema left out
// for public), other characters folded into single underscores, leading
// and trailing underscores trimmed (a Go file name starting with "_" or
// "." is ignored by the go tool). An empty result becomes "table"; a name
// whose last "_" part is "test" or a GOOS or GOARCH value (which would make
// it a test file or add a build constraint) gets the suffix "_table".
func goFileName(schemaName, table string) string {
	src := table
	if schemaName != "public" {
		src = schemaName + "_" + table
	}
	var b strings.Builder
	underscore := false
	for _, r := range strings.ToLower(src) {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			underscore = false
			continue
		}
		if !underscore {
			b.WriteByte('_')
			underscore = true
		}
	}
	name := strings.Trim(b.String(), "_")
	if name == "" {
		return "table"
	}
	parts := strings.Split(name, "_")
	if last := parts[len(parts)-1]; len(parts) > 1 && (last == "test" || knownOS[last] || knownArch[last]) {
		name += "_table"
	}
	return name
}

// knownOS and knownArch are the GOOS and GOARCH values the go tool
// recognises in file name suffixes.
var knownOS = toSet(`aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd
	plan9 solaris wasip1 windows zos`)

var knownArch = toSet(`386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le
	mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm`)

// isSimpleSQLName reports whether a SQL name can be quoted in generated
// comments as is (letters, digits, underscores, dots).
func isSimpleSQLName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.')) {
			return false
		}
	}
	return true
}

// commentName renders a SQL name for a generated comment: as is when
// simple, else Go-quoted (so no newline or control character can end the
// comment).
func commentName(s string) string {
	if isSimpleSQLName(s) {
		return s
	}
	return fmt.Sprintf("%q", s)
}
