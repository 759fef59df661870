package driver

import (
	"net/netip"
	"slices"

	"github.com/ibctl/ibctl/driver/header"
)

// IPv6 address autoconfiguration of an IPoIB interface, as
// net/ipv6/addrconf.c does it for ARPHRD_INFINIBAND. An interface has
// IPv6 while its MTU is at least 1280 (ipv6_add_dev). When it is up and
// its link becomes ready (carrier on: addrconf_notify's NETDEV_UP or
// NETDEV_CHANGE, or an MTU raised back to 1280 or more), it gets the
// link-local address fe80::/64 + the interface ID
// (addrconf_ifid_infiniband: the port GUID with 0x02 ORed into its first
// byte), scope link, permanent, lifetimes forever (addrconf_add_linklocal);
// duplicate address detection is taken as done at once. Children share
// the parent's GUID, so they get the same address. Going down removes
// every IPv6 address of the interface, the configured ones too
// (addrconf_ifdown with keep_addr_on_down 0, the default), as does an MTU
// below 1280 (NETDEV_CHANGEMTU); losing carrier removes none. The
// automatic address is derived again at each start, never saved.

// linkLocal is the interface's automatic link-local address.
func (nd *Netdev) linkLocal() netip.Addr {
	id := header.InterfaceID([8]byte(nd.hwAddr()[12:20]))
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	copy(a[8:], id[:])
	return netip.AddrFrom16(a)
}

// addrconfReady is the link becoming ready: the first time since the
// interface came up (IF_READY), with carrier and IPv6 enabled, the
// link-local address is added.
func (nd *Netdev) addrconfReady() {
	if nd.v6Ready || !nd.up || !nd.carrier || nd.mtu < header.IPv6MinMTU {
		return
	}
	nd.v6Ready = true
	nd.node.ip.addAuto(nd.index, netip.PrefixFrom(nd.linkLocal(), 64))
}

// addrconfDown is addrconf_ifdown: every IPv6 address goes.
func (nd *Netdev) addrconfDown() {
	nd.v6Ready = false
	nd.node.ip.dropIPv6(nd.index)
}

// addrconfMTU follows an MTU change from old (NETDEV_CHANGEMTU): below
// 1280 IPv6 stops; back at 1280 or more on a ready link it starts again.
// The multicast memberships follow.
func (nd *Netdev) addrconfMTU(old uint32) {
	switch {
	case nd.mtu < header.IPv6MinMTU && (old >= header.IPv6MinMTU || nd.v6Ready):
		nd.addrconfDown()
	case nd.mtu >= header.IPv6MinMTU && old < header.IPv6MinMTU:
		nd.addrconfReady()
	default:
		return
	}
	nd.syncMcast()
}

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
func (s *ipStack) insertAddr(index int32, p netip.Prefix) {
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

// addAuto adds an automatic address unless the interface has it already.
func (s *ipStack) addAuto(index int32, p netip.Prefix) {
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

// dropIPv6 removes an interface's IPv6 addresses.
func (s *ipStack) dropIPv6(index int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs[index] = slices.DeleteFunc(slices.Clone(s.addrs[index]), func(p netip.Prefix) bool { return p.Addr().Is6() })
	delete(s.auto, index)
}

// isAuto reports whether ip is the interface's automatic address. Caller
// holds s.mu.
func (s *ipStack) isAuto(index int32, ip netip.Addr) bool {
	a, ok := s.auto[index]
	return ok && a == ip
}

// snapshotAddrs saves the addresses of devs and returns what puts them
// back (for a change rolled back).
func (s *ipStack) snapshotAddrs(devs []*Netdev) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs := make(map[int32][]netip.Prefix, len(devs))
	auto := map[int32]netip.Addr{}
	for _, nd := range devs {
		addrs[nd.index] = slices.Clone(s.addrs[nd.index])
		if a, ok := s.auto[nd.index]; ok {
			auto[nd.index] = a
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
func (s *ipStack) srcFor6(index int32, dst netip.Addr) (netip.Addr, bool) {
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
