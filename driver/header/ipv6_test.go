package header

import "testing"

func TestEncodeIPv6(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    IPv6Fields
		want string
	}{
		{
			name: "ICMPv6 link-local",
			f:    IPv6Fields{PayloadLength: 16, NextHeader: ProtocolICMPv6, HopLimit: 64, Src: v6A, Dst: v6B},
			want: `60 00 00 00 00 10 3a 40
				fe 80 00 00 00 00 00 00 02 02 c9 03 00 0b 3b 51
				fe 80 00 00 00 00 00 00 02 02 c9 03 00 0b 3b 52`,
		},
		{
			name: "traffic class and flow label",
			f:    IPv6Fields{TrafficClass: 0xb8, FlowLabel: 0xfedcba98, PayloadLength: 0x1234, NextHeader: ProtocolUDP, HopLimit: 255, Src: v6B, Dst: v6A},
			want: `6b 8c ba 98 12 34 11 ff
				fe 80 00 00 00 00 00 00 02 02 c9 03 00 0b 3b 52
				fe 80 00 00 00 00 00 00 02 02 c9 03 00 0b 3b 51`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := filled(42)
			if n := EncodeIPv6(b, tc.f); n != 40 {
				t.Fatalf("EncodeIPv6 = %d, want 40", n)
			}
			checkBytes(t, "header", b[:40], unhexString(t, tc.want))
			checkBytes(t, "after header", b[40:], []byte{0xee, 0xee})
			h := IPv6(b)
			if h.Version() != 6 || h.TrafficClass() != tc.f.TrafficClass || h.FlowLabel() != tc.f.FlowLabel&0xfffff ||
				h.PayloadLength() != tc.f.PayloadLength || h.NextHeader() != tc.f.NextHeader || h.HopLimit() != tc.f.HopLimit ||
				h.SourceAddress() != tc.f.Src || h.DestinationAddress() != tc.f.Dst {
				t.Errorf("accessors disagree with %+v", tc.f)
			}
		})
	}
	short := filled(39)
	if n := EncodeIPv6(short, IPv6Fields{}); n != 0 {
		t.Errorf("EncodeIPv6 into 39 bytes = %d, want 0", n)
	}
	checkBytes(t, "short buffer untouched", short, filled(39))
}

func TestIPv6Valid(t *testing.T) {
	pkt := udp6Packet(t, 100)
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), pkt...)
		f(b)
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"whole packet", pkt, true},
		{"link padding", append(append([]byte(nil), pkt...), 0, 0), true},
		{"header only, payload length 0", mod(func(b []byte) { b[4], b[5] = 0, 0 })[:40], true},
		{"empty", nil, false},
		{"39 bytes", pkt[:39], false},
		{"truncated payload", pkt[:99], false},
		{"version 4", mod(func(b []byte) { b[0] = 0x40 }), false},
		{"version 7", mod(func(b []byte) { b[0] = 0x70 }), false},
		{"payload length beyond buffer", mod(func(b []byte) { b[5] = 61 }), false},
	} {
		if got := IPv6(tc.b).Valid(); got != tc.want {
			t.Errorf("%s: Valid() = %v, want %v", tc.name, got, tc.want)
		}
	}
	if p := IPv6(append(append([]byte(nil), pkt...), 0xaa)).Payload(); len(p) != 60 {
		t.Errorf("Payload includes padding: %d bytes", len(p))
	}
}

func TestSolicitedNodeAddr(t *testing.T) {
	for _, tc := range []struct {
		addr [16]byte
		want string
	}{
		{v6B, "ff02 0000 0000 0000 0000 0001 ff0b 3b52"},
		{[16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 0x01}, "ff02 0000 0000 0000 0000 0001 ff00 0001"},
		{[16]byte{}, "ff02 0000 0000 0000 0000 0001 ff00 0000"},
	} {
		got := SolicitedNodeAddr(tc.addr)
		checkBytes(t, "SolicitedNodeAddr", got[:], unhexString(t, tc.want))
	}
}

// SkipIPv6ExtHeaders follows ipv6_skip_exthdr: option headers in 8-byte
// units, AH in 4-byte units, a first fragment stepped over and a later
// one stopped at, no next header and cut fields refused.
func TestSkipIPv6ExtHeaders(t *testing.T) {
	hbh := func(next, units uint8) []byte { return append([]byte{next, units}, make([]byte, 6+8*int(units))...) }
	frag := func(next uint8, off uint16) []byte { return []byte{next, 0, byte(off >> 8), byte(off), 0, 0, 0, 1} }
	ah := []byte{ProtocolICMPv6, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // (2+2)*4 = 16 bytes
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	tests := []struct {
		name    string
		nh      uint8
		payload []byte
		off     int
		next    uint8
		fragOff uint16
		ok      bool
	}{
		{"no extension header", ProtocolICMPv6, []byte{128, 0}, 0, ProtocolICMPv6, 0, true},
		{"hop-by-hop", ProtocolIPv6HopByHop, cat(hbh(ProtocolICMPv6, 0), []byte{1}), 8, ProtocolICMPv6, 0, true},
		{"destination options of 16 bytes, then routing", ProtocolIPv6DestOpts,
			cat(hbh(ProtocolIPv6Routing, 1), hbh(ProtocolUDP, 0)), 24, ProtocolUDP, 0, true},
		{"authentication", ProtocolIPv6Auth, cat(ah, []byte{1}), 16, ProtocolICMPv6, 0, true},
		{"first fragment", ProtocolIPv6Fragment, cat(frag(ProtocolICMPv6, 1), []byte{1}), 8, ProtocolICMPv6, 1, true},
		{"later fragment", ProtocolIPv6Fragment, cat(frag(ProtocolICMPv6, 8|1), []byte{1}), 0, ProtocolIPv6Fragment, 9, true},
		{"no next header", ProtocolIPv6HopByHop, hbh(ProtocolIPv6NoNext, 0), 0, ProtocolIPv6NoNext, 0, false},
		{"option header cut before its length", ProtocolIPv6HopByHop, []byte{ProtocolICMPv6}, 0, ProtocolIPv6HopByHop, 0, false},
		{"option header's two fields only", ProtocolIPv6HopByHop, []byte{ProtocolICMPv6, 0}, 8, ProtocolICMPv6, 0, true},
		{"fragment header cut before its offset", ProtocolIPv6Fragment, []byte{ProtocolICMPv6, 0, 0}, 0, ProtocolIPv6Fragment, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off, next, fragOff, ok := SkipIPv6ExtHeaders(tt.payload, tt.nh)
			if ok != tt.ok || ok && (off != tt.off || next != tt.next || fragOff != tt.fragOff) {
				t.Errorf("= %d, %d, %#x, %v; want %d, %d, %#x, %v", off, next, fragOff, ok, tt.off, tt.next, tt.fragOff, tt.ok)
			}
		})
	}
}
