package fabric

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// EventKind is the kind of an asynchronous port event, as the IB core
// reports them to ULPs (ib_event_type).
type EventKind uint8

const (
	// PKeyChange: the SM re-programmed the port's P_Key table
	// (IB_EVENT_PKEY_CHANGE; IPoIB does a heavy flush).
	PKeyChange EventKind = iota + 1
	// PortActive: the port's link came up (IB_EVENT_PORT_ACTIVE).
	PortActive
	// PortDown: the port's link went down (IB_EVENT_PORT_ERR).
	PortDown
	// LIDChange: the SM gave the port a new LID (IB_EVENT_LID_CHANGE).
	// Reserved: this SM assigns LIDs once, so nothing emits it yet.
	LIDChange
	// SMReregister: the SM asks the port's clients to re-register
	// (IB_EVENT_CLIENT_REREGISTER; IPoIB rejoins its multicast groups).
	SMReregister
)

var eventNames = [...]string{
	PKeyChange: "PKeyChange", PortActive: "PortActive", PortDown: "PortDown",
	LIDChange: "LIDChange", SMReregister: "SMReregister",
}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one port event.
type Event struct {
	Kind EventKind
	Node string
	Port int
}

func (e Event) String() string { return e.Kind.String() + " " + PortName(e.Node, e.Port) }

type subscriber struct {
	fn        func(Event)
	cancelled atomic.Bool
}

// Subscribe registers fn for every event from now on. fn is called on the
// goroutine of the operation that caused the event, after the SM's lock is
// released and before that operation returns; events reach every
// subscriber in the order the changes were made, one at a time. fn may
// query the fabric, Send, Join and Leave, but must not make a change that
// emits events itself (partition changes, SetPortState, Reregister): like
// an IB event handler, it hands such work to another goroutine, or the
// call deadlocks. cancel stops further calls (one already running
// finishes); it may be called more than once.
func (f *Fabric) Subscribe(fn func(ev Event)) (cancel func()) {
	s := &subscriber{fn: fn}
	f.mu.Lock()
	f.subs = append(append([]*subscriber(nil), f.subs...), s)
	f.mu.Unlock()
	return func() {
		s.cancelled.Store(true)
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, x := range f.subs {
			if x == s {
				f.subs = append(append([]*subscriber(nil), f.subs[:i]...), f.subs[i+1:]...)
				break
			}
		}
	}
}

// notifier orders event delivery: each change with events takes a ticket
// under Fabric.mu and delivers when its turn comes, after unlocking.
type notifier struct {
	mu   sync.Mutex
	cond *sync.Cond
	turn uint64 // guarded by mu
}

// batch is the events of one change and the subscribers at that time.
type batch struct {
	ticket uint64
	evs    []Event
	subs   []*subscriber
}

// change runs fn under the SM's lock and, on success, delivers fn's
// events after unlocking. fn updates what the switch forwards by as it
// changes ports and groups (syncFwdLocked, setReceiverLocked); it must
// not change anything when it fails.
func (f *Fabric) change(fn func() ([]Event, error)) error {
	f.mu.Lock()
	evs, err := fn()
	var b *batch
	if err == nil {
		if len(evs) > 0 && len(f.subs) > 0 {
			b = &batch{ticket: f.nextTicket, evs: evs, subs: f.subs}
			f.nextTicket++
		}
	}
	f.mu.Unlock()
	if b != nil {
		f.ev.deliver(b)
	}
	if hook := f.hook.Load(); err == nil && hook != nil {
		(*hook)()
	}
	return err
}

// SetChangeHook has fn called after every change of the SM's state
// (partitions, port states, multicast groups), once the change is made
// and its events delivered, on the goroutine that made it; nil removes
// it. fn may query the fabric but must not change it.
func (f *Fabric) SetChangeHook(fn func()) {
	if fn == nil {
		f.hook.Store(nil)
		return
	}
	f.hook.Store(&fn)
}

func (n *notifier) deliver(b *batch) {
	n.mu.Lock()
	if n.cond == nil {
		n.cond = sync.NewCond(&n.mu)
	}
	for n.turn != b.ticket {
		n.cond.Wait()
	}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.turn++
		n.cond.Broadcast()
		n.mu.Unlock()
	}()
	for _, ev := range b.evs {
		for _, s := range b.subs {
			if !s.cancelled.Load() {
				s.fn(ev)
			}
		}
	}
}
