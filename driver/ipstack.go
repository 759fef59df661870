package driver

import (
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// ipStack is the node's minimal IPv4 host stack over IPoIB: interface
// addresses, the ARP neighbour table, and ICMP echo (enough for ping). It
// has its own lock so the data path never takes the driver's.
type ipStack struct {
	mu     sync.Mutex
	addrs  map[int32][]netip.Prefix // by ifindex: IPv4 in the order added, IPv6 as insertAddr orders them
	auto   map[int32]netip.Addr     // the automatic link-local address of an interface (addrconf.go)
	neigh  map[int32]map[netip.Addr]*neighbour
	pings  map[uint32]pendingPing   // by ident<<16 | seq
	pmtu   map[netip.Addr]pmtuEntry // path MTU exceptions (frag.go)
	reasm  map[reasmKey]*reasm      // datagrams being reassembled
	reasm6 map[frag6Key]*frag6Queue // IPv6 datagrams being reassembled (frag6.go)
	nextID uint16
	// frag4Mem and frag6Mem are the memory the IPv4 and IPv6 queues
	// hold, against fragHighThresh (fragq.go).
	frag4Mem, frag6Mem int
	// nextFragID is the last IPv6 fragment identification used.
	nextFragID uint32
	now        func() time.Time
	// clock runs the reassembly timers (fragexpire.go).
	clock verbs.Clock
	// dataPath returns an interface's data path, nil when the interface
	// is gone or down; it takes the driver lock, so callers must not hold
	// mu.
	dataPath func(index int32) *dataPath
}

// pendingPing is an echo request waiting for its answer.
type pendingPing struct {
	dst netip.Addr
	ch  chan pingResult
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

func newIPStack(clock verbs.Clock) *ipStack {
	return &ipStack{addrs: map[int32][]netip.Prefix{}, neigh: map[int32]map[netip.Addr]*neighbour{},
		pings: map[uint32]pendingPing{}, now: clock.Now, clock: clock,
		dataPath: func(int32) *dataPath { return nil }}
}

// addrOn returns the interface's first IPv4 address.
func (s *ipStack) addrOn(index int32) (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.addrs[index] {
		if p.Addr().Is4() {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// srcFor returns the interface's source address for dst. IPv4: the
// preferred source of the connected route holding dst, which is the
// first address of that subnet; off every subnet of the interface, the
// kernel assumes dst is on link and takes the first address
// (inet_select_addr). IPv6: what source selection picks (srcFor6).
func (s *ipStack) srcFor(index int32, dst netip.Addr) (netip.Addr, bool) {
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

// owns reports whether ip is an address of the interface.
func (s *ipStack) owns(index int32, ip netip.Addr) bool {
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
// sends the datagrams queued for it on dp (neigh_update's arp_queue
// flush).
func (s *ipStack) learn(dp *dataPath, ip netip.Addr, hw header.HWAddr) {
	for _, q := range s.update(dp.nd.index, ip, hw) {
		s.xmit(dp, ip, hw, q)
	}
}

// update marks the entry reachable at hw and returns its queue.
func (s *ipStack) update(index int32, ip netip.Addr, hw header.HWAddr) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
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
func (s *ipStack) output(dp *dataPath, src, dst netip.Addr, ip []byte) {
	index := dp.nd.index
	s.mu.Lock()
	e := s.entry(index, dst)
	if e.state == nudReachable {
		hw := e.hw
		s.mu.Unlock()
		s.xmit(dp, dst, hw, ip)
		return
	}
	for len(e.queue) > 0 && e.qbytes+len(ip) > unresQlenBytes {
		e.qbytes -= len(e.queue[0])
		e.queue = e.queue[1:]
		dp.stats.txDropped.Add(1)
	}
	e.queue = append(e.queue, ip)
	e.qbytes += len(ip)
	start := e.timer == nil
	if start {
		e.state, e.probes, e.psrc = nudIncomplete, 1, src
		e.timer = s.clock.AfterFunc(probeInterval, func() { s.probe(index, dst, e) })
	}
	s.mu.Unlock()
	if start {
		s.sendProbe(dp, src, dst)
	}
}

// entry returns the interface's entry for ip, creating it. Caller holds
// mu.
func (s *ipStack) entry(index int32, ip netip.Addr) *neighbour {
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
func (s *ipStack) probe(index int32, dst netip.Addr, e *neighbour) {
	s.mu.Lock()
	if s.neigh[index][dst] != e || e.timer == nil {
		s.mu.Unlock()
		return // resolved, or the interface went away
	}
	if e.probes >= maxProbes {
		dropped := len(e.queue)
		e.state, e.timer, e.queue, e.qbytes, e.probes = nudFailed, nil, nil, 0, 0
		s.mu.Unlock()
		if dp := s.dataPath(index); dp != nil {
			dp.stats.txDropped.Add(uint64(dropped))
		}
		return
	}
	e.probes++
	e.timer = s.clock.AfterFunc(probeInterval, func() { s.probe(index, dst, e) })
	src := e.psrc
	s.mu.Unlock()
	if dp := s.dataPath(index); dp != nil {
		s.sendProbe(dp, src, dst)
	}
}

// sendProbe broadcasts an ARP request or sends a neighbour solicitation.
func (s *ipStack) sendProbe(dp *dataPath, src, dst netip.Addr) {
	if dst.Is4() {
		var bcast header.HWAddr
		s.sendARP(dp, header.ARPRequest, src, bcast, dst, true)
	} else {
		s.solicit(dp, src, dst)
	}
}

// xmit sends a locally generated datagram to dst at hw as the kernel's
// output path does: fragmented to the path MTU (the interface's, lowered
// by a cached exception); a datagram too big for the transport (the
// driver's emulated ICMP "fragmentation needed" / "packet too big")
// lowers the path MTU, so that the next one is fragmented to fit.
func (s *ipStack) xmit(dp *dataPath, dst netip.Addr, hw header.HWAddr, ip []byte) {
	mtu := int(s.mtuTo(dst, dp.cfg.Load().mtu))
	var err error
	if dst.Is4() {
		err = s.sendIPv4(dp, header.IPv4(ip), hw, mtu)
	} else {
		err = s.sendIPv6(dp, header.IPv6(ip), hw, mtu)
	}
	var tb *tooBig
	if errors.As(err, &tb) {
		s.setPMTU(dst, tb.mtu)
	}
}

// input handles one received IPoIB packet on dp's interface.
func (s *ipStack) input(dp *dataPath, src header.HWAddr, pkt header.IPoIB) {
	if !pkt.Valid() {
		dp.stats.rxDropped.Add(1)
		return
	}
	index := dp.nd.index
	switch pkt.Type() {
	case header.EtherTypeARP:
		a := header.ARP(pkt.Payload())
		if !a.Valid() {
			dp.stats.rxDropped.Add(1)
			return
		}
		sip := netip.AddrFrom4(a.SenderIP())
		s.learn(dp, sip, a.SenderHWAddr())
		tip := netip.AddrFrom4(a.TargetIP())
		if a.Op() == header.ARPRequest && s.owns(index, tip) {
			s.sendARP(dp, header.ARPReply, tip, a.SenderHWAddr(), sip, false)
		}
	case header.EtherTypeIPv4:
		s.inputIPv4(dp, header.IPv4(pkt.Payload()))
	case header.EtherTypeIPv6:
		s.inputIPv6(dp, header.IPv6(pkt.Payload()))
	}
}

func (s *ipStack) inputIPv4(dp *dataPath, ip header.IPv4) {
	if !ip.Valid() || !ip.IsChecksumValid() {
		return
	}
	// Only local delivery reassembles (ip_local_deliver → ip_defrag): a
	// host does not forward.
	dst := netip.AddrFrom4(ip.DestinationAddress())
	if !s.owns(dp.nd.index, dst) {
		return
	}
	if ip.MoreFragments() || ip.FragmentOffset() != 0 {
		if ip = s.reassemble(dp.nd.index, ip); ip == nil {
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
			s.output(dp, dst, src, buf[:n])
		}
	case header.ICMPv4EchoReply:
		s.deliverReply(m.Ident(), m.Sequence(), pingResult{reply: true, ttl: ip.TTL(), bytes: len(m), from: src})
	case header.ICMPv4TimeExceeded:
		if m.Code() == header.ICMPv4ReassemblyTimeout {
			s.timeExceeded(src, m.Payload())
		}
	}
}

// deliverReply hands an echo reply to the ping waiting for it.
func (s *ipStack) deliverReply(ident, seq uint16, r pingResult) {
	key := uint32(ident)<<16 | uint32(seq)
	s.mu.Lock()
	p, ok := s.pings[key]
	delete(s.pings, key)
	s.mu.Unlock()
	if ok {
		p.ch <- r
	}
}

// sendARP sends an ARP request (broadcast) or reply (unicast).
func (s *ipStack) sendARP(dp *dataPath, op uint16, spa netip.Addr, tha header.HWAddr, tpa netip.Addr, bcast bool) {
	cfg := dp.cfg.Load()
	buf := make([]byte, header.IPoIBHeaderLen+header.ARPSize)
	header.IPoIB(buf).Encode(header.EtherTypeARP)
	header.EncodeARP(buf[header.IPoIBHeaderLen:], op, cfg.hwaddr, spa.As4(), tha, tpa.As4())
	_ = dp.transmit(buf, tha, bcast)
}

// resolve returns the neighbour's hardware address, sending ARP requests
// once a second until it answers or the deadline passes.
func (s *ipStack) resolve(dp *dataPath, src, dst netip.Addr, deadline time.Time) (header.HWAddr, bool) {
	for {
		s.mu.Lock()
		t := s.neigh[dp.nd.index]
		if t == nil {
			t = map[netip.Addr]*neighbour{}
			s.neigh[dp.nd.index] = t
		}
		e := t[dst]
		if e == nil {
			e = &neighbour{state: nudIncomplete}
			t[dst] = e
		}
		if e.state == nudReachable {
			hw := e.hw
			s.mu.Unlock()
			return hw, true
		}
		w := make(chan struct{})
		e.waiters = append(e.waiters, w)
		s.mu.Unlock()
		if dst.Is4() {
			var bcast header.HWAddr
			s.sendARP(dp, header.ARPRequest, src, bcast, dst, true)
		} else {
			s.solicit(dp, src, dst)
		}
		wait := min(time.Second, time.Until(deadline))
		if wait <= 0 {
			s.fail(dp.nd.index, dst)
			return header.HWAddr{}, false
		}
		select {
		case <-w:
		case <-time.After(wait):
			if time.Now().After(deadline) {
				s.fail(dp.nd.index, dst)
				return header.HWAddr{}, false
			}
		}
	}
}

func (s *ipStack) fail(index int32, ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.neigh[index][ip]; e != nil && e.state != nudReachable {
		e.state = nudFailed
	}
}

// pingResult is the outcome of one echo request.
type pingResult struct {
	reply bool
	// reasmTimeout is an ICMP time exceeded in reassembly about the
	// request, from the address from.
	reasmTimeout bool
	ttl          uint8
	bytes        int
	from         netip.Addr
}

// echo sends one echo request and waits for its reply.
func (s *ipStack) echo(dp *dataPath, src, dst netip.Addr, hw header.HWAddr, ident, seq uint16, size int, df bool, mtu int, deadline time.Time) (pingResult, error) {
	ch := make(chan pingResult, 1)
	key := uint32(ident)<<16 | uint32(seq)
	s.mu.Lock()
	s.pings[key] = pendingPing{dst: dst, ch: ch}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pings, key)
		s.mu.Unlock()
	}()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	if dst.Is4() {
		ip := make([]byte, header.IPv4MinHeaderLen+header.ICMPv4MinHeaderLen+size)
		f := header.IPv4Fields{TTL: 64, Src: src.As4(), Dst: dst.As4(), ID: seq}
		if df {
			f.Flags = header.IPv4FlagDontFragment
		}
		if header.EncodeICMPv4Echo(ip, f, header.ICMPv4Echo, ident, seq, data) == 0 {
			return pingResult{}, errorf("ping", "", unix.EMSGSIZE, "")
		}
		if err := s.sendIPv4(dp, header.IPv4(ip), hw, mtu); err != nil {
			return pingResult{}, err
		}
	} else {
		ip := make([]byte, header.IPv6HeaderLen+header.ICMPv6MinHeaderLen+size)
		if header.EncodeICMPv6Echo(ip, header.IPv6Fields{HopLimit: 64, Src: src.As16(), Dst: dst.As16()},
			header.ICMPv6EchoRequest, ident, seq, data) == 0 {
			return pingResult{}, errorf("ping", "", unix.EMSGSIZE, "")
		}
		if err := s.sendIPv6(dp, header.IPv6(ip), hw, mtu); err != nil {
			return pingResult{}, err
		}
	}
	select {
	case r := <-ch:
		return r, nil
	case <-time.After(time.Until(deadline)):
		return pingResult{}, nil
	}
}

// Addrs lists the node's interface addresses (RTM_GETADDR) as an
// AF_UNSPEC dump does: every IPv4 address, then every IPv6 address, each
// family by interface (rtnl_dump_all).
func (n *Node) Addrs() ([]netlinkx.Addr, error) {
	n.d.mu.Lock()
	devs := sortedDevs(n.devs)
	n.d.mu.Unlock()
	n.ip.mu.Lock()
	defer n.ip.mu.Unlock()
	var out []netlinkx.Addr
	for _, v4 := range []bool{true, false} {
		for _, nd := range devs {
			list := n.ip.addrs[nd.index]
			for i, p := range list {
				if p.Addr().Is4() == v4 {
					a := addrMsg(nd, p)
					if secondary4(list[:i], p) {
						a.Flags |= unix.IFA_F_SECONDARY
					}
					out = append(out, a)
				}
			}
		}
	}
	return out, nil
}

func addrMsg(nd *Netdev, p netip.Prefix) netlinkx.Addr {
	a := netlinkx.Addr{Index: nd.index, PrefixLen: uint8(p.Bits()), Local: p.Addr().AsSlice(), Label: nd.name}
	if p.Addr().Is4() {
		a.Family = unix.AF_INET
		a.Scope = unix.RT_SCOPE_UNIVERSE
		if p.Bits() < 31 {
			b := p.Masked().Addr().As4()
			for i := p.Bits(); i < 32; i++ {
				b[i/8] |= 0x80 >> (i % 8)
			}
			a.Broadcast = b[:]
		}
	} else {
		a.Family = unix.AF_INET6
		a.Scope = unix.RT_SCOPE_UNIVERSE
		if p.Addr().IsLinkLocalUnicast() {
			a.Scope = unix.RT_SCOPE_LINK
		}
	}
	return a
}

// AddAddr adds an address (RTM_NEWADDR with NLM_F_EXCL): EEXIST when the
// interface has it already.
func (n *Node) AddAddr(a netlinkx.Addr) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("addr add", a.Index, "")
	if err != nil {
		return err
	}
	ip, ok := netip.AddrFromSlice(a.Local)
	if !ok || (a.Family == unix.AF_INET && (!ip.Is4() || a.PrefixLen > 32)) || (a.Family == unix.AF_INET6 && (!ip.Is6() || a.PrefixLen > 128)) {
		return errorf("addr add", nd.name, unix.EINVAL, "invalid address")
	}
	if ip.Is6() && nd.mtu < header.IPv6MinMTU {
		// no inet6_dev below the IPv6 minimum MTU (ipv6_add_dev)
		return errorf("addr add", nd.name, unix.EINVAL, "")
	}
	p := netip.PrefixFrom(ip, int(a.PrefixLen))
	undo := n.ip.snapshotAddrs([]*Netdev{nd})
	n.ip.mu.Lock()
	for _, q := range n.ip.addrs[nd.index] {
		if q.Addr() == ip {
			n.ip.mu.Unlock()
			return errorf("addr add", nd.name, unix.EEXIST, "")
		}
	}
	n.ip.insertAddr(nd.index, p)
	n.ip.mu.Unlock()
	return n.commitAddrs(nd, undo)
}

// commitAddrs saves nd's changed addresses, restoring them (undo) if that
// fails, and joins or leaves the multicast groups they imply.
func (n *Node) commitAddrs(nd *Netdev, undo func()) error {
	if err := n.persist(nd); err != nil {
		undo()
		return err
	}
	nd.syncMcast()
	return nil
}

// DelAddr removes an address: EADDRNOTAVAIL when the interface lacks it.
func (n *Node) DelAddr(a netlinkx.Addr) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("addr del", a.Index, "")
	if err != nil {
		return err
	}
	ip, _ := netip.AddrFromSlice(a.Local)
	undo := n.ip.snapshotAddrs([]*Netdev{nd})
	n.ip.mu.Lock()
	list := n.ip.addrs[nd.index]
	for i, q := range list {
		if q.Addr() == ip && (a.PrefixLen == 0 || q.Bits() == int(a.PrefixLen)) {
			n.ip.addrs[nd.index] = deleteAddr4(list, i)
			if n.ip.isAuto(nd.index, ip) {
				delete(n.ip.auto, nd.index)
			}
			n.ip.mu.Unlock()
			return n.commitAddrs(nd, undo)
		}
	}
	n.ip.mu.Unlock()
	return errorf("addr del", nd.name, unix.EADDRNOTAVAIL, "")
}

// Neighs lists the ARP table (RTM_GETNEIGH): reachable entries older than
// the reachable time read as stale, as the kernel's timers would make them.
func (n *Node) Neighs() ([]netlinkx.Neigh, error) {
	n.d.mu.Lock()
	devs := sortedDevs(n.devs)
	n.d.mu.Unlock()
	n.ip.mu.Lock()
	defer n.ip.mu.Unlock()
	var out []netlinkx.Neigh
	for _, nd := range devs {
		t := n.ip.neigh[nd.index]
		ips := make([]netip.Addr, 0, len(t))
		for ip := range t {
			ips = append(ips, ip)
		}
		sortAddrs(ips)
		for _, ip := range ips {
			e := t[ip]
			st := e.state
			if st == nudReachable && n.ip.now().Sub(e.updated) > reachableTime {
				st = nudStale
			}
			fam := uint8(unix.AF_INET)
			if ip.Is6() {
				fam = unix.AF_INET6
			}
			m := netlinkx.Neigh{Index: nd.index, Family: fam, State: st, Dst: ip.AsSlice()}
			if st == nudReachable || st == nudStale {
				m.LLAddr = append([]byte(nil), e.hw[:]...)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

func sortAddrs(ips []netip.Addr) {
	for i := 1; i < len(ips); i++ {
		for j := i; j > 0 && ips[j].Less(ips[j-1]); j-- {
			ips[j], ips[j-1] = ips[j-1], ips[j]
		}
	}
}

// forget drops an unregistered interface's addresses and neighbours.
func (s *ipStack) forget(index int32) {
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
