package inet

import (
	"errors"
	"net/netip"

	"github.com/ibctl/ibctl/driver/header"
)

// An upper stack is another host stack above an interface, which takes
// this one's place for the datagrams the interface receives and sends —
// the kernel's, in a node's network namespace, reached through a layer-3
// TUN device. That device has no neighbour layer (ARPHRD_INFINIBAND over
// TUN carries no 20-byte addresses, and the kernel does no ARP there), so
// this stack stays the interface's neighbour layer: it answers ARP and
// neighbour solicitations for the interface's addresses, resolves the
// next hop of what the upper stack sends, and reports a packet the link
// cannot carry to the upper stack as the kernel's IPoIB driver does, with
// an ICMP "fragmentation needed" or "packet too big" delivered locally.
// What this stack's own tools await (an echo reply to its own ping, a UDP
// datagram for one of its sinks) stays here.

// Upper receives an IPv4 or IPv6 datagram for the upper stack; the slice
// is only borrowed for the call. It reports whether the upper stack took
// the datagram: false when it had no room for it (a full backlog, as
// enqueue_to_backlog drops), which the stack counts as a receive drop of
// the interface, as the kernel counts it in the device's rx_dropped.
type Upper func(ip []byte) bool

// deliverUp gives a received datagram to the interface's upper stack,
// counting it dropped when the upper stack had no room.
func deliverUp(nic *NIC, up Upper, ip []byte) {
	if !up(ip) {
		nic.link.DropRx(1)
	}
}

// SetUpper puts up above the interface; nil takes it away.
func (s *Stack) SetUpper(index int32, up Upper) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if up == nil {
		delete(s.uppers, index)
		return
	}
	s.uppers[index] = up
}

// upperOf returns the interface's upper stack, nil without one.
func (s *Stack) upperOf(index int32) Upper {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uppers[index]
}

// ownPing reports whether an echo reply answers one of this stack's own
// echo requests.
func (s *Stack) ownPing(ident, seq uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.pings[uint32(ident)<<16|uint32(seq)]
	return ok
}

// ownUDP reports whether a UDP datagram goes to one of this stack's sinks
// on the interface.
func (s *Stack) ownUDP(index int32, udp []byte) bool {
	m := s.udp.Load()
	if m == nil || len(udp) < 8 {
		return false
	}
	u := (*m)[uint16(udp[2])<<8|uint16(udp[3])]
	return u != nil && u.index == index
}

// keeps4 reports whether a whole IPv4 datagram addressed to the
// interface is one this stack awaits.
func (s *Stack) keeps4(index int32, ip header.IPv4) bool {
	switch ip.Protocol() {
	case header.ProtocolUDP:
		return s.ownUDP(index, ip.Payload())
	case header.ProtocolICMPv4:
		m := header.ICMPv4(ip.Payload())
		return m.Valid() && m.Type() == header.ICMPv4EchoReply && s.ownPing(m.Ident(), m.Sequence())
	}
	return false
}

// keeps6 reports whether an IPv6 packet is one this stack handles: the
// neighbour discovery it does for the interface, and the replies to its
// own pings.
func (s *Stack) keeps6(ip header.IPv6) bool {
	if ip.NextHeader() != header.ProtocolICMPv6 {
		return false
	}
	m := header.ICMPv6(ip.Payload())
	if !m.Valid() {
		return false
	}
	switch m.Type() {
	case header.ICMPv6NeighborSolicit, header.ICMPv6NeighborAdvert:
		return true
	case header.ICMPv6EchoReply:
		return s.ownPing(m.Ident(), m.Sequence())
	}
	return false
}

// Output sends a datagram the upper stack of the interface sent: to the
// next hop its lookup answers (SetUpperLookup) or, without an answer,
// its routes give (SetUpperRoutes), its destination when they give none,
// resolved first when unknown; to the mapped group for a multicast
// destination and to the broadcast address for IPv4's broadcasts. A
// datagram larger than the path MTU this stack learnt is not sent: the
// upper stack hears "fragmentation needed" (DF set) or "packet too big",
// as from the link itself. Malformed datagrams are dropped and counted.
func (s *Stack) Output(index int32, pkt []byte) {
	s.output1(index, pkt, nil, 0)
}

// OutputFrame is Output for a datagram that follows
// header.IPoIBHeaderLen bytes of room in frame: the stack takes the frame
// over and writes the encapsulation header in that room, so that the
// datagram reaches the link without a copy. The caller must not use the
// frame afterwards. gso, when not 0, makes the datagram a TCP segment the
// upper stack sent whole (TSO), to go as packets of at most gso bytes of
// TCP payload: whole to a link that takes it (GSOLink) when those packets
// fit the path MTU, else cut here first (ip_finish_output_gso's
// slow path), each packet then sent, fragmented or refused as any other.
func (s *Stack) OutputFrame(index int32, frame []byte, gso int) {
	if len(frame) < header.IPoIBHeaderLen {
		if nic := s.nicOf(index); nic != nil {
			nic.link.DropTx(1)
		}
		return
	}
	s.output1(index, frame[header.IPoIBHeaderLen:], frame, gso)
}

// output1 is Output with the datagram's frame, nil when it has none, and
// its GSO size, 0 when it has none.
func (s *Stack) output1(index int32, pkt, frame []byte, gso int) {
	nic := s.nicOf(index)
	if nic == nil {
		return
	}
	src, dst, ok := addrsOf(pkt)
	if !ok {
		nic.link.DropTx(1)
		return
	}
	hw, group := s.groupAddr(nic, index, dst)
	mtu := s.mtuTo(dst, nic.link.MTU())
	if gso > 0 && (group || !gsoFits(pkt, gso, mtu)) {
		s.outputSegments(index, pkt, gso)
		return
	}
	if group {
		_ = s.writeIP(nic, pkt, hw)
		return
	}
	if gso == 0 && len(pkt) > int(mtu) && (dst.Is6() || header.IPv4(pkt).DontFragment()) {
		s.tooBigUp(index, pkt, mtu)
		return
	}
	s.outputUpper(nic, src, dst, pkt, frame, gso)
}

// gsoFits reports whether the packets a TCP segment is cut into at gso
// fit mtu (skb_gso_validate_network_len: IP and TCP headers and gso
// bytes); false when pkt is not a TCP segment.
func gsoFits(pkt []byte, gso int, mtu uint32) bool {
	ipLen, tcpLen, ok := header.TCPHeaderLens(pkt)
	return ok && ipLen+tcpLen+gso <= int(mtu)
}

// outputSegments cuts a TCP segment into packets of at most gso bytes of
// TCP payload (skb_gso_segment) and outputs each; one that is not a TCP
// segment is dropped.
func (s *Stack) outputSegments(index int32, pkt []byte, gso int) {
	segs, ok := header.SegmentTCP(pkt, gso, header.IPoIBHeaderLen)
	if !ok {
		if nic := s.nicOf(index); nic != nil {
			nic.link.DropTx(1)
		}
		return
	}
	for _, seg := range segs {
		s.output1(index, seg[header.IPoIBHeaderLen:], seg, 0)
	}
}

// writeGSO sends a TCP segment to hw as packets of at most gso bytes of
// TCP payload: whole to a link with segmentation offload, else cut here
// (frame as sendIPv4's).
func (s *Stack) writeGSO(nic *NIC, ip, frame []byte, hw header.HWAddr, gso int) error {
	typ := header.EtherTypeIPv4
	if ip[0]>>4 == 6 {
		typ = header.EtherTypeIPv6
	}
	if l, ok := nic.link.(GSOLink); ok {
		return l.WritePacketGSO(encap(typ, ip, frame), hw, gso)
	}
	segs, ok := header.SegmentTCP(ip, gso, header.IPoIBHeaderLen)
	if !ok {
		nic.link.DropTx(1)
		return nil
	}
	for _, seg := range segs {
		header.IPoIB(seg).Encode(typ)
		if err := nic.link.WritePacket(seg, hw); err != nil {
			return err
		}
	}
	return nil
}

// groupAddr maps a multicast or broadcast destination to its link
// address.
func (s *Stack) groupAddr(nic *NIC, index int32, dst netip.Addr) (header.HWAddr, bool) {
	if dst.IsMulticast() {
		return MulticastLinkAddr(nic.link.Broadcast(), dst), true
	}
	if dst.Is4() && (dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || s.isBroadcast(index, dst)) {
		return nic.link.Broadcast(), true
	}
	return header.HWAddr{}, false
}

// isBroadcast reports whether dst is the broadcast address of one of the
// interface's IPv4 subnets.
func (s *Stack) isBroadcast(index int32, dst netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.addrs[index] {
		if p.Addr().Is4() && p.Bits() < 31 && lastAddr(p) == dst {
			return true
		}
	}
	return false
}

// lastAddr is the highest address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(b)
}

// writeIP sends an IP datagram as it is, with the encapsulation header.
func (s *Stack) writeIP(nic *NIC, pkt []byte, hw header.HWAddr) error {
	buf := make([]byte, header.IPoIBHeaderLen+len(pkt))
	typ := header.EtherTypeIPv4
	if pkt[0]>>4 == 6 {
		typ = header.EtherTypeIPv6
	}
	header.IPoIB(buf).Encode(typ)
	copy(buf[header.IPoIBHeaderLen:], pkt)
	return nic.link.WritePacket(buf, hw)
}

// encap returns the IPoIB packet of ip with the EtherType typ: in frame,
// whose room in front of ip takes the header, when there is one, else in
// a new buffer.
func encap(typ uint16, ip, frame []byte) []byte {
	if frame == nil {
		frame = make([]byte, header.IPoIBHeaderLen+len(ip))
		copy(frame[header.IPoIBHeaderLen:], ip)
	}
	pkt := frame[:header.IPoIBHeaderLen+len(ip)]
	header.IPoIB(pkt).Encode(typ)
	return pkt
}

// addrsOf returns a datagram's source and destination.
func addrsOf(pkt []byte) (src, dst netip.Addr, ok bool) {
	if len(pkt) == 0 {
		return src, dst, false
	}
	switch pkt[0] >> 4 {
	case 4:
		ip := header.IPv4(pkt)
		if !ip.Valid() {
			return src, dst, false
		}
		return netip.AddrFrom4(ip.SourceAddress()), netip.AddrFrom4(ip.DestinationAddress()), true
	case 6:
		ip := header.IPv6(pkt)
		if !ip.Valid() {
			return src, dst, false
		}
		return netip.AddrFrom16(ip.SourceAddress()), netip.AddrFrom16(ip.DestinationAddress()), true
	}
	return src, dst, false
}

// tooBigUp tells the upper stack that pkt does not fit in mtu, with the
// error the kernel's IPoIB driver sends itself (EncodeFragNeeded,
// EncodePacketTooBig: from and to the datagram's own source).
func (s *Stack) tooBigUp(index int32, pkt []byte, mtu uint32) {
	up := s.upperOf(index)
	if up == nil {
		return
	}
	if icmpError(pkt) {
		return
	}
	buf := make([]byte, header.IPv6MinMTU)
	var n int
	if pkt[0]>>4 == 4 {
		ip := header.IPv4(pkt)
		if ip.FragmentOffset() != 0 {
			return // no errors about non-first fragments
		}
		n = header.EncodeFragNeeded(buf, ip.SourceAddress(), ip.SourceAddress(), uint16(min(mtu, 0xffff)), pkt)
	} else {
		src := header.IPv6(pkt).SourceAddress()
		n = header.EncodePacketTooBig(buf, src, src, mtu, pkt)
	}
	if n > 0 {
		up(buf[:n])
	}
}

// unreachableUp tells the interface's upper stack that the datagrams it
// queued for a neighbour that never answered are lost, as the kernel's
// neighbour layer does when it gives up (neigh_invalidate): ARP's
// arp_error_report sends ICMP "host unreachable", neighbour discovery's
// ndisc_error_report ICMPv6 "address unreachable", each quoting its
// datagram. The error comes from the datagram's source when that is the
// interface's address (a local sender's own, as __icmp_send's route
// lookup picks it), else from the interface's first address of the
// family (a forwarded datagram's router). The stack's own echo requests
// never wait in a queue (Echo resolves first), so their pings hear it
// alone.
func (s *Stack) unreachableUp(index int32, queue []queued) {
	up := s.upperOf(index)
	if up == nil {
		return
	}
	buf := make([]byte, header.IPv6MinMTU)
	for _, q := range queue {
		pkt := q.ip
		src, _, ok := addrsOf(pkt)
		if !ok || icmpError(pkt) {
			continue
		}
		from := src
		if !s.Owns(index, src) {
			if from, ok = s.firstAddr(index, src.Is4()); !ok {
				continue
			}
		}
		var n int
		if src.Is4() {
			if header.IPv4(pkt).FragmentOffset() != 0 {
				continue // no errors about non-first fragments
			}
			n = header.EncodeICMPv4Error(buf, from.As4(), src.As4(), header.ICMPv4DstUnreachable,
				header.ICMPv4HostUnreachable, 0, pkt, header.ICMPv4KernelMaxQuote)
		} else {
			n = header.EncodeICMPv6Error(buf, from.As16(), src.As16(), header.ICMPv6DstUnreachable,
				header.ICMPv6AddressUnreachable, 0, pkt)
		}
		if n > 0 {
			up(buf[:n])
		}
	}
}

// icmpError reports whether a valid IP datagram is an ICMP error
// message, about which no error is sent (RFC 1122 3.2.2): for IPv4 the
// types __icmp_send takes as errors (icmp_pointers' error flag: 3, 4, 5,
// 11, 12) and any unknown type (above NR_ICMP_TYPES, 18), a message too
// short to hold its type counting as one; for IPv6 every type below 128
// after the extension headers (icmp6_send's is_ineligible, through
// ipv6_skip_exthdr): headers that cannot be stepped over, and a later
// fragment, make it eligible, and so does a fragment too short to hold
// the type, where an unfragmented one is not.
//
// The payload is taken as the header announces it, cut at the end of
// pkt: a reassembly queue's first fragment is quoted as it came.
func icmpError(pkt []byte) bool {
	if pkt[0]>>4 == 6 {
		ip := header.IPv6(pkt)
		m := pkt[header.IPv6HeaderLen:min(header.IPv6HeaderLen+int(ip.PayloadLength()), len(pkt))]
		off, nh, fragOff, ok := header.SkipIPv6ExtHeaders(m, ip.NextHeader())
		switch {
		case !ok || nh != header.ProtocolICMPv6:
			return false
		case off >= len(m):
			return fragOff == 0
		}
		return m[off] < 128
	}
	ip := header.IPv4(pkt)
	if ip.Protocol() != header.ProtocolICMPv4 {
		return false
	}
	m := pkt[ip.HeaderLength():min(int(ip.TotalLength()), len(pkt))]
	if len(m) == 0 {
		return true
	}
	switch m[0] {
	case 3, 4, 5, 11, 12:
		return true
	}
	return m[0] > 18
}

// firstAddr returns the interface's first address of the family.
func (s *Stack) firstAddr(index int32, v4 bool) (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.addrs[index] {
		if p.Addr().Is4() == v4 {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// upperTooBig reports a send that failed as too big to the upper stack of
// the interface, when it has one and the datagram came from it.
func (s *Stack) upperTooBig(nic *NIC, ip []byte, err error) {
	var tb TooBig
	if errors.As(err, &tb) {
		s.tooBigUp(nic.index, ip, tb.TooBigMTU())
	}
}
