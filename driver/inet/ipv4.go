package inet

import (
	"net/netip"

	"github.com/ibctl/ibctl/driver/header"
)

// IPv4 input over IPoIB (RFC 4391 §4–5): ARP with 20-byte hardware
// addresses, and ICMP echo and errors for the addresses of the interface.

// inputIPv4 handles a received IPv4 datagram: one addressed to the
// interface is reassembled if fragmented, then ICMP echo requests are
// answered and replies and time-exceeded errors go to the waiting ping.
func (s *Stack) inputIPv4(nic *NIC, ip header.IPv4) {
	if !ip.Valid() || !ip.IsChecksumValid() {
		return
	}
	// Only local delivery reassembles (ip_local_deliver → ip_defrag): a
	// host does not forward.
	dst := netip.AddrFrom4(ip.DestinationAddress())
	up := s.upperOf(nic.index)
	if !s.Owns(nic.index, dst) {
		// Not one of the interface's addresses: a group, a broadcast,
		// or another host's, which an upper stack may forward (or own
		// on another of its devices), as the kernel's ip_rcv_finish
		// decides; this stack does not route.
		if up != nil {
			deliverUp(nic, up, ip[:ip.TotalLength()])
		}
		return
	}
	if ip.MoreFragments() || ip.FragmentOffset() != 0 {
		if ip = s.reassemble(nic.index, ip); ip == nil {
			return
		}
	}
	if up != nil && !s.keeps4(nic.index, ip) {
		deliverUp(nic, up, ip[:ip.TotalLength()])
		return
	}
	if ip.Protocol() == header.ProtocolUDP {
		s.inputUDP4(nic.index, ip)
		return
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
func (s *Stack) sendARP(nic *NIC, op uint16, spa netip.Addr, tha header.HWAddr, tpa netip.Addr, dst header.HWAddr) {
	buf := make([]byte, header.IPoIBHeaderLen+header.ARPSize)
	header.IPoIB(buf).Encode(header.EtherTypeARP)
	header.EncodeARP(buf[header.IPoIBHeaderLen:], op, nic.link.LinkAddress(), spa.As4(), tha, tpa.As4())
	_ = nic.link.WritePacket(buf, dst)
}
