package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrationsVersioning: migrations.versioning is timestamp or
// sequential (unset: follow the files already in the directory); tern
// numbers contiguously, so it refuses timestamp. Errors carry the value's
// file:line:col.
func TestMigrationsVersioning(t *testing.T) {
	cfg := func(format, versioning string) string {
		return "version: 1\nschema:\n  files: [s.sql]\nmigrations:\n  dir: m\n  format: " + format + "\n" + versioning +
			"package:\n  dir: audit\ntables:\n  users: {}\n"
	}
	for _, tc := range []struct {
		format, versioning, want, err string
		line, col                     int
	}{
		{format: "goose", want: ""},
		{format: "goose", versioning: "  versioning: sequential\n", want: VersioningSequential, line: 7, col: 15},
		{format: "golang-migrate", versioning: "  versioning: timestamp\n", want: VersioningTimestamp, line: 7, col: 15},
		{format: "tern", versioning: "  versioning: sequential\n", want: VersioningSequential, line: 7, col: 15},
		{format: "dbmate", versioning: "  versioning: serial\n",
			err: `t.yaml:7:15: migrations.versioning: "serial": want timestamp or sequential`},
		{format: "tern", versioning: "  versioning: timestamp\n",
			err: "t.yaml:7:15: migrations.versioning: tern numbers migrations contiguously (001, 002, …); timestamp versions are not supported with format tern"},
		{format: "goose", versioning: "  versioning: [x]\n", err: "t.yaml:7:15: migrations.versioning:"},
	} {
		c, err := Parse("t.yaml", []byte(cfg(tc.format, tc.versioning)), nil)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%s %q: error %v, want %s", tc.format, tc.versioning, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", tc.format, tc.versioning, err)
			continue
		}
		m := c.Migrations
		if m.Versioning != tc.want || m.VersioningPos.Line != tc.line || m.VersioningPos.Col != tc.col {
			t.Errorf("%s %q: versioning %q at %v, want %q at %d:%d", tc.format, tc.versioning, m.Versioning, m.VersioningPos, tc.want, tc.line, tc.col)
		}
	}
}

// TestVersioningDocumented: the example and the starter config document
// migrations.versioning, and the starter still parses.
func TestVersioningDocumented(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "threadline.yaml.example"))
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"threadline.yaml.example": string(example), "starter": string(Starter())} {
		if !strings.Contains(text, "# versioning: sequential") {
			t.Errorf("%s does not document migrations.versioning", name)
		}
	}
	if _, err := Parse("t.yaml", []byte(strings.Replace(string(Starter()), "# versioning:", "versioning:", 1)), nil); err != nil {
		t.Errorf("starter with versioning set: %v", err)
	}
}
