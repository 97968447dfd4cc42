package trailread

// CountSQL renders a count of the listing q's changes that stops at
// limit: SELECT count(*) of at most limit of them, so that a count of a
// large listing reads no more than limit matching changes (the viewer's
// match counts, "more than N" beyond). The header is joined only when a
// condition reads it.
func (q *Query) CountSQL(limit int) string {
	from := " FROM " + q.t.Quoted() + ".audit_changes AS c"
	if q.header {
		from = q.t.ChangesFrom()
	}
	return "SELECT count(*) FROM (SELECT 1" + from + q.Where() + " LIMIT " + q.Arg(limit) + ") AS s"
}
