package header

import "encoding/binary"

// Management datagrams (IBA 13.4, include/rdma/ib_mad.h): 256 bytes, a
// 24-byte common header, then the class's data. The emulation carries
// the communication manager's class.
const (
	MADSize        = 256  // IB_MGMT_MAD_SIZE
	MADHeaderLen   = 24   // IB_MGMT_MAD_HDR
	MADBaseVersion = 1    // IB_MGMT_BASE_VERSION
	MgmtClassCM    = 0x07 // IB_MGMT_CLASS_CM
	CMClassVersion = 2    // IB_CM_CLASS_VERSION
	MADMethodSend  = 0x03 // IB_MGMT_METHOD_SEND: every CM message
)

// MADHeader is the common MAD header (struct ib_mad_hdr).
type MADHeader struct {
	BaseVersion   uint8
	MgmtClass     uint8
	ClassVersion  uint8
	Method        uint8
	Status        uint16
	ClassSpecific uint16
	TID           uint64 // transaction ID
	AttrID        uint16
	AttrMod       uint32
}

// CMHeader is the header of a CM message with attribute attrID
// (cm_format_mad_hdr).
func CMHeader(attrID uint16, tid uint64) MADHeader {
	return MADHeader{BaseVersion: MADBaseVersion, MgmtClass: MgmtClassCM, ClassVersion: CMClassVersion,
		Method: MADMethodSend, TID: tid, AttrID: attrID}
}

// MAD is a view of a whole management datagram.
type MAD []byte

// Valid reports whether b is a whole MAD.
func (b MAD) Valid() bool { return len(b) == MADSize }

// Header decodes the common header.
func (b MAD) Header() MADHeader {
	return MADHeader{
		BaseVersion: b[0], MgmtClass: b[1], ClassVersion: b[2], Method: b[3],
		Status:        binary.BigEndian.Uint16(b[4:]),
		ClassSpecific: binary.BigEndian.Uint16(b[6:]),
		TID:           binary.BigEndian.Uint64(b[8:]),
		AttrID:        binary.BigEndian.Uint16(b[16:]),
		AttrMod:       binary.BigEndian.Uint32(b[20:]),
	}
}

// Data is the class data after the common header.
func (b MAD) Data() []byte { return b[MADHeaderLen:] }

// Encode writes h into the first MADHeaderLen bytes of b (the reserved
// bytes 18-19 as zero) and returns MADHeaderLen, or 0 when b is shorter.
func (h MADHeader) Encode(b []byte) int {
	if len(b) < MADHeaderLen {
		return 0
	}
	b[0], b[1], b[2], b[3] = h.BaseVersion, h.MgmtClass, h.ClassVersion, h.Method
	binary.BigEndian.PutUint16(b[4:], h.Status)
	binary.BigEndian.PutUint16(b[6:], h.ClassSpecific)
	binary.BigEndian.PutUint64(b[8:], h.TID)
	binary.BigEndian.PutUint16(b[16:], h.AttrID)
	b[18], b[19] = 0, 0
	binary.BigEndian.PutUint32(b[20:], h.AttrMod)
	return MADHeaderLen
}

// getBits reads width bits of b starting at bit bit (0 = most significant)
// of byte off: IBA's Byte[Bit] field notation, as the kernel's
// IBA_FIELD*_LOC macros (include/rdma/iba.h) describe CM fields.
func getBits(b []byte, off, bit, width int) uint32 {
	n := (bit + width + 7) / 8
	var v uint64
	for i := range n {
		v = v<<8 | uint64(b[off+i])
	}
	return uint32(v >> (n*8 - bit - width) & (1<<width - 1))
}

// setBits writes the low width bits of val at the field getBits reads,
// leaving the other bits of the bytes it touches alone.
func setBits(b []byte, off, bit, width int, val uint32) {
	n := (bit + width + 7) / 8
	var v uint64
	for i := range n {
		v = v<<8 | uint64(b[off+i])
	}
	shift := n*8 - bit - width
	mask := uint64(1<<width-1) << shift
	v = v&^mask | uint64(val)<<shift&mask
	for i := n - 1; i >= 0; i-- {
		b[off+i] = byte(v)
		v >>= 8
	}
}
