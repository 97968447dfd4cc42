package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	threadline "github.com/threadline-go/threadline/runtime"
)

// feedArgs are the flags of export's incremental mode.
type feedArgs struct {
	cursorFile string
	follow     bool
	interval   time.Duration
}

func (a *feedArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.cursorFile, "cursor-file", "", "incremental export: only the changes committed since the position in `FILE` (from the start when it does not exist), which is then advanced; ndjson or csv, no filter")
	fs.BoolVar(&a.follow, "follow", false, "with -cursor-file, -format ndjson and -output -: keep exporting new changes every -interval until interrupted")
	fs.DurationVar(&a.interval, "interval", 5*time.Second, "how often -follow looks for new changes")
}

// cursorFile is the content of a -cursor-file.
type cursorFile struct {
	threadline.FeedPosition
	// Changes and WrittenAt describe the run that wrote the file.
	Changes   int64     `json:"changes"`
	WrittenAt time.Time `json:"written_at"`
}

// exportFeed runs export -cursor-file: one feed run, or -follow's loop.
func (c *cli) exportFeed(a exportArgs, format threadline.ExportFormat) int {
	if msg := a.feedConflict(format); msg != "" {
		return c.usageError("%s", msg)
	}
	pos, err := readCursor(a.feed.cursorFile)
	if err != nil {
		return c.fail("%v", err)
	}
	if code, ok := c.setup(); !ok {
		return code
	}
	for {
		next, res, err := c.feedRun(a, format, pos)
		if err != nil && a.feed.follow && c.ctx.Err() != nil {
			// Interrupted mid-run: the cursor stays where the last complete
			// run left it, and the next run starts from there again.
			return 0
		}
		if err != nil {
			return c.fail("%v", err)
		}
		if !a.feed.follow || res.Rows > 0 {
			fmt.Fprintf(c.stderr, "exported %s: %s, %d bytes; position %s saved to %s\n",
				plural(res.Rows, "change"), format, res.Bytes, next.Snapshot, a.feed.cursorFile)
		}
		if !a.feed.follow {
			return 0
		}
		pos = next
		select {
		case <-c.ctx.Done():
			return 0
		case <-time.After(a.feed.interval):
		}
	}
}

// feedConflict names what export -cursor-file cannot be combined with.
func (a exportArgs) feedConflict(format threadline.ExportFormat) string {
	switch {
	case format == threadline.ExportJSON:
		return "-cursor-file: want -format ndjson or csv (a JSON document cannot be continued)"
	case a.table != "" || a.actor != "" || a.from != "" || a.to != "" || a.correlation != "":
		return "-cursor-file exports every change since its position: no -table, -actor, -from, -to or -correlation-id"
	case a.maxRows > 0 || a.stream:
		return "-cursor-file exports every change since its position: no -max-rows or -stream"
	case a.feed.follow && (a.output != "-" || format != threadline.ExportNDJSON):
		return "-follow streams NDJSON to standard output: pass -format ndjson -output -"
	case a.feed.interval <= 0:
		return "-interval: want a positive duration"
	}
	return ""
}

// feedRun exports the changes committed since pos, then, once the output
// is flushed (and synced, for a file), saves the new position.
func (c *cli) feedRun(a exportArgs, format threadline.ExportFormat, pos threadline.FeedPosition) (threadline.FeedPosition, threadline.ExportResult, error) {
	opts := threadline.ExportOptions{Format: format, RawCSV: !a.guard}
	var next threadline.FeedPosition
	write := func(w io.Writer) (threadline.ExportResult, error) {
		var res threadline.ExportResult
		var err error
		next, res, err = c.audit().ExportFeed(c.ctx, c.pool, w, pos, opts)
		return res, err
	}
	var res threadline.ExportResult
	var err error
	if a.output == "-" {
		res, err = write(c.stdout)
	} else {
		res, err = writeAtomically(a.output, a.force, write)
	}
	if err != nil {
		return pos, res, err
	}
	if c.env.beforeCursorWrite != nil {
		if err := c.env.beforeCursorWrite(); err != nil {
			return pos, res, err
		}
	}
	err = writeCursor(a.feed.cursorFile, cursorFile{FeedPosition: next, Changes: res.Rows, WrittenAt: time.Now().UTC()})
	return next, res, err
}

// readCursor reads a -cursor-file; a missing file is the start.
func readCursor(path string) (threadline.FeedPosition, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return threadline.FeedPosition{}, nil
	}
	if err != nil {
		return threadline.FeedPosition{}, fmt.Errorf("-cursor-file: %w", err)
	}
	var cf cursorFile
	if err := json.Unmarshal(b, &cf); err != nil || cf.Snapshot == "" {
		return threadline.FeedPosition{}, fmt.Errorf("-cursor-file %s: not a cursor written by threadline export (want {\"snapshot\": …}); move it away to start the feed again", path)
	}
	return cf.FeedPosition, nil
}

// writeCursor replaces the cursor file atomically (replaceFile).
func writeCursor(path string, cf cursorFile) error {
	b, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return err
	}
	err = replaceFile(path, true, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("write the cursor: %w", err)
	}
	return nil
}
