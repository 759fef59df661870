package inet

import (
	"bytes"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

// What the upper stack sends goes to the gateway of its most specific
// route through the interface (fib_lookup's longest prefix, then the
// route's nexthop), resolved as that gateway's address; an on-link
// route, or no table at all, makes the destination its own next hop.
func TestUpperOutputThroughGateway(t *testing.T) {
	gw4, gw6 := pairAddr(false, 2), pairAddr(true, 2)
	mp := netip.MustParsePrefix
	for _, c := range []struct {
		name   string
		v6     bool
		routes []Route
		dst    string
		// viaB: the datagram reaches b's link address (b resolved it,
		// directly or as the gateway); else it waits for a neighbour
		// nobody answers.
		viaB bool
	}{
		{name: "no table", dst: "10.9.9.9"},
		{name: "gateway", routes: []Route{{Dst: mp("10.9.0.0/16"), Via: gw4}}, dst: "10.9.9.9", viaB: true},
		{name: "default route", routes: []Route{{Dst: mp("0.0.0.0/0"), Via: gw4}}, dst: "192.0.2.7", viaB: true},
		{name: "other prefix", routes: []Route{{Dst: mp("10.8.0.0/16"), Via: gw4}}, dst: "10.9.9.9"},
		{name: "more specific on-link route wins", routes: []Route{
			{Dst: mp("0.0.0.0/0"), Via: gw4}, {Dst: mp("10.9.0.0/16")}}, dst: "10.9.9.9"},
		{name: "more specific gateway route wins", routes: []Route{
			{Dst: mp("10.0.0.0/8")}, {Dst: mp("10.9.0.0/16"), Via: gw4}}, dst: "10.9.9.9", viaB: true},
		{name: "on-link neighbour under a default route", routes: []Route{
			{Dst: mp("10.0.0.0/24")}, {Dst: mp("0.0.0.0/0"), Via: pairAddr(false, 77)}}, dst: "10.0.0.2", viaB: true},
		{name: "v6 gateway", v6: true, routes: []Route{{Dst: mp("2001:db8::/32"), Via: gw6}}, dst: "2001:db8::5", viaB: true},
		{name: "v6 no route", v6: true, routes: []Route{{Dst: mp("2001:db8::/32"), Via: gw6}}, dst: "2001:db9::5"},
	} {
		p := newPair(t, c.v6, 2044)
		var ub upperRecorder
		p.b.SetUpper(ifB, ub.deliver)
		p.a.SetUpperRoutes(ifA, c.routes)
		dst := netip.MustParseAddr(c.dst)
		var pkt []byte
		if c.v6 {
			pkt = upEcho6(pairAddr(true, 1), dst, 56, 9)
		} else {
			pkt = upEcho4(pairAddr(false, 1), dst, 56, false, 9)
		}
		p.a.Output(ifA, pkt)
		var toB int
		for _, s := range p.la.take() {
			if s.dst == hwB && !isND(s.pkt) && header.IPoIB(s.pkt).Type() != header.EtherTypeARP {
				toB++
			}
		}
		if got := toB == 1; got != c.viaB {
			t.Errorf("%s: datagrams to b's link address: %d, want via b %v", c.name, toB, c.viaB)
		}
		if got := state(p.a, ifA, dst) != 0; got == c.viaB && dst != pairAddr(c.v6, 2) {
			t.Errorf("%s: a neighbour entry for the destination %s: %v", c.name, dst, got)
		}
	}
}

// Taking the routes away, or giving only on-link ones, drops the table:
// the destination is the next hop again.
func TestSetUpperRoutesForgets(t *testing.T) {
	s := New(verbs.NewManualClock(start))
	gw := netip.MustParseAddr("10.0.0.2")
	dst := netip.MustParseAddr("10.9.9.9")
	s.SetUpperRoutes(ifA, []Route{{Dst: netip.MustParsePrefix("10.9.0.0/16"), Via: gw}})
	s.SetUpperRoutes(ifB, []Route{{Dst: netip.MustParsePrefix("10.9.0.0/16"), Via: gw}})
	if got := s.nextHop(ifA, dst); got != gw {
		t.Fatalf("next hop %s, want %s", got, gw)
	}
	s.SetUpperRoutes(ifA, []Route{{Dst: netip.MustParsePrefix("10.9.0.0/16")}})
	if got := s.nextHop(ifA, dst); got != dst {
		t.Errorf("after on-link routes only: next hop %s, want %s", got, dst)
	}
	if got := s.nextHop(ifB, dst); got != gw {
		t.Errorf("the other interface's routes went too: next hop %s", got)
	}
	s.SetUpperRoutes(ifB, nil)
	if s.routes.Load() != nil {
		t.Errorf("no interface has a gateway, and the table is kept")
	}
}

// The path MTU the link teaches through a gateway is the destination's,
// as the kernel keeps its exceptions by daddr (fib_nh_exception), not
// the gateway's: a datagram to the gateway itself keeps the link's MTU.
func TestGatewayPMTUIsTheDestinations(t *testing.T) {
	p := resolvedPair(t, false, 65520)
	p.la.maxTo = map[header.HWAddr]uint32{hwB: 2044}
	var ua upperRecorder
	p.a.SetUpper(ifA, ua.deliver)
	gw, far := pairAddr(false, 2), netip.MustParseAddr("10.9.9.9")
	p.a.SetUpperRoutes(ifA, []Route{{Dst: netip.MustParsePrefix("10.9.0.0/16"), Via: gw}})
	p.a.Output(ifA, upEcho4(pairAddr(false, 1), far, 3000, false, 5))
	if got := p.a.mtuTo(far, 65520); got != 2044 {
		t.Errorf("path MTU to %s: %d, want 2044", far, got)
	}
	if got := p.a.mtuTo(gw, 65520); got != 65520 {
		t.Errorf("path MTU to the gateway %s: %d, want the link's 65520", gw, got)
	}
}

// Datagrams the upper stack queued for a neighbour that never answers
// come back to it as the kernel's neighbour layer reports them when it
// gives up (neigh_invalidate → arp_error_report / ndisc_error_report):
// ICMP host unreachable or ICMPv6 address unreachable, quoting each one,
// from the sender's own address, or from the interface's for a datagram
// it forwards; the same when the entry is deleted while it resolves. The
// stack's own echo requests are its pings' business.
func TestUpperHearsUnreachable(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, del := range []bool{false, true} {
			p := newPair(t, v6, 2044)
			var ua upperRecorder
			p.a.SetUpper(ifA, ua.deliver)
			self, nobody := pairAddr(v6, 1), pairAddr(v6, 9)
			remote := netip.MustParseAddr("10.5.5.5")
			if v6 {
				remote = netip.MustParseAddr("2001:db8::5")
			}
			var sent [][]byte
			for _, src := range []netip.Addr{self, self, remote} {
				var pkt []byte
				if v6 {
					pkt = upEcho6(src, nobody, 56, 9)
				} else {
					pkt = upEcho4(src, nobody, 56, false, 9)
				}
				p.a.Output(ifA, pkt)
				sent = append(sent, pkt)
			}
			if del {
				p.a.DelNeighbour(ifA, nobody)
			} else {
				p.clock.Advance(2 * time.Second)
				if got := ua.take(); len(got) != 0 {
					t.Fatalf("v6 %v: the upper heard %x before the third solicitation failed", v6, got)
				}
				p.clock.Advance(time.Second)
			}
			got := ua.take()
			if len(got) != len(sent) {
				t.Fatalf("v6 %v del %v: the upper got %d packets, want %d", v6, del, len(got), len(sent))
			}
			// the queue's datagrams count as transmit drops
			if _, d, _ := p.la.counters(); d != uint64(len(sent)) {
				t.Errorf("v6 %v del %v: %d transmit drops, want %d", v6, del, d, len(sent))
			}
			if n := p.clock.Pending(); n != 0 {
				t.Errorf("v6 %v del %v: %d timers still armed", v6, del, n)
			}
			for i, pkt := range sent {
				to, _, _ := addrsOf(pkt)
				want := make([]byte, header.IPv6MinMTU)
				var n int
				if v6 {
					n = header.EncodeICMPv6Error(want, self.As16(), to.As16(), header.ICMPv6DstUnreachable, 3, 0, pkt)
				} else {
					n = header.EncodeICMPv4Error(want, self.As4(), to.As4(), header.ICMPv4DstUnreachable, 1, 0, pkt, 548)
				}
				if !bytes.Equal(got[i], want[:n]) {
					t.Errorf("v6 %v del %v: error %d is %x, want %x", v6, del, i, got[i], want[:n])
				}
			}
		}
	}
	// The stack's own echo to nobody: its ping hears EchoUnreachable, the
	// upper stack nothing.
	p := newPair(t, false, 2044)
	var ua upperRecorder
	p.a.SetUpper(ifA, ua.deliver)
	done := make(chan EchoReply)
	go func() {
		rep, _ := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(false, 1), Dst: pairAddr(false, 9), Ident: 3, Seq: 1, Size: 8,
			Deadline: time.Now().Add(time.Minute)})
		done <- rep
	}()
	for len(p.la.peek()) == 0 {
		runtime.Gosched() // the first solicitation
	}
	p.clock.Advance(3 * time.Second)
	if rep := <-done; rep.Status != EchoUnreachable {
		t.Errorf("own echo: %+v", rep)
	}
	if got := ua.take(); len(got) != 0 {
		t.Errorf("the upper heard of the stack's own echo: %x", got)
	}
}

// A datagram the upper stack has no room for (its backlog full) is
// counted as the interface's receive drop, as enqueue_to_backlog counts
// it in the device's rx_dropped; one it takes is not.
func TestUpperFullCountsDrop(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		room := true
		p.b.SetUpper(ifB, func([]byte) bool { return room })
		var pkt []byte
		if v6 {
			pkt = upEcho6(pairAddr(v6, 1), pairAddr(v6, 2), 56, 9)
		} else {
			pkt = upEcho4(pairAddr(v6, 1), pairAddr(v6, 2), 56, false, 9)
		}
		p.a.Output(ifA, pkt)
		if rx, _, _ := p.lb.counters(); rx != 0 {
			t.Errorf("v6 %v: %d receive drops with room", v6, rx)
		}
		room = false
		p.a.Output(ifA, pkt)
		p.a.Output(ifA, pkt)
		if rx, _, _ := p.lb.counters(); rx != 2 {
			t.Errorf("v6 %v: %d receive drops, want 2", v6, rx)
		}
	}
}

// A datagram of exactly the path MTU goes out whole, DF or not; one byte
// more with DF is refused (ip_finish_output's mtu check is len > mtu).
func TestUpperOutputAtMTU(t *testing.T) {
	for _, c := range []struct {
		size int // ICMP data bytes
		sent bool
	}{
		{2044 - 28, true},
		{2044 - 28 + 1, false},
	} {
		p := resolvedPair(t, false, 2044)
		var ua upperRecorder
		p.a.SetUpper(ifA, ua.deliver)
		pkt := upEcho4(pairAddr(false, 1), pairAddr(false, 2), c.size, true, 9)
		p.a.Output(ifA, pkt)
		var whole bool
		for _, s := range p.la.take() {
			whole = whole || bytes.Equal(header.IPoIB(s.pkt).Payload(), pkt)
		}
		var fragNeeded bool
		for _, g := range ua.take() {
			ip := header.IPv4(g)
			fragNeeded = fragNeeded || ip.Protocol() == header.ProtocolICMPv4 && header.ICMPv4(ip.Payload()).Type() == header.ICMPv4DstUnreachable
		}
		if whole != c.sent || fragNeeded == c.sent {
			t.Errorf("%d-byte datagram with DF: sent whole %v, frag needed %v; want sent %v", len(pkt), whole, fragNeeded, c.sent)
		}
	}
}

// icmpMessage is an ICMP or ICMPv6 message of type typ from src to dst:
// an echo request's layout with its type changed, checksum fixed.
func icmpMessage(src, dst netip.Addr, typ uint8) []byte {
	if src.Is6() {
		pkt := upEcho6(src, dst, 56, 9)
		m := header.ICMPv6(header.IPv6(pkt).Payload())
		m[0] = typ
		m.SetChecksum(0)
		m.SetChecksum(m.CalculateChecksum(src.As16(), dst.As16()))
		return pkt
	}
	pkt := upEcho4(src, dst, 56, true, 9)
	m := header.ICMPv4(header.IPv4(pkt).Payload())
	m[0] = typ
	m.SetChecksum(0)
	m.SetChecksum(m.CalculateChecksum())
	return pkt
}

// emptyICMP is an IP datagram of the ICMP or ICMPv6 protocol with no
// payload, DF set for IPv4.
func emptyICMP(src, dst netip.Addr) []byte {
	if src.Is6() {
		b := make([]byte, header.IPv6HeaderLen)
		header.EncodeIPv6(b, header.IPv6Fields{NextHeader: header.ProtocolICMPv6, HopLimit: 64, Src: src.As16(), Dst: dst.As16()})
		return b
	}
	b := make([]byte, header.IPv4MinHeaderLen)
	header.EncodeIPv4(b, header.IPv4Fields{TotalLength: uint16(len(b)), TTL: 64, Protocol: header.ProtocolICMPv4,
		Flags: header.IPv4FlagDontFragment, Src: src.As4(), Dst: dst.As4()})
	return b
}

// No ICMP error is sent about an ICMP error (RFC 1122 3.2.2): when a
// neighbour never answers, or the link refuses a datagram as too big,
// the upper stack hears of its informational messages, not of its
// errors. __icmp_send (net/ipv4/icmp.c) counts types 3, 4, 5, 11, 12
// and any above NR_ICMP_TYPES (18) as errors; icmp6_send's
// is_ineligible (net/ipv6/icmp.c) every ICMPv6 type below 128.
func TestUpperNoErrorAboutICMPError(t *testing.T) {
	for _, tc := range []struct {
		v6    bool
		typ   uint8
		heard bool
	}{
		{false, header.ICMPv4Echo, true},
		{false, header.ICMPv4EchoReply, true},
		{false, 18, true}, // NR_ICMP_TYPES, address mask reply
		{false, header.ICMPv4DstUnreachable, false},
		{false, 4, false}, // source quench
		{false, 5, false}, // redirect
		{false, header.ICMPv4TimeExceeded, false},
		{false, 12, false}, // parameter problem
		{false, 19, false}, // unknown: taken as an error
		{true, header.ICMPv6EchoRequest, true},
		{true, 255, true},
		{true, header.ICMPv6DstUnreachable, false},
		{true, 127, false},
		{false, 0, false}, // too short to hold a type: taken as an error
		{true, 0, false},
	} {
		for _, tooBig := range []bool{false, true} {
			p, dst := newPair(t, tc.v6, 2044), pairAddr(tc.v6, 9) // nobody answers
			if tooBig {
				p, dst = resolvedPair(t, tc.v6, 2044), pairAddr(tc.v6, 2)
				p.la.maxTo = map[header.HWAddr]uint32{hwB: 60}
			}
			var ua upperRecorder
			p.a.SetUpper(ifA, ua.deliver)
			pkt := icmpMessage(pairAddr(tc.v6, 1), dst, tc.typ)
			if tc.typ == 0 && !tc.heard { // the IP header alone
				pkt = emptyICMP(pairAddr(tc.v6, 1), dst)
			}
			p.a.Output(ifA, pkt)
			p.clock.Advance(3 * time.Second)
			if got := ua.take(); (len(got) == 1) != tc.heard || len(got) > 1 {
				t.Errorf("v6 %v type %d too big %v: the upper heard %d errors, want one %v", tc.v6, tc.typ, tooBig, len(got), tc.heard)
			}
		}
	}
}
