package generator

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write puts files below dir. A file whose current content is identical is
// not touched (its modification time stays). Every file is first written
// to a temporary file beside its target; only when all temporary files are
// complete are they renamed into place, so a failure leaves no half-written
// file under a final name.
func Write(dir string, files []File) error {
	type pending struct{ tmp, final string }
	var renames []pending
	cleanup := func() {
		for _, p := range renames {
			os.Remove(p.tmp)
		}
	}
	for _, f := range files {
		final := filepath.Join(dir, filepath.FromSlash(f.Path))
		old, err := os.ReadFile(final)
		if err == nil && bytes.Equal(old, f.Content) {
			continue
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			cleanup()
			return fmt.Errorf("write %s: %w", final, err)
		}
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			cleanup()
			return fmt.Errorf("write %s: %w", final, err)
		}
		tmp, err := os.CreateTemp(filepath.Dir(final), ".threadline-*.tmp")
		if err != nil {
			cleanup()
			return fmt.Errorf("write %s: %w", final, err)
		}
		renames = append(renames, pending{tmp: tmp.Name(), final: final})
		_, werr := tmp.Write(f.Content)
		cerr := tmp.Close()
		if werr != nil || cerr != nil {
			cleanup()
			return fmt.Errorf("write %s: %w", final, errors.Join(werr, cerr))
		}
		if err := os.Chmod(tmp.Name(), 0o644); err != nil {
			cleanup()
			return fmt.Errorf("write %s: %w", final, err)
		}
	}
	for i, p := range renames {
		if err := os.Rename(p.tmp, p.final); err != nil {
			for _, q := range renames[i:] {
				os.Remove(q.tmp)
			}
			return fmt.Errorf("write %s: %w", p.final, err)
		}
	}
	return nil
}
