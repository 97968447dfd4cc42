// Package pgsnapshot reads PostgreSQL snapshots (pg_current_snapshot()
// as text, "xmin:xmax:xip,…") and says which transactions they see. The
// incremental feed and sealing both divide the trail by snapshots: the
// transactions a snapshot sees and the one before it did not.
package pgsnapshot

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrMalformed is wrapped by the errors of Parse.
var ErrMalformed = errors.New("not a snapshot")

// Snapshot is a parsed pg_snapshot.
type Snapshot struct {
	// Xmin is the oldest transaction still running; every id below it had
	// ended.
	Xmin uint64
	// Xmax is one past the newest transaction that had ended.
	Xmax uint64
	// Xip are the transactions in progress, Xmin <= x < Xmax, sorted.
	Xip []uint64
	// Text is the snapshot as PostgreSQL printed it.
	Text string
}

// Parse reads the text form of a pg_snapshot.
func Parse(s string) (Snapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Snapshot{}, fmt.Errorf("%w: %q is not xmin:xmax:xip", ErrMalformed, s)
	}
	sn := Snapshot{Text: s}
	var err error
	if sn.Xmin, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return Snapshot{}, fmt.Errorf("%w: %q: bad xmin", ErrMalformed, s)
	}
	if sn.Xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil || sn.Xmax < sn.Xmin {
		return Snapshot{}, fmt.Errorf("%w: %q: bad xmax", ErrMalformed, s)
	}
	if parts[2] != "" {
		for _, x := range strings.Split(parts[2], ",") {
			v, err := strconv.ParseUint(x, 10, 64)
			if err != nil || v < sn.Xmin || v >= sn.Xmax {
				return Snapshot{}, fmt.Errorf("%w: %q: bad in-progress id %q", ErrMalformed, s, x)
			}
			sn.Xip = append(sn.Xip, v)
		}
	}
	slices.Sort(sn.Xip)
	return sn, nil
}

// Sees reports whether a transaction that committed is visible in the
// snapshot: it had ended when the snapshot was taken.
func (s Snapshot) Sees(txid uint64) bool {
	if txid >= s.Xmax {
		return false
	}
	_, found := slices.BinarySearch(s.Xip, txid)
	return !found
}

// XipText returns the in-progress ids as decimal strings (a text[]
// parameter, cast to xid8[] in SQL).
func (s Snapshot) XipText() []string {
	out := make([]string, len(s.Xip))
	for i, x := range s.Xip {
		out[i] = strconv.FormatUint(x, 10)
	}
	return out
}

// NotSeenSQL is the condition "transaction col was not seen by the
// snapshot whose xmax and xip are the parameters $xmax (text) and $xip
// (text[])": it began at or after xmax, or was in progress.
func NotSeenSQL(col, xmax, xip string) string {
	return "(" + col + " >= " + xmax + "::text::xid8 OR " + col + " = ANY (" + xip + "::text[]::xid8[]))"
}

// SeenSQL is the negation of NotSeenSQL: the snapshot saw the
// transaction (for a committed one).
func SeenSQL(col, xmax, xip string) string {
	return "(" + col + " < " + xmax + "::text::xid8 AND NOT " + col + " = ANY (" + xip + "::text[]::xid8[]))"
}
