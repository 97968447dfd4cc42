package threadlinecapture

import "testing"

// TestXid8 widens stream xids around an epoch boundary.
func TestXid8(t *testing.T) {
	for _, tc := range []struct {
		xid  uint32
		next uint64
		want int64
	}{
		{100, 1000, 100},
		{1500, 1000, 1500},                  // committed after next was read
		{0xFFFFFFF0, 1<<32 + 5, 0xFFFFFFF0}, // before the wrap
		{3, 1<<32 - 10, 1<<32 + 3},          // after the wrap, next read before it
		{7, 5<<32 + 10, 5<<32 + 7},
	} {
		if got := xid8(tc.xid, tc.next); got != tc.want {
			t.Errorf("xid8(%d, %d) = %d, want %d", tc.xid, tc.next, got, tc.want)
		}
	}
}
