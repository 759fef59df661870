package wire

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestEthtoolHeaderAndBitset: the device of an ethtool header and the
// bits of a verbose bitset (index, name, value flag) decode as encoded.
func TestEthtoolHeaderAndBitset(t *testing.T) {
	want := []Bit{{0, "tx-scatter-gather", true}, {1, "tx-checksum-ipv4", false}, {7, "highdma", true}}
	ae := netlink.NewAttributeEncoder()
	EthtoolHeader(ae, "ib0.8001")
	EncodeNested(ae, unix.ETHTOOL_A_FEATURES_WANTED, func(b *netlink.AttributeEncoder) {
		b.Uint32(unix.ETHTOOL_A_BITSET_SIZE, 8)
		EncodeNested(b, unix.ETHTOOL_A_BITSET_BITS, func(bits *netlink.AttributeEncoder) {
			for _, x := range want {
				EncodeNested(bits, unix.ETHTOOL_A_BITSET_BITS_BIT, func(one *netlink.AttributeEncoder) {
					one.Uint32(unix.ETHTOOL_A_BITSET_BIT_INDEX, x.Index)
					one.String(unix.ETHTOOL_A_BITSET_BIT_NAME, x.Name)
					if x.Value {
						one.Flag(unix.ETHTOOL_A_BITSET_BIT_VALUE, true)
					}
				})
			}
		})
	})
	ad, err := netlink.NewAttributeDecoder(Encode(ae))
	if err != nil {
		t.Fatal(err)
	}
	var dev string
	var got []Bit
	for ad.Next() {
		switch ad.Type() {
		case unix.ETHTOOL_A_HEADER_UNSPEC + 1:
			dev = ParseEthtoolDev(ad)
		case unix.ETHTOOL_A_FEATURES_WANTED:
			got = DecodeBitset(ad)
		}
	}
	if err := ad.Err(); err != nil {
		t.Fatal(err)
	}
	if dev != "ib0.8001" {
		t.Errorf("device = %q, want ib0.8001", dev)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bits (-want +got):\n%s", diff)
	}
}

// TestRingsReplyAttributes: rings_fill_reply (net/ethtool/rings.c) leaves
// out zero maximums (IPoIB's mini and jumbo rings) and always sends
// ETHTOOL_A_RINGS_TX_PUSH.
func TestRingsReplyAttributes(t *testing.T) {
	b := MarshalRings("ib0", Rings{RxMax: 8192, TxMax: 8192, Rx: 256, Tx: 128})
	_, rest, err := ParseGenl(b)
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
	r, err := UnmarshalRings(b)
	if err != nil || r != (Rings{RxMax: 8192, TxMax: 8192, Rx: 256, Tx: 128}) {
		t.Errorf("unmarshal = %+v, %v", r, err)
	}
}
