package wire

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var testLink = Link{
	Index: 2, Type: 32, Flags: unix.IFF_UP | unix.IFF_BROADCAST, Name: "ib0", MTU: 2044, MaxMTU: 65520, TxQLen: 256,
	Qdisc: "pfifo_fast", Operstate: 6, Carrier: true, Address: make([]byte, 20), Broadcast: make([]byte, 20), NumTxQ: 1, NumRxQ: 1,
	Kind: "ipoib", IPoIB: &IPoIB{PKey: 0xffff, Mode: 1, Umcast: 1}, Stats: Stats{RxPackets: 5, Multicast: 9},
	ParentBus: "pci", ParentDev: "0000:81:00.0",
}

var testFeatures = []Feature{
	{Name: "tx-scatter-gather", Wanted: true, Active: true},
	{Name: "tx-checksum-ipv4", Available: true, Wanted: true},
	{Name: "vlan-challenged", Wanted: true, Active: true, NoChange: true},
}

// FuzzDecode: no payload makes a decoder panic, and what decodes encodes
// to a payload that decodes again.
func FuzzDecode(f *testing.F) {
	f.Add(MarshalLink(testLink))
	f.Add(MarshalLinkRequest(LinkRequest{Name: "ib0", ParentIndex: 2, Kind: "ipoib"}))
	f.Add(MarshalFeatures("ib0", testFeatures))
	f.Add(MarshalRings("ib0", Rings{RxMax: 8192, TxMax: 8192, Rx: 256, Tx: 128}))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, err := UnmarshalLink(b); err == nil {
			if _, err := UnmarshalLink(MarshalLink(l)); err != nil {
				t.Errorf("link %+v does not decode again: %v", l, err)
			}
		}
		if r, err := UnmarshalLinkRequest(b); err == nil {
			if _, err := UnmarshalLinkRequest(MarshalLinkRequest(r)); err != nil {
				t.Errorf("link request %+v does not decode again: %v", r, err)
			}
		}
		if fs, err := UnmarshalFeatures(b); err == nil {
			if _, err := UnmarshalFeatures(MarshalFeatures("ib0", fs)); err != nil {
				t.Errorf("features %+v do not decode again: %v", fs, err)
			}
		}
		_, _ = UnmarshalFeaturesChange(b)
		_, _ = UnmarshalCoalesce(b)
		_, _ = UnmarshalRings(b)
		_, _ = UnmarshalChannels(b)
	})
}

// TestMarshalLinkBytes: MarshalLink gives the bytes of the attribute
// encoder it replaced, with and without each optional attribute, and in
// one allocation.
func TestMarshalLinkBytes(t *testing.T) {
	child := testLink
	child.ParentIndex, child.ParentBus, child.ParentDev = 2, "", ""
	noKind := testLink
	noKind.Kind, noKind.IPoIB = "", nil
	noIPoIB := testLink
	noIPoIB.IPoIB = nil
	odd := testLink
	odd.Name, odd.Qdisc, odd.Address, odd.Broadcast, odd.Carrier = "ib0.8001x", "", []byte{1, 2, 3}, nil, false
	odd.Stats = Stats{RxPackets: 1, TxPackets: 2, RxBytes: 3, TxBytes: 4, RxErrors: 5, TxErrors: 6, RxDropped: 7, TxDropped: 8,
		Multicast: 9, Collisions: 10, RxOverErrors: 11, RxCRCErrors: 12, RxFrameErrors: 13, RxFIFOErrors: 14, RxMissedErrors: 15,
		TxAbortedErrors: 16, TxCarrierErrors: 17, TxFIFOErrors: 18, TxHeartbeatErrors: 19, TxWindowErrors: 20, RxNoHandler: 21}
	tests := []struct {
		name string
		l    Link
	}{
		{"parent", testLink},
		{"child", child},
		{"no kind", noKind},
		{"kind without ipoib data", noIPoIB},
		{"odd lengths, every counter", odd},
		{"zero", Link{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, want := MarshalLink(tc.l), encoderLink(tc.l)
			if !bytes.Equal(got, want) {
				t.Errorf("MarshalLink =\n%x\nwant\n%x", got, want)
			}
			if n := testing.AllocsPerRun(10, func() { MarshalLink(tc.l) }); n > 1 {
				t.Errorf("%v allocations, want 1", n)
			}
		})
	}
}

// encoderLink is MarshalLink as netlink.AttributeEncoder encodes it,
// attribute by attribute: the reference for its bytes.
func encoderLink(l Link) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, l.Name)
	ae.Uint32(unix.IFLA_TXQLEN, l.TxQLen)
	if l.Qdisc != "" {
		ae.String(unix.IFLA_QDISC, l.Qdisc)
	}
	ae.Uint8(unix.IFLA_OPERSTATE, l.Operstate)
	ae.Uint32(unix.IFLA_MTU, l.MTU)
	ae.Uint32(unix.IFLA_MIN_MTU, l.MinMTU)
	ae.Uint32(unix.IFLA_MAX_MTU, l.MaxMTU)
	ae.Uint32(unix.IFLA_NUM_TX_QUEUES, l.NumTxQ)
	ae.Uint32(unix.IFLA_NUM_RX_QUEUES, l.NumRxQ)
	ae.Uint32(unix.IFLA_GSO_MAX_SIZE, l.GSOMaxSize)
	ae.Uint32(unix.IFLA_GSO_MAX_SEGS, l.GSOMaxSegs)
	ae.Uint32(unix.IFLA_TSO_MAX_SIZE, l.TSOMaxSize)
	ae.Uint32(unix.IFLA_TSO_MAX_SEGS, l.TSOMaxSegs)
	ae.Uint32(unix.IFLA_GRO_MAX_SIZE, l.GROMaxSize)
	if l.Carrier {
		ae.Uint8(unix.IFLA_CARRIER, 1)
	} else {
		ae.Uint8(unix.IFLA_CARRIER, 0)
	}
	ae.Uint32(unix.IFLA_CARRIER_CHANGES, l.CarrierChanges)
	if l.ParentIndex != 0 {
		ae.Uint32(unix.IFLA_LINK, uint32(l.ParentIndex))
	}
	ae.Bytes(unix.IFLA_ADDRESS, l.Address)
	ae.Bytes(unix.IFLA_BROADCAST, l.Broadcast)
	ae.Bytes(unix.IFLA_STATS64, marshalStats(l.Stats))
	if l.Kind != "" {
		ae.Nested(unix.IFLA_LINKINFO, func(nae *netlink.AttributeEncoder) error {
			nae.String(unix.IFLA_INFO_KIND, l.Kind)
			if l.IPoIB != nil {
				nae.Nested(unix.IFLA_INFO_DATA, func(d *netlink.AttributeEncoder) error {
					d.Uint16(unix.IFLA_IPOIB_PKEY, l.IPoIB.PKey)
					d.Uint16(unix.IFLA_IPOIB_MODE, l.IPoIB.Mode)
					d.Uint16(unix.IFLA_IPOIB_UMCAST, l.IPoIB.Umcast)
					return nil
				})
			}
			return nil
		})
	}
	if l.ParentDev != "" {
		ae.String(unix.IFLA_PARENT_DEV_NAME, l.ParentDev)
		ae.String(unix.IFLA_PARENT_DEV_BUS_NAME, l.ParentBus)
	}
	hdr := Ifinfomsg{Type: l.Type, Index: l.Index, Flags: l.Flags}
	return append(hdr.Marshal(), Encode(ae)...)
}

func marshalStats(s Stats) []byte {
	f := statsFields(&s)
	b := make([]byte, 8*len(f))
	for i, p := range f {
		binary.NativeEndian.PutUint64(b[8*i:], *p)
	}
	return b
}
