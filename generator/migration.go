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

	"github.com/threadline-go/threadline/generator/config"
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
	// sequential formats number migrations 1, 2, 3 (tern); the others
	// follow migrations.versioning (see nextVersion).
	sequential bool
	// seqWidth is the width of a first sequential version: the tool's
	// own (goose create -s: 00001; migrate create -seq: 000001).
	seqWidth int
	// isDown reports whether a path holds a down migration only.
	isDown func(p string) bool
}

var versionRE = regexp.MustCompile(`^(\d+)_`)

func formatFor(name string) (formatSpec, error) {
	switch name {
	case "goose":
		return formatSpec{seqWidth: 5, files: func(m migration) []File {
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
		begin, commit, width := "", "", 6
		if name == "plain" {
			begin, commit, width = "BEGIN;\n\n", "\nCOMMIT;\n", 3
		}
		return formatSpec{
			seqWidth: width,
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
			seqWidth:   3,
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
		return formatSpec{seqWidth: 3, files: func(m migration) []File {
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
			seqWidth: 3,
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
		b.WriteString(wrapSQL(s+";", MaxLineLength))
		b.WriteString("\n")
		b.WriteString(end)
	}
}

// sealed assembles a generated file: header, notes, checksum, body. The
// checksum covers every other line, so any hand edit is detected.
func sealed(p string, notes []string, body string) File {
	var head strings.Builder
	head.WriteString(Header + "\n")
	for _, n := range notes {
		head.WriteString(strings.Join(noteLines(n, MaxLineLength), "\n") + "\n")
	}
	unsealed := head.String() + body
	return File{Path: p, Content: []byte(head.String() + checksumPrefix + checksum(unsealed) + "\n" + body)}
}

// noteContinued starts a line that continues the state record above it.
const noteContinued = "--     "

// noteLines writes a state record as header lines no longer than limit: a
// long record (a table's JSON) is broken after commas outside its strings,
// each further line starting with noteContinued (see readNotes).
func noteLines(note string, limit int) []string {
	line := "-- " + note
	var lines []string
	for len(line) > limit {
		cut, in := -1, false
		for i := 0; i < len(line) && (cut < 0 || i < limit); i++ {
			switch c := line[i]; {
			case c == '\\' && in:
				i++
			case c == '"':
				in = !in
			case c == ',' && !in && i > len(noteContinued):
				cut = i + 1
			}
		}
		if cut < 0 || cut == len(line) {
			break
		}
		lines = append(lines, line[:cut])
		line = noteContinued + line[cut:]
	}
	return append(lines, line)
}

// readNotes returns the state records in the header of a generated file
// (without "-- "), each joined from its continuation lines.
func readNotes(content string) []string {
	var notes []string
	for _, line := range strings.Split(content, "\n") {
		switch {
		case strings.HasPrefix(line, statePrefix):
			notes = append(notes, strings.TrimPrefix(line, "-- "))
		case strings.HasPrefix(line, noteContinued) && len(notes) > 0:
			notes[len(notes)-1] += strings.TrimPrefix(line, noteContinued)
		case line != Header && line != "" && !strings.HasPrefix(line, "--"):
			return notes
		}
	}
	return notes
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

// timestampFloor is the smallest version read as a timestamp: UTC times
// (YYYYMMDDHHMMSS) and Unix times have at least ten digits; sequential
// versions stay far below.
const timestampFloor = 1_000_000_000

// highest is the highest numbered file of a migrations directory.
type highest struct {
	path   string // "" when no file is numbered
	digits string // its version as written ("00007")
	value  uint64
}

func highestVersion(existing []string) highest {
	var h highest
	for _, p := range existing {
		m := versionRE.FindStringSubmatch(path.Base(p))
		if m == nil {
			continue
		}
		v, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			continue
		}
		if h.path == "" || v > h.value || v == h.value && (len(m[1]) > len(h.digits) || len(m[1]) == len(h.digits) && p < h.path) {
			h = highest{path: p, digits: m[1], value: v}
		}
	}
	return h
}

// nextVersion picks the version of a new migration. Sequential versions
// are the highest existing one plus one, zero-padded to its width (the
// tool's own width in an empty directory); timestamp versions are the
// clock's UTC time (YYYYMMDDHHMMSS), raised above every existing version.
// Which one: tern is always sequential; otherwise migrations.versioning,
// or when unset what the numbered files already there are.
func nextVersion(spec formatSpec, mig config.Migrations, existing []string, now time.Time) (string, error) {
	h := highestVersion(existing)
	sequential := spec.sequential || mig.Versioning == config.VersioningSequential ||
		mig.Versioning == "" && h.path != "" && h.value < timestampFloor
	if sequential && !spec.sequential && h.value >= timestampFloor {
		return "", config.Errorf(mig.VersioningPos, "migrations.versioning: sequential, but %s has a timestamp version: a sequential "+
			"version after it would be %d; keep versioning: timestamp, or renumber the migrations (and the versions your migration tool recorded)",
			h.path, h.value+1)
	}
	if sequential {
		width := spec.seqWidth
		if h.path != "" {
			width = len(h.digits)
		}
		return fmt.Sprintf("%0*d", width, h.value+1), nil
	}
	v, _ := strconv.ParseUint(now.UTC().Format("20060102150405"), 10, 64)
	if v <= h.value {
		v = h.value + 1
	}
	return strconv.FormatUint(v, 10), nil
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
