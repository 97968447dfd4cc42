package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/threadline-go/threadline/generator"
	"github.com/threadline-go/threadline/internal/dburl"
)

func doctorFlags(*flag.FlagSet) func(*cli) int {
	return func(c *cli) int { return c.doctor() }
}

// doctor runs every check and prints one PASS or FAIL line each; a check
// that depends on a failed one is reported as SKIP.
func (c *cli) doctor() int {
	failed := false
	line := func(ok bool, check, format string, args ...any) {
		status := "PASS"
		if !ok {
			status, failed = "FAIL", true
		}
		fmt.Fprintf(c.stdout, "%s  %-16s %s\n", status, check, c.redact(fmt.Sprintf(format, args...)))
		if hint := c.permissionHint(args...); hint != "" {
			fmt.Fprintf(c.stdout, "      %-16s hint: %s\n", "", hint)
		}
	}
	skip := func(check, why string) { fmt.Fprintf(c.stdout, "SKIP  %-16s %s\n", check, why) }

	if err := c.loadConfig(); err != nil {
		line(false, "config", "%v", err)
		for _, ch := range []string{"database", "audit schema", "coverage", "generated files", "retention"} {
			skip(ch, "the config is invalid")
		}
		return 1
	}
	line(true, "config", "%s is valid: %d audited tables, audit schema %s", c.configPath, len(c.cfg.Tables), c.cfg.AuditSchema)

	connected := false
	if err := c.connect(); err != nil {
		line(false, "database", "%v", err)
	} else {
		var v string
		if err := c.pool.QueryRow(c.ctx, "SHOW server_version").Scan(&v); err != nil {
			line(false, "database", "%v", err)
		} else {
			connected = true
			line(true, "database", "connected to %s (PostgreSQL %s)", dburl.Redact(c.url), v)
		}
	}

	if connected {
		c.doctorDatabase(line)
		c.doctorWAL(line)
	} else {
		skip("audit schema", "no database connection")
		skip("coverage", "no database connection")
	}

	if msg, err := c.generatedFilesStale(); err != nil {
		line(false, "generated files", "%v", err)
	} else if msg != "" {
		line(false, "generated files", "%s", msg)
	} else {
		line(true, "generated files", "migrations and Go package are current (threadline-gen check)")
	}

	r := c.cfg.Retention
	switch {
	case r.Window() <= 0:
		line(true, "retention", "no retention section: audit rows are kept until you add a policy")
	default:
		state := "disabled (purge -dry-run only)"
		if r.Enabled {
			state = "enabled"
		}
		line(true, "retention", "%s, batch_size %d, max_batches %d, delete_empty_transactions %v, %s",
			window(r), r.BatchSize, r.MaxBatches, r.DeleteEmptyTransactions, state)
	}
	if failed {
		return 1
	}
	return 0
}

// generatedFilesStale does what threadline-gen check does: it returns a
// message naming the stale files, or "" when they are current.
func (c *cli) generatedFilesStale() (string, error) {
	getenv := c.env.getenv
	if c.url != "" {
		getenv = func(k string) string {
			if k == "DATABASE_URL" {
				return c.url
			}
			return c.env.getenv(k)
		}
	}
	out, err := generator.Run(c.ctx, c.cfg, generator.Env{Getenv: getenv, Now: time.Now, Parser: parser})
	if err != nil {
		var edited *generator.EditedError
		if errors.As(err, &edited) {
			return "", fmt.Errorf("%s was edited by hand (threadline-gen check shows it)", edited.Path)
		}
		return "", err
	}
	if !out.Stale() {
		return "", nil
	}
	var files []string
	for _, f := range out.Migrations {
		files = append(files, "new "+f.Path)
	}
	for _, f := range out.Package {
		files = append(files, "package "+f.Path)
	}
	for _, p := range out.StalePackage {
		files = append(files, "remove "+p)
	}
	return fmt.Sprintf("stale: run threadline-gen (or go generate) and commit (%s)", strings.Join(files, ", ")), nil
}

// doctorDatabase runs the checks that need the database: the audit
// schema's tables and the coverage of the expected tables.
func (c *cli) doctorDatabase(line func(ok bool, check, format string, args ...any)) {
	var missing []string
	err := c.pool.QueryRow(c.ctx, `SELECT coalesce(array_agg(t ORDER BY t), '{}') FROM unnest(ARRAY['audit_actions', 'audit_changes', 'audit_transactions']) AS t
		WHERE to_regclass(quote_ident($1) || '.' || t) IS NULL`, c.cfg.AuditSchema).Scan(&missing)
	switch {
	case err != nil:
		line(false, "audit schema", "%v", err)
	case len(missing) > 0:
		line(false, "audit schema", "%s lacks %s: apply the migrations threadline-gen wrote", c.cfg.AuditSchema, strings.Join(missing, ", "))
	default:
		line(true, "audit schema", "%s holds audit_changes, audit_transactions and audit_actions", c.cfg.AuditSchema)
	}
	rep, _, err := c.checkCoverage()
	switch {
	case err != nil:
		line(false, "coverage", "%v", err)
	case !rep.OK:
		var v []string
		for _, t := range rep.Violations {
			v = append(v, t.Table+" "+string(t.Status))
		}
		line(false, "coverage", "expected tables not covered: %s (run threadline coverage)", strings.Join(v, ", "))
	case len(c.cfg.Coverage.ExpectedTables) == 0:
		line(true, "coverage", "no coverage.expected_tables listed; %s", coveredShare(rep.Summary))
	default:
		line(true, "coverage", "all %d expected tables covered (%s)", rep.Summary.Expected, coveredShare(rep.Summary))
	}
	if c.cfg.Storage.Partitioned() {
		c.doctorPartitions(line)
	}
}

// doctorPartitions checks that threadline maintain runs: no row waiting
// in a default partition, a partition ready ahead.
func (c *cli) doctorPartitions(line func(ok bool, check, format string, args ...any)) {
	st, err := c.ops().PartitionHealth(c.ctx, c.pool)
	switch {
	case err != nil:
		line(false, "partitions", "%v", err)
	case st.DefaultRows > 0:
		line(false, "partitions", "%s in the default partitions: run threadline maintain (and schedule it daily)", plural(st.DefaultRows, "row"))
	case st.Ahead == 0:
		line(false, "partitions", "no %s partition is ready ahead: run threadline maintain (and schedule it daily)", c.cfg.Storage.Partitions)
	default:
		line(true, "partitions", "%s partitions: %d ready ahead, default partitions empty", c.cfg.Storage.Partitions, st.Ahead)
	}
}
