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
