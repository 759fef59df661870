package netlinkx

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestRingsRoundTrip: RINGS_GET carries ipoib_get_ring_param's values and
// RINGS_SET the requested attributes, TX_PUSH as a u8 as ethtool sends it.
func TestRingsRoundTrip(t *testing.T) {
	c, n := newPipe(t)
	r, err := c.Rings("ib0")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Rings{RxMax: 8192, TxMax: 8192, Rx: 256, Tx: 128}); r != want {
		t.Errorf("rings = %+v, want %+v", r, want)
	}
	sets := []RingsSet{
		{unix.ETHTOOL_A_RINGS_RX: 512, unix.ETHTOOL_A_RINGS_TX: 64},
		{unix.ETHTOOL_A_RINGS_RX_MINI: 1},
		{unix.ETHTOOL_A_RINGS_TX_PUSH: 1},
	}
	orders := [][]uint16{
		{unix.ETHTOOL_A_RINGS_TX, unix.ETHTOOL_A_RINGS_RX},
		{unix.ETHTOOL_A_RINGS_RX_MINI},
		{unix.ETHTOOL_A_RINGS_TX_PUSH},
	}
	for i := range sets {
		if err := c.SetRings("ib0", sets[i], orders[i]); err != nil {
			t.Fatalf("set %v: %v", sets[i], err)
		}
	}
	if diff := cmp.Diff(sets, n.rings); diff != "" {
		t.Errorf("RINGS_SET requests (-want +got):\n%s", diff)
	}
}
