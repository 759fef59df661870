package driver

import (
	"net/netip"
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
