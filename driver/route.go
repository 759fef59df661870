package driver

import (
	"net/netip"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

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
	r := netlinkx.Route{Dst: dst.AsSlice(), Dev: rt.nd.name, Src: rt.src.AsSlice(), Local: n.ip.owns(rt.nd.index, dst)}
	if e, ok := n.ip.pathMTU(dst); ok {
		r.MTU = e.mtu
		r.ExpiresSec = uint32((e.expires.Sub(n.ip.now()) + time.Second - 1) / time.Second)
	}
	return r, nil
}
