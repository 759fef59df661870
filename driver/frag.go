package driver

import (
	"encoding/binary"
	"net/netip"
	"sort"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
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

// setPMTU records a lower path MTU to dst. IPv6 path MTUs are never
// below the minimum link MTU (__ip6_rt_update_pmtu).
func (s *ipStack) setPMTU(dst netip.Addr, mtu uint32) {
	if dst.Is6() {
		mtu = max(mtu, header.IPv6MinMTU)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pmtu == nil {
		s.pmtu = map[netip.Addr]pmtuEntry{}
	}
	s.pmtu[dst] = pmtuEntry{mtu: mtu, expires: s.now().Add(pmtuExpires)}
}

// pathMTU returns the cached path MTU to dst, if any.
func (s *ipStack) pathMTU(dst netip.Addr) (pmtuEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.pmtu[dst]
	if ok && !s.now().Before(e.expires) {
		delete(s.pmtu, dst)
		return pmtuEntry{}, false
	}
	return e, ok
}

// mtuTo is the path MTU to dst: the interface's, lowered by a cached
// exception.
func (s *ipStack) mtuTo(dst netip.Addr, ifMTU uint32) uint32 {
	if e, ok := s.pathMTU(dst); ok && e.mtu < ifMTU {
		return e.mtu
	}
	return ifMTU
}

// sendIPv4 sends an IPv4 packet (without the encapsulation header) to hw,
// in fragments of at most mtu bytes when it is larger and DF is clear.
func (s *ipStack) sendIPv4(dp *dataPath, ip header.IPv4, hw header.HWAddr, mtu int) error {
	if len(ip) <= mtu {
		buf := make([]byte, header.IPoIBHeaderLen+len(ip))
		header.IPoIB(buf).Encode(header.EtherTypeIPv4)
		copy(buf[header.IPoIBHeaderLen:], ip)
		return dp.transmit(buf, hw, false)
	}
	for _, f := range fragment4(ip, mtu) {
		if err := dp.transmit(f, hw, false); err != nil {
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
	frags map[uint16][]byte // by offset
	total int               // payload length, known once the last fragment came
	hdr   []byte            // the first fragment's header, once it came (INET_FRAG_FIRST_IN)
	iif   int32             // the interface the latest fragment came in on (qp->iif)
	timer verbs.Timer       // ip_expire, ipfrag_time after the first fragment
}

// reassemble adds a fragment received on interface iif and returns the
// whole datagram once every byte has arrived (nil until then). The first
// fragment of a datagram arms its queue's timer: the queue expires
// ipfrag_time later unless it completed (fragexpire.go).
func (s *ipStack) reassemble(iif int32, ip header.IPv4) header.IPv4 {
	k := reasmKey{src: ip.SourceAddress(), dst: ip.DestinationAddress(), id: ip.ID(), proto: ip.Protocol()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reasm == nil {
		s.reasm = map[reasmKey]*reasm{}
	}
	r := s.reasm[k]
	if r == nil {
		r = &reasm{frags: map[uint16][]byte{}, total: -1}
		r.timer = s.clock.AfterFunc(reasmTimeout, func() { s.expire(k, r) })
		s.reasm[k] = r
	}
	r.iif = iif
	off := ip.FragmentOffset()
	r.frags[off] = append([]byte(nil), ip.Payload()...)
	if off == 0 {
		r.hdr = append([]byte(nil), ip[:ip.HeaderLength()]...)
	}
	if !ip.MoreFragments() {
		r.total = int(off) + len(ip.Payload())
	}
	if r.total < 0 || r.hdr == nil {
		return nil
	}
	offs := make([]int, 0, len(r.frags))
	for o := range r.frags {
		offs = append(offs, int(o))
	}
	sort.Ints(offs)
	next := 0
	for _, o := range offs {
		if o > next {
			return nil // a hole
		}
		next = max(next, o+len(r.frags[uint16(o)]))
	}
	if next < r.total {
		return nil
	}
	r.timer.Stop()
	delete(s.reasm, k)
	full := make([]byte, len(r.hdr)+r.total)
	copy(full, r.hdr)
	for _, o := range offs {
		copy(full[len(r.hdr)+o:], r.frags[uint16(o)])
	}
	out := header.IPv4(full)
	out.SetTotalLength(uint16(len(full)))
	binary.BigEndian.PutUint16(full[6:], 0) // flags and offset
	out.SetChecksum(out.CalculateChecksum())
	return out
}
