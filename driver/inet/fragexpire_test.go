package inet

import (
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

// laterFragment reports whether an IPoIB packet is an IPv4 or IPv6
// fragment other than the first.
func laterFragment(pkt []byte) bool {
	switch p := header.IPoIB(pkt); p.Type() {
	case header.EtherTypeIPv4:
		ip := header.IPv4(p.Payload())
		return ip.Valid() && ip.FragmentOffset() != 0
	case header.EtherTypeIPv6:
		ip := header.IPv6(p.Payload())
		return ip.Valid() && ip.NextHeader() == header.ProtocolIPv6Fragment && header.IPv6Fragment(ip.Payload()).FragmentOffset() != 0
	}
	return false
}

// echoFragments is an echo request of 4000 data bytes from a to b,
// fragmented at the 2044-byte MTU as a sends it: IPv4 0+2024 and
// 2024+1984 bytes, IPv6 0+1992, 1992+1992 and 3984+24.
func echoFragments(t *testing.T, v6 bool) [][]byte {
	t.Helper()
	data := make([]byte, 4000)
	if v6 {
		ip := make([]byte, header.IPv6HeaderLen+header.ICMPv6MinHeaderLen+len(data))
		header.EncodeICMPv6Echo(ip, header.IPv6Fields{HopLimit: 64, Src: pairAddr(true, 1).As16(), Dst: pairAddr(true, 2).As16()},
			header.ICMPv6EchoRequest, 7, 9, data)
		frags, err := fragment6(header.IPv6(ip), 2044, 77)
		if err != nil {
			t.Fatal(err)
		}
		return frags
	}
	ip := make([]byte, header.IPv4MinHeaderLen+header.ICMPv4MinHeaderLen+len(data))
	header.EncodeICMPv4Echo(ip, header.IPv4Fields{TTL: 64, ID: 9, Src: pairAddr(false, 1).As4(), Dst: pairAddr(false, 2).As4()},
		header.ICMPv4Echo, 7, 9, data)
	return fragment4(header.IPv4(ip), 2044)
}

// An incomplete queue expires exactly ipfrag_time (30 s) or ip6frag_time
// (60 s) after its first fragment came, its fragments freed; the ICMP time
// exceeded goes back only when the fragment with offset 0 had come, and
// only through an interface that still has its link, by the normal output
// path (ip_expire → icmp_send → ip_output → neigh_resolve_output): a
// neighbour forgotten or failed is solicited first, and the error follows
// the answer. No error goes back about an ICMP error (__icmp_send's
// check of the inner type; icmp6_send's is_ineligible, which looks
// through the Fragment header).
func TestReassemblyExpiry(t *testing.T) {
	tests := []struct {
		name     string
		v6       bool
		deliver  []int  // which fragments reach b
		down     bool   // b's link is detached before the expiry
		neigh    uint16 // a's entry on b before the expiry: 0 unchanged, nudFailed, or nudIncomplete for none
		wantICMP bool
		errType  uint8 // when not 0, the datagram is an ICMP error of this type instead of an echo
	}{
		{"IPv4 first fragment of an ICMP error came", false, []int{0}, false, 0, false, header.ICMPv4DstUnreachable},
		{"IPv6 first fragment of an ICMP error came", true, []int{0, 2}, false, 0, false, header.ICMPv6DstUnreachable},
		{"IPv4 first fragment came", false, []int{0}, false, 0, true, 0},
		{"IPv4 only the last came", false, []int{1}, false, 0, false, 0},
		{"IPv4 interface down", false, []int{0}, true, 0, false, 0},
		{"IPv4 neighbour forgotten", false, []int{0}, false, nudIncomplete, true, 0},
		{"IPv4 neighbour failed", false, []int{0}, false, nudFailed, true, 0},
		{"IPv6 first and last came", true, []int{0, 2}, false, 0, true, 0},
		{"IPv6 middle and last came", true, []int{1, 2}, false, 0, false, 0},
		{"IPv6 interface down", true, []int{0}, true, 0, false, 0},
		{"IPv6 neighbour forgotten", true, []int{0, 2}, false, nudIncomplete, true, 0},
		{"IPv6 neighbour failed", true, []int{0, 2}, false, nudFailed, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := resolvedPair(t, tc.v6, 2044)
			frags := echoFragments(t, tc.v6)
			if tc.errType != 0 {
				// the ICMP type after the first fragment's headers
				at := header.IPoIBHeaderLen + header.IPv4MinHeaderLen
				if tc.v6 {
					at = header.IPoIBHeaderLen + header.IPv6HeaderLen + header.IPv6FragmentHeaderLen
				}
				frags[0][at] = tc.errType
			}
			for _, i := range tc.deliver {
				p.nb.DeliverPacket(hwA, header.IPoIB(frags[i]))
			}
			if got := queues(p.b, tc.v6); got != 1 {
				t.Fatalf("%d queues after the fragments, want 1", got)
			}
			if n := p.clock.Pending(); n != 1 {
				t.Fatalf("%d timers armed, want 1", n)
			}
			timeout := reasmTimeout
			if tc.v6 {
				timeout = reasm6Timeout
			}
			// the queue, to see it freed
			var r4 *reasm
			var q6 *frag6Queue
			p.b.mu.Lock()
			for _, r := range p.b.reasm {
				r4 = r
			}
			for _, q := range p.b.reasm6 {
				q6 = q
			}
			p.b.mu.Unlock()
			if (r4 == nil || len(r4.frags) == 0) && (q6 == nil || len(q6.frags) == 0) {
				t.Fatal("no fragments queued")
			}
			if tc.down {
				p.b.Detach(p.nb)
			}
			p.b.mu.Lock()
			switch tc.neigh {
			case nudIncomplete:
				delete(p.b.neigh[ifB], pairAddr(tc.v6, 1))
			case nudFailed:
				p.b.neigh[ifB][pairAddr(tc.v6, 1)].state = nudFailed
			}
			p.b.mu.Unlock()
			p.clock.Advance(timeout - time.Nanosecond)
			if got, sent := queues(p.b, tc.v6), p.lb.take(); got != 1 || len(sent) != 0 {
				t.Fatalf("a nanosecond early: %d queues, %d packets sent", got, len(sent))
			}
			p.clock.Advance(time.Nanosecond)
			if got := queues(p.b, tc.v6); got != 0 {
				t.Fatalf("%d queues after %v", got, timeout)
			}
			p.b.mu.Lock()
			if r4 != nil && (r4.frags != nil || r4.hdr != nil) {
				t.Errorf("expired IPv4 queue still holds %d fragments", len(r4.frags))
			}
			if q6 != nil && (q6.frags != nil || q6.runs != nil) {
				t.Errorf("expired IPv6 queue still holds %d fragments", len(q6.frags))
			}
			if p.b.frag4Mem != 0 || p.b.frag6Mem != 0 {
				t.Errorf("fragment memory %d/%d after the expiry", p.b.frag4Mem, p.b.frag6Mem)
			}
			p.b.mu.Unlock()
			sent := p.lb.take()
			if tc.neigh != 0 {
				// the solicitation first, answered at once by a
				if len(sent) == 0 || !solicitation(sent[0].pkt) {
					t.Fatalf("no solicitation first:\n%s", dumpPackets(sent))
				}
				sent = sent[1:]
				if st := state(p.b, ifB, pairAddr(tc.v6, 1)); st != nudReachable {
					t.Fatalf("neighbour state %#x after the answer", st)
				}
			}
			if !tc.wantICMP {
				samePackets(t, "expiry", sent, nil)
				return
			}
			first := frags[0][header.IPoIBHeaderLen:]
			want := make([]byte, header.IPoIBHeaderLen+header.IPv6MinMTU)
			var n int
			if tc.v6 {
				header.IPoIB(want).Encode(header.EtherTypeIPv6)
				n = header.EncodeICMPv6Error(want[header.IPoIBHeaderLen:], pairAddr(true, 2).As16(), pairAddr(true, 1).As16(),
					header.ICMPv6TimeExceeded, header.ICMPv6ReassemblyTimeout, 0, first)
			} else {
				header.IPoIB(want).Encode(header.EtherTypeIPv4)
				n = header.EncodeICMPv4Error(want[header.IPoIBHeaderLen:], pairAddr(false, 2).As4(), pairAddr(false, 1).As4(),
					header.ICMPv4TimeExceeded, header.ICMPv4ReassemblyTimeout, 0, first, header.ICMPv4KernelMaxQuote)
			}
			want = want[:header.IPoIBHeaderLen+n]
			// 576 bytes (548 quoted) for IPv4, 1280 (1232 quoted) for IPv6
			if wantLen := map[bool]int{false: 580, true: 1284}[tc.v6]; len(want) != wantLen {
				t.Fatalf("expected packet is %d bytes, want %d", len(want), wantLen)
			}
			samePackets(t, "expiry", sent, []packet{{pkt: want, dst: hwA}})
		})
	}
}

// A completed datagram stops its queue's timer: nothing expires later.
func TestReassemblyCompleteStopsTimer(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		frags := echoFragments(t, v6)
		p.nb.DeliverPacket(hwA, header.IPoIB(frags[0]))
		var timer verbs.Timer
		p.b.mu.Lock()
		for _, r := range p.b.reasm {
			timer = r.timer
		}
		for _, q := range p.b.reasm6 {
			timer = q.timer
		}
		p.b.mu.Unlock()
		for _, f := range frags[1:] {
			p.nb.DeliverPacket(hwA, header.IPoIB(f))
		}
		// b answers the echo request, fragmented alike
		if sent := p.lb.take(); len(sent) != len(frags) {
			t.Fatalf("v6 %v: b sent %d packets for the reply, want %d", v6, len(sent), len(frags))
		}
		if timer == nil || timer.Stop() || queues(p.b, v6) != 0 || p.clock.Pending() != 0 {
			t.Fatalf("v6 %v: timer still armed or %d queues after completion", v6, queues(p.b, v6))
		}
		p.clock.Advance(time.Hour)
		if sent := p.lb.take(); len(sent) != 0 {
			t.Fatalf("v6 %v: sent %d packets after completion", v6, len(sent))
		}
	}
}

// A ping whose later fragments are lost gets the time exceeded once the
// peer's queue expires, from the peer.
func TestPingReassemblyTimeout(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		lost := make(chan struct{}, 1)
		p.la.filter = func(s packet) fate {
			if !laterFragment(s.pkt) {
				return deliver
			}
			// b queued the first fragment before this one was written
			select {
			case lost <- struct{}{}:
			default:
			}
			return drop
		}
		type result struct {
			rep EchoReply
			err error
		}
		done := make(chan result, 1)
		go func() {
			rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(v6, 1), Dst: pairAddr(v6, 2), Size: 4000, Ident: 3, Seq: 2,
				Deadline: far()})
			done <- result{rep, err}
		}()
		<-lost
		timeout := reasmTimeout
		if v6 {
			timeout = reasm6Timeout
		}
		p.clock.Advance(timeout)
		r := <-done
		if want := (EchoReply{Status: EchoReasmTimeout, From: pairAddr(v6, 2)}); r.err != nil || r.rep != want {
			t.Errorf("v6 %v: echo = %+v, %v; want %+v", v6, r.rep, r.err, want)
		}
	}
}

// A time exceeded in reassembly answers only the ping whose request it
// quotes: the same identifier, sequence and destination, the quote
// holding the request's header (offset 0, echo request).
func TestTimeExceededMatchesPing(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		frags := echoFragments(t, v6) // ident 7, seq 9, to pairAddr 2
		first := frags[0][header.IPoIBHeaderLen:]
		later := frags[1][header.IPoIBHeaderLen:]
		hl := header.IPv4MinHeaderLen // the request's headers
		if v6 {
			hl = header.IPv6HeaderLen + header.IPv6FragmentHeaderLen
		}
		tests := []struct {
			name   string
			dst    byte // the ping's destination host
			key    uint32
			quoted []byte
			want   bool
		}{
			{"matching", 2, 7<<16 | 9, first, true},
			{"another destination", 3, 7<<16 | 9, first, false},
			{"another sequence", 2, 7<<16 | 10, first, false},
			{"later fragment quoted", 2, 7<<16 | 9, later, false},
			{"short quote", 2, 7<<16 | 9, first[:10], false},
			// the header and 8 bytes of the request are enough (icmp_socket_deliver
			// pulls ihl*4 + 8, net/ipv4/icmp.c; icmpv6_notify inner_offset + 8,
			// net/ipv6/icmp.c); a byte less is not
			{"the header and 8 bytes", 2, 7<<16 | 9, first[:hl+8], true},
			{"a byte short of 8", 2, 7<<16 | 9, first[:hl+7], false},
		}
		for _, tc := range tests {
			s := newTestStack()
			ch := make(chan pingResult, 1)
			s.pings[tc.key] = pendingPing{dst: pairAddr(v6, tc.dst), ch: ch}
			s.timeExceeded(pairAddr(v6, 2), tc.quoted)
			select {
			case r := <-ch:
				if want := (pingResult{reasmTimeout: true, from: pairAddr(v6, 2)}); !tc.want || r != want {
					t.Errorf("v6 %v %s: delivered %+v", v6, tc.name, r)
				}
			default:
				if tc.want {
					t.Errorf("v6 %v %s: not delivered", v6, tc.name)
				}
			}
			if _, pending := s.pings[tc.key]; pending == tc.want {
				t.Errorf("v6 %v %s: ping still pending = %v", v6, tc.name, pending)
			}
		}
	}
}

// The ICMP time exceeded reaches the ping through input: a reply of the
// right family, code and destination.
func TestTimeExceededInput(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := resolvedPair(t, v6, 2044)
		frags := echoFragments(t, v6)
		first := frags[0][header.IPoIBHeaderLen:]
		for _, code := range []uint8{1, 0} { // reassembly timeout, then TTL exceeded (ignored)
			ch := make(chan pingResult, 1)
			p.a.mu.Lock()
			p.a.pings[7<<16|9] = pendingPing{dst: pairAddr(v6, 2), ch: ch}
			p.a.mu.Unlock()
			pkt := make([]byte, header.IPoIBHeaderLen+header.IPv6MinMTU)
			var n int
			if v6 {
				header.IPoIB(pkt).Encode(header.EtherTypeIPv6)
				n = header.EncodeICMPv6Error(pkt[header.IPoIBHeaderLen:], pairAddr(true, 2).As16(), pairAddr(true, 1).As16(),
					header.ICMPv6TimeExceeded, code, 0, first)
			} else {
				header.IPoIB(pkt).Encode(header.EtherTypeIPv4)
				n = header.EncodeICMPv4Error(pkt[header.IPoIBHeaderLen:], pairAddr(false, 2).As4(), pairAddr(false, 1).As4(),
					header.ICMPv4TimeExceeded, code, 0, first, header.ICMPv4KernelMaxQuote)
			}
			p.na.DeliverPacket(hwB, pkt[:header.IPoIBHeaderLen+n])
			select {
			case r := <-ch:
				if code != 1 || r != (pingResult{reasmTimeout: true, from: pairAddr(v6, 2)}) {
					t.Errorf("v6 %v code %d: delivered %+v", v6, code, r)
				}
			default:
				if code == 1 {
					t.Errorf("v6 %v code %d: not delivered", v6, code)
				}
			}
		}
	}
}

// solicitation reports whether an IPoIB packet is an ARP request or an
// IPv6 neighbour solicitation.
func solicitation(pkt []byte) bool {
	switch p := header.IPoIB(pkt); p.Type() {
	case header.EtherTypeARP:
		return true
	case header.EtherTypeIPv6:
		ip := header.IPv6(p.Payload())
		return ip.Valid() && ip.NextHeader() == header.ProtocolICMPv6 && len(ip.Payload()) > 0 && ip.Payload()[0] == header.ICMPv6NeighborSolicit
	}
	return false
}
