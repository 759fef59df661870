package header

import "encoding/binary"

// ICMPv4 types and codes (RFC 792, RFC 1191).
const (
	ICMPv4EchoReply      uint8 = 0
	ICMPv4DstUnreachable uint8 = 3
	ICMPv4Echo           uint8 = 8
	ICMPv4TimeExceeded   uint8 = 11

	// ICMPv4FragmentationNeeded is the Destination Unreachable code
	// "fragmentation needed and DF set"; bytes 6-7 carry the next-hop MTU
	// (RFC 1191).
	ICMPv4FragmentationNeeded uint8 = 4

	// ICMPv4ReassemblyTimeout is the Time Exceeded code "fragment
	// reassembly time exceeded" (ICMP_EXC_FRAGTIME).
	ICMPv4ReassemblyTimeout uint8 = 1

	// ICMPv4HostUnreachable is the Destination Unreachable code
	// "host unreachable" (ICMP_HOST_UNREACH), what the kernel's ARP
	// sends about a datagram whose next hop never answered.
	ICMPv4HostUnreachable uint8 = 1
)

const (
	// ICMPv4MinHeaderLen is type, code, checksum and the 4-byte
	// rest-of-header word.
	ICMPv4MinHeaderLen = 8
	// ICMPv4KernelMaxQuote is how much of the offending datagram Linux
	// quotes in an ICMPv4 error (__icmp_send: the whole error stays
	// within 576 bytes): 576 − 20 − 8 = 548.
	ICMPv4KernelMaxQuote = IPv4MinMTU - IPv4MinHeaderLen - ICMPv4MinHeaderLen
)

// ICMPv4 is a view of an ICMPv4 message (RFC 792), header first.
type ICMPv4 []byte

// Valid reports whether b holds the 8-byte header every message has.
func (b ICMPv4) Valid() bool { return len(b) >= ICMPv4MinHeaderLen }

// Type is byte 0.
func (b ICMPv4) Type() uint8 { return b[0] }

// Code is byte 1.
func (b ICMPv4) Code() uint8 { return b[1] }

// Checksum is the checksum as stored.
func (b ICMPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// Ident is the echo identifier (bytes 4-5).
func (b ICMPv4) Ident() uint16 { return binary.BigEndian.Uint16(b[4:]) }

// Sequence is the echo sequence number (bytes 6-7).
func (b ICMPv4) Sequence() uint16 { return binary.BigEndian.Uint16(b[6:]) }

// MTU is the next-hop MTU of a fragmentation-needed message (bytes 6-7).
func (b ICMPv4) MTU() uint16 { return binary.BigEndian.Uint16(b[6:]) }

// Payload is everything after the 8-byte header: echo data, or the quoted
// datagram of an error.
func (b ICMPv4) Payload() []byte { return b[ICMPv4MinHeaderLen:] }

// CalculateChecksum returns the value the checksum field must hold for the
// whole message, with the field taken as zero. The view is not modified.
func (b ICMPv4) CalculateChecksum() uint16 {
	return ^Checksum(b[4:], Checksum(b[:2], 0))
}

// IsChecksumValid reports whether the stored checksum matches the message.
func (b ICMPv4) IsChecksumValid() bool { return Checksum(b, 0) == 0xffff }

// SetChecksum stores v in the checksum field.
func (b ICMPv4) SetChecksum(v uint16) { binary.BigEndian.PutUint16(b[2:], v) }

// EncodeICMPv4Echo writes a complete IPv4 packet carrying an echo request
// (typ ICMPv4Echo) or reply (ICMPv4EchoReply) with ident, seq and data,
// both checksums filled in. f supplies the IP header; its Protocol and
// TotalLength are replaced. It returns the packet length, or 0 if b is too
// short or the packet would exceed 65535 bytes.
func EncodeICMPv4Echo(b []byte, f IPv4Fields, typ uint8, ident, seq uint16, data []byte) int {
	n := IPv4MinHeaderLen + ICMPv4MinHeaderLen + len(data)
	if n > len(b) || n > 0xffff {
		return 0
	}
	f.Protocol = ProtocolICMPv4
	f.TotalLength = uint16(n)
	EncodeIPv4(b, f)
	m := ICMPv4(b[IPv4MinHeaderLen:n])
	m[0], m[1] = typ, 0
	binary.BigEndian.PutUint16(m[4:], ident)
	binary.BigEndian.PutUint16(m[6:], seq)
	copy(m[ICMPv4MinHeaderLen:], data)
	m.SetChecksum(m.CalculateChecksum())
	return n
}

// EncodeICMPv4Error writes a complete IPv4 packet carrying an ICMPv4 error
// about the datagram orig, the way Linux's __icmp_send (net/ipv4/icmp.c)
// builds one:
//
//   - IP header: TOS = (orig TOS & 0x1e) | 0xc0 (RT_TOS of the original
//     plus precedence "internetwork control"), DF clear and ID 0 (the
//     kernel's ICMP socket uses IP_PMTUDISC_DONT, so its ID comes from the
//     per-destination hash; 0 keeps the emulation deterministic), TTL 64,
//     protocol 1, no options, from src to dst;
//   - ICMP header: typ, code, the 32-bit rest-of-header word rest
//     (big-endian), checksum;
//   - then the first min(len, maxQuote) bytes of orig, where len is orig's
//     total length (or len(orig) when that is shorter).
//
// orig must start with a parsable IPv4 header (version 4, IHL ≥ 5, whole
// header present) and at least a whole header must be quoted; otherwise,
// or if b is too short, nothing is written and 0 is returned. The kernel's
// policy checks (no errors about non-first fragments, about ICMP errors,
// or to broadcast/multicast) are the caller's.
func EncodeICMPv4Error(b []byte, src, dst [4]byte, typ, code uint8, rest uint32, orig []byte, maxQuote int) int {
	hl, ok := ipv4HeaderLen(orig)
	if !ok {
		return 0
	}
	q := len(orig)
	if tl := int(IPv4(orig).TotalLength()); tl >= hl && tl < q {
		q = tl
	}
	q = min(q, maxQuote)
	if q < hl {
		return 0
	}
	n := IPv4MinHeaderLen + ICMPv4MinHeaderLen + q
	if n > len(b) || n > 0xffff {
		return 0
	}
	EncodeIPv4(b, IPv4Fields{
		TOS:         IPv4(orig).TOS()&0x1e | 0xc0,
		TotalLength: uint16(n),
		TTL:         IPv4DefaultTTL,
		Protocol:    ProtocolICMPv4,
		Src:         src,
		Dst:         dst,
	})
	m := ICMPv4(b[IPv4MinHeaderLen:n])
	m[0], m[1] = typ, code
	binary.BigEndian.PutUint32(m[4:], rest)
	copy(m[ICMPv4MinHeaderLen:], orig[:q])
	m.SetChecksum(m.CalculateChecksum())
	return n
}

// EncodeFragNeeded writes a complete IPv4 packet carrying ICMPv4 Destination
// Unreachable / Fragmentation Needed (type 3, code 4) with the next-hop MTU
// in bytes 6-7 (bytes 4-5 zero, RFC 1191), quoting orig's IP header and the
// first 8 bytes of its payload (RFC 792), with the IP header fields of
// EncodeICMPv4Error. It returns the packet length (at most 20+8+60+8), or 0
// if orig has no parsable IPv4 header or b is too short.
//
// Addresses: IPoIB reports an oversized packet with icmp_ndo_send
// (ipoib_cm.c ipoib_cm_skb_reap) → __icmp_send. The packet was locally
// generated, so its route is not RTCF_LOCAL and not an input route: the
// kernel sets saddr 0 and routes the error to the original source address,
// which is local; the output route lookup for a local destination picks
// that route's preferred source, the address itself (route.c RTN_LOCAL:
// fib_prefsrc, else daddr). Callers therefore pass src = dst = orig's source
// address, and deliver the packet locally (over loopback in Linux).
//
// Linux itself quotes up to ICMPv4KernelMaxQuote bytes;
// EncodeICMPv4Error(b, src, dst, ICMPv4DstUnreachable,
// ICMPv4FragmentationNeeded, uint32(mtu), orig, ICMPv4KernelMaxQuote)
// produces that form.
func EncodeFragNeeded(b []byte, src, dst [4]byte, mtu uint16, orig []byte) int {
	hl, ok := ipv4HeaderLen(orig)
	if !ok {
		return 0
	}
	return EncodeICMPv4Error(b, src, dst, ICMPv4DstUnreachable, ICMPv4FragmentationNeeded, uint32(mtu), orig, hl+8)
}

// ipv4HeaderLen returns orig's header length when orig starts with a whole,
// plausible IPv4 header.
func ipv4HeaderLen(orig []byte) (int, bool) {
	if len(orig) < IPv4MinHeaderLen || orig[0]>>4 != 4 {
		return 0, false
	}
	hl := int(orig[0]&0x0f) * 4
	return hl, hl >= IPv4MinHeaderLen && hl <= len(orig)
}
