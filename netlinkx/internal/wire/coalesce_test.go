package wire

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestCoalesceReplyAttributes: a COALESCE_GET reply carries a parameter
// when the driver supports it or its value is not zero, flags as u8
// (coalesce_put_u32, coalesce_put_bool in net/ethtool/coalesce.c); the
// client reads back the values and which attributes were there.
func TestCoalesceReplyAttributes(t *testing.T) {
	type attr struct {
		Type uint16
		Len  int
	}
	for _, tt := range []struct {
		name  string
		c     Coalesce
		attrs []attr
	}{
		{"ipoib", Coalesce{RxUsecs: 3, Supported: []uint16{unix.ETHTOOL_A_COALESCE_RX_USECS, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES}},
			[]attr{{unix.ETHTOOL_A_COALESCE_RX_USECS, 4}, {unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES, 4}}},
		{"mlx5i", Coalesce{RxUsecs: 8, RxFrames: 128, TxUsecs: 8, TxFrames: 0, AdaptiveRx: true, CQEModeRx: true,
			Supported: []uint16{unix.ETHTOOL_A_COALESCE_RX_USECS, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES,
				unix.ETHTOOL_A_COALESCE_TX_USECS, unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES,
				unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX, unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX}},
			[]attr{{unix.ETHTOOL_A_COALESCE_RX_USECS, 4}, {unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES, 4},
				{unix.ETHTOOL_A_COALESCE_TX_USECS, 4}, {unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES, 4},
				{unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX, 1}, {unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX, 1},
				{unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_RX, 1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := MarshalCoalesce("ib0", tt.c)
			_, rest, err := ParseGenl(b)
			if err != nil {
				t.Fatal(err)
			}
			ad, err := netlink.NewAttributeDecoder(rest)
			if err != nil {
				t.Fatal(err)
			}
			var got []attr
			for ad.Next() {
				if ad.Type() != 1 { // the header
					got = append(got, attr{ad.Type(), len(ad.Bytes())})
				}
			}
			if diff := cmp.Diff(tt.attrs, got); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			back, err := UnmarshalCoalesce(b)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.c
			want.Supported = nil
			for _, a := range tt.attrs {
				want.Supported = append(want.Supported, a.Type)
			}
			if diff := cmp.Diff(want, back); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCoalesceSetFlagsAreU8: COALESCE_SET sends the flags as u8, the
// kernel's policy for them (NLA_U8), and the other values as u32.
func TestCoalesceSetFlagsAreU8(t *testing.T) {
	set := CoalesceSet{unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX: 1, unix.ETHTOOL_A_COALESCE_RX_USECS: 70,
		unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_TX: 0}
	order := []uint16{unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX, unix.ETHTOOL_A_COALESCE_RX_USECS, unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_TX}
	_, rest, err := ParseGenl(MarshalCoalesceSet("ib0", set, order))
	if err != nil {
		t.Fatal(err)
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for ad.Next() {
		if ad.Type() != 1 {
			got = append(got, append([]byte{byte(ad.Type())}, ad.Bytes()...))
		}
	}
	want := [][]byte{{unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX, 1}, {unix.ETHTOOL_A_COALESCE_RX_USECS, 70, 0, 0, 0},
		{unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_TX, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
}
