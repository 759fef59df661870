package fabric

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Frame is what the switch forwards: anything with a destination LID. The
// switch does not look further; P_Key and Q_Key checks belong to the
// receiving HCA, that is, to the Endpoint.
type Frame interface {
	// DestLID is the LRH destination LID: unicast 1…0xbfff, multicast
	// 0xc000…0xfffe.
	DestLID() uint16
}

// A Train is a Frame that stands for several back-to-back packets (an RC
// message sent as one object); the port counters count each packet.
type Train interface {
	Frame
	Packets() int
}

// packets is the number of wire packets fr stands for.
func packets(fr Frame) uint64 {
	if t, ok := fr.(Train); ok {
		return uint64(max(1, t.Packets()))
	}
	return 1
}

// Endpoint receives the frames the switch forwards to a port (the HCA
// behind it).
type Endpoint interface {
	// Deliver is called by Send, on the sender's goroutine and with no
	// fabric lock held, once per frame addressed to the port. The frame
	// belongs to the sender: Deliver must copy what it keeps before
	// returning. It may call Send and the fabric's query methods.
	Deliver(f Frame)
}

// PortCounters are a port's IB port counters (PortCounters and
// PortCountersExtended), counted by the switch.
type PortCounters struct {
	XmitPkts          uint64 // PortXmitPkts: frames the port sent that the switch forwarded
	RcvPkts           uint64 // PortRcvPkts: frames delivered to the port
	UnicastXmitPkts   uint64 // PortUnicastXmitPkts
	UnicastRcvPkts    uint64 // PortUnicastRcvPkts
	MulticastXmitPkts uint64 // PortMulticastXmitPkts
	MulticastRcvPkts  uint64 // PortMulticastRcvPkts
	XmitDiscards      uint64 // PortXmitDiscards: frames the port sent that were dropped
	LinkDowned        uint64 // LinkDownedCounter: times the link went down
}

type counters struct {
	xmitPkts, rcvPkts           atomic.Uint64
	ucastXmitPkts, ucastRcvPkts atomic.Uint64
	mcastXmitPkts, mcastRcvPkts atomic.Uint64
	xmitDiscards, linkDowned    atomic.Uint64
}

// Counters reads the port's counters; ok is false when the fabric lacks
// the port.
func (f *Fabric) Counters(node string, port int) (c PortCounters, ok bool) {
	p := f.byRef[PortRef{node, port}]
	if p == nil {
		return c, false
	}
	x := &p.ctr
	return PortCounters{
		XmitPkts: x.xmitPkts.Load(), RcvPkts: x.rcvPkts.Load(),
		UnicastXmitPkts: x.ucastXmitPkts.Load(), UnicastRcvPkts: x.ucastRcvPkts.Load(),
		MulticastXmitPkts: x.mcastXmitPkts.Load(), MulticastRcvPkts: x.mcastRcvPkts.Load(),
		XmitDiscards: x.xmitDiscards.Load(), LinkDowned: x.linkDowned.Load(),
	}, true
}

// ClearCounters zeroes the port's counters (perfquery -R).
func (f *Fabric) ClearCounters(node string, port int) {
	p := f.byRef[PortRef{node, port}]
	if p == nil {
		return
	}
	x := &p.ctr
	for _, c := range []*atomic.Uint64{&x.xmitPkts, &x.rcvPkts, &x.ucastXmitPkts, &x.ucastRcvPkts,
		&x.mcastXmitPkts, &x.mcastRcvPkts, &x.xmitDiscards, &x.linkDowned} {
		c.Store(0)
	}
}

// Attach connects ep to the port: from now on Send delivers the port's
// frames to it. Errors: ENODEV for an unknown port, EINVAL for a nil ep,
// EBUSY when an endpoint is attached already.
func (f *Fabric) Attach(node string, port int, ep Endpoint) error {
	const op = "attach"
	ref := PortRef{node, port}
	return f.change(func() ([]Event, error) {
		p := f.byRef[ref]
		switch {
		case p == nil:
			return nil, errorf(op, ref.String(), unix.ENODEV, "no such port")
		case ep == nil:
			return nil, errorf(op, ref.String(), unix.EINVAL, "nil endpoint")
		case p.ep != nil:
			return nil, errorf(op, ref.String(), unix.EBUSY, "an endpoint is attached")
		}
		p.ep = ep
		p.syncFwdLocked()
		return nil, nil
	})
}

// Detach disconnects the port's endpoint, if any. A Send that started
// before Detach returned may still deliver to it; none that starts after.
// Errors: ENODEV for an unknown port.
func (f *Fabric) Detach(node string, port int) error {
	ref := PortRef{node, port}
	return f.change(func() ([]Event, error) {
		p := f.byRef[ref]
		if p == nil {
			return nil, errorf("detach", ref.String(), unix.ENODEV, "no such port")
		}
		p.ep = nil
		p.syncFwdLocked()
		return nil, nil
	})
}

// Send transmits fr from the port: the switch forwards a unicast DLID to
// the port with that LID and a multicast DLID to every receiving member of
// the group with that MLID, the sender's own port included when it is one
// (the HCA loops multicast back; upper layers drop their own copies).
// Delivery is synchronous: Send returns when every Deliver has returned.
//
// A frame is dropped, counted in the sender's XmitDiscards, when the
// sender's link is down, when the DLID is 0, permissive (0xffff), or no
// port's LID or group's MLID, and for unicast when the destination port is
// down or has no endpoint. Multicast copies are not sent to members that
// are down or have no endpoint. Send from an unknown port does nothing.
// Send takes no lock and allocates nothing.
func (f *Fabric) Send(from PortRef, fr Frame) {
	src := f.byRef[from]
	if src == nil {
		return
	}
	if !src.up.Load() {
		src.ctr.xmitDiscards.Add(1)
		return
	}
	dlid := fr.DestLID()
	if dlid >= MulticastLIDBase {
		var g *group
		if i := int(dlid - MulticastLIDBase); i < len(f.mroutes) {
			g = f.mroutes[i].Load()
		}
		if g == nil {
			src.ctr.xmitDiscards.Add(1)
			return
		}
		src.ctr.xmitPkts.Add(1)
		src.ctr.mcastXmitPkts.Add(1)
		for _, p := range *g.recv.Load() {
			if ep := p.fwd.Load(); ep != nil {
				p.ctr.rcvPkts.Add(1)
				p.ctr.mcastRcvPkts.Add(1)
				(*ep).Deliver(fr)
			}
		}
		return
	}
	var dst *port
	if int(dlid) < len(f.byLID) {
		dst = f.byLID[dlid]
	}
	var ep *Endpoint
	if dst != nil {
		ep = dst.fwd.Load()
	}
	if ep == nil {
		src.ctr.xmitDiscards.Add(1)
		return
	}
	n := packets(fr)
	src.ctr.xmitPkts.Add(n)
	src.ctr.ucastXmitPkts.Add(n)
	dst.ctr.rcvPkts.Add(n)
	dst.ctr.ucastRcvPkts.Add(n)
	(*ep).Deliver(fr)
}
