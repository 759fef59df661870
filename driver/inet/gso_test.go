package inet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/ibctl/ibctl/driver/header"
)

// gsoLink is a fakeLink with segmentation offload: it records the MSS of
// each packet written with one, and carries the packet whole.
type gsoLink struct {
	*fakeLink
	mss []int
}

var _ GSOLink = (*gsoLink)(nil)

func (l *gsoLink) WritePacketGSO(pkt []byte, dst header.HWAddr, mss int) error {
	l.mu.Lock()
	l.mss = append(l.mss, mss)
	l.mu.Unlock()
	return l.WritePacket(pkt, dst)
}

// tcpSegment is a TCP segment of payload bytes from src to dst with a
// 32-byte TCP header and DF set, its TCP checksum partial (a TSO
// segment's).
func tcpSegment(src, dst netip.Addr, payload int) []byte {
	ipLen := header.IPv4MinHeaderLen
	if dst.Is6() {
		ipLen = header.IPv6HeaderLen
	}
	p := make([]byte, ipLen+32+payload)
	if dst.Is6() {
		header.EncodeIPv6(p, header.IPv6Fields{PayloadLength: uint16(32 + payload), NextHeader: header.ProtocolTCP, HopLimit: 64,
			Src: src.As16(), Dst: dst.As16()})
	} else {
		header.EncodeIPv4(p, header.IPv4Fields{TotalLength: uint16(len(p)), ID: 7, TTL: 64, Protocol: header.ProtocolTCP,
			Flags: header.IPv4FlagDontFragment, Src: src.As4(), Dst: dst.As4()})
	}
	tcp := p[ipLen:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 1)
	tcp[12], tcp[13] = 8<<4, 0x10|header.TCPFlagPSH
	binary.BigEndian.PutUint16(tcp[16:], 0x1234)
	for i := range payload {
		p[ipLen+32+i] = byte(i * 7)
	}
	return p
}

// encapsulated is an IP packet with its IPoIB header.
func encapsulated(ip []byte) []byte {
	typ := header.EtherTypeIPv4
	if ip[0]>>4 == 6 {
		typ = header.EtherTypeIPv6
	}
	return append([]byte{byte(typ >> 8), byte(typ), 0, 0}, ip...)
}

// A TCP segment the upper stack sent whole (OutputFrame with a GSO size)
// goes whole, with its MSS, to a link with segmentation offload, and
// waits whole for an unresolved neighbour; to a link without it, or to a
// group address, it is cut into packets first. When its packets would
// not fit the path MTU it is cut, and each packet, too big with DF, is
// refused with "fragmentation needed" (ip_finish_output_gso's slow
// path, then ip_fragment); IPv6 hears "packet too big".
func TestUpperOutputGSO(t *testing.T) {
	for _, c := range []struct {
		name     string
		v6       bool
		gsoLink  bool
		resolved bool
		bcast    bool
		payload  int
		gso      int
		wantMSS  []int // what the GSO link recorded
		whole    bool  // the segment went whole
		tooBig   int   // "too big" errors the upper stack heard
		lookup   bool  // the next hop is asked of the upper stack first
	}{
		{"whole to a GSO link", false, true, true, false, 5000, 1400, []int{1400}, true, 0, false},
		{"whole, v6", true, true, true, false, 5000, 1400, []int{1400}, true, 0, false},
		{"mss fills the MTU", false, true, true, false, 5000, 2044 - 52, []int{1992}, true, 0, false},
		{"waits whole for the neighbour", false, true, false, false, 5000, 1400, []int{1400}, true, 0, false},
		{"cut for a link without offload", false, false, true, false, 5000, 1400, nil, false, 0, false},
		{"cut for a group", false, true, true, true, 3000, 1400, nil, false, 0, false},
		{"packets over the path MTU", false, true, true, false, 2 * (2044 - 51), 2044 - 51, nil, false, 2, false},
		{"packets over the path MTU, v6", true, true, true, false, 2 * (2044 - 71), 2044 - 71, nil, false, 2, false},
		{"waits whole for the next-hop lookup", false, true, true, false, 5000, 1400, []int{1400}, true, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var p *pair
			if c.resolved {
				p = resolvedPair(t, c.v6, 2044)
			} else {
				p = newPair(t, c.v6, 2044)
			}
			gl := &gsoLink{fakeLink: p.la}
			if c.gsoLink {
				p.na = p.a.Attach(ifA, gl)
				p.lb.peer = p.na
			}
			var ua, ub upperRecorder
			p.a.SetUpper(ifA, ua.deliver)
			p.b.SetUpper(ifB, ub.deliver)
			dst := pairAddr(c.v6, 2)
			if c.bcast {
				dst = netip.MustParseAddr("10.0.0.255")
			}
			var runs []func()
			if c.lookup {
				p.a.SetUpperLookup(ifA, (&fakeFIB{}).lookup) // on link
				p.a.hops.start = func(f func()) { runs = append(runs, f) }
			}
			seg := tcpSegment(pairAddr(c.v6, 1), dst, c.payload)
			p.a.OutputFrame(ifA, append(make([]byte, header.IPoIBHeaderLen), seg...), c.gso)
			if len(runs) != 0 {
				if n := len(p.la.peek()); n != 0 {
					t.Fatalf("%d packets out before the lookup's answer", n)
				}
				runs[0]()
			}

			var want [][]byte
			switch {
			case c.tooBig > 0:
			case c.whole:
				want = [][]byte{encapsulated(seg)}
			default:
				segs, _ := header.SegmentTCP(seg, c.gso, 0)
				for _, s := range segs {
					want = append(want, encapsulated(s))
				}
			}
			var got [][]byte
			for _, s := range p.la.take() {
				if t := header.IPoIB(s.pkt).Type(); t != header.EtherTypeARP && !isND(s.pkt) {
					got = append(got, s.pkt)
				}
			}
			if fmt.Sprintf("%x", got) != fmt.Sprintf("%x", want) {
				t.Errorf("sent\n%x\nwant\n%x", got, want)
			}
			if fmt.Sprint(gl.mss) != fmt.Sprint(c.wantMSS) {
				t.Errorf("written with MSS %v, want %v", gl.mss, c.wantMSS)
			}
			var errs int
			for _, m := range ua.take() {
				if c.v6 && header.IPv6(m).NextHeader() == header.ProtocolICMPv6 && header.ICMPv6(header.IPv6(m).Payload()).Type() == header.ICMPv6PacketTooBig ||
					!c.v6 && header.IPv4(m).Protocol() == header.ProtocolICMPv4 && header.ICMPv4(header.IPv4(m).Payload()).Type() == header.ICMPv4DstUnreachable {
					errs++
				}
			}
			if errs != c.tooBig {
				t.Errorf("the upper stack heard %d errors, want %d", errs, c.tooBig)
			}
			if c.tooBig == 0 && !c.bcast {
				if n := len(ub.take()); n != len(want) {
					t.Errorf("b's upper stack got %d datagrams, want %d", n, len(want))
				}
			}
			if _, tx, _ := p.la.counters(); tx != 0 {
				t.Errorf("%d counted dropped", tx)
			}
		})
	}
}
