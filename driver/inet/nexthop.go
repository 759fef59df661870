package inet

import (
	"net/netip"
	"slices"
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
