package pgsnapshot

import (
	"errors"
	"testing"
)

func TestParseAndSees(t *testing.T) {
	s, err := Parse("10:20:15,12")
	if err != nil {
		t.Fatal(err)
	}
	if s.Xmin != 10 || s.Xmax != 20 || len(s.Xip) != 2 || s.Xip[0] != 12 || s.Text != "10:20:15,12" {
		t.Fatalf("Parse: %+v", s)
	}
	for txid, want := range map[uint64]bool{9: true, 10: true, 11: true, 12: false, 15: false, 19: true, 20: false, 99: false} {
		if got := s.Sees(txid); got != want {
			t.Errorf("Sees(%d) = %v, want %v", txid, got, want)
		}
	}
	if x := s.XipText(); len(x) != 2 || x[0] != "12" || x[1] != "15" {
		t.Errorf("XipText = %v", x)
	}
	for _, bad := range []string{"", "1:2", "a:2:", "5:4:", "5:9:3", "5:9:9", "5:9:x", "1:2:3:4"} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestSQL(t *testing.T) {
	if got, want := NotSeenSQL("t.txid", "$1", "$2"), "(t.txid >= $1::text::xid8 OR t.txid = ANY ($2::text[]::xid8[]))"; got != want {
		t.Errorf("NotSeenSQL = %s", got)
	}
	if got, want := SeenSQL("t.txid", "$1", "$2"), "(t.txid < $1::text::xid8 AND NOT t.txid = ANY ($2::text[]::xid8[]))"; got != want {
		t.Errorf("SeenSQL = %s", got)
	}
}
