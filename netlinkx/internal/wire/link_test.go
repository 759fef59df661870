package wire

import (
	"testing"

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
