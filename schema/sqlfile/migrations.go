package sqlfile

import (
	"strings"

	"github.com/threadline-go/threadline/internal/contract"
)

// lineKind classifies a line of a migration file.
type lineKind int

const (
	plainLine lineKind = iota
	upMarker
	downMarker
	ternMarker
	// psqlCommand is a psql meta-command line (\restrict, \connect…), as
	// pg_dump writes; it is not SQL and is always blanked.
	psqlCommand
)

func classify(line string) lineKind {
	s := strings.TrimSpace(line)
	switch {
	case s == contract.TernSeparator:
		return ternMarker
	case strings.HasPrefix(s, contract.DbmateUp):
		return upMarker
	case strings.HasPrefix(s, contract.DbmateDown):
		return downMarker
	case len(s) > 1 && s[0] == '\\' && isLetter(s[1]):
		return psqlCommand
	}
	if rest, ok := strings.CutPrefix(s, contract.GooseAnnotation); ok {
		switch word := strings.TrimSpace(rest); {
		case strings.EqualFold(word, strings.TrimPrefix(contract.GooseUp, contract.GooseAnnotation)):
			return upMarker
		case strings.EqualFold(word, strings.TrimPrefix(contract.GooseDown, contract.GooseAnnotation)):
			return downMarker
		}
	}
	return plainLine
}

// upSection returns text with everything outside the "up" part of a
// migration replaced by spaces, so byte offsets (and line numbers) in the
// result are those of the file:
//   - goose (-- +goose Up / Down) and dbmate (-- migrate:up / down): the
//     lines after the up marker, until a down marker;
//   - tern: the lines above "---- create above / drop below ----";
//   - any other file: everything.
//
// psql meta-command lines (pg_dump's \restrict) are blanked everywhere.
func upSection(text string) string {
	lines := strings.SplitAfter(text, "\n")
	kinds := make([]lineKind, len(lines))
	hasUp, hasTern := false, false
	for i, ln := range lines {
		kinds[i] = classify(ln)
		hasUp = hasUp || kinds[i] == upMarker
		hasTern = hasTern || kinds[i] == ternMarker
	}
	if !hasUp && !hasTern && !hasKind(kinds, downMarker) && !hasKind(kinds, psqlCommand) {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	keep := !hasUp // tern files, or a down marker without up: keep the top
	for i, ln := range lines {
		switch kinds[i] {
		case upMarker:
			keep = true
		case downMarker, ternMarker:
			keep = false
		}
		if keep && kinds[i] == plainLine {
			b.WriteString(ln)
		} else {
			b.WriteString(blank(ln))
		}
	}
	return b.String()
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func hasKind(kinds []lineKind, k lineKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// blank replaces every byte of s but line breaks by a space.
func blank(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c != '\n' && c != '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}
