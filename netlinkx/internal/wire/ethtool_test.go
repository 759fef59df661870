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
