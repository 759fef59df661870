package header

import "testing"

func TestEncodeIPv4(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    IPv4Fields
		want string
	}{
		{
			name: "checksum example",
			f: IPv4Fields{TotalLength: 0x73, Flags: IPv4FlagDontFragment, TTL: 64, Protocol: ProtocolUDP,
				Src: [4]byte{192, 168, 0, 1}, Dst: [4]byte{192, 168, 0, 199}},
			want: "45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7",
		},
		{
			name: "UDP datagram of the ICMP tests",
			f: IPv4Fields{TotalLength: 4092, ID: 0xbeef, Flags: IPv4FlagDontFragment, TTL: 64, Protocol: ProtocolUDP,
				Src: v4A, Dst: v4B},
			want: "45 00 0f fc be ef 40 00 40 11 57 ff 0a 00 00 01 0a 00 00 02",
		},
		{
			name: "fragment with TOS",
			f: IPv4Fields{TOS: 0xb8, TotalLength: 1500, ID: 7, Flags: IPv4FlagMoreFragments, FragmentOffset: 1480 * 2, TTL: 1,
				Protocol: ProtocolICMPv4, Src: v4B, Dst: v4A},
			// 45 b8 05dc 0007 2172 01 01 → sum over words, complemented.
			want: "45 b8 05 dc 00 07 21 72 01 01 " + checksumHex(t, "45 b8 05 dc 00 07 21 72 01 01 00 00 0a 00 00 02 0a 00 00 01") + " 0a 00 00 02 0a 00 00 01",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := filled(22)
			if n := EncodeIPv4(b, tc.f); n != 20 {
				t.Fatalf("EncodeIPv4 = %d, want 20", n)
			}
			checkBytes(t, "header", b[:20], unhexString(t, tc.want))
			checkBytes(t, "after header", b[20:], []byte{0xee, 0xee})
			h := IPv4(b[:20])
			if h.Version() != 4 || h.HeaderLength() != 20 || h.TOS() != tc.f.TOS || h.TotalLength() != tc.f.TotalLength ||
				h.ID() != tc.f.ID || h.Flags() != tc.f.Flags || h.FragmentOffset() != tc.f.FragmentOffset ||
				h.TTL() != tc.f.TTL || h.Protocol() != tc.f.Protocol || h.SourceAddress() != tc.f.Src || h.DestinationAddress() != tc.f.Dst {
				t.Errorf("accessors disagree with %+v", tc.f)
			}
			if h.DontFragment() != (tc.f.Flags&IPv4FlagDontFragment != 0) || h.MoreFragments() != (tc.f.Flags&IPv4FlagMoreFragments != 0) {
				t.Errorf("DF %v MF %v for flags %#x", h.DontFragment(), h.MoreFragments(), tc.f.Flags)
			}
			if !h.IsChecksumValid() || h.CalculateChecksum() != h.Checksum() {
				t.Errorf("checksum %04x, calculated %04x", h.Checksum(), h.CalculateChecksum())
			}
			h.SetTTL(h.TTL() - 1)
			if h.IsChecksumValid() {
				t.Error("IsChecksumValid after changing TTL")
			}
			h.SetChecksum(h.CalculateChecksum())
			if !h.IsChecksumValid() {
				t.Error("IsChecksumValid after SetChecksum(CalculateChecksum())")
			}
		})
	}
	short := filled(19)
	if n := EncodeIPv4(short, IPv4Fields{}); n != 0 {
		t.Errorf("EncodeIPv4 into 19 bytes = %d, want 0", n)
	}
	checkBytes(t, "short buffer untouched", short, filled(19))
}

// checksumHex returns the complemented checksum of hex data as "hh ll".
func checksumHex(t *testing.T, data string) string {
	c := ^naiveChecksum(unhexString(t, data), 0)
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>12], digits[c>>8&0xf], ' ', digits[c>>4&0xf], digits[c&0xf]})
}

func TestIPv4Valid(t *testing.T) {
	pkt := make([]byte, 28)
	EncodeIPv4(pkt, IPv4Fields{TotalLength: 28, TTL: 64, Protocol: ProtocolUDP, Src: v4A, Dst: v4B})
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), pkt...)
		f(b)
		return b
	}
	withOptions := make([]byte, 32)
	EncodeIPv4(withOptions, IPv4Fields{TotalLength: 32, TTL: 64, Protocol: ProtocolUDP, Src: v4A, Dst: v4B})
	withOptions[0] = 0x46 // IHL 6: 4 option bytes (NOP NOP NOP EOL)
	copy(withOptions[20:], []byte{1, 1, 1, 0})
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"whole datagram", pkt, true},
		{"link padding after total length", append(append([]byte(nil), pkt...), 0, 0), true},
		{"header only, total length 20", mod(func(b []byte) { b[3] = 20 })[:20], true},
		{"with options", withOptions, true},
		{"empty", nil, false},
		{"19 bytes", pkt[:19], false},
		{"truncated payload", pkt[:27], false},
		{"version 6", mod(func(b []byte) { b[0] = 0x65 }), false},
		{"version 0", mod(func(b []byte) { b[0] = 0x05 }), false},
		{"IHL 4", mod(func(b []byte) { b[0] = 0x44 }), false},
		{"IHL 15 beyond total length", mod(func(b []byte) { b[0] = 0x4f }), false},
		{"total length below IHL", mod(func(b []byte) { b[3] = 19 }), false},
		{"total length 0", mod(func(b []byte) { b[2], b[3] = 0, 0 }), false},
	} {
		if got := IPv4(tc.b).Valid(); got != tc.want {
			t.Errorf("%s: Valid() = %v, want %v", tc.name, got, tc.want)
		}
	}
	h := IPv4(withOptions)
	if h.HeaderLength() != 24 || len(h.Options()) != 4 || len(h.Payload()) != 8 {
		t.Errorf("HeaderLength %d options %d payload %d", h.HeaderLength(), len(h.Options()), len(h.Payload()))
	}
	h.SetChecksum(h.CalculateChecksum())
	if !h.IsChecksumValid() || Checksum(withOptions[:24], 0) != 0xffff {
		t.Error("checksum over options")
	}
	p := IPv4(append(append([]byte(nil), pkt...), 0xaa, 0xbb))
	if len(p.Payload()) != 8 {
		t.Errorf("Payload includes link padding: %d bytes", len(p.Payload()))
	}
}
