package header

import "encoding/binary"

// IPv4 sizes and field values.
const (
	// IPv4MinHeaderLen is a header without options (IHL 5).
	IPv4MinHeaderLen = 20
	// IPv4MinMTU is the minimum datagram every host accepts (RFC 791);
	// Linux bounds ICMPv4 errors by it.
	IPv4MinMTU = 576
	// IPv4DefaultTTL is net.ipv4.ip_default_ttl's default.
	IPv4DefaultTTL = 64

	// IPv4FlagDontFragment and IPv4FlagMoreFragments are the flag bits
	// as returned by (IPv4).Flags (the top 3 bits of bytes 6-7, shifted
	// down).
	IPv4FlagDontFragment  uint8 = 0x2
	IPv4FlagMoreFragments uint8 = 0x1
)

// IP protocol numbers.
const (
	ProtocolICMPv4 uint8 = 1
	ProtocolTCP    uint8 = 6
	ProtocolUDP    uint8 = 17
	ProtocolICMPv6 uint8 = 58
)

// IPv4 is a view of an IPv4 packet (RFC 791), header first.
type IPv4 []byte

// Valid reports whether b holds a well-formed header and all the
// datagram it announces, with the checks of the kernel's ip_rcv_core:
// version 4, IHL ≥ 5, IHL×4 ≤ total length ≤ len(b). Bytes beyond the total
// length (link-layer padding) are allowed. The checksum is not checked here:
// see IsChecksumValid.
func (b IPv4) Valid() bool {
	if len(b) < IPv4MinHeaderLen || b[0]>>4 != 4 {
		return false
	}
	hl := int(b[0]&0x0f) * 4
	tl := int(binary.BigEndian.Uint16(b[2:]))
	return hl >= IPv4MinHeaderLen && hl <= tl && tl <= len(b)
}

// Version is the top nibble of byte 0.
func (b IPv4) Version() uint8 { return b[0] >> 4 }

// HeaderLength is IHL×4, in bytes.
func (b IPv4) HeaderLength() int { return int(b[0]&0x0f) * 4 }

// TOS is the type-of-service (DSCP+ECN) byte.
func (b IPv4) TOS() uint8 { return b[1] }

// TotalLength is the datagram length from the header, in bytes.
func (b IPv4) TotalLength() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// ID is the identification field.
func (b IPv4) ID() uint16 { return binary.BigEndian.Uint16(b[4:]) }

// Flags is the 3-bit flags field (IPv4FlagDontFragment,
// IPv4FlagMoreFragments; 0x4 is the reserved bit).
func (b IPv4) Flags() uint8 { return b[6] >> 5 }

// DontFragment reports the DF bit.
func (b IPv4) DontFragment() bool { return b.Flags()&IPv4FlagDontFragment != 0 }

// MoreFragments reports the MF bit.
func (b IPv4) MoreFragments() bool { return b.Flags()&IPv4FlagMoreFragments != 0 }

// FragmentOffset is the fragment offset in bytes (the field × 8).
func (b IPv4) FragmentOffset() uint16 { return binary.BigEndian.Uint16(b[6:]) << 3 }

// TTL is the time to live.
func (b IPv4) TTL() uint8 { return b[8] }

// Protocol is the payload's protocol number.
func (b IPv4) Protocol() uint8 { return b[9] }

// Checksum is the header checksum as stored.
func (b IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[10:]) }

// SourceAddress is bytes 12-15.
func (b IPv4) SourceAddress() [4]byte { return [4]byte(b[12:16]) }

// DestinationAddress is bytes 16-19.
func (b IPv4) DestinationAddress() [4]byte { return [4]byte(b[16:20]) }

// Options is the option bytes between the fixed header and HeaderLength.
func (b IPv4) Options() []byte { return b[IPv4MinHeaderLen:b.HeaderLength()] }

// Payload is the bytes after the header up to the total length.
func (b IPv4) Payload() []byte { return b[b.HeaderLength():b.TotalLength()] }

// CalculateChecksum returns the value the checksum field must hold: the
// complemented sum of the header (HeaderLength bytes) with the checksum
// field taken as zero. The view is not modified.
func (b IPv4) CalculateChecksum() uint16 {
	s := Checksum(b[:10], 0)
	return ^Checksum(b[12:b.HeaderLength()], s)
}

// IsChecksumValid reports whether the stored checksum matches the header.
func (b IPv4) IsChecksumValid() bool {
	return Checksum(b[:b.HeaderLength()], 0) == 0xffff
}

// SetChecksum stores v in the checksum field.
func (b IPv4) SetChecksum(v uint16) { binary.BigEndian.PutUint16(b[10:], v) }

// SetTotalLength stores the total length.
func (b IPv4) SetTotalLength(v uint16) { binary.BigEndian.PutUint16(b[2:], v) }

// SetTTL stores the time to live; the caller updates the checksum.
func (b IPv4) SetTTL(v uint8) { b[8] = v }

// IPv4Fields are the values EncodeIPv4 writes into an option-less header.
type IPv4Fields struct {
	TOS         uint8
	TotalLength uint16
	ID          uint16
	// Flags is the 3-bit flags field (IPv4FlagDontFragment, ...).
	Flags uint8
	// FragmentOffset is in bytes and must be a multiple of 8.
	FragmentOffset uint16
	TTL            uint8
	Protocol       uint8
	Src, Dst       [4]byte
}

// EncodeIPv4 writes a 20-byte header (version 4, IHL 5) with f's values and
// a correct checksum into b and returns IPv4MinHeaderLen, or 0 if b is
// shorter than that.
func EncodeIPv4(b []byte, f IPv4Fields) int {
	if len(b) < IPv4MinHeaderLen {
		return 0
	}
	h := IPv4(b[:IPv4MinHeaderLen])
	h[0] = 0x45
	h[1] = f.TOS
	binary.BigEndian.PutUint16(h[2:], f.TotalLength)
	binary.BigEndian.PutUint16(h[4:], f.ID)
	binary.BigEndian.PutUint16(h[6:], uint16(f.Flags&0x7)<<13|f.FragmentOffset>>3&0x1fff)
	h[8] = f.TTL
	h[9] = f.Protocol
	h[10], h[11] = 0, 0
	copy(h[12:16], f.Src[:])
	copy(h[16:20], f.Dst[:])
	h.SetChecksum(h.CalculateChecksum())
	return IPv4MinHeaderLen
}
