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

// TestParseEthtoolRequest: the SET requests the client encodes decode to
// what they ask, a request without a header to no device, and a SET
// attribute of the wrong size, a truncated header or attributes that do
// not decode are refused with the text the ack carries.
func TestParseEthtoolRequest(t *testing.T) {
	req := func(cmd uint8, fn func(ae *netlink.AttributeEncoder)) []byte {
		ae := netlink.NewAttributeEncoder()
		fn(ae)
		return append(GenlHeader(cmd), Encode(ae)...)
	}
	empty := func(r EthtoolRequest) EthtoolRequest {
		r.Coalesce, r.Rings, r.Channels = CoalesceSet{}, RingsSet{}, ChannelsSet{}
		return r
	}
	withSets := func(r EthtoolRequest, fn func(*EthtoolRequest)) EthtoolRequest {
		r = empty(r)
		fn(&r)
		return r
	}
	tests := []struct {
		name string
		b    []byte
		want EthtoolRequest
		err  string
	}{
		{name: "features get", b: req(unix.ETHTOOL_MSG_FEATURES_GET, func(ae *netlink.AttributeEncoder) { EthtoolHeader(ae, "ib0") }),
			want: empty(EthtoolRequest{Cmd: unix.ETHTOOL_MSG_FEATURES_GET, Dev: "ib0"})},
		{name: "no header", b: GenlHeader(unix.ETHTOOL_MSG_RINGS_GET), want: empty(EthtoolRequest{Cmd: unix.ETHTOOL_MSG_RINGS_GET})},
		{name: "features set", b: MarshalFeaturesSet("ib0.8001", []string{"tx-checksum-ipv4", "highdma"}, map[string]bool{"highdma": true}),
			want: empty(EthtoolRequest{Cmd: unix.ETHTOOL_MSG_FEATURES_SET, Dev: "ib0.8001", Want: map[string]bool{"tx-checksum-ipv4": false, "highdma": true}})},
		{name: "coalesce set", b: MarshalCoalesceSet("ib0", CoalesceSet{unix.ETHTOOL_A_COALESCE_RX_USECS: 10, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES: 3},
			[]uint16{unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES, unix.ETHTOOL_A_COALESCE_RX_USECS}),
			want: withSets(EthtoolRequest{Cmd: unix.ETHTOOL_MSG_COALESCE_SET, Dev: "ib0"}, func(r *EthtoolRequest) {
				r.Coalesce = CoalesceSet{unix.ETHTOOL_A_COALESCE_RX_USECS: 10, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES: 3}
			})},
		{name: "rings set", b: MarshalRingsSet("ib0", RingsSet{unix.ETHTOOL_A_RINGS_RX: 512, unix.ETHTOOL_A_RINGS_TX_PUSH: 1},
			[]uint16{unix.ETHTOOL_A_RINGS_RX, unix.ETHTOOL_A_RINGS_TX_PUSH}),
			want: withSets(EthtoolRequest{Cmd: unix.ETHTOOL_MSG_RINGS_SET, Dev: "ib0"}, func(r *EthtoolRequest) {
				r.Rings = RingsSet{unix.ETHTOOL_A_RINGS_RX: 512, unix.ETHTOOL_A_RINGS_TX_PUSH: 1}
			})},
		{name: "channels set", b: MarshalChannelsSet("ib0", ChannelsSet{unix.ETHTOOL_A_CHANNELS_COMBINED_COUNT: 2},
			[]uint16{unix.ETHTOOL_A_CHANNELS_COMBINED_COUNT}),
			want: withSets(EthtoolRequest{Cmd: unix.ETHTOOL_MSG_CHANNELS_SET, Dev: "ib0"}, func(r *EthtoolRequest) {
				r.Channels = ChannelsSet{unix.ETHTOOL_A_CHANNELS_COMBINED_COUNT: 2}
			})},
		{name: "coalesce u16", b: req(unix.ETHTOOL_MSG_COALESCE_SET, func(ae *netlink.AttributeEncoder) {
			ae.Uint16(unix.ETHTOOL_A_COALESCE_RX_USECS, 10)
		}), err: "coalesce attribute 2: bad length 2"},
		{name: "channels u8", b: req(unix.ETHTOOL_MSG_CHANNELS_SET, func(ae *netlink.AttributeEncoder) {
			ae.Uint8(unix.ETHTOOL_A_CHANNELS_RX_COUNT, 1)
		}), err: "channels attribute 6: bad length 1"},
		{name: "rings u64", b: req(unix.ETHTOOL_MSG_RINGS_SET, func(ae *netlink.AttributeEncoder) {
			ae.Uint64(unix.ETHTOOL_A_RINGS_TX, 64)
		}), err: "rings attribute 9: bad length 8"},
		{name: "truncated", b: []byte{unix.ETHTOOL_MSG_RINGS_SET, 1}, err: "malformed message: genl header truncated"},
		{name: "bad attribute", b: append(GenlHeader(unix.ETHTOOL_MSG_RINGS_SET), 0xff, 0xff, 1, 0), err: "malformed attributes"},
	}
	for _, tt := range tests {
		got, err := ParseEthtoolRequest(tt.b)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
