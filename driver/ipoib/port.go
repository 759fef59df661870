package ipoib

import (
	"sync/atomic"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/ibcm"
	"github.com/ibctl/ibctl/driver/verbs"
)

// Port is one HCA port as IPoIB sees it: its verbs device attached to the
// fabric switch, its communication manager and a cached P_Key table
// (ipoib_verbs.c, the IB core's device and cm.c below it).
type Port struct {
	host  *Host
	ref   fabric.PortRef
	dev   *verbs.Device
	cm    *ibcm.CM
	pkeys atomic.Pointer[[]uint16]
	wire  tapSet // the link's capture point (capture.go)
}

// PortOptions describe the HCA port behind a Port.
type PortOptions struct {
	Ref    fabric.PortRef
	LID    uint16
	GID    [16]byte
	MTU    int // the port's IB MTU in bytes
	CAGUID uint64
}

// NewPort creates the port's verbs device and communication manager and
// attaches the device to the fabric.
func NewPort(h *Host, o PortOptions) (*Port, error) {
	p := &Port{host: h, ref: o.Ref}
	table := h.Fabric.PKeyTable(o.Ref.Node, o.Ref.Port)
	p.pkeys.Store(&table)
	pkeys := func() []uint16 { return *p.pkeys.Load() }
	dev, err := verbs.NewDevice(verbs.DeviceOptions{
		LID: o.LID, GID: o.GID, MTU: MTUEnum(o.MTU), PKeys: pkeys, CQModeration: true,
		Wire: fabricWire{fab: h.Fabric, ref: o.Ref, lose: h.LoseFrame, taps: &p.wire.taps}, Clock: h.Clock,
	})
	if err != nil {
		return nil, err
	}
	p.dev = dev
	if p.cm, err = ibcm.New(ibcm.Options{Device: dev, PKeys: pkeys, CAGUID: o.CAGUID, AckDelay: caAckDelay,
		Clock: h.Clock}); err != nil {
		return nil, err
	}
	if err := h.Fabric.Attach(o.Ref.Node, o.Ref.Port, fabricEndpoint{dev: dev, fab: h.Fabric, taps: &p.wire.taps}); err != nil {
		return nil, err
	}
	return p, nil
}

// RefreshPKeys re-reads the port's P_Key table after a P_Key change event.
func (p *Port) RefreshPKeys() {
	table := p.host.Fabric.PKeyTable(p.ref.Node, p.ref.Port)
	p.pkeys.Store(&table)
}

// GID is the port's GID.
func (p *Port) GID() [16]byte { return p.dev.GID() }

// fabricWire carries a device's packets to the switch.
type fabricWire struct {
	fab  *fabric.Fabric
	ref  fabric.PortRef
	lose func(fabric.PortRef, *verbs.Packet) bool // Host.LoseFrame
	taps *atomic.Pointer[taps]                    // the port's link capture point
}

// Transmit hands the packet to the switch, which delivers synchronously;
// receivers hold it only during delivery, so it is released here.
func (w fabricWire) Transmit(p *verbs.Packet) {
	if t := w.taps.Load(); t != nil {
		tapWire(t, p, PacketOutgoing, w.fab)
	}
	if w.lose == nil || !w.lose(w.ref, p) {
		w.fab.Send(w.ref, p)
	}
	p.Release()
}

// Synchronous implements verbs.SyncWire: the switch delivers before Send
// returns, so RC messages travel as zero-copy trains.
func (w fabricWire) Synchronous() bool { return true }

// fabricEndpoint receives the switch's frames for a device.
type fabricEndpoint struct {
	dev  *verbs.Device
	fab  *fabric.Fabric
	taps *atomic.Pointer[taps] // the port's link capture point
}

// Deliver lends the frame to the device: delivery is synchronous, the
// device's Receive releases its hold and the sender's wire releases the
// packet afterwards. The device already delivered its own multicast to
// its QPs, so the switch's copy is dropped.
func (e fabricEndpoint) Deliver(f fabric.Frame) {
	p, ok := f.(*verbs.Packet)
	if !ok || (p.IsMulticast() && p.SLID == e.dev.LID()) {
		return
	}
	if t := e.taps.Load(); t != nil {
		tapWire(t, p, PacketHost, e.fab)
	}
	p.Hold()
	e.dev.Receive(p)
}

// verbsPort is the port number QPs are bound to: each HCA port is a verbs
// device of its own, with one port.
const verbsPort = 1

// MTUEnum is the verbs MTU of an IB MTU in bytes (4096 for an unknown
// one).
func MTUEnum(bytes int) verbs.MTU {
	for m := verbs.MTU256; m <= verbs.MTU4096; m++ {
		if m.Bytes() == bytes {
			return m
		}
	}
	return verbs.MTU4096
}

// CMCounters are the port's communication manager's MAD counters.
func (p *Port) CMCounters() ibcm.Counters { return p.cm.Counters() }

// FlushCM runs the communication manager's queued work (received MADs,
// expired timers and their handlers) and returns how much it ran.
func (p *Port) FlushCM() int { return p.cm.Flush() }

// Unacked is how many of the port's connected QPs await an
// acknowledgement (verbs.Device.Unacked).
func (p *Port) Unacked() int { return p.dev.Unacked() }

// HCAStats are the port's verbs device counters.
func (p *Port) HCAStats() verbs.Stats { return p.dev.Stats() }
