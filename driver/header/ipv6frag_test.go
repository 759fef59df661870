package header

import "testing"

func TestEncodeIPv6Fragment(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    IPv6FragmentFields
		want string
	}{
		{"first of an echo", IPv6FragmentFields{NextHeader: ProtocolICMPv6, More: true, ID: 1}, "3a 00 00 01 00 00 00 01"},
		// 1992 = 249 × 8: the second fragment at MTU 2044
		{"middle", IPv6FragmentFields{NextHeader: ProtocolICMPv6, Offset: 1992, More: true, ID: 0xdeadbeef}, "3a 00 07 c9 de ad be ef"},
		{"last", IPv6FragmentFields{NextHeader: ProtocolUDP, Offset: 3984, ID: 0x01020304}, "11 00 0f 90 01 02 03 04"},
		{"largest offset", IPv6FragmentFields{NextHeader: ProtocolICMPv6, Offset: IPv6MaxFragmentOffset, ID: 0xffffffff}, "3a 00 ff f8 ff ff ff ff"},
		{"atomic", IPv6FragmentFields{NextHeader: ProtocolICMPv6}, "3a 00 00 00 00 00 00 00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := filled(10)
			if n := EncodeIPv6Fragment(b, tc.f); n != IPv6FragmentHeaderLen {
				t.Fatalf("EncodeIPv6Fragment = %d, want 8", n)
			}
			checkBytes(t, "header", b[:8], unhexString(t, tc.want))
			checkBytes(t, "after header", b[8:], []byte{0xee, 0xee})
			h := IPv6Fragment(b)
			if !h.Valid() || h.NextHeader() != tc.f.NextHeader || h.FragmentOffset() != tc.f.Offset || h.More() != tc.f.More ||
				h.ID() != tc.f.ID || len(h.Payload()) != 2 {
				t.Errorf("accessors disagree with %+v", tc.f)
			}
		})
	}
	for _, tc := range []struct {
		name string
		n    int
		f    IPv6FragmentFields
	}{
		{"7 bytes", 7, IPv6FragmentFields{}},
		{"offset not a multiple of 8", 8, IPv6FragmentFields{Offset: 1996}},
	} {
		b := filled(tc.n)
		if n := EncodeIPv6Fragment(b, tc.f); n != 0 {
			t.Errorf("%s: EncodeIPv6Fragment = %d, want 0", tc.name, n)
		}
		checkBytes(t, tc.name+": buffer untouched", b, filled(tc.n))
	}
}

func TestIPv6FragmentView(t *testing.T) {
	for _, tc := range []struct {
		name   string
		b      string
		valid  bool
		offset uint16
		more   bool
	}{
		{"reserved bits ignored", "3a ff 07 cf 00 00 00 09", true, 1992, true},
		{"M clear, res set", "3a 00 00 16 00 00 00 09", true, 16, false},
		{"7 bytes", "3a 00 00 00 00 00 00", false, 0, false},
		{"empty", "", false, 0, false},
	} {
		h := IPv6Fragment(unhexString(t, tc.b))
		if h.Valid() != tc.valid {
			t.Errorf("%s: Valid() = %v", tc.name, h.Valid())
			continue
		}
		if tc.valid && (h.FragmentOffset() != tc.offset || h.More() != tc.more || h.ID() != 9) {
			t.Errorf("%s: offset %d more %v id %d", tc.name, h.FragmentOffset(), h.More(), h.ID())
		}
	}
}
