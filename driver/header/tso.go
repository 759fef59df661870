package header

import "encoding/binary"

// TCP segmentation, as the kernel's tcp_gso_segment does it in software
// and an HCA's large send offload engine in hardware: a TCP segment of
// up to 64 KiB (a TSO or GSO packet) is cut into packets of at most its
// MSS bytes of payload, each with the original headers fixed up.

// TCP header flags that segmentation places.
const (
	TCPFlagFIN = 0x01
	TCPFlagPSH = 0x08
	TCPFlagCWR = 0x80
)

// TCPHeaderLens returns the IP and TCP header lengths of a TCP packet
// over IPv4 (options included) or IPv6 (no extension headers); ok is
// false when pkt is not one or is shorter than its headers.
func TCPHeaderLens(pkt []byte) (ipLen, tcpLen int, ok bool) {
	if len(pkt) == 0 {
		return 0, 0, false
	}
	var proto int // the protocol field's offset
	switch pkt[0] >> 4 {
	case 4:
		ipLen, proto = int(pkt[0]&0x0f)*4, 9
		if ipLen < IPv4MinHeaderLen {
			return 0, 0, false
		}
	case 6:
		ipLen, proto = IPv6HeaderLen, 6
	default:
		return 0, 0, false
	}
	if len(pkt) < ipLen+20 || pkt[proto] != ProtocolTCP {
		return 0, 0, false
	}
	tcpLen = int(pkt[ipLen+12]>>4) * 4
	if tcpLen < 20 || len(pkt) < ipLen+tcpLen {
		return 0, 0, false
	}
	return ipLen, tcpLen, true
}

// TCPSegments is how many packets a TCP payload of total bytes is cut
// into at mss: one at least, for a segment without payload.
func TCPSegments(total, mss int) int { return max(1, (total+mss-1)/mss) }

// SetTCPSegment makes seg the packet that segmentation cuts at payload
// offset off from a TCP segment of total payload bytes, at mss bytes a
// packet. seg holds the segment's IP and TCP headers as they are (ipLen
// bytes of IP header) followed by the payload bytes from off; this fixes
// what differs from packet to packet: the sequence number (advanced by
// off), the flags (FIN and PSH kept on the last packet only, CWR on the
// first only), the IPv4 ID (advanced by one a packet) and the lengths and
// checksums, computed whole (the segment's own checksum field, partial or
// not, is ignored).
func SetTCPSegment(seg []byte, ipLen, off, mss, total int) {
	tcp := seg[ipLen:]
	binary.BigEndian.PutUint32(tcp[4:], binary.BigEndian.Uint32(tcp[4:])+uint32(off))
	if off+mss < total {
		tcp[13] &^= TCPFlagFIN | TCPFlagPSH
	}
	if off > 0 {
		tcp[13] &^= TCPFlagCWR
	}
	if seg[0]>>4 == 4 {
		binary.BigEndian.PutUint16(seg[4:], binary.BigEndian.Uint16(seg[4:])+uint16(off/mss))
	}
	FinishTCP(seg, ipLen)
}

// FinishTCP sets the IP length fields and the IPv4 header and TCP
// checksums of a whole TCP packet with an IP header of ipLen bytes.
func FinishTCP(seg []byte, ipLen int) {
	tcp := seg[ipLen:]
	tcp[16], tcp[17] = 0, 0
	var sum uint16
	if seg[0]>>4 == 4 {
		ip := IPv4(seg)
		ip.SetTotalLength(uint16(len(seg)))
		ip.SetChecksum(0)
		ip.SetChecksum(^Checksum(seg[:ipLen], 0))
		sum = PseudoHeaderChecksumV4(ProtocolTCP, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(tcp)))
	} else {
		binary.BigEndian.PutUint16(seg[4:], uint16(len(tcp)))
		ip := IPv6(seg)
		sum = PseudoHeaderChecksumV6(ProtocolTCP, ip.SourceAddress(), ip.DestinationAddress(), uint32(len(tcp)))
	}
	binary.BigEndian.PutUint16(tcp[16:], ^Checksum(tcp, sum))
}

// SegmentTCP cuts a TCP segment into packets of at most mss bytes of
// payload each (tcp_gso_segment, the kernel's software GSO; see
// SetTCPSegment), for a device that cannot take the segment whole. Each
// packet follows room bytes of its own (for a link header) and ends its
// memory (cap); all are in one new allocation. ok is false when pkt is
// not a TCP packet or mss is not positive.
func SegmentTCP(pkt []byte, mss, room int) (out [][]byte, ok bool) {
	ipLen, tcpLen, ok := TCPHeaderLens(pkt)
	if !ok || mss <= 0 {
		return nil, false
	}
	hl := ipLen + tcpLen
	payload := pkt[hl:]
	n := TCPSegments(len(payload), mss)
	mem := make([]byte, n*(room+hl)+len(payload))
	out = make([][]byte, 0, n)
	for off := 0; off == 0 || off < len(payload); off += mss {
		end := min(off+mss, len(payload))
		size := room + hl + end - off
		buf := mem[:size:size]
		mem = mem[size:]
		seg := buf[room:]
		copy(seg, pkt[:hl])
		copy(seg[hl:], payload[off:end])
		SetTCPSegment(seg, ipLen, off, mss, len(payload))
		out = append(out, buf)
	}
	return out, true
}
