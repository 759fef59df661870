package wire

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Sizes of the fixed headers this package codes.
const (
	ifinfomsgLen = 16 // struct ifinfomsg
	genlHdrLen   = 4  // struct genlmsghdr
)

// Ifinfomsg is struct ifinfomsg.
type Ifinfomsg struct {
	Family uint8
	Type   uint16
	Index  int32
	Flags  uint32
	Change uint32
}

// Marshal encodes h.
func (h Ifinfomsg) Marshal() []byte {
	b := make([]byte, ifinfomsgLen)
	b[0] = h.Family
	binary.NativeEndian.PutUint16(b[2:4], h.Type)
	binary.NativeEndian.PutUint32(b[4:8], uint32(h.Index))
	binary.NativeEndian.PutUint32(b[8:12], h.Flags)
	binary.NativeEndian.PutUint32(b[12:16], h.Change)
	return b
}

// ParseIfinfomsg decodes the ifinfomsg that starts b and returns the bytes
// after it.
func ParseIfinfomsg(b []byte) (Ifinfomsg, []byte, error) {
	if len(b) < ifinfomsgLen {
		return Ifinfomsg{}, nil, fmt.Errorf("%w: ifinfomsg truncated", ErrMalformed)
	}
	return Ifinfomsg{
		Family: b[0],
		Type:   binary.NativeEndian.Uint16(b[2:4]),
		Index:  int32(binary.NativeEndian.Uint32(b[4:8])),
		Flags:  binary.NativeEndian.Uint32(b[8:12]),
		Change: binary.NativeEndian.Uint32(b[12:16]),
	}, b[ifinfomsgLen:], nil
}

// Ifaddrmsg is struct ifaddrmsg.
type Ifaddrmsg struct {
	Family    uint8
	PrefixLen uint8
	Flags     uint8
	Scope     uint8
	Index     uint32
}

// Marshal encodes h.
func (h Ifaddrmsg) Marshal() []byte {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0], b[1], b[2], b[3] = h.Family, h.PrefixLen, h.Flags, h.Scope
	binary.NativeEndian.PutUint32(b[4:8], h.Index)
	return b
}

// ParseIfaddrmsg decodes the ifaddrmsg that starts b and returns the
// bytes after it.
func ParseIfaddrmsg(b []byte) (Ifaddrmsg, []byte, error) {
	if len(b) < unix.SizeofIfAddrmsg {
		return Ifaddrmsg{}, nil, fmt.Errorf("%w: ifaddrmsg truncated", ErrMalformed)
	}
	return Ifaddrmsg{Family: b[0], PrefixLen: b[1], Flags: b[2], Scope: b[3], Index: binary.NativeEndian.Uint32(b[4:8])},
		b[unix.SizeofIfAddrmsg:], nil
}

// Ndmsg is struct ndmsg.
type Ndmsg struct {
	Family uint8
	Index  int32
	State  uint16
	Flags  uint8
	Type   uint8
}

// Marshal encodes h.
func (h Ndmsg) Marshal() []byte {
	b := make([]byte, unix.SizeofNdMsg)
	b[0] = h.Family
	binary.NativeEndian.PutUint32(b[4:8], uint32(h.Index))
	binary.NativeEndian.PutUint16(b[8:10], h.State)
	b[10], b[11] = h.Flags, h.Type
	return b
}

// ParseNdmsg decodes the ndmsg that starts b and returns the bytes after
// it.
func ParseNdmsg(b []byte) (Ndmsg, []byte, error) {
	if len(b) < unix.SizeofNdMsg {
		return Ndmsg{}, nil, fmt.Errorf("%w: ndmsg truncated", ErrMalformed)
	}
	return Ndmsg{Family: b[0], Index: int32(binary.NativeEndian.Uint32(b[4:8])), State: binary.NativeEndian.Uint16(b[8:10]), Flags: b[10], Type: b[11]},
		b[unix.SizeofNdMsg:], nil
}

// infinityLifeTime is INFINITY_LIFE_TIME: an address lifetime that never
// ends.
const infinityLifeTime = 0xffffffff

// CacheinfoForever is struct ifa_cacheinfo for an address that never
// expires. Addresses carry no lifetimes on this protocol: every address
// is valid and preferred forever, and the server says so as the kernel
// does for such addresses, with this IFA_CACHEINFO and IFA_F_PERMANENT.
func CacheinfoForever() []byte {
	b := make([]byte, 16) // ifa_prefered, ifa_valid, cstamp, tstamp
	binary.NativeEndian.PutUint32(b[0:4], infinityLifeTime)
	binary.NativeEndian.PutUint32(b[4:8], infinityLifeTime)
	return b
}

// NdaCacheinfo is struct nda_cacheinfo, the NDA_CACHEINFO of a neighbour
// entry: the times since it was confirmed, used and updated, in clock_t
// ticks, and its reference count.
type NdaCacheinfo struct {
	Confirmed, Used, Updated, Refcnt uint32
}

// NdaCacheinfoLen is sizeof(struct nda_cacheinfo).
const NdaCacheinfoLen = 16

// Marshal encodes c in the kernel's field order.
func (c NdaCacheinfo) Marshal() []byte {
	b := make([]byte, NdaCacheinfoLen)
	binary.NativeEndian.PutUint32(b[0:4], c.Confirmed)
	binary.NativeEndian.PutUint32(b[4:8], c.Used)
	binary.NativeEndian.PutUint32(b[8:12], c.Updated)
	binary.NativeEndian.PutUint32(b[12:16], c.Refcnt)
	return b
}

// ParseNdaCacheinfo decodes an NDA_CACHEINFO payload, which must be
// exactly NdaCacheinfoLen bytes.
func ParseNdaCacheinfo(b []byte) (NdaCacheinfo, error) {
	if len(b) != NdaCacheinfoLen {
		return NdaCacheinfo{}, fmt.Errorf("%w: nda_cacheinfo of %d bytes, want %d", ErrMalformed, len(b), NdaCacheinfoLen)
	}
	return NdaCacheinfo{Confirmed: binary.NativeEndian.Uint32(b[0:4]), Used: binary.NativeEndian.Uint32(b[4:8]),
		Updated: binary.NativeEndian.Uint32(b[8:12]), Refcnt: binary.NativeEndian.Uint32(b[12:16])}, nil
}
