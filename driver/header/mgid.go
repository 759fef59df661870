package header

// Multicast GID signatures (RFC 4391): the MGID's bytes 2-3.
const (
	IPv4MGIDSignature uint16 = 0x401b
	IPv6MGIDSignature uint16 = 0x601b
)

// IPv4MGID maps an IPv4 multicast group to its MGID the way the kernel's
// ip_ib_mc_map (include/net/ip.h) does:
//
//	ff 1S 40 1b PP PP 00 00 00 00 00 00 G0&0x0f G1 G2 G3
//
// S is the scope nibble of the broadcast address (bcast byte 5 & 0x0f; the
// flags nibble is always 1) and PP PP the broadcast address's P_Key (bytes
// 8-9). Only the low 28 bits of the group are kept, so 224.0.0.1 maps to
// ff12:401b:ffff:0:0:0:0:1 on the default partition.
func IPv4MGID(group [4]byte, bcast HWAddr) [16]byte {
	return [16]byte{
		0xff, 0x10 | bcast[5]&0x0f, 0x40, 0x1b, bcast[8], bcast[9],
		12: group[0] & 0x0f, 13: group[1], 14: group[2], 15: group[3],
	}
}

// IPv6MGID maps an IPv6 multicast group to its MGID as ipv6_ib_mc_map
// (include/net/if_inet6.h) does: ff 1S 60 1b PP PP followed by the group's
// last 80 bits (bytes 6-15), S and PP PP taken from the broadcast address as
// in IPv4MGID. The group's own scope is not used, so ff02::1 maps to
// ff12:601b:ffff:0:0:0:0:1 on the default partition.
func IPv6MGID(group [16]byte, bcast HWAddr) [16]byte {
	m := [16]byte{0xff, 0x10 | bcast[5]&0x0f, 0x60, 0x1b, bcast[8], bcast[9]}
	copy(m[6:], group[6:])
	return m
}

// MulticastAddr is the hardware address of a multicast group:
// 00:ff:ff:ff (reserved flags, multicast QPN) followed by the MGID.
func MulticastAddr(mgid [16]byte) HWAddr {
	return NewHWAddr(0, MulticastQPN, mgid)
}

// MulticastAddrValid is ipoib_mcast_addr_is_valid (ipoib_multicast.c), the
// filter ipoib_mcast_restart_task applies to every address in the netdev's
// multicast list before joining: bytes 0-5 of the hardware address
// (reserved byte, multicast QPN, MGID prefix 0xff and flags/scope) and bytes
// 7-9 (low signature byte 0x1b and the P_Key) must equal the broadcast
// address's. Byte 6, the high signature byte, is skipped so that both IPv4
// (0x40) and IPv6 (0x60) groups pass; the MGID's bytes 6-15 are not
// compared.
func MulticastAddrValid(addr, bcast HWAddr) bool {
	return [6]byte(addr[0:6]) == [6]byte(bcast[0:6]) &&
		[3]byte(addr[7:10]) == [3]byte(bcast[7:10])
}

// MGIDMatchesBroadcast reports whether the driver would join mgid, i.e.
// whether MulticastAddrValid(MulticastAddr(mgid), bcast). In MGID terms:
// bytes 0-1 and 3-5 must equal the broadcast MGID's (bcast bytes 4-5 and
// 7-9), and bcast must itself start 00:ff:ff:ff as every broadcast address
// does.
func MGIDMatchesBroadcast(mgid [16]byte, bcast HWAddr) bool {
	return MulticastAddrValid(MulticastAddr(mgid), bcast)
}

// FormatGID formats a GID as the kernel's debugfs _mcg and _path files do
// (ipoib_fs.c format_gid): eight 16-bit groups in lowercase hex without zero
// padding and without "::" compression, e.g. fe80:0:0:0:2:c903:b:3b51.
func FormatGID(gid [16]byte) string {
	var buf [39]byte
	n := 0
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			buf[n] = ':'
			n++
		}
		v := uint16(gid[i])<<8 | uint16(gid[i+1])
		started := false
		for shift := 12; shift >= 0; shift -= 4 {
			d := byte(v>>uint(shift)) & 0xf
			if d == 0 && !started && shift > 0 {
				continue
			}
			started = true
			buf[n] = hexDigits[d]
			n++
		}
	}
	return string(buf[:n])
}

// InterfaceID is the IPv6 interface identifier of an IPoIB port, as
// addrconf_ifid_infiniband (net/ipv6/addrconf.c) derives it: the 8-byte
// port GUID (hardware address bytes 12-19) with 0x02 ORed (not XORed, as
// EUI-64 would) into the first byte.
func InterfaceID(guid [8]byte) [8]byte {
	guid[0] |= 0x02
	return guid
}
