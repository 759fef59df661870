package inet

import (
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/ibctl/ibctl/driver/header"
)

// fakeFIB answers lookups as a kernel with a few rules would: a rule
// on the source or on the traffic class picks its table's gateway, else
// the main table's gateway (on link when invalid); refuse answers
// nothing (an unreachable or prohibit rule).
type fakeFIB struct {
	mu       sync.Mutex
	bySource map[netip.Addr]netip.Addr
	byTOS    map[uint8]netip.Addr
	main     netip.Addr
	refuse   bool
	asked    []hopKey
}

func (f *fakeFIB) lookup(src, dst netip.Addr, tos uint8) (netip.Addr, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, hopKey{tos: tos, src: src, dst: dst})
	if f.refuse {
		return netip.Addr{}, false
	}
	if gw, ok := f.bySource[src]; ok {
		return gw, true
	}
	if gw, ok := f.byTOS[tos]; ok {
		return gw, true
	}
	return f.main, true
}

func (f *fakeFIB) setSource(src, gw netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bySource[src] = gw
}

func (f *fakeFIB) questions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.asked)
}

// neighbours are the addresses the stack has neighbour entries for on
// the interface, sorted.
func neighbours(s *Stack, index int32) []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []netip.Addr
	for a := range s.neigh[index] {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// toB counts the IP datagrams a's link sent to b's link address.
func toB(p *pair) int {
	n := 0
	for _, s := range p.la.take() {
		if s.dst == hwB && !isND(s.pkt) && header.IPoIB(s.pkt).Type() != header.EtherTypeARP {
			n++
		}
	}
	return n
}

// upEcho is an echo request of the family from src to dst with the
// traffic class tos.
func upEcho(src, dst netip.Addr, tos uint8) []byte {
	buf := make([]byte, header.IPv6HeaderLen+header.ICMPv6MinHeaderLen+56)
	var n int
	if src.Is4() {
		n = header.EncodeICMPv4Echo(buf, header.IPv4Fields{TOS: tos, TTL: 64, Src: src.As4(), Dst: dst.As4(), ID: 7},
			header.ICMPv4Echo, 9, 1, make([]byte, 56))
	} else {
		n = header.EncodeICMPv6Echo(buf, header.IPv6Fields{TrafficClass: tos, HopLimit: 64, Src: src.As16(), Dst: dst.As16()},
			header.ICMPv6EchoRequest, 9, 1, make([]byte, 56))
	}
	return buf[:n]
}

// What the upper stack sends goes to the next hop its lookup answers for
// the datagram's source, destination and traffic class: a rule's table's
// gateway, the main table's, or the destination itself on link; without
// an answer (a rule that refuses the flow) the upper stack's routes
// decide, as without a lookup. The next hop is the one neighbour entry
// the datagram makes.
func TestUpperLookup(t *testing.T) {
	mp := netip.MustParsePrefix
	for _, c := range []struct {
		name   string
		v6     bool
		src    byte // a's address pairAddr(v6, src)
		tos    uint8
		main   byte // the main table's gateway, 0 on link
		refuse bool
		routes []Route
		// nh is the next hop, pairAddr(v6, nh), 0 the destination;
		// b answers for 2 alone.
		nh byte
	}{
		{name: "rule from the source: its table's gateway", src: 11, main: 77, nh: 2},
		{name: "no rule: the main table's gateway", src: 1, main: 2, nh: 2},
		{name: "no rule: the main table's other gateway", src: 1, main: 77, nh: 77},
		{name: "no rule, main on link", src: 1},
		{name: "rule on the traffic class, ECN aside", src: 1, tos: 0x10 | 2, main: 77, nh: 2},
		{name: "refused: the routes decide", src: 11, refuse: true,
			routes: []Route{{Dst: mp("10.9.0.0/16"), Via: pairAddr(false, 2)}}, nh: 2},
		{name: "refused, no routes: the destination", src: 11, refuse: true},
		{name: "v6 rule from the source", v6: true, src: 11, main: 77, nh: 2},
		{name: "v6 no rule", v6: true, src: 1, main: 77, nh: 77},
		{name: "v6 refused: the routes decide", v6: true, src: 11, refuse: true,
			routes: []Route{{Dst: mp("2001:db8::/32"), Via: pairAddr(true, 2)}}, nh: 2},
	} {
		p := newPair(t, c.v6, 2044)
		if err := p.a.AddAddr(ifA, pairPrefix(c.v6, 11)); err != nil {
			t.Fatal(err)
		}
		dst := netip.MustParseAddr("10.9.9.9")
		if c.v6 {
			dst = netip.MustParseAddr("2001:db8::9")
		}
		fib := &fakeFIB{bySource: map[netip.Addr]netip.Addr{pairAddr(c.v6, 11): pairAddr(c.v6, 2)},
			byTOS: map[uint8]netip.Addr{0x10: pairAddr(c.v6, 2)}, refuse: c.refuse}
		if c.main != 0 {
			fib.main = pairAddr(c.v6, c.main)
		}
		p.a.SetUpperRoutes(ifA, c.routes)
		p.a.SetUpperLookup(ifA, fib.lookup)
		var runs []func()
		p.a.hops.start = func(f func()) { runs = append(runs, f) }
		src := pairAddr(c.v6, c.src)
		p.a.Output(ifA, upEcho(src, dst, c.tos))
		if len(runs) != 1 || len(neighbours(p.a, ifA)) != 0 || len(p.la.peek()) != 0 {
			t.Fatalf("%s: before the answer: %d lookups, neighbours %v, %d packets out", c.name, len(runs),
				neighbours(p.a, ifA), len(p.la.peek()))
		}
		runs[0]()
		want := dst
		if c.nh != 0 {
			want = pairAddr(c.v6, c.nh)
		}
		if got := neighbours(p.a, ifA); !slices.Equal(got, []netip.Addr{want}) {
			t.Errorf("%s: neighbours %v, want the next hop %s", c.name, got, want)
		}
		if got, wantB := toB(p), c.nh == 2; (got == 1) != wantB || got > 1 {
			t.Errorf("%s: %d datagrams to b, want via b %v", c.name, got, wantB)
		}
		if want := []hopKey{{tos: c.tos &^ 3, src: src, dst: dst}}; !slices.Equal(fib.asked, want) {
			t.Errorf("%s: asked %+v, want %+v", c.name, fib.asked, want)
		}
	}
}

// An answer is kept for its flow until a flush, which the driver does
// on every route or rule change: a changed rule is followed from the
// next datagram on. Datagrams that wait for an answer go out with it,
// the oldest dropped beyond unres_qlen_bytes and counted; a lookup asked
// before a flush serves its waiting datagrams but is not kept; taking
// the lookup away leaves the routes.
func TestUpperLookupCacheAndFlush(t *testing.T) {
	p := newPair(t, false, 2044)
	src, dst, gw, nobody := pairAddr(false, 1), netip.MustParseAddr("10.9.9.9"), pairAddr(false, 2), pairAddr(false, 77)
	fib := &fakeFIB{bySource: map[netip.Addr]netip.Addr{src: gw}}
	p.a.SetUpperLookup(ifA, fib.lookup)
	var runs []func()
	p.a.hops.start = func(f func()) { runs = append(runs, f) }
	run := func(what string, want int) {
		t.Helper()
		if len(runs) != want {
			t.Fatalf("%s: %d lookups started, want %d", what, len(runs), want)
		}
		for _, f := range runs {
			f()
		}
		runs = nil
	}
	send := func() { p.a.Output(ifA, upEcho(src, dst, 0)) }

	send()
	send()
	if n := toB(p); n != 0 {
		t.Fatalf("%d datagrams out before the answer", n)
	}
	run("first datagrams", 1)
	if n := toB(p); n != 2 {
		t.Errorf("%d datagrams to the gateway after the answer, want 2", n)
	}
	send()
	run("answer kept", 0)
	if n := toB(p); n != 1 {
		t.Errorf("kept answer: %d datagrams to the gateway, want 1", n)
	}
	// The rule changes; until the flush the kept answer holds.
	fib.setSource(src, nobody)
	send()
	run("before the flush", 0)
	if n := toB(p); n != 1 {
		t.Errorf("before the flush: %d datagrams to the gateway, want 1", n)
	}
	p.a.FlushUpperLookups()
	send()
	run("after the flush", 1)
	if n := toB(p); n != 0 || state(p.a, ifA, nobody) != nudIncomplete {
		t.Errorf("after the flush: %d datagrams to the old gateway, new gateway's state %#x", n, state(p.a, ifA, nobody))
	}
	if n := fib.questions(); n != 2 {
		t.Errorf("%d questions, want 2", n)
	}

	// A flush while a lookup is under way: its datagram goes with its
	// answer, the next one asks again.
	fib.setSource(src, gw)
	p.a.FlushUpperLookups()
	send()
	p.a.FlushUpperLookups()
	run("flushed while asking", 1)
	if n := toB(p); n != 1 {
		t.Errorf("flushed while asking: %d datagrams to the gateway, want 1", n)
	}
	send()
	run("answer not kept", 1)
	toB(p)

	// The queue of a lookup under way: 50 028-byte datagrams, four fit
	// in unres_qlen_bytes, two more push out the two oldest.
	p.a.FlushUpperLookups()
	big := upEcho4(src, dst, 50000, false, 9)
	for range 6 {
		p.a.Output(ifA, big)
	}
	if _, d, _ := p.la.counters(); d != 2 {
		t.Errorf("%d transmit drops, want 2", d)
	}
	run("big datagrams", 1)

	// Lookups under way at once are bounded: one more flow is dropped.
	p.a.FlushUpperLookups()
	for i := range maxHopQueries + 1 {
		p.a.Output(ifA, upEcho(src, netip.AddrFrom4([4]byte{10, 8, byte(i >> 8), byte(i)}), 0))
	}
	if _, d, _ := p.la.counters(); d != 3 {
		t.Errorf("%d transmit drops after %d new flows, want 3", d, maxHopQueries+1)
	}
	if len(runs) != maxHopQueries {
		t.Errorf("%d lookups started, want %d", len(runs), maxHopQueries)
	}
	runs = nil

	// No lookup: the routes decide, and nothing is asked.
	p.a.SetUpperLookup(ifA, nil)
	p.a.SetUpperRoutes(ifA, []Route{{Dst: netip.MustParsePrefix("10.9.0.0/16"), Via: gw}})
	asked := fib.questions()
	toB(p)
	send()
	if n := toB(p); n != 1 || fib.questions() != asked || len(runs) != 0 {
		t.Errorf("without a lookup: %d datagrams to the gateway, %d new questions", n, fib.questions()-asked)
	}
}

// A queue of datagrams that wait, for a neighbour's address or for a
// next-hop lookup, holds unres_qlen_bytes exactly: the oldest is dropped
// only when the new one would take it beyond (__neigh_event_send's
// "arp_queue_len_bytes + skb->truesize > QUEUE_LEN_BYTES",
// net/core/neighbour.c).
func TestWaitQueueHoldsUnresQlenBytes(t *testing.T) {
	const size = unresQlenBytes / 4 // four datagrams fill it exactly
	for _, lookup := range []bool{false, true} {
		p := newPair(t, false, 65520)
		p.lb.peer = nil // nobody answers
		src, dst := pairAddr(false, 1), pairAddr(false, 9)
		var runs []func()
		if lookup {
			fib := &fakeFIB{}
			p.a.SetUpperLookup(ifA, fib.lookup)
			p.a.hops.start = func(f func()) { runs = append(runs, f) }
		}
		big := upEcho4(src, dst, size-header.IPv4MinHeaderLen-header.ICMPv4MinHeaderLen, false, 9)
		if len(big) != size {
			t.Fatalf("a %d-byte datagram, want %d", len(big), size)
		}
		for range 4 {
			p.a.Output(ifA, big)
		}
		if _, d, _ := p.la.counters(); d != 0 {
			t.Errorf("lookup %v: %d transmit drops with the queue full to the byte, want 0", lookup, d)
		}
		p.a.Output(ifA, upEcho4(src, dst, 0, false, 9))
		if _, d, _ := p.la.counters(); d != 1 {
			t.Errorf("lookup %v: %d transmit drops with one more, want 1", lookup, d)
		}
		if lookup && len(runs) != 1 {
			t.Errorf("%d lookups started, want 1", len(runs))
		}
	}
}

// The answers kept are bounded: maxHopAnswers of them are kept, and the
// answer that would be one more forgets them all first, so that the
// next datagram of an older flow asks again.
func TestUpperLookupAnswersBounded(t *testing.T) {
	p := resolvedPair(t, false, 2044)
	src, gw := pairAddr(false, 1), pairAddr(false, 2)
	fib := &fakeFIB{main: gw}
	p.a.SetUpperLookup(ifA, fib.lookup)
	p.a.hops.start = func(f func()) { f() }
	flow := func(i int) []byte { return upEcho(src, netip.AddrFrom4([4]byte{10, 8, byte(i >> 8), byte(i)}), 0) }
	for i := range maxHopAnswers {
		p.a.Output(ifA, flow(i))
	}
	p.a.Output(ifA, flow(0))
	if n := fib.questions(); n != maxHopAnswers {
		t.Fatalf("%d questions for %d flows and the first again, want %d", n, maxHopAnswers, maxHopAnswers)
	}
	p.a.Output(ifA, flow(maxHopAnswers))
	p.a.Output(ifA, flow(0))
	if n := fib.questions(); n != maxHopAnswers+2 {
		t.Errorf("%d questions after one flow more and the first again, want %d", n, maxHopAnswers+2)
	}
	if n := toB(p); n != maxHopAnswers+3 {
		t.Errorf("%d datagrams to the gateway, want %d", n, maxHopAnswers+3)
	}
}
