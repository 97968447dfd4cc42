package main

import (
	"strconv"

	"github.com/threadline-go/threadline/generator/config"
	"github.com/threadline-go/threadline/internal/walcapture"
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
	for _, f := range walcapture.Check(c.ctx, c.pool, walcapture.CheckOptions{
		AuditSchema: c.cfg.AuditSchema, Slot: c.cfg.WAL.Slot, Publication: c.cfg.WAL.Publication, MaxRetained: max << 20,
	}) {
		line(f.OK, f.Check, "%s", f.Msg)
	}
}
