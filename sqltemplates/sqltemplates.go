// Package sqltemplates renders the SQL that Threadline installs: the audit
// schema (tables, indexes, helper functions) and, for every audited table,
// one generated capture function with its triggers.
//
// The templates are embedded text/template files (core.sql.tmpl,
// capture.sql.tmpl). Every identifier they emit is quoted with QuoteIdent
// and every literal with QuoteLiteral; the functions they create pin
// search_path, so the session's search_path never changes what they do.
package sqltemplates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
	"github.com/threadline-go/threadline/schema"
)

//go:embed *.sql.tmpl
var files embed.FS

// templates is parsed once; it is immutable after init.
var templates = template.Must(template.ParseFS(files, "*.sql.tmpl"))

// MaxIDChars bounds the request and correlation ids a header keeps
// (contract.MaxIDChars).
const MaxIDChars = contract.MaxIDChars

// QuoteIdent quotes an identifier for PostgreSQL: "a""b".
func QuoteIdent(s string) string { return contract.QuoteIdent(s) }

// QuoteLiteral quotes a string literal (contract.QuoteLiteral).
func QuoteLiteral(s string) string { return contract.QuoteLiteral(s) }

// Statement is one SQL statement (no trailing semicolon).
type Statement = string

type coreData struct {
	S             string
	MaxActorBytes int
	MaxIDChars    int
	Role          string
	// AttributionTxLit is the quoted name of the setting that binds the
	// attribution settings to a transaction, TxStart the SQL expression
	// of its value for the current transaction (contract.TxStartSQL).
	AttributionTxLit, TxStart string
	// ActionBounds are record_action's bounded texts.
	ActionBounds []actionBound
	// Partitioned storage: the unit ("day", "week", "month"; "" when not
	// partitioned), quoted, the interval literal of one unit, and the
	// partitions kept ahead.
	Part, PartLit, IntervalLit, SLit string
	Premake                          int
	// Retention: the shortest window a purge may use, in whole seconds
	// (0 refuses every purge), and the lock_timeout literal of the
	// functions whose locks could queue the application's writes.
	RetentionSeconds int64
	LockTimeoutLit   string
	// The seal: its record fields and expressions (sealFields,
	// sealRecord) and the format's constants (contract).
	SealTransactionFields, SealTransactionRecord string
	SealChangeFields, SealChangeRecord           string
	// SealSnapshotField and SealPurgeFields encode the seal's snapshot
	// and a purge record's cutoff and time (p) as the head holds them.
	SealSnapshotField, SealPurgeFields string
	// SealFieldEncoding is the body of seal_field (sealFieldEncoding).
	SealFieldEncoding      string
	SealVersion, SealChunk int
}

// Storage is how the audit data is kept: its layout (config.Storage)
// and how long at least (config.Retention.Window).
type Storage struct {
	// Unit is "day", "week" or "month" for time-partitioned audit
	// tables, "" for plain ones.
	Unit string `json:"unit,omitempty"`
	// Premake is the number of future partitions kept ready.
	Premake int `json:"premake,omitempty"`
	// Retention is the retention window: the purge functions refuse a
	// cutoff younger than now minus Retention (whole seconds), and every
	// purge when it is 0.
	Retention time.Duration `json:"retention,omitempty"`
	// WAL is set for engine: wal (wal.go): Functions then adds the
	// publication and the WAL engine's tables and attribute.
	WAL *WALCore `json:"wal,omitempty"`
}

// lockTimeout bounds the wait of every lock that maintenance and purge
// functions take and that could queue the application's writes behind
// it; the Go caller retries with backoff (threadlineops).
const lockTimeout = "50ms"

func newCoreData(auditSchema string, st Storage) coreData {
	d := coreData{S: QuoteIdent(auditSchema), SLit: QuoteLiteral(auditSchema), MaxActorBytes: contract.MaxActorRefBytes, MaxIDChars: MaxIDChars,
		SealFieldEncoding: sealFieldEncoding, SealVersion: contract.SealVersion, SealChunk: contract.SealChunk}
	n, c := len(contract.SealTransactionFields()), len(contract.SealChangeFields())
	d.SealTransactionFields, d.SealTransactionRecord = sealFields(contract.SealTransactionFields()), sealRecord(d.S, 'T', "tf", n)
	d.SealChangeFields, d.SealChangeRecord = sealFields(contract.SealChangeFields()), sealRecord(d.S, 'C', "cf", c)
	d.SealSnapshotField = sealText(d.S, "r_snapshot")
	d.SealPurgeFields = sealText(d.S, sealTime("p.cutoff")) + " || " + sealText(d.S, sealTime("p.purged_at"))
	d.ActionBounds = actionBounds()
	d.AttributionTxLit, d.TxStart = QuoteLiteral(contract.SettingAttributionTx), contract.TxStartSQL
	d.RetentionSeconds, d.LockTimeoutLit = int64(st.Retention/time.Second), QuoteLiteral(lockTimeout)
	if st.Unit != "" {
		d.Part, d.PartLit, d.IntervalLit, d.Premake = st.Unit, QuoteLiteral(st.Unit), QuoteLiteral("1 "+st.Unit), st.Premake
	}
	return d
}

// sealFields renders a LATERAL subquery that evaluates each field of a
// canonical seal record once, as UTF-8 bytes (NULL stays NULL), named f1,
// f2, …. OFFSET 0 keeps the planner from pulling the expressions up into
// every place the record uses them.
func sealFields(fields []contract.SealField) string {
	exprs := make([]string, len(fields))
	for i, f := range fields {
		x := f.Expr
		if f.Time {
			x = sealTime(f.Expr)
		}
		exprs[i] = fmt.Sprintf("convert_to(%s, 'UTF8') AS f%d", x, i+1)
	}
	return "(SELECT " + strings.Join(exprs, ", ") + " OFFSET 0)"
}

// sealRecord renders the SQL expression of a canonical seal record (see
// runtime/threadlineops/canonical.go) over the fields sealFields named,
// as alias.f1, …: "tl1", the kind, then each field (seal_field).
func sealRecord(s string, kind byte, alias string, n int) string {
	parts := []string{"convert_to('tl1" + string(kind) + "', 'UTF8')"}
	for i := 1; i <= n; i++ {
		parts = append(parts, sealField(s, fmt.Sprintf("%s.f%d", alias, i)))
	}
	return strings.Join(parts, "\n            || ")
}

// sealFieldEncoding is the encoding of one seal record field, $1 a bytea:
// 0x00 for NULL, else 0x01, its length (4 bytes, big-endian) and its
// bytes. It is the body of the audit schema's seal_field function, which
// PostgreSQL inlines into seal()'s queries (a SQL function of one
// expression, not strict, without SET clauses), so naming it costs no
// call per field.
const sealFieldEncoding = "CASE WHEN $1 IS NULL THEN pg_catalog.decode('00', 'hex')\n" +
	"        ELSE pg_catalog.decode('01', 'hex') || pg_catalog.int4send(pg_catalog.octet_length($1)) || $1 END"

// sealField renders one seal record field: seal_field over b, a bytea
// expression.
func sealField(s, b string) string { return s + ".seal_field(" + b + ")" }

// sealTime renders a timestamp expression as a seal record holds it: in
// UTC to the microsecond (contract.SealTimeSQL, as SealTimeLayout in Go).
func sealTime(expr string) string {
	return "to_char(" + expr + " AT TIME ZONE 'UTC', " + QuoteLiteral(contract.SealTimeSQL) + ")"
}

// sealText renders a text expression as one seal record field.
func sealText(s, expr string) string { return sealField(s, "convert_to("+expr+", 'UTF8')") }

// Grants names the roles the install grants access to (see
// config.Privileges). Every list may be empty.
type Grants struct {
	// Writers get USAGE on the audit schema and EXECUTE on record_action
	// and attribute.
	Writers []string `json:"writers,omitempty"`
	// Readers get USAGE and SELECT on the audit tables and the seals
	// (and, with partitioned storage, EXECUTE on expired_partitions, which
	// reads with their rights, for a purge's dry run).
	Readers []string `json:"readers,omitempty"`
	// Retention roles get USAGE, SELECT, and EXECUTE on the purge
	// functions (lock_purge, begin_purge, purge_changes,
	// purge_transactions; with partitioned storage maintain_partitions,
	// expired_partitions and drop_partition): no DELETE, TRUNCATE or
	// lock-taking privilege on any audit table. They seal too (EXECUTE on
	// seal(); no write on the seal tables, revoked from earlier releases).
	Retention []string `json:"retention,omitempty"`
}

func render(name string, data any) Statement {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		// The templates are fixed and their data is built in this package:
		// a failure is a programming error caught by the package's tests.
		panic(fmt.Sprintf("sqltemplates: render %s: %v", name, err))
	}
	return b.String()
}

// Install returns the statements that create the audit schema, its tables,
// indexes and helper functions, and grant access to the given roles.
// Close the migration with RevokeFunctions.
func Install(auditSchema string, g Grants, st Storage) []Statement {
	d := newCoreData(auditSchema, st)
	names := append([]string{"schema", "actions", "actions_correlation_idx"}, dataTables(st)...)
	var out []Statement
	for _, name := range names {
		out = append(out, render(name, d))
	}
	return append(out, Functions(auditSchema, g, st)...)
}

// Functions returns the part of Install that is safe to run again on an
// installed schema (CREATE … IF NOT EXISTS, CREATE OR REPLACE, GRANT): an
// update migration runs it when the helper functions or grants change.
// Close the migration with RevokeFunctions.
func Functions(auditSchema string, g Grants, st Storage) []Statement {
	d := newCoreData(auditSchema, st)
	names := []string{
		"transactions_txid_idx", "purge_lock", "purge_lock_comment",
		"seals", "seals_comment", "seal_entries", "purges", "purges_comment",
		"seal_field", "seal", "actor_ref_valid", "parse_actor_ref", "current_transaction_id", "attribute", "record_action",
	}
	names = append(names, "purge_cutoff", "recorded_cutoff", "begin_purge", "purge_changes", "purge_transactions", "lock_purge")
	if st.Unit != "" {
		names = append(names, "maintain_partitions", "expired_partitions", "drop_partition", "maintain_now")
	}
	// Before the grants: they give back what revoke_table_writes takes.
	names = append(names, "revoke_table_writes")
	var out []Statement
	for _, name := range names {
		out = append(out, render(name, d))
	}
	grant := func(roles []string, templates ...string) {
		for _, r := range roles {
			rd := d
			rd.Role = QuoteIdent(r)
			for _, t := range templates {
				out = append(out, render(t, rd))
			}
		}
	}
	grant(g.Writers, "grant_usage", "grant_writer", "grant_attribute")
	grant(g.Readers, "grant_usage", "grant_reader", "grant_seal_reader")
	grant(g.Retention, "grant_usage", "grant_reader", "grant_seal_reader", "grant_retention", "revoke_seal_writes", "grant_sealer")
	if st.Unit != "" {
		grant(g.Readers, "grant_partitions_reader")
		grant(g.Retention, "grant_partitions")
	}
	return append(out, walFunctions(d, st)...)
}

// Upgrade returns the statements that bring an installed audit schema of
// an earlier release to this one: what Install would create differently,
// then Functions. An update migration runs it when the helper functions or
// grants change.
func Upgrade(auditSchema string, g Grants, st Storage) []Statement {
	d := newCoreData(auditSchema, st)
	// An earlier release's drop_partitions took any cutoff, NULL included.
	out := append(changesUpgrade(d), render("drop_old_functions", d))
	out = append(out, Functions(auditSchema, g, st)...)
	return append(out, sealUpgrade(d)...)
}

// sealUpgrade returns what seal tables of an earlier release lack for
// seals of version 2 (the columns the head covers, and the purge records'
// transaction ids, by which seals divide them). Their purge records get
// the upgrade's transaction id, so the next seal covers them.
func sealUpgrade(d coreData) []Statement {
	return []Statement{render("seals_v2", d), render("purges_v2", d)}
}

// changesUpgrade returns what an audit_changes table of an earlier release
// lacks, for Upgrade and SwitchToPartitions: the op CHECK dropped (only the
// capture functions write the table, and a CHECK costs every insert an
// expression set-up; docs/benchmarks.md), and the row index as a btree.
func changesUpgrade(d coreData) []Statement {
	return []Statement{render("changes_drop_op_check", d), render("changes_row_idx_btree", d)}
}

// dataTables names the templates of audit_transactions and audit_changes
// with their indexes, and their default partitions when partitioned.
func dataTables(st Storage) []string {
	names := []string{
		"transactions", "transactions_action_idx", "transactions_actor_idx", "transactions_started_idx",
		"changes", "changes_row_idx", "changes_row_before_idx", "changes_truncate_idx", "changes_transaction_idx", "changes_captured_idx",
	}
	if st.Unit != "" {
		names = append(names, "transactions_default", "changes_default")
	}
	return names
}

// SwitchToPartitions returns the statements that turn an installed plain
// audit schema into partitioned storage: the old tables become the first
// partitions of new partitioned ones (every row stays readable), then
// Functions. st must be partitioned.
func SwitchToPartitions(auditSchema string, g Grants, st Storage) []Statement {
	d := newCoreData(auditSchema, st)
	out := append(changesUpgrade(d), render("switch_rename", d))
	// The unique (txid, started_at) index must exist on the new table
	// before the attach (the old table's matches it); Functions creates it
	// again IF NOT EXISTS.
	for _, name := range append(dataTables(st), "transactions_txid_idx", "switch_attach") {
		out = append(out, render(name, d))
	}
	out = append(out, Functions(auditSchema, g, st)...)
	return append(out, sealUpgrade(d)...)
}

// RevokeFunctions returns the statement that closes every migration that
// creates functions in the audit schema: it revokes them all from PUBLIC.
// PostgreSQL grants EXECUTE to PUBLIC on every new function, and a
// per-schema ALTER DEFAULT PRIVILEGES cannot take that away, so the revoke
// must run after the functions exist, in the same migration. Grants to
// named roles (record_action for the writers) are not affected.
func RevokeFunctions(auditSchema string) Statement {
	return render("revoke_functions", newCoreData(auditSchema, Storage{}))
}

// RevokeRoles returns the statements that take from every role g names
// each privilege it holds on the audit schema and what it holds: the
// down of a grant update runs them before granting the previous roles
// again.
func RevokeRoles(auditSchema string, g Grants) []Statement {
	d := newCoreData(auditSchema, Storage{})
	seen := map[string]bool{}
	var out []Statement
	for _, r := range slices.Concat(g.Writers, g.Readers, g.Retention) {
		if !seen[r] {
			seen[r] = true
			rd := d
			rd.Role = QuoteIdent(r)
			out = append(out, strings.Split(render("revoke_role", rd), ";\n")...)
		}
	}
	return out
}

// Uninstall returns the statements that drop the audit schema and all it
// holds, audit data included. Drop capture units first.
func Uninstall(auditSchema string) []Statement {
	return []Statement{render("drop_schema", newCoreData(auditSchema, Storage{}))}
}

// Mode says how a table's changes are captured (contract.Mode).
type Mode = contract.Mode

// The capture modes.
const (
	ModeStatement = contract.ModeStatement
	ModeRow       = contract.ModeRow
)

// Capture is the one record of how a table is captured. The generator
// resolves it from the config and the schema; the SQL templates
// (CaptureUnit) and the Go generator read it; a migration's
// threadline:table header stores it as JSON (the tags below), and the next
// run reads it back to drop or replace what that migration installed.
type Capture struct {
	// AuditSchema is where the audit tables live.
	AuditSchema string `json:"-"`
	// Table is the audited table.
	Table schema.QualifiedName `json:"-"`
	// Columns lists every column of the table.
	Columns []string `json:"columns"`
	// Key lists the columns stored in table_pk, in key order.
	Key []string `json:"key"`
	// Exclude lists columns that never reach any audit column.
	Exclude []string `json:"exclude,omitempty"`
	// Mask lists columns stored as Placeholder (NULL stays NULL).
	Mask []string `json:"mask,omitempty"`
	// Placeholder replaces masked values; set only when Mask is not empty.
	Placeholder string `json:"placeholder,omitempty"`
	// Except lists columns ignored when deciding whether an UPDATE changed
	// anything (they are still stored in the row image).
	Except []string `json:"except,omitempty"`
	// StoreChangedFrom stores the prior values of changed columns.
	StoreChangedFrom bool `json:"store_changed_from,omitempty"`
	// Mode chooses row-level or statement-level triggers. Headers store
	// it as "row": true (see contract.Mode).
	Mode Mode `json:"row,omitzero"`
	// TruncateAlso lists further tables (partitions) that get a TRUNCATE
	// trigger calling the same function.
	TruncateAlso []schema.QualifiedName `json:"truncate_also,omitempty"`
	// Unpinned is set when no column's image depends on TimeZone,
	// IntervalStyle or bytea_output (see SettingsFree): the capture
	// function then pins search_path only. Records of earlier releases
	// lack it: they pinned all four.
	Unpinned bool `json:"unpinned,omitempty"`
	// WAL is set when the table is captured by engine: wal (wal.go):
	// CaptureUnit then renders a publication membership, no trigger.
	WAL *WALCapture `json:"wal,omitempty"`
}

// SettingsFree reports whether the JSON image of a column of type t is
// the same whatever the session's TimeZone, IntervalStyle and
// bytea_output: built-in types other than timestamptz, interval and bytea
// (and money, whose text follows lc_monetary), enums, and arrays of those. Composite and other user types may hold
// anything and count as dependent.
func SettingsFree(t schema.Type) bool {
	if t.Enum {
		return true
	}
	if t.Schema != "pg_catalog" {
		return false
	}
	switch t.Name {
	case "timestamptz", "interval", "bytea", "money":
		return false
	}
	return true
}

// ChangedFromColumns lists, in column order, the columns whose prior value
// an update may store in changed_from: those that count as a change (not
// in Except, see ChangedList) and whose values are recorded (not in
// Exclude, see ChangedFrom).
func (c *Capture) ChangedFromColumns() []string {
	var out []string
	for _, col := range c.Columns {
		if !slices.Contains(c.Except, col) && !slices.Contains(c.Exclude, col) {
			out = append(out, col)
		}
	}
	return out
}

// Unit is everything installed for one audited table.
type Unit struct {
	Table schema.QualifiedName
	// Function is the quoted, schema-qualified capture function name.
	Function string
	// Fingerprint identifies the generated SQL: "sha256:<hex>".
	Fingerprint string
	// Create installs (or replaces) the function, its comment and the
	// triggers. It fails when a Threadline trigger is already on the table:
	// run Clear first where one may be.
	Create []Statement
	// Clear drops every Threadline trigger the table (and the partitions
	// of TruncateAlso) may hold, whatever capture installed it (a renamed
	// table keeps the triggers of its old name; a changed capture mode
	// leaves the other mode's). DROP TRIGGER IF EXISTS: PostgreSQL prints
	// a NOTICE for each that is not there, so it belongs where one may be,
	// not in a first install.
	Clear []Statement
	// Drop removes the triggers (Clear) and the function.
	Drop []Statement
}

// FunctionName returns the unquoted capture function name for a table:
// "capture_" + a readable, lower-cased prefix of schema_table + "_" + 8 hex
// digits of a hash of the exact qualified name. It is at most 58 bytes and
// distinct for distinct tables, however long or similar their names.
func FunctionName(t schema.QualifiedName) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Schema + "_" + t.Name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	readable := b.String()
	if len(readable) > 40 {
		readable = readable[:40]
	}
	sum := sha256.Sum256([]byte(t.Schema + "\x00" + t.Name))
	return "capture_" + readable + "_" + hex.EncodeToString(sum[:4])
}

type captureData struct {
	c                *Capture
	S                string
	Func             string
	On               string
	Trigger          string
	Comment          string
	ModeComment      string
	SchemaLit        string
	NameLit          string
	Row              bool
	FingerprintLit   string
	StoreChangedFrom bool
	// Excluded is true when the table has excluded columns.
	Excluded bool
	// OnLit is the quoted table name as a literal, for ::regclass.
	OnLit string
	// Unpinned drops the session-setting SET clauses (Capture.Unpinned).
	Unpinned bool
}

func (d captureData) has(list []string, col string) bool {
	for _, c := range list {
		if c == col {
			return true
		}
	}
	return false
}

// KeyOf renders the table_pk object built from row image x.
func (d captureData) KeyOf(x string) string {
	parts := make([]string, 0, 2*len(d.c.Key))
	for _, k := range d.c.Key {
		parts = append(parts, QuoteLiteral(k), x+"->"+QuoteLiteral(k))
	}
	return "jsonb_build_object(" + strings.Join(parts, ", ") + ")"
}

// KeyChanged renders a condition true when the key differs between o and n.
func (d captureData) KeyChanged(o, n string) string {
	parts := make([]string, 0, len(d.c.Key))
	for _, k := range d.c.Key {
		l := QuoteLiteral(k)
		parts = append(parts, o+"->"+l+" IS DISTINCT FROM "+n+"->"+l)
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

func (d captureData) placeholder() string {
	return "to_jsonb(" + QuoteLiteral(d.c.Placeholder) + "::text)"
}

// TransactionID renders the expression for the id of the current
// transaction's audit header: looked up on the unique (txid, started_at)
// index, and written by current_transaction_id when missing. v_txid is
// the function's variable holding pg_current_xact_id_if_assigned(): a
// volatile call in the query itself could not use the index, and a
// statement that changed no row has no transaction id to force. Templates
// wrap it in a scalar subquery, which PostgreSQL evaluates once per
// statement and only when the statement produces a row, and which can be
// an index key (a volatile function call in a WHERE clause cannot).
func (d captureData) TransactionID() string {
	return "coalesce((SELECT h.id FROM " + d.S + ".audit_transactions AS h WHERE h.txid = v_txid AND h.started_at = now()), " +
		d.S + ".current_transaction_id())"
}

// Image renders the row image (jsonb) of record x without its excluded
// columns. They are set to NULL with jsonb_populate_record before to_jsonb
// runs, so an excluded value is never converted (a value too large for
// jsonb cannot fail the write), and then removed. Keys of columns the
// table no longer has are ignored by jsonb_populate_record, so a dropped
// column never fails the write either.
func (d captureData) Image(x string) string {
	if len(d.c.Exclude) == 0 {
		return "to_jsonb(" + x + ")"
	}
	return "(to_jsonb(jsonb_populate_record(" + x + ", " + d.nulls(d.c.Exclude) + ")) - " + textArray(d.c.Exclude) + ")"
}

// nulls renders a jsonb literal mapping each of cols to JSON null.
func (d captureData) nulls(cols []string) string {
	m := make(map[string]any, len(cols))
	for _, c := range cols {
		m[c] = nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // a map of strings to nil: cannot fail
	}
	return QuoteLiteral(string(b)) + "::jsonb"
}

// Redact renders row image x with masked columns replaced by the
// placeholder (a JSON null stays null). Excluded columns are not in the
// image at all (Image).
func (d captureData) Redact(x string) string {
	out := x
	// jsonb_build_object takes at most 100 arguments: 50 masked columns
	// per call.
	for start := 0; start < len(d.c.Mask); start += 50 {
		end := min(start+50, len(d.c.Mask))
		parts := make([]string, 0, 2*(end-start))
		for _, m := range d.c.Mask[start:end] {
			l := QuoteLiteral(m)
			parts = append(parts, l, "CASE WHEN "+x+"->"+l+" = 'null'::jsonb THEN 'null'::jsonb ELSE "+d.placeholder()+" END")
		}
		out = "(" + out + " || jsonb_build_object(" + strings.Join(parts, ", ") + "))"
	}
	return out
}

// ChangedList renders one CASE per column whose change is recorded, in
// sorted column order, yielding the column's name when its value differs:
// o and n are the old and new images, ro and rn the old and new records.
// A column of the images is compared as jsonb. An excluded column, which
// the images lack, is compared on the records themselves: both records get
// every other column from the new image (and NULL for the other excluded
// columns), so their binary images (*=) differ exactly when that column
// does, and its value is never converted.
func (d captureData) ChangedList(o, n, ro, rn string) string {
	var cols []string
	for _, c := range d.c.Columns {
		if !d.has(d.c.Except, c) {
			cols = append(cols, c)
		}
	}
	sort.Strings(cols)
	parts := make([]string, 0, len(cols))
	for _, c := range cols {
		l := QuoteLiteral(c)
		if !d.has(d.c.Exclude, c) {
			parts = append(parts, "CASE WHEN "+o+"->"+l+" IS DISTINCT FROM "+n+"->"+l+" THEN "+l+" END")
			continue
		}
		var others []string
		for _, e := range d.c.Exclude {
			if e != c {
				others = append(others, e)
			}
		}
		same := n
		if len(others) > 0 {
			same = "(" + n + " || " + d.nulls(others) + ")"
		}
		parts = append(parts, "CASE WHEN NOT (jsonb_populate_record("+ro+", "+same+") *= jsonb_populate_record("+rn+", "+same+")) THEN "+l+" END")
	}
	return strings.Join(parts, ",\n                ")
}

// ChangedFrom renders the changed_from object: the redacted prior value,
// from old image o, of each column in changed list f, except the excluded
// columns, whose values are recorded nowhere. NULL when nothing is left.
func (d captureData) ChangedFrom(o, f string) string {
	where := ""
	if len(d.c.Exclude) > 0 {
		where = " WHERE k <> ALL (" + textArray(d.c.Exclude) + ")"
	}
	return "(SELECT jsonb_object_agg(k, " + d.PriorValue(o, "k") + ") FROM unnest(" + f + ") AS k" + where + ")"
}

// PriorValue renders the redacted prior value of column k (a text
// expression) from old image o.
func (d captureData) PriorValue(o, k string) string {
	if len(d.c.Mask) == 0 {
		return o + "->" + k
	}
	return "CASE WHEN " + k + " = ANY (" + textArray(d.c.Mask) + ") AND " + o + "->" + k +
		" <> 'null'::jsonb THEN " + d.placeholder() + " ELSE " + o + "->" + k + " END"
}

func textArray(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = QuoteLiteral(s)
	}
	return "ARRAY[" + strings.Join(q, ", ") + "]::text[]"
}

// triggerTemplate names the template that creates each capture trigger;
// the template takes the trigger's name from the unit (.Trigger).
var triggerTemplate = map[string]string{
	contract.TriggerInsert:   "trigger_insert",
	contract.TriggerUpdate:   "trigger_update",
	contract.TriggerDelete:   "trigger_delete",
	contract.TriggerRow:      "trigger_row",
	contract.TriggerTruncate: "trigger_truncate",
}

// tagSentinel is the dollar-quote tag the templates use for function
// bodies; fixDollarTag swaps it when the body itself contains it.
const tagSentinel = "$threadline$"

// CaptureRationale is the comment that explains every capture function
// (security, pinned settings, images, the header lookup, trigger modes).
// A migration carries it once, before its first capture function, so each
// function's own comment can be one line.
func CaptureRationale() string {
	return string(render("capture_rationale", nil))
}

// CaptureUnit renders the capture function and triggers for one table.
func CaptureUnit(c Capture) (Unit, error) {
	if len(c.Key) == 0 {
		return Unit{}, fmt.Errorf("capture %s: no key columns", c.Table)
	}
	if c.WAL != nil {
		return walUnit(c)
	}
	fn := QuoteIdent(c.AuditSchema) + "." + QuoteIdent(FunctionName(c.Table))
	d := captureData{
		c:                &c,
		S:                QuoteIdent(c.AuditSchema),
		Func:             fn,
		On:               c.Table.Quoted(),
		Comment:          commentSafe(c.Table.String()),
		SchemaLit:        QuoteLiteral(c.Table.Schema),
		NameLit:          QuoteLiteral(c.Table.Name),
		Row:              c.Mode == ModeRow,
		StoreChangedFrom: c.StoreChangedFrom,
	}
	d.OnLit = QuoteLiteral(c.Table.Quoted())
	d.Excluded = len(c.Exclude) > 0
	d.Unpinned = c.Unpinned
	d.ModeComment = "statement-level triggers (transition tables)"
	if d.Row {
		d.ModeComment = "a row-level trigger"
	}
	function := fixDollarTag(render("capture_function", d))

	var triggers []Statement
	var drops []Statement
	drop := func(name string, on schema.QualifiedName) {
		dd := d
		dd.On = on.Quoted()
		dd.Trigger = QuoteIdent(name)
		drops = append(drops, render("drop_trigger", dd))
	}
	// Every Threadline trigger name is dropped from the table, not only
	// the ones this mode creates: a table whose capture mode changed, or
	// a renamed table, may hold the others.
	for _, name := range contract.TriggerNames {
		drop(name, c.Table)
	}
	addTrigger := func(tmpl, name string, on schema.QualifiedName) {
		dd := d
		dd.On = on.Quoted()
		dd.Trigger = QuoteIdent(name)
		triggers = append(triggers, render(tmpl, dd))
		if on != c.Table {
			drop(name, on)
		}
	}
	for _, name := range contract.Triggers(c.Mode) {
		addTrigger(triggerTemplate[name], name, c.Table)
	}
	for _, p := range c.TruncateAlso {
		addTrigger(triggerTemplate[contract.TriggerTruncate], contract.TriggerTruncate, p)
	}

	h := sha256.New()
	h.Write([]byte(function))
	for _, t := range triggers {
		h.Write([]byte{0})
		h.Write([]byte(t))
	}
	fp := "sha256:" + hex.EncodeToString(h.Sum(nil))[:32]
	d.FingerprintLit = QuoteLiteral(contract.CaptureComment(c.Table, fp))

	u := Unit{Table: c.Table, Function: fn, Fingerprint: fp, Clear: drops}
	u.Create = append(u.Create, function, render("comment", d))
	u.Create = append(u.Create, triggers...)
	u.Drop = append(append([]Statement{}, drops...), render("drop_function", d))
	return u, nil
}

// commentSafe makes s safe inside a -- comment: PostgreSQL ends such a
// comment at a line feed or a carriage return, so control characters
// become spaces.
func commentSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// fixDollarTag replaces the $threadline$ quoting tag by one that does not
// occur inside the body (a hostile identifier could contain it).
func fixDollarTag(s string) string {
	first := strings.Index(s, tagSentinel)
	last := strings.LastIndex(s, tagSentinel)
	if first < 0 || first == last {
		return s
	}
	body := s[first+len(tagSentinel) : last]
	if !strings.Contains(body, "$threadline") {
		return s
	}
	for i := 1; ; i++ {
		tag := fmt.Sprintf("$threadline%d$", i)
		if !strings.Contains(body, tag) {
			return s[:first] + tag + body + tag + s[last+len(tagSentinel):]
		}
	}
}
