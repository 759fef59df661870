package inet

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/ibctl/ibctl/driver/header"
)

// v6Scope is ipv6_addr_src_scope for unicast addresses: link-local 2,
// site-local 5, global (ULAs included) 14; loopback 1.
func v6Scope(a netip.Addr) int {
	switch {
	case a.IsLoopback():
		return 0x1
	case a.IsLinkLocalUnicast():
		return 0x2
	case a.As16()[0] == 0xfe && a.As16()[1]&0xc0 == 0xc0:
		return 0x5
	}
	return 0xe
}

// insertAddr adds p to an interface's address list. An IPv4 primary goes
// after the last primary and a secondary (one in the subnet of an address
// already there) last, as __inet_insert_ifa orders them; IPv6 ones before the first IPv6 address of the same or a smaller
// scope (ipv6_link_dev_addr), so larger scopes come first and, within a
// scope, the newest. Caller holds s.mu.
func (s *Stack) insertAddr(index int32, p netip.Prefix) {
	list := s.addrs[index]
	if p.Addr().Is4() && !secondary4(list, p) {
		// A new primary goes after the last primary, before the
		// secondaries (__inet_insert_ifa); a secondary goes last.
		at := 0
		for i, q := range list {
			if q.Addr().Is4() && !secondary4(list[:i], q) {
				at = i + 1
			}
		}
		s.addrs[index] = slices.Insert(list, at, p)
		return
	}
	if p.Addr().Is6() {
		for i, q := range list {
			if q.Addr().Is6() && v6Scope(p.Addr()) >= v6Scope(q.Addr()) {
				s.addrs[index] = slices.Insert(list, i, p)
				return
			}
		}
	}
	s.addrs[index] = append(list, p)
}

// AddLinkLocal adds the interface's automatic link-local address unless the interface has it already.
func (s *Stack) AddLinkLocal(index int32, p netip.Prefix) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.addrs[index] {
		if q.Addr() == p.Addr() {
			return
		}
	}
	s.insertAddr(index, p)
	if s.auto == nil {
		s.auto = map[int32]netip.Addr{}
	}
	s.auto[index] = p.Addr()
}

// DropIPv6 removes an interface's IPv6 addresses.
func (s *Stack) DropIPv6(index int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs[index] = slices.DeleteFunc(slices.Clone(s.addrs[index]), func(p netip.Prefix) bool { return p.Addr().Is6() })
	delete(s.auto, index)
}

// isAuto reports whether ip is the interface's automatic address. Caller
// holds s.mu.
func (s *Stack) isAuto(index int32, ip netip.Addr) bool {
	a, ok := s.auto[index]
	return ok && a == ip
}

// SnapshotAddrs saves the addresses of the interfaces and returns what
// puts them back (for a change rolled back).
func (s *Stack) SnapshotAddrs(indexes ...int32) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs := make(map[int32][]netip.Prefix, len(indexes))
	auto := map[int32]netip.Addr{}
	for _, index := range indexes {
		addrs[index] = slices.Clone(s.addrs[index])
		if a, ok := s.auto[index]; ok {
			auto[index] = a
		}
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for index, list := range addrs {
			s.addrs[index] = list
			delete(s.auto, index)
			if a, ok := auto[index]; ok {
				s.auto[index] = a
			}
		}
	}
}

// srcFor6 picks the interface's source address for dst among its IPv6
// addresses (ipv6_dev_get_saddr, RFC 6724 §5) by the rules that apply to
// addresses without lifetimes or labels: the destination itself (rule 1),
// the smallest scope not smaller than the destination's, else the largest
// (rule 2), the longest matching prefix (rule 8); the first on ties.
// Caller holds s.mu.
func (s *Stack) srcFor6(index int32, dst netip.Addr) (netip.Addr, bool) {
	var best netip.Prefix
	for _, p := range s.addrs[index] {
		switch {
		case !p.Addr().Is6():
			continue
		case p.Addr() == dst:
			return p.Addr(), true
		case !best.IsValid() || better6(p, best, dst):
			best = p
		}
	}
	return best.Addr(), best.IsValid()
}

// better6 reports whether a is a better source than b for dst by rules 2
// and 8 (the match counted up to the candidate's prefix length, as
// ipv6_get_saddr_eval does).
func better6(a, b netip.Prefix, dst netip.Addr) bool {
	sa, sb, sd := v6Scope(a.Addr()), v6Scope(b.Addr()), v6Scope(dst)
	if sa != sb {
		if sa < sb {
			return sa >= sd
		}
		return sb < sd
	}
	return min(commonPrefix(a.Addr(), dst), a.Bits()) > min(commonPrefix(b.Addr(), dst), b.Bits())
}

// commonPrefix is the number of leading bits a and b share.
func commonPrefix(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	for i := range x {
		if d := x[i] ^ y[i]; d != 0 {
			n := i * 8
			for d&0x80 == 0 {
				n++
				d <<= 1
			}
			return n
		}
	}
	return 128
}

// Address is one address of an interface.
type Address struct {
	netip.Prefix
	// Secondary is an IPv4 address in the subnet of one listed before it
	// (IFA_F_SECONDARY).
	Secondary bool
}

// Addrs lists the interface's addresses in the kernel's order: IPv4 in
// the order __inet_insert_ifa keeps, IPv6 by scope, newest first.
func (s *Stack) Addrs(index int32) []Address {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.addrs[index]
	out := make([]Address, len(list))
	for i, p := range list {
		out[i] = Address{Prefix: p, Secondary: secondary4(list[:i], p)}
	}
	return out
}

// ConfiguredAddrs lists the interface's addresses but the automatic
// link-local one: what is saved, since that one is derived again.
func (s *Stack) ConfiguredAddrs(index int32) []netip.Prefix {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []netip.Prefix
	for _, p := range s.addrs[index] {
		if !s.isAuto(index, p.Addr()) {
			out = append(out, p)
		}
	}
	return out
}

// LoadAddrs adds saved addresses (ConfiguredAddrs of an earlier run) in
// an order that lists them as they were: IPv4 in saved order, IPv6
// oldest first.
func (s *Stack) LoadAddrs(index int32, saved []netip.Prefix) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var v6 []netip.Prefix
	for _, p := range saved {
		if p.Addr().Is4() {
			s.insertAddr(index, p)
		} else {
			v6 = append(v6, p)
		}
	}
	for _, p := range slices.Backward(v6) {
		if !slices.ContainsFunc(s.addrs[index], func(q netip.Prefix) bool { return q.Addr() == p.Addr() }) {
			s.insertAddr(index, p)
		}
	}
}

// ErrAddrExists is an address the interface has already (EEXIST).
var ErrAddrExists = errors.New("address already assigned")

// ErrAddrNotFound is an address the interface lacks (EADDRNOTAVAIL).
var ErrAddrNotFound = errors.New("address not assigned")

// AddAddr adds p to the interface (RTM_NEWADDR with NLM_F_EXCL). An IPv4
// address exists only with the same prefix length: the kernel matches
// address and mask (inet_rtm_newaddr's find_matching_ifa,
// __inet_insert_ifa), so one with another length is another address. An
// IPv6 address exists with any length (ipv6_add_addr's
// ipv6_chk_same_addr).
func (s *Stack) AddAddr(index int32, p netip.Prefix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.addrs[index] {
		if q.Addr() == p.Addr() && (p.Addr().Is6() || q.Bits() == p.Bits()) {
			return ErrAddrExists
		}
	}
	s.insertAddr(index, p)
	return nil
}

// DelAddr removes ip from the interface, with prefix length bits unless
// bits is 0. Deleting a primary IPv4 address deletes its secondaries
// (__inet_del_ifa with promote_secondaries 0, the kernel's default).
func (s *Stack) DelAddr(index int32, ip netip.Addr, bits int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.addrs[index]
	for i, q := range list {
		if q.Addr() == ip && (bits == 0 || q.Bits() == bits) {
			s.addrs[index] = deleteAddr4(list, i)
			if s.isAuto(index, ip) {
				delete(s.auto, index)
			}
			return nil
		}
	}
	return ErrAddrNotFound
}

// HasIPv4 reports whether the interface has an IPv4 address.
func (s *Stack) HasIPv4(index int32) bool {
	_, ok := s.firstAddr(index, true)
	return ok
}

// Groups lists the multicast groups the interface's addresses put it in:
// the solicited-node group of each IPv6 address (addrconf_join_solict),
// once each, in address order. An address of either family puts it in
// no other group: 224.0.0.1 (ip_mc_up), ff02::1 and ff01::1
// (ipv6_add_dev) are the interface's own, joined whether or not it has
// addresses, and are for its link to keep.
func (s *Stack) Groups(index int32) []netip.Addr {
	var out []netip.Addr
	for _, a := range s.v6Addrs(index) {
		snm := netip.AddrFrom16(header.SolicitedNodeAddr(a.As16()))
		if !slices.Contains(out, snm) {
			out = append(out, snm)
		}
	}
	return out
}

// Route picks the interface for dst among the interfaces that are up,
// given in ifindex order: the first with an address of dst's family whose
// subnet holds dst (or that is dst), and the source address to use.
func (s *Stack) Route(dst netip.Addr, up []int32) (index int32, src netip.Addr, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, index := range up {
		for _, p := range s.addrs[index] {
			if p.Addr().Is4() == dst.Is4() && (p.Masked().Contains(dst) || p.Addr() == dst) {
				if dst.Is6() {
					src, _ := s.srcFor6(index, dst)
					return index, src, true
				}
				return index, p.Addr(), true
			}
		}
	}
	return 0, netip.Addr{}, false
}

// Now is the stack's clock.
func (s *Stack) Now() time.Time { return s.now() }

// secondary4 reports whether IPv4 prefix p is a secondary address: one
// listed before it (earlier) is in the same subnet with the same mask.
// The kernel flags the later addresses of a subnet IFA_F_SECONDARY when
// they are added (__inet_insert_ifa); since a primary always precedes
// its secondaries and takes them along when deleted, the order tells.
func secondary4(earlier []netip.Prefix, p netip.Prefix) bool {
	if !p.Addr().Is4() {
		return false
	}
	for _, q := range earlier {
		if sameSubnet4(q, p) {
			return true
		}
	}
	return false
}

// sameSubnet4 reports whether q is an IPv4 address with p's mask and
// subnet (inet_ifa_match with equal masks).
func sameSubnet4(q, p netip.Prefix) bool {
	return q.Addr().Is4() && q.Bits() == p.Bits() && q.Masked() == p.Masked()
}

// deleteAddr4 removes list[i]; deleting a primary IPv4 address removes its
// secondaries too (__inet_del_ifa with promote_secondaries 0, the
// kernel's default).
func deleteAddr4(list []netip.Prefix, i int) []netip.Prefix {
	p := list[i]
	primary := p.Addr().Is4() && !secondary4(list[:i], p)
	out := make([]netip.Prefix, 0, len(list)-1)
	for j, q := range list {
		switch {
		case j == i:
		case primary && j > i && sameSubnet4(q, p):
		default:
			out = append(out, q)
		}
	}
	return out
}
