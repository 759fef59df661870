package ipoib

import (
	"sync"
	"time"

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
func (ep *Endpoint) AddTap(t *Tap) {
	ep.tapmu.Lock()
	defer ep.tapmu.Unlock()
	if ep.tapsClosed {
		t.once.Do(func() { close(t.gone) })
		return
	}
	var cur taps
	if p := ep.taps.Load(); p != nil {
		cur = *p
	}
	next := append(append(taps(nil), cur...), t)
	ep.taps.Store(&next)
}

// RemoveTap stops t seeing the endpoint's packets.
func (ep *Endpoint) RemoveTap(t *Tap) {
	ep.tapmu.Lock()
	defer ep.tapmu.Unlock()
	p := ep.taps.Load()
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
		ep.taps.Store(nil)
		return
	}
	ep.taps.Store(&next)
}

// closeTaps tells every tap the endpoint is gone.
func (ep *Endpoint) closeTaps() {
	ep.tapmu.Lock()
	defer ep.tapmu.Unlock()
	ep.tapsClosed = true
	if p := ep.taps.Swap(nil); p != nil {
		for _, t := range *p {
			t.once.Do(func() { close(t.gone) })
		}
	}
}

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
