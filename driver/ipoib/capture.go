package ipoib

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

// The capture point: what a packet socket bound to the interface sees
// (dev_queue_xmit_nit on the way out, the receive path's taps on the way
// in), plus the packets the driver drops, with the reason. An endpoint
// without a tap pays one atomic pointer load per packet.

// Packet types of a captured packet, as sll_pkttype (linux/if_packet.h).
const (
	PacketHost      uint8 = 0 // to us
	PacketBroadcast uint8 = 1 // to the broadcast group
	PacketMulticast uint8 = 2 // to another multicast group
	PacketOutgoing  uint8 = 4 // sent by us
)

// Drop reasons, named as the kernel's enum skb_drop_reason.
const (
	DropPktTooBig     = "PKT_TOO_BIG"     // larger than the UD MTU or the connection's receive size
	DropPktTooSmall   = "PKT_TOO_SMALL"   // shorter than the encapsulation header
	DropNeighFailed   = "NEIGH_FAILED"    // no path record for the destination
	DropNeighQueueFul = "NEIGH_QUEUEFULL" // the connection's queue is full
	DropNeighDead     = "NEIGH_DEAD"      // queued on a neighbour that was freed
	DropNoGroup       = "NEIGH_CREATEFAIL"
	DropDevReady      = "DEV_READY" // no network layer attached
)

// Frame is one captured packet. Data is the IPoIB packet, its 4-byte
// encapsulation header included; it is valid only during the tap's call.
type Frame struct {
	Time    time.Time
	PktType uint8
	Src     header.HWAddr // the sender; zero for a packet that came over a connection
	Dst     header.HWAddr // the destination: ours, a group's, or the peer's
	RC      bool          // carried over a connection
	Drop    string        // why the driver dropped it; empty when it was not
	Data    []byte
}

// Tap receives the frames of the endpoints it is added to. Its function
// runs on the data path and must not block.
type Tap struct {
	fn   func(*Frame)
	once sync.Once
	gone chan struct{}
}

// NewTap returns a tap that calls fn for every frame.
func NewTap(fn func(*Frame)) *Tap { return &Tap{fn: fn, gone: make(chan struct{})} }

// Gone is closed when an endpoint the tap was added to closes.
func (t *Tap) Gone() <-chan struct{} { return t.gone }

// taps is an endpoint's published set of taps.
type taps []*Tap

// AddTap makes t see the endpoint's packets until RemoveTap or Close.
func (ep *Endpoint) AddTap(t *Tap) { ep.tapSet.add(t) }

// RemoveTap stops t seeing the endpoint's packets.
func (ep *Endpoint) RemoveTap(t *Tap) { ep.tapSet.remove(t) }

// closeTaps tells every tap the endpoint is gone.
func (ep *Endpoint) closeTaps() { ep.tapSet.close() }

// tap hands one frame to the taps; the callers check ep.taps first so
// that an idle capture point costs a load.
func (ep *Endpoint) tap(p *taps, f Frame) {
	f.Time = time.Now()
	for _, t := range *p {
		t.fn(&f)
	}
}

// tapOut captures a packet sent, or dropped with reason drop, to dst.
func (ep *Endpoint) tapOut(pkt []byte, dst header.HWAddr, rc bool, drop string) {
	if p := ep.taps.Load(); p != nil {
		ep.tap(p, Frame{PktType: PacketOutgoing, Src: ep.cfg.Load().HWAddr, Dst: dst, RC: rc, Drop: drop, Data: pkt})
	}
}

// tapIn captures a packet received over UD; buf holds the GRH area.
func (ep *Endpoint) tapIn(p *taps, wc *verbs.WC, buf []byte, cfg *config) {
	f := Frame{PktType: PacketHost, Src: header.NewHWAddr(0, wc.SrcQP, wc.SGID), Dst: cfg.HWAddr, Data: buf[40:wc.ByteLen]}
	if wc.GRH && buf[24] == 0xff {
		dgid := [16]byte(buf[24:40])
		if dgid == cfg.mgid {
			f.PktType, f.Dst = PacketBroadcast, cfg.Broadcast
		} else {
			f.PktType, f.Dst = PacketMulticast, header.MulticastAddr(dgid)
		}
	}
	switch {
	case len(f.Data) < header.IPoIBHeaderLen:
		f.Drop = DropPktTooSmall
	case ep.dispatcher.Load() == nil:
		f.Drop = DropDevReady
	}
	ep.tap(p, f)
}

// tapRC captures a packet received over a connection.
func (ep *Endpoint) tapRC(p *taps, pkt []byte) {
	f := Frame{PktType: PacketHost, Dst: ep.cfg.Load().HWAddr, RC: true, Data: pkt}
	if ep.dispatcher.Load() == nil {
		f.Drop = DropDevReady
	}
	ep.tap(p, f)
}

// tapSet is a set of taps that can be added and removed (a port's link).
type tapSet struct {
	taps   atomic.Pointer[taps] // nil when idle
	mu     sync.Mutex           // serialises changes of taps
	closed bool                 // guarded by mu: a tap added now is told at once it is gone
}

func (s *tapSet) add(t *Tap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		t.once.Do(func() { close(t.gone) })
		return
	}
	var cur taps
	if p := s.taps.Load(); p != nil {
		cur = *p
	}
	next := append(append(taps(nil), cur...), t)
	s.taps.Store(&next)
}

// close tells every tap the set's owner is gone, and any added later.
func (s *tapSet) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if p := s.taps.Swap(nil); p != nil {
		for _, t := range *p {
			t.once.Do(func() { close(t.gone) })
		}
	}
}

func (s *tapSet) remove(t *Tap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.taps.Load()
	if p == nil {
		return
	}
	var next taps
	for _, x := range *p {
		if x != t {
			next = append(next, x)
		}
	}
	if len(next) == 0 {
		s.taps.Store(nil)
		return
	}
	s.taps.Store(&next)
}

// AddWireTap makes t see the packets that cross the port's link, as IB
// packets (Frame.Data from the LRH to the VCRC; an RC train as the
// packets it stands for), until RemoveWireTap.
func (p *Port) AddWireTap(t *Tap) { p.wire.add(t) }

// RemoveWireTap stops t seeing the port's link.
func (p *Port) RemoveWireTap(t *Tap) { p.wire.remove(t) }

// tapWire encodes a packet crossing a port's link for its taps. The
// frames' Src and Dst are the sender's and the receiver's QPN and GID
// (the GRH's, or the ports' of the LRH's LIDs when there is none), which
// a capture needs to write the packet as RoCEv2.
func tapWire(ts *taps, p *verbs.Packet, pktType uint8, fab *fabric.Fabric) {
	now := time.Now()
	sgid, dgid := p.SGID, p.DGID
	if !p.GRH {
		sgid, _ = fab.GIDOfLID(p.SLID)
		dgid, _ = fab.GIDOfLID(p.DLID)
	}
	src, dst := header.NewHWAddr(0, p.SrcQPN, sgid), header.NewHWAddr(0, p.DestQPN, dgid)
	for _, ib := range wirePackets(p) {
		buf := header.AppendIBPacket(nil, &ib)
		for _, t := range *ts {
			t.fn(&Frame{Time: now, PktType: pktType, Src: src, Dst: dst, Data: buf})
		}
	}
}

// wirePackets are the IB packets a verbs packet stands for.
func wirePackets(p *verbs.Packet) []header.IBPacket {
	base := header.IBPacket{SLID: p.SLID, DLID: p.DLID, GRH: p.GRH, SGID: p.SGID, DGID: p.DGID, HopLimit: 0xff,
		PKey: p.PKey, DestQP: p.DestQPN, PSN: p.PSN, AckReq: p.AckReq, Imm: p.Imm, Payload: p.Payload}
	switch p.Opcode {
	case verbs.OpUDSendOnly, verbs.OpUDSendOnlyImm:
		base.Opcode, base.QKey, base.SrcQP = header.OpUDSendOnly, p.QKey, p.SrcQPN
		if p.Opcode == verbs.OpUDSendOnlyImm {
			base.Opcode = header.OpUDSendOnlyImm
		}
		return []header.IBPacket{base}
	case verbs.OpRCAck, verbs.OpRCRNRNak, verbs.OpRCNak:
		// AETH syndromes (IBA 9.7.5.1): ACK without credits, RNR NAK
		// with its timer, NAK with its code
		base.Opcode, base.Syndrome, base.Payload = header.OpRCAck, 0x1f, nil
		if p.Opcode == verbs.OpRCRNRNak {
			base.Syndrome = 0x20 | p.Syndrome&0x1f
		} else if p.Opcode == verbs.OpRCNak {
			base.Syndrome = 0x60 | p.Syndrome&0x1f
		}
		return []header.IBPacket{base}
	}
	n := max(1, p.Segments)
	if n == 1 {
		base.Opcode = rcOpcode(p.Opcode)
		return []header.IBPacket{base}
	}
	// a train: every packet a path MTU but the last
	mtu := 256
	for mtu < 4096 && n*mtu < len(p.Payload) {
		mtu *= 2
	}
	out := make([]header.IBPacket, n)
	for i := range out {
		q := base
		q.PSN = (p.PSN + uint32(i)) & 0xffffff
		q.Payload = p.Payload[i*mtu : min(len(p.Payload), (i+1)*mtu)]
		q.AckReq, q.Imm = false, 0
		switch i {
		case 0:
			q.Opcode = rcOpcode(p.Opcode)
		case n - 1:
			q.Opcode, q.AckReq, q.Imm = rcOpcode(p.LastOpcode), p.AckReq, p.Imm
		default:
			q.Opcode = header.OpRCSendMiddle
		}
		out[i] = q
	}
	return out
}

// rcOpcode is the BTH opcode of an RC send.
func rcOpcode(o verbs.Opcode) uint8 {
	switch o {
	case verbs.OpRCSendFirst:
		return header.OpRCSendFirst
	case verbs.OpRCSendMiddle:
		return header.OpRCSendMiddle
	case verbs.OpRCSendLast:
		return header.OpRCSendLast
	case verbs.OpRCSendLastImm:
		return header.OpRCSendLastImm
	case verbs.OpRCSendOnlyImm:
		return header.OpRCSendOnlyImm
	}
	return header.OpRCSendOnly
}
