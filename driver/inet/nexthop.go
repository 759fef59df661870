package inet

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/ibctl/ibctl/driver/header"
)

// Route is one route of an upper stack's table through an interface: to
// Dst, through the gateway Via, or on-link when Via is not valid. An
// upper stack routes what it sends itself; a layer-3 device shows this
// stack only the datagram, not the next hop the upper stack chose, so
// the stack keeps a copy of the upper stack's routes through the
// interface to find that next hop again.
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

// routeTable maps an interface to its upper stack's routes, most specific
// first; replaced whole, read without the lock.
type routeTable map[int32][]Route

// SetUpperRoutes replaces the routes of the interface's upper stack
// through it. Without a route through a gateway the table is not kept:
// every destination is then its own next hop, as a layer-3 device's
// datagrams have always been taken.
func (s *Stack) SetUpperRoutes(index int32, routes []Route) {
	keep := slices.ContainsFunc(routes, func(r Route) bool { return r.Via.IsValid() })
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.routes.Load()
	if old == nil && !keep {
		return
	}
	t := routeTable{}
	if old != nil {
		for i, rs := range *old {
			t[i] = rs
		}
	}
	delete(t, index)
	if keep {
		rs := slices.Clone(routes)
		// fib lookup: the longest prefix wins
		slices.SortStableFunc(rs, func(a, b Route) int { return b.Dst.Bits() - a.Dst.Bits() })
		t[index] = rs
	}
	if len(t) == 0 {
		s.routes.Store(nil)
		return
	}
	s.routes.Store(&t)
}

// nextHop is the neighbour a datagram to dst that the interface's upper
// stack sent goes to: the gateway of the upper stack's most specific
// route to dst through the interface, or dst itself.
func (s *Stack) nextHop(index int32, dst netip.Addr) netip.Addr {
	t := s.routes.Load()
	if t == nil {
		return dst
	}
	for _, r := range (*t)[index] {
		if r.Dst.Contains(dst) {
			if r.Via.IsValid() {
				return r.Via
			}
			return dst
		}
	}
	return dst
}

// UpperLookup asks the upper stack above an interface which next hop it
// chose for a datagram it sent through the interface from src to dst
// with the traffic class tos: its own routing decision, every rule and
// table applied. It returns the gateway, or an invalid address when dst
// is on link; ok false means the upper stack has no answer, and the
// routes SetUpperRoutes gave decide. It may block: the stack calls it
// from a goroutine of its own, never on the path that sends.
type UpperLookup func(src, dst netip.Addr, tos uint8) (via netip.Addr, ok bool)

// Bounds of what the lookups hold, which the kernel's per-datagram FIB
// lookup does not need: answers kept (all forgotten when full), and
// lookups under way at once (a datagram that would start one more is
// dropped).
const (
	maxHopAnswers = 4096
	maxHopQueries = 256
)

// upperHops are the interfaces' lookups, their answers and the
// datagrams waiting for one.
type upperHops struct {
	mu      sync.Mutex
	fns     map[int32]UpperLookup
	answers map[hopKey]hopAnswer
	pending map[hopKey]*hopQuery
	// gen counts the flushes: an answer asked before one is used for
	// the datagrams that waited for it but not kept.
	gen uint64
	// start runs a lookup; nil runs it on a new goroutine.
	start func(func())
}

// hopKey is what a lookup is asked for.
type hopKey struct {
	index    int32
	tos      uint8
	src, dst netip.Addr
}

// hopAnswer is a lookup's answer: the gateway, or none (on link); known
// is false when the upper stack had none.
type hopAnswer struct {
	via   netip.Addr
	known bool
}

// hopQuery is a lookup under way and the datagrams that wait for it,
// qbytes their length.
type hopQuery struct {
	queue  []hopWaiter
	qbytes int
}

// hopWaiter is a datagram that waits for a lookup, with its frame (nil
// when it has none) and its GSO size (0 when it has none).
type hopWaiter struct {
	pkt, frame []byte
	gso        int
}

// SetUpperLookup has the next hop of what the interface's upper stack
// sends asked of fn, once for each source, destination and traffic
// class until FlushUpperLookups; while an answer is awaited, the
// datagrams for it wait, the oldest dropped beyond unres_qlen_bytes as a
// neighbour's queue drops them. nil stops asking.
func (s *Stack) SetUpperLookup(index int32, fn UpperLookup) {
	h := &s.hops
	h.mu.Lock()
	defer h.mu.Unlock()
	if fn == nil {
		delete(h.fns, index)
	} else {
		if h.fns == nil {
			h.fns = map[int32]UpperLookup{}
		}
		h.fns[index] = fn
	}
	h.flushLocked()
}

// FlushUpperLookups forgets every answer the lookups gave, as the upper
// stack's routes or rules changed: the next datagram of each flow asks
// again.
func (s *Stack) FlushUpperLookups() {
	h := &s.hops
	h.mu.Lock()
	defer h.mu.Unlock()
	h.flushLocked()
}

func (h *upperHops) flushLocked() {
	h.gen++
	h.answers, h.pending = nil, nil
}

// outputUpper sends a datagram of the interface's upper stack to its next
// hop: the lookup's answer, asked first when there is none, or without a
// lookup the upper stack's routes (nextHop).
func (s *Stack) outputUpper(nic *NIC, src, dst netip.Addr, pkt, frame []byte, gso int) {
	index := nic.index
	h := &s.hops
	h.mu.Lock()
	fn := h.fns[index]
	if fn == nil {
		h.mu.Unlock()
		s.outputFrame(nic, src, s.nextHop(index, dst), pkt, frame, gso)
		return
	}
	k := hopKey{index: index, tos: tosOf(pkt), src: src, dst: dst}
	if a, ok := h.answers[k]; ok {
		h.mu.Unlock()
		s.outputFrame(nic, src, s.hopOf(index, dst, a), pkt, frame, gso)
		return
	}
	q := h.pending[k]
	start := q == nil
	if start {
		if len(h.pending) >= maxHopQueries {
			h.mu.Unlock()
			nic.link.DropTx(1)
			return
		}
		if h.pending == nil {
			h.pending = map[hopKey]*hopQuery{}
		}
		q = &hopQuery{}
		h.pending[k] = q
	}
	dropped := 0
	for len(q.queue) > 0 && q.qbytes+len(pkt) > unresQlenBytes {
		q.qbytes -= len(q.queue[0].pkt)
		q.queue = q.queue[1:]
		dropped++
	}
	q.queue = append(q.queue, hopWaiter{pkt, frame, gso})
	q.qbytes += len(pkt)
	gen, run := h.gen, h.start
	h.mu.Unlock()
	if dropped > 0 {
		nic.link.DropTx(uint64(dropped))
	}
	if !start {
		return
	}
	ask := func() { s.answerHop(nic, k, q, fn, gen) }
	if run == nil {
		go ask()
	} else {
		run(ask)
	}
}

// answerHop asks fn for k's next hop, keeps the answer unless a flush
// came meanwhile, and sends what waited for it.
func (s *Stack) answerHop(nic *NIC, k hopKey, q *hopQuery, fn UpperLookup, gen uint64) {
	via, ok := fn(k.src, k.dst, k.tos)
	a := hopAnswer{via: via, known: ok}
	h := &s.hops
	h.mu.Lock()
	if h.pending[k] == q {
		delete(h.pending, k)
	}
	if h.gen == gen {
		if h.answers == nil || len(h.answers) >= maxHopAnswers {
			h.answers = map[hopKey]hopAnswer{}
		}
		h.answers[k] = a
	}
	queue := q.queue
	q.queue, q.qbytes = nil, 0
	h.mu.Unlock()
	nh := s.hopOf(k.index, k.dst, a)
	for _, d := range queue {
		s.outputFrame(nic, k.src, nh, d.pkt, d.frame, d.gso)
	}
}

// hopOf is the next hop to dst that an answer gives.
func (s *Stack) hopOf(index int32, dst netip.Addr, a hopAnswer) netip.Addr {
	switch {
	case !a.known:
		return s.nextHop(index, dst)
	case a.via.IsValid():
		return a.via
	}
	return dst
}

// tosOf is a datagram's DSCP, as a FIB rule's tos selector sees it (the
// ECN bits cleared).
func tosOf(pkt []byte) uint8 {
	if pkt[0]>>4 == 4 {
		return header.IPv4(pkt).TOS() &^ 3
	}
	return header.IPv6(pkt).TrafficClass() &^ 3
}
