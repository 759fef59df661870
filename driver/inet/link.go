package inet

import (
	"sync/atomic"

	"github.com/ibctl/ibctl/driver/header"
)

// The contract between the stack and the links below it. The stack sends
// and receives IPoIB packets (the 4-byte encapsulation header of RFC 4391
// in front of ARP, IPv4 or IPv6) addressed by 20-byte IPoIB hardware
// addresses; how the link carries them (UD, RC, which partition) is the
// link's business. The IPoIB driver's endpoint is one such link.

// Link is what the stack needs of a link.
type Link interface {
	// MTU is the largest IP packet the link carries.
	MTU() uint32
	// LinkAddress is the link's own hardware address, which ARP and
	// neighbour discovery advertise.
	LinkAddress() header.HWAddr
	// Broadcast is the link's broadcast address; multicast addresses
	// are derived from it (MulticastLinkAddr).
	Broadcast() header.HWAddr
	// WritePacket sends an IPoIB packet to dst, a unicast or a
	// multicast address (the broadcast address included). It may
	// deliver packets to the stack before it returns. A packet larger
	// than the link can carry to dst fails with an error that
	// errors.As finds as a TooBig.
	WritePacket(pkt []byte, dst header.HWAddr) error
	// DropRx counts n received packets the stack dropped as malformed.
	DropRx(n uint64)
	// DropTx counts n packets the stack gave up sending (a neighbour
	// that never answered, a full resolution queue).
	DropTx(n uint64)
}

// GSOLink is a link with TCP segmentation offload (a netdev with
// NETIF_F_TSO): it takes a TCP segment larger than its MTU whole, with
// the MSS to cut it at (its packets fit the MTU). For a link without it
// the stack cuts such a segment into packets itself, as the kernel's
// validate_xmit_skb does.
type GSOLink interface {
	Link
	// WritePacketGSO is WritePacket for an IPoIB packet that carries a
	// TCP segment to be sent as packets of at most mss bytes of TCP
	// payload each.
	WritePacketGSO(pkt []byte, dst header.HWAddr, mss int) error
}

// TooBig is the error of a packet the link cannot carry: the kernel's
// ICMP "fragmentation needed" or "packet too big" about it, delivered
// locally, with the MTU that fits.
type TooBig interface {
	error
	TooBigMTU() uint32
}

// NIC is a link attached to the stack as an interface. The link's
// received packets go to its DeliverPacket.
type NIC struct {
	s        *Stack
	index    int32
	link     Link
	detached atomic.Bool
}

// Attach makes link the interface with the index and returns the NIC that
// its received packets go to. It replaces a link attached before.
func (s *Stack) Attach(index int32, link Link) *NIC {
	nic := &NIC{s: s, index: index, link: link}
	s.mu.Lock()
	if old := s.nics[index]; old != nil {
		old.detached.Store(true)
	}
	s.nics[index] = nic
	s.mu.Unlock()
	return nic
}

// Detach takes nic's link away: nothing is sent on it any more and what
// it delivers is dropped. Detaching a NIC already replaced does nothing.
func (s *Stack) Detach(nic *NIC) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nic.detached.Store(true)
	if s.nics[nic.index] == nic {
		delete(s.nics, nic.index)
	}
}

// nicOf returns the interface's NIC, nil when it has no link.
func (s *Stack) nicOf(index int32) *NIC {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nics[index]
}

// DeliverPacket is a packet received on the link, from src (zero when the
// link does not know it). The packet is only borrowed for the call.
func (nic *NIC) DeliverPacket(src header.HWAddr, pkt header.IPoIB) {
	if nic.detached.Load() {
		return
	}
	nic.s.input(nic, src, pkt)
}
