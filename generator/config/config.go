// Package config decodes and validates threadline.yaml.
//
// Decoding is strict: unknown keys, duplicate keys, wrong types and invalid
// values are errors of type *Error that carry the file, line and column.
// Only schema.database_url expands environment variables (${VAR} or $VAR).
// Relative paths resolve against the directory of the config file.
//
// Validation here needs no database schema; checks against the schema
// (unknown tables or columns, tables without a primary key or key) belong
// to the generator.
//
// The package is public so that generator.Generate and generator.Run,
// which take a *Config, can be called from outside this module: load a
// Config with Load (or Parse) and pass it on.
package config

import (
	"fmt"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/schema"
)

// Pos is a position in the config file (1-based line and column). Line or
// Col is 0 when unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

// String renders file:line:col, leaving out the parts that are unknown
// (file:line when Col is 0, file when Line is 0).
func (p Pos) String() string {
	switch {
	case p.Line <= 0:
		return p.File
	case p.Col <= 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is a config error at a position. Every error returned by Load and
// Parse is an *Error.
type Error struct {
	Pos Pos
	Msg string
	// Err is the underlying error, if any (e.g. the *fs.PathError of a
	// file that cannot be read).
	Err error
}

// Error renders "file:line:col: message".
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error at p.
func Errorf(p Pos, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// Name is a string value with the position it was read from.
type Name struct {
	Value string
	Pos   Pos
}

// Config is a decoded threadline.yaml.
type Config struct {
	// Path is the config file's path as given; Dir its absolute directory.
	Path string
	Dir  string

	// Version is the config format version (always 1).
	Version int
	// Schema says where the database schema is read from.
	Schema SchemaSource
	// AuditSchema is where audit tables and functions live (default
	// "threadline"). AuditSchemaPos is the zero Pos when defaulted.
	AuditSchema    string
	AuditSchemaPos Pos
	// Migrations configures the generated SQL migrations.
	Migrations Migrations
	// Package configures the generated Go package.
	Package Package
	// Tables in file order.
	Tables []*Table
	// Coverage configures coverage checks.
	Coverage Coverage
	// Retention is the retention policy; its defaults are filled in even
	// when the retention section is absent (then Retention.Pos is zero).
	Retention Retention
	// Privileges lists the roles the install migration grants to.
	Privileges Privileges
	// Storage is the audit storage layout (unpartitioned by default).
	Storage Storage
	// Engine is the capture engine, EngineTrigger (default) or EngineWAL;
	// EnginePos is zero when defaulted. WAL configures EngineWAL.
	Engine    string
	EnginePos Pos
	WAL       WAL
}

// SchemaSource says where the schema is read from. At least one of
// DatabaseURLRaw and Files is set; the live database wins when the
// expanded DatabaseURL is non-empty.
type SchemaSource struct {
	// DatabaseURL after environment expansion ("" when unset or the
	// variables are empty).
	DatabaseURL string
	// DatabaseURLRaw is the text as written (e.g. "${DATABASE_URL}").
	DatabaseURLRaw string
	DatabaseURLPos Pos
	// Files are glob patterns (filepath.Match syntax) resolved against
	// Dir, so absolute; glob metacharacters in Dir itself are escaped.
	Files    []string
	FilesPos Pos
}

// Migrations configures the migration output.
type Migrations struct {
	// Dir is absolute (resolved against the config file's directory).
	Dir string
	// Format is one of Formats.
	Format    string
	FormatPos Pos
	// Versioning is how new migrations are numbered: VersioningTimestamp,
	// VersioningSequential, or "" (unset) to follow the numbered files
	// already in Dir (sequential when they all are, else timestamp).
	// VersioningPos is the zero Pos when unset.
	Versioning    string
	VersioningPos Pos
}

// Values of Migrations.Versioning.
const (
	// VersioningTimestamp numbers a new migration with the UTC time
	// (YYYYMMDDHHMMSS), raised above every version in the directory.
	VersioningTimestamp = "timestamp"
	// VersioningSequential numbers it one above the directory's highest
	// version, zero-padded to that version's width (001, 00001, 000001).
	VersioningSequential = "sequential"
)

// Capture modes of a table (Table.Capture).
const (
	CaptureStatement = contract.ModeStatement
	CaptureRow       = contract.ModeRow
)

// Formats lists the supported migration formats.
var Formats = []string{"goose", "golang-migrate", "tern", "dbmate", "atlas", "plain"}

// Package configures the generated Go package.
type Package struct {
	// Dir is absolute; Name the Go package name (default: base of Dir).
	Dir  string
	Name string
	// Pos is where Name came from: package.name, or package.dir when the
	// name defaults to the directory's base name.
	Pos Pos
}

// Table is the capture configuration of one audited table.
type Table struct {
	// Name is the key as written: "users" or "billing.invoices".
	Name Name
	// Exclude, Mask, ExceptColumns and Key hold column names with positions.
	Exclude []Name
	Mask    []Name
	// MaskPlaceholder replaces masked values (default
	// DefaultMaskPlaceholder); MaskPlaceholderPos is zero when defaulted.
	MaskPlaceholder    string
	MaskPlaceholderPos Pos
	// StoreChangedFrom stores sparse prior values on UPDATE.
	StoreChangedFrom bool
	// ExceptColumns are ignored for change detection.
	ExceptColumns []Name
	// Key identifies rows of a table without a primary key; KeyPos is
	// the position of the list (zero when not set).
	Key    []Name
	KeyPos Pos
	// Capture chooses the triggers: CaptureStatement (the default; one
	// set-based INSERT per statement, fastest for statements that change
	// many rows) or CaptureRow (one INSERT per row, fastest for
	// single-row OLTP writes). Partitioned tables always use row-level
	// capture. CapturePos is zero when defaulted.
	Capture    contract.Mode
	CapturePos Pos

	// qname is Name parsed by contract.ParseQualifiedName (set by Parse).
	qname schema.QualifiedName
}

// Qualified returns the table's schema-qualified name; unqualified names
// are in schema "public". Tables built by hand (not by Parse) are parsed
// on the fly.
func (t *Table) Qualified() schema.QualifiedName {
	if t.qname != (schema.QualifiedName{}) {
		return t.qname
	}
	q, err := contract.ParseQualifiedName(t.Name.Value, "public")
	if err != nil {
		return schema.QualifiedName{Schema: "public", Name: t.Name.Value}
	}
	return q
}

// TableByName returns the configured table named q, or nil.
func (c *Config) TableByName(q schema.QualifiedName) *Table {
	for _, t := range c.Tables {
		if t.Qualified() == q {
			return t
		}
	}
	return nil
}

// Privileges names the roles that the generated install migration grants
// access to the audit schema. Every list is optional; roles must exist
// when the migration runs. Capture itself needs no grant: the capture
// functions are SECURITY DEFINER and run with their owner's rights.
type Privileges struct {
	// WriterRoles write audited tables through the application: they get
	// USAGE on the audit schema and EXECUTE on record_action, and no
	// privilege on the audit tables themselves (append-only by design).
	WriterRoles []Name
	// ReaderRoles investigate: SELECT on the audit tables.
	ReaderRoles []Name
	// RetentionRoles purge, maintain and seal: SELECT, and EXECUTE on the
	// purge functions, which only expire data older than the retention
	// window (no DELETE on any audit table).
	RetentionRoles []Name
}

// Coverage configures coverage checks.
type Coverage struct {
	// ExpectedTables are the tables that must be audited, as written
	// ("users" or "billing.invoices").
	ExpectedTables []Name
	// IgnoreTables are tables not meant to be audited, as written:
	// coverage reports them ignored, not uncovered (as it does the
	// migration tools' own tables).
	IgnoreTables []Name
}

// Retention is the retention policy.
type Retention struct {
	Enabled bool
	// Exactly one of KeepDays and MaxAgeSeconds is positive after
	// validation when the retention section is present.
	KeepDays      int
	MaxAgeSeconds int
	// BatchSize (default 500) and MaxBatches (default 10000) bound one
	// purge run.
	BatchSize  int
	MaxBatches int
	// DeleteEmptyTransactions (default true) purges transactions left
	// without changes.
	DeleteEmptyTransactions bool
	// Pos is the position of the retention key (zero when absent).
	Pos Pos
}

// Window returns how long audit rows are kept: KeepDays days or
// MaxAgeSeconds seconds; 0 when neither is set.
func (r Retention) Window() time.Duration {
	switch {
	case r.KeepDays > 0:
		return time.Duration(r.KeepDays) * 24 * time.Hour
	case r.MaxAgeSeconds > 0:
		return time.Duration(r.MaxAgeSeconds) * time.Second
	}
	return 0
}

// Storage is the storage section: time-partitioned audit tables.
type Storage struct {
	// Partitions is PartitionsNone (default), "daily", "weekly" or
	// "monthly": audit_changes by captured_at and audit_transactions by
	// started_at, in ranges of that length (UTC).
	Partitions string
	// Premake is the number of future partitions threadline maintain
	// keeps ready (default DefaultPremake).
	Premake int
	// Pos is the position of the storage key (zero when absent).
	Pos Pos
}

// Partition layouts (storage.partitions).
const (
	PartitionsNone    = "none"
	PartitionsDaily   = "daily"
	PartitionsWeekly  = "weekly"
	PartitionsMonthly = "monthly"
	// DefaultPremake is storage.premake when not set.
	DefaultPremake = 4
	// MaxPremake bounds storage.premake.
	MaxPremake = 366
)

// Partitioned reports whether the audit tables are partitioned.
func (s Storage) Partitioned() bool { return s.Partitions != "" && s.Partitions != PartitionsNone }

// DefaultMaskPlaceholder is used when a table sets no mask_placeholder.
const DefaultMaskPlaceholder = contract.DefaultMaskPlaceholder

// DefaultAuditSchema is used when audit_schema is not set.
const DefaultAuditSchema = contract.DefaultAuditSchema

// Retention defaults, limits and other validation limits.
const (
	// DefaultBatchSize is retention.batch_size when not set.
	DefaultBatchSize = 500
	// DefaultMaxBatches is retention.max_batches when not set.
	DefaultMaxBatches = 10000
	// MaxKeepDays bounds retention.keep_days (100 years).
	MaxKeepDays = 36500
	// MaxAgeSeconds bounds retention.max_age_seconds (100 years).
	MaxAgeSeconds = MaxKeepDays * 24 * 60 * 60
	// MaxPlaceholderLen bounds mask_placeholder, in characters (runes).
	MaxPlaceholderLen = 200
)

// isOwnTable reports whether name is one of Threadline's own tables in
// the audit schema; audited tables may not name them.
func isOwnTable(name string) bool {
	switch name {
	case "audit_transactions", "audit_changes", "audit_actions":
		return true
	}
	return false
}
