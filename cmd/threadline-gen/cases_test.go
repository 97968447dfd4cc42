package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sebdah/goldie/v2"
)

// casesDir holds the end-to-end cases: one directory each, found by
// walking (see testdata/cases/README.md). Adding a case needs no Go edit.
const casesDir = "../../testdata/cases"

// example is the bundled example: a case whose expected files are the
// example's own committed migrations and Go package.
const example = "../../examples/quickstart"

// caseNow is the clock of a case's first run; a then/ step runs a minute
// later.
var caseNow = time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)

// TestCases runs threadline-gen on a copy of every case directory and
// compares what it writes, and its standard error and exit status, with
// the case's expected/ files (go test -update rewrites them).
func TestCases(t *testing.T) {
	for _, dir := range caseDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) { runCase(t, dir) })
	}
}

// caseDirs lists the directories below casesDir that hold a
// threadline.yaml.
func caseDirs(t *testing.T) []string {
	t.Helper()
	cfgs, err := filepath.Glob(filepath.Join(casesDir, "*", "threadline.yaml"))
	if err != nil || len(cfgs) == 0 {
		t.Fatalf("no cases in %s (%v)", casesDir, err)
	}
	var dirs []string
	for _, c := range cfgs {
		dirs = append(dirs, filepath.Dir(c))
	}
	sort.Strings(dirs)
	return dirs
}

func runCase(t *testing.T, dir string) {
	work := t.TempDir()
	inputs := copyTree(t, dir, work, "expected", "then", "unpinned")
	unpinned := unpinnedDirs(t, dir)
	var result strings.Builder
	now := caseNow
	run := func() {
		var stdout, stderr bytes.Buffer
		code := runEnv(context.Background(), []string{"-config", filepath.Join(work, "threadline.yaml")}, &stdout, &stderr,
			env{getenv: func(string) string { return "" }, now: func() time.Time { return now }})
		// Messages name files by the path given: the case's own copy.
		fmt.Fprintf(&result, "%sexit status %d\n", strings.ReplaceAll(stderr.String(), work, "$WORK"), code)
	}
	run()
	if _, err := os.Stat(filepath.Join(dir, "then")); err == nil {
		for p := range copyTree(t, filepath.Join(dir, "then"), work) {
			inputs[p] = true
		}
		now = now.Add(time.Minute)
		run()
	}

	expected := filepath.Join(dir, "expected")
	g := goldie.New(t, goldie.WithFixtureDir(expected), goldie.WithNameSuffix(".golden"))
	g.Assert(t, "stderr", []byte(result.String()))
	want := map[string]bool{"stderr.golden": true, "files.golden": true}
	tree := readTree(t, work)
	var written []string
	for p := range tree {
		if !inputs[p] {
			written = append(written, p)
		}
	}
	sort.Strings(written)
	g.Assert(t, "files", []byte(strings.Join(written, "\n")+"\n"))
	for _, p := range written {
		if dir, _, _ := strings.Cut(p, "/"); slices.Contains(unpinned, dir) {
			continue
		}
		name := strings.ReplaceAll(p, "/", "__")
		g.Assert(t, name, tree[p])
		want[name+".golden"] = true
	}
	entries, err := os.ReadDir(expected)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("stale expected file %s (no longer written)", e.Name())
		}
	}
}

// unpinnedDirs reads the case's optional unpinned file: top-level
// directories whose written files only files.golden lists.
func unpinnedDirs(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "unpinned"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// TestExampleIsCurrent is the bundled example as a case: threadline-gen
// check on a copy of it finds its committed migrations and Go package
// current and prints nothing.
func TestExampleIsCurrent(t *testing.T) {
	work := t.TempDir()
	copyTree(t, example, work)
	var stdout, stderr bytes.Buffer
	code := runEnv(context.Background(), []string{"check", "-config", filepath.Join(work, "threadline.yaml")}, &stdout, &stderr,
		env{getenv: func(string) string { return "" }, now: time.Now})
	if code != 0 || stdout.Len() != 0 || stderr.Len() != 0 {
		t.Fatalf("threadline-gen check on the example: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// copyTree copies the regular files below src (except the top-level
// directories named in skip) into dst and returns their slash-separated
// paths.
func copyTree(t *testing.T, src, dst string, skip ...string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for p, content := range readTree(t, src) {
		if top, _, _ := strings.Cut(p, "/"); slices.Contains(skip, top) {
			continue
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, content, 0o644); err != nil {
			t.Fatal(err)
		}
		out[p] = true
	}
	return out
}

// readTree reads the regular files below dir, by slash-separated path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
