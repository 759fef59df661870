package header

import (
	"bytes"
	"testing"
)

// The fuzz targets check that no parser view panics on any input when used
// as documented (accessors only after Valid), that Valid rejects every
// truncation of a valid input, that valid inputs re-encode to the same
// bytes, and that the encoders which take a packet to quote never panic and
// only produce valid packets. Seeds: testdata/fuzz/<Name>/ and the f.Add
// calls below.

func FuzzIPoIB(f *testing.F) {
	f.Add([]byte{0x08, 0x00, 0x00, 0x00, 0x45})
	f.Add([]byte("80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51"))
	f.Add(append([]byte{0x86, 0xdd, 0, 0}, BroadcastAddr(0x8001).String()...))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := IPoIB(data)
		if h.Valid() != (len(data) >= IPoIBHeaderLen) {
			t.Fatalf("Valid() = %v for %d bytes", h.Valid(), len(data))
		}
		if h.Valid() {
			typ, payload := h.Type(), h.Payload()
			_ = h.Reserved()
			_ = AllowedType(typ)
			if IPoIB(data[:IPoIBHeaderLen-1]).Valid() {
				t.Fatal("truncated header is Valid")
			}
			b := append([]byte(nil), data...)
			IPoIB(b).Encode(typ)
			if IPoIB(b).Type() != typ || IPoIB(b).Reserved() != 0 || !bytes.Equal(IPoIB(b).Payload(), payload) {
				t.Fatal("Encode changed the type or the payload")
			}
		}

		// The same bytes as a textual and as a binary hardware address.
		if a, err := ParseHWAddr(string(data)); err == nil {
			if b, err := ParseHWAddr(a.String()); err != nil || b != a {
				t.Fatalf("String() of a parsed address does not parse back: %v %v", b, err)
			}
		} else if a != (HWAddr{}) {
			t.Fatal("ParseHWAddr returned an address with an error")
		}
		if len(data) >= HWAddrLen {
			a := HWAddr(data[:HWAddrLen])
			if b, err := ParseHWAddr(a.String()); err != nil || b != a {
				t.Fatalf("ParseHWAddr(%s) = %v, %v", a, b, err)
			}
			if NewHWAddr(a.Flags(), a.QPN(), a.GID()) != a {
				t.Fatal("NewHWAddr does not rebuild the address from its parts")
			}
			bcast := BroadcastAddr(a.PKey())
			m4 := IPv4MGID([4]byte(data[:4]), bcast)
			m6 := IPv6MGID([16]byte(data[4:20]), bcast)
			if !MGIDMatchesBroadcast(m4, bcast) || !MGIDMatchesBroadcast(m6, bcast) {
				t.Fatal("a group mapped with a broadcast address does not match it")
			}
			_ = MulticastAddrValid(a, bcast)
			_ = FormatGID(a.GID())
			_ = InterfaceID(a.GUID())
		}
	})
}

func FuzzARP(f *testing.F) {
	b := make([]byte, ARPSize)
	EncodeARP(b, ARPRequest, hwA, v4A, HWAddr{}, v4B)
	f.Add(b)
	f.Add(b[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		a := ARP(data)
		if !a.Valid() {
			return
		}
		if ARP(data[:ARPSize-1]).Valid() {
			t.Fatal("truncated message is Valid")
		}
		if a.HardwareType() != ARPHardwareInfiniBand || a.ProtocolType() != ARPProtocolIPv4 ||
			a.HardwareAddrLen() != HWAddrLen || a.ProtocolAddrLen() != 4 {
			t.Fatal("Valid accepted a foreign format")
		}
		out := make([]byte, ARPSize)
		if n := EncodeARP(out, a.Op(), a.SenderHWAddr(), a.SenderIP(), a.TargetHWAddr(), a.TargetIP()); n != ARPSize {
			t.Fatalf("EncodeARP = %d", n)
		}
		if !bytes.Equal(out, data[:ARPSize]) {
			t.Fatalf("re-encoded\n% x\nfrom\n% x", out, data[:ARPSize])
		}
	})
}

func FuzzIPv4(f *testing.F) {
	f.Add(udp4Packet(f, 0)[:64])
	echo := make([]byte, 64)
	n := EncodeICMPv4Echo(echo, IPv4Fields{TTL: 64, Src: v4A, Dst: v4B}, ICMPv4Echo, 1, 2, []byte("ping"))
	f.Add(echo[:n])
	f.Fuzz(func(t *testing.T, data []byte) {
		h := IPv4(data)
		if h.Valid() {
			tl, hl := int(h.TotalLength()), h.HeaderLength()
			if IPv4(data[:tl-1]).Valid() {
				t.Fatal("truncated datagram is Valid")
			}
			if len(h.Payload()) != tl-hl || len(h.Options()) != hl-IPv4MinHeaderLen {
				t.Fatal("Payload or Options have the wrong length")
			}
			_ = h.DontFragment() || h.MoreFragments()
			if h.CalculateChecksum() == h.Checksum() && !h.IsChecksumValid() {
				t.Fatal("stored checksum equals the calculated one but does not verify")
			}
			if hl == IPv4MinHeaderLen && h.CalculateChecksum() == h.Checksum() {
				out := make([]byte, IPv4MinHeaderLen)
				EncodeIPv4(out, IPv4Fields{
					TOS: h.TOS(), TotalLength: h.TotalLength(), ID: h.ID(), Flags: h.Flags(),
					FragmentOffset: h.FragmentOffset(), TTL: h.TTL(), Protocol: h.Protocol(),
					Src: h.SourceAddress(), Dst: h.DestinationAddress(),
				})
				if !bytes.Equal(out, data[:IPv4MinHeaderLen]) {
					t.Fatalf("re-encoded\n% x\nfrom\n% x", out, data[:IPv4MinHeaderLen])
				}
			}
			if m := ICMPv4(h.Payload()); h.Protocol() == ProtocolICMPv4 && m.Valid() {
				_, _, _, _ = m.Type(), m.Code(), m.Ident(), m.Sequence()
				_, _ = m.MTU(), m.Payload()
				if m.CalculateChecksum() == m.Checksum() && !m.IsChecksumValid() {
					t.Fatal("ICMP checksum equals the calculated one but does not verify")
				}
			}
		}

		// Any input as the datagram an ICMP error quotes.
		for _, maxQuote := range []int{-1, 0, IPv4MinHeaderLen, ICMPv4KernelMaxQuote} {
			buf := make([]byte, IPv4MinMTU+1)
			var n int
			if maxQuote < 0 {
				n = EncodeFragNeeded(buf, v4A, v4A, 2044, data)
			} else {
				n = EncodeICMPv4Error(buf, v4A, v4A, 3, 4, 2044, data, maxQuote)
			}
			if n == 0 {
				continue
			}
			out := IPv4(buf[:n])
			if n > IPv4MinMTU || !out.Valid() || !out.IsChecksumValid() || !ICMPv4(out.Payload()).IsChecksumValid() ||
				!bytes.HasPrefix(data, out.Payload()[ICMPv4MinHeaderLen:]) {
				t.Fatalf("bad ICMP error (maxQuote %d):\n% x", maxQuote, buf[:n])
			}
		}
	})
}

func FuzzIPv6(f *testing.F) {
	f.Add(udp6Packet(f, 100))
	ns := make([]byte, 100)
	n := EncodeNeighborSolicit(ns, v6A, SolicitedNodeAddr(v6B), v6B, &hwA)
	f.Add(ns[:n])
	f.Fuzz(func(t *testing.T, data []byte) {
		h := IPv6(data)
		if h.Valid() {
			pl := int(h.PayloadLength())
			if IPv6(data[:IPv6HeaderLen+pl-1]).Valid() {
				t.Fatal("truncated packet is Valid")
			}
			out := make([]byte, IPv6HeaderLen)
			EncodeIPv6(out, IPv6Fields{
				TrafficClass: h.TrafficClass(), FlowLabel: h.FlowLabel(), PayloadLength: h.PayloadLength(),
				NextHeader: h.NextHeader(), HopLimit: h.HopLimit(), Src: h.SourceAddress(), Dst: h.DestinationAddress(),
			})
			if !bytes.Equal(out, data[:IPv6HeaderLen]) {
				t.Fatalf("re-encoded\n% x\nfrom\n% x", out, data[:IPv6HeaderLen])
			}
			if m := ICMPv6(h.Payload()); h.NextHeader() == ProtocolICMPv6 && m.Valid() {
				src, dst := h.SourceAddress(), h.DestinationAddress()
				_, _, _, _ = m.Type(), m.Code(), m.Ident(), m.Sequence()
				_, _ = m.MTU(), m.Payload()
				if m.CalculateChecksum(src, dst) == m.Checksum() && !m.IsChecksumValid(src, dst) {
					t.Fatal("ICMPv6 checksum equals the calculated one but does not verify")
				}
				if m.Type() == ICMPv6NeighborSolicit || m.Type() == ICMPv6NeighborAdvert {
					if ICMPv6(h.Payload()[:NDPMessageLen-1]).Valid() {
						t.Fatal("truncated NDP message is Valid")
					}
					_, _ = m.TargetAddress(), m.NAFlags()
					for _, typ := range []uint8{NDPOptionSourceLinkLayerAddress, NDPOptionTargetLinkLayerAddress} {
						addr, found, ok := FindLinkLayerOption(m.NDPOptions(), typ)
						if (!found || !ok) && addr != (HWAddr{}) {
							t.Fatal("FindLinkLayerOption returned an address it rejected")
						}
						if found && ok && !bytes.Contains(m.NDPOptions(), addr[:]) {
							t.Fatal("FindLinkLayerOption returned an address not in the options")
						}
					}
				}
			}
		}

		buf := make([]byte, IPv6MinMTU+1)
		if n := EncodePacketTooBig(buf, v6A, v6A, 1280, data); n != 0 {
			out := IPv6(buf[:n])
			m := ICMPv6(out.Payload())
			if n > IPv6MinMTU || !out.Valid() || !m.IsChecksumValid(v6A, v6A) || !bytes.HasPrefix(data, m.Payload()) {
				t.Fatalf("bad packet too big:\n% x", buf[:n])
			}
		}
	})
}

func FuzzIPv6Fragment(f *testing.F) {
	b := make([]byte, 16)
	EncodeIPv6Fragment(b, IPv6FragmentFields{NextHeader: ProtocolICMPv6, Offset: 1992, More: true, ID: 7})
	f.Add(b)
	f.Add(b[:7])
	f.Fuzz(func(t *testing.T, data []byte) {
		h := IPv6Fragment(data)
		if h.Valid() != (len(data) >= IPv6FragmentHeaderLen) {
			t.Fatalf("Valid() = %v for %d bytes", h.Valid(), len(data))
		}
		if !h.Valid() {
			return
		}
		if h.FragmentOffset()&7 != 0 || h.FragmentOffset() > IPv6MaxFragmentOffset || len(h.Payload()) != len(data)-IPv6FragmentHeaderLen {
			t.Fatalf("offset %d, payload %d", h.FragmentOffset(), len(h.Payload()))
		}
		// Re-encoding keeps every field and clears only the reserved bits.
		out := make([]byte, IPv6FragmentHeaderLen)
		if n := EncodeIPv6Fragment(out, IPv6FragmentFields{NextHeader: h.NextHeader(), Offset: h.FragmentOffset(), More: h.More(), ID: h.ID()}); n != IPv6FragmentHeaderLen {
			t.Fatalf("EncodeIPv6Fragment = %d", n)
		}
		want := append([]byte(nil), data[:IPv6FragmentHeaderLen]...)
		want[1] = 0
		want[3] &^= 6
		if !bytes.Equal(out, want) {
			t.Fatalf("re-encoded\n% x\nfrom\n% x", out, data[:IPv6FragmentHeaderLen])
		}
	})
}

func FuzzCM(f *testing.F) {
	req := CMReq{LocalCommID: 1, ServiceID: 0x1000000000000048, LocalQPN: 0x49, PKey: 0xffff, PathMTU: 4, SRQ: true,
		Primary: CMPath{LocalLID: 1, RemoteLID: 3, SubnetLocal: true, LocalACKTimeout: 19}}
	b := make([]byte, MADSize)
	req.Encode(b, 0x100000001)
	f.Add(b)
	rej := CMRej{RemoteCommID: 1, Reason: CMRejInvalidServiceID}
	b = make([]byte, MADSize)
	rej.Encode(b, 0x100000001)
	f.Add(b)
	f.Add(bytes.Repeat([]byte{0xff}, MADSize))
	f.Add([]byte{1, 7, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := MAD(data)
		if m.Valid() != (len(data) == MADSize) {
			t.Fatalf("Valid() = %v for %d bytes", m.Valid(), len(data))
		}
		if !m.Valid() {
			if _, ok := DecodeCMReq(m); ok {
				t.Fatal("decoded an invalid MAD")
			}
			return
		}
		h := m.Header()
		hb := make([]byte, MADHeaderLen)
		if h.Encode(hb) != MADHeaderLen || MAD(append(hb, m.Data()...)).Header() != h {
			t.Fatal("the header does not re-encode to itself")
		}
		// Each message decodes, re-encodes with the same TID and decodes
		// to the same fields; only reserved bits may differ.
		out := make([]byte, MADSize)
		check := func(name string, dec func(MAD) (any, bool), enc func(any, []byte) int) {
			v, ok := dec(m)
			if !ok {
				t.Fatalf("%s: not decoded", name)
			}
			if enc(v, out) != MADSize {
				t.Fatalf("%s: not encoded", name)
			}
			if w, _ := dec(MAD(out)); w != v {
				t.Fatalf("%s: %+v re-decoded as %+v", name, v, w)
			}
			if MAD(out).Header().TID != h.TID {
				t.Fatalf("%s: TID changed", name)
			}
		}
		check("REQ", func(b MAD) (any, bool) { return DecodeCMReq(b) }, func(v any, b []byte) int { x := v.(CMReq); return x.Encode(b, h.TID) })
		check("REP", func(b MAD) (any, bool) { return DecodeCMRep(b) }, func(v any, b []byte) int { x := v.(CMRep); return x.Encode(b, h.TID) })
		check("REJ", func(b MAD) (any, bool) { return DecodeCMRej(b) }, func(v any, b []byte) int { x := v.(CMRej); return x.Encode(b, h.TID) })
		check("RTU", func(b MAD) (any, bool) { return DecodeCMRtu(b) }, func(v any, b []byte) int { x := v.(CMRtu); return x.Encode(b, h.TID) })
		check("DREQ", func(b MAD) (any, bool) { return DecodeCMDreq(b) }, func(v any, b []byte) int { x := v.(CMDreq); return x.Encode(b, h.TID) })
		check("DREP", func(b MAD) (any, bool) { return DecodeCMDrep(b) }, func(v any, b []byte) int { x := v.(CMDrep); return x.Encode(b, h.TID) })
		if p, ok := DecodeIPoIBCMData(m.Data()); !ok || p.QPN > 0xFFFFFF {
			t.Fatalf("private data %+v %v", p, ok)
		}
	})
}
