//go:build cgo

package main

import (
	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/schema/sqlfile"
)

// parser lets doctor's generated-files check load schema.files. Built
// without cgo, threadline lacks it (parser_nocgo.go) and the check asks
// for threadline-gen check instead.
var parser = generator.Parser{LoadGlobs: sqlfile.LoadGlobs}
