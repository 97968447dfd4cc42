// Package generator turns a threadline.yaml and a schema into the files
// Threadline owns in a user's repository: capture migrations (in the
// user's migration tool's format) and the typed Go package.
//
// Generate is pure: it takes the config (package generator/config), the
// schema (package schema), a clock and the current contents of the output
// directories, and returns the files that should exist. Run is the
// pipeline around it (load the schema the config names, read the output
// directories, generate); Write puts files on disk, touching only those
// whose content changed. The CLI (cmd/threadline-gen) is a thin layer over
// them, and so is any program of yours (see the example).
//
// The package builds without cgo. Loading a schema from SQL files, and
// checking generated SQL, need PostgreSQL's parser, which package
// schema/sqlfile provides (with cgo): pass it in as a Parser.
package generator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/schema"
	"github.com/threadline-go/threadline/sqltemplates"
)

// File is one generated file.
type File struct {
	// Path is relative to the directory the file belongs to (see Output).
	Path    string
	Content []byte
}

// Input is everything Generate needs.
type Input struct {
	Config *config.Config
	Schema *schema.Schema
	// Now is the clock used to version new migrations.
	Now func() time.Time
	// Migrations holds the current files of Config.Migrations.Dir, keyed
	// by slash-separated path relative to that directory.
	Migrations map[string][]byte
	// Package holds the current files of Config.Package.Dir, keyed the
	// same way.
	Package map[string][]byte
	// Check, when set, parses the statements of a new migration before it
	// is written (sqlfile.Check; see Parser).
	Check func(stmts []string) error
}

// Output is the result of Generate.
type Output struct {
	// Migrations are the files to create or update in the migrations
	// directory (new migrations and, for atlas, atlas.sum).
	Migrations []File
	// Package are the files of the generated Go package that differ from
	// what exists in the package directory.
	Package []File
	// StalePackage lists generated package files that exist in the
	// package directory but are no longer generated (to be removed).
	StalePackage []string
	// Plan describes, one line each, what the new migration does; empty
	// when nothing changed.
	Plan []string
	// Warnings are non-fatal findings worth telling the user.
	Warnings []string
}

// Generate computes the generated files for in.
func Generate(in Input) (*Output, error) {
	cfg := in.Config
	spec, err := formatFor(cfg.Migrations.Format)
	if err != nil {
		return nil, config.Errorf(cfg.Migrations.FormatPos, "%v", err)
	}
	desired, err := Resolve(cfg, in.Schema)
	if err != nil {
		return nil, err
	}
	hist, err := readHistory(spec, in.Migrations)
	if err != nil {
		return nil, err
	}
	st := storageOf(cfg.Storage, cfg.Retention)
	if cfg.WALPrepared() {
		st.WAL = &sqltemplates.WALCore{Publication: cfg.WAL.Publication}
	}
	if hist.Core != "" && hist.Storage != "" && hist.Storage != st.Unit {
		return nil, config.Errorf(cfg.Storage.Pos, "storage.partitions: the audit schema %s is installed %s; only a switch from none to partitions is supported: keep %s, or install into a new audit_schema",
			cfg.AuditSchema, storageText(hist.Storage), partitionsKey(hist.Storage))
	}
	m, plan, err := planMigration(cfg.AuditSchema, grantsOf(cfg.Privileges), st, hist, desired)
	if err != nil {
		return nil, err
	}
	out := &Output{Plan: plan}
	if m != nil {
		var paths []string
		for p := range in.Migrations {
			paths = append(paths, p)
		}
		if m.Version, err = nextVersion(spec, cfg.Migrations, paths, in.Now()); err != nil {
			return nil, err
		}
		if m.Irreversible != "" {
			out.Plan = append(out.Plan, refuseDown(m, cfg.Migrations.Format))
		}
		if in.Check != nil {
			if err := in.Check(append(append([]string{}, m.Up...), m.Down...)); err != nil {
				return nil, err
			}
		}
		out.Migrations = spec.files(*m)
	}
	if cfg.Migrations.Format == "atlas" {
		all := make(map[string][]byte, len(in.Migrations)+len(out.Migrations))
		for p, c := range in.Migrations {
			all[p] = c
		}
		for _, f := range out.Migrations {
			all[f.Path] = f.Content
		}
		out.Migrations = append(out.Migrations, File{Path: "atlas.sum", Content: atlasSum(all)})
	}
	out.Migrations = changedOnly(out.Migrations, in.Migrations)

	pkg, warnings, err := goPackage(cfg, in.Schema, desired)
	if err != nil {
		return nil, err
	}
	out.Warnings = append(out.Warnings, warnings...)
	out.Package = changedOnly(pkg, in.Package)
	out.StalePackage = stalePackageFiles(pkg, in.Package)
	return out, nil
}

// Stale reports whether writing the output would change anything on disk.
func (o *Output) Stale() bool {
	return len(o.Migrations) > 0 || len(o.Package) > 0 || len(o.StalePackage) > 0
}

// stalePackageFiles lists files in the package directory that an earlier
// run generated (they start with the Go "Code generated" header written by
// threadline-gen) but that this run does not.
func stalePackageFiles(pkg []File, existing map[string][]byte) []string {
	want := map[string]bool{}
	for _, f := range pkg {
		want[f.Path] = true
	}
	var out []string
	for p, c := range existing {
		if !want[p] && strings.HasPrefix(string(c), GoHeader) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// changedOnly drops files whose content already matches what exists.
func changedOnly(files []File, existing map[string][]byte) []File {
	var out []File
	for _, f := range files {
		if old, ok := existing[f.Path]; ok && string(old) == string(f.Content) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// tableState is what the migrations have installed for one table: the
// threadline:table header record.
type tableState struct {
	Schema      string                `json:"schema"`
	Name        string                `json:"name"`
	Fingerprint string                `json:"fingerprint,omitempty"`
	Capture     *sqltemplates.Capture `json:"capture,omitempty"`
}

// captureOf returns the capture a header record describes, with the fields
// the header does not store (the audit schema and the table) filled in.
func (t *tableState) captureOf(audit string, q schema.QualifiedName) sqltemplates.Capture {
	c := *t.Capture
	c.AuditSchema, c.Table = audit, q
	return c
}

// state is what all generated migrations together have installed.
type state struct {
	Core string // fingerprint of the helper functions; "" before install
	// Storage is the partition unit of the installed audit tables ("" for
	// plain tables).
	Storage string
	// CoreInputs is what the installed helper functions and grants were
	// rendered from (nil in migrations of releases before it was kept).
	CoreInputs *coreInputs
	Tables     map[schema.QualifiedName]*tableState
}

// coreInputs is what sqltemplates.Functions renders the helper functions
// and grants from: kept in the threadline:core-inputs record so that the
// down of a later update can render them again.
type coreInputs struct {
	Grants  sqltemplates.Grants  `json:"grants"`
	Storage sqltemplates.Storage `json:"storage"`
}

const (
	noteCore    = "threadline:core "
	noteTable   = "threadline:table "
	noteStorage = "threadline:storage "
	noteInputs  = "threadline:core-inputs "
)

// coreFingerprint identifies the audit schema's helper functions and
// grants.
func coreFingerprint(audit string, g sqltemplates.Grants, st sqltemplates.Storage) string {
	return checksum(strings.Join(sqltemplates.Install(audit, g, st), ";\n"))
}

// storageOf maps the config's storage section and retention window to
// the templates' storage. The window is part of the core fingerprint: a
// changed window writes an update migration, which bakes the new minimum
// into the purge functions.
func storageOf(s config.Storage, r config.Retention) sqltemplates.Storage {
	unit := map[string]string{config.PartitionsDaily: "day", config.PartitionsWeekly: "week", config.PartitionsMonthly: "month"}[s.Partitions]
	return sqltemplates.Storage{Unit: unit, Premake: s.Premake, Retention: r.Window()}
}

// storageText describes a partition unit for messages.
func storageText(unit string) string {
	if unit == "" {
		return "without partitions"
	}
	return "with " + unit + " partitions"
}

// partitionsKey is the storage.partitions value of a unit.
func partitionsKey(unit string) string {
	switch unit {
	case "day":
		return "partitions: daily"
	case "week":
		return "partitions: weekly"
	case "month":
		return "partitions: monthly"
	}
	return "partitions: none"
}

// grantsOf maps the config's privileges to the template's grants.
func grantsOf(p config.Privileges) sqltemplates.Grants {
	return sqltemplates.Grants{Writers: values(p.WriterRoles), Readers: values(p.ReaderRoles), Retention: values(p.RetentionRoles)}
}

// planner builds the migration that moves the installed state to the
// desired captures.
type planner struct {
	audit   string
	old     state
	install bool // nothing is installed yet
	m       *migration
	plan    []string
	// coreRevert is the down's part that puts back the helper functions
	// and grants an update replaced (coreDown).
	coreRevert []string
	// explained is set once the migration's up carries
	// sqltemplates.CaptureRationale (before its first capture function).
	explained bool
	// downDrop and downCreate are the down migration's two halves: drop
	// what the up created, then re-create what it dropped.
	downDrop, downCreate []string
}

// planMigration compares the installed state with the desired captures
// and builds the migration that moves from one to the other (nil when
// equal), with its plan.
func planMigration(audit string, grants sqltemplates.Grants, st sqltemplates.Storage, old state, desired []sqltemplates.Capture) (*migration, []string, error) {
	p := &planner{audit: audit, old: old, install: old.Core == "", m: &migration{}}
	p.core(grants, st)
	seen := map[schema.QualifiedName]bool{}
	for _, c := range desired {
		seen[c.Table] = true
		if err := p.capture(c); err != nil {
			return nil, nil, err
		}
	}
	if err := p.removed(seen); err != nil {
		return nil, nil, err
	}
	m := p.m
	if len(m.Up) == 0 {
		return nil, nil, nil
	}
	// Every migration that may create functions ends by revoking them from
	// PUBLIC (see sqltemplates.RevokeFunctions).
	m.Up = append(m.Up, sqltemplates.RevokeFunctions(audit))
	m.Down = append(append(p.downDrop, p.downCreate...), p.coreRevert...)
	switch {
	case p.install:
		m.Down = append(m.Down, sqltemplates.Uninstall(audit)...)
	case len(p.downCreate)+len(p.coreRevert) > 0:
		m.Down = append(m.Down, sqltemplates.RevokeFunctions(audit))
	}
	return m, p.plan, nil
}

// core installs the audit schema, or updates its helper functions and
// grants when they changed.
func (p *planner) core(grants sqltemplates.Grants, st sqltemplates.Storage) {
	core := coreFingerprint(p.audit, grants, st)
	if p.install || p.old.Core != core {
		p.m.Notes = append(p.m.Notes, noteInputs+noteJSON(coreInputs{Grants: grants, Storage: st}))
	}
	switch {
	case p.install:
		p.m.Name = "threadline_install"
		p.m.Up = append(p.m.Up, sqltemplates.Install(p.audit, grants, st)...)
		p.m.Notes = append(p.m.Notes, noteCore+core)
		if st.Unit != "" {
			p.m.Notes = append(p.m.Notes, noteStorage+st.Unit)
		}
		p.plan = append(p.plan, fmt.Sprintf("install audit schema %s", p.audit))
	case p.old.Storage == "" && st.Unit != "":
		p.m.Name = "threadline_update"
		p.m.Up = append(p.m.Up, sqltemplates.SwitchToPartitions(p.audit, grants, st)...)
		p.m.Notes = append(p.m.Notes, noteCore+core, noteStorage+st.Unit)
		p.m.Irreversible = fmt.Sprintf("the switch of audit schema %s to partitioned storage cannot be undone by a down migration: "+
			"its audit tables are partitioned tables now, and the changes captured since are in their new partitions", p.audit)
		p.plan = append(p.plan, fmt.Sprintf("switch the audit tables of %s to %s partitions (the old tables become the first partitions)", p.audit, st.Unit))
	default:
		p.m.Name = "threadline_update"
		if p.old.Core != core {
			p.m.Up = append(p.m.Up, sqltemplates.Upgrade(p.audit, grants, st)...)
			p.m.Notes = append(p.m.Notes, noteCore+core)
			p.plan = append(p.plan, fmt.Sprintf("update helper functions and grants in %s", p.audit))
			p.coreDown(grants)
		}
	}
}

// coreDown makes the down of a helper function and grant update put back
// what it replaced: every role the update names loses its privileges on
// the audit schema, then the previous functions and grants are rendered
// again from their recorded inputs. That is possible only when this
// release renders them as the installed ones were (same fingerprint); an
// update of another release's functions cannot be undone, and its down
// says so (refuseDown).
func (p *planner) coreDown(grants sqltemplates.Grants) {
	prev := p.old.CoreInputs
	if prev == nil || coreFingerprint(p.audit, prev.Grants, prev.Storage) != p.old.Core {
		p.m.Irreversible = fmt.Sprintf("the update of the helper functions and grants of audit schema %s cannot be undone by "+
			"a down migration: it replaces functions an earlier release of threadline-gen installed, which it cannot render again", p.audit)
		return
	}
	p.coreRevert = append(sqltemplates.RevokeRoles(p.audit, grants), sqltemplates.Functions(p.audit, prev.Grants, prev.Storage)...)
}

// capture installs the capture of one table, or replaces the installed
// one when its fingerprint changed.
func (p *planner) capture(c sqltemplates.Capture) error {
	unit, err := sqltemplates.CaptureUnit(c)
	if err != nil {
		return err
	}
	prev := p.old.Tables[c.Table]
	if prev != nil && prev.Capture != nil && prev.Fingerprint == unit.Fingerprint {
		return nil
	}
	if !p.explained && c.WAL == nil {
		unit.Create = append([]sqltemplates.Statement{sqltemplates.CaptureRationale() + unit.Create[0]}, unit.Create[1:]...)
		p.explained = true
	}
	rec := tableState{Schema: c.Table.Schema, Name: c.Table.Name, Fingerprint: unit.Fingerprint, Capture: &c}
	p.m.Notes = append(p.m.Notes, noteTable+noteJSON(rec))
	if prev != nil && prev.Capture != nil {
		prevUnit, err := sqltemplates.CaptureUnit(prev.captureOf(p.audit, c.Table))
		if err != nil {
			return err
		}
		// The previous capture's Drop clears every Threadline trigger
		// name from the table, so the new one needs no Clear of its
		// own; neither does the down's re-creation after unit.Drop.
		p.m.Up = append(p.m.Up, prevUnit.Drop...)
		p.m.Up = append(p.m.Up, unit.Create...)
		p.downDrop = append(p.downDrop, unit.Drop...)
		p.downCreate = append(p.downCreate, prevUnit.Create...)
		p.plan = append(p.plan, fmt.Sprintf("replace capture on %s", c.Table))
		return nil
	}
	// A first install finds no Threadline trigger anywhere (and so emits
	// no DROP … IF EXISTS and no NOTICE); a table added later may hold
	// some under its name, left by a table renamed to it.
	if !p.install {
		p.m.Up = append(p.m.Up, unit.Clear...)
	}
	p.m.Up = append(p.m.Up, unit.Create...)
	p.downDrop = append(p.downDrop, unit.Drop...)
	p.plan = append(p.plan, fmt.Sprintf("capture %s", c.Table))
	return nil
}

// removed drops the captures of tables no longer desired (not in seen).
func (p *planner) removed(seen map[schema.QualifiedName]bool) error {
	var removed []schema.QualifiedName
	for q, t := range p.old.Tables {
		if !seen[q] && t.Capture != nil {
			removed = append(removed, q)
		}
	}
	sort.Slice(removed, func(i, j int) bool { return removed[i].Less(removed[j]) })
	for _, q := range removed {
		prevUnit, err := sqltemplates.CaptureUnit(p.old.Tables[q].captureOf(p.audit, q))
		if err != nil {
			return err
		}
		p.m.Up = append(p.m.Up, prevUnit.Drop...)
		p.downCreate = append(p.downCreate, prevUnit.Create...)
		p.m.Notes = append(p.m.Notes, noteTable+noteJSON(tableState{Schema: q.Schema, Name: q.Name}))
		p.plan = append(p.plan, fmt.Sprintf("stop capturing %s (drop its triggers and function)", q))
	}
	return nil
}

// noteJSON encodes a state record on one line. A "{{" never appears (tern
// treats migrations as templates): JSON cannot put two braces together
// outside a string, so the second brace of any pair is escaped.
func noteJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings: cannot fail
	}
	return strings.ReplaceAll(string(b), "{{", `{\u007b`)
}

// readHistory folds the state records of every generated migration, in
// version order. A generated file whose checksum does not match was edited
// by hand: that is an error, and nothing is generated over it.
func readHistory(spec formatSpec, files map[string][]byte) (state, error) {
	h := state{Tables: map[schema.QualifiedName]*tableState{}}
	var paths []string
	for p, c := range files {
		if !strings.HasPrefix(string(c), Header+"\n") || !strings.HasSuffix(p, ".sql") {
			continue
		}
		sealed, ok := verifySeal(string(c))
		if !sealed || !ok {
			return h, &EditedError{Path: p}
		}
		paths = append(paths, p)
	}
	sortByVersion(paths)
	for _, p := range paths {
		if spec.isDown != nil && spec.isDown(p) {
			continue
		}
		for _, note := range readNotes(string(files[p])) {
			switch {
			case strings.HasPrefix(note, noteCore):
				h.Core = strings.TrimPrefix(note, noteCore)
			case strings.HasPrefix(note, noteStorage):
				h.Storage = strings.TrimPrefix(note, noteStorage)
			case strings.HasPrefix(note, noteInputs):
				h.CoreInputs = &coreInputs{}
				if err := json.Unmarshal([]byte(strings.TrimPrefix(note, noteInputs)), h.CoreInputs); err != nil {
					return h, fmt.Errorf("%s: bad threadline:core-inputs record: %w", p, err)
				}
			case strings.HasPrefix(note, noteTable):
				var t tableState
				if err := json.Unmarshal([]byte(strings.TrimPrefix(note, noteTable)), &t); err != nil {
					return h, fmt.Errorf("%s: bad threadline:table record: %w", p, err)
				}
				h.Tables[schema.QualifiedName{Schema: t.Schema, Name: t.Name}] = &t
			}
		}
	}
	return h, nil
}

// EditedError reports a generated file that was changed by hand.
type EditedError struct {
	// Path is relative to the migrations directory.
	Path string
	// Dir, when set, is how messages show the migrations directory.
	Dir string
}

func (e *EditedError) Error() string {
	return fmt.Sprintf("%s: generated file was edited by hand (its threadline:checksum no longer matches); "+
		"restore it from version control, or put your change in a new migration of your own", filepath.Join(e.Dir, e.Path))
}

// ReadDir reads every regular file below dir into a map keyed by
// slash-separated relative path. A missing dir yields an empty map.
func ReadDir(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	return out, nil
}
