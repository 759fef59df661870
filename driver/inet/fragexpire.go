package inet

import (
	"net/netip"

	"github.com/ibctl/ibctl/driver/header"
)

// Reassembly expiry, as the kernel's queue timers do it (ip_fragment.c
// ip_expire; include/net/ipv6_frag.h ip6frag_expire_frag_queue): a queue
// still incomplete ipfrag_time (IPv4, 30 s) or ip6frag_time (IPv6, 60 s)
// after its first fragment arrived is killed and its fragments freed. If
// the fragment with offset 0 was among them, the first fragment goes back
// to the source quoted in an ICMP Time Exceeded, code "fragment reassembly
// time exceeded" (IPv4 type 11 code 1, at most 548 bytes quoted; IPv6
// type 3 code 1, at most 1232), sent through the interface the latest
// fragment came in on, from the address it was sent to, by the normal
// output path (icmp_send → ip_output → neigh_output; icmp6_send →
// ip6_output): a neighbour that is not known is resolved first, the
// error waiting in its queue. An interface that is gone or down sends
// nothing. The kernel's ReasmTimeout and ReasmFails
// counters are not modelled, nor is the ICMP rate limit (one error per
// queue stays far below it).

// expire is an IPv4 queue's timer: ip_expire.
func (s *Stack) expire(k reasmKey, r *reasm) {
	s.mu.Lock()
	if s.reasm[k] != r {
		s.mu.Unlock()
		return // completed first (INET_FRAG_COMPLETE)
	}
	s.kill4(k, r)
	var head []byte
	if r.first {
		for _, f := range r.frags {
			if f.off == 0 {
				head = append(append([]byte(nil), r.hdr...), f.data...)
			}
		}
	}
	r.frags, r.runs, r.hdr = nil, nil, nil
	iif := r.iif
	s.mu.Unlock()
	if head == nil || icmpError(head) {
		return // the first fragment never came, or it is an ICMP error: no ICMP
	}
	ip := header.IPv4(head)
	src, dst := ip.DestinationAddress(), ip.SourceAddress()
	nic := s.nicOf(iif)
	if nic == nil {
		return
	}
	buf := make([]byte, header.IPv4MinMTU)
	if n := header.EncodeICMPv4Error(buf, src, dst, header.ICMPv4TimeExceeded, header.ICMPv4ReassemblyTimeout, 0,
		head, header.ICMPv4KernelMaxQuote); n > 0 {
		s.output(nic, netip.AddrFrom4(src), netip.AddrFrom4(dst), buf[:n])
	}
}

// expire6 is an IPv6 queue's timer: ip6frag_expire_frag_queue.
func (s *Stack) expire6(k frag6Key, q *frag6Queue) {
	s.mu.Lock()
	if s.reasm6[k] != q {
		s.mu.Unlock()
		return
	}
	s.kill6(k, q)
	var head []byte
	if q.first {
		for _, f := range q.frags {
			if f.off == 0 {
				head = append(append(append([]byte(nil), q.hdr[:]...), q.fh[:]...), f.data...)
			}
		}
	}
	q.frags, q.runs = nil, nil
	iif := q.iif
	s.mu.Unlock()
	if head == nil || icmpError(head) {
		return
	}
	ip := header.IPv6(head)
	src, dst := ip.DestinationAddress(), ip.SourceAddress()
	nic := s.nicOf(iif)
	if nic == nil {
		return
	}
	buf := make([]byte, header.IPv6MinMTU)
	if n := header.EncodeICMPv6Error(buf, src, dst, header.ICMPv6TimeExceeded, header.ICMPv6ReassemblyTimeout, 0, head); n > 0 {
		s.output(nic, netip.AddrFrom16(src), netip.AddrFrom16(dst), buf[:n])
	}
}

// timeExceeded hands an ICMP time exceeded in reassembly to the ping
// whose echo request it quotes, as the ping socket's error queue does
// (icmp_unreach → ping_err; icmpv6_notify skips a Fragment header at
// offset 0): the quote must hold the request's header, and its
// destination must be the ping's.
func (s *Stack) timeExceeded(from netip.Addr, quoted []byte) {
	var dst netip.Addr
	var echo []byte
	if from.Is4() {
		if len(quoted) < header.IPv4MinHeaderLen || quoted[0]>>4 != 4 {
			return
		}
		hl := header.IPv4(quoted).HeaderLength()
		if hl < header.IPv4MinHeaderLen || len(quoted) < hl+header.ICMPv4MinHeaderLen ||
			header.IPv4(quoted).Protocol() != header.ProtocolICMPv4 || header.IPv4(quoted).FragmentOffset() != 0 {
			return
		}
		dst = netip.AddrFrom4(header.IPv4(quoted).DestinationAddress())
		if echo = quoted[hl:]; echo[0] != header.ICMPv4Echo {
			return
		}
	} else {
		if len(quoted) < header.IPv6HeaderLen || quoted[0]>>4 != 6 {
			return
		}
		ip := header.IPv6(quoted)
		nh, rest := ip.NextHeader(), quoted[header.IPv6HeaderLen:]
		if nh == header.ProtocolIPv6Fragment {
			fh := header.IPv6Fragment(rest)
			if !fh.Valid() || fh.FragmentOffset() != 0 {
				return
			}
			nh, rest = fh.NextHeader(), fh.Payload()
		}
		if nh != header.ProtocolICMPv6 || len(rest) < header.ICMPv6MinHeaderLen || rest[0] != header.ICMPv6EchoRequest {
			return
		}
		dst, echo = netip.AddrFrom16(ip.DestinationAddress()), rest
	}
	m := header.ICMPv4(echo) // ident and sequence sit alike in both
	key := uint32(m.Ident())<<16 | uint32(m.Sequence())
	s.mu.Lock()
	p, ok := s.pings[key]
	if ok && p.dst == dst {
		delete(s.pings, key)
	}
	s.mu.Unlock()
	if ok && p.dst == dst {
		p.ch <- pingResult{reasmTimeout: true, from: from}
	}
}
