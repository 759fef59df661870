package header

import "encoding/binary"

// ICMPv6 types (RFC 4443, RFC 4861).
const (
	ICMPv6DstUnreachable  uint8 = 1
	ICMPv6PacketTooBig    uint8 = 2
	ICMPv6TimeExceeded    uint8 = 3
	ICMPv6EchoRequest     uint8 = 128
	ICMPv6EchoReply       uint8 = 129
	ICMPv6NeighborSolicit uint8 = 135
	ICMPv6NeighborAdvert  uint8 = 136
)

// ICMPv6ReassemblyTimeout is the Time Exceeded code "fragment reassembly
// time exceeded" (RFC 4443 §3.3; ICMPV6_EXC_FRAGTIME).
const ICMPv6ReassemblyTimeout uint8 = 1

// ICMPv6AddressUnreachable is the Destination Unreachable code "address
// unreachable" (RFC 4443 §3.1; ICMPV6_ADDR_UNREACH), what neighbour
// discovery sends about a datagram whose next hop never answered.
const ICMPv6AddressUnreachable uint8 = 3

const (
	// ICMPv6MinHeaderLen is type, code, checksum and the 4-byte
	// type-specific word (struct icmp6hdr).
	ICMPv6MinHeaderLen = 8
	// ICMPv6MaxQuote is how much of the offending packet an ICMPv6 error
	// carries: as much as keeps the error within the minimum MTU
	// (RFC 4443 §2.4(c); icmp6_send): 1280 − 40 − 8 = 1232.
	ICMPv6MaxQuote = IPv6MinMTU - IPv6HeaderLen - ICMPv6MinHeaderLen
	// NDPMessageLen is a neighbor solicitation or advertisement without
	// options (struct nd_msg): header, 4 bytes, target address.
	NDPMessageLen = 24
	// NDPLinkLayerOptionLen is the size of an IPoIB source/target
	// link-layer address option: type, length 3, two zero pad bytes, the
	// 20-byte address (RFC 4391; ndisc.c with ndisc_addr_option_pad = 2
	// for ARPHRD_INFINIBAND: NDISC_OPT_SPACE(20+2) = 24).
	NDPLinkLayerOptionLen = 24
)

// Neighbor Discovery option types (RFC 4861 §4.6).
const (
	NDPOptionSourceLinkLayerAddress uint8 = 1
	NDPOptionTargetLinkLayerAddress uint8 = 2
)

// Neighbor advertisement flags, byte 4 of the message (RFC 4861 §4.4).
const (
	NAFlagRouter    uint8 = 0x80
	NAFlagSolicited uint8 = 0x40
	NAFlagOverride  uint8 = 0x20
)

// ICMPv6 is a view of an ICMPv6 message, header first.
type ICMPv6 []byte

// Valid reports whether b holds the 8-byte header, and for neighbor
// solicitations and advertisements the 24-byte fixed part (the lengths the
// kernel's icmpv6_rcv and ndisc_recv_ns/na require). RFC 4861's other
// checks (code 0, hop limit 255) are left to the caller.
func (b ICMPv6) Valid() bool {
	if len(b) < ICMPv6MinHeaderLen {
		return false
	}
	switch b[0] {
	case ICMPv6NeighborSolicit, ICMPv6NeighborAdvert:
		return len(b) >= NDPMessageLen
	}
	return true
}

// Type is byte 0.
func (b ICMPv6) Type() uint8 { return b[0] }

// Code is byte 1.
func (b ICMPv6) Code() uint8 { return b[1] }

// Checksum is the checksum as stored.
func (b ICMPv6) Checksum() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// Ident is the echo identifier (bytes 4-5).
func (b ICMPv6) Ident() uint16 { return binary.BigEndian.Uint16(b[4:]) }

// Sequence is the echo sequence number (bytes 6-7).
func (b ICMPv6) Sequence() uint16 { return binary.BigEndian.Uint16(b[6:]) }

// MTU is the 32-bit MTU of a packet-too-big message (bytes 4-7).
func (b ICMPv6) MTU() uint32 { return binary.BigEndian.Uint32(b[4:]) }

// Payload is everything after the 8-byte header: echo data, or the quoted
// packet of an error.
func (b ICMPv6) Payload() []byte { return b[ICMPv6MinHeaderLen:] }

// NAFlags is byte 4 of a neighbor advertisement (NAFlagRouter, ...).
func (b ICMPv6) NAFlags() uint8 { return b[4] }

// TargetAddress is the target of a neighbor solicitation or advertisement
// (bytes 8-23).
func (b ICMPv6) TargetAddress() [16]byte { return [16]byte(b[8:24]) }

// NDPOptions is the option area of a neighbor solicitation or
// advertisement (after byte 24).
func (b ICMPv6) NDPOptions() []byte { return b[NDPMessageLen:] }

// CalculateChecksum returns the value the checksum field must hold for the
// whole message sent from src to dst (RFC 4443 §2.3, pseudo-header with
// upper-layer length len(b)), with the field taken as zero. The view is not
// modified.
func (b ICMPv6) CalculateChecksum(src, dst [16]byte) uint16 {
	s := PseudoHeaderChecksumV6(ProtocolICMPv6, src, dst, uint32(len(b)))
	s = Checksum(b[:2], s)
	return ^Checksum(b[4:], s)
}

// IsChecksumValid reports whether the stored checksum matches the message
// sent from src to dst.
func (b ICMPv6) IsChecksumValid(src, dst [16]byte) bool {
	return Checksum(b, PseudoHeaderChecksumV6(ProtocolICMPv6, src, dst, uint32(len(b)))) == 0xffff
}

// SetChecksum stores v in the checksum field.
func (b ICMPv6) SetChecksum(v uint16) { binary.BigEndian.PutUint16(b[2:], v) }

// EncodeICMPv6Echo writes a complete IPv6 packet carrying an echo request
// (typ ICMPv6EchoRequest) or reply (ICMPv6EchoReply) with ident, seq and
// data and its checksum. f supplies the IP header; its NextHeader and
// PayloadLength are replaced. It returns the packet length, or 0 if b is
// too short or the payload would exceed 65535 bytes.
func EncodeICMPv6Echo(b []byte, f IPv6Fields, typ uint8, ident, seq uint16, data []byte) int {
	pl := ICMPv6MinHeaderLen + len(data)
	n := IPv6HeaderLen + pl
	if n > len(b) || pl > 0xffff {
		return 0
	}
	f.NextHeader = ProtocolICMPv6
	f.PayloadLength = uint16(pl)
	EncodeIPv6(b, f)
	m := ICMPv6(b[IPv6HeaderLen:n])
	m[0], m[1] = typ, 0
	binary.BigEndian.PutUint16(m[4:], ident)
	binary.BigEndian.PutUint16(m[6:], seq)
	copy(m[ICMPv6MinHeaderLen:], data)
	m.SetChecksum(m.CalculateChecksum(f.Src, f.Dst))
	return n
}

// EncodePacketTooBig writes a complete IPv6 packet carrying ICMPv6 Packet
// Too Big (type 2, code 0) with the 32-bit mtu: EncodeICMPv6Error with
// rest = mtu.
//
// Addresses: IPoIB reports with icmpv6_ndo_send (ipoib_cm_skb_reap). The
// original destination is not local, so icmp6_send leaves the source unset
// and routes to the original source, a local address, for which source
// selection picks that same address (RFC 6724 rule 1). Callers pass
// src = dst = orig's source address.
func EncodePacketTooBig(b []byte, src, dst [16]byte, mtu uint32, orig []byte) int {
	return EncodeICMPv6Error(b, src, dst, ICMPv6PacketTooBig, 0, mtu, orig)
}

// EncodeICMPv6Error writes a complete IPv6 packet carrying the ICMPv6
// error typ/code with the 32-bit type-specific word rest, quoting as much
// of orig as keeps the packet within IPv6MinMTU (ICMPv6MaxQuote bytes;
// less when orig, bounded by its own payload length, is shorter), as
// icmp6_send does. The IPv6 header has traffic class 0, flow label 0
// (Linux may set an automatic flow-label hash; 0 keeps the emulation
// deterministic), next header 58 and hop limit 64.
//
// orig must start with a whole IPv6 fixed header (version 6); otherwise, or
// if b is too short, nothing is written and 0 is returned. The kernel's
// policy checks (no errors about ICMPv6 errors, from unspecified or
// multicast sources) are the caller's.
func EncodeICMPv6Error(b []byte, src, dst [16]byte, typ, code uint8, rest uint32, orig []byte) int {
	if len(orig) < IPv6HeaderLen || orig[0]>>4 != 6 {
		return 0
	}
	q := len(orig)
	if l := IPv6HeaderLen + int(IPv6(orig).PayloadLength()); l < q {
		q = l
	}
	q = min(q, ICMPv6MaxQuote)
	pl := ICMPv6MinHeaderLen + q
	n := IPv6HeaderLen + pl
	if n > len(b) {
		return 0
	}
	EncodeIPv6(b, IPv6Fields{
		PayloadLength: uint16(pl),
		NextHeader:    ProtocolICMPv6,
		HopLimit:      IPv6DefaultHopLimit,
		Src:           src,
		Dst:           dst,
	})
	m := ICMPv6(b[IPv6HeaderLen:n])
	m[0], m[1] = typ, code
	binary.BigEndian.PutUint32(m[4:], rest)
	copy(m[ICMPv6MinHeaderLen:], orig[:q])
	m.SetChecksum(m.CalculateChecksum(src, dst))
	return n
}

// EncodeLinkLayerOption writes an IPoIB source (typ 1) or target (typ 2)
// link-layer address option: typ, length 3 (in 8-byte units), two zero
// bytes, the 20-byte address. It returns NDPLinkLayerOptionLen, or 0 if b
// is shorter.
func EncodeLinkLayerOption(b []byte, typ uint8, addr HWAddr) int {
	if len(b) < NDPLinkLayerOptionLen {
		return 0
	}
	b[0], b[1], b[2], b[3] = typ, NDPLinkLayerOptionLen/8, 0, 0
	copy(b[4:NDPLinkLayerOptionLen], addr[:])
	return NDPLinkLayerOptionLen
}

// FindLinkLayerOption looks for the first option of type typ in an NDP
// option area, with the rules of the kernel's ndisc_parse_options and
// ndisc_opt_addr_data for an IPoIB interface:
//
//   - ok is false when the area is malformed (an option of length 0, or one
//     running past the end), which makes Linux drop the whole message, or
//     when the option is found but its length is not 3 (24 bytes), which
//     Linux also drops ("invalid link-layer address length");
//   - found reports whether the option is present; a later duplicate is
//     ignored.
//
// The address is bytes 4-23 of the option; the two pad bytes are not
// checked.
func FindLinkLayerOption(opts []byte, typ uint8) (addr HWAddr, found, ok bool) {
	var at []byte
	for len(opts) > 0 {
		if len(opts) < 2 {
			return HWAddr{}, false, false
		}
		l := int(opts[1]) * 8
		if l == 0 || l > len(opts) {
			return HWAddr{}, false, false
		}
		if opts[0] == typ && at == nil {
			at = opts[:l]
		}
		opts = opts[l:]
	}
	if at == nil {
		return HWAddr{}, false, true
	}
	if len(at) != NDPLinkLayerOptionLen {
		return HWAddr{}, true, false
	}
	return HWAddr(at[4:NDPLinkLayerOptionLen]), true, true
}

// EncodeNeighborSolicit writes a complete IPv6 packet (hop limit 255)
// carrying a neighbor solicitation for target from src to dst, followed by
// a source link-layer address option when sll is not nil (RFC 4861 §4.3:
// omit it when src is the unspecified address, as in duplicate address
// detection). dst is normally SolicitedNodeAddr(target). It returns the
// packet length (64, or 88 with the option), or 0 if b is too short.
func EncodeNeighborSolicit(b []byte, src, dst, target [16]byte, sll *HWAddr) int {
	return encodeNDP(b, src, dst, target, ICMPv6NeighborSolicit, 0, NDPOptionSourceLinkLayerAddress, sll)
}

// EncodeNeighborAdvert writes a complete IPv6 packet (hop limit 255)
// carrying a neighbor advertisement for target with flags (NAFlagRouter,
// NAFlagSolicited, NAFlagOverride) from src to dst, followed by a target
// link-layer address option when tll is not nil. It returns the packet
// length (64, or 88 with the option), or 0 if b is too short.
func EncodeNeighborAdvert(b []byte, src, dst, target [16]byte, flags uint8, tll *HWAddr) int {
	return encodeNDP(b, src, dst, target, ICMPv6NeighborAdvert, flags, NDPOptionTargetLinkLayerAddress, tll)
}

func encodeNDP(b []byte, src, dst, target [16]byte, typ, flags, optType uint8, ll *HWAddr) int {
	pl := NDPMessageLen
	if ll != nil {
		pl += NDPLinkLayerOptionLen
	}
	n := IPv6HeaderLen + pl
	if n > len(b) {
		return 0
	}
	EncodeIPv6(b, IPv6Fields{
		PayloadLength: uint16(pl),
		NextHeader:    ProtocolICMPv6,
		HopLimit:      NDPHopLimit,
		Src:           src,
		Dst:           dst,
	})
	m := ICMPv6(b[IPv6HeaderLen:n])
	m[0], m[1] = typ, 0
	m[4], m[5], m[6], m[7] = flags, 0, 0, 0
	copy(m[8:24], target[:])
	if ll != nil {
		EncodeLinkLayerOption(m[NDPMessageLen:], optType, *ll)
	}
	m.SetChecksum(m.CalculateChecksum(src, dst))
	return n
}
