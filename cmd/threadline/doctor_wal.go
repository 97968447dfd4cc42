package main

import (
	"strconv"
	"strings"

	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/walcheck"
	"github.com/threadline-go/threadline/runtime/threadlineops"
)

// doctorWAL adds engine: wal's checks: wal_level, the slot (missing, lost,
// recreated after a gap), the consumer (down when nothing reads the
// slot), the WAL the slot retains (THREADLINE_MAX_RETAINED_WAL_MB, default
// 1024), the publication and the replica identities.
func (c *cli) doctorWAL(line func(ok bool, check, format string, args ...any)) {
	if c.cfg.Engine != config.EngineWAL {
		return
	}
	max := int64(1024)
	if n, err := strconv.ParseInt(c.env.getenv("THREADLINE_MAX_RETAINED_WAL_MB"), 10, 64); err == nil && n > 0 {
		max = n
	}
	for _, f := range walcheck.Check(c.ctx, c.pool, walcheck.CheckOptions{
		AuditSchema: c.cfg.AuditSchema, Slot: c.cfg.WAL.Slot, Publication: c.cfg.WAL.Publication, MaxRetained: max << 20,
	}) {
		line(f.OK, f.Check, "%s", f.Msg)
	}
}

// walCoverage corrects a coverage report for engine: wal, whose tables
// carry no trigger: a table in the publication with its audit_wal_tables
// record is covered while a consumer reads the slot; with the slot
// missing or lost it is uncovered, with the consumer down disabled.
func (c *cli) walCoverage(rep *threadlineops.CoverageReport) error {
	if c.cfg.Engine != config.EngineWAL {
		return nil
	}
	states, err := walcheck.TableStates(c.ctx, c.pool, c.cfg.AuditSchema, c.cfg.WAL.Publication)
	if err != nil {
		return err
	}
	slot, err := walcheck.SlotState(c.ctx, c.pool, c.cfg.WAL.Slot)
	if err != nil {
		return err
	}
	count := func(s threadlineops.CoverageStatus, d int) {
		switch s {
		case threadlineops.CoverageCovered:
			rep.Summary.Covered += d
		case threadlineops.CoverageUncovered:
			rep.Summary.Uncovered += d
		case threadlineops.CoverageDisabled:
			rep.Summary.Disabled += d
		case threadlineops.CoverageStale:
			rep.Summary.Stale += d
		}
	}
	fixed := map[string]threadlineops.TableCoverage{}
	for i := range rep.Tables {
		t := &rep.Tables[i]
		st, ok := states[t.Table]
		if !ok || t.Status == threadlineops.CoverageMissing {
			continue
		}
		status := threadlineops.CoverageUncovered
		detail := st.Detail
		switch {
		case !st.Captured:
		case slot == "":
			status = threadlineops.CoverageCovered
		case strings.Contains(slot, "down"):
			status, detail = threadlineops.CoverageDisabled, "engine: wal: "+slot
		default:
			detail = "engine: wal: " + slot
		}
		if t.PartitionOf == "" {
			count(t.Status, -1)
			count(status, +1)
		}
		t.Status, t.Detail = status, detail
		fixed[t.Table] = *t
	}
	var violations []threadlineops.TableCoverage
	for _, v := range rep.Violations {
		if f, ok := fixed[v.Table]; ok {
			v = f
		}
		if v.Status != threadlineops.CoverageCovered {
			violations = append(violations, v)
		}
	}
	if violations == nil {
		violations = []threadlineops.TableCoverage{}
	}
	rep.Violations, rep.OK = violations, len(violations) == 0
	return nil
}
