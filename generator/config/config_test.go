package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/schema"
)

// env returns a getenv backed by m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// absDir is the absolute directory configs named "cfg/threadline.yaml"
// resolve against.
func absDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("cfg")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

const fullYAML = `version: 1
schema:
  database_url: postgres://u:${PGPASS}@$PGHOST/app
  files: [db/schema/*.sql, /abs/extra.sql]
audit_schema: audit
migrations:
  dir: db/migrations
  format: golang-migrate
package:
  dir: internal/auditlog
  name: auditlog
tables:
  users:
    exclude: [password_hash]
    mask: [email, phone]
    mask_placeholder: "$ hidden"
    store_changed_from: yes
    except_columns: [updated_at]
  billing.invoices: {capture: row}
  legacy_events:
    key: [event_uuid]
coverage:
  expected_tables: [users, billing.invoices]
retention:
  enabled: true
  max_age_seconds: 3600
  batch_size: 50
  max_batches: 7
  delete_empty_transactions: false
`

func TestParseFull(t *testing.T) {
	dir := absDir(t)
	const f = "cfg/threadline.yaml"
	got, err := Parse(f, []byte(fullYAML), env(map[string]string{"PGPASS": "s3cret", "PGHOST": "db"}))
	if err != nil {
		t.Fatal(err)
	}
	p := func(line, col int) Pos { return Pos{File: f, Line: line, Col: col} }
	want := &Config{
		Path:    f,
		Dir:     dir,
		Version: 1,
		Schema: SchemaSource{
			DatabaseURL:    "postgres://u:s3cret@db/app",
			DatabaseURLRaw: "postgres://u:${PGPASS}@$PGHOST/app",
			DatabaseURLPos: p(3, 17),
			Files:          []string{filepath.Join(dir, "db/schema/*.sql"), "/abs/extra.sql"},
			FilesPos:       p(4, 10),
		},
		AuditSchema:    "audit",
		AuditSchemaPos: p(5, 15),
		Migrations: Migrations{
			Dir:       filepath.Join(dir, "db/migrations"),
			Format:    "golang-migrate",
			FormatPos: p(8, 11),
		},
		Package: Package{Dir: filepath.Join(dir, "internal/auditlog"), Name: "auditlog", Pos: p(11, 9)},
		Tables: []*Table{
			{
				Name:               Name{"users", p(13, 3)},
				Exclude:            []Name{{"password_hash", p(14, 15)}},
				Mask:               []Name{{"email", p(15, 12)}, {"phone", p(15, 19)}},
				MaskPlaceholder:    "$ hidden",
				MaskPlaceholderPos: p(16, 23),
				StoreChangedFrom:   true,
				ExceptColumns:      []Name{{"updated_at", p(18, 22)}},
				Capture:            contract.ModeStatement,
				qname:              schema.QualifiedName{Schema: "public", Name: "users"},
			},
			{
				Name:            Name{"billing.invoices", p(19, 3)},
				MaskPlaceholder: DefaultMaskPlaceholder,
				Capture:         contract.ModeRow,
				CapturePos:      p(19, 31),
				qname:           schema.QualifiedName{Schema: "billing", Name: "invoices"},
			},
			{
				Name:            Name{"legacy_events", p(20, 3)},
				MaskPlaceholder: DefaultMaskPlaceholder,
				Key:             []Name{{"event_uuid", p(21, 11)}},
				KeyPos:          p(21, 10),
				Capture:         contract.ModeStatement,
				qname:           schema.QualifiedName{Schema: "public", Name: "legacy_events"},
			},
		},
		Coverage: Coverage{ExpectedTables: []Name{{"users", p(23, 21)}, {"billing.invoices", p(23, 28)}}},
		Retention: Retention{
			Enabled:                 true,
			MaxAgeSeconds:           3600,
			BatchSize:               50,
			MaxBatches:              7,
			DeleteEmptyTransactions: false,
			Pos:                     p(24, 1),
		},
		Storage: Storage{Partitions: PartitionsNone, Premake: DefaultPremake},
		Engine:  EngineTrigger,
		WAL:     WAL{Slot: DefaultSlot, Publication: DefaultPublication},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config mismatch\n got: %+v\nwant: %+v", got, want)
		for i := range want.Tables {
			if i < len(got.Tables) && !reflect.DeepEqual(got.Tables[i], want.Tables[i]) {
				t.Errorf("table %d\n got: %+v\nwant: %+v", i, got.Tables[i], want.Tables[i])
			}
		}
	}
	if w := got.Retention.Window(); w != time.Hour {
		t.Errorf("Window() = %v, want 1h", w)
	}
}

// minimal is a valid config of 10 lines; error cases append to head.
const head = `version: 1
schema:
  files: [db/*.sql]
migrations:
  dir: db/migrations
  format: goose
package:
  dir: internal/audit
`

const minimal = head + `tables:
  users: {}
`

func TestParseDefaults(t *testing.T) {
	dir := absDir(t)
	c, err := Parse("cfg/threadline.yaml", []byte(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.AuditSchema != DefaultAuditSchema || c.AuditSchemaPos != (Pos{}) {
		t.Errorf("audit schema = %q at %v, want default", c.AuditSchema, c.AuditSchemaPos)
	}
	wantPkg := Package{Dir: filepath.Join(dir, "internal/audit"), Name: "audit", Pos: Pos{"cfg/threadline.yaml", 8, 8}}
	if c.Package != wantPkg {
		t.Errorf("package = %+v, want %+v", c.Package, wantPkg)
	}
	wantRet := Retention{BatchSize: 500, MaxBatches: 10000, DeleteEmptyTransactions: true}
	if c.Retention != wantRet {
		t.Errorf("retention = %+v, want %+v", c.Retention, wantRet)
	}
	if c.Retention.Window() != 0 {
		t.Errorf("Window() = %v, want 0", c.Retention.Window())
	}
	tb := c.Tables[0]
	if tb.MaskPlaceholder != "[REDACTED]" || tb.StoreChangedFrom || tb.Exclude != nil || tb.Key != nil || tb.KeyPos != (Pos{}) {
		t.Errorf("table defaults wrong: %+v", tb)
	}
	if c.Schema.DatabaseURL != "" || c.Schema.DatabaseURLRaw != "" {
		t.Errorf("database url = %q", c.Schema.DatabaseURL)
	}
}

// Long on purpose: a table of cases, one line each; splitting it would only scatter them.
func TestParseErrors(t *testing.T) {
	const f = "t.yaml"
	tests := []struct {
		name string
		yaml string
		want string
	}{
		// Syntax and document shape.
		{"empty file", "", "t.yaml:1:1: empty config file"},
		{"only comments", "# nothing\n", "t.yaml:1:1: empty config file"},
		{"null document", "---\n~\n", "t.yaml:1:1: empty config file"},
		{"not a mapping", "- a\n", "t.yaml:1:1: the config must be a mapping, got a list"},
		{"scalar document", "hello\n", `t.yaml:1:1: the config must be a mapping, got the string "hello"`},
		{"syntax error", "version: 1\nschema: [\n", `t.yaml:2:1: invalid YAML: did not find expected node content: "schema: ["`},
		{"syntax error first line", "a: b: c\n", `t.yaml:1:1: invalid YAML: mapping values are not allowed in this context: "a: b: c"`},
		{"two documents", minimal + "---\nversion: 1\n", "t.yaml:11:1: more than one YAML document (a config file holds exactly one)"},

		// Version.
		{"version missing", "schema: {}\n", `t.yaml:1:1: missing required key "version"`},
		{"version 2", "version: 2\nbogus: 1\n", "t.yaml:1:10: version: unsupported version 2 (want 1)"},
		{"version string", "version: \"1\"\n", `t.yaml:1:10: version: want an integer, got the string "1"`},
		{"version float", "version: 1.0\n", "t.yaml:1:10: version: want an integer, got the number 1.0"},

		// Keys.
		{"unknown top-level key", minimal + "tabels: {}\n",
			`t.yaml:11:1: unknown key "tabels" at top level (allowed: version, schema, audit_schema, migrations, package, tables, coverage, retention, privileges, storage, engine, wal)`},
		{"bad partitions", minimal + "storage:\n  partitions: hourly\n",
			`t.yaml:12:15: storage.partitions: "hourly": want none, daily, weekly or monthly`},
		{"bad premake", minimal + "storage:\n  partitions: daily\n  premake: 0\n",
			`t.yaml:13:12: storage.premake: must be positive, got 0`},
		{"unknown storage key", minimal + "storage:\n  partition: daily\n",
			`t.yaml:12:3: unknown key "partition" in storage (allowed: partitions, premake)`},
		{"unknown table key", head + "tables:\n  users:\n    masks: [email]\n",
			`t.yaml:11:5: unknown key "masks" in tables.users (allowed: exclude, mask, mask_placeholder, store_changed_from, except_columns, capture, key)`},
		{"unknown schema key", "version: 1\nschema:\n  url: x\n",
			`t.yaml:3:3: unknown key "url" in schema (allowed: database_url, files)`},
		{"unknown retention key", minimal + "retention:\n  keep: 3\n",
			`t.yaml:12:3: unknown key "keep" in retention (allowed: enabled, keep_days, max_age_seconds, batch_size, max_batches, delete_empty_transactions)`},
		{"duplicate top-level key", minimal + "version: 1\n", `t.yaml:11:1: duplicate key "version" at top level (first at line 1)`},
		{"duplicate table key", head + "tables:\n  users:\n    mask: [a]\n    mask: [b]\n",
			`t.yaml:12:5: duplicate key "mask" in tables.users (first at line 11)`},
		{"duplicate table", head + "tables:\n  users: {}\n  users: {}\n",
			`t.yaml:11:3: duplicate key "users" in tables (first at line 10)`},
		{"merge key", head + "tables:\n  users: &u {}\n  posts:\n    <<: *u\n",
			"t.yaml:12:5: merge keys (<<) are not supported in tables.posts"},
		{"non-string key", minimal + "[a]: 1\n", "t.yaml:11:1: keys must be strings, got a list at top level"},
		{"missing schema", "version: 1\nmigrations: {dir: m, format: goose}\n", `t.yaml:1:1: missing required key "schema"`},
		{"missing migrations.dir", "version: 1\nschema: {files: [a]}\nmigrations:\n  format: goose\n",
			`t.yaml:3:1: migrations: missing required key "dir"`},
		{"missing package.dir", "version: 1\nschema: {files: [a]}\nmigrations: {dir: m, format: goose}\npackage: {name: x}\n",
			`t.yaml:4:1: package: missing required key "dir"`},
		{"missing tables", head, `t.yaml:1:1: missing required key "tables"`},
		{"no tables", head + "tables: {}\n", "t.yaml:9:1: tables: list at least one table to audit"},
		{"null tables", head + "tables:\n", "t.yaml:9:1: tables: list at least one table to audit"},

		// Types.
		{"map for list", head + "tables:\n  users:\n    mask: {email: 1}\n",
			"t.yaml:11:11: tables.users.mask: want a list, got a mapping"},
		{"string for list", head + "tables:\n  users:\n    mask: email\n",
			`t.yaml:11:11: tables.users.mask: want a list, got the string "email" (write [email])`},
		{"int in list", head + "tables:\n  users:\n    exclude: [a, 12]\n",
			"t.yaml:11:18: tables.users.exclude[1]: want a string, got the integer 12 (quote it to use it as a string)"},
		{"empty string in list", head + "tables:\n  users:\n    except_columns: [a, \"\"]\n",
			"t.yaml:11:25: tables.users.except_columns[1]: empty column name"},
		{"abc for int", minimal + "retention:\n  keep_days: abc\n",
			`t.yaml:12:14: retention.keep_days: want an integer, got the string "abc"`},
		{"int out of range", minimal + "retention:\n  batch_size: 99999999999999999999\n",
			"t.yaml:12:15: retention.batch_size: want an integer, got the number 99999999999999999999"},
		{"bad capture mode", head + "tables:\n  users:\n    capture: rows\n",
			`t.yaml:11:14: tables.users.capture: want "statement" or "row", got "rows"`},
		{"capture not a string", head + "tables:\n  users:\n    capture: [row]\n",
			`t.yaml:11:14: tables.users.capture: want a string, got a list`},
		{"bad bool", head + "tables:\n  users:\n    store_changed_from: maybe\n",
			`t.yaml:11:25: tables.users.store_changed_from: want a boolean (true or false), got the string "maybe"`},
		{"int for bool", minimal + "retention:\n  enabled: 1\n  keep_days: 1\n",
			"t.yaml:12:12: retention.enabled: want a boolean (true or false), got the integer 1"},
		{"list for section", "version: 1\nschema: [a]\n", "t.yaml:2:9: schema: want a mapping, got a list"},
		{"list for table", head + "tables:\n  users: [a]\n", "t.yaml:10:10: tables.users: want a mapping, got a list"},
		{"number for string", "version: 1\nschema:\n  database_url: 5\n",
			"t.yaml:3:17: schema.database_url: want a string, got the integer 5 (quote it to use it as a string)"},
		{"null format", "version: 1\nschema: {files: [a]}\nmigrations:\n  dir: m\n  format:\n",
			"t.yaml:5:10: migrations.format: want a string, got null"},
		{"non-string table name", head + "tables:\n  123: {}\n", "t.yaml:10:3: tables: a table name must be a string, got the integer 123"},
		{"empty table name", head + "tables:\n  \"\": {}\n", "t.yaml:10:3: tables: empty table name"},
		{"bad table name", head + "tables:\n  a.b.c: {}\n", `t.yaml:10:3: tables: table name "a.b.c": want table or schema.table`},
		{"unterminated quote", head + "tables:\n  '\"users': {}\n", `t.yaml:10:3: tables: table name "\"users": unterminated quote`},

		// Schema source.
		{"schema without source", "version: 1\nschema: {}\nmigrations: {dir: m, format: goose}\npackage: {dir: p}\ntables: {users: {}}\n",
			"t.yaml:2:1: schema: set database_url (live database) or files (SQL files), or both"},
		{"schema with empty files", "version: 1\nschema:\n  files: []\nmigrations: {dir: m, format: goose}\npackage: {dir: p}\ntables: {users: {}}\n",
			"t.yaml:2:1: schema: set database_url (live database) or files (SQL files), or both"},
		{"empty database_url", "version: 1\nschema:\n  database_url: \"\"\n",
			"t.yaml:3:17: schema.database_url: must not be empty"},
		{"bad variable", "version: 1\nschema:\n  database_url: ${DB-URL}\n",
			"t.yaml:3:17: schema.database_url: invalid variable reference ${DB-URL} (write ${NAME}, $NAME, or $$ for a literal $)"},
		{"unterminated variable", "version: 1\nschema:\n  database_url: ${DB\n",
			"t.yaml:3:17: schema.database_url: unterminated ${ (write ${NAME}, $NAME, or $$ for a literal $)"},
		{"bad glob", "version: 1\nschema:\n  files: [\"db/[\"]\nmigrations: {dir: m, format: goose}\npackage: {dir: p}\ntables: {users: {}}\n",
			`t.yaml:3:11: schema.files[0]: bad glob pattern "db/[": syntax error in pattern`},

		// audit_schema.
		{"empty audit schema", minimal + "audit_schema: \"\"\n", "t.yaml:11:15: audit_schema: must not be empty"},
		{"uppercase audit schema", minimal + "audit_schema: Audit\n",
			`t.yaml:11:15: audit_schema: "Audit" is not a valid schema name (use lowercase letters, digits and underscores, starting with a letter or underscore)`},
		{"pg_catalog audit schema", minimal + "audit_schema: pg_catalog\n", `t.yaml:11:15: audit_schema: "pg_catalog" is reserved by PostgreSQL`},
		{"pg_ audit schema", minimal + "audit_schema: pg_audit\n", `t.yaml:11:15: audit_schema: "pg_audit" is reserved by PostgreSQL`},
		{"information_schema audit schema", minimal + "audit_schema: information_schema\n",
			`t.yaml:11:15: audit_schema: "information_schema" is reserved by PostgreSQL`},
		{"long audit schema", minimal + "audit_schema: " + strings.Repeat("a", 64) + "\n",
			`t.yaml:11:15: audit_schema: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…" is longer than 63 bytes`},

		// migrations and package.
		{"bad format", "version: 1\nschema: {files: [a]}\nmigrations:\n  dir: m\n  format: flyway\npackage: {dir: p}\ntables: {users: {}}\n",
			`t.yaml:5:11: migrations.format: unsupported format "flyway" (want one of: goose, golang-migrate, tern, dbmate, atlas, plain)`},
		{"empty migrations dir", "version: 1\nschema: {files: [a]}\nmigrations:\n  dir: \"\"\n", "t.yaml:4:8: migrations.dir: must not be empty"},
		{"bad package name", "version: 1\nschema: {files: [a]}\nmigrations: {dir: m, format: goose}\npackage:\n  dir: p\n  name: my-audit\ntables: {users: {}}\n",
			`t.yaml:6:9: package.name: "my-audit" is not a valid Go package name (want a Go identifier that is not a keyword or _)`},
		{"keyword package name", "version: 1\nschema: {files: [a]}\nmigrations: {dir: m, format: goose}\npackage:\n  dir: p\n  name: func\ntables: {users: {}}\n",
			`t.yaml:6:9: package.name: "func" is not a valid Go package name (want a Go identifier that is not a keyword or _)`},
		{"bad package dir name", "version: 1\nschema: {files: [a]}\nmigrations: {dir: m, format: goose}\npackage:\n  dir: internal/my-audit\ntables: {users: {}}\n",
			`t.yaml:5:8: package.dir: the directory name "my-audit" is not a valid Go package name; set package.name`},

		// Columns.
		{"excluded and masked", head + "tables:\n  users:\n    exclude: [email]\n    mask: [name, email]\n",
			`t.yaml:12:18: tables.users: column "email" is both excluded and masked`},
		{"duplicate column", head + "tables:\n  users:\n    mask: [email, email]\n",
			`t.yaml:11:19: tables.users.mask: column "email" is listed twice`},
		// A key column masked or excluded is refused by the generator, which
		// knows the primary key (generator.Resolve).
		{"empty key", head + "tables:\n  users:\n    key: []\n",
			"t.yaml:11:10: tables.users.key: list at least one column (or remove key to use the primary key)"},

		// Placeholder.
		{"empty placeholder", head + "tables:\n  users:\n    mask_placeholder: \"\"\n",
			"t.yaml:11:23: tables.users.mask_placeholder: must not be empty"},
		{"long placeholder", head + "tables:\n  users:\n    mask_placeholder: " + strings.Repeat("é", 201) + "\n",
			"t.yaml:11:23: tables.users.mask_placeholder: is 201 characters long (at most 200)"},
		{"newline placeholder", head + "tables:\n  users:\n    mask_placeholder: \"a\\nb\"\n",
			"t.yaml:11:23: tables.users.mask_placeholder: must not contain control characters (found U+000A)"},
		{"tab placeholder", head + "tables:\n  users:\n    mask_placeholder: \"a\\tb\"\n",
			"t.yaml:11:23: tables.users.mask_placeholder: must not contain control characters (found U+0009)"},

		// Retention.
		{"retention both", minimal + "retention:\n  keep_days: 1\n  max_age_seconds: 60\n",
			"t.yaml:13:20: retention: set only one of keep_days and max_age_seconds"},
		{"retention neither", minimal + "retention:\n  enabled: true\n",
			"t.yaml:11:1: retention: set keep_days or max_age_seconds"},
		{"retention null", minimal + "retention:\n", "t.yaml:11:1: retention: set keep_days or max_age_seconds"},
		{"retention negative", minimal + "retention:\n  keep_days: -3\n", "t.yaml:12:14: retention.keep_days: must be positive, got -3"},
		{"retention zero seconds", minimal + "retention:\n  max_age_seconds: 0\n", "t.yaml:12:20: retention.max_age_seconds: must be positive, got 0"},
		{"retention too long", minimal + "retention:\n  keep_days: 36501\n", "t.yaml:12:14: retention.keep_days: 36501 is too large (at most 36500)"},
		{"batch size zero", minimal + "retention:\n  keep_days: 1\n  batch_size: 0\n", "t.yaml:13:15: retention.batch_size: must be positive, got 0"},
		{"max batches negative", minimal + "retention:\n  keep_days: 1\n  max_batches: -1\n", "t.yaml:13:16: retention.max_batches: must be positive, got -1"},

		// Tables.
		{"same table twice", head + "tables:\n  users: {}\n  public.users: {}\n",
			`t.yaml:11:3: tables.public.users: duplicate table public.users (already listed as "users" at line 10)`},
		{"sql-quoted duplicate", head + "tables:\n  billing.invoices: {}\n  '\"billing\".\"invoices\"': {}\n",
			`t.yaml:11:3: tables."billing"."invoices": duplicate table billing.invoices (already listed as "billing.invoices" at line 10)`},
		{"own table qualified", head + "tables:\n  threadline.audit_changes: {}\n",
			"t.yaml:10:3: tables.threadline.audit_changes: threadline.audit_changes is one of Threadline's own audit tables"},
		{"own table unqualified", head + "tables:\n  audit_transactions: {}\n",
			"t.yaml:10:3: tables.audit_transactions: audit_transactions is one of Threadline's own audit tables (write public.audit_transactions if you mean a table of your own)"},
		{"own table custom audit schema", head + "tables:\n  users: {}\n  audit.audit_actions: {}\naudit_schema: audit\n",
			"t.yaml:11:3: tables.audit.audit_actions: audit.audit_actions is one of Threadline's own audit tables"},
		{"table in audit schema", head + "tables:\n  threadline.notes: {}\n",
			`t.yaml:10:3: tables.threadline.notes: threadline.notes is in the audit schema "threadline", which holds Threadline's own audit tables; audited tables must live elsewhere`},

		// Coverage.
		{"coverage duplicate", minimal + "coverage:\n  expected_tables: [users, public.users]\n",
			"t.yaml:12:28: coverage.expected_tables: table public.users is listed twice"},
		{"coverage bad name", minimal + "coverage:\n  expected_tables: [a.b.c]\n",
			`t.yaml:12:21: coverage.expected_tables[0]: table name "a.b.c": want table or schema.table`},
		{"coverage unknown key", minimal + "coverage:\n  tables: [a]\n",
			`t.yaml:12:3: unknown key "tables" in coverage (allowed: expected_tables, ignore_tables)`},

		// First error wins.
		{"earliest problem first", head + "tables:\n  users:\n    mask_placeholder: \"\"\naudit_schema: Bad\n",
			"t.yaml:11:23: tables.users.mask_placeholder: must not be empty"},
		{"structural before validation", head + "audit_schema: Bad\ntables:\n  users:\n    nope: 1\n",
			`t.yaml:12:5: unknown key "nope" in tables.users (allowed: exclude, mask, mask_placeholder, store_changed_from, except_columns, capture, key)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(f, []byte(tt.yaml), nil)
			if err == nil {
				t.Fatalf("no error, got config %+v", c)
			}
			if c != nil {
				t.Errorf("config returned with error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{"${DB_URL}", "postgres://localhost/app"},
		{"$DB_URL", "postgres://localhost/app"},
		{"${UNSET}", ""},
		{"$UNSET", ""},
		{"postgres://u:${PASS}@h/${DB}?sslmode=disable", "postgres://u:pw@h/app?sslmode=disable"},
		{"postgres://u:pa$$word@h/db", "postgres://u:pa$word@h/db"},
		{"postgres://u:p$1@h/db$", "postgres://u:p$1@h/db$"},
		{"$PASS-$DB.x", "pw-app.x"},
		{"${DB}_suffix", "app_suffix"},
		{"$DB_suffix", ""},
	}
	getenv := env(map[string]string{"DB_URL": "postgres://localhost/app", "PASS": "pw", "DB": "app"})
	for _, tt := range tests {
		y := "version: 1\nschema:\n  database_url: '" + tt.raw + "'\n  files: [x.sql]\nmigrations: {dir: m, format: goose}\npackage: {dir: p}\ntables: {users: {}}\n"
		c, err := Parse("t.yaml", []byte(y), getenv)
		if err != nil {
			t.Errorf("%s: %v", tt.raw, err)
			continue
		}
		if c.Schema.DatabaseURL != tt.want || c.Schema.DatabaseURLRaw != tt.raw {
			t.Errorf("%s: got (%q, raw %q), want %q", tt.raw, c.Schema.DatabaseURL, c.Schema.DatabaseURLRaw, tt.want)
		}
	}
}

func TestNoExpansionElsewhere(t *testing.T) {
	y := head + "tables:\n  users:\n    mask_placeholder: ${SECRET}\n    mask: [$col]\n"
	c, err := Parse("t.yaml", []byte(y), env(map[string]string{"SECRET": "x", "col": "y"}))
	if err != nil {
		t.Fatal(err)
	}
	tb := c.Tables[0]
	if tb.MaskPlaceholder != "${SECRET}" || tb.Mask[0].Value != "$col" {
		t.Errorf("expanded outside database_url: %q %q", tb.MaskPlaceholder, tb.Mask[0].Value)
	}
}

func TestRelativePaths(t *testing.T) {
	root := t.TempDir()
	y := "version: 1\nschema:\n  files: [schema/*.sql, ../shared/*.sql, " + filepath.Join(root, "abs", "*.sql") +
		"]\nmigrations: {dir: db/migrations, format: plain}\npackage: {dir: ../gen/audit}\ntables: {users: {}}\n"
	for _, path := range []string{filepath.Join(root, "svc", "threadline.yaml"), "svc/threadline.yaml", "threadline.yaml"} {
		c, err := Parse(path, []byte(y), nil)
		if err != nil {
			t.Fatal(err)
		}
		dir, _ := filepath.Abs(filepath.Dir(path))
		if c.Dir != dir || c.Path != path {
			t.Errorf("%s: Dir = %q Path = %q, want %q", path, c.Dir, c.Path, dir)
		}
		wantFiles := []string{filepath.Join(dir, "schema", "*.sql"), filepath.Join(filepath.Dir(dir), "shared", "*.sql"), filepath.Join(root, "abs", "*.sql")}
		if !reflect.DeepEqual(c.Schema.Files, wantFiles) {
			t.Errorf("%s: Files = %q, want %q", path, c.Schema.Files, wantFiles)
		}
		if want := filepath.Join(dir, "db", "migrations"); c.Migrations.Dir != want {
			t.Errorf("%s: Migrations.Dir = %q, want %q", path, c.Migrations.Dir, want)
		}
		if want := filepath.Join(filepath.Dir(dir), "gen", "audit"); c.Package.Dir != want || c.Package.Name != "audit" {
			t.Errorf("%s: Package = %+v, want dir %q", path, c.Package, want)
		}
	}
}

func TestBothSourcesAllowed(t *testing.T) {
	y := "version: 1\nschema:\n  database_url: ${DATABASE_URL}\n  files: [a.sql]\nmigrations: {dir: m, format: tern}\npackage: {dir: p}\ntables: {users: ~}\n"
	c, err := Parse("t.yaml", []byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Schema.DatabaseURL != "" || len(c.Schema.Files) != 1 {
		t.Errorf("schema = %+v", c.Schema)
	}
	// A URL that expands to "" still counts as set: the generator decides
	// what to do without a live database.
	y = "version: 1\nschema:\n  database_url: ${DATABASE_URL}\nmigrations: {dir: m, format: tern}\npackage: {dir: p}\ntables: {users: ~}\n"
	if _, err := Parse("t.yaml", []byte(y), nil); err != nil {
		t.Fatal(err)
	}
}

func TestAliases(t *testing.T) {
	y := head + "tables:\n  users:\n    mask: &pii [email, phone]\n  customers:\n    mask: *pii\n"
	c, err := Parse("t.yaml", []byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Tables[1].Mask; len(got) != 2 || got[1].Value != "phone" {
		t.Errorf("alias not followed: %+v", got)
	}
}

func TestTableByName(t *testing.T) {
	c, err := Parse("t.yaml", []byte(head+"tables:\n  users: {}\n  billing.invoices: {}\n  '\"Odd\".\"T.x\"': {}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		q    schema.QualifiedName
		want string
	}{
		{schema.QualifiedName{Schema: "public", Name: "users"}, "users"},
		{schema.QualifiedName{Schema: "billing", Name: "invoices"}, "billing.invoices"},
		{schema.QualifiedName{Schema: "Odd", Name: "T.x"}, `"Odd"."T.x"`},
		{schema.QualifiedName{Schema: "other", Name: "users"}, ""},
	} {
		got := c.TableByName(tt.q)
		switch {
		case got == nil && tt.want != "":
			t.Errorf("TableByName(%v) = nil, want %s", tt.q, tt.want)
		case got != nil && got.Name.Value != tt.want:
			t.Errorf("TableByName(%v) = %s, want %q", tt.q, got.Name.Value, tt.want)
		}
	}
	// Hand-built tables (not from Parse) resolve their name on the fly.
	hand := &Config{Tables: []*Table{{Name: Name{Value: "billing.invoices"}}, {Name: Name{Value: "users"}}}}
	if got := hand.TableByName(schema.QualifiedName{Schema: "public", Name: "users"}); got == nil || got.Name.Value != "users" {
		t.Errorf("hand-built TableByName = %v", got)
	}
}

func TestWindow(t *testing.T) {
	for _, tt := range []struct {
		r    Retention
		want time.Duration
	}{
		{Retention{KeepDays: 90}, 90 * 24 * time.Hour},
		{Retention{MaxAgeSeconds: 90}, 90 * time.Second},
		{Retention{}, 0},
	} {
		if got := tt.r.Window(); got != tt.want {
			t.Errorf("%+v.Window() = %v, want %v", tt.r, got, tt.want)
		}
	}
}

func TestBoolForms(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "false": false, "yes": true, "off": false, "True": true} {
		c, err := Parse("t.yaml", []byte(head+"tables:\n  users:\n    store_changed_from: "+in+"\n"), nil)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if c.Tables[0].StoreChangedFrom != want {
			t.Errorf("%s: got %v", in, c.Tables[0].StoreChangedFrom)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "threadline.yaml")
	y := strings.Replace(minimal, "  files: [db/*.sql]\n", "  database_url: ${THREADLINE_TEST_URL}\n", 1)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("THREADLINE_TEST_URL", "postgres://x/y")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Schema.DatabaseURL != "postgres://x/y" || c.Dir != dir {
		t.Errorf("Load: url %q dir %q", c.Schema.DatabaseURL, c.Dir)
	}

	missing := filepath.Join(dir, "nope.yaml")
	_, err = Load(missing)
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want *Error wrapping fs.ErrNotExist", err)
	}
	if want := missing + ": cannot read config: no such file or directory"; err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
}

func TestPosString(t *testing.T) {
	for _, tt := range []struct {
		p    Pos
		want string
	}{
		{Pos{"a.yaml", 3, 4}, "a.yaml:3:4"},
		{Pos{"a.yaml", 3, 0}, "a.yaml:3"},
		{Pos{"a.yaml", 0, 0}, "a.yaml"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestStarterParses(t *testing.T) {
	c, err := Parse("threadline.yaml", Starter(), nil)
	if err != nil {
		t.Fatalf("starter does not parse: %v", err)
	}
	if c.Migrations.Format != "goose" || c.Package.Name != "audit" || len(c.Tables) != 1 || c.Tables[0].Name.Value != "users" {
		t.Errorf("starter config = %+v", c)
	}
	// The schema is read from the migrations the config writes beside.
	if len(c.Schema.Files) != 1 || filepath.Dir(c.Schema.Files[0]) != c.Migrations.Dir {
		t.Errorf("starter schema = %+v, migrations = %+v", c.Schema, c.Migrations)
	}
	s := Starter()
	s[0] = 'X'
	if Starter()[0] == 'X' {
		t.Error("Starter returns shared bytes")
	}
}

func TestExampleParses(t *testing.T) {
	path := filepath.Join("..", "..", "threadline.yaml.example")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(path, data, env(map[string]string{"DATABASE_URL": "postgres://localhost/app"}))
	if err != nil {
		t.Fatalf("example does not parse: %v", err)
	}
	if c.Schema.DatabaseURL != "postgres://localhost/app" {
		t.Errorf("database url = %q", c.Schema.DatabaseURL)
	}
	users := c.TableByName(schema.QualifiedName{Schema: "public", Name: "users"})
	if users == nil || !users.StoreChangedFrom || len(users.Exclude) != 1 || len(users.Mask) != 1 || len(users.ExceptColumns) != 1 {
		t.Errorf("users = %+v", users)
	}
	if c.Retention.Window() != 90*24*time.Hour || c.Retention.Pos == (Pos{}) {
		t.Errorf("retention = %+v", c.Retention)
	}
	// Every documented key appears in the example.
	for _, key := range []string{
		"version:", "database_url:", "files:", "audit_schema:", "migrations:", "dir:", "format:", "package:", "name:",
		"tables:", "exclude:", "mask:", "mask_placeholder:", "store_changed_from:", "except_columns:", "key:",
		"coverage:", "expected_tables:", "ignore_tables:", "retention:", "enabled:", "keep_days:", "max_age_seconds:", "batch_size:",
		"max_batches:", "delete_empty_transactions:",
	} {
		if !strings.Contains(string(data), key) {
			t.Errorf("example does not document %s", key)
		}
	}
}

func TestFilesGlobInOddDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj[1]*")
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	sql := filepath.Join(dir, "db", "001.sql")
	if err := os.WriteFile(sql, []byte("create table t (id int);"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(filepath.Join(dir, "threadline.yaml"), []byte(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := filepath.Glob(c.Schema.Files[0])
	if err != nil || len(got) != 1 || got[0] != sql {
		t.Errorf("Glob(%q) = %q, %v; want [%q]", c.Schema.Files[0], got, err, sql)
	}
}

func TestParsePrivileges(t *testing.T) {
	base := "version: 1\nschema:\n  files: [s.sql]\nmigrations:\n  dir: m\n  format: goose\npackage:\n  dir: a\ntables:\n  users: {}\n"
	cfg, err := Parse("t.yaml", []byte(base+"privileges:\n  writer_roles: [app]\n  reader_roles: [auditor, bi]\n  retention_roles: [ops]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := [][]Name{cfg.Privileges.WriterRoles, cfg.Privileges.ReaderRoles, cfg.Privileges.RetentionRoles}
	want := [][]string{{"app"}, {"auditor", "bi"}, {"ops"}}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("roles %d = %v", i, got[i])
		}
		for j := range want[i] {
			if got[i][j].Value != want[i][j] {
				t.Errorf("roles %d/%d = %q", i, j, got[i][j].Value)
			}
		}
	}
	for text, msg := range map[string]string{
		"privileges:\n  writers: [app]\n":       `t.yaml:12:3: unknown key "writers" in privileges (allowed: writer_roles, reader_roles, retention_roles)`,
		"privileges:\n  reader_roles: [a, a]\n": `t.yaml:12:21: privileges.reader_roles: role "a" is listed twice`,
	} {
		_, err := Parse("t.yaml", []byte(base+text), nil)
		if err == nil || err.Error() != msg {
			t.Errorf("%q: err = %v, want %s", text, err, msg)
		}
	}
}
