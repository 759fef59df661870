package header

import "testing"

// udp4Frame is a 2044-byte IPv4/UDP datagram (the usual datagram-mode MTU)
// behind room for the 4-byte IPoIB header.
func udp4Frame(tb testing.TB) []byte {
	tb.Helper()
	const mtu = 2044
	b := make([]byte, IPoIBHeaderLen+mtu)
	ip := b[IPoIBHeaderLen:]
	EncodeIPv4(ip, IPv4Fields{TotalLength: mtu, ID: 1, Flags: IPv4FlagDontFragment, TTL: 64, Protocol: ProtocolUDP, Src: v4A, Dst: v4B})
	udpLen := mtu - 20
	copy(ip[20:], []byte{0x9c, 0x40, 0x13, 0x89, byte(udpLen >> 8), byte(udpLen), 0, 0})
	copy(ip[28:], pattern(mtu-28))
	return b
}

// encodeFrame is the per-packet transmit work: the encapsulation header and
// a fresh IPv4 header checksum (after, say, a TTL or ID change).
func encodeFrame(b []byte) {
	IPoIB(b).Encode(EtherTypeIPv4)
	ip := IPv4(b[IPoIBHeaderLen:])
	ip.SetChecksum(ip.CalculateChecksum())
}

// udpChecksum computes the UDP checksum of the datagram in ip.
func udpChecksum(ip IPv4) uint16 {
	udp := ip.Payload()
	s := PseudoHeaderChecksumV4(ProtocolUDP, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(udp)))
	s = Checksum(udp[:6], s)
	return ^Checksum(udp[8:], s)
}

func TestEncodeAllocs(t *testing.T) {
	frame := udp4Frame(t)
	orig4 := udp4Packet(t, 0)
	orig6 := udp6Packet(t, 4092)
	buf := make([]byte, 2048)
	addr := hwA
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"IPoIB header + IPv4 checksum of a 2044-byte datagram", func() { encodeFrame(frame) }},
		{"UDP checksum of a 2044-byte datagram", func() { udpChecksum(IPv4(frame[IPoIBHeaderLen:])) }},
		{"EncodeARP", func() { EncodeARP(buf, ARPRequest, hwA, v4A, HWAddr{}, v4B) }},
		{"EncodeFragNeeded", func() { EncodeFragNeeded(buf, v4A, v4A, 2044, orig4) }},
		{"EncodeICMPv4Error", func() { EncodeICMPv4Error(buf, v4A, v4A, 3, 4, 2044, orig4, ICMPv4KernelMaxQuote) }},
		{"EncodePacketTooBig", func() { EncodePacketTooBig(buf, v6A, v6A, 2044, orig6) }},
		{"EncodeNeighborSolicit", func() { EncodeNeighborSolicit(buf, v6A, SolicitedNodeAddr(v6B), v6B, &addr) }},
		{"EncodeNeighborAdvert", func() { EncodeNeighborAdvert(buf, v6B, v6A, v6B, NAFlagSolicited, &addr) }},
		{"EncodeICMPv6Echo", func() {
			EncodeICMPv6Echo(buf, IPv6Fields{HopLimit: 64, Src: v6A, Dst: v6B}, ICMPv6EchoRequest, 1, 1, orig6[:100])
		}},
		{"IPv4MGID", func() { MulticastAddr(IPv4MGID(v4A, BroadcastAddr(0xffff))) }},
	} {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", tc.name, n)
		}
	}
	if !IPv4(frame[IPoIBHeaderLen:]).IsChecksumValid() || IPoIB(frame).Type() != EtherTypeIPv4 {
		t.Error("frame not encoded")
	}
}

func BenchmarkEncodeIPoIBIPv4(b *testing.B) {
	frame := udp4Frame(b)
	b.ReportAllocs()
	for b.Loop() {
		encodeFrame(frame)
	}
}

func BenchmarkUDPChecksum2044(b *testing.B) {
	frame := udp4Frame(b)
	b.SetBytes(2044 - 20)
	b.ReportAllocs()
	for b.Loop() {
		udpChecksum(IPv4(frame[IPoIBHeaderLen:]))
	}
}

func BenchmarkEncodeFragNeeded(b *testing.B) {
	orig := udp4Packet(b, 0)
	buf := make([]byte, IPv4MinMTU)
	b.ReportAllocs()
	for b.Loop() {
		EncodeFragNeeded(buf, v4A, v4A, 2044, orig)
	}
}

func BenchmarkEncodePacketTooBig(b *testing.B) {
	orig := udp6Packet(b, 4092)
	buf := make([]byte, IPv6MinMTU)
	b.ReportAllocs()
	for b.Loop() {
		EncodePacketTooBig(buf, v6A, v6A, 2044, orig)
	}
}

// BenchmarkChecksum64K is the sum of a 64 KiB TCP segment's worth of
// bytes, as a segment split from the kernel's or received whole costs.
func BenchmarkChecksum64K(b *testing.B) {
	buf := make([]byte, 65535)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		Checksum(buf, 0)
	}
}
