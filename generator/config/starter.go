package config

import (
	"bytes"
	_ "embed"
)

//go:embed starter.yaml
var starter []byte

// Starter returns the commented starter threadline.yaml that
// `threadline-gen init` writes. It parses with Parse. The result is a
// copy the caller may modify.
func Starter() []byte { return bytes.Clone(starter) }
