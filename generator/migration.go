package generator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
)

// Header is the first line of every SQL file threadline-gen writes
// (contract.GeneratedSQLHeader).
const Header = contract.GeneratedSQLHeader

const (
	checksumPrefix = "-- threadline:checksum "
	statePrefix    = "-- threadline:"
)

// migration is one generated migration before it is rendered in a format.
type migration struct {
	// Version is the numeric version ("20261127093000" or "004").
	Version string
	// Name is the descriptive part of the file name ("threadline_install").
	Name string
	// Notes are extra header lines (without "-- "), e.g. the state records.
	Notes []string
	Up    []string
	Down  []string
	// Irreversible, when set, says why the up cannot be undone: the down
	// then only fails, saying so (see refuseDown).
	Irreversible string
}

// formatSpec knows one migration tool's file layout.
type formatSpec struct {
	// files renders m into files (paths relative to the migrations dir).
	files func(m migration) []File
	// sequential formats number migrations 1, 2, 3 (tern); the others use
	// UTC timestamps.
	sequential bool
	// isDown reports whether a path holds a down migration only.
	isDown func(p string) bool
}

var versionRE = regexp.MustCompile(`^(\d+)_`)

func formatFor(name string) (formatSpec, error) {
	switch name {
	case "goose":
		return formatSpec{files: func(m migration) []File {
			var b strings.Builder
			b.WriteString("\n" + contract.GooseUp + "\n")
			writeStatements(&b, m.Up, contract.GooseStatementBegin+"\n", contract.GooseStatementEnd+"\n")
			b.WriteString("\n" + contract.GooseDown + "\n")
			writeStatements(&b, m.Down, contract.GooseStatementBegin+"\n", contract.GooseStatementEnd+"\n")
			return []File{sealed(m.Version+"_"+m.Name+".sql", m.Notes, b.String())}
		}}, nil
	case "golang-migrate", "plain":
		// golang-migrate runs a file as one multi-statement query, which
		// PostgreSQL makes atomic; psql does not, so plain files hold
		// their own transaction.
		begin, commit := "", ""
		if name == "plain" {
			begin, commit = "BEGIN;\n\n", "\nCOMMIT;\n"
		}
		return formatSpec{
			files: func(m migration) []File {
				var up, down strings.Builder
				writeStatements(&up, m.Up, "", "")
				writeStatements(&down, m.Down, "", "")
				base := m.Version + "_" + m.Name
				return []File{
					sealed(base+".up.sql", m.Notes, "\n"+begin+up.String()+commit),
					sealed(base+contract.DownSuffix, nil, "\n"+begin+down.String()+commit),
				}
			},
			isDown: contract.IsDownFile,
		}, nil
	case "tern":
		return formatSpec{
			sequential: true,
			files: func(m migration) []File {
				var b strings.Builder
				b.WriteString("\n")
				writeStatements(&b, m.Up, "", "")
				b.WriteString("\n" + contract.TernSeparator + "\n\n")
				writeStatements(&b, m.Down, "", "")
				// tern runs files through text/template: never emit "{{".
				body := strings.ReplaceAll(b.String(), "{{", `{{"{{"}}`)
				return []File{sealed(m.Version+"_"+m.Name+".sql", m.Notes, body)}
			},
		}, nil
	case "dbmate":
		return formatSpec{files: func(m migration) []File {
			var b strings.Builder
			b.WriteString("\n" + contract.DbmateUp + "\n")
			writeStatements(&b, m.Up, "", "")
			b.WriteString("\n" + contract.DbmateDown + "\n")
			writeStatements(&b, m.Down, "", "")
			return []File{sealed(m.Version+"_"+m.Name+".sql", m.Notes, b.String())}
		}}, nil
	case "atlas":
		// Atlas versioned directories hold up migrations only; the down
		// SQL goes to down/ (atlas reads only the top-level .sql files).
		return formatSpec{
			files: func(m migration) []File {
				var up, down strings.Builder
				writeStatements(&up, m.Up, "", "")
				writeStatements(&down, m.Down, "", "")
				base := m.Version + "_" + m.Name + ".sql"
				return []File{
					sealed(base, m.Notes, "\n"+up.String()),
					sealed(path.Join("down", base), nil, "\n"+down.String()),
				}
			},
			isDown: func(p string) bool { return strings.HasPrefix(p, "down/") },
		}, nil
	}
	return formatSpec{}, fmt.Errorf("unsupported migration format %q", name)
}

func writeStatements(b *strings.Builder, stmts []string, begin, end string) {
	for i, s := range stmts {
		if i > 0 && begin == "" {
			b.WriteString("\n")
		}
		b.WriteString(begin)
		b.WriteString(s)
		b.WriteString(";\n")
		b.WriteString(end)
	}
}

// sealed assembles a generated file: header, notes, checksum, body. The
// checksum covers every other line, so any hand edit is detected.
func sealed(p string, notes []string, body string) File {
	var head strings.Builder
	head.WriteString(Header + "\n")
	for _, n := range notes {
		head.WriteString("-- " + n + "\n")
	}
	unsealed := head.String() + body
	return File{Path: p, Content: []byte(head.String() + checksumPrefix + checksum(unsealed) + "\n" + body)}
}

func checksum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// verifySeal reports whether a generated file's checksum line matches its
// content. Files without a checksum line are reported as not sealed.
func verifySeal(content string) (sealedFile, ok bool) {
	i := strings.Index(content, "\n"+checksumPrefix)
	if !contract.IsGeneratedSQL(content) || i < 0 {
		return false, false
	}
	lineEnd := strings.IndexByte(content[i+1:], '\n')
	if lineEnd < 0 {
		return true, false
	}
	line := content[i+1 : i+1+lineEnd]
	want := strings.TrimPrefix(line, checksumPrefix)
	rest := content[:i+1] + content[i+1+lineEnd+1:]
	return true, checksum(rest) == want
}

// nextVersion picks the version of a new migration: for timestamp formats
// the clock's UTC time (YYYYMMDDHHMMSS), raised above every existing
// version; for sequential formats the highest existing number plus one,
// zero-padded to three digits.
func nextVersion(spec formatSpec, existing []string, now time.Time) string {
	var highest uint64
	width := 3
	for _, p := range existing {
		m := versionRE.FindStringSubmatch(path.Base(p))
		if m == nil {
			continue
		}
		v, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			continue
		}
		if v > highest {
			highest = v
			width = max(width, len(m[1]))
		}
	}
	if spec.sequential {
		return fmt.Sprintf("%0*d", width, highest+1)
	}
	v, _ := strconv.ParseUint(now.UTC().Format("20060102150405"), 10, 64)
	if v <= highest {
		v = highest + 1
	}
	return strconv.FormatUint(v, 10)
}

// sortByVersion orders migration paths by numeric version, then name.
func sortByVersion(paths []string) {
	num := func(p string) uint64 {
		m := versionRE.FindStringSubmatch(path.Base(p))
		if m == nil {
			return 0
		}
		v, _ := strconv.ParseUint(m[1], 10, 64)
		return v
	}
	sort.SliceStable(paths, func(i, j int) bool {
		a, b := num(paths[i]), num(paths[j])
		if a != b {
			return a < b
		}
		return paths[i] < paths[j]
	})
}
