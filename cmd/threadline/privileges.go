package main

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/tlerr"
	threadline "github.com/threadline-go/threadline/runtime"
)

// duty returns what the command needs its database role to be allowed:
// purge -execute, maintain and seal expire or seal (retention_roles),
// purge -dry-run plans (reader_roles or retention_roles), continuity
// reads the audited tables too, every other command reads (reader_roles).
func (c *cli) duty() tlerr.Duty {
	switch {
	case c.dutyOverride != nil:
		return *c.dutyOverride
	case c.name == "maintain" || c.name == "seal" || c.name == "purge":
		return tlerr.DutyExpire
	case c.name == "continuity":
		return tlerr.DutyContinuity
	}
	return tlerr.DutyRead
}

// permissionHint returns the hint that follows a permission error
// (SQLSTATE 42501) among args: the role section of threadline.yaml the
// command's role must be in, and the current role. It returns "" when no
// arg is a permission error.
func (c *cli) permissionHint(args ...any) string {
	for _, a := range args {
		if err, ok := a.(error); ok && tlerr.IsPermissionDenied(err) {
			return tlerr.PermissionHint(c.duty(), c.currentRole())
		}
	}
	return ""
}

// currentRole reads what the connected role may do (tlerr.LookupRole);
// without a connection, or when that fails, it is the URL's user name
// alone, and Name is "" when even that is unknown.
func (c *cli) currentRole() tlerr.Role {
	if c.pool != nil && c.cfg != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 5*time.Second)
		defer cancel()
		if r, err := tlerr.LookupRole(ctx, c.pool, c.auditSchema()); err == nil {
			return r
		}
	}
	if c.url != "" {
		if pc, err := pgx.ParseConfig(c.url); err == nil {
			return tlerr.Role{Name: pc.User}
		}
	}
	return tlerr.Role{}
}

// auditSchema is the configured audit schema's name.
func (c *cli) auditSchema() string {
	if c.cfg == nil || c.cfg.AuditSchema == "" {
		return threadline.DefaultSchema
	}
	return c.cfg.AuditSchema
}

// checkServeRole refuses a role the viewer must not run as: one that
// cannot read the audit tables, and a writer role (the application's:
// the viewer gets a reader role of its own). A database without the audit
// schema is left to the pages to report.
func (c *cli) checkServeRole() error {
	r, err := tlerr.LookupRole(c.ctx, c.pool, c.auditSchema())
	if err != nil {
		return err
	}
	if !r.Installed || (r.CanRead && !r.Writer) {
		return nil
	}
	return errors.New("refusing to serve the viewer: " + tlerr.PermissionHint(tlerr.DutyRead, r))
}
