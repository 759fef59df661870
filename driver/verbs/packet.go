package verbs

import (
	"strconv"
	"sync"
	"sync/atomic"
)

// Wire is how a Device sends packets: the fabric (a switch port) or, in
// tests, a Loopback implements it.
//
// Transmit is called by the device's engines with no verbs lock held and
// takes ownership of p: the wire must eventually pass p to exactly one
// Device.Receive, or call p.Release if it drops it. To deliver one packet
// to several devices (multicast), the wire uses p.Clone for the extra
// copies. Transmit may deliver synchronously (calling Receive before it
// returns) or queue the packet for another goroutine.
//
// A device delivers packets addressed to its own LID, and a copy of each
// multicast packet for its own attached QPs, itself (HCA loopback): the
// wire never sees the former and must not send the latter back to the
// port it came from.
type Wire interface {
	Transmit(p *Packet)
}

// A SyncWire is a Wire that can promise synchronous delivery: when
// Synchronous reports true, Transmit returns only after the receiving
// device's Receive has returned, and the wire keeps no reference to the
// packet. A device on such a wire sends RC messages zero-copy, as packet
// trains whose payload is the sender's registered buffer (see Packet).
type SyncWire interface {
	Wire
	Synchronous() bool
}

// Opcode is the packet type. The names follow the IBA BTH opcodes; RNR NAK
// and NAK, which the IBA encodes as an ACKNOWLEDGE with an AETH syndrome,
// get their own values here. The values are not BTH codes.
type Opcode uint8

// Packet opcodes.
const (
	OpUDSendOnly    Opcode = iota // UD SEND Only
	OpUDSendOnlyImm               // UD SEND Only with Immediate
	OpRCSendFirst                 // RC SEND First
	OpRCSendMiddle                // RC SEND Middle
	OpRCSendLast                  // RC SEND Last
	OpRCSendLastImm               // RC SEND Last with Immediate
	OpRCSendOnly                  // RC SEND Only
	OpRCSendOnlyImm               // RC SEND Only with Immediate
	OpRCAck                       // RC ACKNOWLEDGE, syndrome ACK
	OpRCRNRNak                    // RC ACKNOWLEDGE, syndrome RNR NAK (Syndrome = RNR timer code)
	OpRCNak                       // RC ACKNOWLEDGE, syndrome NAK (Syndrome = NakCode)
)

var opcodeNames = [...]string{
	OpUDSendOnly:    "UD_SEND_ONLY",
	OpUDSendOnlyImm: "UD_SEND_ONLY_WITH_IMMEDIATE",
	OpRCSendFirst:   "RC_SEND_FIRST",
	OpRCSendMiddle:  "RC_SEND_MIDDLE",
	OpRCSendLast:    "RC_SEND_LAST",
	OpRCSendLastImm: "RC_SEND_LAST_WITH_IMMEDIATE",
	OpRCSendOnly:    "RC_SEND_ONLY",
	OpRCSendOnlyImm: "RC_SEND_ONLY_WITH_IMMEDIATE",
	OpRCAck:         "RC_ACK",
	OpRCRNRNak:      "RC_RNR_NAK",
	OpRCNak:         "RC_NAK",
}

// String returns the IBA opcode name, such as RC_SEND_FIRST.
func (o Opcode) String() string { return enumName(opcodeNames[:], int(o), "Opcode") }

// opcode classes, as rxe's opcode masks.
func (o Opcode) isUD() bool      { return o == OpUDSendOnly || o == OpUDSendOnlyImm }
func (o Opcode) isRequest() bool { return o >= OpRCSendFirst && o <= OpRCSendOnlyImm }
func (o Opcode) isAck() bool     { return o >= OpRCAck && o <= OpRCNak }
func (o Opcode) hasImm() bool {
	return o == OpUDSendOnlyImm || o == OpRCSendLastImm || o == OpRCSendOnlyImm
}

// starts reports whether o begins a message (FIRST or ONLY).
func (o Opcode) starts() bool {
	return o == OpRCSendFirst || o == OpRCSendOnly || o == OpRCSendOnlyImm || o.isUD()
}

// ends reports whether o ends a message (LAST or ONLY).
func (o Opcode) ends() bool {
	return o == OpRCSendLast || o == OpRCSendLastImm || o == OpRCSendOnly ||
		o == OpRCSendOnlyImm || o.isUD()
}

// NakCode is the AETH NAK code carried in Packet.Syndrome of an OpRCNak.
type NakCode uint8

// NAK codes (IBA 9.7.5.2.2).
const (
	NakPSNSeqErr  NakCode = 0 // PSN sequence error
	NakInvalidReq NakCode = 1 // invalid request
	NakRemAccess  NakCode = 2 // remote access error
	NakRemOpErr   NakCode = 3 // remote operational error
)

var nakNames = [...]string{
	NakPSNSeqErr:  "PSN_SEQ_ERR",
	NakInvalidReq: "INVALID_REQ",
	NakRemAccess:  "REM_ACCESS_ERR",
	NakRemOpErr:   "REM_OP_ERR",
}

// String returns the NAK code name.
func (c NakCode) String() string { return enumName(nakNames[:], int(c), "NakCode") }

// Packet is one packet on the emulated wire: the fields of the LRH, GRH,
// BTH and the DETH/AETH/ImmDt extension headers that the emulation uses,
// and the payload.
//
// Packets come from the sending device's pool; Payload is a slice of a
// fixed buffer whose capacity is the port MTU. See Wire for who owns a
// packet at each step.
type Packet struct {
	SLID, DLID uint16   // LRH; a DLID in 0xC000-0xFFFE is multicast
	GRH        bool     // a GRH is present
	SGID, DGID [16]byte // GRH; for multicast DGID is the MGID
	DestQPN    uint32   // BTH; 0xFFFFFF for multicast
	SrcQPN     uint32   // DETH (UD) or the requester's QPN (RC)
	PKey       uint16   // BTH P_Key, bit 15 is the membership bit
	QKey       uint32   // DETH, UD only
	Opcode     Opcode
	PSN        uint32 // 24 bits
	AckReq     bool   // BTH A bit: the responder must acknowledge
	Syndrome   uint8  // AETH: RNR timer code (OpRCRNRNak) or NakCode (OpRCNak)
	Imm        uint32 // ImmDt, valid when Opcode.hasImm
	Payload    []byte

	// Segments > 1 makes the packet a train: that many back-to-back
	// packets of one RC message, PSN to PSN+Segments-1, each a full path
	// MTU but the last, their payloads concatenated in Payload. Opcode
	// is the first packet's and LastOpcode the last's; AckReq and Imm
	// belong to the last. Counters count every packet of a train. Only a
	// device on a synchronous wire sends trains, and their Payload is
	// the sender's buffer, valid until Transmit returns.
	Segments   int
	LastOpcode Opcode

	buf  []byte
	pool *pool
	busy bool
	refs atomic.Int32 // extra holders (Hold); Release drops one before freeing
}

// Hold adds a holder, so that the next Release only drops it: a wire
// that delivers synchronously can lend its packet to a receiver (whose
// Receive releases it) and release it itself afterwards.
func (p *Packet) Hold() { p.refs.Add(1) }

// Clone returns a copy of p from the same pool, for a wire that delivers a
// packet to several devices (multicast). p must not be a train.
func (p *Packet) Clone() *Packet {
	c := p.pool.get()
	buf, pool := c.buf, c.pool
	c.SLID, c.DLID, c.GRH, c.SGID, c.DGID = p.SLID, p.DLID, p.GRH, p.SGID, p.DGID
	c.DestQPN, c.SrcQPN, c.PKey, c.QKey, c.Opcode = p.DestQPN, p.SrcQPN, p.PKey, p.QKey, p.Opcode
	c.PSN, c.AckReq, c.Syndrome, c.Imm = p.PSN, p.AckReq, p.Syndrome, p.Imm
	c.buf, c.pool, c.busy = buf, pool, true
	c.Payload = c.buf[:copy(c.buf, p.Payload)]
	return c
}

// Release returns p to the pool of the device that made it (which need
// not be the device that received it). Only the packet's current owner
// calls it, once; the packet must not be used afterwards. Releasing a
// packet twice panics.
func (p *Packet) Release() {
	if p.refs.Load() > 0 {
		p.refs.Add(-1)
		return
	}
	p.pool.put(p)
}

// Packets is the number of wire packets p stands for: Segments for a
// train, else 1.
func (p *Packet) Packets() int { return max(1, p.Segments) }

// last is the opcode of the last packet of p.
func (p *Packet) last() Opcode {
	if p.Segments > 1 {
		return p.LastOpcode
	}
	return p.Opcode
}

// lastPSN is the PSN of the last packet of p.
func (p *Packet) lastPSN() uint32 { return (p.PSN + uint32(p.Packets()) - 1) & psnMask }

// IsMulticast reports whether the DLID is a multicast LID (0xC000-0xFFFE).
func (p *Packet) IsMulticast() bool { return isMulticastLID(p.DLID) }

// DestLID is the packet's destination LID, as a switch forwards it.
func (p *Packet) DestLID() uint16 { return p.DLID }

func isMulticastLID(lid uint16) bool { return lid >= 0xC000 && lid != 0xFFFF }

// multicastQPN is the BTH DestQP of multicast packets.
const multicastQPN = 0xFFFFFF

// pool is a device's free list of packets. It starts empty, makes a
// packet when empty and never shrinks, so steady-state traffic allocates
// nothing and an idle device holds no packet buffers.
type pool struct {
	mu    sync.Mutex
	free  []*Packet
	size  int // buffer capacity (port MTU)
	total int // packets ever made
}

// newPool is a pool of size-byte packets with room for n free ones.
func newPool(size, n int) *pool {
	return &pool{size: size, free: make([]*Packet, 0, n)}
}

func (pl *pool) get() *Packet {
	pl.mu.Lock()
	var p *Packet
	if n := len(pl.free); n > 0 {
		p = pl.free[n-1]
		pl.free = pl.free[:n-1]
	} else {
		pl.total++
		p = &Packet{buf: make([]byte, pl.size), pool: pl}
	}
	pl.mu.Unlock()
	p.busy = true
	return p
}

func (pl *pool) put(p *Packet) {
	if !p.busy {
		panic("verbs: packet released twice")
	}
	buf := p.buf
	*p = Packet{buf: buf, pool: pl}
	pl.mu.Lock()
	pl.free = append(pl.free, p)
	pl.mu.Unlock()
}

// enumName indexes a name table, falling back to "Type(n)".
func enumName(names []string, i int, typ string) string {
	if i >= 0 && i < len(names) && names[i] != "" {
		return names[i]
	}
	return typ + "(" + strconv.Itoa(i) + ")"
}
