package inet

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/verbs"
)

func TestIPv6SourceSelection(t *testing.T) {
	s := New(verbs.NewManualClock(time.Unix(1_700_000_000, 0)))
	for _, p := range []string{"fe80::202:c903:0:1001/64", "fd00::1/64", "fd01::1/48", "fe80::1/64"} {
		s.insertAddr(2, netip.MustParsePrefix(p))
	}
	for _, tc := range []struct{ dst, want string }{
		{"fe80::2", "fe80::1"},                             // link scope; fe80::1 is newer, so first
		{"fd00::2", "fd00::1"},                             // longest match
		{"fd01::2", "fd01::1"},                             // longest match
		{"2001:db8::1", "fd01::1"},                         // global scope, first among equals
		{"fe80::202:c903:0:1001", "fe80::202:c903:0:1001"}, // the destination itself
	} {
		s.mu.Lock()
		got, ok := s.srcFor6(2, netip.MustParseAddr(tc.dst))
		s.mu.Unlock()
		if !ok || got.String() != tc.want {
			t.Errorf("source for %s = %v, want %s", tc.dst, got, tc.want)
		}
	}
}
