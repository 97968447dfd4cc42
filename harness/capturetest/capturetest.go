// Package capturetest sets up databases with Threadline capture installed,
// for tests across the repository: it runs DDL in a fresh database from
// pgtest, loads the schema from it (live, so no cgo is needed), generates
// the capture migration with the real generator and applies it. It also
// holds the small helpers the runtime packages' tests share.
//
// Like every package under harness/, it is this repository's own test and
// benchmark tooling, not part of Threadline's API: it may change or go at
// any commit (see the compatibility policy in README.md).
package capturetest

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/harness/pgtest"
	"github.com/threadline-go/threadline/internal/contract"
	threadline "github.com/threadline-go/threadline/runtime"
	"github.com/threadline-go/threadline/schema"
)

// Clock is the fixed time used for generated migration versions.
var Clock = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// Setup creates a database, runs ddl in it, generates capture for the
// tables section tablesYAML (the YAML below "tables:", indented by two
// spaces) and applies the generated up migration. It returns the database.
func Setup(t testing.TB, ddl, tablesYAML string) *pgtest.DB {
	t.Helper()
	return SetupWith(t, ddl, "", tablesYAML)
}

// SetupWith is Setup with extra top-level config YAML (e.g. a privileges
// section; DefaultRetention is added unless it has a retention section).
func SetupWith(t testing.TB, ddl, extraYAML, tablesYAML string) *pgtest.DB {
	t.Helper()
	db := pgtest.NewDB(t, ddl)
	up, _ := generate(t, db, "", extraYAML, tablesYAML)
	db.Exec(t, up)
	return db
}

// Generate returns the up and down SQL of the first capture migration for
// ddl and tablesYAML, in the plain format.
func Generate(t testing.TB, ddl, tablesYAML string) (up, down string) {
	t.Helper()
	return GenerateWith(t, ddl, "", tablesYAML)
}

// SetupMode is Setup with every table captured in the given mode
// (contract.ModeStatement or contract.ModeRow), whatever tablesYAML says.
func SetupMode(t testing.TB, mode contract.Mode, ddl, tablesYAML string) *pgtest.DB {
	t.Helper()
	db := pgtest.NewDB(t, ddl)
	up, _ := generate(t, db, mode, "", tablesYAML)
	db.Exec(t, up)
	return db
}

// GenerateWith is Generate with extra top-level config YAML.
func GenerateWith(t testing.TB, ddl, extraYAML, tablesYAML string) (up, down string) {
	t.Helper()
	return generate(t, pgtest.NewDB(t, ddl), "", extraYAML, tablesYAML)
}

// DefaultRetention is the retention section a setup's config gets when
// its extra YAML has none: a window of one day, so that purges of data
// older than that pass the purge functions (generated without a window,
// they refuse every purge).
const DefaultRetention = "retention:\n  keep_days: 1\n"

// generate is GenerateWith with every table's capture mode set to mode
// (unless it is "").
func generate(t testing.TB, db *pgtest.DB, mode contract.Mode, extraYAML, tablesYAML string) (up, down string) {
	t.Helper()
	dir := t.TempDir()
	if !strings.Contains(extraYAML, "retention:") {
		extraYAML += DefaultRetention
	}
	cfgText := "version: 1\nschema:\n  database_url: unused\nmigrations:\n  dir: migrations\n  format: plain\n" +
		"package:\n  dir: audit\n" + extraYAML + "tables:\n" + tablesYAML
	cfg, err := config.Parse(filepath.Join(dir, "threadline.yaml"), []byte(cfgText), func(string) string { return "" })
	if err != nil {
		t.Fatalf("config: %v\n%s", err, cfgText)
	}
	if mode != "" {
		for _, tc := range cfg.Tables {
			tc.Capture = mode
		}
	}
	s, err := schema.LoadLive(context.Background(), db.Pool, schema.LiveOptions{ExcludeSchemas: []string{cfg.AuditSchema}})
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	out, err := generator.Generate(generator.Input{Config: cfg, Schema: s, Now: Clock, Migrations: map[string][]byte{}})
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	for _, f := range out.Migrations {
		switch {
		case strings.HasSuffix(f.Path, ".up.sql"):
			up = string(f.Content)
		case strings.HasSuffix(f.Path, ".down.sql"):
			down = string(f.Content)
		}
	}
	if up == "" {
		t.Fatalf("generate: no migration produced")
	}
	return up, down
}

// Change is one audit_changes row with its JSON columns as compact text
// ("" for NULL), for exact comparisons.
type Change struct {
	TransactionID int64
	Schema        string
	Table         string
	PK            string
	PKBefore      string
	Op            string
	After         string
	Before        string
	ChangedFields []string
	ChangedFrom   string
}

// Changes returns every audit_changes row of the threadline schema in id
// order.
func Changes(t testing.TB, db *pgtest.DB) []Change {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
		SELECT transaction_id, table_schema, table_name,
		       coalesce(table_pk::text, ''), coalesce(table_pk_before::text, ''), op,
		       coalesce(data_after::text, ''), coalesce(data_before::text, ''),
		       changed_fields, coalesce(changed_from::text, '')
		FROM threadline.audit_changes ORDER BY id`)
	if err != nil {
		t.Fatalf("read changes: %v", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		if err := rows.Scan(&c.TransactionID, &c.Schema, &c.Table, &c.PK, &c.PKBefore, &c.Op,
			&c.After, &c.Before, &c.ChangedFields, &c.ChangedFrom); err != nil {
			t.Fatalf("scan change: %v", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read changes: %v", err)
	}
	return out
}

// Count returns the number of rows in a threadline table (audit_changes,
// audit_transactions, audit_actions).
func Count(t testing.TB, db *pgtest.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM threadline."+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// Tx runs statements in one InTx transaction; action, when not empty,
// is recorded with RecordAction.
func Tx(t testing.TB, db *pgtest.DB, opts threadline.TxOptions, action string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	err := threadline.InTx(ctx, db.Pool, opts, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		if action != "" {
			if _, err := threadline.RecordAction(ctx, tx, action, threadline.ActionOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// QueryInt returns the integer sql selects.
func QueryInt(t testing.TB, db *pgtest.DB, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// Equal fails t when got is not deeply equal to want.
func Equal[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

// NormJSON re-encodes JSON text with sorted keys and no spaces.
func NormJSON(t testing.TB, s string) string {
	t.Helper()
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
