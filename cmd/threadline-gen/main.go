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
// Flags may come before or after the command. Exit codes: 0 ok, 1 failure
// or stale output, 2 usage error.
//
// After writing the Go package, threadline-gen checks that the package's
// module can build it; when go.mod or go.sum lacks the runtime's module
// (as right after "go get -tool"), it says to run "go mod tidy".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/internal/config"
	"github.com/threadline-go/threadline/schema/sqlfile"
)

// parser is PostgreSQL's SQL parser, which threadline-gen (unlike the
// threadline command) is built with: it loads schema.files and checks every
// generated statement.
var parser = generator.Parser{LoadGlobs: sqlfile.LoadGlobs, Check: sqlfile.Check}

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
	// moduleHint, when set, is called after the package is written with
	// its directory and the name messages show for it; a non-empty result
	// is printed (see goModuleHint).
	moduleHint func(ctx context.Context, dir, shown string) string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, stdout, stderr, env{getenv: os.Getenv, now: time.Now, moduleHint: goModuleHint})
}

const usage = `usage:
  threadline-gen [-config FILE] [-dry-run]    generate migrations and the Go package
  threadline-gen check [-config FILE]         exit 1 (with a diff) if generated files are stale or edited
  threadline-gen init [-config FILE] [-force] write a commented starter threadline.yaml
  threadline-gen -version                     print the version

Flags may come before or after the command. Exit codes: 0 ok, 1 failure
or stale output, 2 usage error.
`

// usageHint follows every usage error.
const usageHint = `run "threadline-gen -help" for usage
`

// commands are the subcommands; generate is the default.
var commands = map[string]bool{"generate": true, "check": true, "init": true}

// splitCommand finds the command among args, wherever the flags put it
// ("threadline-gen -config x.yaml check" as "threadline-gen check -config
// x.yaml"), and returns it with the other arguments. -config is the only
// flag taking a value; "--" ends the flags.
func splitCommand(args []string) (cmd string, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return "generate", args
		case a == "-config" || a == "--config":
			i++ // its value
		case !strings.HasPrefix(a, "-") || a == "-":
			if commands[a] {
				return a, append(append([]string{}, args[:i]...), args[i+1:]...)
			}
			return "generate", args
		}
	}
	return "generate", args
}

func runEnv(ctx context.Context, args []string, stdout, stderr io.Writer, e env) int {
	cmd, args := splitCommand(args)
	fset := flag.NewFlagSet("threadline-gen "+cmd, flag.ContinueOnError)
	// -help prints the usage to standard output; any other problem is one
	// line and a hint on standard error.
	fset.SetOutput(io.Discard)
	fset.Usage = func() {}
	usageError := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "threadline-gen: %s\n%s", fmt.Sprintf(format, args...), usageHint)
		return 2
	}
	cfgPath := fset.String("config", "threadline.yaml", "path to the config file")
	var dryRun, showVersion, force *bool
	switch cmd {
	case "generate":
		dryRun = fset.Bool("dry-run", false, "print the plan; write nothing")
		showVersion = fset.Bool("version", false, "print the version and exit")
	case "check":
	case "init":
		force = fset.Bool("force", false, "overwrite an existing config file")
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "%s\nflags of threadline-gen %s:\n", usage, cmd)
			fset.SetOutput(stdout)
			fset.PrintDefaults()
			return 0
		}
		return usageError("%v", err)
	}
	if fset.NArg() > 0 {
		if cmd == "generate" && !strings.HasPrefix(fset.Arg(0), "-") {
			return usageError("unknown command %q", fset.Arg(0))
		}
		return usageError("%s: unexpected argument %q", cmd, fset.Arg(0))
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
	res, err := generator.Run(ctx, cfg, generator.Env{Getenv: e.getenv, Now: e.now, Parser: parser})
	if err != nil {
		var edited *generator.EditedError
		if errors.As(err, &edited) {
			edited.Dir = rel(cfg.Dir, cfg.Migrations.Dir)
		}
		fmt.Fprintf(stderr, "threadline-gen: %v\n", err)
		return 1
	}
	out, existing, pkgFiles := res.Output, res.Input.Migrations, res.Input.Package
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
	if e.moduleHint != nil {
		if hint := e.moduleHint(ctx, cfg.Package.Dir, pkgDir); hint != "" {
			fmt.Fprintf(stderr, "threadline-gen: note: %s\n", hint)
		}
	}
	return 0
}

// goModuleHint reports, as advice to print, when the generated package
// in dir cannot build because go.mod or go.sum of its module does not
// yet hold the modules it imports: right after "go get -tool" the
// runtime's module (and pgx's) are only requirements of the tool. It asks
// "go list" without letting it change go.mod (-mod=readonly) and returns
// "" when the package's imports resolve, when dir is in no module, or
// when there is no go command.
func goModuleHint(ctx context.Context, dir, shown string) string {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return ""
	}
	cmd := exec.CommandContext(ctx, goBin, "list", "-mod=readonly", "-e", "-deps", "-f", "{{with .Error}}{{.Err}}{{\"\\n\"}}{{end}}", ".")
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput()
	for _, sign := range []string{"missing go.sum entry", "updates to go.mod needed", "no required module provides package"} {
		if strings.Contains(string(out), sign) {
			return fmt.Sprintf("the generated package %s does not build yet: go.mod and go.sum lack modules it imports (%s). Run\n\n\tgo mod tidy\n\nonce; then go build, go vet and go generate work", shown, firstLine(string(out)))
		}
	}
	return ""
}

// firstLine returns the first line of s without go's "; to add:" advice.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	line, _, _ = strings.Cut(line, "; to add:")
	return line
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
