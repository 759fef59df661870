package header

import "encoding/binary"

// ARP over IPoIB (RFC 4391 ARP section; RFC 826 layout).
const (
	// ARPHardwareInfiniBand is the ARP hardware type of IPoIB
	// (ARPHRD_INFINIBAND).
	ARPHardwareInfiniBand uint16 = 32
	// ARPProtocolIPv4 is the protocol type ARP resolves.
	ARPProtocolIPv4 uint16 = 0x0800
	// ARPSize is the whole message: 8 fixed bytes, then sender and target
	// each with a 20-byte hardware and 4-byte protocol address.
	ARPSize = 8 + 2*(HWAddrLen+4)

	ARPRequest uint16 = 1
	ARPReply   uint16 = 2
)

// ARP is a view of an IPoIB ARP message.
type ARP []byte

// Valid reports whether b is an ARP request or reply the kernel would
// process on an IPoIB interface: at least ARPSize bytes, hardware type 32,
// protocol 0x0800, hardware length 20, protocol length 4 (arp_rcv,
// arp_process), and opcode request or reply (arp_process ignores the
// rest).
func (b ARP) Valid() bool {
	if len(b) < ARPSize {
		return false
	}
	op := b.Op()
	return b.HardwareType() == ARPHardwareInfiniBand &&
		b.ProtocolType() == ARPProtocolIPv4 &&
		b[4] == HWAddrLen && b[5] == 4 &&
		(op == ARPRequest || op == ARPReply)
}

// HardwareType is bytes 0-1.
func (b ARP) HardwareType() uint16 { return binary.BigEndian.Uint16(b[0:]) }

// ProtocolType is bytes 2-3.
func (b ARP) ProtocolType() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// HardwareAddrLen is byte 4.
func (b ARP) HardwareAddrLen() uint8 { return b[4] }

// ProtocolAddrLen is byte 5.
func (b ARP) ProtocolAddrLen() uint8 { return b[5] }

// Op is the opcode (ARPRequest, ARPReply).
func (b ARP) Op() uint16 { return binary.BigEndian.Uint16(b[6:]) }

// SenderHWAddr is bytes 8-27.
func (b ARP) SenderHWAddr() HWAddr { return HWAddr(b[8:28]) }

// SenderIP is bytes 28-31.
func (b ARP) SenderIP() [4]byte { return [4]byte(b[28:32]) }

// TargetHWAddr is bytes 32-51.
func (b ARP) TargetHWAddr() HWAddr { return HWAddr(b[32:52]) }

// TargetIP is bytes 52-55.
func (b ARP) TargetIP() [4]byte { return [4]byte(b[52:56]) }

// EncodeARP writes an IPoIB ARP message with opcode op into b and returns
// ARPSize, or 0 if b is shorter. A request normally has an all-zero tha
// (the kernel's arp_create zeroes it when no target hardware address is
// known).
func EncodeARP(b []byte, op uint16, sha HWAddr, spa [4]byte, tha HWAddr, tpa [4]byte) int {
	if len(b) < ARPSize {
		return 0
	}
	binary.BigEndian.PutUint16(b[0:], ARPHardwareInfiniBand)
	binary.BigEndian.PutUint16(b[2:], ARPProtocolIPv4)
	b[4], b[5] = HWAddrLen, 4
	binary.BigEndian.PutUint16(b[6:], op)
	copy(b[8:28], sha[:])
	copy(b[28:32], spa[:])
	copy(b[32:52], tha[:])
	copy(b[52:56], tpa[:])
	return ARPSize
}
