package inet

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
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
	mu     sync.Mutex
	addrs  map[int32][]netip.Prefix // by ifindex: IPv4 in the order added, IPv6 as insertAddr orders them
	auto   map[int32]netip.Addr     // the automatic link-local address of an interface (addr.go)
	neigh  map[int32]map[netip.Addr]*neighbour
	pings  map[uint32]pendingPing   // by ident<<16 | seq
	pmtu   map[netip.Addr]pmtuEntry // path MTU exceptions (frag.go)
	reasm  map[reasmKey]*reasm      // datagrams being reassembled
	reasm6 map[frag6Key]*frag6Queue // IPv6 datagrams being reassembled (frag6.go)
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
}

// neighbour is one ARP entry.
type neighbour struct {
	hw      header.HWAddr
	state   uint16 // NUD_*
	updated time.Time
	waiters []chan struct{}
	// queue holds the locally generated datagrams waiting for the
	// address (arp_queue), qbytes their length in bytes; probes counts
	// the solicitations sent by timer, the retransmission timer while
	// resolving (neigh->timer), and psrc the solicitations' source.
	queue  [][]byte
	qbytes int
	probes int
	timer  verbs.Timer
	psrc   netip.Addr
}

// unresQlenBytes is unres_qlen_bytes (SK_WMEM_MAX, 212992): the bytes a
// neighbour being resolved queues before it drops the oldest datagram.
// The driver counts datagram bytes, not skb truesize.
const unresQlenBytes = 212992

// maxProbes is the broadcast solicitations of a resolution: an
// INCOMPLETE entry starts at ucast_probes (3) and fails at
// neigh_max_probes, ucast_probes + app_probes + mcast_probes (3 + 0 + 3).
const maxProbes = 3

// Neighbour states (include/uapi/linux/neighbour.h).
const (
	nudIncomplete = 0x01
	nudReachable  = 0x02
	nudStale      = 0x04
	nudFailed     = 0x20
)

// reachableTime is base_reachable_time (30 s) before an entry goes stale.
const reachableTime = 30 * time.Second

// New returns an empty stack whose timers and time run on clock.
func New(clock verbs.Clock) *Stack {
	return &Stack{addrs: map[int32][]netip.Prefix{}, neigh: map[int32]map[netip.Addr]*neighbour{},
		pings: map[uint32]pendingPing{}, now: clock.Now, clock: clock,
		nics: map[int32]*NIC{}}
}

// addrOn returns the interface's first IPv4 address.
func (s *Stack) addrOn(index int32) (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.addrs[index] {
		if p.Addr().Is4() {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
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

// learn records a neighbour's address, wakes whoever waits for it and
// sends the datagrams queued for it on nic (neigh_update's arp_queue
// flush).
func (s *Stack) learn(nic *NIC, ip netip.Addr, hw header.HWAddr) {
	for _, q := range s.update(nic.index, ip, hw) {
		s.xmit(nic, ip, hw, q)
	}
}

// update marks the entry reachable at hw and returns its queue.
func (s *Stack) update(index int32, ip netip.Addr, hw header.HWAddr) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(index, ip)
	e.hw, e.state, e.updated = hw, nudReachable, s.now()
	for _, w := range e.waiters {
		close(w)
	}
	e.waiters = nil
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	q := e.queue
	e.queue, e.qbytes, e.probes = nil, 0, 0
	return q
}

// output sends a locally generated IPv4 or IPv6 datagram from src to the
// on-link neighbour dst (neigh_resolve_output): at once when its address
// is known; otherwise the datagram waits in the entry's queue, the
// oldest dropped beyond unres_qlen_bytes, while the entry solicits the
// address once a second (__neigh_event_send, neigh_timer_handler).
// The queue goes out when the address comes (learn) and is dropped when
// maxProbes solicitations went unanswered. It never blocks.
func (s *Stack) output(nic *NIC, src, dst netip.Addr, ip []byte) {
	index := nic.index
	s.mu.Lock()
	e := s.entry(index, dst)
	if e.state == nudReachable {
		hw := e.hw
		s.mu.Unlock()
		s.xmit(nic, dst, hw, ip)
		return
	}
	for len(e.queue) > 0 && e.qbytes+len(ip) > unresQlenBytes {
		e.qbytes -= len(e.queue[0])
		e.queue = e.queue[1:]
		nic.link.DropTx(1)
	}
	e.queue = append(e.queue, ip)
	e.qbytes += len(ip)
	start := s.startProbingLocked(index, src, dst, e)
	s.mu.Unlock()
	if start {
		s.sendProbe(nic, src, dst)
	}
}

// startProbingLocked starts resolving an entry that is not being resolved
// (INCOMPLETE, its first solicitation from src, the retransmission timer
// armed) and reports whether it did: the caller then sends that first
// solicitation, outside the lock. Caller holds mu.
func (s *Stack) startProbingLocked(index int32, src, dst netip.Addr, e *neighbour) bool {
	if e.timer != nil {
		return false
	}
	e.state, e.probes, e.psrc = nudIncomplete, 1, src
	e.timer = s.clock.AfterFunc(probeInterval, func() { s.probe(index, dst, e) })
	return true
}

// entry returns the interface's entry for ip, creating it. Caller holds
// mu.
func (s *Stack) entry(index int32, ip netip.Addr) *neighbour {
	t := s.neigh[index]
	if t == nil {
		t = map[netip.Addr]*neighbour{}
		s.neigh[index] = t
	}
	e := t[ip]
	if e == nil {
		e = &neighbour{}
		t[ip] = e
	}
	return e
}

// probe is an entry's retransmission timer while it resolves: another
// solicitation, or, after maxProbes, NUD_FAILED and the queue dropped
// (neigh_invalidate).
func (s *Stack) probe(index int32, dst netip.Addr, e *neighbour) {
	s.mu.Lock()
	if s.neigh[index][dst] != e || e.timer == nil {
		s.mu.Unlock()
		return // resolved, or the interface went away
	}
	if e.probes >= maxProbes {
		dropped := len(e.queue)
		e.state, e.timer, e.queue, e.qbytes, e.probes = nudFailed, nil, nil, 0, 0
		for _, w := range e.waiters {
			close(w) // they find the entry failed
		}
		e.waiters = nil
		s.mu.Unlock()
		if nic := s.nicOf(index); nic != nil {
			nic.link.DropTx(uint64(dropped))
		}
		return
	}
	e.probes++
	e.timer = s.clock.AfterFunc(probeInterval, func() { s.probe(index, dst, e) })
	src := e.psrc
	s.mu.Unlock()
	if nic := s.nicOf(index); nic != nil {
		s.sendProbe(nic, src, dst)
	}
}

// sendProbe broadcasts an ARP request or sends a neighbour solicitation.
func (s *Stack) sendProbe(nic *NIC, src, dst netip.Addr) {
	if dst.Is4() {
		var bcast header.HWAddr
		s.sendARP(nic, header.ARPRequest, src, bcast, dst, true)
	} else {
		s.solicit(nic, src, dst)
	}
}

// xmit sends a locally generated datagram to dst at hw as the kernel's
// output path does: fragmented to the path MTU (the interface's, lowered
// by a cached exception); a datagram too big for the transport (the
// driver's emulated ICMP "fragmentation needed" / "packet too big")
// lowers the path MTU, so that the next one is fragmented to fit.
func (s *Stack) xmit(nic *NIC, dst netip.Addr, hw header.HWAddr, ip []byte) {
	mtu := int(s.mtuTo(dst, nic.link.MTU()))
	var err error
	if dst.Is4() {
		err = s.sendIPv4(nic, header.IPv4(ip), hw, mtu)
	} else {
		err = s.sendIPv6(nic, header.IPv6(ip), hw, mtu)
	}
	var tb TooBig
	if errors.As(err, &tb) {
		s.setPMTU(dst, tb.TooBigMTU())
	}
}

// input handles one received IPoIB packet on nic.
func (s *Stack) input(nic *NIC, src header.HWAddr, pkt header.IPoIB) {
	if !pkt.Valid() {
		nic.link.DropRx(1)
		return
	}
	index := nic.index
	switch pkt.Type() {
	case header.EtherTypeARP:
		a := header.ARP(pkt.Payload())
		if !a.Valid() {
			nic.link.DropRx(1)
			return
		}
		sip := netip.AddrFrom4(a.SenderIP())
		s.learn(nic, sip, a.SenderHWAddr())
		tip := netip.AddrFrom4(a.TargetIP())
		if a.Op() == header.ARPRequest && s.Owns(index, tip) {
			s.sendARP(nic, header.ARPReply, tip, a.SenderHWAddr(), sip, false)
		}
	case header.EtherTypeIPv4:
		s.inputIPv4(nic, header.IPv4(pkt.Payload()))
	case header.EtherTypeIPv6:
		s.inputIPv6(nic, header.IPv6(pkt.Payload()))
	}
}

func (s *Stack) inputIPv4(nic *NIC, ip header.IPv4) {
	if !ip.Valid() || !ip.IsChecksumValid() {
		return
	}
	// Only local delivery reassembles (ip_local_deliver → ip_defrag): a
	// host does not forward.
	dst := netip.AddrFrom4(ip.DestinationAddress())
	if !s.Owns(nic.index, dst) {
		return
	}
	if ip.MoreFragments() || ip.FragmentOffset() != 0 {
		if ip = s.reassemble(nic.index, ip); ip == nil {
			return
		}
	}
	if ip.Protocol() != header.ProtocolICMPv4 {
		return
	}
	// icmp_rcv validates the checksum before it looks at the type: a
	// message of any type that fails is dropped (InCsumErrors and
	// InErrors, counters the driver does not model).
	m := header.ICMPv4(ip.Payload())
	if !m.Valid() || !m.IsChecksumValid() {
		return
	}
	src := netip.AddrFrom4(ip.SourceAddress())
	switch m.Type() {
	case header.ICMPv4Echo:
		// icmp_reply: the reply goes out as any locally generated
		// datagram (output), DF clear (the ICMP socket's
		// IP_PMTUDISC_DONT) and fragmented to the path MTU, its
		// source's address resolved first when the stack does not know
		// it (the peer may have changed its address since it last
		// ARPed).
		buf := make([]byte, int(ip.TotalLength()))
		n := header.EncodeICMPv4Echo(buf, header.IPv4Fields{TTL: 64, Src: dst.As4(), Dst: src.As4(), ID: ip.ID()},
			header.ICMPv4EchoReply, m.Ident(), m.Sequence(), m.Payload())
		if n > 0 {
			s.output(nic, dst, src, buf[:n])
		}
	case header.ICMPv4EchoReply:
		s.deliverReply(m.Ident(), m.Sequence(), pingResult{reply: true, ttl: ip.TTL(), bytes: len(m), from: src})
	case header.ICMPv4TimeExceeded:
		if m.Code() == header.ICMPv4ReassemblyTimeout {
			s.timeExceeded(src, m.Payload())
		}
	}
}

// sendARP sends an ARP request (broadcast) or reply (unicast).
func (s *Stack) sendARP(nic *NIC, op uint16, spa netip.Addr, tha header.HWAddr, tpa netip.Addr, bcast bool) {
	buf := make([]byte, header.IPoIBHeaderLen+header.ARPSize)
	header.IPoIB(buf).Encode(header.EtherTypeARP)
	header.EncodeARP(buf[header.IPoIBHeaderLen:], op, nic.link.LinkAddress(), spa.As4(), tha, tpa.As4())
	dst := tha
	if bcast {
		dst = nic.link.Broadcast()
	}
	_ = nic.link.WritePacket(buf, dst)
}

// Forget drops an unregistered interface's addresses and neighbours.
func (s *Stack) Forget(index int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.addrs, index)
	delete(s.auto, index)
	delete(s.neigh, index)
}

// secondary4 reports whether IPv4 prefix p is a secondary address: one
// listed before it (earlier) is in the same subnet with the same mask.
// The kernel flags the later addresses of a subnet IFA_F_SECONDARY when
// they are added (__inet_insert_ifa); since a primary always precedes
// its secondaries and takes them along when deleted, the order tells.
func secondary4(earlier []netip.Prefix, p netip.Prefix) bool {
	if !p.Addr().Is4() {
		return false
	}
	for _, q := range earlier {
		if sameSubnet4(q, p) {
			return true
		}
	}
	return false
}

// sameSubnet4 reports whether q is an IPv4 address with p's mask and
// subnet (inet_ifa_match with equal masks).
func sameSubnet4(q, p netip.Prefix) bool {
	return q.Addr().Is4() && q.Bits() == p.Bits() && q.Masked() == p.Masked()
}

// deleteAddr4 removes list[i]; deleting a primary IPv4 address removes its
// secondaries too (__inet_del_ifa with promote_secondaries 0, the
// kernel's default).
func deleteAddr4(list []netip.Prefix, i int) []netip.Prefix {
	p := list[i]
	primary := p.Addr().Is4() && !secondary4(list[:i], p)
	out := make([]netip.Prefix, 0, len(list)-1)
	for j, q := range list {
		switch {
		case j == i:
		case primary && j > i && sameSubnet4(q, p):
		default:
			out = append(out, q)
		}
	}
	return out
}

// Neighbour is one entry of the neighbour table as ip neigh shows it.
type Neighbour struct {
	Addr  netip.Addr
	State uint16        // NUD_*
	HW    header.HWAddr // valid when reachable or stale
}

// Neighbours lists the interface's neighbour table, sorted by address:
// reachable entries older than the reachable time read as stale, as the
// kernel's timers would make them.
func (s *Stack) Neighbours(index int32) []Neighbour {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.neigh[index]
	out := make([]Neighbour, 0, len(t))
	for ip, e := range t {
		st := e.state
		if st == nudReachable && s.now().Sub(e.updated) > reachableTime {
			st = nudStale
		}
		out = append(out, Neighbour{Addr: ip, State: st, HW: e.hw})
	}
	slices.SortFunc(out, func(a, b Neighbour) int { return a.Addr.Compare(b.Addr) })
	return out
}
