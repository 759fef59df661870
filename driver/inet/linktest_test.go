package inet

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

// packet is one IPoIB packet a stack wrote to its link, with the hardware
// address it went to.
type packet struct {
	pkt []byte
	dst header.HWAddr
}

// fate is what a link's filter does with a packet written to it.
type fate int

const (
	deliver fate = iota // to the peer, before WritePacket returns
	drop                // lost on the wire
	hold                // kept until release
)

// linkTooBig is the error of a packet too large for its destination, as
// the IPoIB endpoint returns it (wrapped, as errors.As finds it).
type linkTooBig struct{ mtu uint32 }

func (e *linkTooBig) Error() string     { return fmt.Sprintf("packet too big for MTU %d", e.mtu) }
func (e *linkTooBig) TooBigMTU() uint32 { return e.mtu }

// fakeLink is a Link for tests in the manner of a channel endpoint: it
// records every packet the stack writes, with its destination, and hands
// it to the peer NIC it is wired to, synchronously, when the destination
// is the peer's address or a multicast one (the broadcast address
// included). The stack never holds its lock while it writes, so a whole
// exchange (ARP request and reply, echo request and reply) runs to its end
// inside the first WritePacket, in the test's goroutine.
type fakeLink struct {
	mtu       uint32
	hw, bcast header.HWAddr

	mu   sync.Mutex
	peer *NIC
	// peerHW is the peer's address: unicast packets to another address
	// are recorded and lost.
	peerHW header.HWAddr
	// filter, when set, decides each packet's fate; it runs without the
	// link's lock.
	filter func(packet) fate
	// maxTo is the largest IP packet the link carries to a unicast
	// destination, when lower than mtu; larger ones fail with
	// linkTooBig, unsent, as a UD destination of a connected-mode
	// interface does.
	maxTo map[header.HWAddr]uint32
	sent  []packet // what went out (refused packets excepted)
	mem   []*byte  // the first byte of the memory of each of sent (copies)
	held  []packet
	// refused counts the packets refused as too big; rxDropped and
	// txDropped what the stack counted with DropRx and DropTx.
	refused, rxDropped, txDropped uint64
}

var _ Link = (*fakeLink)(nil)

func (l *fakeLink) MTU() uint32                { return l.mtu }
func (l *fakeLink) LinkAddress() header.HWAddr { return l.hw }
func (l *fakeLink) Broadcast() header.HWAddr   { return l.bcast }

func (l *fakeLink) DropRx(n uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rxDropped += n
}

func (l *fakeLink) DropTx(n uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.txDropped += n
}

func (l *fakeLink) WritePacket(pkt []byte, dst header.HWAddr) error {
	p := packet{pkt: bytes.Clone(pkt), dst: dst}
	l.mu.Lock()
	if max, ok := l.maxTo[dst]; ok && len(pkt)-header.IPoIBHeaderLen > int(max) {
		l.refused++
		l.mu.Unlock()
		return fmt.Errorf("send to %v: %w", dst, &linkTooBig{mtu: max})
	}
	l.sent = append(l.sent, p)
	if len(pkt) > 0 {
		l.mem = append(l.mem, &pkt[0])
	}
	filter, peer, peerHW := l.filter, l.peer, l.peerHW
	l.mu.Unlock()
	f := deliver
	if filter != nil {
		f = filter(p)
	}
	switch {
	case f == hold:
		l.mu.Lock()
		l.held = append(l.held, p)
		l.mu.Unlock()
	case f == deliver && peer != nil && (dst == peerHW || dst.IsMulticast()):
		peer.DeliverPacket(l.hw, p.pkt)
	}
	return nil
}

// peek returns the packets written since the last take, keeping them.
func (l *fakeLink) peek() []packet {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.sent)
}

// take returns the packets written so far and forgets them.
func (l *fakeLink) take() []packet {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sent
	l.sent, l.mem = nil, nil
	return out
}

// counters returns rxDropped, txDropped and refused.
func (l *fakeLink) counters() (rx, tx, refused uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rxDropped, l.txDropped, l.refused
}

// Interface indexes of the two stacks of a pair: different, so that a
// stack mixing them up is caught.
const (
	ifA int32 = 2
	ifB int32 = 5
)

var (
	hwA   = header.NewHWAddr(header.HWFlagConnected, 0x000048, netip.MustParseAddr("fe80::2:c903:a:1").As16())
	hwB   = header.NewHWAddr(0, 0x000049, netip.MustParseAddr("fe80::2:c903:b:2").As16())
	bcast = header.BroadcastAddr(0xffff)
)

// start is when a test's clock starts.
var start = time.Unix(1_700_000_000, 0)

// pair is two stacks, a and b, each with one interface (ifA, ifB) on a
// fake link wired to the other, sharing a clock that moves only when a
// test advances it.
type pair struct {
	clock  *verbs.ManualClock
	a, b   *Stack
	la, lb *fakeLink
	na, nb *NIC
}

// pairAddr is host's address on the pair's subnet: 10.0.0.host/24 or
// fd00::host/64.
func pairAddr(v6 bool, host byte) netip.Addr {
	if v6 {
		return netip.AddrFrom16([16]byte{0xfd, 15: host})
	}
	return netip.AddrFrom4([4]byte{10, 0, 0, host})
}

// pairPrefix is pairAddr with its prefix length.
func pairPrefix(v6 bool, host byte) netip.Prefix {
	if v6 {
		return netip.PrefixFrom(pairAddr(v6, host), 64)
	}
	return netip.PrefixFrom(pairAddr(v6, host), 24)
}

// newPair is a with pairAddr 1 and b with pairAddr 2 on links of mtu
// bytes, neighbours not yet known.
func newPair(t *testing.T, v6 bool, mtu uint32) *pair {
	t.Helper()
	clock := verbs.NewManualClock(start)
	p := &pair{clock: clock, a: New(clock), b: New(clock),
		la: &fakeLink{mtu: mtu, hw: hwA, bcast: bcast, peerHW: hwB},
		lb: &fakeLink{mtu: mtu, hw: hwB, bcast: bcast, peerHW: hwA}}
	p.na = p.a.Attach(ifA, p.la)
	p.nb = p.b.Attach(ifB, p.lb)
	p.la.peer, p.lb.peer = p.nb, p.na
	if v6 {
		// the link-local addresses the kernel gives an interface that
		// comes up, which its unicast probes come from
		for _, a := range []struct {
			s     *Stack
			index int32
			host  byte
		}{{p.a, ifA, 1}, {p.b, ifB, 2}} {
			if err := a.s.AddAddr(a.index, netip.PrefixFrom(linkLocal(a.host), 64)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := p.a.AddAddr(ifA, pairPrefix(v6, 1)); err != nil {
		t.Fatal(err)
	}
	if err := p.b.AddAddr(ifB, pairPrefix(v6, 2)); err != nil {
		t.Fatal(err)
	}
	return p
}

// linkLocal is host's link-local address on the pair, fe80::host.
func linkLocal(host byte) netip.Addr {
	return netip.AddrFrom16([16]byte{0xfe, 0x80, 15: host})
}

// resolvedPair is newPair after an echo from a to b, and the time the
// entries it made take to settle: b's entry for a, made STALE by a's
// solicitation and put in DELAY by the answer, probes after
// delayProbeTime and is confirmed. For IPv6 the probe, a solicitation
// from b's link-local address, makes a's entry for that address, whose
// advertisement puts it in DELAY, and so on once more the other way:
// it settles after three times delayProbeTime. Then each knows the
// other's address, REACHABLE, and no timer is armed. The links' records
// start empty.
func resolvedPair(t *testing.T, v6 bool, mtu uint32) *pair {
	t.Helper()
	p := echoedPair(t, v6, mtu)
	p.clock.Advance(settleTime(v6))
	if st, n := state(p.b, ifB, pairAddr(v6, 1)), p.clock.Pending(); st != nudReachable || n != 0 {
		t.Fatalf("b's entry for a %#x, %d timers armed; want reachable, none", st, n)
	}
	p.la.take()
	p.lb.take()
	return p
}

// settleTime is how long resolvedPair waits after the echo.
func settleTime(v6 bool) time.Duration {
	if v6 {
		return 3 * delayProbeTime
	}
	return delayProbeTime
}

// echoedPair is newPair just after an echo from a to b: a's entry for b
// REACHABLE, b's for a in DELAY. The links' records start empty.
func echoedPair(t *testing.T, v6 bool, mtu uint32) *pair {
	t.Helper()
	p := newPair(t, v6, mtu)
	rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(v6, 1), Dst: pairAddr(v6, 2), Ident: 1, Seq: 1, Size: 56,
		Deadline: far()})
	if err != nil || rep.Status != EchoReplied {
		t.Fatalf("first echo: %+v %v", rep, err)
	}
	p.la.take()
	p.lb.take()
	return p
}

// far is a deadline, on the stacks' clock, that no test advances it to;
// the answer to an echo comes inside the request's WritePacket.
func far() time.Time { return start.Add(1000 * time.Hour) }

// state is the neighbour entry's state on the stack, 0 when it has none.
func state(s *Stack, index int32, ip netip.Addr) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.neigh[index][ip]; e != nil {
		return e.state
	}
	return 0
}

// queues is the number of reassembly queues of the family on the stack.
func queues(s *Stack, v6 bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v6 {
		return len(s.reasm6)
	}
	return len(s.reasm)
}

// sizes lists the lengths of packets.
func sizes(ps []packet) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = len(p.pkt)
	}
	return out
}

// arpPacket is the IPoIB ARP packet sendARP writes.
func arpPacket(op uint16, sha header.HWAddr, spa netip.Addr, tha header.HWAddr, tpa netip.Addr) []byte {
	b := make([]byte, header.IPoIBHeaderLen+header.ARPSize)
	header.IPoIB(b).Encode(header.EtherTypeARP)
	header.EncodeARP(b[header.IPoIBHeaderLen:], op, sha, spa.As4(), tha, tpa.As4())
	return b
}

// nsPacket is the neighbour solicitation for target from src with the
// source link-layer option sll, and the multicast address it goes to.
func nsPacket(t *testing.T, sll header.HWAddr, src, target netip.Addr) packet {
	t.Helper()
	snm := header.SolicitedNodeAddr(target.As16())
	b := make([]byte, header.IPoIBHeaderLen+header.IPv6HeaderLen+header.NDPMessageLen+header.NDPLinkLayerOptionLen)
	header.IPoIB(b).Encode(header.EtherTypeIPv6)
	n := header.EncodeNeighborSolicit(b[header.IPoIBHeaderLen:], src.As16(), snm, target.As16(), &sll)
	if n == 0 {
		t.Fatal("EncodeNeighborSolicit")
	}
	return packet{pkt: b[:header.IPoIBHeaderLen+n], dst: header.MulticastAddr(header.IPv6MGID(snm, bcast))}
}

// probePacket is the solicitation a stack with address sll and source
// src sends for dst: an ARP request to the broadcast address or a
// neighbour solicitation to dst's solicited-node group.
func probePacket(t *testing.T, sll header.HWAddr, src, dst netip.Addr) packet {
	t.Helper()
	if dst.Is6() {
		return nsPacket(t, sll, src, dst)
	}
	return packet{pkt: arpPacket(header.ARPRequest, sll, src, header.HWAddr{}, dst), dst: bcast}
}

// samePackets fails unless got are want, bytes and destinations.
func samePackets(t *testing.T, what string, got, want []packet) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = bytes.Equal(got[i].pkt, want[i].pkt) && got[i].dst == want[i].dst
	}
	if !ok {
		t.Fatalf("%s: sent\n%s\nwant\n%s", what, dumpPackets(got), dumpPackets(want))
	}
}

func dumpPackets(ps []packet) string {
	var b bytes.Buffer
	for _, p := range ps {
		fmt.Fprintf(&b, "  to %v: % x\n", p.dst, p.pkt)
	}
	return b.String()
}
