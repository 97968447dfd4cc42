package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// block is one fenced code block of a Markdown file.
type block struct {
	lang string
	line int // of the opening fence
	text string
}

// fencedBlocks returns the fenced code blocks of a Markdown file, with the
// indentation of their opening fence removed from every line (blocks may
// sit inside list items).
func fencedBlocks(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []block
	var cur *block
	indent := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeftFunc(line, unicode.IsSpace)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			indent = line[:len(line)-len(trimmed)]
			cur = &block{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), line: n}
		case cur != nil && trimmed == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += strings.TrimPrefix(line, indent) + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated code block", path, cur.line)
	}
	return out
}

// shellWords splits a command line the way sh would for the simple
// commands the docs show: words separated by blanks, single and double
// quotes (no expansions).
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.IndexByte("$`\\|&;<>*?", c) >= 0:
			return nil, fmt.Errorf("%q: shell syntax %q is not supported in checklist commands", s, c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// TestProductionChecklistCommands runs every threadline and threadline-gen
// command of docs/production-checklist.md against a real database and
// project, and compiles every Go snippet, so that the checklist keeps
// working as written.
//
// Long on purpose: it replays the checklist's commands in the checklist's order.
func TestProductionChecklistCommands(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(root, "docs", "production-checklist.md")
	blocks := fencedBlocks(t, doc)

	// The threadline-gen binary, built from this tree.
	bin := filepath.Join(t.TempDir(), "threadline-gen")
	build := exec.Command("go", "build", "-o", bin, "./cmd/threadline-gen")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build threadline-gen: %v\n%s", err, out)
	}

	// Go snippets compile (and pass vet) against this tree.
	snippets := 0
	for _, b := range blocks {
		if b.lang != "go" {
			continue
		}
		if !strings.HasPrefix(b.text, "package ") {
			t.Errorf("%s:%d: a Go snippet must be a complete file (start with package)", doc, b.line)
			continue
		}
		dir := t.TempDir()
		file := filepath.Join(dir, fmt.Sprintf("snippet%d.go", b.line))
		if err := os.WriteFile(file, []byte(b.text), 0o644); err != nil {
			t.Fatal(err)
		}
		vet := exec.Command("go", "vet", file)
		vet.Dir = root
		if out, err := vet.CombinedOutput(); err != nil {
			t.Errorf("%s:%d: Go snippet does not compile: %v\n%s", doc, b.line, err, out)
		}
		snippets++
	}

	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	p.age(t, "40 days")
	p.db.Exec(t, `INSERT INTO posts VALUES (10, 1, 'after the purge window')`)

	commands := 0
	seen := map[string]bool{}
	for _, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		for i, line := range strings.Split(b.text, "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "threadline ") && !strings.HasPrefix(line, "threadline-gen ") {
				continue
			}
			where := fmt.Sprintf("%s:%d: %s", doc, b.line+1+i, line)
			words, err := shellWords(line)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			commands++
			if words[0] == "threadline-gen" {
				cmd := exec.Command(bin, words[1:]...)
				cmd.Dir = p.dir
				cmd.Env = append(os.Environ(), "DATABASE_URL="+p.db.URL)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Errorf("%s: %v\n%s", where, err, out)
				}
				continue
			}
			seen[words[1]] = true
			code, stdout, stderr := p.cliEnv(t, context.Background(), env{}, words[1:]...)
			if code != 0 {
				t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", where, code, stdout, stderr)
			}
		}
	}

	// The checklist covers items 1, 4, 5, 6, 7 with the CLI; make sure
	// the commands are really there, and that they did their work.
	for _, c := range []string{"doctor", "coverage", "purge", "export", "continuity"} {
		if !seen[c] {
			t.Errorf("the checklist shows no threadline %s command", c)
		}
	}
	if commands < 15 || snippets < 5 {
		t.Errorf("found %d commands and %d Go snippets; the checklist has more", commands, snippets)
	}
	var changes, baselines int
	p.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM threadline.audit_changes").Scan(&changes)
	p.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM threadline.audit_baselines WHERE label = 'state when capture was enabled'").Scan(&baselines)
	if changes != 1 || baselines != 2 {
		t.Errorf("after the checklist: %d changes (want the 1 young one), %d baseline rows (want 2 users)", changes, baselines)
	}
	for _, f := range []string{"audit-users.csv", "admin-ops.ndjson", "import.json", "first-1000.json", "everything.ndjson", "everything.csv"} {
		if _, err := os.Stat(filepath.Join(p.dir, f)); err != nil {
			t.Errorf("the checklist's export did not write %s", f)
		}
	}
}

func TestShellWords(t *testing.T) {
	got, err := shellWords(`threadline continuity --label "two words" --x 'a b' c`)
	if err != nil || strings.Join(got, "|") != "threadline|continuity|--label|two words|--x|a b|c" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := shellWords("threadline export | head"); err == nil {
		t.Fatal("a pipe must be refused")
	}
}

// TestDocumentedQueriesRun runs every SQL block of the reference docs
// against a database with captured history.
func TestDocumentedQueriesRun(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	if err := (threadlineops.Audit{}).EnsureBaselineTable(context.Background(), p.db.Pool); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range []string{"domain-reference.md", "brownfield-continuity.md"} {
		doc := filepath.Join(root, "docs", name)
		for _, b := range fencedBlocks(t, doc) {
			if b.lang != "sql" {
				continue
			}
			n++
			rows, err := p.db.Pool.Query(context.Background(), b.text)
			if err == nil {
				for rows.Next() {
				}
				rows.Close()
				err = rows.Err()
			}
			if err != nil {
				t.Errorf("%s:%d: %v\n%s", doc, b.line, err, b.text)
			}
		}
	}
	if n < 8 {
		t.Errorf("found only %d SQL blocks", n)
	}
}
