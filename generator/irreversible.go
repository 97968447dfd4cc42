package generator

import (
	"fmt"

	"github.com/threadline-go/threadline/sqltemplates"
)

// refuseDown replaces the down of m, whose up cannot be undone
// (m.Irreversible), by one statement that fails saying so: the tool's
// transaction rolls back and it records no rollback that did nothing
// (an empty down would be recorded, and the next up would fail on what
// the up left in place). It returns the plan line that says so.
func refuseDown(m *migration, format string) string {
	msg := fmt.Sprintf("threadline: %s. The database is unchanged: migrations after %s_%s can still be rolled back; "+
		"to return to what was before it, restore a backup taken before it was applied", m.Irreversible, m.Version, m.Name)
	if format == "golang-migrate" {
		// golang-migrate marks the version it was moving to dirty
		// before it runs a migration, and leaves it so when it fails.
		msg += fmt.Sprintf(". golang-migrate has marked the database dirty: run `migrate force %s` to record that this migration is still applied", m.Version)
	}
	m.Down = []string{sqltemplates.Irreversible(msg)}
	return fmt.Sprintf("its down migration fails on purpose, saying why: %s", m.Irreversible)
}
