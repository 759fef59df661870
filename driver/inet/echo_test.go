package inet

import (
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"golang.org/x/sys/unix"
)

// echoRequest is an IPoIB packet carrying an echo request (or reply, by
// typ) of 8 data bytes from src to dst; corrupt flips a data bit after
// the checksums are set.
func echoRequest(t *testing.T, src, dst netip.Addr, typ uint8, ident, seq uint16, corrupt bool) header.IPoIB {
	t.Helper()
	data := make([]byte, 8)
	var pkt []byte
	var n int
	if src.Is4() {
		pkt = make([]byte, header.IPoIBHeaderLen+header.IPv4MinHeaderLen+header.ICMPv4MinHeaderLen+len(data))
		header.IPoIB(pkt).Encode(header.EtherTypeIPv4)
		n = header.EncodeICMPv4Echo(pkt[header.IPoIBHeaderLen:], header.IPv4Fields{TTL: 64, Src: src.As4(), Dst: dst.As4()}, typ, ident, seq, data)
	} else {
		pkt = make([]byte, header.IPoIBHeaderLen+header.IPv6HeaderLen+header.ICMPv6MinHeaderLen+len(data))
		header.IPoIB(pkt).Encode(header.EtherTypeIPv6)
		n = header.EncodeICMPv6Echo(pkt[header.IPoIBHeaderLen:], header.IPv6Fields{HopLimit: 64, Src: src.As16(), Dst: dst.As16()}, typ, ident, seq, data)
	}
	if n == 0 {
		t.Fatal("encode")
	}
	if corrupt {
		pkt[len(pkt)-1] ^= 1
	}
	return header.IPoIB(pkt)
}

// echoTypes are the family's echo request and reply types.
func echoTypes(v6 bool) (req, rep uint8) {
	if v6 {
		return header.ICMPv6EchoRequest, header.ICMPv6EchoReply
	}
	return header.ICMPv4Echo, header.ICMPv4EchoReply
}

// An echo request arrives from a source whose failed neighbour entry
// another goroutine resolves again: the reply path reads the entry under
// the lock (run with -race).
func TestEchoRequestNeighbourRace(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		p.lb.peer = nil // the solicitations go nowhere
		peer := pairAddr(v6, 7)
		req, _ := echoTypes(v6)
		pkt := echoRequest(t, peer, pairAddr(v6, 2), req, 1, 1, false)
		p.b.mu.Lock()
		p.b.neigh[ifB][peer] = &neighbour{state: nudFailed}
		p.b.mu.Unlock()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 200 {
				p.b.Resolve(ifB, pairAddr(v6, 2), peer, p.clock.Now())
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				p.nb.DeliverPacket(header.HWAddr{}, pkt)
			}
		}()
		wg.Wait()
		// one solicitation (the entry's timer sends the others), every
		// reply queued behind it
		samePackets(t, "solicitations", p.lb.take(), []packet{probePacket(t, hwB, pairAddr(v6, 2), peer)})
		p.b.mu.Lock()
		queued := len(p.b.neigh[ifB][peer].queue)
		p.b.mu.Unlock()
		if queued != 200 {
			t.Errorf("v6 %v: %d replies queued, want 200", v6, queued)
		}
	}
}

// Echo requests and replies whose ICMP checksum does not verify are
// dropped (icmp_rcv's csum_error, icmpv6_rcv's csum_error): a request
// gets no reply, a reply does not answer the ping.
func TestEchoBadChecksumDropped(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v6      bool
		corrupt bool
	}{
		{"v4 good", false, false},
		{"v4 corrupt", false, true},
		{"v6 good", true, false},
		{"v6 corrupt", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := resolvedPair(t, tc.v6, 2044)
			peer, self := pairAddr(tc.v6, 1), pairAddr(tc.v6, 2)
			req, rep := echoTypes(tc.v6)
			p.nb.DeliverPacket(hwA, echoRequest(t, peer, self, req, 5, 6, tc.corrupt))
			var want []packet
			if !tc.corrupt {
				want = []packet{{pkt: echoRequest(t, self, peer, rep, 5, 6, false), dst: hwA}}
			}
			samePackets(t, "request", p.lb.take(), want)

			ch := make(chan pingResult, 1)
			p.b.mu.Lock()
			p.b.pings[5<<16|7] = pendingPing{dst: peer, ch: ch}
			p.b.mu.Unlock()
			p.nb.DeliverPacket(hwA, echoRequest(t, peer, self, rep, 5, 7, tc.corrupt))
			select {
			case r := <-ch:
				if wantR := (pingResult{reply: true, ttl: 64, bytes: 16, from: peer}); tc.corrupt || r != wantR {
					t.Errorf("reply delivered as %+v (corrupt %v)", r, tc.corrupt)
				}
			default:
				if !tc.corrupt {
					t.Error("good reply not delivered")
				}
			}
		})
	}
}

// a pinged b, then changed its address from .1 to .3: b has no neighbour
// entry for the new address, so its reply waits while it resolves the
// address (ARP, neighbour solicitation), and goes out when a answers.
func TestEchoReplyResolvesChangedSource(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		if err := p.a.DelAddr(ifA, pairAddr(v6, 1), 0); err != nil {
			t.Fatal(err)
		}
		if err := p.a.AddAddr(ifA, pairPrefix(v6, 3)); err != nil {
			t.Fatal(err)
		}
		_, src, ok := p.a.Route(pairAddr(v6, 2), []int32{ifA})
		if !ok || src != pairAddr(v6, 3) {
			t.Fatalf("v6 %v: route source %v %v", v6, src, ok)
		}
		for seq := uint16(2); seq <= 3; seq++ {
			rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: src, Dst: pairAddr(v6, 2), Ident: 1, Seq: seq, Size: 56, Deadline: far()})
			if err != nil || rep.Status != EchoReplied || rep.Bytes != 64 || rep.From != pairAddr(v6, 2) || rep.TTL != 64 {
				t.Fatalf("v6 %v seq %d: %+v %v", v6, seq, rep, err)
			}
		}
		// the reply to seq 2 waited for one solicitation
		if got := p.lb.take(); len(got) != 3 || !samePacket(got[0], probePacket(t, hwB, pairAddr(v6, 2), pairAddr(v6, 3))) {
			t.Fatalf("v6 %v: b sent\n%s", v6, dumpPackets(got))
		}
		var got []netip.Addr
		for _, n := range p.b.Neighbours(ifB) {
			if n.State == nudReachable && n.HW == hwA {
				got = append(got, n.Addr)
			}
		}
		want := []netip.Addr{pairAddr(v6, 1), pairAddr(v6, 3)}
		if v6 {
			want = append(want, linkLocal(1)) // resolvedPair's probes learnt it
		}
		if !slices.Equal(got, want) {
			t.Errorf("v6 %v: b's reachable neighbours %v, want %v", v6, got, want)
		}
	}
}

// samePacket reports whether two packets are the same bytes to the same
// address.
func samePacket(a, b packet) bool { return string(a.pkt) == string(b.pkt) && a.dst == b.dst }

// A reply to a source nobody answers for waits for three solicitations a
// second apart and is dropped with the queue when the third goes
// unanswered (neigh_max_probes; NUD_FAILED).
func TestEchoReplyUnresolvedDropped(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		req, _ := echoTypes(v6)
		peer := pairAddr(v6, 9)
		for seq := uint16(1); seq <= 2; seq++ {
			p.nb.DeliverPacket(hwA, echoRequest(t, peer, pairAddr(v6, 2), req, 1, seq, false))
		}
		probe := probePacket(t, hwB, pairAddr(v6, 2), peer)
		for i, want := range [][]packet{{probe}, {probe}, {probe}, nil} { // solicitations at 0, 1 and 2 s; failed at 3 s
			samePackets(t, "after "+time.Duration(i*int(time.Second)).String(), p.lb.take(), want)
			if st := state(p.b, ifB, peer); i < 3 && st != nudIncomplete {
				t.Fatalf("v6 %v after %d s: state %#x, want incomplete", v6, i, st)
			}
			p.clock.Advance(time.Second)
		}
		if _, d, _ := p.lb.counters(); state(p.b, ifB, peer) != nudFailed || d != 2 {
			t.Errorf("v6 %v: state %#x, %d dropped; want failed, 2", v6, state(p.b, ifB, peer), d)
		}
		if n := p.clock.Pending(); n != 0 {
			t.Errorf("v6 %v: %d timers still armed", v6, n)
		}
		if rx, _, _ := p.la.counters(); rx != 0 {
			t.Errorf("v6 %v: a dropped %d solicitations as malformed", v6, rx)
		}
	}
}

// Locally generated datagrams waiting for a neighbour are queued up to
// unres_qlen_bytes, the oldest dropped beyond it, and go out in order when
// the address comes.
func TestOutputQueueLimit(t *testing.T) {
	p := newPair(t, false, 65520)
	p.lb.peer = nil
	peer, self := pairAddr(false, 9), pairAddr(false, 2)
	const size = 60000 // four replies exceed 212992 bytes, three do not
	for seq := uint16(1); seq <= 5; seq++ {
		ip := make([]byte, header.IPoIBHeaderLen+header.IPv4MinHeaderLen+header.ICMPv4MinHeaderLen+size)
		header.IPoIB(ip).Encode(header.EtherTypeIPv4)
		header.EncodeICMPv4Echo(ip[header.IPoIBHeaderLen:], header.IPv4Fields{TTL: 64, ID: seq, Src: peer.As4(), Dst: self.As4()},
			header.ICMPv4Echo, 1, seq, make([]byte, size))
		p.nb.DeliverPacket(hwA, ip)
	}
	if _, d, _ := p.lb.counters(); d != 2 {
		t.Fatalf("%d dropped, want 2", d)
	}
	samePackets(t, "while resolving", p.lb.take(), []packet{probePacket(t, hwB, self, peer)})
	// the peer answers
	p.nb.DeliverPacket(hwA, arpPacket(header.ARPReply, hwA, peer, hwB, self))
	got := p.lb.take()
	if len(got) != 3 {
		t.Fatalf("%d replies sent, want 3", len(got))
	}
	for i, r := range got {
		m := header.ICMPv4(header.IPv4(header.IPoIB(r.pkt).Payload()).Payload())
		if r.dst != hwA || m.Type() != header.ICMPv4EchoReply || m.Sequence() != uint16(i+3) {
			t.Fatalf("reply %d: type %d seq %d to %v", i, m.Type(), m.Sequence(), r.dst)
		}
	}
	if n := p.clock.Pending(); n != 0 {
		t.Errorf("%d timers still armed", n)
	}
}

// A UD-only peer pinged from a connected-mode interface: a's first reply,
// sent whole at the 65520-byte interface MTU, is too big for b's UD MTU
// and lowers the path MTU to 2044; every later reply is fragmented to fit.
func TestEchoReplyLearnsPathMTU(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 65520)
		p.la.maxTo = map[header.HWAddr]uint32{hwB: 2044}
		p.lb.mtu = 2044
		for seq, want := range []EchoStatus{EchoTimeout, EchoReplied, EchoReplied} {
			deadline := far()
			if seq == 0 {
				deadline = p.clock.Now() // the lost reply
			}
			rep, err := p.b.Echo(EchoRequest{Index: ifB, Src: pairAddr(v6, 2), Dst: pairAddr(v6, 1), Size: 4000, Seq: uint16(seq + 1), Deadline: deadline})
			if err != nil || rep.Status != want || (want == EchoReplied && rep.Bytes != 4008) {
				t.Fatalf("v6 %v seq %d: %+v %v; want status %d", v6, seq+1, rep, err, want)
			}
		}
		// the two replies that went out, in fragments of at most 2044
		// bytes: IPv4 2024 + 1984 bytes of data, IPv6 1992 + 1992 + 24
		want := []int{4 + 2044, 4 + 20 + 1984, 4 + 2044, 4 + 20 + 1984}
		if v6 {
			want = []int{4 + 2040, 4 + 2040, 4 + 48 + 24, 4 + 2040, 4 + 2040, 4 + 48 + 24}
		}
		got := p.la.take()
		if g := sizes(got); !equalInts(g, want) {
			t.Errorf("v6 %v: a sent %v, want %v", v6, g, want)
		}
		if _, _, refused := p.la.counters(); refused != 1 {
			t.Errorf("v6 %v: %d refused, want 1", v6, refused)
		}
		until := start.Add(settleTime(v6) + 600*time.Second)
		if mtu, exp, ok := p.a.PathMTU(pairAddr(v6, 2)); !ok || mtu != 2044 || !exp.Equal(until) {
			t.Errorf("v6 %v: a's path MTU to b %d %v %v; want 2044 until %v", v6, mtu, exp, ok, until)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Echo's outcomes other than a reply.
func TestEchoOutcomes(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		self, peer := pairAddr(v6, 1), pairAddr(v6, 2)
		req := func(dst netip.Addr, size int, disc PMTUDisc, deadline time.Time) EchoRequest {
			return EchoRequest{Index: ifA, Src: self, Dst: dst, Ident: 4, Seq: 1, Size: size, PMTUDisc: disc, Deadline: deadline}
		}
		// nobody answers for .9: one solicitation, then the deadline,
		// before the entry fails: no answer yet, not unreachable
		rep, err := p.a.Echo(req(pairAddr(v6, 9), 56, PMTUDiscDont, p.clock.Now()))
		if err != nil || rep != (EchoReply{Status: EchoTimeout}) {
			t.Errorf("v6 %v: unresolved: %+v %v", v6, rep, err)
		}
		samePackets(t, "unresolved", p.la.take(), []packet{probePacket(t, hwA, self, pairAddr(v6, 9))})
		// The deadline ends the wait, not the resolution: the entry
		// solicits once a second and fails after the third.
		if st := state(p.a, ifA, pairAddr(v6, 9)); st != nudIncomplete {
			t.Errorf("v6 %v: state %#x after the deadline, want incomplete", v6, st)
		}
		p.clock.Advance(2 * time.Second)
		probe := probePacket(t, hwA, self, pairAddr(v6, 9))
		samePackets(t, "retransmitted", p.la.take(), []packet{probe, probe})
		if st := state(p.a, ifA, pairAddr(v6, 9)); st != nudIncomplete {
			t.Errorf("v6 %v: state %#x after 2 s, want incomplete", v6, st)
		}
		p.clock.Advance(time.Second)
		if st := state(p.a, ifA, pairAddr(v6, 9)); st != nudFailed {
			t.Errorf("v6 %v: state %#x after 3 s, want failed", v6, st)
		}
		// A waiter ends as soon as the entry fails, before its deadline.
		done := make(chan bool)
		go func() {
			_, ok := p.a.Resolve(ifA, self, pairAddr(v6, 9), far())
			done <- ok
		}()
		for len(p.la.peek()) == 0 {
			runtime.Gosched() // the new resolution's first solicitation
		}
		p.clock.Advance(3 * time.Second)
		if ok := <-done; ok {
			t.Errorf("v6 %v: Resolve of nobody succeeded", v6)
		}
		p.la.take()
		if hw, ok := p.a.Resolve(ifA, self, peer, p.clock.Now()); !ok || hw != hwB {
			t.Errorf("v6 %v: Resolve(b) = %v %v", v6, hw, ok)
		}
		p.la.take()
		// the reply is lost
		p.la.filter = func(packet) fate { return drop }
		rep, err = p.a.Echo(req(peer, 56, PMTUDiscDont, p.clock.Now()))
		if err != nil || rep != (EchoReply{Status: EchoTimeout}) {
			t.Errorf("v6 %v: lost: %+v %v", v6, rep, err)
		}
		p.la.filter = nil
		if got := p.la.take(); len(got) != 1 || got[0].dst != hwB {
			t.Errorf("v6 %v: lost: sent\n%s", v6, dumpPackets(got))
		}
		// -M do beyond the MTU: refused, nothing sent
		rep, err = p.a.Echo(req(peer, 2044, PMTUDiscDo, far()))
		if err != nil || rep != (EchoReply{Status: EchoTooLong, MTU: 2044}) {
			t.Errorf("v6 %v: -M do: %+v %v", v6, rep, err)
		}
		samePackets(t, "-M do", p.la.take(), nil)
		// the link refuses it: fragmentation needed, the path MTU lowered
		p.la.maxTo = map[header.HWAddr]uint32{hwB: 1500}
		rep, err = p.a.Echo(req(peer, 1600, PMTUDiscDo, far()))
		if err != nil || rep != (EchoReply{Status: EchoFragNeeded, From: self, MTU: 1500}) {
			t.Errorf("v6 %v: refused: %+v %v", v6, rep, err)
		}
		if mtu, _, ok := p.a.PathMTU(peer); !ok || mtu != 1500 {
			t.Errorf("v6 %v: path MTU %d %v", v6, mtu, ok)
		}
		// larger than an IP datagram can be
		if _, err := p.a.Echo(req(peer, 65536, PMTUDiscDont, far())); !errors.Is(err, unix.EMSGSIZE) {
			t.Errorf("v6 %v: 65536 bytes: %v, want EMSGSIZE", v6, err)
		}
		// no link
		p.a.Detach(p.na)
		if _, err := p.a.Echo(req(peer, 56, PMTUDiscDont, far())); !errors.Is(err, ErrNoLink) {
			t.Errorf("v6 %v: detached: %v", v6, err)
		}
		if _, ok := p.a.Resolve(ifA, self, peer, far()); ok {
			t.Errorf("v6 %v: Resolve on a detached interface succeeded", v6)
		}
	}
}

// IPv4 echoes: DF as -M asks, fragments when it is clear.
func TestEchoIPv4DontFragment(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		disc  PMTUDisc
		frags []int // the request's IPv4 packets: fragment offsets
		df    bool
	}{
		{"dont, fits", 2016, PMTUDiscDont, []int{0}, false},
		{"want, fits", 2016, PMTUDiscWant, []int{0}, true},
		{"do, fits", 2016, PMTUDiscDo, []int{0}, true},
		{"dont, too big", 2017, PMTUDiscDont, []int{0, 2024}, false},
		{"want, too big", 2017, PMTUDiscWant, []int{0, 2024}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := resolvedPair(t, false, 2044)
			rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(false, 1), Dst: pairAddr(false, 2), Ident: 2, Seq: 3,
				Size: tc.size, PMTUDisc: tc.disc, Deadline: far()})
			if err != nil || rep.Status != EchoReplied || rep.Bytes != tc.size+8 || rep.TTL != 64 || rep.From != pairAddr(false, 2) {
				t.Fatalf("%+v %v", rep, err)
			}
			got := p.la.take()
			if len(got) != len(tc.frags) {
				t.Fatalf("%d packets sent, want %d", len(got), len(tc.frags))
			}
			for i, s := range got {
				ip := header.IPv4(header.IPoIB(s.pkt).Payload())
				df := ip.Flags()&header.IPv4FlagDontFragment != 0
				if s.dst != hwB || int(ip.FragmentOffset()) != tc.frags[i] || df != tc.df || ip.ID() != 3 || !ip.IsChecksumValid() {
					t.Fatalf("packet %d: offset %d DF %v ID %d to %v", i, ip.FragmentOffset(), df, ip.ID(), s.dst)
				}
			}
		})
	}
}

// A link that refuses the fragments themselves (its MTU toward the peer
// below the interface's): the echo gets "fragmentation needed" with the
// MTU that fits, and the rest of the datagram is not sent.
func TestEchoFragmentRefused(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		p.la.maxTo = map[header.HWAddr]uint32{hwB: 1500}
		rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(v6, 1), Dst: pairAddr(v6, 2), Size: 4000, Deadline: far()})
		if want := (EchoReply{Status: EchoFragNeeded, From: pairAddr(v6, 1), MTU: 1500}); err != nil || rep != want {
			t.Errorf("v6 %v: %+v %v, want %+v", v6, rep, err, want)
		}
		if _, _, refused := p.la.counters(); refused != 1 || len(p.la.take()) != 0 {
			t.Errorf("v6 %v: %d refused, want the first fragment only", v6, refused)
		}
	}
}

// A resolution whose interface loses its link sends no more
// solicitations and counts no drops on a link that is gone; one whose
// entry was forgotten stops.
func TestProbeAfterDetachOrForget(t *testing.T) {
	for _, forget := range []bool{false, true} {
		p := resolvedPair(t, false, 2044)
		p.lb.peer = nil
		peer := pairAddr(false, 9)
		req, _ := echoTypes(false)
		p.nb.DeliverPacket(hwA, echoRequest(t, peer, pairAddr(false, 2), req, 1, 1, false))
		samePackets(t, "first", p.lb.take(), []packet{probePacket(t, hwB, pairAddr(false, 2), peer)})
		if forget {
			p.b.Forget(ifB)
		} else {
			p.b.Detach(p.nb)
		}
		p.clock.Advance(5 * time.Second)
		samePackets(t, "later", p.lb.take(), nil)
		if _, tx, _ := p.lb.counters(); tx != 0 {
			t.Errorf("forget %v: %d dropped on the old link", forget, tx)
		}
		if want := map[bool]uint16{false: nudFailed, true: 0}[forget]; state(p.b, ifB, peer) != want {
			t.Errorf("forget %v: state %#x, want %#x", forget, state(p.b, ifB, peer), want)
		}
		if n := p.clock.Pending(); n != 0 {
			t.Errorf("forget %v: %d timers armed", forget, n)
		}
	}
}

// IPv6 fragment identifications count up from 1, skipping 0.
func TestFragIDSkipsZero(t *testing.T) {
	s := newTestStack()
	s.nextFragID = ^uint32(0) - 1
	for _, want := range []uint32{^uint32(0), 1, 2} {
		if got := s.fragID(); got != want {
			t.Fatalf("fragID = %#x, want %#x", got, want)
		}
	}
}

// Echo requests sent one after another to a neighbour that never answers
// all wait on the entry's own solicitations, three a second apart, and
// all fail together when the third goes unanswered (neigh_invalidate),
// each knowing how many failed with it; a request after that starts a
// new resolution (__neigh_event_send).
func TestEchoQueuedFailTogether(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		self, nobody := pairAddr(v6, 1), pairAddr(v6, 9)
		probe := probePacket(t, hwA, self, nobody)
		const n = 5
		type result struct {
			seq uint16
			rep EchoReply
			err error
		}
		results := make(chan result, n)
		echo := func(seq uint16) {
			rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: self, Dst: nobody, Ident: 4, Seq: seq, Size: 56, Deadline: far()})
			results <- result{seq, rep, err}
		}
		waiting := func(want int) {
			for {
				p.a.mu.Lock()
				e := p.a.neigh[ifA][nobody]
				got := 0
				if e != nil {
					got = len(e.waiters)
				}
				p.a.mu.Unlock()
				if got == want {
					return
				}
				runtime.Gosched()
			}
		}
		// sent waits until the link has been given want packets: a
		// request's first solicitation goes out after it joined the
		// entry's waiters, outside the stack's lock.
		sent := func(want int) {
			for len(p.la.peek()) < want {
				runtime.Gosched()
			}
		}
		for seq := uint16(1); seq <= n; seq++ {
			go echo(seq)
			waiting(int(seq))
			if seq == 1 {
				sent(1)
			}
			if seq == 3 {
				// the entry's timer solicits, not each request
				p.clock.Advance(time.Second)
			}
		}
		p.clock.Advance(time.Second)
		if len(results) != 0 {
			t.Fatalf("v6 %v: %d requests ended before the entry failed", v6, len(results))
		}
		samePackets(t, "solicitations", p.la.take(), []packet{probe, probe, probe})
		p.clock.Advance(time.Second) // the third goes unanswered
		got := map[uint16]EchoReply{}
		for range n {
			r := <-results
			if r.err != nil {
				t.Fatalf("v6 %v: seq %d: %v", v6, r.seq, r.err)
			}
			got[r.seq] = r.rep
		}
		for seq := uint16(1); seq <= n; seq++ {
			if got[seq] != (EchoReply{Status: EchoUnreachable, From: self, Together: n}) {
				t.Errorf("v6 %v: seq %d: %+v, want unreachable from %v", v6, seq, got[seq], self)
			}
		}
		if st := state(p.a, ifA, nobody); st != nudFailed {
			t.Fatalf("v6 %v: state %#x, want failed", v6, st)
		}
		// a new request solicits again at once and waits three seconds
		go echo(n + 1)
		waiting(1)
		sent(1)
		samePackets(t, "new resolution", p.la.take(), []packet{probe})
		if st := state(p.a, ifA, nobody); st != nudIncomplete {
			t.Errorf("v6 %v: state %#x after a new request, want incomplete", v6, st)
		}
		p.clock.Advance(2 * time.Second)
		if len(results) != 0 {
			t.Errorf("v6 %v: the new request ended before its resolution failed", v6)
		}
		p.clock.Advance(time.Second)
		if r := <-results; r.err != nil || r.rep != (EchoReply{Status: EchoUnreachable, From: self, Together: 1}) {
			t.Errorf("v6 %v: request after the failure: %+v %v", v6, r.rep, r.err)
		}
		samePackets(t, "new resolution's solicitations", p.la.take(), []packet{probe, probe})
	}
}

// CancelEchoes ends the waits of one ping's requests to one address, on
// an unresolved entry or for a reply that will not come, as if their
// deadline had passed; another ping's and other addresses' go on.
func TestCancelEchoes(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		self, peer, nobody := pairAddr(v6, 1), pairAddr(v6, 2), pairAddr(v6, 9)
		p.la.filter = func(pk packet) fate {
			if pk.dst == hwB {
				return drop // the echo requests to b are lost
			}
			return deliver
		}
		type result struct {
			name string
			rep  EchoReply
		}
		results := make(chan result, 4)
		echo := func(name string, ident uint16, dst netip.Addr) {
			rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: self, Dst: dst, Ident: ident, Seq: 1, Size: 56, Deadline: far()})
			if err != nil {
				t.Error(err)
			}
			results <- result{name, rep}
		}
		go echo("unresolved", 7, nobody)
		go echo("other ping", 8, nobody)
		go echo("lost", 7, peer)
		for {
			p.a.mu.Lock()
			e := p.a.neigh[ifA][nobody]
			ready := e != nil && len(e.waiters) == 2 && len(p.a.pings) == 1
			p.a.mu.Unlock()
			if ready {
				break
			}
			runtime.Gosched()
		}
		p.a.CancelEchoes(7, nobody)
		// the same ping's request to another address still waits for
		// its reply
		p.a.mu.Lock()
		waiting := len(p.a.pings)
		p.a.mu.Unlock()
		if waiting != 1 {
			t.Errorf("v6 %v: %d requests wait for a reply after cancelling another address's, want 1", v6, waiting)
		}
		if r := <-results; r.name != "unresolved" || r.rep != (EchoReply{Status: EchoTimeout}) {
			t.Errorf("v6 %v: %s ended with %+v, want unresolved with a timeout", v6, r.name, r.rep)
		}
		p.a.CancelEchoes(7, peer)
		if r := <-results; r.name != "lost" || r.rep != (EchoReply{Status: EchoTimeout}) {
			t.Errorf("v6 %v: %s ended with %+v, want lost with a timeout", v6, r.name, r.rep)
		}
		if len(results) != 0 {
			t.Errorf("v6 %v: the other ping's request ended", v6)
		}
		p.clock.Advance(3 * time.Second)
		if r := <-results; r.name != "other ping" || r.rep != (EchoReply{Status: EchoUnreachable, From: self, Together: 1}) {
			t.Errorf("v6 %v: %s ended with %+v, want the other ping unreachable", v6, r.name, r.rep)
		}
	}
}

// An echo's deadline is on the stack's clock: the wait for a lost reply,
// or for a neighbour that does not answer, ends when the clock reaches
// the deadline, not before, and not on the system's time.
func TestEchoDeadlineOnClock(t *testing.T) {
	tests := []struct {
		name    string
		v6      bool
		dst     byte          // the peer's host part; 9 is nobody
		timeout time.Duration // within the 3 s the resolution takes to fail
		armed   int           // timers the echo arms: its deadline's, and the first probe's
		want    EchoReply
	}{
		{"lost reply", false, 2, 5 * time.Second, 1, EchoReply{Status: EchoTimeout}},
		{"lost reply v6", true, 2, 5 * time.Second, 1, EchoReply{Status: EchoTimeout}},
		// the deadline before the entry fails: no answer yet
		{"unresolved", false, 9, 1500 * time.Millisecond, 2, EchoReply{Status: EchoTimeout}},
		{"unresolved v6", true, 9, 1500 * time.Millisecond, 2, EchoReply{Status: EchoTimeout}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := resolvedPair(t, tt.v6, 2044)
			p.la.filter = func(packet) fate { return drop }
			before := p.clock.Pending()
			type result struct {
				rep EchoReply
				err error
			}
			done := make(chan result, 1)
			go func() {
				rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(tt.v6, 1), Dst: pairAddr(tt.v6, tt.dst), Ident: 5, Seq: 1,
					Size: 56, Deadline: p.clock.Now().Add(tt.timeout)})
				done <- result{rep, err}
			}()
			for bound := time.Now().Add(10 * time.Second); p.clock.Pending() < before+tt.armed; runtime.Gosched() {
				if time.Now().After(bound) {
					t.Fatalf("the echo armed %d timers on the clock, want %d", p.clock.Pending()-before, tt.armed)
				}
			}
			p.clock.Advance(tt.timeout - time.Nanosecond)
			select {
			case r := <-done:
				t.Fatalf("ended before its deadline: %+v %v", r.rep, r.err)
			default:
			}
			p.clock.Advance(time.Nanosecond)
			if r := <-done; r.err != nil || r.rep != tt.want {
				t.Errorf("at the deadline: %+v %v, want %+v", r.rep, r.err, tt.want)
			}
		})
	}
}

// An echo's round-trip time is measured on the stack's clock.
func TestEchoRTTOnClock(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		const rtt = 3 * time.Millisecond
		p.lb.filter = func(packet) fate {
			p.clock.Advance(rtt) // the reply takes its time on the way back
			return deliver
		}
		rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(v6, 1), Dst: pairAddr(v6, 2), Ident: 6, Seq: 1, Size: 56, Deadline: far()})
		if err != nil || rep.Status != EchoReplied || rep.RTT != rtt {
			t.Errorf("v6 %v: %+v %v, want a reply after %v", v6, rep, err, rtt)
		}
	}
}

// With -M do, a request whose datagram (IP header, 8 bytes of ICMP
// header, the data) is one byte larger than the path MTU is refused
// locally, one that fills it exactly goes out whole; -M want sets DF on
// the one that fits only. The kernel's __ip_append_data and
// __ip6_append_data compare the whole datagram with the MTU
// (net/ipv4/ip_output.c, net/ipv6/ip6_output.c).
func TestEchoPMTUDiscBoundary(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v6     bool
		size   int
		disc   PMTUDisc
		status EchoStatus
		df     bool // IPv4: the request went out with DF
	}{
		{"v4 do, fills the MTU", false, 2044 - 28, PMTUDiscDo, EchoReplied, true},
		{"v4 do, a byte more", false, 2044 - 28 + 1, PMTUDiscDo, EchoTooLong, false},
		{"v4 want, fills the MTU", false, 2044 - 28, PMTUDiscWant, EchoReplied, true},
		{"v4 want, a byte more", false, 2044 - 28 + 1, PMTUDiscWant, EchoReplied, false},
		{"v6 do, fills the MTU", true, 2044 - 48, PMTUDiscDo, EchoReplied, false},
		{"v6 do, a byte more", true, 2044 - 48 + 1, PMTUDiscDo, EchoTooLong, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := resolvedPair(t, tc.v6, 2044)
			rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(tc.v6, 1), Dst: pairAddr(tc.v6, 2), Ident: 2, Seq: 3,
				Size: tc.size, PMTUDisc: tc.disc, Deadline: far()})
			if err != nil || rep.Status != tc.status {
				t.Fatalf("%+v %v, want status %d", rep, err, tc.status)
			}
			if tc.status == EchoTooLong && rep.MTU != 2044 {
				t.Errorf("MTU %d, want 2044", rep.MTU)
			}
			sent := p.la.take()
			if tc.status == EchoTooLong {
				if len(sent) != 0 {
					t.Errorf("sent %d packets, want none", len(sent))
				}
				return
			}
			if tc.v6 {
				return
			}
			ip := header.IPv4(header.IPoIB(sent[0].pkt).Payload())
			if df := ip.DontFragment(); df != tc.df {
				t.Errorf("DF %v, want %v", df, tc.df)
			}
		})
	}
}
