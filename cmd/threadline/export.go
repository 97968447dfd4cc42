package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/runtime/threadlineops"
	"github.com/threadline-go/threadline/sqltemplates"
)

type exportArgs struct {
	format, output                      string
	table, actor, from, to, correlation string
	maxRows                             int64
	stream, force, guard, withProof     bool
	proofHead                           string
	feed                                feedArgs
}

func exportFlags(fs *flag.FlagSet) func(*cli) int {
	var a exportArgs
	fs.StringVar(&a.format, "format", "", "output format: csv, json or ndjson (required)")
	fs.StringVar(&a.output, "output", "", "file to write (required; - for standard output); never overwritten without -force")
	fs.StringVar(&a.table, "table", "", `only this table: "users" or "schema.table"`)
	fs.StringVar(&a.actor, "actor", "", `only changes by this actor: "kind:id" (user:42) or "anonymous"`)
	fs.StringVar(&a.from, "from", "", "only changes captured at or after this `time`: RFC 3339, 2026-01-02T15:04 (UTC), a date, or relative to now (-1h, -7d)")
	fs.StringVar(&a.to, "to", "", "only changes captured at or before this `time` (the forms of -from)")
	fs.StringVar(&a.correlation, "correlation-id", "", "only changes of transactions carrying this correlation `id`: their own (X-Correlation-Id, TxOptions.CorrelationID) or their action's")
	a.maxRows = -1 // not given: the format's default
	fs.Func("max-rows", fmt.Sprintf("write at most `N` changes; 0 for no cap (default %d for csv and json, no cap for ndjson or -stream). A truncated export exits %d", threadline.DefaultExportMaxRows, exitTruncated), func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errors.New("want 0 (no cap) or a positive number of changes")
		}
		a.maxRows = n
		return nil
	})
	fs.BoolVar(&a.stream, "stream", false, "no default cap for csv and json: stream every matching change")
	fs.BoolVar(&a.force, "force", false, "overwrite the output file if it exists")
	a.feed.flags(fs)
	fs.BoolVar(&a.withProof, "with-proof", false, "ndjson: append the seal proofs of the changes, which a recipient checks against a recorded head with threadline verify -proof (docs/security.md); every change exported must be sealed")
	fs.StringVar(&a.proofHead, "proof-head", "", "with -with-proof: the head (hex) the proofs lead to, of a seal at or after every exported change's (default: the latest seal's)")
	fs.BoolVar(&a.guard, "csv-formula-guard", true, "prefix ' to CSV cells starting with = + - @ tab or CR (spreadsheet formula injection); -csv-formula-guard=false writes exact values")
	return func(c *cli) int { return c.export(a) }
}

// parseActor reads the -actor flag: "kind:id" (user:42; the id is
// everything after the first colon) or "anonymous", the form the viewer's
// actor parameter takes and ActorRef.String writes.
func parseActor(v string) (threadline.ActorRef, error) {
	kind, id, hasID := strings.Cut(v, ":")
	if !hasID && kind != string(threadline.KindAnonymous) {
		example := "user:" + v
		switch {
		case v == "":
			example = "user:42"
		case threadline.ActorKind(v).Valid():
			example = v + ":42"
		}
		var kinds []string
		for _, k := range threadline.ActorKinds() {
			if k != threadline.KindAnonymous {
				kinds = append(kinds, string(k))
			}
		}
		return threadline.ActorRef{}, fmt.Errorf("%q: use kind:id, e.g. %s (kinds: %s), or anonymous", v, example, strings.Join(kinds, ", "))
	}
	a, err := threadline.NewActorRef(threadline.ActorKind(kind), id)
	if err != nil {
		return threadline.ActorRef{}, fmt.Errorf("%q: %s", v, strings.TrimPrefix(err.Error(), threadline.ErrInvalidActor.Error()+": "))
	}
	return a, nil
}

// exportFilter builds the filter of the export flags.
func (a exportArgs) filter() (threadline.Filter, error) {
	f := threadline.Filter{Table: a.table, CorrelationID: a.correlation}
	if a.actor != "" {
		actor, err := parseActor(a.actor)
		if err != nil {
			return f, fmt.Errorf("-actor: %w", err)
		}
		f.Actor = &actor
	}
	now := time.Now()
	for _, t := range []struct {
		flag, value string
		dst         *time.Time
	}{{"from", a.from, &f.From}, {"to", a.to, &f.To}} {
		if t.value == "" {
			continue
		}
		v, err := threadline.ParseTime(t.value, now)
		if te := (*threadline.TimeError)(nil); errors.As(err, &te) {
			return f, fmt.Errorf("-%s: %s", t.flag, te.Msg)
		} else if err != nil {
			return f, fmt.Errorf("-%s: %w", t.flag, err)
		}
		*t.dst = v
	}
	if a.correlation != "" && strings.TrimSpace(a.correlation) == "" {
		return f, fmt.Errorf("-correlation-id: blank")
	}
	return f, f.Validate()
}

func (c *cli) export(a exportArgs) int {
	format, err := threadline.ParseExportFormat(a.format)
	switch {
	case a.format == "":
		return c.usageError("-format is required (csv, json or ndjson)")
	case err != nil:
		return c.usageError("-format %q: want csv, json or ndjson", a.format)
	case a.output == "":
		return c.usageError("-output is required (a file, or - for standard output)")
	case a.withProof && a.feed.cursorFile != "":
		return c.usageError("-with-proof does not apply to -cursor-file")
	case a.proofHead != "" && !a.withProof:
		return c.usageError("-proof-head needs -with-proof")
	case a.feed.cursorFile != "":
		return c.exportFeed(a, format)
	case a.feed.follow:
		return c.usageError("-follow needs -cursor-file")
	case a.withProof && format != threadline.ExportNDJSON:
		return c.usageError("-with-proof: want -format ndjson")
	}
	f, err := a.filter()
	if err != nil {
		return c.usageError("%v", err)
	}
	maxRows := a.maxRows
	if maxRows == -1 {
		maxRows = 0
		if format != threadline.ExportNDJSON && !a.stream {
			maxRows = threadline.DefaultExportMaxRows
		}
	}
	toStdout := a.output == "-"
	if !toStdout && !a.force {
		if _, err := os.Lstat(a.output); err == nil {
			return c.fail("%s exists; pass -force to overwrite it", a.output)
		}
	}
	if code, ok := c.setup(); !ok {
		return code
	}
	if f.Table != "" {
		if err := c.checkExportTable(f.Table); err != nil {
			return c.fail("%v", err)
		}
	}

	p := newProgress(c.stderr, c.env.terminal(c.stderr))
	opts := threadline.ExportOptions{MaxRows: maxRows, RawCSV: !a.guard}
	if p.on || c.env.exportProgress != nil {
		opts.Progress = func(n int64) {
			p.draw(fmt.Sprintf("exporting: %s (%s/s)", plural(n, "change"), p.rate(n)))
			if c.env.exportProgress != nil {
				c.env.exportProgress(n)
			}
		}
	}
	start := time.Now()
	var proofs threadlineops.ProofResult
	write := func(w io.Writer) (threadline.ExportResult, error) {
		var refs []threadlineops.ChangeRef
		if a.withProof {
			opts.Written = func(id, tx int64) { refs = append(refs, threadlineops.ChangeRef{ID: id, TransactionID: tx}) }
		}
		opts.Format, opts.Filter = format, f
		res, err := c.audit().Export(c.ctx, c.pool, w, opts)
		if err == nil && a.withProof {
			proofs, err = c.ops().WriteProofs(c.ctx, c.pool, w, refs, threadlineops.ProofOptions{Head: a.proofHead})
		}
		return res, err
	}
	var res threadline.ExportResult
	if toStdout {
		res, err = write(c.stdout)
	} else {
		res, err = writeAtomically(a.output, a.force, write)
	}
	p.clear()
	if err != nil {
		return c.fail("%v", err)
	}
	summary := c.stdout
	dest := a.output
	if toStdout {
		summary, dest = c.stderr, "standard output"
	}
	trunc := ""
	if res.Truncated {
		trunc = fmt.Sprintf(" (TRUNCATED at -max-rows %d)", maxRows)
	}
	fmt.Fprintf(summary, "exported %s to %s%s: %s, %d bytes, %s\n", plural(res.Rows, "change"), dest, trunc, format, res.Bytes, elapsed(time.Since(start)))
	if a.withProof && proofs.LastSeal > 0 {
		fmt.Fprintf(summary, "with proofs through seals %d..%d to head %s; check them with threadline verify -proof FILE -head HEAD, HEAD as recorded outside the database\n",
			proofs.FirstSeal, proofs.LastSeal, proofs.Head)
	}
	if res.Truncated {
		fmt.Fprintf(c.stderr, "threadline export: WARNING: the export is incomplete: it stopped at %s and more changes match the filter; raise -max-rows, pass -stream, or narrow the filter (exit status %d)\n",
			plural(maxRows, "change"), exitTruncated)
		return exitTruncated
	}
	return 0
}

// exitTruncated is the exit status of an export that stopped at
// -max-rows: the file was written, but it does not hold every matching
// change.
const exitTruncated = 3

// checkExportTable returns an error naming table and the audited tables
// when table is neither configured for capture nor has captured changes
// (a table audited in the past keeps its history), so that a typo is not
// an empty export.
func (c *cli) checkExportTable(table string) error {
	q, err := contract.ParseQualifiedName(table, "public")
	if err != nil {
		return err
	}
	var audited []string
	for _, t := range c.cfg.Tables {
		if t.Qualified() == q {
			return nil
		}
		audited = append(audited, t.Qualified().Text())
	}
	var captured bool
	err = c.pool.QueryRow(c.ctx, "SELECT EXISTS (SELECT FROM "+sqltemplates.QuoteIdent(c.cfg.AuditSchema)+
		".audit_changes WHERE table_schema = $1 AND table_name = $2)", q.Schema, q.Name).Scan(&captured)
	if err != nil {
		return fmt.Errorf("-table %s: %w", table, err)
	}
	if captured {
		return nil
	}
	sort.Strings(audited)
	if len(audited) == 0 {
		audited = []string{"none (threadline.yaml lists no tables)"}
	}
	return fmt.Errorf("-table %s: %s is not an audited table and has no captured changes; audited tables: %s",
		table, q.Text(), strings.Join(audited, ", "))
}

// plural renders n and the noun, in the plural unless n is 1 ("1
// change", "2 changes", "3 batches").
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "ch") || strings.HasSuffix(noun, "s") {
		noun += "e"
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}

// writeAtomically runs write on a temporary file in the directory of
// path and, when it succeeds, moves the file to path: an interrupted or
// failed export never leaves a partial file under the final name. Without
// force an existing path is never replaced, even one created meanwhile.
// The file is created readable by its owner only (0600): exports hold
// audit data.
func writeAtomically(path string, force bool, write func(io.Writer) (threadline.ExportResult, error)) (threadline.ExportResult, error) {
	var res threadline.ExportResult
	err := replaceFile(path, force, func(w io.Writer) (err error) {
		res, err = write(w)
		return err
	})
	return res, err
}

// replaceFile writes a temporary file in the directory of path with
// write, buffered, syncs it and moves it to path (replacing it only with
// force), then syncs the directory: path holds either its old content or
// all of the new, whenever the process stops.
func replaceFile(path string, force bool, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(name)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if force {
		err = os.Rename(name, path)
	} else if err = os.Link(name, path); err == nil {
		os.Remove(name)
	} else if errors.Is(err, fs.ErrExist) {
		err = fmt.Errorf("%s exists (created while exporting); pass -force to overwrite it", path)
	} else if _, serr := os.Lstat(path); errors.Is(serr, fs.ErrNotExist) {
		// No hard links on this file system: check, then rename.
		err = os.Rename(name, path)
	}
	if err != nil {
		return err
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
