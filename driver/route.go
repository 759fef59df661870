package driver

import (
	"bytes"
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// ip6RtPrioAddrconf is IP6_RT_PRIO_ADDRCONF, the metric of the prefix
// routes of addresses.
const ip6RtPrioAddrconf = 256

// RouteGet is `ip route get`: the route to dst and its cached path MTU
// exception, if any.
func (n *Node) RouteGet(dstb []byte) (netlinkx.Route, error) {
	dst, ok := netip.AddrFromSlice(dstb)
	if !ok {
		return netlinkx.Route{}, errorf("route get", "", unix.EINVAL, "")
	}
	dst = dst.Unmap()
	rt, err := n.routeTo("", dst)
	if err != nil {
		return netlinkx.Route{}, err
	}
	r := netlinkx.Route{Dst: dst.AsSlice(), Dev: rt.name, Src: rt.src.AsSlice(), Local: n.ip.Owns(rt.index, dst)}
	if dst.Is6() {
		// rt6_fill_node: the prefix route addrconf added (proto kernel,
		// metric 256), or the local route, whose copies go through the
		// loopback (ip6_rt_get_dev_rcu).
		r.Table, r.Protocol, r.Metric = unix.RT_TABLE_MAIN, unix.RTPROT_KERNEL, ip6RtPrioAddrconf
		if r.Local {
			r.Dev, r.Table, r.Metric = "lo", unix.RT_TABLE_LOCAL, 0
		}
	} else if r.Local {
		// the local table's route, through the loopback (ip_route_output)
		r.Dev, r.Table = "lo", unix.RT_TABLE_LOCAL
	}
	if mtu, expires, ok := n.ip.PathMTU(dst); ok {
		r.MTU = mtu
		r.ExpiresSec = expiresSec(expires, n.ip.Now())
	}
	return r, nil
}

// expiresSec is the expiry ip route get shows for an exception: the
// jiffies left (rt_fill_info, rt6_fill_node), as clock_t, which iproute2
// divides by USER_HZ, truncating. Within the tick it was set in, a
// 600 s exception shows 600sec; from the next one, 599sec.
func expiresSec(expires, now time.Time) uint32 {
	const tick = int64(time.Second / hz)
	left := expires.UnixNano()/tick - now.UnixNano()/tick
	if left <= 0 {
		return 0
	}
	return uint32(left / hz)
}

// Routes lists the node's main routing table (RTM_GETROUTE dump) as the
// kernel keeps it for addresses alone: for every primary IPv4 address of
// an up interface the prefix route fib_add_ifaddr adds (proto kernel,
// scope link, the address as source; none for a /32), for every IPv6
// address of an up interface the one addrconf_prefix_route adds (proto
// kernel, metric 256, one per prefix), each marked linkdown while the
// interface has no carrier. IPv4 comes first, each family in the order
// of its prefixes.
func (n *Node) Routes() ([]netlinkx.Route, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	return n.routes(), nil
}

// routes builds the table. Caller holds d.mu.
func (n *stack) routes() []netlinkx.Route {
	var v4, v6 []netlinkx.Route
	for _, nd := range n.order.list() {
		if !nd.up {
			continue
		}
		var flags uint32
		if !nd.carrier {
			flags = unix.RTNH_F_LINKDOWN
		}
		for _, a := range n.ip.Addrs(nd.index) {
			p := a.Masked()
			r := netlinkx.Route{Dst: p.Addr().AsSlice(), DstLen: uint8(p.Bits()), Dev: nd.name, Index: nd.index,
				Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_KERNEL, Flags: flags}
			if a.Addr().Is4() {
				if a.Secondary || p.Bits() == 32 {
					continue
				}
				r.Family, r.Scope, r.Src = unix.AF_INET, unix.RT_SCOPE_LINK, a.Addr().AsSlice()
				v4 = append(v4, r)
				continue
			}
			r.Family, r.Metric = unix.AF_INET6, ip6RtPrioAddrconf
			if !slices.ContainsFunc(v6, func(o netlinkx.Route) bool {
				return o.Index == r.Index && o.DstLen == r.DstLen && bytes.Equal(o.Dst, r.Dst)
			}) {
				v6 = append(v6, r)
			}
		}
	}
	order := func(desc bool) func(a, b netlinkx.Route) int {
		return func(a, b netlinkx.Route) int {
			if c := bytes.Compare(a.Dst, b.Dst); c != 0 {
				return c
			}
			if c := cmp.Compare(b.DstLen, a.DstLen); c != 0 {
				return c
			}
			if desc {
				// fib6: the route added last comes first
				return cmp.Compare(b.Index, a.Index)
			}
			return cmp.Compare(a.Index, b.Index)
		}
	}
	slices.SortStableFunc(v4, order(false))
	slices.SortStableFunc(v6, order(true))
	return append(v4, v6...)
}
