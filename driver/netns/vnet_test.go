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
	header.FinishTCP(p, ipLen)
	return p
}

func payloadOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// The packets of a TSO segment (cut as tcp_gso_segment cuts it,
// header.SegmentTCP) coalesce back into one segment, which is read whole
// with its MSS and cuts again into the same packets.
func TestSegmentAndCoalesce(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		ipLen := map[bool]int{false: 20, true: 40}[v6]
		// Without CWR (GRO flushes on it), the run coalesces whole.
		big := tcpPacket(v6, 1000, tcpACK|tcpPSH, payloadOf(5000))
		segs, ok := header.SegmentTCP(big, 1400, 0)
		if !ok || len(segs) != 4 {
			t.Fatalf("v6=%v: %d segments", v6, len(segs))
		}
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
		again, mss, err := readFrame(frames[0], 0, false)
		if err != nil || mss != 1400 {
			t.Fatalf("v6=%v: read %d bytes, mss %d, %v", v6, len(again), mss, err)
		}
		resegs, _ := header.SegmentTCP(again, mss, 0)
		if fmt.Sprintf("%x", resegs) != fmt.Sprintf("%x", segs) {
			t.Errorf("v6=%v: segment(read(coalesce(segments))) differs:\n%x\n%x", v6, resegs, segs)
		}
	}
}

// Packets that GRO would not merge are framed alone, unchanged.
func TestCoalesceKeepsApart(t *testing.T) {
	p := func(seq uint32, flags uint8, n int) []byte { return tcpPacket(false, seq, flags, payloadOf(n)) }
	otherPort := p(2000, tcpACK, 100)
	binary.BigEndian.PutUint16(otherPort[20:], 40001)
	header.FinishTCP(otherPort, 20)
	otherAck := p(2100, tcpACK, 100)
	binary.BigEndian.PutUint32(otherAck[28:], 778)
	header.FinishTCP(otherAck, 20)
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

// A packet read with room follows that many bytes of its own and ends
// its memory (cap), in the frame's memory when read in place and the
// room fits in front of it. A TSO segment is read whole, with its MSS and its
// TCP checksum as the kernel left it (partial: the device's LSO
// completes each packet's); a plain packet's partial checksum is
// completed.
func TestReadFrameRoom(t *testing.T) {
	tso := func(v6 bool, gso uint8, payload int) ([]byte, []byte) {
		pkt := tcpPacket(v6, 1000, tcpACK|tcpPSH, payloadOf(payload))
		ipLen := map[bool]int{false: 20, true: 40}[v6]
		pkt[ipLen+16], pkt[ipLen+17] = 0x12, 0x34 // a partial sum
		f := make([]byte, vnetHdrLen+len(pkt))
		vnetHdr{flags: vnetNeedsCsum, gsoType: gso, gsoSize: 1400, hdrLen: uint16(ipLen + 32),
			csumStart: uint16(ipLen), csumOffset: 16}.encode(f)
		copy(f[vnetHdrLen:], pkt)
		return f, pkt
	}
	plainPkt := tcpPacket(false, 1, tcpACK, payloadOf(100))
	partial := bytes.Clone(plainPkt)
	binary.BigEndian.PutUint16(partial[36:], header.PseudoHeaderChecksumV4(protoTCP, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, uint16(len(partial)-20)))
	plain := make([]byte, vnetHdrLen+len(partial))
	vnetHdr{flags: vnetNeedsCsum, csumStart: 20, csumOffset: 16}.encode(plain)
	copy(plain[vnetHdrLen:], partial)
	v4, v4pkt := tso(false, gsoTCPv4, 5000)
	v6, v6pkt := tso(true, gsoTCPv6, 2800)
	ecn, ecnPkt := tso(false, gsoTCPv4|gsoECN, 3000)
	empty, emptyPkt := tso(false, gsoTCPv4, 0)
	for _, c := range []struct {
		name  string
		frame []byte
		want  []byte
		mss   int
	}{
		{"tso v4", v4, v4pkt, 1400},
		{"tso v6", v6, v6pkt, 1400},
		{"tso ecn", ecn, ecnPkt, 1400},
		{"tso without payload", empty, emptyPkt, 1400},
		{"plain, checksum completed", plain, plainPkt, 0},
	} {
		for _, room := range []int{0, 4, vnetHdrLen, vnetHdrLen + 1} {
			for _, inPlace := range []bool{false, true} {
				frame := bytes.Clone(c.frame)
				p, mss, err := readFrame(frame, room, inPlace)
				if err != nil || mss != c.mss || len(p) != room+len(c.want) || cap(p) != len(p) || !bytes.Equal(p[room:], c.want) {
					t.Errorf("%s, room %d, in place %v: %d bytes (cap %d), mss %d, %v; want %d bytes, mss %d, the same after the room: %v",
						c.name, room, inPlace, len(p), cap(p), mss, err, room+len(c.want), c.mss, len(p) >= room && bytes.Equal(p[room:], c.want))
					continue
				}
				// In place, the packet is the frame's memory where
				// the room fits in the virtio-net header; else a copy.
				if shared := &p[room] == &frame[vnetHdrLen]; shared != (inPlace && room <= vnetHdrLen) {
					t.Errorf("%s, room %d, in place %v: the frame's memory: %v", c.name, room, inPlace, shared)
				}
			}
		}
	}
}

// A partial checksum is completed; malformed frames are refused.
func TestReadFrame(t *testing.T) {
	pkt := tcpPacket(false, 1, tcpACK, payloadOf(333))
	want := bytes.Clone(pkt)
	// As the kernel leaves it: the pseudo-header sum, not complemented.
	binary.BigEndian.PutUint16(pkt[36:], header.PseudoHeaderChecksumV4(protoTCP, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, uint16(len(pkt)-20)))
	frame := make([]byte, vnetHdrLen+len(pkt))
	vnetHdr{flags: vnetNeedsCsum, csumStart: 20, csumOffset: 16}.encode(frame)
	copy(frame[vnetHdrLen:], pkt)
	plain := append(make([]byte, vnetHdrLen), want...)
	for _, c := range []struct {
		name        string
		frame, want []byte
	}{
		{"partial checksum", frame, want},
		// The checksum field may end the packet.
		{"checksum at the end", append([]byte{vnetNeedsCsum, 0, 0, 0, 0, 0, 0, 0, 2, 0}, 0x45, 1, 2, 3), []byte{0x45, 1, 0xb8, 0xfb}},
		{"one byte", append(make([]byte, vnetHdrLen), 0x45), []byte{0x45}},
		{"plain frame", plain, want},
	} {
		if got, mss, err := readFrame(c.frame, 0, false); err != nil || mss != 0 || !bytes.Equal(got, c.want) {
			t.Errorf("%s: %x, mss %d, %v; want %x", c.name, got, mss, err, c.want)
		}
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
		if _, _, err := readFrame(f, 0, false); !errors.Is(err, ErrMalformed) {
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
