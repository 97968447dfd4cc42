package generator

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/contract"
)

// versionTable is where one migration tool records what it applied.
type versionTable struct {
	// name shows in messages; query returns applied versions as text.
	name, query string
	// upTo: every version up to the highest one returned is applied
	// (the tool applies in order and keeps a high-water mark); else only
	// the versions returned are.
	upTo bool
}

// versionTables are the migration tools' own tables, by format. A plain
// directory may be applied by any of them.
var versionTables = map[string]versionTable{
	"goose": {name: contract.GooseVersionTable, query: `SELECT version_id::text FROM (SELECT DISTINCT ON (version_id) version_id, is_applied
		FROM ` + contract.GooseVersionTable + ` ORDER BY version_id, id DESC) AS v WHERE is_applied`},
	// golang-migrate's table has a dirty column, dbmate's not.
	"golang-migrate": {name: contract.MigrateTable, query: `SELECT version::text FROM ` + contract.MigrateTable + ` WHERE dirty IS NOT NULL`, upTo: true},
	"dbmate":         {name: contract.MigrateTable, query: `SELECT version::text FROM ` + contract.MigrateTable},
	"tern":           {name: contract.TernVersionTable, query: `SELECT version::text FROM ` + contract.TernVersionTable, upTo: true},
	"atlas": {name: contract.AtlasRevisionTable, query: `SELECT version::text FROM ` + contract.AtlasRevisionTable + `.` + contract.AtlasRevisionTable +
		` WHERE applied >= total`, upTo: true},
}

// pendingMigrations lists the application's migrations in dir (not those
// threadline-gen wrote) that the database has not applied, by the first
// migration tool's table it can read (the format's own first), and names
// that table. It returns nothing when no such table can be read.
func pendingMigrations(ctx context.Context, conn *pgx.Conn, mig config.Migrations) (pending []string, table string) {
	files, err := ReadDir(mig.Dir)
	if err != nil {
		return nil, ""
	}
	for _, format := range append([]string{mig.Format}, config.Formats...) {
		vt, ok := versionTables[format]
		if !ok {
			continue
		}
		applied, ok := readApplied(ctx, conn, vt)
		if !ok {
			continue
		}
		return unapplied(files, applied), vt.name
	}
	return nil, ""
}

// readApplied reads a version table into a test of whether a version is
// applied; ok is false when the table cannot be read.
func readApplied(ctx context.Context, conn *pgx.Conn, vt versionTable) (applied func(uint64) bool, ok bool) {
	rows, err := conn.Query(ctx, vt.query)
	if err != nil {
		return nil, false
	}
	texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, false
	}
	set := map[uint64]bool{}
	var highest uint64
	for _, s := range texts {
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			set[v], highest = true, max(highest, v)
		}
	}
	if vt.upTo {
		return func(v uint64) bool { return v <= highest }, true
	}
	return func(v uint64) bool { return set[v] }, true
}

// unapplied lists the numbered top-level up migrations of files that
// threadline-gen did not write and applied says are not applied, in
// version order.
func unapplied(files map[string][]byte, applied func(uint64) bool) []string {
	var out []string
	for p, c := range files {
		m := versionRE.FindStringSubmatch(p)
		if m == nil || strings.Contains(p, "/") || !strings.HasSuffix(p, ".sql") || contract.IsDownFile(p) || contract.IsGeneratedSQL(string(c)) {
			continue
		}
		if v, err := strconv.ParseUint(m[1], 10, 64); err == nil && !applied(v) {
			out = append(out, p)
		}
	}
	sortByVersion(out)
	return out
}

// pendingWarning is the warning about migrations the database has not
// applied, or "".
func pendingWarning(cfg *config.Config, pending []string, table string) string {
	if len(pending) == 0 {
		return ""
	}
	dir := cfg.Migrations.Dir
	if r, err := filepath.Rel(cfg.Dir, dir); err == nil && !strings.HasPrefix(r, "..") {
		dir = r
	}
	names := slices.Clone(pending)
	if len(names) > 5 {
		names = append(names[:5], fmt.Sprintf("and %d more", len(pending)-5))
	}
	noun := "migration"
	if len(pending) > 1 {
		noun = "migrations"
	}
	return fmt.Sprintf("the database has not applied %d %s in %s (by %s): %s; the schema was read from the database, so this run "+
		"does not see their changes: apply them and run threadline-gen again, or read the schema from the migration files "+
		"(schema.files) to generate the capture in the same change (README: \"Changing the schema\")",
		len(pending), noun, filepath.ToSlash(dir), table, strings.Join(names, ", "))
}
