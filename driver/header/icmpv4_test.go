package header

import (
	"bytes"
	"testing"
)

func TestEncodeICMPv4Echo(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  uint8
		want string
	}{
		{"request", ICMPv4Echo, `45 00 00 24 1c 46 40 00 40 01 0a 91 0a 00 00 01 0a 00 00 02
			08 00 54 35 12 34 00 01 61 62 63 64 65 66 67 68`},
		// Type 0 instead of 8: the ICMP checksum grows by 0x0800.
		{"reply", ICMPv4EchoReply, `45 00 00 24 1c 46 40 00 40 01 0a 91 0a 00 00 01 0a 00 00 02
			00 00 5c 35 12 34 00 01 61 62 63 64 65 66 67 68`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := filled(38)
			f := IPv4Fields{ID: 0x1c46, Flags: IPv4FlagDontFragment, TTL: 64, Protocol: 99, TotalLength: 1, Src: v4A, Dst: v4B}
			if n := EncodeICMPv4Echo(b, f, tc.typ, 0x1234, 1, []byte("abcdefgh")); n != 36 {
				t.Fatalf("EncodeICMPv4Echo = %d, want 36", n)
			}
			checkBytes(t, "packet", b[:36], unhexString(t, tc.want))
			checkBytes(t, "after packet", b[36:], []byte{0xee, 0xee})
			ip := IPv4(b[:36])
			m := ICMPv4(ip.Payload())
			if !ip.Valid() || !ip.IsChecksumValid() || !m.Valid() || !m.IsChecksumValid() {
				t.Fatal("not valid")
			}
			if m.Type() != tc.typ || m.Code() != 0 || m.Ident() != 0x1234 || m.Sequence() != 1 || string(m.Payload()) != "abcdefgh" {
				t.Errorf("type %d code %d ident %#x seq %d data %q", m.Type(), m.Code(), m.Ident(), m.Sequence(), m.Payload())
			}
		})
	}
	short := filled(35)
	if n := EncodeICMPv4Echo(short, IPv4Fields{}, ICMPv4Echo, 1, 1, []byte("abcdefgh")); n != 0 {
		t.Errorf("EncodeICMPv4Echo into 35 bytes = %d, want 0", n)
	}
	checkBytes(t, "short buffer untouched", short, filled(35))
}

func TestEncodeFragNeeded(t *testing.T) {
	orig := udp4Packet(t, 0)
	checkBytes(t, "original datagram", orig[:28], unhexString(t, "45 00 0f fc be ef 40 00 40 11 57 ff 0a 00 00 01 0a 00 00 02 9c 40 13 89 0f e8 00 00"))
	withOptions := make([]byte, 64)
	EncodeIPv4(withOptions, IPv4Fields{TotalLength: 64, TTL: 64, Protocol: ProtocolUDP, Src: v4A, Dst: v4B})
	withOptions[0] = 0x46
	copy(withOptions[20:], []byte{1, 1, 1, 0, 0x9c, 0x40, 0x13, 0x89, 0x00, 0x2c, 0x00, 0x00, 0xaa, 0xbb})
	IPv4(withOptions).SetChecksum(IPv4(withOptions).CalculateChecksum())

	for _, tc := range []struct {
		name string
		orig []byte
		mtu  uint16
		want string
	}{
		{
			name: "UDP datagram over mcast_mtu 2044", orig: orig, mtu: 2044,
			want: `45 c0 00 38 00 00 00 00 40 01 66 04 0a 00 00 01 0a 00 00 01
				03 04 35 4e 00 00 07 fc
				45 00 0f fc be ef 40 00 40 11 57 ff 0a 00 00 01 0a 00 00 02 9c 40 13 89 0f e8 00 00`,
		},
		{
			name: "TOS 0xb8 becomes 0xd8", orig: udp4Packet(t, 0xb8), mtu: 2044,
			want: `45 d8 00 38 00 00 00 00 40 01 65 ec 0a 00 00 01 0a 00 00 01
				03 04 35 4e 00 00 07 fc
				45 b8 0f fc be ef 40 00 40 11 57 47 0a 00 00 01 0a 00 00 02 9c 40 13 89 0f e8 00 00`,
		},
		{
			name: "header options are quoted", orig: withOptions, mtu: 1500,
			want: "45 c0 00 3c 00 00 00 00 40 01 " + checksumHex(t, "45 c0 00 3c 00 00 00 00 40 01 00 00 0a 00 00 01 0a 00 00 01") +
				" 0a 00 00 01 0a 00 00 01 03 04 " +
				checksumHex(t, "03 04 00 00 00 00 05 dc "+hexOf(withOptions[:32])) +
				" 00 00 05 dc " + hexOf(withOptions[:32]),
		},
		{
			name: "short original quoted whole", orig: orig[:24], mtu: 2044,
			want: "45 c0 00 34 00 00 00 00 40 01 " + checksumHex(t, "45 c0 00 34 00 00 00 00 40 01 00 00 0a 00 00 01 0a 00 00 01") +
				" 0a 00 00 01 0a 00 00 01 03 04 " +
				checksumHex(t, "03 04 00 00 00 00 07 fc "+hexOf(orig[:24])) +
				" 00 00 07 fc " + hexOf(orig[:24]),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := unhexString(t, tc.want)
			b := filled(len(want) + 2)
			src := IPv4(tc.orig).SourceAddress()
			if n := EncodeFragNeeded(b, src, src, tc.mtu, tc.orig); n != len(want) {
				t.Fatalf("EncodeFragNeeded = %d, want %d", n, len(want))
			}
			checkBytes(t, "packet", b[:len(want)], want)
			checkBytes(t, "after packet", b[len(want):], []byte{0xee, 0xee})
			ip := IPv4(b[:len(want)])
			m := ICMPv4(ip.Payload())
			if !ip.Valid() || !ip.IsChecksumValid() || !m.Valid() || !m.IsChecksumValid() {
				t.Fatal("not valid")
			}
			if m.Type() != ICMPv4DstUnreachable || m.Code() != ICMPv4FragmentationNeeded || m.MTU() != tc.mtu || ip.DontFragment() {
				t.Errorf("type %d code %d mtu %d DF %v", m.Type(), m.Code(), m.MTU(), ip.DontFragment())
			}
		})
	}

	for _, tc := range []struct {
		name string
		orig []byte
		blen int
	}{
		{"original shorter than a header", orig[:19], 100},
		{"original is IPv6", udp6Packet(t, 100), 200},
		{"original IHL beyond its bytes", append([]byte{0x4f}, orig[1:40]...), 200},
		{"original IHL 4", append([]byte{0x44}, orig[1:40]...), 200},
		{"buffer one byte short", orig, 55},
	} {
		b := filled(tc.blen)
		if n := EncodeFragNeeded(b, v4A, v4A, 2044, tc.orig); n != 0 {
			t.Errorf("%s: EncodeFragNeeded = %d, want 0", tc.name, n)
		}
		checkBytes(t, tc.name+": buffer untouched", b, filled(tc.blen))
	}
}

func TestEncodeICMPv4ErrorKernelQuote(t *testing.T) {
	orig := udp4Packet(t, 0)
	b := filled(600)
	n := EncodeICMPv4Error(b, v4A, v4A, ICMPv4DstUnreachable, ICMPv4FragmentationNeeded, 2044, orig, ICMPv4KernelMaxQuote)
	if n != 576 {
		t.Fatalf("EncodeICMPv4Error = %d, want 576", n)
	}
	checkBytes(t, "headers", b[:28], unhexString(t, "45 c0 02 40 00 00 00 00 40 01 63 fc 0a 00 00 01 0a 00 00 01 03 04 a8 be 00 00 07 fc"))
	checkBytes(t, "quote", b[28:576], orig[:548])
	checkBytes(t, "after packet", b[576:], filled(24))

	// The quote stops at the original's total length (link padding is
	// not quoted), and a limit below a whole header sends nothing.
	small := make([]byte, 40)
	copy(small, orig[:28])
	small[2], small[3] = 0, 30
	if n := EncodeICMPv4Error(filled(600), v4A, v4A, 3, 4, 0, small, ICMPv4KernelMaxQuote); n != 20+8+30 {
		t.Errorf("padded original: %d bytes, want 58", n)
	}
	if n := EncodeICMPv4Error(filled(600), v4A, v4A, 3, 4, 0, orig, 19); n != 0 {
		t.Errorf("maxQuote 19: %d bytes, want 0", n)
	}
}

func TestICMPv4Valid(t *testing.T) {
	for n, want := range map[int]bool{0: false, 7: false, 8: true, 100: true} {
		if got := ICMPv4(make([]byte, n)).Valid(); got != want {
			t.Errorf("Valid(%d bytes) = %v, want %v", n, got, want)
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, len(b)*3)
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf], ' ')
	}
	return string(out)
}

// The ICMPv4 encoders take a buffer exactly as long as the packet, and
// packets up to the 65535 bytes the total length field holds (RFC 791;
// ip_append_data refuses more with EMSGSIZE): an echo with 65507 bytes
// of data, iputils' largest ping -s, fits and one byte more does not.
func TestEncodeICMPv4Limits(t *testing.T) {
	f := IPv4Fields{ID: 0x1c46, TTL: 64, Src: v4A, Dst: v4B}
	for _, tc := range []struct {
		name    string
		data    int
		blen    int
		wantLen int
	}{
		{"buffer exactly the packet", 8, 36, 36},
		{"buffer one byte short", 8, 35, 0},
		{"65507 bytes of data: 65535-byte datagram", 65507, 65535, 65535},
		{"65508 bytes of data", 65508, 65600, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := pattern(tc.data)
			b := filled(tc.blen)
			n := EncodeICMPv4Echo(b, f, ICMPv4Echo, 0x1234, 1, data)
			if n != tc.wantLen {
				t.Fatalf("EncodeICMPv4Echo = %d, want %d", n, tc.wantLen)
			}
			if n == 0 {
				checkBytes(t, "buffer untouched", b, filled(tc.blen))
				return
			}
			ip := IPv4(b[:n])
			if int(ip.TotalLength()) != n || naiveChecksum(b[:20], 0) != 0xffff || naiveChecksum(b[20:n], 0) != 0xffff {
				t.Errorf("total length %d, IP sum %04x, ICMP sum %04x", ip.TotalLength(), naiveChecksum(b[:20], 0), naiveChecksum(b[20:n], 0))
			}
			checkBytes(t, "data", b[28:n], data)
		})
	}
}

// EncodeICMPv4Error's edges: the quote stops at the original's total
// length even when that is the bare header, a limit of exactly a header
// quotes the header alone, an original that is only a header is quoted
// whole, the buffer may be exactly the packet, and the error may be
// 65535 bytes but not more (the limits __icmp_send never reaches with
// its 548, but which the encoder keeps).
func TestEncodeICMPv4ErrorEdges(t *testing.T) {
	orig := udp4Packet(t, 0)
	headerOnly := bytes.Clone(orig[:28]) // total length 20, then 8 bytes of link padding
	headerOnly[2], headerOnly[3] = 0, 20
	IPv4(headerOnly).SetChecksum(IPv4(headerOnly).CalculateChecksum())
	withOptions := make([]byte, 24)
	EncodeIPv4(withOptions, IPv4Fields{TotalLength: 24, TTL: 64, Protocol: ProtocolUDP, Src: v4A, Dst: v4B})
	withOptions[0] = 0x46
	copy(withOptions[20:], []byte{1, 1, 1, 0})
	huge := make([]byte, 65535)
	copy(huge, orig[:28])
	huge[2], huge[3] = 0xff, 0xff
	for _, tc := range []struct {
		name     string
		orig     []byte
		maxQuote int
		blen     int
		wantQ    int // bytes of orig quoted; -1: nothing written
	}{
		{"total length is the header: padding not quoted", headerOnly, ICMPv4KernelMaxQuote, 100, 20},
		{"limit of exactly the header", orig, 20, 100, 20},
		{"limit of a byte less than the header", orig, 19, 100, -1},
		{"original is a bare header", orig[:20], ICMPv4KernelMaxQuote, 100, 20},
		{"original is a bare header with options", withOptions, ICMPv4KernelMaxQuote, 100, 24},
		{"buffer exactly the packet", orig, ICMPv4KernelMaxQuote, 576, 548},
		{"buffer one byte short", orig, ICMPv4KernelMaxQuote, 575, -1},
		{"65535-byte error", huge, 65535 - 28, 70000, 65535 - 28},
		{"65536-byte error", huge, 65535 - 27, 70000, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := filled(tc.blen)
			n := EncodeICMPv4Error(b, v4A, v4A, ICMPv4DstUnreachable, ICMPv4FragmentationNeeded, 2044, tc.orig, tc.maxQuote)
			if tc.wantQ < 0 {
				if n != 0 {
					t.Errorf("EncodeICMPv4Error = %d, want 0", n)
				}
				checkBytes(t, "buffer untouched", b, filled(tc.blen))
				return
			}
			if n != 28+tc.wantQ {
				t.Fatalf("EncodeICMPv4Error = %d, want %d", n, 28+tc.wantQ)
			}
			if got := IPv4(b).TotalLength(); int(got) != n {
				t.Errorf("total length %d, want %d", got, n)
			}
			if naiveChecksum(b[:20], 0) != 0xffff || naiveChecksum(b[20:n], 0) != 0xffff {
				t.Errorf("IP sum %04x, ICMP sum %04x", naiveChecksum(b[:20], 0), naiveChecksum(b[20:n], 0))
			}
			checkBytes(t, "quote", b[28:n], tc.orig[:tc.wantQ])
			checkBytes(t, "after packet", b[n:], filled(tc.blen-n))
		})
	}
}
