// Package header holds the wire formats the emulated IPoIB driver reads and
// writes: the IPoIB encapsulation header and 20-byte hardware address,
// multicast GID mapping, ARP for IPoIB, and the parts of IPv4, ICMPv4, IPv6,
// ICMPv6 and Neighbor Discovery the driver needs (RFC 4391, RFC 4392,
// RFC 4755), and the communication manager's MADs with IPoIB's private
// data (mad.go, cm.go: IBA chapters 12 and 13), and whole InfiniBand
// packets with their CRCs as a link capture writes them (ibpacket.go:
// IBA chapters 7 and 9).
//
// As in gVisor's tcpip/header package, a format is a byte-slice view type
// (IPoIB, ARP, IPv4, ICMPv4, IPv6, ICMPv6) with accessor methods. A view's
// Valid method says whether the bytes are long and consistent enough for its
// accessors; accessors must only be called on a valid view (they index the
// slice and panic otherwise). Encoders write into a buffer the caller
// provides and return the number of bytes written, or 0 (writing nothing)
// when the buffer is too short or the input cannot be encoded; nothing on
// the encode and checksum paths allocates. AppendIBPacket, which only
// capture uses, appends to a slice instead.
//
// It imports no package of this module.
package header

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// IPoIB encapsulation header sizes (ipoib.h IPOIB_ENCAP_LEN, INFINIBAND_ALEN,
// IPOIB_HARD_LEN).
const (
	// IPoIBHeaderLen is the on-wire encapsulation header: EtherType (2)
	// and 2 reserved zero bytes (RFC 4391).
	IPoIBHeaderLen = 4
	// HWAddrLen is the length of an IPoIB hardware address.
	HWAddrLen = 20
	// HardHeaderLen is the netdev hard_header_len: the 20-byte pseudo
	// header (destination hardware address, never on the wire) plus the
	// 4-byte encapsulation header.
	HardHeaderLen = HWAddrLen + IPoIBHeaderLen
)

// EtherTypes IPoIB carries. ipoib_start_xmit accepts exactly these five and
// counts any other as tx_dropped (ipoib_main.c).
const (
	EtherTypeIPv4 uint16 = 0x0800
	EtherTypeARP  uint16 = 0x0806
	EtherTypeRARP uint16 = 0x8035
	EtherTypeIPv6 uint16 = 0x86dd
	EtherTypeTIPC uint16 = 0x88ca
)

// AllowedType reports whether ipoib_start_xmit transmits frames of this
// EtherType (IPv4, IPv6, ARP, RARP, TIPC), for unicast and multicast alike.
func AllowedType(ethertype uint16) bool {
	switch ethertype {
	case EtherTypeIPv4, EtherTypeIPv6, EtherTypeARP, EtherTypeRARP, EtherTypeTIPC:
		return true
	}
	return false
}

// IPoIB is a view of the 4-byte IPoIB encapsulation header followed by the
// payload.
type IPoIB []byte

// Valid reports whether b holds a whole encapsulation header. The reserved
// bytes are not checked: the kernel's receive path reads only the EtherType.
func (b IPoIB) Valid() bool { return len(b) >= IPoIBHeaderLen }

// Type is the EtherType (big-endian bytes 0-1).
func (b IPoIB) Type() uint16 { return binary.BigEndian.Uint16(b[0:]) }

// Reserved is bytes 2-3, zero when sent by Linux.
func (b IPoIB) Reserved() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// Payload is everything after the encapsulation header.
func (b IPoIB) Payload() []byte { return b[IPoIBHeaderLen:] }

// Encode writes the encapsulation header for ethertype into the first 4
// bytes of b: the EtherType big-endian, then two zero bytes. b must be at
// least IPoIBHeaderLen long.
func (b IPoIB) Encode(ethertype uint16) {
	_ = b[3]
	binary.BigEndian.PutUint16(b[0:], ethertype)
	b[2], b[3] = 0, 0
}

// Hardware address flag bits in byte 0 (ipoib.h IPOIB_FLAGS_RC/UC,
// RFC 4755).
const (
	// HWFlagConnected (0x80, IPOIB_FLAGS_RC): the interface accepts
	// connected-mode (RC) connections. ipoib_cm_dev_init sets it.
	HWFlagConnected byte = 0x80
	// HWFlagUC (0x40, IPOIB_FLAGS_UC): unreliable-connected capable;
	// defined by RFC 4755 but never set by Linux.
	HWFlagUC byte = 0x40
)

// HWAddr is a 20-byte IPoIB hardware address: byte 0 flags, bytes 1-3 the
// UD QPN (24 bits, big-endian), bytes 4-19 the port GID (8-byte subnet
// prefix, 8-byte GUID). For multicast addresses the QPN is 0xffffff and the
// GID is the MGID.
type HWAddr [HWAddrLen]byte

// NewHWAddr builds an address from its parts; qpn is truncated to 24 bits.
func NewHWAddr(flags byte, qpn uint32, gid [16]byte) HWAddr {
	var a HWAddr
	a[0] = flags
	a[1], a[2], a[3] = byte(qpn>>16), byte(qpn>>8), byte(qpn)
	copy(a[4:], gid[:])
	return a
}

// Flags is byte 0 (HWFlagConnected, HWFlagUC).
func (a HWAddr) Flags() byte { return a[0] }

// QPN is the 24-bit queue pair number in bytes 1-3.
func (a HWAddr) QPN() uint32 { return uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) }

// GID is bytes 4-19.
func (a HWAddr) GID() [16]byte { return [16]byte(a[4:20]) }

// GUID is the port GUID, bytes 12-19 (the GID's interface half).
func (a HWAddr) GUID() [8]byte { return [8]byte(a[12:20]) }

// IsMulticast reports whether the GID is a multicast GID. This is the
// kernel's test (ipoib_start_xmit: hwaddr[4] == 0xff).
func (a HWAddr) IsMulticast() bool { return a[4] == 0xff }

const hexDigits = "0123456789abcdef"

// String prints the 20 bytes as lowercase two-digit hex joined by ':', as
// iproute2 prints link/infiniband addresses:
// 80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51.
func (a HWAddr) String() string {
	var buf [HWAddrLen*3 - 1]byte
	for i, c := range a {
		if i > 0 {
			buf[i*3-1] = ':'
		}
		buf[i*3] = hexDigits[c>>4]
		buf[i*3+1] = hexDigits[c&0xf]
	}
	return string(buf[:])
}

// ErrBadHWAddr is wrapped by ParseHWAddr's errors.
var ErrBadHWAddr = errors.New("invalid IPoIB hardware address")

// ParseHWAddr parses 20 colon-separated hex bytes. Each byte is one or two
// hex digits, either case (iproute2's ll_addr_a2n also accepts one digit);
// anything else, or a count other than 20, is an error wrapping
// ErrBadHWAddr.
func ParseHWAddr(s string) (HWAddr, error) {
	var a HWAddr
	n, digits := 0, 0 // bytes completed, digits of byte n seen
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ':' {
			if digits == 0 {
				return HWAddr{}, fmt.Errorf("%w %q", ErrBadHWAddr, s)
			}
			n, digits = n+1, 0
			continue
		}
		v, ok := unhex(s[i])
		if !ok || digits == 2 || n == HWAddrLen {
			return HWAddr{}, fmt.Errorf("%w %q", ErrBadHWAddr, s)
		}
		a[n] = a[n]<<4 | v
		digits++
	}
	if n != HWAddrLen {
		return HWAddr{}, fmt.Errorf("%w %q", ErrBadHWAddr, s)
	}
	return a, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// MulticastQPN is the QPN field of every multicast hardware address
// (IB_MULTICAST_QPN).
const MulticastQPN = 0xffffff

// BroadcastAddr is the IPoIB broadcast address of a partition:
// 00:ff:ff:ff (reserved flags, multicast QPN) followed by the MGID
// ff12:401b:PPPP:0:0:0:ffff:ffff, i.e. flags 1 (transient), scope 2
// (link-local), IPv4 signature 0x401b, the P_Key with bit 15 (full
// membership) forced, and all-ones in the low 32 bits (ipoib_main.c
// ipv4_bcast_addr; the P_Key bytes 8-9 are written with pkey|0x8000 in
// ipoib_parent_init and update_parent_pkey).
func BroadcastAddr(pkey uint16) HWAddr {
	pkey = PKeyFull(pkey)
	return HWAddr{
		0x00, 0xff, 0xff, 0xff,
		0xff, 0x12, 0x40, 0x1b, byte(pkey >> 8), byte(pkey), 0, 0,
		0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
	}
}

// PKey is the P_Key in bytes 8-9 of a broadcast or multicast address (the
// MGID's bytes 4-5).
func (a HWAddr) PKey() uint16 { return uint16(a[8])<<8 | uint16(a[9]) }

// WithPKey returns a with bytes 8-9 (the MGID's P_Key) set to pkey, as
// ipoib_start_xmit does to every multicast destination before sending (with
// the interface's own P_Key, bit 15 already set). No bit is forced here.
func (a HWAddr) WithPKey(pkey uint16) HWAddr {
	a[8], a[9] = byte(pkey>>8), byte(pkey)
	return a
}
