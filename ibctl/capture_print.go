package ibctl

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
)

// The text output: one line per packet in tcpdump's style for a Linux
// cooked capture, with numeric addresses (tcpdump -n), the packets the
// driver dropped marked with the kernel's drop reason.

// sllHeaderLen is the length of a Linux cooked (v1) header.
const sllHeaderLen = 16

// packetLine formats one captured packet; eflag adds the cooked header
// as tcpdump -e prints it.
func packetLine(p netlinkx.CapturedPacket, loc *time.Location, eflag bool) string {
	var b strings.Builder
	b.WriteString(time.Unix(0, p.TimeNs).In(loc).Format("15:04:05.000000 "))
	if len(p.Data) < 4 {
		b.WriteString("[|ipoib]")
		return b.String()
	}
	etherType := binary.BigEndian.Uint16(p.Data[0:2])
	l3 := p.Data[4:]
	origL3 := int(p.OrigLen) - 4
	if eflag {
		fmt.Fprintf(&b, "%3s ", pktTypeName(p.PktType))
		fmt.Fprintf(&b, "ethertype %s (0x%04x), length %d: ", etherTypeName(etherType), etherType, sllHeaderLen+origL3)
	}
	switch etherType {
	case etherIPv4:
		printIPv4(&b, l3)
	case etherIPv6:
		printIPv6(&b, l3)
	case etherARP, etherRARP:
		printARP(&b, l3, origL3, eflag)
	default:
		fmt.Fprintf(&b, "ethertype Unknown (0x%04x), length %d", etherType, origL3)
	}
	if p.Drop != "" {
		fmt.Fprintf(&b, " [dropped: %s]", p.Drop)
	}
	return b.String()
}

func pktTypeName(t uint8) string {
	switch t {
	case netlinkx.PacketHost:
		return "In"
	case netlinkx.PacketBroadcast:
		return "B"
	case netlinkx.PacketMulticast:
		return "M"
	case netlinkx.PacketOutgoing:
		return "Out"
	}
	return "?"
}

func etherTypeName(t uint16) string {
	switch t {
	case etherIPv4:
		return "IPv4"
	case etherIPv6:
		return "IPv6"
	case etherARP:
		return "ARP"
	case etherRARP:
		return "Reverse ARP"
	}
	return "Unknown"
}

// printARP is tcpdump's arp_print for IPv4 over any hardware: the
// hardware addresses are printed as colon-separated hex bytes.
func printARP(b *strings.Builder, d []byte, length int, eflag bool) {
	if !eflag {
		b.WriteString("ARP, ")
	}
	spa, tpa, ok := arpProtoAddrs(d)
	if !ok {
		b.WriteString("[|ARP]")
		return
	}
	hln := int(d[4])
	pro := binary.BigEndian.Uint16(d[2:4])
	if pro != etherIPv4 || len(spa) != 4 || hln == 0 {
		fmt.Fprintf(b, "Unknown Hardware (%d) (len %d), Unknown Protocol (0x%04x) (len %d), length %d",
			binary.BigEndian.Uint16(d[0:2]), hln, pro, len(spa), length)
		return
	}
	sha, tha := d[8:8+hln], d[8+hln+4:8+2*hln+4]
	ip := func(a []byte) string { return netip.AddrFrom4([4]byte(a)).String() }
	switch op := binary.BigEndian.Uint16(d[6:8]); op {
	case 1:
		fmt.Fprintf(b, "Request who-has %s", ip(tpa))
		if nonzero(tha) {
			fmt.Fprintf(b, " (%s)", hexColon(tha))
		}
		fmt.Fprintf(b, " tell %s", ip(spa))
	case 2:
		fmt.Fprintf(b, "Reply %s is-at %s", ip(spa), hexColon(sha))
	case 3:
		fmt.Fprintf(b, "Reverse Request who-is %s tell %s", hexColon(tha), hexColon(sha))
	case 4:
		fmt.Fprintf(b, "Reverse Reply %s at %s", hexColon(tha), ip(tpa))
	default:
		fmt.Fprintf(b, "Unknown (%d)", op)
	}
	fmt.Fprintf(b, ", length %d", length)
}

func nonzero(a []byte) bool {
	for _, x := range a {
		if x != 0 {
			return true
		}
	}
	return false
}

// hexColon is tcpdump's linkaddr_string for an address that is not a
// 6-byte Ethernet one.
func hexColon(a []byte) string {
	parts := make([]string, len(a))
	for i, x := range a {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

// printIPv4 is tcpdump's ip_print without -v.
func printIPv4(b *strings.Builder, d []byte) {
	if len(d) < 20 || d[0]>>4 != 4 || int(d[0]&0xf)*4 < 20 || len(d) < int(d[0]&0xf)*4 {
		b.WriteString("IP [|ip]")
		return
	}
	hl := int(d[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(d[2:4]))
	src, dst := netip.AddrFrom4([4]byte(d[12:16])), netip.AddrFrom4([4]byte(d[16:20]))
	proto := d[9]
	off := binary.BigEndian.Uint16(d[6:8]) & 0x1fff
	payload := d[hl:min(len(d), max(total, hl))]
	plen := total - hl
	b.WriteString("IP ")
	if off != 0 {
		fmt.Fprintf(b, "%s > %s: ip-proto-%d", src, dst, proto)
		return
	}
	switch proto {
	case 1:
		fmt.Fprintf(b, "%s > %s: ", src, dst)
		printICMP(b, payload, plen)
	case 17:
		if len(payload) < 8 {
			fmt.Fprintf(b, "%s > %s: [|udp]", src, dst)
			return
		}
		fmt.Fprintf(b, "%s.%d > %s.%d: UDP, length %d", src, binary.BigEndian.Uint16(payload[0:2]), dst,
			binary.BigEndian.Uint16(payload[2:4]), int(binary.BigEndian.Uint16(payload[4:6]))-8)
	default:
		fmt.Fprintf(b, "%s > %s:  ip-proto-%d %d", src, dst, proto, plen)
	}
}

// printICMP is tcpdump's icmp_print without -v, for the types the
// emulated stack sends.
func printICMP(b *strings.Builder, d []byte, length int) {
	if len(d) < 8 {
		b.WriteString("[|icmp]")
		return
	}
	typ, code := d[0], d[1]
	// the destination of the datagram an error is about
	inner := func() string {
		if len(d) >= 8+20 {
			return netip.AddrFrom4([4]byte(d[8+16 : 8+20])).String()
		}
		return "[|icmp]"
	}
	b.WriteString("ICMP ")
	switch {
	case typ == 0 || typ == 8:
		name := "echo reply"
		if typ == 8 {
			name = "echo request"
		}
		fmt.Fprintf(b, "%s, id %d, seq %d", name, binary.BigEndian.Uint16(d[4:6]), binary.BigEndian.Uint16(d[6:8]))
	case typ == 3 && code == 1:
		fmt.Fprintf(b, "host %s unreachable", inner())
	case typ == 3 && code == 3:
		b.WriteString(inner() + " udp port unreachable")
	case typ == 3 && code == 4:
		fmt.Fprintf(b, "%s unreachable - need to frag (mtu %d)", inner(), binary.BigEndian.Uint16(d[6:8]))
	case typ == 11 && code == 0:
		b.WriteString("time exceeded in-transit")
	case typ == 11 && code == 1:
		b.WriteString("ip reassembly time exceeded")
	default:
		fmt.Fprintf(b, "type-#%d", typ)
	}
	fmt.Fprintf(b, ", length %d", length)
}

// printIPv6 is tcpdump's ip6_print without -v: the hop-by-hop and
// fragment headers are named, ICMPv6 and UDP decoded.
func printIPv6(out *strings.Builder, d []byte) {
	if len(d) < 40 || d[0]>>4 != 6 {
		out.WriteString("IP6 [|ip6]")
		return
	}
	src, dst := netip.AddrFrom16([16]byte(d[8:24])).String(), netip.AddrFrom16([16]byte(d[24:40])).String()
	plen := int(binary.BigEndian.Uint16(d[4:6]))
	nh := d[6]
	rest := d[40:min(len(d), 40+plen)]
	var b strings.Builder
	defer func() { fmt.Fprintf(out, "IP6 %s > %s: %s", src, dst, b.String()) }()
	for {
		switch nh {
		case 0: // hop-by-hop options
			if len(rest) < 8 || len(rest) < (int(rest[1])+1)*8 {
				b.WriteString("[|HBH]")
				return
			}
			n := (int(rest[1]) + 1) * 8
			b.WriteString("HBH ")
			nh, rest, plen = rest[0], rest[n:], plen-n
			continue
		case 44: // fragment
			if len(rest) < 8 {
				b.WriteString("[|frag]")
				return
			}
			off := binary.BigEndian.Uint16(rest[2:4]) &^ 7
			fmt.Fprintf(&b, "frag (%d|%d) ", off, plen-8)
			if off != 0 {
				return
			}
			nh, rest, plen = rest[0], rest[8:], plen-8
			continue
		case 58:
			printICMP6(&b, rest, plen)
		case 17:
			if len(rest) < 8 {
				b.WriteString("[|udp]")
				return
			}
			// tcpdump prints the ports after the addresses
			src = fmt.Sprintf("%s.%d", src, binary.BigEndian.Uint16(rest[0:2]))
			dst = fmt.Sprintf("%s.%d", dst, binary.BigEndian.Uint16(rest[2:4]))
			fmt.Fprintf(&b, "UDP, length %d", int(binary.BigEndian.Uint16(rest[4:6]))-8)
		default:
			fmt.Fprintf(&b, "ip-proto-%d %d", nh, plen)
		}
		return
	}
}

// printICMP6 is tcpdump's icmp6_print without -v.
func printICMP6(b *strings.Builder, d []byte, length int) {
	if len(d) < 4 {
		b.WriteString("[|icmp6]")
		return
	}
	addr := func(off int) string {
		if len(d) < off+16 {
			return "[|icmp6]"
		}
		return netip.AddrFrom16([16]byte(d[off : off+16])).String()
	}
	b.WriteString("ICMP6, ")
	switch typ := d[0]; typ {
	case 128, 129:
		name := "echo request"
		if typ == 129 {
			name = "echo reply"
		}
		if len(d) < 8 {
			b.WriteString(name + " [|icmp6]")
			return
		}
		fmt.Fprintf(b, "%s, id %d, seq %d", name, binary.BigEndian.Uint16(d[4:6]), binary.BigEndian.Uint16(d[6:8]))
	case 135:
		fmt.Fprintf(b, "neighbor solicitation, who has %s", addr(8))
	case 136:
		fmt.Fprintf(b, "neighbor advertisement, tgt is %s", addr(8))
	case 133:
		b.WriteString("router solicitation")
	case 134:
		b.WriteString("router advertisement")
	case 2:
		if len(d) < 8 {
			b.WriteString("packet too big [|icmp6]")
			return
		}
		fmt.Fprintf(b, "packet too big, mtu %d", binary.BigEndian.Uint32(d[4:8]))
	case 1:
		fmt.Fprintf(b, "destination unreachable, unreachable address %s", addr(8+24))
	case 3:
		if d[1] == 1 {
			b.WriteString("time exceeded in-transit, reassembly time exceeded")
		} else {
			fmt.Fprintf(b, "time exceeded in-transit for %s", addr(8+24))
		}
	case 143:
		if len(d) < 8 {
			b.WriteString("multicast listener report v2 [|icmp6]")
			return
		}
		fmt.Fprintf(b, "multicast listener report v2, %d group record(s)", binary.BigEndian.Uint16(d[6:8]))
	case 131:
		b.WriteString("multicast listener report")
	case 132:
		b.WriteString("multicast listener done")
	default:
		fmt.Fprintf(b, "unknown icmp6 type (%d)", typ)
	}
	fmt.Fprintf(b, ", length %d", length)
}

// ibOpcode names the BTH opcodes the emulated HCAs send; "" for another.
func ibOpcode(op byte) string {
	switch op {
	case 0x00:
		return "RC_SEND_FIRST"
	case 0x01:
		return "RC_SEND_MIDDLE"
	case 0x02:
		return "RC_SEND_LAST"
	case 0x03:
		return "RC_SEND_LAST_WITH_IMMEDIATE"
	case 0x04:
		return "RC_SEND_ONLY"
	case 0x05:
		return "RC_SEND_ONLY_WITH_IMMEDIATE"
	case 0x11:
		return "RC_ACKNOWLEDGE"
	case 0x64:
		return "UD_SEND_ONLY"
	case 0x65:
		return "UD_SEND_ONLY_WITH_IMMEDIATE"
	}
	return ""
}

// fabricLine formats one InfiniBand packet of a fabric port's link:
// the port's name when several are captured, direction, LIDs, the BTH
// opcode, P_Key, destination QP and PSN, and the packet's length. With
// roce, the packet's RoCEv2 frame, the IPv6 addresses and UDP ports stand
// for the LIDs and the length is the frame's.
func fabricLine(p netlinkx.CapturedPacket, loc *time.Location, name string, roce []byte) string {
	var b strings.Builder
	b.WriteString(time.Unix(0, p.TimeNs).In(loc).Format("15:04:05.000000 "))
	if name != "" {
		b.WriteString(name + " ")
	}
	fmt.Fprintf(&b, "%3s ", pktTypeName(p.PktType))
	d := p.Data
	if len(d) < 8 {
		b.WriteString("[|lrh]")
		return b.String()
	}
	be := binary.BigEndian
	length := int(p.OrigLen)
	if len(roce) > 0 {
		src, dst, sport := roceAddrs(roce)
		fmt.Fprintf(&b, "IP6 %s.%d > %s.%d: RoCEv2 ", src, sport, dst, roceUDPPort)
		length = len(roce)
	} else {
		fmt.Fprintf(&b, "LID 0x%04x > 0x%04x, ", be.Uint16(d[6:8]), be.Uint16(d[2:4]))
	}
	bth := d[8:]
	if d[1]&3 == 3 {
		if len(bth) < 40 {
			b.WriteString("[|grh]")
			return b.String()
		}
		bth = bth[40:]
	}
	if len(bth) < 12 {
		b.WriteString("[|bth]")
		return b.String()
	}
	op := ibOpcode(bth[0])
	if op == "" {
		op = fmt.Sprintf("opcode 0x%02x", bth[0])
	}
	fmt.Fprintf(&b, "%s, P_Key 0x%04x, QP 0x%06x, PSN %d, length %d", op, be.Uint16(bth[2:4]),
		be.Uint32(bth[4:8])&0xffffff, be.Uint32(bth[8:12])&0xffffff, length)
	return b.String()
}
