package tlerr

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The role sections of threadline.yaml (config.Privileges): the generated
// install migration grants each list its rights (docs/security.md, "The
// integrity model").
const (
	// WriterRoles write the audited tables through the application and
	// record actions; they read nothing of the audit trail.
	WriterRoles = "privileges.writer_roles"
	// ReaderRoles read the audit trail: export, verify, feed, coverage,
	// doctor, serve, purge -dry-run.
	ReaderRoles = "privileges.reader_roles"
	// RetentionRoles read, and expire and seal through the audit
	// functions: purge, maintain, seal.
	RetentionRoles = "privileges.retention_roles"
)

// Duty is what an operation needs its database role to be allowed: what
// it does, in words, and the role sections of threadline.yaml whose roles
// may do it.
type Duty struct {
	// What completes "may not …": "read the audit trail".
	What string
	// Sections are the role sections whose roles may do it.
	Sections []string
	// Also is what the role needs besides, if anything: ", with SELECT on
	// the audited tables too".
	Also string
}

// The duties of the operator CLI and the viewer.
var (
	// DutyRead reads the audit trail (export, verify, feed, coverage,
	// doctor, serve and the viewer).
	DutyRead = Duty{What: "read the audit trail", Sections: []string{ReaderRoles}}
	// DutyContinuity reads the audit trail and the audited tables' rows
	// (continuity), which no role section grants.
	DutyContinuity = Duty{What: "report continuity", Sections: []string{ReaderRoles}, Also: " that may also SELECT the audited tables"}
	// DutyPlanPurge plans a purge (purge -dry-run): readers may, and so
	// may the retention roles.
	DutyPlanPurge = Duty{What: "plan a purge", Sections: []string{ReaderRoles, RetentionRoles}}
	// DutyExpire purges, maintains partitions and seals.
	DutyExpire = Duty{What: "purge, maintain or seal the audit trail", Sections: []string{RetentionRoles}}
)

// IsPermissionDenied reports whether err is, or wraps, PostgreSQL's
// insufficient_privilege error (SQLSTATE 42501): "permission denied for
// table audit_changes".
func IsPermissionDenied(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501"
}

// Role is what a session's role may do with an audit schema, as
// LookupRole reads it from the catalog.
type Role struct {
	// Name is current_user.
	Name string
	// Installed reports whether the audit schema exists.
	Installed bool
	// CanRead reports SELECT on audit_changes, audit_transactions and
	// audit_actions.
	CanRead bool
	// Writer reports a writer role: it may execute record_action (as
	// privileges.writer_roles grants) and is not the audit schema's
	// owner, nor a member of it, nor a superuser.
	Writer bool
}

// Querier runs one query; *pgxpool.Pool, *pgx.Conn and pgx.Tx satisfy it.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// lookupRoleSQL reads Role for the audit schema $1 from the catalog alone:
// it needs no privilege on the audit schema.
const lookupRoleSQL = `WITH s AS (SELECT n.oid, n.nspowner FROM pg_catalog.pg_namespace AS n WHERE n.nspname = $1)
SELECT current_user::text, EXISTS (SELECT FROM s),
    coalesce((SELECT count(*) = 3 AND bool_and(pg_catalog.has_table_privilege(c.oid, 'SELECT'))
        FROM pg_catalog.pg_class AS c JOIN s ON c.relnamespace = s.oid
        WHERE c.relname IN ('audit_changes', 'audit_transactions', 'audit_actions')), false),
    coalesce((SELECT bool_or(pg_catalog.has_function_privilege(p.oid, 'EXECUTE'))
        FROM pg_catalog.pg_proc AS p JOIN s ON p.pronamespace = s.oid WHERE p.proname = 'record_action'), false)
    AND NOT coalesce((SELECT pg_catalog.pg_has_role(s.nspowner, 'USAGE') FROM s), false)`

// LookupRole reads what the current role may do with the audit schema
// auditSchema, from the catalog.
func LookupRole(ctx context.Context, q Querier, auditSchema string) (Role, error) {
	var r Role
	if err := q.QueryRow(ctx, lookupRoleSQL, auditSchema).Scan(&r.Name, &r.Installed, &r.CanRead, &r.Writer); err != nil {
		return Role{}, Wrap(err, "look up the current role")
	}
	return r, nil
}

// PermissionHint says which role section of threadline.yaml to use for
// d, naming the current role r (r.Name "" when it could not be read):
//
//	role "app" is a writer role (privileges.writer_roles) and may not read the audit trail: connect as a role listed in privileges.reader_roles in threadline.yaml (…)
//
// The operator CLI prints it after every permission error (SQLSTATE
// 42501), serve refuses to start with it, and the viewer's permission
// error page shows it.
func PermissionHint(d Duty, r Role) string {
	var b strings.Builder
	if r.Name == "" {
		b.WriteString("the current role")
	} else {
		fmt.Fprintf(&b, "role %q", r.Name)
	}
	if r.Writer {
		b.WriteString(" is a writer role (" + WriterRoles + ") and")
	}
	b.WriteString(" may not " + d.What + ": connect as a role listed in " + strings.Join(d.Sections, " or ") +
		" in threadline.yaml" + d.Also + " (a role added there gets its grants from the next migration threadline-gen writes, once applied)")
	return b.String()
}
