// Command threadline-gen generates Threadline's capture migrations (and the
// typed Go package) from threadline.yaml and a PostgreSQL schema.
//
// Usage:
//
//	threadline-gen [-config FILE] [-dry-run]   generate (silent on success)
//	threadline-gen check [-config FILE]        exit 1 with a diff when stale
//	threadline-gen init [-config FILE] [-force] write a commented starter config
//	threadline-gen -version
//
// Exit codes: 0 ok, 1 failure or stale output, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "devel"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what run needs from the process, injectable in tests.
type env struct {
	getenv func(string) string
	now    func() time.Time
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, stdout, stderr, env{getenv: os.Getenv, now: time.Now})
}

const usage = `usage:
  threadline-gen [-config FILE] [-dry-run]    generate migrations and the Go package
  threadline-gen check [-config FILE]         exit 1 (with a diff) if generated files are stale or edited
  threadline-gen init [-config FILE] [-force] write a commented starter threadline.yaml
  threadline-gen -version                     print the version
`

func runEnv(ctx context.Context, args []string, stdout, stderr io.Writer, e env) int {
	cmd := "generate"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	fset := flag.NewFlagSet("threadline-gen "+cmd, flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() { fmt.Fprint(stderr, usage) }
	cfgPath := fset.String("config", "threadline.yaml", "path to the config file")
	var dryRun, showVersion, force *bool
	switch cmd {
	case "generate":
		dryRun = fset.Bool("dry-run", false, "print the plan; write nothing")
		showVersion = fset.Bool("version", false, "print the version and exit")
	case "check":
	case "init":
		force = fset.Bool("force", false, "overwrite an existing config file")
	default:
		fmt.Fprintf(stderr, "threadline-gen: unknown command %q\n%s", cmd, usage)
		return 2
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fset.NArg() > 0 {
		fmt.Fprintf(stderr, "threadline-gen %s: unexpected argument %q\n%s", cmd, fset.Arg(0), usage)
		return 2
	}
	switch {
	case cmd == "init":
		return initConfig(*cfgPath, *force, stderr)
	case showVersion != nil && *showVersion:
		fmt.Fprintf(stdout, "threadline-gen %s\n", version)
		return 0
	}

	cfg, err := config.LoadEnv(*cfgPath, e.getenv)
	if err != nil {
		fmt.Fprintf(stderr, "threadline-gen: %v\n", err)
		return 1
	}
	sch, _, err := generator.LoadSchema(ctx, cfg, e.getenv)
	if err != nil {
		fmt.Fprintf(stderr, "threadline-gen: %v\n", err)
		return 1
	}
	existing, err := generator.ReadDir(cfg.Migrations.Dir)
	if err != nil {
		fmt.Fprintf(stderr, "threadline-gen: %v\n", err)
		return 1
	}
	pkgFiles, err := generator.ReadDir(cfg.Package.Dir)
	if err != nil {
		fmt.Fprintf(stderr, "threadline-gen: %v\n", err)
		return 1
	}
	out, err := generator.Generate(generator.Input{Config: cfg, Schema: sch, Now: e.now, Migrations: existing, Package: pkgFiles})
	if err != nil {
		var edited *generator.EditedError
		if errors.As(err, &edited) {
			fmt.Fprintf(stderr, "threadline-gen: %s\n", filepath.Join(rel(cfg.Dir, cfg.Migrations.Dir), edited.Path)+strings.TrimPrefix(err.Error(), edited.Path))
			return 1
		}
		fmt.Fprintf(stderr, "threadline-gen: %v\n", err)
		return 1
	}
	for _, w := range out.Warnings {
		fmt.Fprintf(stderr, "threadline-gen: warning: %s\n", w)
	}
	migDir := rel(cfg.Dir, cfg.Migrations.Dir)
	pkgDir := rel(cfg.Dir, cfg.Package.Dir)
	switch {
	case cmd == "check":
		if !out.Stale() {
			return 0
		}
		fmt.Fprintf(stderr, "threadline-gen check: generated files are stale; run threadline-gen (or go generate) and commit the result\n")
		for _, f := range out.Migrations {
			fmt.Fprint(stderr, generator.Diff(filepath.Join(migDir, f.Path), string(existing[f.Path]), string(f.Content)))
		}
		for _, f := range out.Package {
			fmt.Fprint(stderr, generator.Diff(filepath.Join(pkgDir, f.Path), string(pkgFiles[f.Path]), string(f.Content)))
		}
		for _, p := range out.StalePackage {
			fmt.Fprintf(stderr, "--- %s (no longer generated: would be removed)\n", filepath.Join(pkgDir, p))
		}
		return 1
	case *dryRun:
		if !out.Stale() {
			fmt.Fprintln(stdout, "threadline-gen: nothing to do; generated files are current")
			return 0
		}
		for _, p := range out.Plan {
			fmt.Fprintf(stdout, "plan: %s\n", p)
		}
		for _, f := range out.Migrations {
			fmt.Fprintf(stdout, "would write %s\n", filepath.Join(migDir, f.Path))
		}
		for _, f := range out.Package {
			fmt.Fprintf(stdout, "would write %s\n", filepath.Join(pkgDir, f.Path))
		}
		for _, p := range out.StalePackage {
			fmt.Fprintf(stdout, "would remove %s\n", filepath.Join(pkgDir, p))
		}
		return 0
	}
	if err := generator.Write(cfg.Migrations.Dir, out.Migrations); err != nil {
		fmt.Fprintf(stderr, "threadline-gen: %v\n", err)
		return 1
	}
	if err := generator.Write(cfg.Package.Dir, out.Package); err != nil {
		fmt.Fprintf(stderr, "threadline-gen: %v\n", err)
		return 1
	}
	for _, p := range out.StalePackage {
		if err := os.Remove(filepath.Join(cfg.Package.Dir, filepath.FromSlash(p))); err != nil {
			fmt.Fprintf(stderr, "threadline-gen: %v\n", err)
			return 1
		}
	}
	return 0
}

func initConfig(path string, force bool, stderr io.Writer) int {
	if _, err := os.Stat(path); err == nil && !force {
		fmt.Fprintf(stderr, "threadline-gen init: %s already exists (use -force to overwrite)\n", path)
		return 1
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "threadline-gen init: %v\n", err)
		return 1
	}
	if err := generator.Write(filepath.Dir(path), []generator.File{{Path: filepath.Base(path), Content: config.Starter()}}); err != nil {
		fmt.Fprintf(stderr, "threadline-gen init: %v\n", err)
		return 1
	}
	return 0
}

// rel shows p relative to base when it is below it.
func rel(base, p string) string {
	r, err := filepath.Rel(base, p)
	if err != nil || strings.HasPrefix(r, "..") {
		return p
	}
	return r
}
