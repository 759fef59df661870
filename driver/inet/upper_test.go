package inet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/ibctl/ibctl/driver/header"
)

// upperRecorder is an upper stack that records what it is given.
type upperRecorder struct {
	mu  sync.Mutex
	got [][]byte
}

func (u *upperRecorder) deliver(ip []byte) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.got = append(u.got, bytes.Clone(ip))
	return true
}

func (u *upperRecorder) take() [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.got
	u.got = nil
	return out
}

// upEcho4 is an ICMP echo request of size bytes of data from src to dst,
// with DF set when df.
func upEcho4(src, dst netip.Addr, size int, df bool, ident uint16) []byte {
	buf := make([]byte, header.IPv4MinHeaderLen+header.ICMPv4MinHeaderLen+size)
	f := header.IPv4Fields{TTL: 64, Src: src.As4(), Dst: dst.As4(), ID: 7}
	if df {
		f.Flags = header.IPv4FlagDontFragment
	}
	n := header.EncodeICMPv4Echo(buf, f, header.ICMPv4Echo, ident, 1, make([]byte, size))
	return buf[:n]
}

// upEcho6 is an ICMPv6 echo request of size bytes of data.
func upEcho6(src, dst netip.Addr, size int, ident uint16) []byte {
	buf := make([]byte, header.IPv6HeaderLen+header.ICMPv6MinHeaderLen+size)
	n := header.EncodeICMPv6Echo(buf, header.IPv6Fields{HopLimit: 64, Src: src.As16(), Dst: dst.As16()},
		header.ICMPv6EchoRequest, ident, 1, make([]byte, size))
	return buf[:n]
}

// What the upper stack sends reaches the peer's upper stack, resolved
// first when the neighbour is unknown; the peer's own stack neither
// answers nor keeps it.
func TestUpperOutputReachesPeerUpper(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := newPair(t, v6, 2044)
		var ua, ub upperRecorder
		p.a.SetUpper(ifA, ua.deliver)
		p.b.SetUpper(ifB, ub.deliver)
		var pkt []byte
		if v6 {
			pkt = upEcho6(pairAddr(v6, 1), pairAddr(v6, 2), 56, 9)
		} else {
			pkt = upEcho4(pairAddr(v6, 1), pairAddr(v6, 2), 56, false, 9)
		}
		p.a.Output(ifA, pkt)
		if got := ub.take(); len(got) != 1 || !bytes.Equal(got[0], pkt) {
			t.Errorf("v6=%v: b's upper got %x, want the datagram %x", v6, got, pkt)
		}
		if got := ua.take(); len(got) != 0 {
			t.Errorf("v6=%v: a's upper got %x", v6, got)
		}
		// b's stack answered the resolution, nothing else: the echo
		// is the upper stack's to answer.
		for _, s := range p.lb.take() {
			if header.IPoIB(s.pkt).Type() == header.EtherTypeIPv4 || (v6 && !isND(s.pkt)) {
				t.Errorf("v6=%v: b's stack sent %x", v6, s.pkt)
			}
		}
	}
}

// A datagram given in a frame with room for the encapsulation header
// reaches the link in that frame's memory, the header written in the
// room, and the peer's upper stack unchanged; one sent before the
// neighbour is known waits and goes out all the same. A frame without
// room for the header is dropped and counted.
func TestUpperOutputFrame(t *testing.T) {
	for _, c := range []struct {
		name     string
		v6       bool
		resolved bool
		typ      uint16
	}{
		{"v4", false, true, header.EtherTypeIPv4},
		{"v6", true, true, header.EtherTypeIPv6},
		{"v4 unresolved", false, false, header.EtherTypeIPv4},
	} {
		var p *pair
		if c.resolved {
			p = resolvedPair(t, c.v6, 2044)
		} else {
			p = newPair(t, c.v6, 2044)
		}
		var ub upperRecorder
		p.b.SetUpper(ifB, ub.deliver)
		pkt := upEcho4(pairAddr(false, 1), pairAddr(false, 2), 56, false, 9)
		if c.v6 {
			pkt = upEcho6(pairAddr(true, 1), pairAddr(true, 2), 56, 9)
		}
		frame := append([]byte{0xde, 0xad, 0xbe, 0xef}, pkt...)
		p.a.OutputFrame(ifA, frame, 0)
		var sent []packet
		var mem []*byte
		mems := p.la.mem
		for i, s := range p.la.take() {
			if header.IPoIB(s.pkt).Type() == c.typ && !isND(s.pkt) {
				sent, mem = append(sent, s), append(mem, mems[i])
			}
		}
		want := append([]byte{byte(c.typ >> 8), byte(c.typ), 0, 0}, pkt...)
		if len(sent) != 1 || !bytes.Equal(sent[0].pkt, want) || sent[0].dst != hwB {
			t.Fatalf("%s: sent %v, want %x to %v", c.name, sent, want, hwB)
		}
		if inFrame := mem[0] == &frame[0]; inFrame != c.resolved {
			t.Errorf("%s: sent in the frame's memory: %v, want %v", c.name, inFrame, c.resolved)
		}
		if got := ub.take(); len(got) != 1 || !bytes.Equal(got[0], pkt) {
			t.Errorf("%s: b's upper got %x, want %x", c.name, got, pkt)
		}
	}
	p := resolvedPair(t, false, 2044)
	p.a.OutputFrame(ifA, []byte{0, 0, 0}, 0)
	if sent, dropped := p.la.take(), p.la.txDropped; len(sent) != 0 || dropped != 1 {
		t.Errorf("a 3-byte frame: sent %v, tx dropped %d, want nothing sent and 1 dropped", sent, dropped)
	}
}

// isND reports whether an IPoIB packet is an ICMPv6 neighbour message.
func isND(pkt []byte) bool {
	ip := header.IPv6(header.IPoIB(pkt).Payload())
	if header.IPoIB(pkt).Type() != header.EtherTypeIPv6 || ip.NextHeader() != header.ProtocolICMPv6 {
		return false
	}
	typ := header.ICMPv6(ip.Payload()).Type()
	return typ == header.ICMPv6NeighborSolicit || typ == header.ICMPv6NeighborAdvert
}

// The stack's own echo keeps its reply even with an upper stack above.
func TestUpperLeavesOwnPingReply(t *testing.T) {
	p := newPair(t, false, 2044)
	var ua upperRecorder
	p.a.SetUpper(ifA, ua.deliver)
	rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(false, 1), Dst: pairAddr(false, 2), Ident: 3, Seq: 1,
		Size: 56, Deadline: far()})
	if err != nil || rep.Status != EchoReplied {
		t.Fatalf("echo: %+v %v", rep, err)
	}
	if got := ua.take(); len(got) != 0 {
		t.Errorf("the upper stack got %x", got)
	}
	// Another echo reply, nobody's here, goes up.
	reply := upEcho4(pairAddr(false, 2), pairAddr(false, 1), 8, false, 4)
	header.ICMPv4(header.IPv4(reply).Payload())[0] = header.ICMPv4EchoReply
	m := header.ICMPv4(header.IPv4(reply).Payload())
	m.SetChecksum(0)
	m.SetChecksum(m.CalculateChecksum())
	p.b.Output(ifB, reply)
	if got := ua.take(); len(got) != 1 || !bytes.Equal(got[0], reply) {
		t.Errorf("a stray echo reply: upper got %x, want %x", got, reply)
	}
}

// Multicast and broadcast destinations go to their link addresses, and
// come up on the other side; neighbour discovery stays below.
func TestUpperGroups(t *testing.T) {
	p := resolvedPair(t, false, 2044)
	if err := p.a.AddAddr(ifA, netip.MustParsePrefix("fd00::1/64")); err != nil {
		t.Fatal(err)
	}
	if err := p.b.AddAddr(ifB, netip.MustParsePrefix("fd00::2/64")); err != nil {
		t.Fatal(err)
	}
	var ub upperRecorder
	p.b.SetUpper(ifB, ub.deliver)
	src4 := pairAddr(false, 1)
	for _, c := range []struct {
		pkt []byte
		hw  header.HWAddr
	}{
		{upEcho4(src4, netip.MustParseAddr("224.0.0.1"), 8, false, 1), MulticastLinkAddr(bcast, netip.MustParseAddr("224.0.0.1"))},
		{upEcho4(src4, netip.MustParseAddr("255.255.255.255"), 8, false, 1), bcast},
		{upEcho4(src4, netip.MustParseAddr("10.0.0.255"), 8, false, 1), bcast},
		{upEcho6(netip.MustParseAddr("fd00::1"), netip.MustParseAddr("ff02::1"), 8, 1), MulticastLinkAddr(bcast, netip.MustParseAddr("ff02::1"))},
	} {
		p.a.Output(ifA, c.pkt)
		sent := p.la.take()
		if len(sent) != 1 || sent[0].dst != c.hw || !bytes.Equal(header.IPoIB(sent[0].pkt).Payload(), c.pkt) {
			t.Errorf("%x: sent %v, want it to %v", c.pkt, dumpPackets(sent), c.hw)
		}
		if got := ub.take(); len(got) != 1 || !bytes.Equal(got[0], c.pkt) {
			t.Errorf("%x: b's upper got %x", c.pkt, got)
		}
	}
	// A neighbour solicitation is the stack's: answered, not passed up.
	p.lb.take()
	ns := nsPacket(t, hwA, netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2"))
	p.nb.DeliverPacket(hwA, ns.pkt)
	if got := ub.take(); len(got) != 0 {
		t.Errorf("the solicitation went up: %x", got)
	}
	if sent := p.lb.take(); len(sent) != 1 || !isND(sent[0].pkt) {
		t.Errorf("b answered the solicitation with %v", dumpPackets(sent))
	}
	// A datagram for another host, IPv4 or IPv6, is the upper stack's
	// to forward or drop (ip_rcv_finish, ip6_rcv_finish route it): the
	// link delivered it to this interface's QPN.
	for _, dg := range [][]byte{
		upEcho4(src4, netip.MustParseAddr("10.0.0.9"), 8, false, 1),
		upEcho6(netip.MustParseAddr("fd00::1"), netip.MustParseAddr("2001:db8::9"), 8, 1),
	} {
		other := append(make([]byte, header.IPoIBHeaderLen), dg...)
		typ := header.EtherTypeIPv4
		if dg[0]>>4 == 6 {
			typ = header.EtherTypeIPv6
		}
		header.IPoIB(other).Encode(typ)
		p.nb.DeliverPacket(hwA, other)
		if got := ub.take(); len(got) != 1 || !bytes.Equal(got[0], dg) {
			t.Errorf("a datagram for another host: b's upper got %x, want %x", got, dg)
		}
		// Without an upper stack, this stack does not route: nothing
		// goes out.
		p.b.SetUpper(ifB, nil)
		p.lb.take()
		p.nb.DeliverPacket(hwA, other)
		if sent := p.lb.take(); len(sent) != 0 {
			t.Errorf("b's own stack answered a datagram for another host: %v", dumpPackets(sent))
		}
		p.b.SetUpper(ifB, ub.deliver)
	}
}

// A datagram the link cannot carry is not sent; the upper stack hears it
// as the kernel's IPoIB driver tells its own stack (ipoib_cm.c): ICMP
// "fragmentation needed" or "packet too big" with the MTU that fits, from
// and to the datagram's source; the next one is refused at once from the
// learnt path MTU. A datagram without DF is refused the same way by the
// link, as the kernel's IPoIB driver does, and fragmented by the learnt
// path MTU the next time.
func TestUpperTooBig(t *testing.T) {
	for _, c := range []struct {
		v6, df bool
	}{{false, true}, {false, false}, {true, false}} {
		p := resolvedPair(t, c.v6, 65520)
		p.la.maxTo = map[header.HWAddr]uint32{hwB: 2044}
		var ua upperRecorder
		p.a.SetUpper(ifA, ua.deliver)
		src, dst := pairAddr(c.v6, 1), pairAddr(c.v6, 2)
		var pkt []byte
		if c.v6 {
			pkt = upEcho6(src, dst, 3000, 5)
		} else {
			pkt = upEcho4(src, dst, 3000, c.df, 5)
		}
		want := make([]byte, 1280)
		var n int
		if c.v6 {
			n = header.EncodePacketTooBig(want, src.As16(), src.As16(), 2044, pkt)
		} else {
			n = header.EncodeFragNeeded(want, src.As4(), src.As4(), 2044, pkt)
		}
		want = want[:n]
		p.a.Output(ifA, pkt)
		if got := ua.take(); len(got) != 1 || !bytes.Equal(got[0], want) {
			t.Errorf("%+v: upper got %x, want %x", c, got, want)
		}
		if _, _, refused := p.la.counters(); refused != 1 {
			t.Errorf("%+v: link refused %d, want 1", c, refused)
		}
		p.a.Output(ifA, pkt)
		_, _, refused := p.la.counters()
		sent := p.la.take()
		if c.v6 || c.df {
			if got := ua.take(); refused != 1 || len(got) != 1 || !bytes.Equal(got[0], want) || len(sent) != 0 {
				t.Errorf("%+v: the second: refused %d, sent %d, upper got %x", c, refused, len(sent), got)
			}
		} else if got := ua.take(); len(got) != 1 || len(got[0]) != len(pkt) || header.IPv4(got[0]).SourceAddress() != dst.As4() ||
			!slices.Equal(sizes(sent), []int{4 + 20 + 2024, 4 + 20 + 984}) {
			// b reassembles the fragments and answers; the reply,
			// no echo of this stack's, is the upper stack's.
			t.Errorf("%+v: the second: sent %v, upper got %d packets, want b's reply", c, sizes(sent), len(got))
		}
	}
}

// Malformed datagrams are dropped and counted; an interface without a
// link, or whose upper stack went away, takes nothing.
func TestUpperOutputEdges(t *testing.T) {
	p := resolvedPair(t, false, 2044)
	for _, pkt := range [][]byte{nil, {0x45, 0}, {0x60, 0, 0}, {0x10, 1, 2, 3}} {
		p.a.Output(ifA, pkt)
	}
	if _, tx, _ := p.la.counters(); tx != 4 {
		t.Errorf("dropped %d malformed datagrams, want 4", tx)
	}
	if sent := p.la.take(); len(sent) != 0 {
		t.Errorf("sent %v", dumpPackets(sent))
	}
	p.a.Output(99, upEcho4(pairAddr(false, 1), pairAddr(false, 2), 8, false, 1)) // no such interface
	var ub upperRecorder
	p.b.SetUpper(ifB, ub.deliver)
	p.b.SetUpper(ifB, nil)
	p.a.Output(ifA, upEcho4(pairAddr(false, 1), pairAddr(false, 2), 8, false, 1))
	if got := ub.take(); len(got) != 0 {
		t.Errorf("a removed upper stack got %x", got)
	}
}

// udp4 is a UDP datagram to port with 8 bytes of data (checksum 0).
func udp4(src, dst netip.Addr, port uint16) []byte {
	b := make([]byte, header.IPv4MinHeaderLen+16)
	header.EncodeIPv4(b, header.IPv4Fields{TotalLength: uint16(len(b)), TTL: 64, Protocol: header.ProtocolUDP,
		Src: src.As4(), Dst: dst.As4()})
	u := b[header.IPv4MinHeaderLen:]
	u[0], u[1], u[2], u[3], u[5] = 0x30, 0x39, byte(port>>8), byte(port), 16
	return b
}

// A datagram for one of the stack's own UDP sinks stays below; others,
// and IPv6 that is not neighbour discovery, go up. A non-first fragment
// too big for the link gets no error (icmp_send's rule).
func TestUpperKeepsSinks(t *testing.T) {
	p := resolvedPair(t, false, 2044)
	sink, err := p.b.OpenUDPSink(ifB, 9000)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var ub upperRecorder
	p.b.SetUpper(ifB, ub.deliver)
	p.a.Output(ifA, udp4(pairAddr(false, 1), pairAddr(false, 2), 9000))
	if n, _ := sink.Counts(); n != 1 {
		t.Errorf("the sink counted %d, want 1", n)
	}
	if got := ub.take(); len(got) != 0 {
		t.Errorf("the sink's datagram went up: %x", got)
	}
	other := udp4(pairAddr(false, 1), pairAddr(false, 2), 9001)
	p.a.Output(ifA, other)
	if got := ub.take(); len(got) != 1 || !bytes.Equal(got[0], other) {
		t.Errorf("port 9001: upper got %x", got)
	}
	if n, _ := sink.Counts(); n != 1 {
		t.Errorf("the sink counted %d, want still 1", n)
	}

	p6 := resolvedPair(t, true, 2044)
	var ub6 upperRecorder
	p6.b.SetUpper(ifB, ub6.deliver)
	u := make([]byte, header.IPv6HeaderLen+8)
	header.EncodeIPv6(u, header.IPv6Fields{PayloadLength: 8, NextHeader: header.ProtocolUDP, HopLimit: 64,
		Src: pairAddr(true, 1).As16(), Dst: pairAddr(true, 2).As16()})
	p6.a.Output(ifA, u)
	if got := ub6.take(); len(got) != 1 || !bytes.Equal(got[0], u) {
		t.Errorf("UDP over IPv6: upper got %x", got)
	}

	p.la.maxTo = map[header.HWAddr]uint32{hwB: 1000}
	var ua upperRecorder
	p.a.SetUpper(ifA, ua.deliver)
	frag := upEcho4(pairAddr(false, 1), pairAddr(false, 2), 1500, false, 1)
	binary.BigEndian.PutUint16(frag[6:], 185) // offset 1480
	header.IPv4(frag).SetChecksum(0)
	header.IPv4(frag).SetChecksum(^header.Checksum(frag[:20], 0))
	p.a.Output(ifA, frag)
	if _, _, refused := p.la.counters(); refused != 1 {
		t.Errorf("refused %d, want the fragment refused", refused)
	}
	if got := ua.take(); len(got) != 0 {
		t.Errorf("an error about a non-first fragment: %x", got)
	}
}

// A sink's counts are read together: never a datagram without its bytes
// (perf's byte count is its packet count times the datagram's size).
func TestUDPSinkCountsTogether(t *testing.T) {
	p := resolvedPair(t, false, 2044)
	sink, err := p.b.OpenUDPSink(ifB, 9000)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	pkt := udp4(pairAddr(false, 1), pairAddr(false, 2), 9000)
	size := uint64(header.IPoIBHeaderLen + len(pkt))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20000 {
			p.a.Output(ifA, pkt)
		}
	}()
	for {
		select {
		case <-done:
			if n, b := sink.Counts(); n != 20000 || b != n*size {
				t.Fatalf("counts %d datagrams, %d bytes; want 20000, %d", n, b, 20000*size)
			}
			return
		default:
		}
		if n, b := sink.Counts(); b != n*size {
			t.Fatalf("read %d datagrams with %d bytes, want %d", n, b, n*size)
		}
	}
}

// A sink's Arrived is ready once a datagram came since it was last
// taken, and only then: a perf sender waits on it for the receiver's
// progress instead of polling the counts.
func TestUDPSinkArrived(t *testing.T) {
	p := resolvedPair(t, false, 2044)
	sink, err := p.b.OpenUDPSink(ifB, 9000)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	ready := func() bool {
		select {
		case <-sink.Arrived():
			return true
		default:
			return false
		}
	}
	if ready() {
		t.Fatal("ready before any datagram")
	}
	p.a.Output(ifA, udp4(pairAddr(false, 1), pairAddr(false, 2), 9001))
	if ready() {
		t.Fatal("ready after a datagram to another port")
	}
	for range 2 {
		p.a.Output(ifA, udp4(pairAddr(false, 1), pairAddr(false, 2), 9000))
	}
	if !ready() {
		t.Fatal("not ready after two datagrams")
	}
	if ready() {
		t.Fatal("still ready after it was taken")
	}
}

// A sink binds the first free port from the one asked for, up to 65535;
// beyond it there is none (EADDRINUSE). A closed sink's port is free
// again.
func TestUDPSinkPorts(t *testing.T) {
	s := newTestStack()
	open := func(port uint16) (uint16, error) {
		u, err := s.OpenUDPSink(ifA, port)
		if err != nil {
			return 0, err
		}
		return u.Port(), nil
	}
	first, err := s.OpenUDPSink(ifA, 5201)
	if err != nil || first.Port() != 5201 {
		t.Fatalf("first sink: %v %v", first, err)
	}
	for _, tc := range []struct {
		ask  uint16
		want uint16
		err  error
	}{
		{5201, 5202, nil},
		{0xfffe, 0xfffe, nil},
		{0xfffe, 0xffff, nil},
		{0xfffe, 0, ErrNoPort},
		{0xffff, 0, ErrNoPort},
	} {
		if got, err := open(tc.ask); got != tc.want || err != tc.err {
			t.Errorf("open from %d: port %d %v, want %d %v", tc.ask, got, err, tc.want, tc.err)
		}
	}
	first.Close()
	if got, err := open(5201); got != 5201 || err != nil {
		t.Errorf("after close: port %d %v, want 5201", got, err)
	}
}

// A UDP datagram of its header alone still reaches its sink, and stays
// below an upper stack: udp_rcv needs the 8-byte header only
// (__udp4_lib_rcv, net/ipv4/udp.c).
func TestUDPSinkHeaderOnly(t *testing.T) {
	p := resolvedPair(t, false, 2044)
	sink, err := p.b.OpenUDPSink(ifB, 9000)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	for _, up := range []bool{false, true} {
		var ub upperRecorder
		if up {
			p.b.SetUpper(ifB, ub.deliver)
		}
		pkt := udp4(pairAddr(false, 1), pairAddr(false, 2), 9000)[:header.IPv4MinHeaderLen+8]
		ip := header.IPv4(pkt)
		ip.SetTotalLength(uint16(len(pkt)))
		ip.SetChecksum(0)
		ip.SetChecksum(ip.CalculateChecksum())
		pkt[header.IPv4MinHeaderLen+5] = 8 // the UDP length
		before, _ := sink.Counts()
		p.a.Output(ifA, pkt)
		if n, _ := sink.Counts(); n != before+1 {
			t.Errorf("upper %v: the sink counted %d, want %d", up, n, before+1)
		}
		if got := ub.take(); len(got) != 0 {
			t.Errorf("upper %v: the datagram went up: %x", up, got)
		}
	}
}

// A subnet's broadcast address goes to the link's broadcast address
// only for prefixes shorter than /31: fib_add_ifaddr adds the
// broadcast route "when it takes a sense", ifa_prefixlen < 31
// (net/ipv4/fib_frontend.c); a /31's other address (RFC 3021) is
// unicast, resolved first.
func TestUpperBroadcastPrefixLength(t *testing.T) {
	for _, tc := range []struct {
		prefix, dst string
		bcast       bool
	}{
		{"10.1.0.1/24", "10.1.0.255", true},
		{"10.1.0.1/30", "10.1.0.3", true},
		{"10.1.0.0/31", "10.1.0.1", false},
		{"10.1.0.1/30", "10.1.0.2", false},
	} {
		p := resolvedPair(t, false, 2044)
		if err := p.a.AddAddr(ifA, netip.MustParsePrefix(tc.prefix)); err != nil {
			t.Fatal(err)
		}
		src := netip.MustParsePrefix(tc.prefix).Addr()
		pkt := upEcho4(src, netip.MustParseAddr(tc.dst), 8, false, 1)
		p.a.Output(ifA, pkt)
		sent := p.la.take()
		if len(sent) != 1 {
			t.Fatalf("%s to %s: sent %v", tc.prefix, tc.dst, dumpPackets(sent))
		}
		typ := header.IPoIB(sent[0].pkt).Type()
		if bc := typ == header.EtherTypeIPv4 && sent[0].dst == bcast; bc != tc.bcast {
			t.Errorf("%s to %s: sent %v, broadcast %v, want %v", tc.prefix, tc.dst, dumpPackets(sent), bc, tc.bcast)
		}
		if !tc.bcast && typ != header.EtherTypeARP {
			t.Errorf("%s to %s: sent %v, want an ARP request", tc.prefix, tc.dst, dumpPackets(sent))
		}
	}
}

// icmpError looks through IPv6 extension headers as is_ineligible does
// (ipv6_skip_exthdr): an ICMPv6 error after a hop-by-hop or a first
// Fragment header is one, a later fragment or headers that end in "no
// next header" are not, and a type byte that is not there makes an
// unfragmented message one and a fragment not.
func TestICMPErrorThroughExtensionHeaders(t *testing.T) {
	v6 := func(nh uint8, payload ...byte) []byte {
		b := make([]byte, header.IPv6HeaderLen, header.IPv6HeaderLen+len(payload))
		b[0] = 6 << 4
		header.IPv6(b).SetNextHeader(nh)
		header.IPv6(b).SetPayloadLength(uint16(len(payload)))
		return append(b, payload...)
	}
	hbh := func(next uint8) []byte { return []byte{next, 0, 0, 0, 0, 0, 0, 0} }
	frag := func(next uint8, off uint16) []byte { return []byte{next, 0, byte(off >> 8), byte(off), 0, 0, 0, 1} }
	icmp := header.ProtocolICMPv6
	tests := []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"destination unreachable", v6(icmp, 1, 0, 0, 0), true},
		{"echo request", v6(icmp, 128, 0, 0, 0), false},
		{"empty ICMPv6", v6(icmp), true},
		{"after hop-by-hop", v6(header.ProtocolIPv6HopByHop, append(hbh(icmp), 3, 0)...), true},
		{"echo after hop-by-hop", v6(header.ProtocolIPv6HopByHop, append(hbh(icmp), 129, 0)...), false},
		{"in a first fragment", v6(header.ProtocolIPv6Fragment, append(frag(icmp, 1), 2, 0)...), true},
		{"a later fragment", v6(header.ProtocolIPv6Fragment, append(frag(icmp, 8), 2, 0)...), false},
		{"a first fragment without the type", v6(header.ProtocolIPv6Fragment, frag(icmp, 1)...), false},
		{"no next header", v6(header.ProtocolIPv6HopByHop, hbh(header.ProtocolIPv6NoNext)...), false},
		{"UDP after hop-by-hop", v6(header.ProtocolIPv6HopByHop, append(hbh(header.ProtocolUDP), 1, 0)...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := icmpError(tt.pkt); got != tt.want {
				t.Errorf("icmpError = %v, want %v", got, tt.want)
			}
		})
	}
}
