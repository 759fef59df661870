package header

import (
	"encoding/binary"
	"hash/crc32"
	"sync"
)

// An InfiniBand packet as it crosses a link (IBA chapter 7 and 9): the
// local route header, a global route header when present, the base
// transport header, the extension headers the opcode needs, the payload
// padded to a multiple of 4 bytes, the invariant CRC and the variant CRC.

// BTH opcodes of the packets the emulated HCAs send (IBA table 38).
const (
	OpRCSendFirst   uint8 = 0x00
	OpRCSendMiddle  uint8 = 0x01
	OpRCSendLast    uint8 = 0x02
	OpRCSendLastImm uint8 = 0x03
	OpRCSendOnly    uint8 = 0x04
	OpRCSendOnlyImm uint8 = 0x05
	OpRCAck         uint8 = 0x11
	OpUDSendOnly    uint8 = 0x64
	OpUDSendOnlyImm uint8 = 0x65
)

// Lengths of the headers and CRCs.
const (
	LRHLen  = 8
	GRHLen  = 40
	BTHLen  = 12
	DETHLen = 8
	AETHLen = 4
	ImmLen  = 4
	ICRCLen = 4
	VCRCLen = 2
)

// IBPacket holds the fields of one packet.
type IBPacket struct {
	VL, SL     uint8
	SLID, DLID uint16
	GRH        bool
	SGID, DGID [16]byte
	HopLimit   uint8
	Opcode     uint8
	SE         bool
	PKey       uint16
	DestQP     uint32
	AckReq     bool
	PSN        uint32
	QKey       uint32 // DETH, UD opcodes
	SrcQP      uint32 // DETH
	Syndrome   uint8  // AETH, OpRCAck
	MSN        uint32 // AETH
	Imm        uint32 // ImmDt, the opcodes with immediate
	Payload    []byte
}

func opHasDETH(op uint8) bool { return op>>5 == 3 } // the UD opcodes
func opHasAETH(op uint8) bool { return op == OpRCAck }
func opHasImm(op uint8) bool {
	return op == OpRCSendLastImm || op == OpRCSendOnlyImm || op == OpUDSendOnlyImm
}

// AppendIBPacket appends the packet's bytes, LRH to VCRC, to b.
func AppendIBPacket(b []byte, p *IBPacket) []byte {
	start := len(b)
	pad := (4 - len(p.Payload)%4) % 4
	n := BTHLen + len(p.Payload) + pad + ICRCLen
	if opHasDETH(p.Opcode) {
		n += DETHLen
	}
	if opHasAETH(p.Opcode) {
		n += AETHLen
	}
	if opHasImm(p.Opcode) {
		n += ImmLen
	}
	lnh := uint8(2) // IBA local: BTH follows
	if p.GRH {
		lnh = 3 // IBA global: GRH follows
	}
	be := binary.BigEndian
	var lrh [LRHLen]byte
	lrh[0] = p.VL << 4 // LVer 0
	lrh[1] = p.SL<<4 | lnh
	be.PutUint16(lrh[2:], p.DLID)
	hdrs := n
	if p.GRH {
		hdrs += GRHLen
	}
	be.PutUint16(lrh[4:], uint16((LRHLen+hdrs)/4)&0x7ff) // PktLen: LRH to ICRC in words
	be.PutUint16(lrh[6:], p.SLID)
	b = append(b, lrh[:]...)
	if p.GRH {
		var g [GRHLen]byte
		g[0] = 6 << 4 // IPVer 6, TClass 0, FlowLabel 0
		be.PutUint16(g[4:], uint16(n))
		g[6] = 0x1b // NxtHdr: IBA transport
		g[7] = p.HopLimit
		copy(g[8:], p.SGID[:])
		copy(g[24:], p.DGID[:])
		b = append(b, g[:]...)
	}
	var bth [BTHLen]byte
	bth[0] = p.Opcode
	if p.SE {
		bth[1] |= 0x80
	}
	bth[1] |= uint8(pad) << 4 // M 0, PadCnt, TVer 0
	be.PutUint16(bth[2:], p.PKey)
	be.PutUint32(bth[4:], p.DestQP&0xffffff) // resv8a 0
	be.PutUint32(bth[8:], p.PSN&0xffffff)
	if p.AckReq {
		bth[8] |= 0x80
	}
	b = append(b, bth[:]...)
	if opHasDETH(p.Opcode) {
		b = be.AppendUint32(b, p.QKey)
		b = be.AppendUint32(b, p.SrcQP&0xffffff)
	}
	if opHasAETH(p.Opcode) {
		b = be.AppendUint32(b, uint32(p.Syndrome)<<24|p.MSN&0xffffff)
	}
	if opHasImm(p.Opcode) {
		b = be.AppendUint32(b, p.Imm)
	}
	b = append(b, p.Payload...)
	for range pad {
		b = append(b, 0)
	}
	b = binary.LittleEndian.AppendUint32(b, ICRC(b[start:], p.GRH))
	return binary.LittleEndian.AppendUint16(b, VCRC(b[start:]))
}

// ICRC is the invariant CRC of a packet, pkt holding the LRH up to the
// ICRC (excluded): CRC-32 (the Ethernet polynomial, bits least
// significant first) over the packet with its variant fields set to
// ones: the whole LRH, the GRH's traffic class, flow label and hop
// limit, and the BTH's resv8a byte (IBA 7.8.1; RoCE's ICRC, which rxe
// computes, is the same with 8 bytes of ones for the LRH). It is sent
// least significant byte first.
func ICRC(pkt []byte, grh bool) uint32 {
	ones := [LRHLen]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	crc := crc32.Update(0, crc32.IEEETable, ones[:])
	rest := pkt[LRHLen:]
	if grh {
		var g [GRHLen]byte
		copy(g[:], rest[:GRHLen])
		g[0] |= 0x0f
		g[1], g[2], g[3] = 0xff, 0xff, 0xff
		g[7] = 0xff
		crc = crc32.Update(crc, crc32.IEEETable, g[:])
		rest = rest[GRHLen:]
	}
	var bth [BTHLen]byte
	copy(bth[:], rest[:BTHLen])
	bth[4] = 0xff
	crc = crc32.Update(crc, crc32.IEEETable, bth[:])
	return crc32.Update(crc, crc32.IEEETable, rest[BTHLen:])
}

// vcrcTable is the CRC-16 of the VCRC, polynomial x^16 + x^12 + x^3 +
// x + 1 (0x100B), bits least significant first (0xD008 reflected),
// computed on first use.
var vcrcTable = sync.OnceValue(func() *[256]uint16 {
	var t [256]uint16
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xd008
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return &t
})

// VCRC is the variant CRC of a packet, pkt holding the LRH up to the
// ICRC (included): CRC-16 with polynomial 0x100B over every byte, seeded
// with ones and inverted, as the ICRC (IBA 7.8.2). It is sent least
// significant byte first.
func VCRC(pkt []byte) uint16 {
	c := uint16(0xffff)
	t := vcrcTable()
	for _, x := range pkt {
		c = c>>8 ^ t[byte(c)^x]
	}
	return ^c
}
