package verbs

import "sync"

// Loopback is a Wire that connects devices directly, for tests and
// benchmarks: a two-port (or n-port) switch with no subnet manager.
// Unicast packets go to the attached device whose LID is the DLID;
// multicast packets go to every attached device except the sender's (the
// sender loops its own copy back). Packets for no device are released and
// counted.
//
// A synchronous Loopback delivers inside Transmit, so a send runs the
// whole exchange (packet, ACK, completions) before PostSend returns. A
// queued one holds packets until Flush, which delivers them in order on
// the caller's goroutine.
type Loopback struct {
	queued bool

	mu      sync.Mutex
	devs    []*Device // guarded by mu;: copy on write
	q       []*Packet // guarded by mu
	head    int       // guarded by mu
	dropped uint64    // guarded by mu
}

var _ Wire = (*Loopback)(nil)

// NewLoopback returns an empty Loopback; queued selects Flush-driven
// delivery.
func NewLoopback(queued bool) *Loopback { return &Loopback{queued: queued} }

// Synchronous implements SyncWire: a Loopback that is not queued delivers
// inside Transmit.
func (l *Loopback) Synchronous() bool { return !l.queued }

// Attach connects a device. Create the device with this Loopback as its
// Wire first.
func (l *Loopback) Attach(d *Device) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.devs = append(l.devs[:len(l.devs):len(l.devs)], d)
}

// Transmit implements Wire.
func (l *Loopback) Transmit(p *Packet) {
	if l.queued {
		l.mu.Lock()
		l.q = append(l.q, p)
		l.mu.Unlock()
		return
	}
	l.deliver(p)
}

// Flush delivers queued packets, including those sent while delivering,
// until none is left, and returns how many it delivered.
func (l *Loopback) Flush() int {
	n := 0
	for {
		l.mu.Lock()
		if l.head == len(l.q) {
			l.q, l.head = l.q[:0], 0
			l.mu.Unlock()
			return n
		}
		p := l.q[l.head]
		l.q[l.head] = nil
		l.head++
		l.mu.Unlock()
		l.deliver(p)
		n++
	}
}

// Pending is the number of queued packets.
func (l *Loopback) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.q) - l.head
}

// Dropped is the number of packets no device took.
func (l *Loopback) Dropped() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped
}

func (l *Loopback) deliver(p *Packet) {
	l.mu.Lock()
	devs := l.devs
	l.mu.Unlock()
	if !p.IsMulticast() {
		for _, d := range devs {
			if d.LID() == p.DLID {
				d.Receive(p)
				return
			}
		}
		l.drop(p)
		return
	}
	var last *Device
	for _, d := range devs {
		if d.LID() == p.SLID {
			continue
		}
		if last != nil {
			last.Receive(p.Clone())
		}
		last = d
	}
	if last == nil {
		l.drop(p)
		return
	}
	last.Receive(p)
}

func (l *Loopback) drop(p *Packet) {
	l.mu.Lock()
	l.dropped++
	l.mu.Unlock()
	p.Release()
}
