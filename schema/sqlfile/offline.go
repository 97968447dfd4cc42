// Package sqlfile loads the schema model (package schema) from SQL files —
// plain DDL, pg_dump output and the migration files of goose, dbmate, tern,
// golang-migrate and atlas — by parsing them with PostgreSQL's own parser
// (pg_query), and checks generated SQL with the same parser (Check).
//
// It is the only package of Threadline that needs cgo: everything else,
// the runtime and the generator included, builds with CGO_ENABLED=0.
// The live loader (schema.LoadLive) and this one produce the same model
// for the same DDL; the parity tests here assert it.
package sqlfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"github.com/pganalyze/pg_query_go/v5/parser"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/schema"
)

// PosError is an error at a position of a SQL file. Error renders it as
// "path:line:col: message" (or "path: message" when the position is
// unknown, Line == 0). Line and Col are 1-based; Col counts characters.
type PosError struct {
	Path string
	Line int
	Col  int
	Msg  string
}

// Error implements error.
func (e *PosError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Col, e.Msg)
}

// LoadFiles builds the schema from SQL files applied in the given order.
// Only the "up" part of goose, dbmate and tern migrations is applied, and
// golang-migrate "*.down.sql" files are skipped, as are the migrations
// threadline-gen wrote (contract.IsGeneratedSQL): they touch only the
// audit schema (which the generator leaves out of the model), some of it
// in DO blocks this loader cannot follow, and add capture functions and
// triggers. Statements that do not shape tables, enums or domains are
// ignored. Syntax and semantic errors are *PosError values.
func LoadFiles(paths []string) (*schema.Schema, error) {
	l := newLoader()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("load schema: %w", err)
		}
		if err := l.loadFile(p, string(data)); err != nil {
			return nil, err
		}
	}
	return l.schema(), nil
}

// LoadGlobs expands each pattern with filepath.Glob (matches sorted within
// a pattern, duplicates dropped) and loads the files with LoadFiles. A
// pattern that matches nothing is an error.
func LoadGlobs(patterns []string) (*schema.Schema, error) {
	paths, err := expandGlobs(patterns)
	if err != nil {
		return nil, err
	}
	return LoadFiles(paths)
}

func expandGlobs(patterns []string) ([]string, error) {
	var paths []string
	seen := map[string]bool{}
	for _, pat := range patterns {
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("load schema: pattern %q: %w", pat, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("load schema: pattern %q matches no files", pat)
		}
		sort.Strings(matches)
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				paths = append(paths, m)
			}
		}
	}
	return paths, nil
}

// loadFile applies the up part of one file's SQL to the loader.
func (l *loader) loadFile(path, text string) error {
	if contract.IsDownFile(path) || contract.IsGeneratedSQL(text) {
		return nil
	}
	sql := upSection(text)
	if i := strings.IndexByte(sql, 0); i >= 0 {
		return posError(path, text, i, "invalid NUL byte")
	}
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return parseError(path, text, sql, err)
	}
	for _, raw := range tree.GetStmts() {
		if err := l.apply(raw.GetStmt(), "public"); err != nil {
			start := skipSpaceAndComments(sql, int(raw.GetStmtLocation()))
			return posError(path, text, start, err.Error())
		}
	}
	return nil
}

// parseError positions a pg_query syntax error. Its cursor position is a
// 1-based character index into sql, whose byte offsets equal text's.
func parseError(path, text, sql string, err error) error {
	var pe *parser.Error
	if !errors.As(err, &pe) {
		return fmt.Errorf("load schema: %s: %w", path, err)
	}
	if pe.Cursorpos <= 0 {
		return &PosError{Path: path, Msg: pe.Message}
	}
	return posError(path, text, charToByteOffset(sql, pe.Cursorpos-1), pe.Message)
}

// posError builds a PosError at byte offset off of text.
func posError(path, text string, off int, msg string) *PosError {
	line, col := lineCol(text, off)
	return &PosError{Path: path, Line: line, Col: col, Msg: msg}
}

// lineCol converts a byte offset to a 1-based line and character column.
func lineCol(text string, off int) (line, col int) {
	off = max(0, min(off, len(text)))
	before := text[:off]
	lineStart := strings.LastIndexByte(before, '\n') + 1
	return strings.Count(before, "\n") + 1, utf8.RuneCountInString(before[lineStart:]) + 1
}

// charToByteOffset converts a character count to a byte offset the way
// PostgreSQL counts UTF-8 characters (by the length its lead byte
// announces).
func charToByteOffset(s string, chars int) int {
	off := 0
	for i := 0; i < chars && off < len(s); i++ {
		off += utf8SeqLen(s[off])
	}
	return min(off, len(s))
}

func utf8SeqLen(b byte) int {
	switch {
	case b&0x80 == 0:
		return 1
	case b&0xe0 == 0xc0:
		return 2
	case b&0xf0 == 0xe0:
		return 3
	case b&0xf8 == 0xf0:
		return 4
	}
	return 1
}

// skipSpaceAndComments returns the offset of the first token at or after
// off (statement locations include the whitespace and comments before a
// statement).
func skipSpaceAndComments(s string, off int) int {
	i := max(0, min(off, len(s)))
	for i < len(s) {
		switch {
		case strings.IndexByte(" \t\n\r\f\v", s[i]) >= 0:
			i++
		case strings.HasPrefix(s[i:], "--"):
			nl := strings.IndexByte(s[i:], '\n')
			if nl < 0 {
				return len(s)
			}
			i += nl + 1
		case strings.HasPrefix(s[i:], "/*"):
			i = skipBlockComment(s, i)
		default:
			return i
		}
	}
	return i
}

// skipBlockComment skips a (nestable) /* */ comment starting at i.
func skipBlockComment(s string, i int) int {
	depth := 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(s[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return i
}
