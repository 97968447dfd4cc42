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
	"github.com/threadline-go/threadline/generator/config"
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
	inv, code, ok := parseArgs(args, stdout, stderr)
	switch {
	case !ok:
		return code
	case inv.cmd == "init":
		return initConfig(inv.cfgPath, inv.force, stderr)
	case inv.showVersion:
		fmt.Fprintf(stdout, "threadline-gen %s\n", version)
		return 0
	}
	code, err := generate(ctx, inv, stdout, stderr, e)
	if err != nil {
		fmt.Fprintf(stderr, "threadline-gen: %v\n", err)
		return 1
	}
	return code
}

// invocation is a parsed command line.
type invocation struct {
	cmd, cfgPath               string
	dryRun, showVersion, force bool
}

// parseArgs reads the command line. When ok is false the command is done
// (help printed, or a usage error reported) and code is its exit status.
func parseArgs(args []string, stdout, stderr io.Writer) (inv invocation, code int, ok bool) {
	inv.cmd, args = splitCommand(args)
	fset := flag.NewFlagSet("threadline-gen "+inv.cmd, flag.ContinueOnError)
	// -help prints the usage to standard output; any other problem is one
	// line and a hint on standard error.
	fset.SetOutput(io.Discard)
	fset.Usage = func() {}
	usageError := func(format string, args ...any) (invocation, int, bool) {
		fmt.Fprintf(stderr, "threadline-gen: %s\n%s", fmt.Sprintf(format, args...), usageHint)
		return inv, 2, false
	}
	fset.StringVar(&inv.cfgPath, "config", "threadline.yaml", "path to the config file")
	switch inv.cmd {
	case "generate":
		fset.BoolVar(&inv.dryRun, "dry-run", false, "print the plan; write nothing")
		fset.BoolVar(&inv.showVersion, "version", false, "print the version and exit")
	case "init":
		fset.BoolVar(&inv.force, "force", false, "overwrite an existing config file")
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "%s\nflags of threadline-gen %s:\n", usage, inv.cmd)
			fset.SetOutput(stdout)
			fset.PrintDefaults()
			return inv, 0, false
		}
		return usageError("%v", err)
	}
	if fset.NArg() > 0 {
		if inv.cmd == "generate" && !strings.HasPrefix(fset.Arg(0), "-") {
			return usageError("unknown command %q", fset.Arg(0))
		}
		return usageError("%s: unexpected argument %q", inv.cmd, fset.Arg(0))
	}
	return inv, 0, true
}

// generate runs the generator for generate and check. An error is
// printed once, by runEnv; code is the exit status otherwise.
func generate(ctx context.Context, inv invocation, stdout, stderr io.Writer, e env) (code int, err error) {
	cfg, err := config.LoadEnv(inv.cfgPath, e.getenv)
	if err != nil {
		return 1, err
	}
	res, err := generator.Run(ctx, cfg, generator.Env{Getenv: e.getenv, Now: e.now, Parser: parser})
	if err != nil {
		var edited *generator.EditedError
		if errors.As(err, &edited) {
			edited.Dir = rel(cfg.Dir, cfg.Migrations.Dir)
		}
		return 1, err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "threadline-gen: warning: %s\n", w)
	}
	dirs := shownDirs{migrations: rel(cfg.Dir, cfg.Migrations.Dir), pkg: rel(cfg.Dir, cfg.Package.Dir)}
	switch {
	case inv.cmd == "check":
		return reportStale(res, dirs, stderr), nil
	case inv.dryRun:
		printPlan(res.Output, dirs, stdout)
		return 0, nil
	}
	if err := writeOutput(cfg.Migrations.Dir, cfg.Package.Dir, res.Output); err != nil {
		return 1, err
	}
	if e.moduleHint != nil {
		if hint := e.moduleHint(ctx, cfg.Package.Dir, dirs.pkg); hint != "" {
			fmt.Fprintf(stderr, "threadline-gen: note: %s\n", hint)
		}
	}
	return 0, nil
}

// shownDirs are the output directories as messages show them.
type shownDirs struct{ migrations, pkg string }

// reportStale is threadline-gen check: it returns 0 when the generated
// files are current, else prints a diff of each stale file and returns 1.
func reportStale(res *generator.Result, dirs shownDirs, stderr io.Writer) int {
	out := res.Output
	if !out.Stale() {
		return 0
	}
	fmt.Fprintf(stderr, "threadline-gen check: generated files are stale; run threadline-gen (or go generate) and commit the result\n")
	for _, f := range out.Migrations {
		fmt.Fprint(stderr, generator.Diff(filepath.Join(dirs.migrations, f.Path), string(res.Input.Migrations[f.Path]), string(f.Content)))
	}
	for _, f := range out.Package {
		fmt.Fprint(stderr, generator.Diff(filepath.Join(dirs.pkg, f.Path), string(res.Input.Package[f.Path]), string(f.Content)))
	}
	for _, p := range out.StalePackage {
		fmt.Fprintf(stderr, "--- %s (no longer generated: would be removed)\n", filepath.Join(dirs.pkg, p))
	}
	return 1
}

// printPlan is threadline-gen -dry-run.
func printPlan(out *generator.Output, dirs shownDirs, stdout io.Writer) {
	if !out.Stale() {
		fmt.Fprintln(stdout, "threadline-gen: nothing to do; generated files are current")
		return
	}
	for _, p := range out.Plan {
		fmt.Fprintf(stdout, "plan: %s\n", p)
	}
	for _, f := range out.Migrations {
		fmt.Fprintf(stdout, "would write %s\n", filepath.Join(dirs.migrations, f.Path))
	}
	for _, f := range out.Package {
		fmt.Fprintf(stdout, "would write %s\n", filepath.Join(dirs.pkg, f.Path))
	}
	for _, p := range out.StalePackage {
		fmt.Fprintf(stdout, "would remove %s\n", filepath.Join(dirs.pkg, p))
	}
}

// writeOutput writes the new and changed files and removes the package
// files no longer generated.
func writeOutput(migDir, pkgDir string, out *generator.Output) error {
	if err := generator.Write(migDir, out.Migrations); err != nil {
		return err
	}
	if err := generator.Write(pkgDir, out.Package); err != nil {
		return err
	}
	for _, p := range out.StalePackage {
		if err := os.Remove(filepath.Join(pkgDir, filepath.FromSlash(p))); err != nil {
			return err
		}
	}
	return nil
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
