package header

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

const tcpACK = 0x10

// tcpPacket builds a TCP packet (IPv4 or IPv6) with the given sequence
// number, flags and payload, its lengths and checksums complete.
func tcpPacket(v6 bool, seq uint32, flags uint8, payload []byte) []byte {
	ipLen := 20
	if v6 {
		ipLen = 40
	}
	p := make([]byte, ipLen+32+len(payload))
	if v6 {
		p[0] = 0x60
		p[6], p[7] = ProtocolTCP, 64
		s, d := netip.MustParseAddr("fd00::1").As16(), netip.MustParseAddr("fd00::2").As16()
		copy(p[8:], s[:])
		copy(p[24:], d[:])
	} else {
		EncodeIPv4(p, IPv4Fields{TotalLength: uint16(len(p)), ID: 100, TTL: 64, Protocol: ProtocolTCP,
			Flags: IPv4FlagDontFragment, Src: [4]byte{10, 0, 0, 1}, Dst: [4]byte{10, 0, 0, 2}})
	}
	tcp := p[ipLen:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], 777)
	tcp[12] = 8 << 4 // 32 bytes: 12 of options
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 512)
	copy(tcp[20:], []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}) // NOP NOP timestamps
	copy(tcp[32:], payload)
	FinishTCP(p, ipLen)
	return p
}

// checkTCP fails unless a packet's lengths and checksums hold,
// recomputed here from scratch.
func checkTCP(t *testing.T, what string, p []byte) {
	t.Helper()
	ipLen, _, ok := TCPHeaderLens(p)
	if !ok {
		t.Fatalf("%s: not TCP: %x", what, p)
	}
	var sum uint16
	if p[0]>>4 == 4 {
		ip := IPv4(p)
		if !ip.IsChecksumValid() || int(ip.TotalLength()) != len(p) {
			t.Errorf("%s: IPv4 header: checksum %v, length %d of %d", what, ip.IsChecksumValid(), ip.TotalLength(), len(p))
		}
		sum = PseudoHeaderChecksumV4(ProtocolTCP, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(p)-ipLen))
	} else {
		ip := IPv6(p)
		if int(ip.PayloadLength()) != len(p)-40 {
			t.Errorf("%s: IPv6 payload length %d of %d", what, ip.PayloadLength(), len(p)-40)
		}
		sum = PseudoHeaderChecksumV6(ProtocolTCP, ip.SourceAddress(), ip.DestinationAddress(), uint32(len(p)-ipLen))
	}
	if Checksum(p[ipLen:], sum) != 0xffff {
		t.Errorf("%s: TCP checksum does not verify", what)
	}
}

// A TCP segment is cut as tcp_gso_segment cuts it: packets of the MSS
// and a shorter last one, sequence numbers advanced, CWR on the first
// packet only, FIN and PSH on the last only, IPv4 IDs counting up,
// lengths and checksums whole (whatever the segment's own checksum
// field held), each packet after its room and ending its memory.
func TestSegmentTCP(t *testing.T) {
	for _, c := range []struct {
		name     string
		v6       bool
		flags    uint8
		payload  int
		wantLens []int
	}{
		{"v4 short last", false, tcpACK | TCPFlagPSH | TCPFlagCWR, 5000, []int{1400, 1400, 1400, 800}},
		{"v6 short last", true, tcpACK | TCPFlagPSH | TCPFlagCWR, 5000, []int{1400, 1400, 1400, 800}},
		{"v4 exact multiple", false, tcpACK | TCPFlagFIN | TCPFlagPSH, 2800, []int{1400, 1400}},
		{"v6 exact multiple", true, tcpACK | TCPFlagFIN, 2800, []int{1400, 1400}},
		{"one packet", false, tcpACK | TCPFlagPSH | TCPFlagCWR, 1400, []int{1400}},
		{"no payload", false, tcpACK | TCPFlagFIN, 0, []int{0}},
	} {
		ipLen := map[bool]int{false: 20, true: 40}[c.v6]
		big := tcpPacket(c.v6, 1000, c.flags, pattern(c.payload))
		big[ipLen+16], big[ipLen+17] = 0x12, 0x34 // as a partial sum would leave it
		for _, room := range []int{0, 4} {
			segs, ok := SegmentTCP(big, 1400, room)
			if !ok || len(segs) != len(c.wantLens) || TCPSegments(c.payload, 1400) != len(c.wantLens) {
				t.Fatalf("%s: %d segments (%v), counted %d; want %d", c.name, len(segs), ok, TCPSegments(c.payload, 1400), len(c.wantLens))
			}
			for i, b := range segs {
				if len(b) != cap(b) {
					t.Errorf("%s: segment %d: cap %d of %d", c.name, i, cap(b), len(b))
				}
				s := b[room:]
				checkTCP(t, c.name, s)
				if got := len(s) - ipLen - 32; got != c.wantLens[i] {
					t.Errorf("%s segment %d: %d bytes of payload, want %d", c.name, i, got, c.wantLens[i])
				}
				if seq := binary.BigEndian.Uint32(s[ipLen+4:]); seq != 1000+uint32(1400*i) {
					t.Errorf("%s segment %d: seq %d", c.name, i, seq)
				}
				want := c.flags
				if i > 0 {
					want &^= TCPFlagCWR
				}
				if i < len(segs)-1 {
					want &^= TCPFlagFIN | TCPFlagPSH
				}
				if s[ipLen+13] != want {
					t.Errorf("%s segment %d: flags %#x, want %#x", c.name, i, s[ipLen+13], want)
				}
				if !c.v6 && IPv4(s).ID() != 100+uint16(i) {
					t.Errorf("%s segment %d: IP ID %d", c.name, i, IPv4(s).ID())
				}
				if !bytes.Equal(s[ipLen+32:], pattern(c.payload)[1400*i:1400*i+c.wantLens[i]]) {
					t.Errorf("%s segment %d: payload differs", c.name, i)
				}
				if !bytes.Equal(s[ipLen+20:ipLen+32], big[ipLen+20:ipLen+32]) {
					t.Errorf("%s segment %d: options differ", c.name, i)
				}
			}
		}
	}
	if _, ok := SegmentTCP(tcpPacket(false, 1, tcpACK, nil), 0, 0); ok {
		t.Errorf("mss 0 accepted")
	}
	udp := tcpPacket(false, 1, tcpACK, nil)
	udp[9] = ProtocolUDP
	if _, ok := SegmentTCP(udp, 1400, 0); ok {
		t.Errorf("UDP accepted")
	}
}

// TCPHeaderLens accepts a TCP packet exactly as long as its headers, and
// not a byte less: a packet cut before the TCP header's 20 fixed bytes
// is refused before its data offset is read.
func TestTCPHeaderLens(t *testing.T) {
	v4 := tcpPacket(false, 1, tcpACK, nil) // 20 + 32
	v6 := tcpPacket(true, 1, tcpACK, nil)  // 40 + 32
	short := bytes.Clone(v4[:40])
	short[32] = 5 << 4 // a 20-byte TCP header
	tiny := bytes.Clone(short)
	tiny[32] = 4 << 4
	ihl4 := bytes.Clone(v4)
	ihl4[0] = 0x44
	for _, c := range []struct {
		name         string
		pkt          []byte
		ipLen, tcpLn int
	}{
		{"v4", v4, 20, 32}, {"v4 a byte short", v4[:51], 0, 0},
		{"v6", v6, 40, 32}, {"v6 a byte short", v6[:71], 0, 0}, {"v6 no room for tcp", v6[:59], 0, 0},
		{"20-byte tcp", short, 20, 20}, {"20-byte tcp a byte short", short[:39], 0, 0},
		{"16-byte tcp", tiny, 0, 0}, {"16-byte ip", ihl4, 0, 0}, {"empty", nil, 0, 0},
		{"v4 header alone", v4[:20], 0, 0}, {"v4 up to the data offset", v4[:32], 0, 0},
		{"v6 header alone", v6[:40], 0, 0}, {"v6 up to the data offset", v6[:52], 0, 0},
	} {
		ipLen, tcpLen, ok := TCPHeaderLens(c.pkt)
		if ipLen != c.ipLen || tcpLen != c.tcpLn || ok != (c.ipLen != 0) {
			t.Errorf("%s: %d %d %v, want %d %d", c.name, ipLen, tcpLen, ok, c.ipLen, c.tcpLn)
		}
	}
}
