package contract

import (
	"path/filepath"
	"strings"
)

// Markers of the migration tools' file formats: the generator writes them
// and the SQL-file schema loader (schema/sqlfile) reads them to find the
// "up" part of a migration.
const (
	// GooseAnnotation starts every goose annotation; goose reads the word
	// after it case-insensitively.
	GooseAnnotation     = "-- +goose "
	GooseUp             = GooseAnnotation + "Up"
	GooseDown           = GooseAnnotation + "Down"
	GooseStatementBegin = GooseAnnotation + "StatementBegin"
	GooseStatementEnd   = GooseAnnotation + "StatementEnd"
	DbmateUp            = "-- migrate:up"
	DbmateDown          = "-- migrate:down"
	TernSeparator       = "---- create above / drop below ----"
	// DownSuffix ends the name of a golang-migrate down migration.
	DownSuffix = ".down.sql"
)

// The tables migration tools record applied versions in (their default
// names; atlas's table is in a schema of the same name). threadline-gen
// reads them to warn of migrations a live database has not applied.
const (
	GooseVersionTable  = "goose_db_version"
	MigrateTable       = "schema_migrations" // golang-migrate (with a dirty column) and dbmate
	TernVersionTable   = "schema_version"
	AtlasRevisionTable = "atlas_schema_revisions"
)

// IsDownFile reports a golang-migrate down migration.
func IsDownFile(path string) bool {
	return strings.HasSuffix(strings.ToLower(filepath.Base(path)), DownSuffix)
}
