package fabric_test

import (
	"net/netip"
	"testing"
)

// TestGIDOfLID maps each port's LID to its GID; LID 0 and LIDs no port
// has are unknown.
func TestGIDOfLID(t *testing.T) {
	f := newFabric(t, nil)
	tests := []struct {
		lid  uint16
		want string // "" when unknown
	}{
		{0, ""},
		{1, "fe80::2:c903:0:1001"}, // node0/1
		{2, "fe80::2:c903:0:1002"}, // node0/2
		{3, "fe80::2:c903:0:2001"}, // node1/1
		{4, "fe80::2:c903:0:2002"},
		{5, ""},
		{0xc000, ""},
	}
	for _, tt := range tests {
		gid, ok := f.GIDOfLID(tt.lid)
		got := ""
		if ok {
			got = netip.AddrFrom16(gid).String()
		}
		if got != tt.want {
			t.Errorf("GIDOfLID(%#x) = %q, want %q", tt.lid, got, tt.want)
		}
	}
}
