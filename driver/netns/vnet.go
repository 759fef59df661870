package netns

import (
	"encoding/binary"
	"errors"
	"sync"

	"github.com/ibctl/ibctl/driver/header"
)

// The virtio-net header (struct virtio_net_hdr) in front of every packet
// read from or written to a TUN device opened with IFF_VNET_HDR. With it
// the kernel hands over TCP segments of up to 64 KiB (TSO) with their
// checksum left to finish, and takes back coalesced segments (GRO): one
// system call for what would be dozens of packets. Splitting a TSO
// segment into packets of the link's MTU is what an IPoIB HCA's large
// send offload does with a UD send; coalescing received segments is the
// kernel's GRO.

const (
	vnetHdrLen = 10 // sizeof(struct virtio_net_hdr)

	vnetNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	gsoNone       = 0 // VIRTIO_NET_HDR_GSO_NONE
	gsoTCPv4      = 1 // VIRTIO_NET_HDR_GSO_TCPV4
	gsoTCPv6      = 4 // VIRTIO_NET_HDR_GSO_TCPV6
	gsoECN        = 0x80

	tunFCsum = 0x01 // TUN_F_CSUM
	tunFTSO4 = 0x02 // TUN_F_TSO4
	tunFTSO6 = 0x04 // TUN_F_TSO6

	protoTCP = 6
	tcpFIN   = 0x01
	tcpPSH   = 0x08
	tcpACK   = 0x10
	tcpCWR   = 0x80
)

// vnetHdr is a decoded virtio_net_hdr (little-endian fields).
type vnetHdr struct {
	flags, gsoType                         uint8
	hdrLen, gsoSize, csumStart, csumOffset uint16
}

func decodeVnetHdr(b []byte) vnetHdr {
	return vnetHdr{flags: b[0], gsoType: b[1], hdrLen: binary.LittleEndian.Uint16(b[2:]),
		gsoSize: binary.LittleEndian.Uint16(b[4:]), csumStart: binary.LittleEndian.Uint16(b[6:]),
		csumOffset: binary.LittleEndian.Uint16(b[8:])}
}

func (h vnetHdr) encode(b []byte) {
	b[0], b[1] = h.flags, h.gsoType
	binary.LittleEndian.PutUint16(b[2:], h.hdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.gsoSize)
	binary.LittleEndian.PutUint16(b[6:], h.csumStart)
	binary.LittleEndian.PutUint16(b[8:], h.csumOffset)
}

var errBadFrame = errors.New("malformed frame from the kernel")

// splitFrame turns one frame the kernel sent (virtio-net header and
// packet) into IP packets: a TSO segment into packets of at most its
// gso_size bytes of TCP payload each, a packet with a partial checksum
// into one with the checksum complete. Each packet follows room bytes of
// its own (for a link header; see ReadPackets), in memory newly
// allocated: one allocation for all of them.
func splitFrame(frame []byte, room int) ([][]byte, error) {
	if len(frame) <= vnetHdrLen {
		return nil, errBadFrame // no packet
	}
	h := decodeVnetHdr(frame)
	pkt := frame[vnetHdrLen:]
	switch h.gsoType &^ gsoECN {
	case gsoNone:
		buf := make([]byte, room+len(pkt))
		out := buf[room:]
		copy(out, pkt)
		if h.flags&vnetNeedsCsum != 0 {
			at := int(h.csumStart) + int(h.csumOffset)
			if at+2 > len(out) {
				return nil, errBadFrame
			}
			binary.BigEndian.PutUint16(out[at:], ^header.Checksum(out[h.csumStart:], 0))
		}
		return [][]byte{buf}, nil
	case gsoTCPv4, gsoTCPv6:
		return segmentTCP(pkt, int(h.gsoSize), room)
	}
	return nil, errBadFrame
}

// tcpLayout finds a TCP packet's IP header length and TCP header length.
func tcpLayout(pkt []byte) (ipLen, tcpLen int, ok bool) {
	if len(pkt) == 0 {
		return 0, 0, false
	}
	var proto int // the protocol field's offset
	switch pkt[0] >> 4 {
	case 4:
		ipLen, proto = int(pkt[0]&0x0f)*4, 9
		if ipLen < 20 {
			return 0, 0, false
		}
	case 6:
		ipLen, proto = header.IPv6HeaderLen, 6
	default:
		return 0, 0, false
	}
	if len(pkt) < ipLen+20 || pkt[proto] != protoTCP {
		return 0, 0, false
	}
	tcpLen = int(pkt[ipLen+12]>>4) * 4
	if tcpLen < 20 || len(pkt) < ipLen+tcpLen {
		return 0, 0, false
	}
	return ipLen, tcpLen, true
}

// segmentTCP splits a TCP segment into packets carrying at most mss bytes
// each (tcp_gso_segment): sequence numbers advanced, FIN and PSH on the
// last packet only, CWR on the first only, IPv4 IDs counting up, lengths
// and checksums complete. Each packet follows room bytes of its own, all
// in one allocation.
func segmentTCP(pkt []byte, mss, room int) ([][]byte, error) {
	ipLen, tcpLen, ok := tcpLayout(pkt)
	if !ok || mss <= 0 {
		return nil, errBadFrame
	}
	hl := ipLen + tcpLen
	payload := pkt[hl:]
	seq := binary.BigEndian.Uint32(pkt[ipLen+4:])
	flags := pkt[ipLen+13]
	n := max(1, (len(payload)+mss-1)/mss)
	mem := make([]byte, n*(room+hl)+len(payload))
	out := make([][]byte, 0, n)
	for off := 0; off == 0 || off < len(payload); off += mss {
		end := min(off+mss, len(payload))
		size := room + hl + end - off
		buf := mem[:size:size]
		mem = mem[size:]
		seg := buf[room:]
		copy(seg, pkt[:hl])
		copy(seg[hl:], payload[off:end])
		f := flags
		if end < len(payload) {
			f &^= tcpFIN | tcpPSH
		}
		if off > 0 {
			f &^= tcpCWR
		}
		seg[ipLen+13] = f
		binary.BigEndian.PutUint32(seg[ipLen+4:], seq+uint32(off))
		if seg[0]>>4 == 4 {
			binary.BigEndian.PutUint16(seg[4:], binary.BigEndian.Uint16(pkt[4:])+uint16(off/mss))
		}
		finishTCP(seg, ipLen)
		out = append(out, buf)
	}
	return out, nil
}

// finishTCP sets the IP length fields and the IPv4 header and TCP
// checksums of a whole TCP packet.
func finishTCP(seg []byte, ipLen int) {
	tcp := seg[ipLen:]
	tcp[16], tcp[17] = 0, 0
	var sum uint16
	if seg[0]>>4 == 4 {
		ip := header.IPv4(seg)
		ip.SetTotalLength(uint16(len(seg)))
		ip.SetChecksum(0)
		ip.SetChecksum(^header.Checksum(seg[:ipLen], 0))
		sum = header.PseudoHeaderChecksumV4(protoTCP, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(tcp)))
	} else {
		binary.BigEndian.PutUint16(seg[4:], uint16(len(tcp)))
		ip := header.IPv6(seg)
		sum = header.PseudoHeaderChecksumV6(protoTCP, ip.SourceAddress(), ip.DestinationAddress(), uint32(len(tcp)))
	}
	binary.BigEndian.PutUint16(tcp[16:], ^header.Checksum(tcp, sum))
}

// maxGRO bounds a coalesced packet: its IP length field.
const maxGRO = 65535

// Frame copies an IP packet into a frame for WritePackets: a zero
// virtio-net header in front of it. The frame's memory comes from a free
// list that WritePackets (or FreeFrame) gives it back to, so that a
// steady stream of received packets allocates nothing.
func Frame(ip []byte) []byte {
	f := frames.get(vnetHdrLen + len(ip))
	clear(f[:vnetHdrLen])
	copy(f[vnetHdrLen:], ip)
	return f
}

// FreeFrame gives back a frame made by Frame that will not be written.
// The caller must not use it afterwards.
func FreeFrame(f []byte) { frames.put(f) }

// The free lists of frames: one for packets of up to 4 KiB (a datagram
// mode IPoIB MTU), one for packets of up to 64 KiB (connected mode). Each
// keeps at most its limit of frames: what a burst takes beyond it goes to
// the garbage collector.
const (
	smallFrame  = vnetHdrLen + 4096
	largeFrame  = vnetHdrLen + maxGRO
	smallFrames = 1024 // 4 MiB
	largeFrames = 128  // 8 MiB
)

// frameList is the free lists.
type frameList struct {
	mu           sync.Mutex
	small, large [][]byte
}

var frames frameList

// get returns a frame of n bytes.
func (l *frameList) get(n int) []byte {
	var list *[][]byte
	size := smallFrame
	switch {
	case n <= smallFrame:
		list = &l.small
	case n <= largeFrame:
		list, size = &l.large, largeFrame
	default:
		return make([]byte, n)
	}
	l.mu.Lock()
	if k := len(*list); k > 0 {
		f := (*list)[k-1]
		(*list)[k-1] = nil
		*list = (*list)[:k-1]
		l.mu.Unlock()
		return f[:n]
	}
	l.mu.Unlock()
	return make([]byte, n, size)
}

// put keeps a frame of one of the two sizes for get, within the limits.
func (l *frameList) put(f []byte) {
	var list *[][]byte
	limit := smallFrames
	switch cap(f) {
	case smallFrame:
		list = &l.small
	case largeFrame:
		list, limit = &l.large, largeFrames
	default:
		return
	}
	l.mu.Lock()
	if len(*list) < limit {
		*list = append(*list, f[:0])
	}
	l.mu.Unlock()
}

// coalesce turns frames of single packets (Frame) into frames for the
// kernel, each a list of pieces to write together, merging runs of TCP
// packets of one flow that follow each other in sequence into one
// segment the kernel receives as GRO would have built it
// (tcp_gro_receive's rules: same addresses, ports, header length, options
// and acknowledgement, flags differing only in PSH, FIN and CWR; packets
// of one size, a smaller one or PSH or FIN ending the run). A merged
// segment is the first packet's frame, its headers rewritten, followed by
// the payloads of the others, none of them copied. A packet that cannot
// join keeps its frame.
func coalesce(frames [][]byte) [][][]byte {
	var out [][][]byte
	pkts := make([][]byte, len(frames))
	for i, f := range frames {
		pkts[i] = f[vnetHdrLen:]
	}
	for i := 0; i < len(pkts); {
		first := pkts[i]
		j := i + 1
		ipLen, tcpLen, ok := groCandidate(first)
		if ok {
			mss := len(first) - ipLen - tcpLen
			size := len(first)
			next := binary.BigEndian.Uint32(first[ipLen+4:]) + uint32(mss)
			for j < len(pkts) && first[ipLen+13]&(tcpPSH|tcpFIN) == 0 {
				p := pkts[j]
				pl := len(p) - ipLen - tcpLen
				if !sameFlow(first, p, ipLen, tcpLen) || pl == 0 || pl > mss || size+pl > maxGRO ||
					binary.BigEndian.Uint32(p[ipLen+4:]) != next {
					break
				}
				size += pl
				next += uint32(pl)
				j++
				if pl < mss || p[ipLen+13]&(tcpPSH|tcpFIN) != 0 {
					break
				}
			}
			if j > i+1 {
				out = append(out, groFrame(frames[i:j], ipLen, tcpLen, mss, size))
				i = j
				continue
			}
		}
		out = append(out, [][]byte{frames[i]})
		i++
	}
	return out
}

// groCandidate reports whether a packet may be part of a coalesced run:
// TCP, not fragmented, no IPv4 options, no IPv6 extension headers, only
// ACK (and PSH) among its flags. (One without data joins nothing: its
// MSS would be 0.)
func groCandidate(p []byte) (ipLen, tcpLen int, ok bool) {
	ipLen, tcpLen, ok = tcpLayout(p)
	if !ok {
		return 0, 0, false
	}
	if p[0]>>4 == 4 {
		ip := header.IPv4(p)
		if ipLen != 20 || ip.MoreFragments() || ip.FragmentOffset() != 0 || int(ip.TotalLength()) != len(p) {
			return 0, 0, false
		}
	} else if int(header.IPv6(p).PayloadLength())+header.IPv6HeaderLen != len(p) {
		return 0, 0, false
	}
	if p[ipLen+13]&^(tcpACK|tcpPSH) != 0 || p[ipLen+13]&tcpACK == 0 {
		return 0, 0, false
	}
	return ipLen, tcpLen, true
}

// sameFlow reports whether p may follow first in a coalesced run.
func sameFlow(first, p []byte, ipLen, tcpLen int) bool {
	pi, pt, ok := groCandidate(p)
	if !ok || pi != ipLen || pt != tcpLen {
		return false
	}
	if first[0]>>4 == 4 {
		// addresses, TTL, protocol; TOS
		if string(first[12:20]) != string(p[12:20]) || first[8] != p[8] || first[1] != p[1] {
			return false
		}
	} else if string(first[8:40]) != string(p[8:40]) || first[7] != p[7] ||
		binary.BigEndian.Uint32(first[0:4]) != binary.BigEndian.Uint32(p[0:4]) {
		return false
	}
	ft, pt2 := first[ipLen:ipLen+tcpLen], p[ipLen:ipLen+tcpLen]
	return string(ft[0:4]) == string(pt2[0:4]) && // ports
		string(ft[8:12]) == string(pt2[8:12]) && // acknowledgement
		string(ft[20:]) == string(pt2[20:]) // options
}

// groFrame builds the frame of a coalesced run of frames in place: the
// first packet's frame, its headers given the whole length and the last
// packet's PSH, its TCP checksum left partial (NEEDS_CSUM with the
// pseudo-header sum) as GRO hands a segment to TCP; then the payloads of
// the others, in order.
func groFrame(run [][]byte, ipLen, tcpLen, mss, size int) [][]byte {
	hl := ipLen + tcpLen
	frame := run[0]
	seg := frame[vnetHdrLen:]
	seg[ipLen+13] |= run[len(run)-1][vnetHdrLen+ipLen+13] & tcpPSH
	tcpBytes := size - ipLen
	var sum uint16
	gso := uint8(gsoTCPv4)
	if seg[0]>>4 == 4 {
		ip := header.IPv4(seg)
		ip.SetTotalLength(uint16(size))
		ip.SetChecksum(0)
		ip.SetChecksum(^header.Checksum(seg[:ipLen], 0))
		sum = header.PseudoHeaderChecksumV4(protoTCP, ip.SourceAddress(), ip.DestinationAddress(), uint16(tcpBytes))
	} else {
		gso = gsoTCPv6
		binary.BigEndian.PutUint16(seg[4:], uint16(tcpBytes))
		ip := header.IPv6(seg)
		sum = header.PseudoHeaderChecksumV6(protoTCP, ip.SourceAddress(), ip.DestinationAddress(), uint32(tcpBytes))
	}
	binary.BigEndian.PutUint16(seg[ipLen+16:], sum)
	vnetHdr{flags: vnetNeedsCsum, gsoType: gso, hdrLen: uint16(hl), gsoSize: uint16(mss),
		csumStart: uint16(ipLen), csumOffset: 16}.encode(frame)
	iov := make([][]byte, 0, len(run))
	iov = append(iov, frame)
	for _, f := range run[1:] {
		iov = append(iov, f[vnetHdrLen+hl:])
	}
	return iov
}
