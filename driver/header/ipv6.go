package header

import "encoding/binary"

const (
	// IPv6HeaderLen is the fixed header (RFC 8200).
	IPv6HeaderLen = 40
	// IPv6MinMTU is the minimum link MTU (RFC 8200 §5); ICMPv6 errors
	// never exceed it.
	IPv6MinMTU = 1280
	// IPv6DefaultHopLimit is net.ipv6.conf.*.hop_limit's default.
	IPv6DefaultHopLimit = 64
	// NDPHopLimit is the hop limit Neighbor Discovery messages must carry
	// (RFC 4861).
	NDPHopLimit = 255
)

// IPv6 is a view of an IPv6 packet, fixed header first.
type IPv6 []byte

// Valid reports whether b holds the fixed header with version 6 and the
// whole payload it announces (40 + payload length ≤ len(b); trailing bytes
// are allowed). A zero payload length with a hop-by-hop jumbo option is not
// supported.
func (b IPv6) Valid() bool {
	return len(b) >= IPv6HeaderLen && b[0]>>4 == 6 &&
		IPv6HeaderLen+int(binary.BigEndian.Uint16(b[4:])) <= len(b)
}

// Version is the top nibble of byte 0.
func (b IPv6) Version() uint8 { return b[0] >> 4 }

// TrafficClass is the 8-bit traffic class.
func (b IPv6) TrafficClass() uint8 { return uint8(binary.BigEndian.Uint16(b[0:]) >> 4) }

// FlowLabel is the 20-bit flow label.
func (b IPv6) FlowLabel() uint32 { return binary.BigEndian.Uint32(b[0:]) & 0xfffff }

// PayloadLength is the length of everything after the fixed header.
func (b IPv6) PayloadLength() uint16 { return binary.BigEndian.Uint16(b[4:]) }

// NextHeader is the protocol of the payload (or first extension header).
func (b IPv6) NextHeader() uint8 { return b[6] }

// HopLimit is byte 7.
func (b IPv6) HopLimit() uint8 { return b[7] }

// SourceAddress is bytes 8-23.
func (b IPv6) SourceAddress() [16]byte { return [16]byte(b[8:24]) }

// DestinationAddress is bytes 24-39.
func (b IPv6) DestinationAddress() [16]byte { return [16]byte(b[24:40]) }

// Payload is the payload-length bytes after the fixed header.
func (b IPv6) Payload() []byte { return b[IPv6HeaderLen : IPv6HeaderLen+int(b.PayloadLength())] }

// SetPayloadLength stores the payload length.
func (b IPv6) SetPayloadLength(v uint16) { binary.BigEndian.PutUint16(b[4:], v) }

// SetNextHeader stores the next header.
func (b IPv6) SetNextHeader(v uint8) { b[6] = v }

// IPv6Fields are the values EncodeIPv6 writes.
type IPv6Fields struct {
	TrafficClass uint8
	// FlowLabel is truncated to 20 bits.
	FlowLabel     uint32
	PayloadLength uint16
	NextHeader    uint8
	HopLimit      uint8
	Src, Dst      [16]byte
}

// EncodeIPv6 writes the 40-byte fixed header with f's values into b and
// returns IPv6HeaderLen, or 0 if b is shorter than that.
func EncodeIPv6(b []byte, f IPv6Fields) int {
	if len(b) < IPv6HeaderLen {
		return 0
	}
	binary.BigEndian.PutUint32(b[0:], 6<<28|uint32(f.TrafficClass)<<20|f.FlowLabel&0xfffff)
	binary.BigEndian.PutUint16(b[4:], f.PayloadLength)
	b[6] = f.NextHeader
	b[7] = f.HopLimit
	copy(b[8:24], f.Src[:])
	copy(b[24:40], f.Dst[:])
	return IPv6HeaderLen
}

// SolicitedNodeAddr is the solicited-node multicast address of addr
// (RFC 4291 §2.7.1): ff02::1:ff00:0/104 with addr's low 24 bits.
func SolicitedNodeAddr(addr [16]byte) [16]byte {
	return [16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: addr[13], 14: addr[14], 15: addr[15]}
}

// Next-header values of the IPv6 extension headers SkipIPv6ExtHeaders
// steps over or stops at (include/net/ipv6.h).
const (
	ProtocolIPv6HopByHop uint8 = 0
	ProtocolIPv6Routing  uint8 = 43
	ProtocolIPv6Auth     uint8 = 51
	ProtocolIPv6NoNext   uint8 = 59
	ProtocolIPv6DestOpts uint8 = 60
)

// SkipIPv6ExtHeaders steps over the extension headers of a packet's
// payload as ipv6_skip_exthdr does, starting with next header nh at
// payload[0]: hop-by-hop, routing and destination options (length in
// 8-byte units past the first 8), authentication (4-byte units past the
// first 8) and a fragment header, after which it stops at a fragment
// other than the first. It returns the offset and next header of the
// first header it does not step over, and the fragment offset field
// (with its flags) of the fragment header it met, if any; ok is false
// when the fields it reads of a header (next header and length, and a
// fragment header's offset) are cut short or there is no next header
// (59), as the kernel's -1. Like the kernel it does not check that a
// header's whole length is there.
func SkipIPv6ExtHeaders(payload []byte, nh uint8) (off int, next uint8, fragOff uint16, ok bool) {
	for {
		switch nh {
		case ProtocolIPv6HopByHop, ProtocolIPv6Routing, ProtocolIPv6DestOpts, ProtocolIPv6Auth, ProtocolIPv6Fragment:
		case ProtocolIPv6NoNext:
			return 0, nh, fragOff, false
		default:
			return off, nh, fragOff, true
		}
		// it reads the next header and length (2 bytes), of a
		// fragment header the offset field too (4)
		need := 2
		if nh == ProtocolIPv6Fragment {
			need = 4
		}
		if len(payload)-off < need {
			return 0, nh, fragOff, false
		}
		h := payload[off:]
		var n int
		switch nh {
		case ProtocolIPv6Fragment:
			fragOff = binary.BigEndian.Uint16(h[2:])
			if fragOff&^7 != 0 {
				return off, nh, fragOff, true
			}
			n = 8
		case ProtocolIPv6Auth:
			n = (int(h[1]) + 2) << 2
		default:
			n = (int(h[1]) + 1) << 3
		}
		nh = h[0]
		off += n
	}
}
