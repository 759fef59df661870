package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var (
	v4Addr = Addr{Index: 2, Family: unix.AF_INET, PrefixLen: 24, Local: []byte{10, 0, 0, 1},
		Broadcast: []byte{10, 0, 0, 255}, Label: "ib0"}
	v4Secondary = Addr{Index: 2, Family: unix.AF_INET, PrefixLen: 24, Flags: unix.IFA_F_SECONDARY, Local: []byte{10, 0, 0, 2}, Label: "ib0"}
	v6Link      = Addr{Index: 2, Family: unix.AF_INET6, PrefixLen: 64, Scope: unix.RT_SCOPE_LINK, Flags: unix.IFA_F_NODAD,
		Local: []byte{0xfe, 0x80, 15: 1}}
	testNeighs = []Neigh{
		{Index: 2, Family: unix.AF_INET6, State: unix.NUD_STALE, Flags: unix.NTF_ROUTER, Dst: []byte{0xfd, 15: 2}, LLAddr: make([]byte, 20)},
		{Index: 2, Family: unix.AF_INET, State: unix.NUD_REACHABLE, Dst: []byte{10, 0, 0, 2}, Used: 250, Confirmed: 300,
			LLAddr: []byte{0x80, 0, 0, 0x48, 0xfe, 0x80, 12: 0x02, 0xc9, 0x03, 0, 0, 0, 0x20, 0x01}, Updated: 0x01020304, Refcnt: 1, Probes: 4},
		{Index: 3, Family: unix.AF_INET, State: unix.NUD_FAILED, Dst: []byte{10, 0, 0, 9}},
	}
)

// permanent is a as the server reports it: IFA_F_PERMANENT set, and for
// IPv6 neither label nor broadcast.
func permanent(a Addr) Addr {
	a.Flags |= unix.IFA_F_PERMANENT
	if a.Family == unix.AF_INET6 {
		a.Label, a.Broadcast = "", nil
	}
	return a
}

// TestAddrCodec: addresses and neighbours decode as encoded, replies with
// IFA_F_PERMANENT added, and truncated or malformed payloads are refused.
func TestAddrCodec(t *testing.T) {
	labelled := v6Link
	labelled.Label, labelled.Broadcast = "ib0", []byte{1, 2, 3, 4}
	for _, a := range []Addr{v4Addr, v4Secondary, v6Link, labelled} {
		got, err := UnmarshalAddr(MarshalAddr(a))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(permanent(a), got); diff != "" {
			t.Errorf("reply round trip (-want +got):\n%s", diff)
		}
	}
	// requests carry the address unchanged, flags beyond 8 bits included
	big := v6Link
	big.Flags = unix.IFA_F_NOPREFIXROUTE | unix.IFA_F_NODAD
	for _, a := range []Addr{v4Addr, big, {Index: 2}} {
		got, err := UnmarshalAddr(MarshalAddrRequest(a))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("request round trip (-want +got):\n%s", diff)
		}
	}
	for _, n := range testNeighs {
		got, err := UnmarshalNeigh(MarshalNeigh(n))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(n, got); diff != "" {
			t.Errorf("neigh round trip (-want +got):\n%s", diff)
		}
	}
	// truncated headers, then a bad attribute after a whole header
	for _, b := range [][]byte{{2, 24, 0}, append(make([]byte, 8), 0xff, 0xff, 1, 0)} {
		if _, err := UnmarshalAddr(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("UnmarshalAddr(%x) = %v", b, err)
		}
	}
	shortCacheinfo := append(make([]byte, 12), 16, 0, unix.NDA_CACHEINFO, 0)
	shortCacheinfo = append(shortCacheinfo, make([]byte, 12)...)
	shortProbes := append(make([]byte, 12), 6, 0, unix.NDA_PROBES, 0, 4, 0, 0, 0)
	for _, b := range [][]byte{make([]byte, 11), append(make([]byte, 12), 0xff, 0xff, 1, 0), shortCacheinfo, shortProbes} {
		if _, err := UnmarshalNeigh(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("UnmarshalNeigh(%x) = %v", b, err)
		}
	}
}

// TestAddrWireFormat pins the encoding against the kernel's structs.
func TestAddrWireFormat(t *testing.T) {
	b := MarshalAddr(v4Addr)
	if want := []byte{unix.AF_INET, 24, unix.IFA_F_PERMANENT, 0, 2, 0, 0, 0}; string(b[:8]) != string(want) {
		t.Errorf("ifaddrmsg = % x, want % x", b[:8], want)
	}
	ad, err := netlink.NewAttributeDecoder(b[8:])
	if err != nil {
		t.Fatal(err)
	}
	var types []uint16
	for ad.Next() {
		types = append(types, ad.Type())
		if ad.Type() == unix.IFA_CACHEINFO {
			if ci := ad.Bytes(); len(ci) != 16 || string(ci[:8]) != "\xff\xff\xff\xff\xff\xff\xff\xff" {
				t.Errorf("cacheinfo = % x", ci)
			}
		}
	}
	want := []uint16{unix.IFA_ADDRESS, unix.IFA_LOCAL, unix.IFA_BROADCAST, unix.IFA_LABEL, unix.IFA_FLAGS, unix.IFA_CACHEINFO}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	n := MarshalNeigh(testNeighs[1])
	if want := []byte{unix.AF_INET, 0, 0, 0, 2, 0, 0, 0, unix.NUD_REACHABLE, 0, 0, unix.RTN_UNICAST}; string(n[:12]) != string(want) {
		t.Errorf("ndmsg = % x, want % x", n[:12], want)
	}
	// neigh_fill_info's attributes: NDA_CACHEINFO is struct nda_cacheinfo
	// (ndm_confirmed, ndm_used, ndm_updated, ndm_refcnt), NDA_PROBES a u32
	if ad, err = netlink.NewAttributeDecoder(n[12:]); err != nil {
		t.Fatal(err)
	}
	got := map[uint16][]byte{}
	types = nil
	for ad.Next() {
		types = append(types, ad.Type())
		got[ad.Type()] = ad.Bytes()
	}
	if diff := cmp.Diff([]uint16{unix.NDA_DST, unix.NDA_LLADDR, unix.NDA_CACHEINFO, unix.NDA_PROBES}, types); diff != "" {
		t.Errorf("neigh attributes (-want +got):\n%s", diff)
	}
	u32 := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	ci := slices.Concat(u32(300), u32(250), u32(0x01020304), u32(1))
	if !bytes.Equal(got[unix.NDA_CACHEINFO], ci) || !bytes.Equal(got[unix.NDA_PROBES], u32(4)) {
		t.Errorf("cacheinfo % x, probes % x; want % x, % x", got[unix.NDA_CACHEINFO], got[unix.NDA_PROBES], ci, u32(4))
	}
}

// FuzzAddrDecode: no payload makes the address and neighbour decoders
// panic, and what decodes encodes to a payload that decodes again.
func FuzzAddrDecode(f *testing.F) {
	f.Add(MarshalAddr(v4Addr))
	f.Add(MarshalAddr(v6Link))
	f.Add(MarshalAddrRequest(v4Addr))
	f.Add(MarshalNeigh(testNeighs[0]))
	f.Add([]byte{2, 24, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := UnmarshalAddr(b); err == nil {
			if _, err := UnmarshalAddr(MarshalAddr(a)); err != nil {
				t.Fatalf("re-encoding %+v: %v", a, err)
			}
		}
		if nb, err := UnmarshalNeigh(b); err == nil {
			if _, err := UnmarshalNeigh(MarshalNeigh(nb)); err != nil {
				t.Fatalf("re-encoding %+v: %v", nb, err)
			}
		}
	})
}
