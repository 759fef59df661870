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
// system call for what would be dozens of packets. A TSO segment is read
// whole: splitting it into packets of the link's MTU is what an IPoIB
// HCA's large send offload does with a UD send; coalescing received
// segments is the kernel's GRO.

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

	protoTCP = header.ProtocolTCP
	tcpFIN   = header.TCPFlagFIN
	tcpPSH   = header.TCPFlagPSH
	tcpACK   = 0x10
	tcpCWR   = header.TCPFlagCWR
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

// readFrame turns one frame the kernel sent (virtio-net header and
// packet) into an IP packet after room bytes of its own (for a link
// header; see ReadPacket): in the frame's own memory when inPlace is set
// and the virtio-net header leaves the room (the packet then takes the
// frame over), else in memory newly allocated. A packet with a partial
// checksum gets it complete. A TSO segment stays whole, with its
// gso_size returned as mss and its TCP checksum left partial: cutting it
// into packets and completing each one's checksum is the device's large
// send offload (header.SetTCPSegment), or the kernel's software GSO where
// the device has none (header.SegmentTCP).
func readFrame(frame []byte, room int, inPlace bool) (pkt []byte, mss int, err error) {
	if len(frame) <= vnetHdrLen {
		return nil, 0, errBadFrame // no packet
	}
	h := decodeVnetHdr(frame)
	ip := frame[vnetHdrLen:]
	switch h.gsoType &^ gsoECN {
	case gsoNone:
		if h.flags&vnetNeedsCsum != 0 {
			if at := int(h.csumStart) + int(h.csumOffset); at+2 > len(ip) {
				return nil, 0, errBadFrame
			}
		}
	case gsoTCPv4, gsoTCPv6:
		if _, _, ok := header.TCPHeaderLens(ip); !ok || h.gsoSize == 0 {
			return nil, 0, errBadFrame
		}
		mss = int(h.gsoSize)
	default:
		return nil, 0, errBadFrame
	}
	var buf []byte
	if inPlace && room <= vnetHdrLen {
		buf = frame[vnetHdrLen-room : len(frame) : len(frame)]
	} else {
		buf = make([]byte, room+len(ip))
		copy(buf[room:], ip)
	}
	out := buf[room:]
	if mss == 0 && h.flags&vnetNeedsCsum != 0 {
		binary.BigEndian.PutUint16(out[int(h.csumStart)+int(h.csumOffset):], ^header.Checksum(out[h.csumStart:], 0))
	}
	return buf, mss, nil
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
	ipLen, tcpLen, ok = header.TCPHeaderLens(p)
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
