// Package fabrictest provides test endpoints for package fabric: a port
// that queues what the switch delivers to it (Inject/Read, as gVisor's
// channel endpoint) and an event log.
package fabrictest

import (
	"sync"

	"github.com/ibctl/ibctl/driver/fabric"
)

// Frame is a test frame: a destination LID and an opaque payload.
type Frame struct {
	DLID    uint16
	Payload []byte
}

// DestLID implements fabric.Frame.
func (f *Frame) DestLID() uint16 { return f.DLID }

var _ fabric.Frame = (*Frame)(nil)

// Port is an endpoint attached to one fabric port; it queues a copy of
// every frame delivered to it.
type Port struct {
	f   *fabric.Fabric
	ref fabric.PortRef

	mu sync.Mutex
	q  []Frame // guarded by mu
}

var _ fabric.Endpoint = (*Port)(nil)

// Attach attaches a new Port to node's port.
func Attach(f *fabric.Fabric, node string, port int) (*Port, error) {
	p := &Port{f: f, ref: fabric.PortRef{Node: node, Port: port}}
	if err := f.Attach(node, port, p); err != nil {
		return nil, err
	}
	return p, nil
}

// Ref is the fabric port the Port is attached to.
func (p *Port) Ref() fabric.PortRef { return p.ref }

// Deliver implements fabric.Endpoint: it queues a copy of the frame. A
// frame that is not a *Frame is queued with its DLID only.
func (p *Port) Deliver(fr fabric.Frame) {
	c := Frame{DLID: fr.DestLID()}
	if tf, ok := fr.(*Frame); ok {
		c.Payload = append([]byte(nil), tf.Payload...)
	}
	p.mu.Lock()
	p.q = append(p.q, c)
	p.mu.Unlock()
}

// Inject sends a frame from the port through the fabric's switch.
func (p *Port) Inject(dlid uint16, payload []byte) {
	p.f.Send(p.ref, &Frame{DLID: dlid, Payload: payload})
}

// Read dequeues the oldest delivered frame; ok is false when none is
// queued.
func (p *Port) Read() (fr Frame, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.q) == 0 {
		return Frame{}, false
	}
	fr, p.q = p.q[0], p.q[1:]
	return fr, true
}

// Drain dequeues every delivered frame, oldest first (nil: none).
func (p *Port) Drain() []Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.q
	p.q = nil
	return q
}

// EventLog records a fabric's events.
type EventLog struct {
	mu     sync.Mutex
	evs    []fabric.Event // guarded by mu
	cancel func()
}

// Record subscribes a new EventLog to f.
func Record(f *fabric.Fabric) *EventLog {
	l := &EventLog{}
	l.cancel = f.Subscribe(func(ev fabric.Event) {
		l.mu.Lock()
		l.evs = append(l.evs, ev)
		l.mu.Unlock()
	})
	return l
}

// Take returns the events recorded since the last Take, oldest first
// (nil: none).
func (l *EventLog) Take() []fabric.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	evs := l.evs
	l.evs = nil
	return evs
}

// Stop unsubscribes the log.
func (l *EventLog) Stop() { l.cancel() }
