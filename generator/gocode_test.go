package generator_test

import (
	"bytes"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/schema/sqlfile"
)

// goFixtures are the projects whose generated Go package is checked: the
// bundled example and every end-to-end case under testdata/cases, by name.
func goFixtures(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{"quickstart": "../examples/quickstart/threadline.yaml"}
	cfgs, err := filepath.Glob("../testdata/cases/*/threadline.yaml")
	if err != nil || len(cfgs) == 0 {
		t.Fatalf("no cases (%v)", err)
	}
	for _, c := range cfgs {
		out[filepath.Base(filepath.Dir(c))] = c
	}
	return out
}

func fixtureNames(t *testing.T) []string {
	var names []string
	for n := range goFixtures(t) {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// generatePackage runs the generator on a fixture (with no package files
// on disk, so every file is returned) and returns the package files, the
// package name and the warnings.
func generatePackage(t *testing.T, fixture string) (files []generator.File, pkg string, warnings []string) {
	t.Helper()
	cfg, err := config.Load(goFixtures(t)[fixture])
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlfile.LoadGlobs(cfg.Schema.Files)
	if err != nil {
		t.Fatal(err)
	}
	out, err := generator.Generate(generator.Input{
		Config: cfg, Schema: s, Migrations: map[string][]byte{}, Package: map[string][]byte{},
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Package, cfg.Package.Name, out.Warnings
}

// TestGoPackageFilesAreWellFormed checks the header, gofmt and the doc
// comment of every exported name in every generated file.
func TestGoPackageFilesAreWellFormed(t *testing.T) {
	for _, name := range fixtureNames(t) {
		files, pkg, _ := generatePackage(t, name)
		if len(files) == 0 {
			t.Fatalf("%s: no files", name)
		}
		seen := map[string]bool{}
		for _, f := range files {
			where := name + "/" + f.Path
			if !bytes.HasPrefix(f.Content, []byte(generator.GoHeader+"\n\n")) {
				t.Errorf("%s does not start with the header line", where)
			}
			if formatted, err := format.Source(f.Content); err != nil || !bytes.Equal(formatted, f.Content) {
				t.Errorf("%s is not gofmt-clean (%v)", where, err)
			}
			if !strings.HasSuffix(f.Path, ".go") || strings.HasSuffix(f.Path, "_test.go") || strings.HasPrefix(f.Path, "_") || strings.Contains(f.Path, "/") {
				t.Errorf("%s: bad file name", where)
			}
			if seen[strings.ToLower(f.Path)] {
				t.Errorf("%s: file names differ only in case", where)
			}
			seen[strings.ToLower(f.Path)] = true
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, f.Path, f.Content, parser.ParseComments)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if file.Name.Name != pkg {
				t.Errorf("%s: package %s, want %s", where, file.Name.Name, pkg)
			}
			for _, imp := range file.Imports {
				if imp.Path.Value == `"github.com/threadline-go/threadline/runtime"` && (imp.Name == nil || imp.Name.Name != "threadline") {
					t.Errorf("%s: the runtime is not imported as threadline", where)
				}
			}
			for _, missing := range undocumented(file) {
				t.Errorf("%s: exported %s has no doc comment", where, missing)
			}
		}
	}
}

// undocumented lists exported declarations (types, functions, methods,
// constants, struct fields) without a doc comment.
func undocumented(file *ast.File) []string {
	var out []string
	for _, d := range file.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Name.IsExported() && d.Doc == nil {
				out = append(out, "func "+d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && d.Doc == nil && s.Doc == nil {
						out = append(out, "type "+s.Name.Name)
					}
					if st, ok := s.Type.(*ast.StructType); ok {
						for _, f := range st.Fields.List {
							for _, n := range f.Names {
								if n.IsExported() && f.Doc == nil {
									out = append(out, "field "+s.Name.Name+"."+n.Name)
								}
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && (d.Doc == nil || d.Lparen.IsValid()) {
							out = append(out, "const "+n.Name)
						}
					}
				}
			}
		}
	}
	return out
}

func TestGoPackageWarnsAboutUnsupportedTypes(t *testing.T) {
	_, _, warnings := generatePackage(t, "gocode-types")
	want := []string{
		"table public.all_types column u_price: PostgreSQL type public.price has no Go mapping; its field AllType.UPrice is json.RawMessage",
		"table public.all_types column u_snapshot: PostgreSQL type txid_snapshot has no Go mapping; its field AllType.USnapshot is json.RawMessage",
		"table public.all_types column u_prices: PostgreSQL type public.price[] has no Go mapping; its field AllType.UPrices is json.RawMessage",
	}
	if strings.Join(warnings, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
	for _, name := range []string{"quickstart", "gocode-hostile"} {
		if _, _, w := generatePackage(t, name); len(w) != 0 {
			t.Errorf("%s: unexpected warnings %v", name, w)
		}
	}
}

func TestGoPackageRejectsBadPackageName(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "schema.sql"), []byte("CREATE TABLE t (id int PRIMARY KEY);"), 0o644)
	for _, name := range []string{"func", "nil", "_"} {
		text := "version: 1\nschema:\n  files: [schema.sql]\nmigrations: {dir: m, format: plain}\npackage: {dir: p, name: " + name + "}\ntables:\n  t: {}\n"
		cfg, err := config.Parse(filepath.Join(dir, "threadline.yaml"), []byte(text), func(string) string { return "" })
		if err != nil {
			continue // the config already refuses it
		}
		s, err := sqlfile.LoadGlobs(cfg.Schema.Files)
		if err != nil {
			t.Fatal(err)
		}
		_, err = generator.Generate(generator.Input{Config: cfg, Schema: s, Now: time.Now, Migrations: map[string][]byte{}})
		if err == nil || !strings.Contains(err.Error(), "not a valid Go package name") {
			t.Errorf("package name %q: %v", name, err)
		}
	}
}

// goTool runs the go command in dir with CGO_ENABLED=0, the module's
// dependencies resolved through the environment's module proxy (a fresh
// module cache lacks go.mod files the temporary module needs), and the
// same build cache.
func goTool(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	goBin, err := osexec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	cmd := osexec.Command(goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tempModule writes a module that requires this repository (replaced by
// the working tree) and holds the generated package in pkgDir.
func tempModule(t *testing.T, pkgDir string, files []generator.File) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/generated\n\ngo 1.26\n\nrequire github.com/threadline-go/threadline v0.0.0\n\n" +
		"replace github.com/threadline-go/threadline => " + root + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := generator.Write(filepath.Join(dir, pkgDir), files); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestGeneratedPackagesCompileAndVet builds and vets each fixture's
// generated package against the runtime in this working tree, without
// cgo. It runs the go command, so it is slow and not parallel.
func TestGeneratedPackagesCompileAndVet(t *testing.T) {
	for _, name := range fixtureNames(t) {
		files, pkg, _ := generatePackage(t, name)
		dir := tempModule(t, pkg, files)
		if out, err := goTool(t, dir, "build", "./..."); err != nil {
			t.Fatalf("%s: go build: %v\n%s", name, err, out)
		}
		if out, err := goTool(t, dir, "vet", "./..."); err != nil {
			t.Fatalf("%s: go vet: %v\n%s", name, err, out)
		}
	}
}

// TestWrongKeysDoNotCompile checks that the typed key API turns key
// mistakes into compile errors.
func TestWrongKeysDoNotCompile(t *testing.T) {
	files, pkg, _ := generatePackage(t, "quickstart")
	dir := tempModule(t, pkg, files)
	prelude := "package use\n\nimport (\n\t\"context\"\n\n\t\"example.com/generated/audit\"\n\tthreadline \"github.com/threadline-go/threadline/runtime\"\n)\n\n" +
		"var _ = threadline.Filter{}\n\nfunc use(ctx context.Context, db threadline.DBTX) {\n"
	cases := []struct {
		name, body, wantErr string
	}{
		{"ok", `audit.UsersHistory(ctx, db, audit.NewUserKey(42), threadline.HistoryOptions{})
	audit.PostCollaboratorsHistory(ctx, db, audit.NewPostCollaboratorKey(threadline.MustParseUUID("0b7b5c3e-2f4d-4c1a-9a57-1f0e4c3b2a19"), 42), threadline.HistoryOptions{})`, ""},
		{"wrong key type", `audit.UsersHistory(ctx, db, audit.PostKey{}, threadline.HistoryOptions{})`, "cannot use audit.PostKey{}"},
		{"untyped key", `audit.UsersHistory(ctx, db, map[string]any{"id": 1}, threadline.HistoryOptions{})`, "cannot use map[string]any"},
		{"wrong arity", `audit.NewPostCollaboratorKey(threadline.UUID{})`, "not enough arguments"},
		{"wrong value type", `audit.NewUserKey("42")`, "cannot use \"42\""},
		{"positional arity", `_ = audit.PostCollaboratorKey{threadline.UUID{}}`, "too few values"},
	}
	for _, c := range cases {
		src := prelude + "\t" + c.body + "\n}\n"
		if err := os.MkdirAll(filepath.Join(dir, "use"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "use", "use.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := goTool(t, dir, "build", "./use")
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: does not compile: %s", c.name, out)
		case c.wantErr != "" && (err == nil || !strings.Contains(out, c.wantErr)):
			t.Errorf("%s: compiled or failed otherwise (want %q): %v\n%s", c.name, c.wantErr, err, out)
		}
	}
}
