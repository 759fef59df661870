package inet

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/ibctl/ibctl/driver/header"
)

// IPv4 fragmentation and reassembly (net/ipv4/ip_output.c ip_fragment,
// ip_fragment.c) and the path MTU cache that ICMP "fragmentation needed"
// fills (ipv4_update_pmtu): enough for echoes larger than the MTU.

// pmtuExpires is net.ipv4.route.mtu_expires, and net.ipv6.route.mtu_expires
// for IPv6 (both 600 s).
const pmtuExpires = 600 * time.Second

// reasmTimeout is net.ipv4.ipfrag_time (IP_FRAG_TIME, 30 s).
const reasmTimeout = 30 * time.Second

// pmtuEntry is one cached path MTU.
type pmtuEntry struct {
	mtu     uint32
	expires time.Time
}

// minPMTU4 is net.ipv4.route.min_pmtu (ip_rt_min_pmtu, 512 + 20 + 20).
const minPMTU4 = 552

// setPMTU records a path MTU to dst learned from a "too big" error, old
// being the path MTU in use. A larger one than old changes nothing. An
// IPv4 path MTU is never below min_pmtu unless old is (min(old, 552), as
// __ip_rt_update_pmtu clamps it); an IPv6 one never below the minimum
// link MTU (__ip6_rt_update_pmtu).
func (s *Stack) setPMTU(dst netip.Addr, mtu, old uint32) {
	if mtu > old {
		return
	}
	if dst.Is6() {
		mtu = max(mtu, header.IPv6MinMTU)
	} else if mtu < minPMTU4 {
		mtu = min(old, minPMTU4)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pmtu == nil {
		s.pmtu = map[netip.Addr]pmtuEntry{}
	}
	s.pmtu[dst] = pmtuEntry{mtu: mtu, expires: s.now().Add(pmtuExpires)}
}

// PathMTU returns the cached path MTU to dst, if any.
func (s *Stack) PathMTU(dst netip.Addr) (mtu uint32, expires time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.pmtu[dst]
	if ok && !s.now().Before(e.expires) {
		delete(s.pmtu, dst)
		return 0, time.Time{}, false
	}
	return e.mtu, e.expires, ok
}

// mtuTo is the path MTU to dst: the interface's, lowered by a cached
// exception.
func (s *Stack) mtuTo(dst netip.Addr, ifMTU uint32) uint32 {
	if mtu, _, ok := s.PathMTU(dst); ok && mtu < ifMTU {
		return mtu
	}
	return ifMTU
}

// sendIPv4 sends an IPv4 packet (without the encapsulation header) to hw,
// in fragments of at most mtu bytes when it is larger and DF is clear.
// A frame that is not nil holds ip after room for the encapsulation
// header, and is the caller's to give away (see OutputFrame).
func (s *Stack) sendIPv4(nic *NIC, ip header.IPv4, frame []byte, hw header.HWAddr, mtu int) error {
	if len(ip) <= mtu {
		return nic.link.WritePacket(encap(header.EtherTypeIPv4, ip, frame), hw)
	}
	for _, f := range fragment4(ip, mtu) {
		if err := nic.link.WritePacket(f, hw); err != nil {
			return err
		}
	}
	return nil
}

// fragment4 splits ip into encapsulated fragments of at most mtu bytes
// (ip_fragment's slow path): each but the last carries (mtu − 20) rounded
// down to a multiple of 8 bytes of the payload, with MF set.
func fragment4(ip header.IPv4, mtu int) [][]byte {
	payload := ip[ip.HeaderLength():ip.TotalLength()]
	chunk := (mtu - header.IPv4MinHeaderLen) &^ 7
	out := make([][]byte, 0, (len(payload)+chunk-1)/chunk)
	for off := 0; off < len(payload); off += chunk {
		end := min(off+chunk, len(payload))
		f := header.IPv4Fields{TOS: ip.TOS(), ID: ip.ID(), TTL: ip.TTL(), Protocol: ip.Protocol(),
			Src: ip.SourceAddress(), Dst: ip.DestinationAddress(), FragmentOffset: uint16(off),
			TotalLength: uint16(header.IPv4MinHeaderLen + end - off)}
		if end < len(payload) {
			f.Flags = header.IPv4FlagMoreFragments
		}
		buf := make([]byte, header.IPoIBHeaderLen+header.IPv4MinHeaderLen+end-off)
		header.IPoIB(buf).Encode(header.EtherTypeIPv4)
		header.EncodeIPv4(buf[header.IPoIBHeaderLen:], f)
		copy(buf[header.IPoIBHeaderLen+header.IPv4MinHeaderLen:], payload[off:end])
		out = append(out, buf)
	}
	return out
}

// reasmKey identifies a datagram being reassembled.
type reasmKey struct {
	src, dst [4]byte
	id       uint16
	proto    uint8
}

// reasm collects the fragments of one datagram (struct ipq).
type reasm struct {
	fragQueue
	hdr []byte // the first fragment's header, once it came (INET_FRAG_FIRST_IN)
}

// reassemble adds a fragment received on interface iif and returns the
// whole datagram once every byte has arrived (nil until then, and for
// dropped fragments). ip_frag_queue's rules: a fragment with MF set whose
// end is not a multiple of 8 is cut down to one (end &= ~7); a last
// fragment that ends before data already seen, or a second last fragment
// with another end, data beyond a known end, an empty fragment (one cut
// down to nothing included) and an overlap drop the datagram, a duplicate
// only itself (fragQueue.queue). A datagram whose header and data exceed
// 65535 bytes is dropped once complete (ip_frag_reasm, "Oversized IP
// packet"). Over the memory limit every fragment is dropped (fragq.go).
// The first fragment of a datagram arms its queue's timer: the queue
// expires ipfrag_time later unless it completed or was dropped
// (fragexpire.go).
func (s *Stack) reassemble(iif int32, ip header.IPv4) header.IPv4 {
	k := reasmKey{src: ip.SourceAddress(), dst: ip.DestinationAddress(), id: ip.ID(), proto: ip.Protocol()}
	off, data, more := int(ip.FragmentOffset()), ip.Payload(), ip.MoreFragments()
	if more {
		data = data[:len(data)&^7] // the offset is a multiple of 8, so the end becomes one
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frag4Mem > fragHighThresh {
		return nil // inet_frag_find: over ipfrag_high_thresh
	}
	if s.reasm == nil {
		s.reasm = map[reasmKey]*reasm{}
	}
	r := s.reasm[k]
	if r == nil {
		r = &reasm{}
		r.timer = s.clock.AfterFunc(reasmTimeout, func() { s.expire(k, r) })
		r.mem = fragQueueCost
		s.frag4Mem += fragQueueCost
		s.reasm[k] = r
	}
	res := r.queue(&s.frag4Mem, iif, off, more, data, int(ip.TotalLength()))
	switch res {
	case fragIgnored:
		return nil
	case fragDiscard:
		s.kill4(k, r)
		return nil
	}
	if off == 0 {
		r.hdr = append([]byte(nil), ip[:ip.HeaderLength()]...)
	}
	if res != fragComplete {
		return nil
	}
	s.kill4(k, r)
	if len(r.hdr)+r.length > 0xffff {
		return nil // oversized: the 16-bit total length cannot hold it
	}
	full := make([]byte, len(r.hdr)+r.length)
	copy(full, r.hdr)
	r.assemble(full[len(r.hdr):])
	out := header.IPv4(full)
	out.SetTotalLength(uint16(len(full)))
	binary.BigEndian.PutUint16(full[6:], 0) // flags and offset
	out.SetChecksum(out.CalculateChecksum())
	return out
}

// kill4 takes a queue out of the table, stops its timer and frees its
// memory (ipq_kill). Caller holds s.mu.
func (s *Stack) kill4(k reasmKey, r *reasm) {
	r.release(&s.frag4Mem)
	delete(s.reasm, k)
}

// tooBigError is a datagram the stack itself cannot fragment to fit mtu.
type tooBigError struct{ mtu uint32 }

func (e *tooBigError) Error() string { return "packet too big" }

// TooBigMTU returns the MTU that fits.
func (e *tooBigError) TooBigMTU() uint32 { return e.mtu }
