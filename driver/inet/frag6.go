package inet

import (
	"net/netip"
	"time"

	"github.com/ibctl/ibctl/driver/header"
)

// IPv6 fragmentation and reassembly as the kernel does it
// (net/ipv6/ip6_output.c ip6_fragment, net/ipv6/reassembly.c,
// net/ipv4/inet_fragment.c): only the source fragments; every fragment
// but the last carries a multiple of 8 bytes; the receiver queues
// fragments by source, destination, identification (and interface, for
// link-local and multicast destinations) for at most ip6frag_time, and a
// fragment that overlaps another drops the whole datagram (RFC 5722). A
// queue that has not completed when ip6frag_time runs out expires
// (fragexpire.go).

// reasm6Timeout is net.ipv6.ip6frag_time (IPV6_FRAG_TIMEOUT, 60 s).
const reasm6Timeout = 60 * time.Second

// sendIPv6 sends an IPv6 packet (without the encapsulation header) to hw,
// in fragments when it is larger than mtu; frame as sendIPv4's.
func (s *Stack) sendIPv6(nic *NIC, ip header.IPv6, frame []byte, hw header.HWAddr, mtu int) error {
	if len(ip) <= mtu {
		return nic.link.WritePacket(encap(header.EtherTypeIPv6, ip, frame), hw)
	}
	frags, err := fragment6(ip, mtu, s.fragID())
	if err != nil {
		return err
	}
	for _, f := range frags {
		if err := nic.link.WritePacket(f, hw); err != nil {
			return err
		}
	}
	return nil
}

// fragment6 splits ip into encapsulated fragments of at most mtu bytes
// with identification id, as ip6_fragment's slow path (ip6_frag_next)
// does: the fixed header is the unfragmentable part, each fragment but the
// last carries (mtu − 40 − 8) rounded down to a multiple of 8 bytes, the
// last the rest. An mtu without room for 8 bytes of data is EMSGSIZE
// (fail_toobig).
func fragment6(ip header.IPv6, mtu int, id uint32) ([][]byte, error) {
	chunk := (mtu - header.IPv6HeaderLen - header.IPv6FragmentHeaderLen) &^ 7
	if chunk < 8 {
		return nil, &tooBigError{mtu: uint32(max(mtu, 0))}
	}
	payload := ip.Payload()
	const hl = header.IPoIBHeaderLen + header.IPv6HeaderLen + header.IPv6FragmentHeaderLen
	out := make([][]byte, 0, (len(payload)+chunk-1)/chunk)
	for off := 0; off < len(payload); off += chunk {
		end := min(off+chunk, len(payload))
		buf := make([]byte, hl+end-off)
		header.IPoIB(buf).Encode(header.EtherTypeIPv6)
		header.EncodeIPv6(buf[header.IPoIBHeaderLen:], header.IPv6Fields{TrafficClass: ip.TrafficClass(), FlowLabel: ip.FlowLabel(),
			PayloadLength: uint16(header.IPv6FragmentHeaderLen + end - off), NextHeader: header.ProtocolIPv6Fragment,
			HopLimit: ip.HopLimit(), Src: ip.SourceAddress(), Dst: ip.DestinationAddress()})
		header.EncodeIPv6Fragment(buf[header.IPoIBHeaderLen+header.IPv6HeaderLen:], header.IPv6FragmentFields{
			NextHeader: ip.NextHeader(), Offset: uint16(off), More: end < len(payload), ID: id})
		copy(buf[hl:], payload[off:end])
		out = append(out, buf)
	}
	return out, nil
}

// fragID is the next fragment identification. The kernel draws a random
// non-zero one per datagram (ipv6_select_ident); a counter that skips
// zero keeps the emulation deterministic.
func (s *Stack) fragID() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextFragID++
	if s.nextFragID == 0 {
		s.nextFragID = 1
	}
	return s.nextFragID
}

// frag6Key identifies a datagram being reassembled (frag_v6_compare_key).
type frag6Key struct {
	src, dst [16]byte
	id       uint32
	iif      int32 // the interface, for link-local and multicast destinations; else 0
}

// frag6Queue collects the fragments of one datagram (struct frag_queue).
type frag6Queue struct {
	fragQueue
	hdr     [header.IPv6HeaderLen]byte         // the first fragment's fixed header
	fh      [header.IPv6FragmentHeaderLen]byte // and its Fragment header
	nexthdr uint8                              // the first fragment's next header
}

// reassemble6 queues a fragment received on interface iif and returns the
// whole packet, without the Fragment header, once every byte has come
// (nil until then, and for dropped fragments). ip6_frag_queue's rules: a
// last fragment that ends before data already seen, or a second last
// fragment with another end, drops the datagram; a fragment with M set
// must end on a multiple of 8 (else only it is dropped, with the ICMP
// parameter problem left out); an empty fragment, data beyond a known end
// and overlaps drop the datagram (fragQueue.queue). Over the memory limit
// every fragment is dropped (fragq.go). A fragment with offset 0 and M clear
// (an atomic fragment) is the whole packet. A new queue's timer expires
// it ip6frag_time later unless it completed or was dropped.
func (s *Stack) reassemble6(iif int32, ip header.IPv6) header.IPv6 {
	fh := header.IPv6Fragment(ip.Payload())
	if !fh.Valid() {
		return nil
	}
	off, data := int(fh.FragmentOffset()), fh.Payload()
	end := off + len(data)
	if off == 0 && !fh.More() {
		return unfragmented(ip[:header.IPv6HeaderLen], fh.NextHeader(), data)
	}
	if end > 0xffff {
		return nil // IPV6_MAXPLEN: parameter problem
	}
	k := frag6Key{src: ip.SourceAddress(), dst: ip.DestinationAddress(), id: fh.ID()}
	if d := netip.AddrFrom16(k.dst); d.IsLinkLocalUnicast() || d.IsMulticast() {
		k.iif = iif
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frag6Mem > fragHighThresh {
		return nil // inet_frag_find: over ip6frag_high_thresh
	}
	if s.reasm6 == nil {
		s.reasm6 = map[frag6Key]*frag6Queue{}
	}
	q := s.reasm6[k]
	if q == nil {
		q = &frag6Queue{}
		q.timer = s.clock.AfterFunc(reasm6Timeout, func() { s.expire6(k, q) })
		q.mem = fragQueueCost
		s.frag6Mem += fragQueueCost
		s.reasm6[k] = q
	}
	if fh.More() && end&7 != 0 {
		return nil // only this fragment dropped, the queue kept
	}
	res := q.queue(&s.frag6Mem, iif, off, fh.More(), data, len(ip))
	switch res {
	case fragIgnored:
		return nil
	case fragDiscard:
		s.kill6(k, q)
		return nil
	}
	if off == 0 {
		q.hdr = [header.IPv6HeaderLen]byte(ip[:header.IPv6HeaderLen])
		q.fh = [header.IPv6FragmentHeaderLen]byte(fh[:header.IPv6FragmentHeaderLen])
		q.nexthdr = fh.NextHeader()
	}
	if res != fragComplete {
		return nil
	}
	s.kill6(k, q)
	full := make([]byte, header.IPv6HeaderLen+q.length)
	q.assemble(full[header.IPv6HeaderLen:])
	return unfragmentedInto(full, q.hdr[:], q.nexthdr)
}

// kill6 takes a queue out of the table, stops its timer and frees its
// memory (inet_frag_kill). Caller holds s.mu.
func (s *Stack) kill6(k frag6Key, q *frag6Queue) {
	q.release(&s.frag6Mem)
	delete(s.reasm6, k)
}

// unfragmented builds the packet a lone fragment stands for: hdr with
// next header nh, then data.
func unfragmented(hdr []byte, nh uint8, data []byte) header.IPv6 {
	full := make([]byte, header.IPv6HeaderLen+len(data))
	copy(full[header.IPv6HeaderLen:], data)
	return unfragmentedInto(full, hdr, nh)
}

// unfragmentedInto writes hdr, with next header nh and the payload length
// of full, in front of full's payload.
func unfragmentedInto(full, hdr []byte, nh uint8) header.IPv6 {
	copy(full, hdr[:header.IPv6HeaderLen])
	ip := header.IPv6(full)
	ip.SetPayloadLength(uint16(len(full) - header.IPv6HeaderLen))
	ip.SetNextHeader(nh)
	return ip
}
