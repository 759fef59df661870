package netlinkx

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
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

// TestRingsReplyAttributes: rings_fill_reply (net/ethtool/rings.c) leaves
// out zero maximums (IPoIB's mini and jumbo rings) and always sends
// ETHTOOL_A_RINGS_TX_PUSH.
func TestRingsReplyAttributes(t *testing.T) {
	b := marshalRings("ib0", Rings{RxMax: 8192, TxMax: 8192, Rx: 256, Tx: 128})
	_, rest, err := wire.ParseGenl(b)
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := netlink.UnmarshalAttributes(rest)
	if err != nil {
		t.Fatal(err)
	}
	var types []uint16
	var lens []int
	for _, a := range attrs {
		types = append(types, a.Type&^unix.NLA_F_NESTED)
		lens = append(lens, len(a.Data))
	}
	wantTypes := []uint16{unix.ETHTOOL_A_RINGS_HEADER, unix.ETHTOOL_A_RINGS_RX_MAX, unix.ETHTOOL_A_RINGS_TX_MAX,
		unix.ETHTOOL_A_RINGS_RX, unix.ETHTOOL_A_RINGS_TX, unix.ETHTOOL_A_RINGS_TX_PUSH}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("attribute types (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{8, 4, 4, 4, 4, 1}, lens); diff != "" {
		t.Errorf("attribute lengths (-want +got):\n%s", diff)
	}
	r, err := unmarshalRings(b)
	if err != nil || r != (Rings{RxMax: 8192, TxMax: 8192, Rx: 256, Tx: 128}) {
		t.Errorf("unmarshal = %+v, %v", r, err)
	}
}
