package netns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/ibctl/ibctl/driver/header"
)

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
		p[6], p[7] = protoTCP, 64
		s, d := netip.MustParseAddr("fd00::1").As16(), netip.MustParseAddr("fd00::2").As16()
		copy(p[8:], s[:])
		copy(p[24:], d[:])
	} else {
		header.EncodeIPv4(p, header.IPv4Fields{TotalLength: uint16(len(p)), ID: 100, TTL: 64, Protocol: protoTCP,
			Flags: header.IPv4FlagDontFragment, Src: [4]byte{10, 0, 0, 1}, Dst: [4]byte{10, 0, 0, 2}})
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
	finishTCP(p, ipLen)
	return p
}

// validTCP reports whether a packet's lengths and checksums hold.
func validTCP(t *testing.T, p []byte) {
	t.Helper()
	ipLen, _, ok := tcpLayout(p)
	if !ok {
		t.Fatalf("not TCP: %x", p)
	}
	var sum uint16
	if p[0]>>4 == 4 {
		ip := header.IPv4(p)
		if !ip.IsChecksumValid() || int(ip.TotalLength()) != len(p) {
			t.Errorf("IPv4 header: checksum %v, length %d of %d", ip.IsChecksumValid(), ip.TotalLength(), len(p))
		}
		sum = header.PseudoHeaderChecksumV4(protoTCP, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(p)-ipLen))
	} else {
		ip := header.IPv6(p)
		if int(ip.PayloadLength()) != len(p)-40 {
			t.Errorf("IPv6 payload length %d of %d", ip.PayloadLength(), len(p)-40)
		}
		sum = header.PseudoHeaderChecksumV6(protoTCP, ip.SourceAddress(), ip.DestinationAddress(), uint32(len(p)-ipLen))
	}
	if header.Checksum(p[ipLen:], sum) != 0xffff {
		t.Errorf("TCP checksum does not verify")
	}
}

func payloadOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// A TSO segment becomes packets of its MSS, as tcp_gso_segment makes
// them; coalescing them gives back the segment, which splits again into
// the same packets.
func TestSegmentAndCoalesce(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		ipLen := map[bool]int{false: 20, true: 40}[v6]
		big := tcpPacket(v6, 1000, tcpACK|tcpPSH|tcpCWR, payloadOf(5000))
		segs, err := segmentTCP(big, 1400, 0)
		if err != nil {
			t.Fatal(err)
		}
		wantLens := []int{1400, 1400, 1400, 800}
		if len(segs) != len(wantLens) {
			t.Fatalf("v6=%v: %d segments, want 4", v6, len(segs))
		}
		for i, s := range segs {
			validTCP(t, s)
			if got := len(s) - ipLen - 32; got != wantLens[i] {
				t.Errorf("v6=%v segment %d: %d bytes of payload, want %d", v6, i, got, wantLens[i])
			}
			if seq := binary.BigEndian.Uint32(s[ipLen+4:]); seq != 1000+uint32(1400*i) {
				t.Errorf("v6=%v segment %d: seq %d", v6, i, seq)
			}
			want := uint8(tcpACK)
			if i == 0 {
				want |= tcpCWR
			}
			if i == 3 {
				want |= tcpPSH
			}
			if s[ipLen+13] != want {
				t.Errorf("v6=%v segment %d: flags %#x, want %#x", v6, i, s[ipLen+13], want)
			}
			if !v6 && header.IPv4(s).ID() != 100+uint16(i) {
				t.Errorf("segment %d: IP ID %d", i, header.IPv4(s).ID())
			}
			if !bytes.Equal(s[ipLen+32:], payloadOf(5000)[1400*i:1400*i+wantLens[i]]) {
				t.Errorf("v6=%v segment %d: payload differs", v6, i)
			}
		}
		// Without CWR (GRO flushes on it), the run coalesces whole.
		big[ipLen+13] &^= tcpCWR
		segs, _ = segmentTCP(big, 1400, 0)
		frames := joined(coalesce(framesOf(segs)))
		if len(frames) != 1 {
			t.Fatalf("v6=%v: %d frames, want 1", v6, len(frames))
		}
		h := decodeVnetHdr(frames[0])
		wantGSO := uint8(gsoTCPv4)
		if v6 {
			wantGSO = gsoTCPv6
		}
		if h != (vnetHdr{flags: vnetNeedsCsum, gsoType: wantGSO, hdrLen: uint16(ipLen + 32), gsoSize: 1400,
			csumStart: uint16(ipLen), csumOffset: 16}) {
			t.Errorf("v6=%v: header %+v", v6, h)
		}
		again, err := splitFrame(frames[0], 0)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%x", again) != fmt.Sprintf("%x", segs) {
			t.Errorf("v6=%v: split(coalesce(segments)) differs:\n%x\n%x", v6, again, segs)
		}
	}
}

// Packets that GRO would not merge are framed alone, unchanged.
func TestCoalesceKeepsApart(t *testing.T) {
	p := func(seq uint32, flags uint8, n int) []byte { return tcpPacket(false, seq, flags, payloadOf(n)) }
	otherPort := p(2000, tcpACK, 100)
	binary.BigEndian.PutUint16(otherPort[20:], 40001)
	finishTCP(otherPort, 20)
	otherAck := p(2100, tcpACK, 100)
	binary.BigEndian.PutUint32(otherAck[28:], 778)
	finishTCP(otherAck, 20)
	frag := p(2100, tcpACK, 100)
	frag[6] |= 0x20 // MF
	udp := p(2100, tcpACK, 100)
	udp[9] = 17
	for _, c := range []struct {
		name  string
		pkts  [][]byte
		sizes []int // frames' packet counts
	}{
		{"gap", [][]byte{p(2000, tcpACK, 100), p(2200, tcpACK, 100)}, []int{1, 1}},
		{"other flow", [][]byte{p(2000, tcpACK, 100), otherPort}, []int{1, 1}},
		{"other ack", [][]byte{p(2000, tcpACK, 100), otherAck}, []int{1, 1}},
		{"syn", [][]byte{p(2000, tcpACK|0x02, 100), p(2100, tcpACK, 100)}, []int{1, 1}},
		{"no data", [][]byte{p(2000, tcpACK, 0), p(2000, tcpACK, 0)}, []int{1, 1}},
		{"psh ends", [][]byte{p(2000, tcpACK, 100), p(2100, tcpACK|tcpPSH, 100), p(2200, tcpACK, 100)}, []int{2, 1}},
		{"short ends", [][]byte{p(2000, tcpACK, 100), p(2100, tcpACK, 50), p(2150, tcpACK, 100)}, []int{2, 1}},
		{"longer", [][]byte{p(2000, tcpACK, 100), p(2100, tcpACK, 200)}, []int{1, 1}},
		{"fragment", [][]byte{p(2000, tcpACK, 100), frag}, []int{1, 1}},
		{"not tcp", [][]byte{udp, p(2100, tcpACK, 100)}, []int{1, 1}},
	} {
		frames := joined(coalesce(framesOf(c.pkts)))
		var got []int
		i := 0
		for _, f := range frames {
			h := decodeVnetHdr(f)
			if h.gsoType == gsoNone {
				got = append(got, 1)
				if h != (vnetHdr{}) || !bytes.Equal(f[vnetHdrLen:], c.pkts[i]) {
					t.Errorf("%s: packet %d framed as %+v %x", c.name, i, h, f[vnetHdrLen:])
				}
				i++
				continue
			}
			n := (len(f) - vnetHdrLen - int(h.hdrLen) + int(h.gsoSize) - 1) / int(h.gsoSize)
			if n < 2 {
				t.Errorf("%s: a coalesced frame of %d packet", c.name, n)
			}
			got = append(got, n)
			i += n
		}
		if fmt.Sprint(got) != fmt.Sprint(c.sizes) {
			t.Errorf("%s: frames of %v packets, want %v", c.name, got, c.sizes)
		}
	}
	// A run of exactly 65535 bytes is one frame: 52 bytes of headers
	// and 11 × 5953 of data.
	run := make([][]byte, 11)
	for i := range run {
		run[i] = p(uint32(i*5953), tcpACK, 5953)
	}
	if frames := joined(coalesce(framesOf(run))); len(frames) != 1 || len(frames[0])-vnetHdrLen != maxGRO {
		t.Errorf("a run of 65535 bytes: %d frames", len(frames))
	}
	// A run stops short of 64 KiB.
	run = nil
	for i := range 50 {
		run = append(run, p(uint32(i*1400), tcpACK, 1400))
	}
	frames := joined(coalesce(framesOf(run)))
	if len(frames) != 2 || len(frames[0])-vnetHdrLen > maxGRO {
		t.Errorf("50 packets of 1400 bytes: %d frames, the first %d bytes", len(frames), len(frames[0])-vnetHdrLen)
	}
}

// tcpLayout accepts a TCP packet exactly as long as its headers, and not
// a byte less.
func TestTCPLayout(t *testing.T) {
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
	} {
		ipLen, tcpLen, ok := tcpLayout(c.pkt)
		if ipLen != c.ipLen || tcpLen != c.tcpLn || ok != (c.ipLen != 0) {
			t.Errorf("%s: %d %d %v, want %d %d", c.name, ipLen, tcpLen, ok, c.ipLen, c.tcpLn)
		}
	}
	// A payload of exactly two MSS is two packets, not three.
	if segs, err := segmentTCP(tcpPacket(false, 1, tcpACK, payloadOf(2800)), 1400, 0); err != nil || len(segs) != 2 {
		t.Errorf("2800 bytes at 1400: %d segments, %v", len(segs), err)
	}
}

// Packets split with room follow that many bytes of their own: the same
// packets as without, each ending its memory (cap), so that writing into
// one's room or past its end never touches another.
func TestSplitFrameRoom(t *testing.T) {
	tso := func(v6 bool, gso uint8, payload int) []byte {
		pkt := tcpPacket(v6, 1000, tcpACK|tcpPSH, payloadOf(payload))
		f := make([]byte, vnetHdrLen+len(pkt))
		vnetHdr{gsoType: gso, gsoSize: 1400}.encode(f)
		copy(f[vnetHdrLen:], pkt)
		return f
	}
	plain := Frame(tcpPacket(false, 1, tcpACK, payloadOf(100)))
	for _, c := range []struct {
		name  string
		frame []byte
		n     int
	}{
		{"tso v4", tso(false, gsoTCPv4, 5000), 4},
		{"tso v6", tso(true, gsoTCPv6, 2800), 2},
		{"tso without payload", tso(false, gsoTCPv4, 0), 1},
		{"plain", plain, 1},
	} {
		want, err := splitFrame(c.frame, 0)
		if err != nil || len(want) != c.n {
			t.Fatalf("%s: %d packets, %v; want %d", c.name, len(want), err, c.n)
		}
		got, err := splitFrame(c.frame, 4)
		if err != nil || len(got) != len(want) {
			t.Fatalf("%s with room: %d packets, %v; want %d", c.name, len(got), err, len(want))
		}
		for i, p := range got {
			if len(p) != 4+len(want[i]) || cap(p) != len(p) || !bytes.Equal(p[4:], want[i]) {
				t.Errorf("%s: packet %d: %d bytes (cap %d), the same after 4: %v; want 4 + %d bytes (cap as long)",
					c.name, i, len(p), cap(p), len(p) >= 4 && bytes.Equal(p[4:], want[i]), len(want[i]))
			}
		}
	}
}

// A partial checksum is completed; malformed frames are refused.
func TestSplitFrame(t *testing.T) {
	pkt := tcpPacket(false, 1, tcpACK, payloadOf(333))
	want := bytes.Clone(pkt)
	// As the kernel leaves it: the pseudo-header sum, not complemented.
	binary.BigEndian.PutUint16(pkt[36:], header.PseudoHeaderChecksumV4(protoTCP, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, uint16(len(pkt)-20)))
	frame := make([]byte, vnetHdrLen+len(pkt))
	vnetHdr{flags: vnetNeedsCsum, csumStart: 20, csumOffset: 16}.encode(frame)
	copy(frame[vnetHdrLen:], pkt)
	got, err := splitFrame(frame, 0)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Errorf("partial checksum: %x %v, want %x", got, err, want)
	}
	// The checksum field may end the packet.
	tail := []byte{0x45, 1, 2, 3}
	got, err = splitFrame(append(bytes.Clone([]byte{vnetNeedsCsum, 0, 0, 0, 0, 0, 0, 0, 2, 0}), tail...), 0)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0], []byte{0x45, 1, 0xb8, 0xfb}) {
		t.Errorf("checksum at the end: %x %v", got, err)
	}
	if got, err := splitFrame(append(make([]byte, vnetHdrLen), 0x45), 0); err != nil || len(got) != 1 || !bytes.Equal(got[0], []byte{0x45}) {
		t.Errorf("one byte: %x %v", got, err)
	}
	plain := append(make([]byte, vnetHdrLen), want...)
	if got, err := splitFrame(plain, 0); err != nil || len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Errorf("plain frame: %x %v", got, err)
	}
	bad := func(h vnetHdr, p []byte) []byte {
		f := make([]byte, vnetHdrLen+len(p))
		h.encode(f)
		copy(f[vnetHdrLen:], p)
		return f
	}
	for name, f := range map[string][]byte{
		"short":            {1, 2, 3},
		"header only":      make([]byte, vnetHdrLen),
		"csum past end":    append([]byte{vnetNeedsCsum, 0, 0, 0, 0, 0, 0, 0, 3, 0}, 0x45, 1, 2, 3),
		"csum beyond":      bad(vnetHdr{flags: vnetNeedsCsum, csumStart: 20, csumOffset: 400}, want),
		"csum start":       bad(vnetHdr{flags: vnetNeedsCsum, csumStart: 4000}, want),
		"udp gso":          bad(vnetHdr{gsoType: 3, gsoSize: 100}, want),
		"tso of udp":       bad(vnetHdr{gsoType: gsoTCPv4, gsoSize: 100}, append(bytes.Clone(want[:9]), append([]byte{17}, want[10:]...)...)),
		"tso without mss":  bad(vnetHdr{gsoType: gsoTCPv4}, want),
		"tso truncated":    bad(vnetHdr{gsoType: gsoTCPv4, gsoSize: 100}, want[:30]),
		"tso not ip":       bad(vnetHdr{gsoType: gsoTCPv6, gsoSize: 100}, []byte{0x20, 0}),
		"tso v6 truncated": bad(vnetHdr{gsoType: gsoTCPv6, gsoSize: 100}, tcpPacket(true, 1, tcpACK, nil)[:50]),
	} {
		if _, err := splitFrame(f, 0); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// framesOf frames each packet.
func framesOf(pkts [][]byte) [][]byte {
	out := make([][]byte, len(pkts))
	for i, p := range pkts {
		out[i] = Frame(p)
	}
	return out
}

// joined is each frame coalesce returned as one piece.
func joined(frames [][][]byte) [][]byte {
	out := make([][]byte, len(frames))
	for i, iov := range frames {
		out[i] = bytes.Join(iov, nil)
	}
	return out
}

// A frame given back is the next one of its size class Frame hands out,
// its virtio-net header cleared: received packets reuse their frames
// instead of allocating. Larger frames are not kept.
func TestFrameFreeList(t *testing.T) {
	for _, c := range []struct {
		name   string
		n, m   int // the packet sizes of the first frame and of the next
		reused bool
	}{
		{"small", 100, 2044, true},
		{"4 KiB", 4096, 1, true},
		{"large", 4097, 65520, true},
		{"largest", 65535, 5000, true},
		{"small after large", 5000, 100, false},
		{"beyond", 65536, 65536, false},
	} {
		f := Frame(payloadOf(c.n))
		for i := range vnetHdrLen {
			f[i] = 0xff // as coalesce leaves a merged run's first frame
		}
		FreeFrame(f)
		want := append(make([]byte, vnetHdrLen), payloadOf(c.m)...)
		g := Frame(payloadOf(c.m))
		if !bytes.Equal(g, want) {
			t.Errorf("%s: frame %x, want %x", c.name, g[:vnetHdrLen], want[:vnetHdrLen])
		}
		if reused := &g[0] == &f[0]; reused != c.reused {
			t.Errorf("%s: the frame given back reused: %v, want %v", c.name, reused, c.reused)
		}
		FreeFrame(g)
	}
}
