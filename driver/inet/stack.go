package inet

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

// Stack is one node's host IP stack: interface addresses, the neighbour
// table (ARP and neighbour discovery), ICMP and ICMPv6 echo and errors,
// fragmentation, reassembly and path MTUs. It has its own lock, which it
// never holds while it calls a Link, so a link may deliver packets from
// inside a write.
type Stack struct {
	mu    sync.Mutex
	addrs map[int32][]netip.Prefix // by ifindex: IPv4 in the order added, IPv6 as insertAddr orders them
	auto  map[int32]netip.Addr     // the automatic link-local address of an interface (addr.go)
	neigh map[int32]map[netip.Addr]*neighbour
	// neighNotify is SetNeighNotify's function.
	neighNotify func(index int32, n Neighbour, deleted bool)
	pings       map[uint32]pendingPing   // by ident<<16 | seq
	pmtu        map[netip.Addr]pmtuEntry // path MTU exceptions (frag.go)
	reasm       map[reasmKey]*reasm      // datagrams being reassembled
	reasm6      map[frag6Key]*frag6Queue // IPv6 datagrams being reassembled (frag6.go)
	// frag4Mem and frag6Mem are the memory the IPv4 and IPv6 queues
	// hold, against fragHighThresh (fragq.go).
	frag4Mem, frag6Mem int
	// nextFragID is the last IPv6 fragment identification used.
	nextFragID uint32
	now        func() time.Time
	// clock runs the reassembly timers (fragexpire.go).
	clock verbs.Clock
	// nics are the interfaces with a link attached, by ifindex.
	nics map[int32]*NIC
	// udp are the UDP sinks by port (udp.go), replaced whole under mu
	// and read without it by the receive path.
	udp atomic.Pointer[map[uint16]*UDPSink]
	// uppers are the upper stacks above interfaces (upper.go).
	uppers map[int32]Upper
	// routes are the upper stacks' routes through their interfaces
	// (nexthop.go), nil while none has a gateway; replaced under mu.
	routes atomic.Pointer[routeTable]
	// hops are the upper stacks' next-hop lookups (nexthop.go), under
	// their own lock.
	hops upperHops
}

// New returns an empty stack whose timers and time run on clock.
func New(clock verbs.Clock) *Stack {
	return &Stack{addrs: map[int32][]netip.Prefix{}, neigh: map[int32]map[netip.Addr]*neighbour{},
		pings: map[uint32]pendingPing{}, now: clock.Now, clock: clock,
		nics: map[int32]*NIC{}, uppers: map[int32]Upper{}}
}

// SourceFor returns the interface's source address for dst. IPv4: the
// preferred source of the connected route holding dst, which is the
// first address of that subnet; off every subnet of the interface, the
// kernel assumes dst is on link and takes the first address
// (inet_select_addr). IPv6: what source selection picks (srcFor6).
func (s *Stack) SourceFor(index int32, dst netip.Addr) (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if dst.Is6() {
		return s.srcFor6(index, dst)
	}
	return s.sourceFor4Locked(index, dst)
}

// sourceFor4Locked is SourceFor for an IPv4 dst. Caller holds mu.
func (s *Stack) sourceFor4Locked(index int32, dst netip.Addr) (netip.Addr, bool) {
	var first netip.Addr
	for _, p := range s.addrs[index] {
		switch {
		case !p.Addr().Is4():
		case p.Masked().Contains(dst):
			return p.Addr(), true
		case !first.IsValid():
			first = p.Addr()
		}
	}
	return first, first.IsValid()
}

// Owns reports whether ip is an address of the interface.
func (s *Stack) Owns(index int32, ip netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.addrs[index] {
		if p.Addr() == ip {
			return true
		}
	}
	return false
}

// xmit sends a locally generated datagram to its next hop nh at hw as
// the kernel's output path does: fragmented to the path MTU (the
// interface's, lowered by a cached exception); a datagram too big for
// the transport (the driver's emulated ICMP "fragmentation needed" /
// "packet too big") lowers the path MTU, so that the next one is
// fragmented to fit. Path MTUs are the datagram's destination's, as the
// kernel keeps its exceptions by daddr, not by gateway. A TCP segment
// with a GSO size goes whole (writeGSO) when its packets fit the path
// MTU, else cut into them first.
func (s *Stack) xmit(nic *NIC, nh netip.Addr, hw header.HWAddr, ip, frame []byte, gso int) {
	dst := nh
	if _, d, ok := addrsOf(ip); ok {
		dst = d
	}
	mtu := int(s.mtuTo(dst, nic.link.MTU()))
	var err error
	switch {
	case gso > 0 && gsoFits(ip, gso, uint32(mtu)):
		err = s.writeGSO(nic, ip, frame, hw, gso)
	case gso > 0:
		// The path MTU fell while it waited: cut it, and send each
		// packet as any other.
		segs, ok := header.SegmentTCP(ip, gso, header.IPoIBHeaderLen)
		if !ok {
			nic.link.DropTx(1)
		}
		for _, seg := range segs {
			s.xmit(nic, nh, hw, seg[header.IPoIBHeaderLen:], seg, 0)
		}
		return
	case dst.Is4():
		err = s.sendIPv4(nic, header.IPv4(ip), frame, hw, mtu)
	default:
		err = s.sendIPv6(nic, header.IPv6(ip), frame, hw, mtu)
	}
	var tb TooBig
	if errors.As(err, &tb) {
		s.setPMTU(dst, tb.TooBigMTU(), uint32(mtu))
		s.upperTooBig(nic, ip, err)
	}
}

// input handles one received IPoIB packet on nic.
func (s *Stack) input(nic *NIC, src header.HWAddr, pkt header.IPoIB) {
	if !pkt.Valid() {
		nic.link.DropRx(1)
		return
	}
	switch pkt.Type() {
	case header.EtherTypeARP:
		a := header.ARP(pkt.Payload())
		if !a.Valid() {
			nic.link.DropRx(1)
			return
		}
		s.inputARP(nic, a)
	case header.EtherTypeIPv4:
		s.inputIPv4(nic, header.IPv4(pkt.Payload()))
	case header.EtherTypeIPv6:
		s.inputIPv6(nic, header.IPv6(pkt.Payload()))
	}
}

// inputARP is arp_process: a request for an address of the interface
// makes the asker's entry, STALE (neigh_event_ns), and is answered; any
// other request or reply only updates an existing entry (arp_accept is
// off), a request never confirming reachability and a reply confirming
// it, a different address taken only when the entry has not changed for
// arpLockTime. A reply is taken as unicast (PACKET_HOST): the driver
// sends no other.
func (s *Stack) inputARP(nic *NIC, a header.ARP) {
	sip, tip, sha := netip.AddrFrom4(a.SenderIP()), netip.AddrFrom4(a.TargetIP()), a.SenderHWAddr()
	if a.Op() == header.ARPRequest && s.Owns(nic.index, tip) {
		s.neighUpdate(nic, sip, neighMsg{hw: sha, state: nudStale, create: true, override: true})
		s.sendARP(nic, header.ARPReply, tip, sha, sip, sha)
		return
	}
	state := uint16(nudStale)
	if a.Op() == header.ARPReply {
		state = nudReachable
	}
	s.neighUpdate(nic, sip, neighMsg{hw: sha, state: state, lockTime: arpLockTime})
}

// Forget drops an unregistered interface's addresses and neighbours.
func (s *Stack) Forget(index int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.addrs, index)
	delete(s.auto, index)
	delete(s.neigh, index)
}
