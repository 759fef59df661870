package inet

import (
	"net/netip"
	"time"

	"github.com/ibctl/ibctl/driver/header"
)

// IPv6 over IPoIB (RFC 4391 §6–7): neighbour discovery with the 20-byte
// link-layer option, solicitations to the solicited-node multicast group
// (sent after a send-only join), ICMPv6 echo, "packet too big" for
// oversize packets, and fragmentation (frag6.go).

// v6Addrs returns the interface's IPv6 addresses.
func (s *Stack) v6Addrs(index int32) []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []netip.Addr
	for _, p := range s.addrs[index] {
		if p.Addr().Is6() {
			out = append(out, p.Addr())
		}
	}
	return out
}

// MulticastLinkAddr maps a multicast group to its IPoIB address on the
// link with broadcast address bcast (ip_ib_mc_map, ipv6_ib_mc_map): the
// multicast QPN and the group's MGID, with the link's P_Key and scope.
func MulticastLinkAddr(bcast header.HWAddr, g netip.Addr) header.HWAddr {
	if g.Is4() {
		return header.MulticastAddr(header.IPv4MGID(g.As4(), bcast))
	}
	return header.MulticastAddr(header.IPv6MGID(g.As16(), bcast))
}

// inputIPv6 handles ICMPv6: neighbour solicitations and advertisements,
// echo requests and replies, time exceeded in reassembly (fragexpire.go),
// after reassembly of fragments addressed to the interface (frag6.go).
func (s *Stack) inputIPv6(nic *NIC, ip header.IPv6) {
	if !ip.Valid() {
		return
	}
	index := nic.index
	if up := s.upperOf(index); up != nil && !s.keeps6(ip) {
		// What the link delivered is the upper stack's, whether its
		// own, a group it joined or one to forward (ip6_rcv_finish
		// decides).
		deliverUp(nic, up, ip[:header.IPv6HeaderLen+int(ip.PayloadLength())])
		return
	}
	if ip.NextHeader() == header.ProtocolIPv6Fragment {
		if !s.Owns(index, netip.AddrFrom16(ip.DestinationAddress())) {
			return
		}
		if ip = s.reassemble6(index, ip); ip == nil {
			return
		}
	}
	if ip.NextHeader() != header.ProtocolICMPv6 {
		return
	}
	src, dst := ip.SourceAddress(), ip.DestinationAddress()
	m := header.ICMPv6(ip.Payload())
	if !m.Valid() || !m.IsChecksumValid(src, dst) {
		return
	}
	srcIP := netip.AddrFrom16(src)
	switch m.Type() {
	case header.ICMPv6NeighborSolicit:
		target := netip.AddrFrom16(m.TargetAddress())
		if !s.Owns(index, target) {
			return
		}
		sll, found, ok := header.FindLinkLayerOption(m.NDPOptions(), header.NDPOptionSourceLinkLayerAddress)
		if !ok || !found {
			return
		}
		// ndisc_recv_ns makes the asker's entry, STALE, and the
		// advertisement goes out through it as any IPv6 packet
		// (ndisc_send_skb's dst_output): the entry is then in DELAY
		s.neighUpdate(nic, srcIP, neighMsg{hw: sll, state: nudStale, create: true, override: true, weak: true})
		buf := make([]byte, header.IPoIBHeaderLen+header.IPv6HeaderLen+header.NDPMessageLen+header.NDPLinkLayerOptionLen)
		header.IPoIB(buf).Encode(header.EtherTypeIPv6)
		hw := nic.link.LinkAddress()
		n := header.EncodeNeighborAdvert(buf[header.IPoIBHeaderLen:], target.As16(), src, target.As16(),
			header.NAFlagSolicited|header.NAFlagOverride, &hw)
		if n > 0 {
			frame := buf[:header.IPoIBHeaderLen+n]
			s.outputFrame(nic, target, srcIP, frame[header.IPoIBHeaderLen:], frame, 0)
		}
	case header.ICMPv6NeighborAdvert:
		tll, found, ok := header.FindLinkLayerOption(m.NDPOptions(), header.NDPOptionTargetLinkLayerAddress)
		if ok && found {
			// ndisc_recv_na: an existing entry only, and not a
			// FAILED one; reachable when solicited, its address
			// replaced when the override flag is set
			state := uint16(nudStale)
			if m.NAFlags()&header.NAFlagSolicited != 0 {
				state = nudReachable
			}
			s.neighUpdate(nic, netip.AddrFrom16(m.TargetAddress()), neighMsg{hw: tll, state: state,
				override: m.NAFlags()&header.NAFlagOverride != 0, weak: true, keepFailed: true})
		}
	case header.ICMPv6EchoRequest:
		if !s.Owns(index, netip.AddrFrom16(dst)) {
			return
		}
		// The reply goes out as any locally generated packet does
		// (output): its source resolved first when unknown, fragmented
		// to the path MTU; a packet too big for the transport lowers
		// the path MTU (the driver's locally delivered "packet too
		// big").
		buf := make([]byte, header.IPv6HeaderLen+len(m))
		n := header.EncodeICMPv6Echo(buf, header.IPv6Fields{HopLimit: 64, Src: dst, Dst: src},
			header.ICMPv6EchoReply, m.Ident(), m.Sequence(), m.Payload())
		if n == 0 {
			return
		}
		s.output(nic, netip.AddrFrom16(dst), srcIP, buf[:n])
	case header.ICMPv6EchoReply:
		s.deliverReply(m.Ident(), m.Sequence(), pingResult{reply: true, ttl: ip.HopLimit(), bytes: len(m), from: srcIP})
	case header.ICMPv6TimeExceeded:
		if m.Code() == header.ICMPv6ReassemblyTimeout && s.Owns(index, netip.AddrFrom16(dst)) {
			s.timeExceeded(srcIP, m.Payload())
		}
	}
}

// solicit sends a neighbour solicitation for dst to its solicited-node
// group.
func (s *Stack) solicit(nic *NIC, src, dst netip.Addr) {
	snm := netip.AddrFrom16(header.SolicitedNodeAddr(dst.As16()))
	s.solicitTo(nic, src, snm, dst, MulticastLinkAddr(nic.link.Broadcast(), snm))
}

// solicitTo sends a neighbour solicitation for target from src to ip at
// the link-layer address hw.
func (s *Stack) solicitTo(nic *NIC, src, ip, target netip.Addr, hw header.HWAddr) {
	buf := make([]byte, header.IPoIBHeaderLen+header.IPv6HeaderLen+header.NDPMessageLen+header.NDPLinkLayerOptionLen)
	header.IPoIB(buf).Encode(header.EtherTypeIPv6)
	own := nic.link.LinkAddress()
	n := header.EncodeNeighborSolicit(buf[header.IPoIBHeaderLen:], src.As16(), ip.As16(), target.As16(), &own)
	if n > 0 {
		_ = nic.link.WritePacket(buf[:header.IPoIBHeaderLen+n], hw)
	}
}

// probeInterval is the time between neighbour probes (retrans_time).
const probeInterval = time.Second
