//go:build !cgo

package main

import "github.com/threadline-go/threadline/generator"

// parser is empty without cgo: PostgreSQL's SQL parser (schema/sqlfile)
// needs it, so doctor checks generated files only against a live schema
// (schema.database_url) and otherwise says to run threadline-gen check.
var parser = generator.Parser{}
