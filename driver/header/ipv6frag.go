package header

import "encoding/binary"

const (
	// ProtocolIPv6Fragment is the next-header value of the Fragment
	// extension header (RFC 8200 §4.5; NEXTHDR_FRAGMENT).
	ProtocolIPv6Fragment uint8 = 44
	// IPv6FragmentHeaderLen is the Fragment header's fixed size (struct
	// frag_hdr).
	IPv6FragmentHeaderLen = 8
	// IPv6MaxFragmentOffset is the largest offset the 13-bit field holds,
	// in bytes.
	IPv6MaxFragmentOffset = 0x1fff << 3
)

// IPv6Fragment is a view of a Fragment extension header (RFC 8200 §4.5),
// header first, then the fragment's data:
//
//	next header (8) | reserved (8) | offset (13) | res (2) | M (1) | identification (32)
type IPv6Fragment []byte

// Valid reports whether b holds the 8-byte header. The reserved bits are
// not checked: RFC 8200 says to ignore them on receipt.
func (b IPv6Fragment) Valid() bool { return len(b) >= IPv6FragmentHeaderLen }

// NextHeader is the protocol of the fragmentable part (byte 0).
func (b IPv6Fragment) NextHeader() uint8 { return b[0] }

// FragmentOffset is the fragment's offset in the fragmentable part, in
// bytes (the 13-bit field × 8).
func (b IPv6Fragment) FragmentOffset() uint16 { return binary.BigEndian.Uint16(b[2:]) &^ 7 }

// More reports the M flag: more fragments follow.
func (b IPv6Fragment) More() bool { return b[3]&1 != 0 }

// ID is the 32-bit identification.
func (b IPv6Fragment) ID() uint32 { return binary.BigEndian.Uint32(b[4:]) }

// Payload is the fragment's data, after the header.
func (b IPv6Fragment) Payload() []byte { return b[IPv6FragmentHeaderLen:] }

// IPv6FragmentFields are the values EncodeIPv6Fragment writes.
type IPv6FragmentFields struct {
	NextHeader uint8
	// Offset is in bytes: a multiple of 8, at most IPv6MaxFragmentOffset.
	Offset uint16
	More   bool
	ID     uint32
}

// EncodeIPv6Fragment writes the 8-byte Fragment header with f's values
// and zero reserved fields into b and returns IPv6FragmentHeaderLen, or 0
// if b is shorter than that or f.Offset is not a multiple of 8.
func EncodeIPv6Fragment(b []byte, f IPv6FragmentFields) int {
	if len(b) < IPv6FragmentHeaderLen || f.Offset&7 != 0 {
		return 0
	}
	b[0], b[1] = f.NextHeader, 0
	off := f.Offset
	if f.More {
		off |= 1
	}
	binary.BigEndian.PutUint16(b[2:], off)
	binary.BigEndian.PutUint32(b[4:], f.ID)
	return IPv6FragmentHeaderLen
}
