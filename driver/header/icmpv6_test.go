package header

import "testing"

const (
	hexV6A = "fe 80 00 00 00 00 00 00 02 02 c9 03 00 0b 3b 51"
	hexV6B = "fe 80 00 00 00 00 00 00 02 02 c9 03 00 0b 3b 52"
)

func TestEncodeICMPv6Echo(t *testing.T) {
	b := filled(58)
	f := IPv6Fields{HopLimit: 64, NextHeader: 99, PayloadLength: 1, Src: v6A, Dst: v6B}
	if n := EncodeICMPv6Echo(b, f, ICMPv6EchoRequest, 0x1234, 1, []byte("abcdefgh")); n != 56 {
		t.Fatalf("EncodeICMPv6Echo = %d, want 56", n)
	}
	want := unhexString(t, "60 00 00 00 00 10 3a 40 "+hexV6A+hexV6B+
		"80 00 d2 23 12 34 00 01 61 62 63 64 65 66 67 68")
	checkBytes(t, "packet", b[:56], want)
	checkBytes(t, "after packet", b[56:], []byte{0xee, 0xee})
	ip := IPv6(b[:56])
	m := ICMPv6(ip.Payload())
	if !ip.Valid() || !m.Valid() || !m.IsChecksumValid(v6A, v6B) {
		t.Fatal("not valid")
	}
	// The pseudo-header sum is symmetric in source and destination, but
	// a different address must not verify.
	if !m.IsChecksumValid(v6B, v6A) {
		t.Error("checksum does not verify with source and destination swapped")
	}
	if m.IsChecksumValid(v6A, SolicitedNodeAddr(v6B)) {
		t.Error("checksum verifies with a different destination")
	}
	if m.Type() != ICMPv6EchoRequest || m.Code() != 0 || m.Ident() != 0x1234 || m.Sequence() != 1 || string(m.Payload()) != "abcdefgh" {
		t.Errorf("type %d code %d ident %#x seq %d data %q", m.Type(), m.Code(), m.Ident(), m.Sequence(), m.Payload())
	}
	short := filled(55)
	if n := EncodeICMPv6Echo(short, f, ICMPv6EchoReply, 1, 1, []byte("abcdefgh")); n != 0 {
		t.Errorf("EncodeICMPv6Echo into 55 bytes = %d, want 0", n)
	}
	checkBytes(t, "short buffer untouched", short, filled(55))
}

func TestEncodePacketTooBig(t *testing.T) {
	for _, tc := range []struct {
		name     string
		orig     []byte
		mtu      uint32
		wantLen  int
		wantHead string // IPv6 header and ICMPv6 header
	}{
		{
			name: "4092-byte packet over mcast_mtu 2044: quote fills 1280", orig: udp6Packet(t, 4092), mtu: 2044, wantLen: 1280,
			wantHead: "60 00 00 00 04 d8 3a 40 " + hexV6A + hexV6A + "02 00 d2 9a 00 00 07 fc",
		},
		{
			name: "small packet quoted whole", orig: udp6Packet(t, 100), mtu: 1280, wantLen: 148,
			wantHead: "60 00 00 00 00 6c 3a 40 " + hexV6A + hexV6A + "02 00 36 a4 00 00 05 00",
		},
		{
			name: "link padding not quoted", orig: append(udp6Packet(t, 100), 0xaa, 0xbb), mtu: 1280, wantLen: 148,
			wantHead: "60 00 00 00 00 6c 3a 40 " + hexV6A + hexV6A + "02 00 36 a4 00 00 05 00",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := filled(tc.wantLen + 2)
			if n := EncodePacketTooBig(b, v6A, v6A, tc.mtu, tc.orig); n != tc.wantLen {
				t.Fatalf("EncodePacketTooBig = %d, want %d", n, tc.wantLen)
			}
			checkBytes(t, "headers", b[:48], unhexString(t, tc.wantHead))
			checkBytes(t, "quote", b[48:tc.wantLen], tc.orig[:tc.wantLen-48])
			checkBytes(t, "after packet", b[tc.wantLen:], []byte{0xee, 0xee})
			ip := IPv6(b[:tc.wantLen])
			m := ICMPv6(ip.Payload())
			if !ip.Valid() || !m.Valid() || !m.IsChecksumValid(v6A, v6A) || m.Type() != ICMPv6PacketTooBig || m.MTU() != tc.mtu {
				t.Errorf("valid %v %v checksum %v type %d mtu %d", ip.Valid(), m.Valid(), m.IsChecksumValid(v6A, v6A), m.Type(), m.MTU())
			}
		})
	}
	for _, tc := range []struct {
		name string
		orig []byte
		blen int
	}{
		{"original shorter than a header", udp6Packet(t, 100)[:39], 200},
		{"original is IPv4", udp4Packet(t, 0), 2000},
		{"buffer one byte short", udp6Packet(t, 100), 147},
	} {
		b := filled(tc.blen)
		if n := EncodePacketTooBig(b, v6A, v6A, 1280, tc.orig); n != 0 {
			t.Errorf("%s: EncodePacketTooBig = %d, want 0", tc.name, n)
		}
		checkBytes(t, tc.name+": buffer untouched", b, filled(tc.blen))
	}
}

func TestEncodeNDP(t *testing.T) {
	snB := SolicitedNodeAddr(v6B)
	hexSNB := "ff 02 00 00 00 00 00 00 00 00 00 01 ff 0b 3b 52"
	for _, tc := range []struct {
		name string
		enc  func(b []byte) int
		src  [16]byte
		dst  [16]byte
		want string
	}{
		{
			name: "solicitation with source link-layer option",
			enc:  func(b []byte) int { return EncodeNeighborSolicit(b, v6A, snB, v6B, &hwA) },
			src:  v6A, dst: snB,
			want: "60 00 00 00 00 30 3a ff " + hexV6A + hexSNB +
				"87 00 af 7d 00 00 00 00 " + hexV6B +
				"01 03 00 00 80 00 02 08 fe 80 00 00 00 00 00 00 00 02 c9 03 00 0b 3b 51",
		},
		{
			name: "duplicate address detection, no option",
			enc:  func(b []byte) int { return EncodeNeighborSolicit(b, [16]byte{}, snB, v6B, nil) },
			src:  [16]byte{}, dst: snB,
			want: "60 00 00 00 00 18 3a ff 00000000000000000000000000000000" + hexSNB +
				"87 00 3a 67 00 00 00 00 " + hexV6B,
		},
		{
			name: "solicited advertisement with target link-layer option",
			enc: func(b []byte) int {
				return EncodeNeighborAdvert(b, v6B, v6A, v6B, NAFlagSolicited|NAFlagOverride, &hwB)
			},
			src: v6B, dst: v6A,
			want: "60 00 00 00 00 30 3a ff " + hexV6B + hexV6A +
				"88 00 ff b9 60 00 00 00 " + hexV6B +
				"02 03 00 00 00 00 04 49 fe 80 00 00 00 00 00 00 00 02 c9 03 00 0b 3b 52",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := unhexString(t, tc.want)
			b := filled(len(want) + 2)
			if n := tc.enc(b); n != len(want) {
				t.Fatalf("encoded %d bytes, want %d", n, len(want))
			}
			checkBytes(t, "packet", b[:len(want)], want)
			checkBytes(t, "after packet", b[len(want):], []byte{0xee, 0xee})
			if n := tc.enc(filled(len(want) - 1)); n != 0 {
				t.Errorf("into a buffer one byte short: %d, want 0", n)
			}
			ip := IPv6(b[:len(want)])
			m := ICMPv6(ip.Payload())
			if !ip.Valid() || !m.Valid() || !m.IsChecksumValid(tc.src, tc.dst) || ip.HopLimit() != 255 {
				t.Fatal("not valid")
			}
			if m.TargetAddress() != v6B {
				t.Errorf("TargetAddress % x", m.TargetAddress())
			}
		})
	}
}

func TestLinkLayerOption(t *testing.T) {
	b := filled(26)
	if n := EncodeLinkLayerOption(b, NDPOptionTargetLinkLayerAddress, hwA); n != 24 {
		t.Fatalf("EncodeLinkLayerOption = %d, want 24", n)
	}
	checkBytes(t, "option", b, unhexString(t, "02 03 00 00 80 00 02 08 fe 80 00 00 00 00 00 00 00 02 c9 03 00 0b 3b 51 ee ee"))
	if n := EncodeLinkLayerOption(filled(23), 1, hwA); n != 0 {
		t.Errorf("EncodeLinkLayerOption into 23 bytes = %d", n)
	}

	sll := make([]byte, 24)
	EncodeLinkLayerOption(sll, NDPOptionSourceLinkLayerAddress, hwA)
	tll := make([]byte, 24)
	EncodeLinkLayerOption(tll, NDPOptionTargetLinkLayerAddress, hwB)
	nonce := unhexString(t, "0e 01 01 02 03 04 05 06") // RFC 3971 nonce option, 8 bytes
	eth := unhexString(t, "01 01 00 11 22 33 44 55")   // an Ethernet-sized SLLA
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		opts      []byte
		typ       uint8
		want      HWAddr
		found, ok bool
	}{
		{"no options", nil, 1, HWAddr{}, false, true},
		{"source option", sll, 1, hwA, true, true},
		{"target option", tll, 2, hwB, true, true},
		{"other type only", tll, 1, HWAddr{}, false, true},
		{"after another option", cat(nonce, sll), 1, hwA, true, true},
		{"first of duplicates wins", cat(sll, nonce, func() []byte { o := make([]byte, 24); EncodeLinkLayerOption(o, 1, hwB); return o }()), 1, hwA, true, true},
		{"pad bytes not checked", cat([]byte{1, 3, 0xaa, 0xbb}, hwA[:]), 1, hwA, true, true},
		{"wrong length (Ethernet)", eth, 1, HWAddr{}, true, false},
		{"wrong length (32 bytes)", cat([]byte{1, 4, 0, 0}, hwA[:], make([]byte, 8)), 1, HWAddr{}, true, false},
		{"zero-length option", cat(sll, []byte{5, 0, 0, 0, 0, 0, 0, 0}), 1, HWAddr{}, false, false},
		{"overrun", sll[:23], 1, HWAddr{}, false, false},
		{"one stray byte", cat(sll, []byte{1}), 1, HWAddr{}, false, false},
		{"malformed after the match", cat(sll, nonce[:7]), 1, HWAddr{}, false, false},
	} {
		addr, found, ok := FindLinkLayerOption(tc.opts, tc.typ)
		if addr != tc.want || found != tc.found || ok != tc.ok {
			t.Errorf("%s: FindLinkLayerOption = %s, found %v, ok %v; want %s, %v, %v", tc.name, addr, found, ok, tc.want, tc.found, tc.ok)
		}
	}
}

func TestICMPv6Valid(t *testing.T) {
	for _, tc := range []struct {
		typ  uint8
		n    int
		want bool
	}{
		{ICMPv6EchoRequest, 7, false},
		{ICMPv6EchoRequest, 8, true},
		{ICMPv6PacketTooBig, 8, true},
		{ICMPv6NeighborSolicit, 23, false},
		{ICMPv6NeighborSolicit, 24, true},
		{ICMPv6NeighborAdvert, 23, false},
		{ICMPv6NeighborAdvert, 24, true},
	} {
		b := make([]byte, tc.n)
		if tc.n > 0 {
			b[0] = tc.typ
		}
		if got := ICMPv6(b).Valid(); got != tc.want {
			t.Errorf("type %d, %d bytes: Valid() = %v, want %v", tc.typ, tc.n, got, tc.want)
		}
	}
	if ICMPv6(nil).Valid() {
		t.Error("Valid(nil)")
	}
}

// Time Exceeded / reassembly timeout, as ip_expire and
// ip6frag_expire_frag_queue send it: type 11 code 1 quoting up to 548
// bytes, type 3 code 1 quoting up to 1232 bytes, the unused word zero.
// The checksums follow from the Frag Needed and Packet Too Big vectors
// by adjusting the changed words.
func TestEncodeTimeExceeded(t *testing.T) {
	for _, tc := range []struct {
		name     string
		enc      func(b []byte) int
		orig     []byte
		wantLen  int
		wantHead string
	}{
		{
			name: "IPv4 quotes 548 bytes",
			enc: func(b []byte) int {
				return EncodeICMPv4Error(b, v4A, v4A, ICMPv4TimeExceeded, ICMPv4ReassemblyTimeout, 0, udp4Packet(t, 0), ICMPv4KernelMaxQuote)
			},
			orig: udp4Packet(t, 0), wantLen: 576,
			wantHead: "45 c0 02 40 00 00 00 00 40 01 63 fc 0a 00 00 01 0a 00 00 01 0b 01 a8 bd 00 00 00 00",
		},
		{
			name: "IPv6 small packet quoted whole",
			enc: func(b []byte) int {
				return EncodeICMPv6Error(b, v6A, v6A, ICMPv6TimeExceeded, ICMPv6ReassemblyTimeout, 0, udp6Packet(t, 100))
			},
			orig: udp6Packet(t, 100), wantLen: 148,
			wantHead: "60 00 00 00 00 6c 3a 40 " + hexV6A + hexV6A + "03 01 3a a3 00 00 00 00",
		},
		{
			name: "IPv6 quote fills 1280",
			enc: func(b []byte) int {
				return EncodeICMPv6Error(b, v6A, v6A, ICMPv6TimeExceeded, ICMPv6ReassemblyTimeout, 0, udp6Packet(t, 4092))
			},
			orig: udp6Packet(t, 4092), wantLen: 1280,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := filled(tc.wantLen + 2)
			if n := tc.enc(b); n != tc.wantLen {
				t.Fatalf("encoded %d bytes, want %d", n, tc.wantLen)
			}
			hl := 28
			if tc.orig[0]>>4 == 6 {
				hl = 48
			}
			if tc.wantHead != "" {
				checkBytes(t, "headers", b[:hl], unhexString(t, tc.wantHead))
			}
			checkBytes(t, "quote", b[hl:tc.wantLen], tc.orig[:tc.wantLen-hl])
			checkBytes(t, "after packet", b[tc.wantLen:], []byte{0xee, 0xee})
			if hl == 48 {
				m := ICMPv6(IPv6(b[:tc.wantLen]).Payload())
				if !m.IsChecksumValid(v6A, v6A) || m.Type() != ICMPv6TimeExceeded || m.Code() != ICMPv6ReassemblyTimeout {
					t.Errorf("checksum %v type %d code %d", m.IsChecksumValid(v6A, v6A), m.Type(), m.Code())
				}
			} else if m := ICMPv4(b[20:tc.wantLen]); !m.IsChecksumValid() {
				t.Error("ICMPv4 checksum does not verify")
			}
		})
	}
}

// The ICMPv6 encoders take a buffer exactly as long as the packet, and
// an echo payload up to the 65535 bytes the payload length field holds
// (RFC 8200; more needs a jumbogram, which is not written): 65527 bytes
// of data fit and one byte more does not.
func TestEncodeICMPv6Limits(t *testing.T) {
	f := IPv6Fields{HopLimit: 64, Src: v6A, Dst: v6B}
	for _, tc := range []struct {
		name    string
		data    int
		blen    int
		wantLen int
	}{
		{"buffer exactly the packet", 8, 56, 56},
		{"buffer one byte short", 8, 55, 0},
		{"65527 bytes of data: payload length 65535", 65527, 65575, 65575},
		{"65528 bytes of data", 65528, 65600, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := pattern(tc.data)
			b := filled(tc.blen)
			n := EncodeICMPv6Echo(b, f, ICMPv6EchoRequest, 0x1234, 1, data)
			if n != tc.wantLen {
				t.Fatalf("EncodeICMPv6Echo = %d, want %d", n, tc.wantLen)
			}
			if n == 0 {
				checkBytes(t, "buffer untouched", b, filled(tc.blen))
				return
			}
			ip := IPv6(b[:n])
			if int(ip.PayloadLength()) != n-40 || naiveChecksum(b[40:n], PseudoHeaderChecksumV6(ProtocolICMPv6, v6A, v6B, uint32(n-40))) != 0xffff {
				t.Errorf("payload length %d, checksum does not verify", ip.PayloadLength())
			}
			checkBytes(t, "data", b[48:n], data)
		})
	}
}

// EncodeICMPv6Error quotes an original that is only its fixed header
// (payload length 0) and writes into a buffer exactly as long as the
// error; the neighbour discovery encoders take an exact buffer too.
func TestEncodeICMPv6ExactBuffers(t *testing.T) {
	bare := udp6Packet(t, 100)[:40]
	bare[4], bare[5] = 0, 0 // payload length 0
	for _, tc := range []struct {
		name    string
		enc     func(b []byte) int
		wantLen int
		wantEnd []byte // the packet's last bytes
	}{
		{"error quoting a bare header", func(b []byte) int {
			return EncodeICMPv6Error(b, v6A, v6A, ICMPv6DstUnreachable, ICMPv6AddressUnreachable, 0, bare)
		}, 88, bare},
		{"error quoting a small packet", func(b []byte) int {
			return EncodeICMPv6Error(b, v6A, v6A, ICMPv6TimeExceeded, ICMPv6ReassemblyTimeout, 0, udp6Packet(t, 100))
		}, 148, udp6Packet(t, 100)},
		{"solicitation with option", func(b []byte) int {
			return EncodeNeighborSolicit(b, v6A, SolicitedNodeAddr(v6B), v6B, &hwA)
		}, 88, hwA[:]},
		{"advertisement without option", func(b []byte) int {
			return EncodeNeighborAdvert(b, v6B, v6A, v6B, NAFlagSolicited, nil)
		}, 64, v6B[:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := filled(tc.wantLen)
			if n := tc.enc(b); n != tc.wantLen {
				t.Fatalf("encoded %d bytes into %d, want %d", n, tc.wantLen, tc.wantLen)
			}
			checkBytes(t, "end of packet", b[tc.wantLen-len(tc.wantEnd):], tc.wantEnd)
			if got := IPv6(b).PayloadLength(); int(got) != tc.wantLen-40 {
				t.Errorf("payload length %d, want %d", got, tc.wantLen-40)
			}
			short := filled(tc.wantLen - 1)
			if n := tc.enc(short); n != 0 {
				t.Errorf("encoded %d bytes into %d, want 0", n, tc.wantLen-1)
			}
			checkBytes(t, "short buffer untouched", short, filled(tc.wantLen-1))
		})
	}
}
