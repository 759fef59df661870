package header

import (
	"encoding/binary"
	"math/bits"
)

// Checksum returns the 16-bit one's-complement sum (RFC 1071) of b, added to
// initial. The result is not complemented: a header stores ^Checksum(...),
// and a received header whose checksum field is included verifies when the
// sum is 0xffff. An odd trailing byte is summed as if followed by a zero
// byte, so sums of several pieces may be chained through initial only when
// every piece but the last has even length.
func Checksum(b []byte, initial uint16) uint16 {
	// Long runs go 32 bytes at a time into four sums of 32-bit words,
	// with no carry from one addition to the next: below 16 GiB each
	// takes fewer than 2^30 words and stays below 2^62.
	var s0, s1, s2, s3 uint64
	for len(b) >= 32 && len(b) < 1<<34 {
		s0 += uint64(binary.BigEndian.Uint32(b[0:]))
		s1 += uint64(binary.BigEndian.Uint32(b[4:]))
		s2 += uint64(binary.BigEndian.Uint32(b[8:]))
		s3 += uint64(binary.BigEndian.Uint32(b[12:]))
		s0 += uint64(binary.BigEndian.Uint32(b[16:]))
		s1 += uint64(binary.BigEndian.Uint32(b[20:]))
		s2 += uint64(binary.BigEndian.Uint32(b[24:]))
		s3 += uint64(binary.BigEndian.Uint32(b[28:]))
		b = b[32:]
	}
	sum := s0 + s1 + s2 + s3 // each below 2^62: no overflow
	sum, carry := bits.Add64(sum, uint64(initial), 0)
	sum += carry
	for len(b) >= 8 {
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b), 0)
		sum += carry // cannot overflow again: sum ≤ 2^64-2 after the add
		b = b[8:]
	}
	if len(b) >= 4 {
		sum, carry = bits.Add64(sum, uint64(binary.BigEndian.Uint32(b)), 0)
		sum += carry
		b = b[4:]
	}
	if len(b) >= 2 {
		sum, carry = bits.Add64(sum, uint64(binary.BigEndian.Uint16(b)), 0)
		sum += carry
		b = b[2:]
	}
	if len(b) == 1 {
		sum, carry = bits.Add64(sum, uint64(b[0])<<8, 0)
		sum += carry
	}
	// Fold 64 → 16 bits with end-around carry.
	sum = sum>>32 + sum&0xffffffff
	sum = sum>>32 + sum&0xffffffff
	sum = sum>>16 + sum&0xffff
	sum = sum>>16 + sum&0xffff
	return uint16(sum)
}

// ChecksumCombine adds two one's-complement sums.
func ChecksumCombine(a, b uint16) uint16 {
	s := uint32(a) + uint32(b)
	return uint16(s>>16 + s&0xffff)
}

// PseudoHeaderChecksumV4 is the one's-complement sum of the IPv4
// pseudo-header (RFC 768/793): source, destination, zero, protocol, length.
func PseudoHeaderChecksumV4(protocol uint8, src, dst [4]byte, length uint16) uint16 {
	s := Checksum(src[:], 0)
	s = Checksum(dst[:], s)
	return ChecksumCombine(s, ChecksumCombine(uint16(protocol), length))
}

// PseudoHeaderChecksumV6 is the one's-complement sum of the IPv6
// pseudo-header (RFC 8200 §8.1): source, destination, 32-bit upper-layer
// length, three zero bytes, next header.
func PseudoHeaderChecksumV6(nextHeader uint8, src, dst [16]byte, length uint32) uint16 {
	s := Checksum(src[:], 0)
	s = Checksum(dst[:], s)
	s = ChecksumCombine(s, uint16(length>>16))
	s = ChecksumCombine(s, uint16(length))
	return ChecksumCombine(s, uint16(nextHeader))
}
