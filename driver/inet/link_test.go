package inet

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
)

// naPacket is the neighbour advertisement for target with flags, sent by
// the owner of tll to dst.
func naPacket(t *testing.T, tll header.HWAddr, target, dst netip.Addr, flags uint8) []byte {
	t.Helper()
	b := make([]byte, header.IPoIBHeaderLen+header.IPv6HeaderLen+header.NDPMessageLen+header.NDPLinkLayerOptionLen)
	header.IPoIB(b).Encode(header.EtherTypeIPv6)
	n := header.EncodeNeighborAdvert(b[header.IPoIBHeaderLen:], target.As16(), dst.As16(), target.As16(), flags, &tll)
	if n == 0 {
		t.Fatal("EncodeNeighborAdvert")
	}
	return b[:header.IPoIBHeaderLen+n]
}

// solicitedNA is the answer to a neighbour solicitation (naPacket with
// the solicited and override flags).
func solicitedNA(t *testing.T, tll header.HWAddr, target, dst netip.Addr) []byte {
	return naPacket(t, tll, target, dst, header.NAFlagSolicited|header.NAFlagOverride)
}

// ARP and neighbour discovery on a table without entries: a solicitation
// for an address of the interface is answered, exactly, at the asker's
// address, and makes the asker's entry, STALE (neigh_event_ns,
// ndisc_recv_ns), in DELAY once an advertisement went out through it (an
// ARP reply does not: arp_send); a solicitation for another
// address, a reply and an advertisement make none (arp_process looks the
// sender up without creating it when arp_accept is off; ndisc_recv_na
// uses neigh_lookup), so a broadcast request does not fill every
// listener's table.
func TestNeighbourDiscoveryInput(t *testing.T) {
	peer, self, other := pairAddr(false, 1), pairAddr(false, 2), pairAddr(false, 3)
	peer6, self6, other6 := pairAddr(true, 1), pairAddr(true, 2), pairAddr(true, 3)
	ns := func(target netip.Addr) []byte { return nsPacket(t, hwA, peer6, target).pkt }
	tests := []struct {
		name  string
		v6    bool
		in    []byte
		want  []packet
		learn netip.Addr // the neighbour b knows afterwards at hwA
		state uint16     // its state
	}{
		{"ARP request for b", false, arpPacket(header.ARPRequest, hwA, peer, header.HWAddr{}, self),
			[]packet{{arpPacket(header.ARPReply, hwB, self, hwA, peer), hwA}}, peer, nudStale},
		{"ARP request for another", false, arpPacket(header.ARPRequest, hwA, peer, header.HWAddr{}, other), nil, netip.Addr{}, 0},
		{"ARP reply", false, arpPacket(header.ARPReply, hwA, other, hwB, self), nil, netip.Addr{}, 0},
		{"NS for b", true, ns(self6), []packet{{solicitedNA(t, hwB, self6, peer6), hwA}}, peer6, nudDelay},
		{"NS for another", true, ns(other6), nil, netip.Addr{}, 0},
		{"NA", true, solicitedNA(t, hwA, other6, self6), nil, netip.Addr{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, tc.v6, 2044)
			p.lb.peer = nil
			p.nb.DeliverPacket(hwA, tc.in)
			samePackets(t, "answer", p.lb.take(), tc.want)
			var want []Neighbour
			if tc.learn.IsValid() {
				want = []Neighbour{{Addr: tc.learn, State: tc.state, HW: hwA}}
			}
			if got := p.b.Neighbours(ifB); !equalNeighbours(got, want) {
				t.Fatalf("neighbours %+v, want %+v", got, want)
			}
		})
	}
}

// setEntry gives the stack an entry for ip in state st at hw, last
// changed ago before now and confirmed then.
func setEntry(p *pair, s *Stack, index int32, ip netip.Addr, st uint16, hw header.HWAddr, ago time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(index, ip)
	at := p.clock.Now().Add(-ago)
	e.state, e.hw, e.updated, e.confirmed = st, hw, at, at
}

// What a message heard does to an existing entry: __neigh_update's rules
// as arp_process and ndisc_recv_na call it. A request never confirms
// reachability and leaves a valid entry with the same address as it is;
// a different address replaces a valid one only with override (ARP: the
// entry unchanged for longer than locktime, 1 s), the entry then STALE;
// without override, an advertisement (NEIGH_UPDATE_F_WEAK_OVERRIDE)
// makes a REACHABLE entry STALE at its old address; a reply or solicited
// advertisement makes the entry REACHABLE, and confirms it even when its
// address is refused; an entry not valid takes any address, and
// ndisc_recv_na leaves a FAILED one alone.
func TestNeighbourUpdateRules(t *testing.T) {
	s := time.Second
	peer, self, other := pairAddr(false, 1), pairAddr(false, 2), pairAddr(false, 3)
	peer6, self6 := pairAddr(true, 1), pairAddr(true, 2)
	hwC := header.NewHWAddr(0, 0x00004a, netip.MustParseAddr("fe80::2:c903:c:3").As16())
	request := arpPacket(header.ARPRequest, hwA, peer, header.HWAddr{}, other)
	reply := arpPacket(header.ARPReply, hwA, peer, hwB, self)
	const (
		unchanged = time.Duration(-1) // updated as set up: 10 s ago, or ago
		now       = time.Duration(0)
	)
	tests := []struct {
		name    string
		v6      bool
		st      uint16 // the entry's state before, at hwC unless same
		same    bool   // the entry already at hwA
		ago     time.Duration
		in      []byte
		want    uint16
		wantHW  header.HWAddr
		updated time.Duration
		confirm time.Duration // Confirmed afterwards
	}{
		{"request, reachable, same address", false, nudReachable, true, 10 * s, request, nudReachable, hwA, unchanged, 10 * s},
		{"request, stale, same address", false, nudStale, true, 40 * s, request, nudStale, hwA, unchanged, 40 * s},
		{"request, reachable, new address within locktime", false, nudReachable, false, s, request, nudReachable, hwC, unchanged, s},
		{"request, reachable, new address after locktime", false, nudReachable, false, s + 1, request, nudStale, hwA, now, 2 * reachableTime},
		{"request, failed", false, nudFailed, false, 10 * s, request, nudStale, hwA, now, 2 * reachableTime},
		{"request, incomplete", false, nudIncomplete, false, 10 * s, request, nudStale, hwA, now, 2 * reachableTime},
		{"reply, incomplete", false, nudIncomplete, false, 0, reply, nudReachable, hwA, now, now},
		{"reply, stale, same address", false, nudStale, true, 40 * s, reply, nudReachable, hwA, now, now},
		{"reply, reachable, same address", false, nudReachable, true, 10 * s, reply, nudReachable, hwA, unchanged, now},
		{"reply, reachable, new address within locktime", false, nudReachable, false, s, reply, nudReachable, hwC, unchanged, now},
		{"reply, reachable, new address after locktime", false, nudReachable, false, 2 * s, reply, nudReachable, hwA, now, now},
		{"solicited NA, stale", true, nudStale, false, 40 * s, solicitedNA(t, hwA, peer6, self6), nudReachable, hwA, now, now},
		{"solicited NA, failed", true, nudFailed, false, 10 * s, solicitedNA(t, hwA, peer6, self6), nudFailed, hwC, unchanged, 10 * s},
		{"solicited NA without override, reachable, new address", true, nudReachable, false, 10 * s,
			naPacket(t, hwA, peer6, self6, header.NAFlagSolicited), nudStale, hwC, now, now},
		{"solicited NA without override, stale, new address", true, nudStale, false, 40 * s,
			naPacket(t, hwA, peer6, self6, header.NAFlagSolicited), nudStale, hwC, unchanged, now},
		{"unsolicited NA with override, reachable, new address", true, nudReachable, false, 10 * s,
			naPacket(t, hwA, peer6, self6, header.NAFlagOverride), nudStale, hwA, now, 2 * reachableTime},
		{"unsolicited NA, reachable, same address", true, nudReachable, true, 10 * s,
			naPacket(t, hwA, peer6, self6, 0), nudReachable, hwA, unchanged, 10 * s},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, tc.v6, 2044)
			p.lb.peer = nil
			ip := peer
			if tc.v6 {
				ip = peer6
			}
			hw := hwC
			if tc.same {
				hw = hwA
			}
			setEntry(p, p.b, ifB, ip, tc.st, hw, tc.ago)
			var events []Neighbour
			p.b.SetNeighNotify(func(_ int32, n Neighbour, _ bool) { events = append(events, n) })
			p.nb.DeliverPacket(hwA, tc.in)
			got := p.b.Neighbours(ifB)
			if len(got) != 1 || got[0].State != tc.want || got[0].HW != tc.wantHW {
				t.Fatalf("neighbours %+v, want one %#x at %v", got, tc.want, tc.wantHW)
			}
			wantUpdated := tc.updated
			if wantUpdated == unchanged {
				wantUpdated = tc.ago
				if tc.st == nudReachable && tc.ago > reachableTime {
					wantUpdated = tc.ago - reachableTime
				}
			}
			if st := got[0].Stats; st.Updated != wantUpdated || st.Confirmed != tc.confirm {
				t.Errorf("updated %v ago, confirmed %v ago; want %v, %v", st.Updated, st.Confirmed, wantUpdated, tc.confirm)
			}
			// RTM_NEWNEIGH when the state or the address changed
			changed := tc.updated == now
			if changed != (len(events) == 1) || changed && (events[0].State != tc.want || events[0].HW != tc.wantHW) {
				t.Errorf("notified %+v, want one: %v", events, changed)
			}
		})
	}
}

// equalNeighbours compares the entries' addresses, states and hardware
// addresses; TestNeighbourStats checks their statistics.
func equalNeighbours(a, b []Neighbour) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Addr != b[i].Addr || a[i].State != b[i].State || a[i].HW != b[i].HW {
			return false
		}
	}
	return true
}

// An entry's statistics are the kernel's for the same history: used when
// an output last went through resolution (not while reachable), confirmed
// when an answer came (twice the reachable time before creation until
// then, and again when a new address comes unconfirmed), updated at each
// change of state, the timer's reference while resolving, reachable, in
// DELAY or probing, and neigh->probes: from ucast_probes while resolving,
// from 0 in PROBE.
//
// The asker's entry on b: STALE from a's request, DELAY when b's reply
// goes through it, and after delayProbeTime (5 s) REACHABLE when
// confirmed meanwhile, else PROBE, with ucast_probes (3) unicast
// solicitations a second apart, then FAILED (neigh_timer_handler).
func TestNeighbourStats(t *testing.T) {
	s := time.Second
	silent := func(p *pair) { p.la.peer = nil; p.a.output(p.na, pairAddr(false, 1), pairAddr(false, 9), []byte{0x45}) }
	echo := func(t *testing.T, p *pair) {
		rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(false, 1), Dst: pairAddr(false, 2), Ident: 1, Seq: 2, Size: 56, Deadline: far()})
		if err != nil || rep.Status != EchoReplied {
			t.Fatalf("echo: %+v %v", rep, err)
		}
	}
	// outputStale is resolvedPair 40 s after the resolution, a's entry
	// for b stale, when an echo goes out unanswered.
	outputStale := func(t *testing.T) *pair {
		p := resolvedPair(t, false, 2044)
		p.clock.Advance(40*s - delayProbeTime)
		p.la.peer = nil // the echo and the probes go out unanswered
		if _, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(false, 1), Dst: pairAddr(false, 2), Ident: 1, Seq: 2, Size: 56,
			Deadline: p.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hwC := header.NewHWAddr(0, 0x00004a, netip.MustParseAddr("fe80::2:c903:c:3").As16())
	tests := []struct {
		name string
		run  func(t *testing.T) *pair
		b    bool // b's table rather than a's
		want Neighbour
	}{
		{"resolved, 5 s on", func(t *testing.T) *pair {
			return resolvedPair(t, false, 2044)
		}, false, Neighbour{Addr: pairAddr(false, 2), State: nudReachable, HW: hwB,
			Stats: NeighStats{Used: 5 * s, Confirmed: 5 * s, Updated: 5 * s, Refcnt: 1, Probes: 4}}},
		{"learnt from the request, in DELAY", func(t *testing.T) *pair {
			p := echoedPair(t, false, 2044)
			p.clock.Advance(s)
			return p
		}, true, Neighbour{Addr: pairAddr(false, 1), State: nudDelay, HW: hwA,
			Stats: NeighStats{Used: s, Confirmed: 61 * s, Updated: s, Refcnt: 1}}},
		{"learnt from the request, probed and confirmed", func(t *testing.T) *pair {
			p := resolvedPair(t, false, 2044)
			p.clock.Advance(s)
			return p
		}, true, Neighbour{Addr: pairAddr(false, 1), State: nudReachable, HW: hwA,
			Stats: NeighStats{Used: 6 * s, Confirmed: s, Updated: s, Refcnt: 1, Probes: 1}}},
		{"learnt from the request, confirmed in DELAY", func(t *testing.T) *pair {
			p := echoedPair(t, false, 2044)
			p.clock.Advance(s / 2)
			// a reply at another address within locktime: refused,
			// but it confirms the entry
			p.nb.DeliverPacket(hwC, arpPacket(header.ARPReply, hwC, pairAddr(false, 1), hwB, pairAddr(false, 2)))
			p.clock.Advance(delayProbeTime - s/2)
			if got := p.lb.take(); len(got) != 0 {
				t.Fatalf("b probed:\n%s", dumpPackets(got))
			}
			return p
		}, true, Neighbour{Addr: pairAddr(false, 1), State: nudReachable, HW: hwA,
			Stats: NeighStats{Used: 5 * s, Confirmed: 4500 * time.Millisecond, Updated: 0, Refcnt: 1}}},
		{"learnt from the request, probing", func(t *testing.T) *pair {
			p := echoedPair(t, false, 2044)
			p.lb.peer = nil // b's probes go unanswered
			p.clock.Advance(6500 * time.Millisecond)
			if got, probe := p.lb.take(), arpPacket(header.ARPRequest, hwB, pairAddr(false, 2), header.HWAddr{}, pairAddr(false, 1)); len(got) != 2 ||
				!samePacket(got[0], packet{probe, hwA}) || !samePacket(got[1], packet{probe, hwA}) {
				t.Fatalf("b sent\n%s\nwant two unicast probes", dumpPackets(got))
			}
			return p
		}, true, Neighbour{Addr: pairAddr(false, 1), State: nudProbe, HW: hwA,
			Stats: NeighStats{Used: 6500 * time.Millisecond, Confirmed: 66500 * time.Millisecond, Updated: 1500 * time.Millisecond,
				Refcnt: 1, Probes: 2}}},
		{"learnt from the request, probes unanswered", func(t *testing.T) *pair {
			p := echoedPair(t, false, 2044)
			p.lb.peer = nil
			p.clock.Advance(9 * s) // probes at 5, 6 and 7 s; FAILED at 8 s
			return p
		}, true, Neighbour{Addr: pairAddr(false, 1), State: nudFailed, HW: hwA,
			Stats: NeighStats{Used: 9 * s, Confirmed: 69 * s, Updated: s, Probes: 3}}},
		{"output while reachable", func(t *testing.T) *pair {
			p := resolvedPair(t, false, 2044)
			echo(t, p)
			p.clock.Advance(s)
			return p
		}, false, Neighbour{Addr: pairAddr(false, 2), State: nudReachable, HW: hwB,
			Stats: NeighStats{Used: 6 * s, Confirmed: 6 * s, Updated: 6 * s, Refcnt: 1, Probes: 4}}},
		{"stale", func(t *testing.T) *pair {
			p := resolvedPair(t, false, 2044)
			p.clock.Advance(40*s - delayProbeTime)
			return p
		}, false, Neighbour{Addr: pairAddr(false, 2), State: nudStale, HW: hwB,
			Stats: NeighStats{Used: 40 * s, Confirmed: 40 * s, Updated: 10 * s, Probes: 4}}},
		{"output while stale", func(t *testing.T) *pair {
			p := outputStale(t)
			p.clock.Advance(s)
			return p
		}, false, Neighbour{Addr: pairAddr(false, 2), State: nudDelay, HW: hwB,
			Stats: NeighStats{Used: s, Confirmed: 41 * s, Updated: s, Refcnt: 1, Probes: 4}}},
		{"output while stale, probes unanswered", func(t *testing.T) *pair {
			p := outputStale(t)
			p.clock.Advance(9 * s)
			return p
		}, false, Neighbour{Addr: pairAddr(false, 2), State: nudFailed, HW: hwB,
			Stats: NeighStats{Used: 9 * s, Confirmed: 49 * s, Updated: s, Probes: 3}}},
		{"resolving", func(t *testing.T) *pair {
			p := newPair(t, false, 2044)
			silent(p)
			p.clock.Advance(1500 * time.Millisecond)
			return p
		}, false, Neighbour{Addr: pairAddr(false, 9), State: nudIncomplete,
			Stats: NeighStats{Used: 1500 * time.Millisecond, Confirmed: 61500 * time.Millisecond, Updated: 1500 * time.Millisecond, Refcnt: 1, Probes: 5}}},
		{"failed", func(t *testing.T) *pair {
			p := newPair(t, false, 2044)
			silent(p)
			p.clock.Advance(5 * s)
			return p
		}, false, Neighbour{Addr: pairAddr(false, 9), State: nudFailed,
			Stats: NeighStats{Used: 5 * s, Confirmed: 65 * s, Updated: 2 * s, Probes: 6}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.run(t)
			got := p.a.Neighbours(ifA)
			if tc.b {
				got = p.b.Neighbours(ifB)
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("neighbours %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Malformed packets are counted with DropRx; packets that are well formed
// but not for the stack are ignored without counting.
func TestInputDrops(t *testing.T) {
	badSum := echoRequest(t, pairAddr(false, 1), pairAddr(false, 2), header.ICMPv4Echo, 1, 1, false)
	badSum[header.IPoIBHeaderLen+10] ^= 0xff // the IPv4 header checksum
	notOurs := echoRequest(t, pairAddr(false, 1), pairAddr(false, 7), header.ICMPv4Echo, 1, 1, false)
	notOurs6 := echoRequest(t, pairAddr(true, 1), pairAddr(true, 7), header.ICMPv6EchoRequest, 1, 1, false)
	udp := echoRequest(t, pairAddr(false, 1), pairAddr(false, 2), header.ICMPv4Echo, 1, 1, false)
	ip := header.IPv4(udp[header.IPoIBHeaderLen:])
	udp[header.IPoIBHeaderLen+9] = 17 // UDP
	ip.SetChecksum(ip.CalculateChecksum())
	unknown := append([]byte(nil), udp...)
	header.IPoIB(unknown).Encode(0x88b5)
	nsNoOption := make([]byte, header.IPoIBHeaderLen+header.IPv6HeaderLen+header.NDPMessageLen)
	header.IPoIB(nsNoOption).Encode(header.EtherTypeIPv6)
	if header.EncodeNeighborSolicit(nsNoOption[header.IPoIBHeaderLen:], pairAddr(true, 1).As16(),
		header.SolicitedNodeAddr(pairAddr(true, 2).As16()), pairAddr(true, 2).As16(), nil) == 0 {
		t.Fatal("EncodeNeighborSolicit")
	}
	for _, tc := range []struct {
		name    string
		in      []byte
		dropped uint64
	}{
		{"short encapsulation header", []byte{0x08, 0x00, 0x00}, 1},
		{"short ARP", arpPacket(header.ARPRequest, hwA, pairAddr(false, 1), header.HWAddr{}, pairAddr(false, 2))[:20], 1},
		{"bad IPv4 header checksum", badSum, 0},
		{"short IPv4", udp[:header.IPoIBHeaderLen+12], 0},
		{"IPv4 not ours", notOurs, 0},
		{"IPv6 not ours", notOurs6, 0},
		{"not ICMP", udp, 0},
		{"unknown ethertype", unknown, 0},
		{"NS without link-layer option", nsNoOption, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, false, 2044)
			if err := p.b.AddAddr(ifB, pairPrefix(true, 2)); err != nil {
				t.Fatal(err)
			}
			p.nb.DeliverPacket(hwA, tc.in)
			samePackets(t, "answer", p.lb.take(), nil)
			if rx, tx, _ := p.lb.counters(); rx != tc.dropped || tx != 0 {
				t.Fatalf("%d received and %d sent dropped, want %d and 0", rx, tx, tc.dropped)
			}
			if n := p.b.Neighbours(ifB); len(n) != 0 {
				t.Fatalf("learnt %+v", n)
			}
		})
	}
}

// A NIC detached, or replaced by a later Attach, delivers nothing and the
// stack sends nothing on its link; detaching a replaced NIC leaves its
// successor attached.
func TestAttachDetach(t *testing.T) {
	req := arpPacket(header.ARPRequest, hwA, pairAddr(false, 1), header.HWAddr{}, pairAddr(false, 2))
	reply := []packet{{arpPacket(header.ARPReply, hwB, pairAddr(false, 2), hwA, pairAddr(false, 1)), hwA}}
	p := newPair(t, false, 2044)
	old := p.nb
	p.b.Detach(old)
	old.DeliverPacket(hwA, req)
	samePackets(t, "detached", p.lb.take(), nil)
	if n := p.b.Neighbours(ifB); len(n) != 0 {
		t.Fatalf("detached NIC learnt %+v", n)
	}
	if _, err := p.b.Echo(EchoRequest{Index: ifB, Src: pairAddr(false, 2), Dst: pairAddr(false, 1), Deadline: far()}); !errors.Is(err, ErrNoLink) {
		t.Fatalf("echo on a detached interface: %v", err)
	}

	l2 := &fakeLink{mtu: 2044, hw: hwB, bcast: bcast}
	first := p.b.Attach(ifB, p.lb)
	second := p.b.Attach(ifB, l2)
	first.DeliverPacket(hwA, req)
	samePackets(t, "replaced", p.lb.take(), nil)
	samePackets(t, "replaced, new link", l2.take(), nil)
	p.b.Detach(first) // already replaced: second stays
	second.DeliverPacket(hwA, req)
	samePackets(t, "new link", l2.take(), reply)
	if hw, ok := p.b.Resolve(ifB, pairAddr(false, 2), pairAddr(false, 1), p.clock.Now()); !ok || hw != hwA {
		t.Fatalf("Resolve = %v %v", hw, ok)
	}
}

// A reachable neighbour reads as stale once base_reachable_time has
// passed; Forget drops the interface's neighbours and addresses.
func TestNeighboursAgeAndForget(t *testing.T) {
	p := resolvedPair(t, false, 2044)
	b := Neighbour{Addr: pairAddr(false, 2), State: nudReachable, HW: hwB}
	if got := p.a.Neighbours(ifA); !equalNeighbours(got, []Neighbour{b}) {
		t.Fatalf("neighbours %+v", got)
	}
	// a's entry was confirmed by the echo, delayProbeTime before
	// resolvedPair returned
	p.clock.Advance(reachableTime - delayProbeTime)
	if got := p.a.Neighbours(ifA); !equalNeighbours(got, []Neighbour{b}) {
		t.Fatalf("after %v: %+v", reachableTime, got)
	}
	p.clock.Advance(time.Nanosecond)
	b.State = nudStale
	if got := p.a.Neighbours(ifA); !equalNeighbours(got, []Neighbour{b}) {
		t.Fatalf("after %v: %+v, want stale", reachableTime+time.Nanosecond, got)
	}
	p.a.Forget(ifA)
	if got, addrs := p.a.Neighbours(ifA), p.a.Addrs(ifA); len(got) != 0 || len(addrs) != 0 {
		t.Fatalf("after Forget: %+v, %v", got, addrs)
	}
}

// Multicast groups map to the link's P_Key and scope.
func TestMulticastLinkAddr(t *testing.T) {
	b := header.BroadcastAddr(0x8001)
	for _, tc := range []struct {
		group string
		want  string
	}{
		{"224.0.0.1", "00:ff:ff:ff:ff:12:40:1b:80:01:00:00:00:00:00:00:00:00:00:01"}, // the group's top nibble masked (ip_ib_mc_map),
		{"ff02::1:ff00:2", "00:ff:ff:ff:ff:12:60:1b:80:01:00:00:00:00:00:01:ff:00:00:02"},
	} {
		if got := MulticastLinkAddr(b, netip.MustParseAddr(tc.group)).String(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.group, got, tc.want)
		}
	}
}

// An entry that resolves with datagrams queued sends them through itself
// when an answer makes it valid (__neigh_update's arp_queue flush through
// n1->output): made STALE by the target's own request, the send puts it
// in DELAY, and the notification says so.
func TestQueueFlushThroughStaleEntry(t *testing.T) {
	p := newPair(t, false, 2044)
	p.lb.peer = nil // b's solicitation goes unanswered
	a, b := pairAddr(false, 1), pairAddr(false, 2)
	p.b.output(p.nb, b, a, []byte{0x45})
	if st := state(p.b, ifB, a); st != nudIncomplete {
		t.Fatalf("state %#x, want incomplete", st)
	}
	p.lb.take()
	var events []uint16
	p.b.SetNeighNotify(func(_ int32, n Neighbour, _ bool) { events = append(events, n.State) })
	p.nb.DeliverPacket(hwA, arpPacket(header.ARPRequest, hwA, a, header.HWAddr{}, b))
	sent := p.lb.take()
	if len(sent) != 2 || sent[0].dst != hwA || sent[1].dst != hwA {
		t.Fatalf("b sent\n%s\nwant the queued datagram and the ARP reply to a", dumpPackets(sent))
	}
	if st := state(p.b, ifB, a); st != nudDelay || !slices.Equal(events, []uint16{nudDelay}) {
		t.Errorf("state %#x, notified %v; want DELAY", st, events)
	}
}

// The notifications of an entry that probes (neigh_timer_handler's
// notify): PROBE once, before its first solicitation, then REACHABLE
// when one is answered or FAILED when none is; the move to DELAY is not
// notified (__neigh_event_send).
func TestProbeNotifications(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answered bool
		want     []uint16
	}{
		{"answered", true, []uint16{nudProbe, nudReachable}},
		{"unanswered", false, []uint16{nudProbe, nudFailed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := echoedPair(t, false, 2044) // b's entry for a in DELAY
			if !tc.answered {
				p.lb.peer = nil
			}
			var got []uint16
			p.b.SetNeighNotify(func(_ int32, n Neighbour, _ bool) { got = append(got, n.State) })
			p.clock.Advance(10 * time.Second)
			if !slices.Equal(got, tc.want) {
				t.Errorf("notified %#x, want %#x", got, tc.want)
			}
		})
	}
}
