package ibctl

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net/netip"

	"github.com/ibctl/ibctl/netlinkx"
)

// RoCEv2 (IBA annex A17): the transport headers and payload of an
// InfiniBand packet carried in UDP to port 4791 over IP over Ethernet,
// without the LRH and VCRC, the GRH replaced by the IP header. The
// emulated fabric is InfiniBand: --roce shows its traffic as a RoCEv2
// network would carry it.
//
// The choices for what InfiniBand does not have:
//   - IPv6, the source and destination GIDs as the addresses (the GRH's,
//     else the ports' of the LRH's LIDs): port GIDs are fe80::GUID, never
//     IPv4-mapped; the GRH's traffic class, flow label and hop limit, or
//     0, 0 and 64 without one.
//   - Ethernet addresses made up from the port GUID: its first three
//     bytes (the OUI) and its last three, 00:02:c9:00:10:01 for the GUID
//     0x0002c90300001001; a multicast GID maps to 33:33 and its last four
//     bytes, as RFC 2464 maps an IPv6 group.
//   - The UDP source port as rdma_get_udp_sport computes it: from the
//     flow label, or without one from the source and destination QPNs
//     (rdma_calc_flow_label), folded to 14 bits and or-ed with 0xC000.
//   - UDP checksum 0, as rxe's prepare_udp_hdr sends it: the ICRC covers
//     the packet.

// Link type and port of RoCEv2 files.
const (
	linktypeEthernet = 1    // LINKTYPE_ETHERNET
	roceUDPPort      = 4791 // IANA's RoCEv2 port
	etherIPv6Type    = 0x86dd
	roceHopLimit     = 64 // without a GRH
	ibLRHLen         = 8
	ibGRHLen         = 40
	ibBTHLen         = 12
	ibCRCsLen        = 6 // ICRC and VCRC
)

// roceFrame appends the RoCEv2 frame of a fabric packet (p.Data the IB
// packet from the LRH to the VCRC, p.Src and p.Dst the sender's and the
// receiver's QPN and GID) to buf; ok is false for a packet too short to
// hold its headers.
func roceFrame(buf []byte, p netlinkx.CapturedPacket) (frame []byte, ok bool) {
	ib := p.Data
	if len(ib) < ibLRHLen+ibBTHLen+ibCRCsLen || len(p.Src) != 20 || len(p.Dst) != 20 {
		return buf[:0], false
	}
	var tclass uint8
	var flow uint32
	hop := uint8(roceHopLimit)
	sgid, dgid := [16]byte(p.Src[4:20]), [16]byte(p.Dst[4:20])
	off := ibLRHLen
	if ib[1]&3 == 3 { // LNH: a GRH follows
		if len(ib) < ibLRHLen+ibGRHLen+ibBTHLen+ibCRCsLen {
			return buf[:0], false
		}
		g := ib[ibLRHLen : ibLRHLen+ibGRHLen]
		tclass = g[0]<<4 | g[1]>>4
		flow = uint32(g[1]&0x0f)<<16 | uint32(g[2])<<8 | uint32(g[3])
		hop = g[7]
		sgid, dgid = [16]byte(g[8:24]), [16]byte(g[24:40])
		off += ibGRHLen
	}
	transport := ib[off : len(ib)-ibCRCsLen] // BTH to the payload's padding
	be := binary.BigEndian
	b := buf[:0]
	if dgid[0] == 0xff {
		b = append(b, 0x33, 0x33, dgid[12], dgid[13], dgid[14], dgid[15])
	} else {
		b = append(b, guidMAC(dgid)...)
	}
	b = append(b, guidMAC(sgid)...)
	b = be.AppendUint16(b, etherIPv6Type)
	ip := len(b)
	udpLen := 8 + len(transport) + 4
	b = be.AppendUint32(b, 6<<28|uint32(tclass)<<20|flow)
	b = be.AppendUint16(b, uint16(udpLen))
	b = append(b, 17, hop) // next header UDP
	b = append(b, sgid[:]...)
	b = append(b, dgid[:]...)
	srcQPN := be.Uint32(p.Src[0:4]) & 0xffffff
	dstQPN := be.Uint32(transport[4:8]) & 0xffffff
	b = be.AppendUint16(b, roceSourcePort(flow, srcQPN, dstQPN))
	b = be.AppendUint16(b, roceUDPPort)
	b = be.AppendUint16(b, uint16(udpLen))
	b = be.AppendUint16(b, 0)
	b = append(b, transport...)
	return binary.LittleEndian.AppendUint32(b, roceICRC(b[ip:])), true
}

// guidMAC is the made-up Ethernet address of the port whose GID is gid:
// the OUI and the last three bytes of its GUID.
func guidMAC(gid [16]byte) []byte {
	return []byte{gid[8], gid[9], gid[10], gid[13], gid[14], gid[15]}
}

// roceSourcePort is rdma_get_udp_sport: the flow label, or when it is 0
// one computed from the two QPNs (rdma_calc_flow_label), folded to 14
// bits in the range 0xC000-0xFFFF.
func roceSourcePort(flow, lqpn, rqpn uint32) uint16 {
	if flow == 0 {
		v := uint64(lqpn) * uint64(rqpn)
		v ^= v >> 20
		v ^= v >> 40
		flow = uint32(v) & 0xfffff
	}
	low := flow&0x3fff ^ flow&0xfc000>>14
	return uint16(low | 0xc000)
}

// roceICRC is the invariant CRC of a RoCEv2 packet, pkt holding the IP
// header up to the ICRC (excluded): CRC-32 as the IB ICRC, over 8 bytes
// of ones standing for the LRH and the packet with its variant fields set
// to ones: IPv4's type of service, TTL and header checksum or IPv6's
// traffic class, flow label and hop limit, the UDP checksum and the BTH's
// resv8a (IBA A17.4.1, as rxe_icrc_hdr computes it). It is sent least
// significant byte first.
func roceICRC(pkt []byte) uint32 {
	crc := crc32.Update(0, crc32.IEEETable, bytes.Repeat([]byte{0xff}, ibLRHLen))
	var udp int
	switch pkt[0] >> 4 {
	case 4:
		udp = int(pkt[0]&0x0f) * 4
	default:
		udp = ibGRHLen // an IPv6 header is as long as a GRH
	}
	n := udp + 8 + ibBTHLen
	if len(pkt) < n {
		return 0
	}
	h := bytes.Clone(pkt[:n])
	if udp == ibGRHLen {
		h[0] |= 0x0f
		h[1], h[2], h[3], h[7] = 0xff, 0xff, 0xff, 0xff
	} else {
		h[1], h[8], h[10], h[11] = 0xff, 0xff, 0xff, 0xff
	}
	h[udp+6], h[udp+7] = 0xff, 0xff // UDP checksum
	h[udp+8+4] = 0xff               // BTH resv8a
	crc = crc32.Update(crc, crc32.IEEETable, h)
	return crc32.Update(crc, crc32.IEEETable, pkt[n:])
}

// roceAddrs are the IPv6 addresses and UDP source port of a RoCEv2 frame.
func roceAddrs(frame []byte) (src, dst netip.Addr, sport uint16) {
	ip := frame[14:]
	return netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40])), binary.BigEndian.Uint16(ip[40:42])
}
