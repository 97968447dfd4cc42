package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(fullYAML))
	f.Add([]byte(""))
	f.Add([]byte("version: 1\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte(head + "tables:\n  users: &u {mask: [a]}\n  b: *u\n  c:\n    <<: *u\n"))
	f.Add([]byte("version: 1\nschema: {database_url: '${A}$B$$${'}\n"))
	f.Add(Starter())
	if data, err := os.ReadFile(filepath.Join("..", "..", "threadline.yaml.example")); err == nil {
		f.Add(data)
	}
	getenv := func(k string) string { return "v" + k }
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data, getenv)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if c != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		if c == nil || c.Version != 1 || len(c.Tables) == 0 {
			t.Fatalf("bad config without error: %+v", c)
		}
	})
}
