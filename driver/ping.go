package driver

import (
	"errors"
	"net/netip"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// Ping sends one ICMP echo request the way the node's IP stack would:
// route by the interfaces' subnets (or the given device), resolve the
// neighbour with ARP, send over the interface's UD QP and wait for the
// reply. It holds the driver lock only to pick the route.
func (n *Node) Ping(r netlinkx.PingRequest) (netlinkx.PingReply, error) {
	dst, ok := netip.AddrFromSlice(r.Dst)
	if !ok {
		return netlinkx.PingReply{}, errorf("ping", "", unix.EAFNOSUPPORT, "")
	}
	dst = dst.Unmap()
	if dst.Is6() && dst.IsLinkLocalUnicast() && r.Dev == "" {
		// ip6_datagram_connect: a link-local destination needs an
		// interface
		return netlinkx.PingReply{}, errorf("ping", "", unix.EINVAL, "")
	}
	deadline := time.Now().Add(time.Duration(r.TimeoutMs) * time.Millisecond)
	rt, err := n.routeTo(r.Dev, dst)
	if err != nil {
		return netlinkx.PingReply{}, err
	}
	nd, src, dp, mtu := rt.nd, rt.src, rt.dp, rt.mtu
	reply := netlinkx.PingReply{Src: src.AsSlice(), MTU: mtu}
	if n.ip.owns(nd.index, dst) {
		// Local delivery goes through loopback, not the HCA.
		reply.Status, reply.TTL, reply.Bytes, reply.From = netlinkx.PingReplied, 64, r.Size+8, dst.AsSlice()
		return reply, nil
	}
	if dp == nil {
		return netlinkx.PingReply{}, errorf("ping", nd.name, unix.ENETUNREACH, "")
	}
	// The path MTU: the interface's, lowered by a cached exception.
	eff := n.ip.mtuTo(dst, mtu)
	size := header.IPv4MinHeaderLen + header.ICMPv4MinHeaderLen + int(r.Size)
	if dst.Is6() {
		size = header.IPv6HeaderLen + header.ICMPv6MinHeaderLen + int(r.Size)
	}
	// IP_PMTUDISC_DO and IPV6_PMTUDISC_DO refuse what exceeds the path
	// MTU with EMSGSIZE (ip_append_data, __ip6_append_data); otherwise
	// IPv4 sets DF for WANT when it fits and fragments what does not, and
	// IPv6, which has no DF bit, fragments at the source.
	df := false
	switch {
	case size > int(eff) && r.PMTUDisc == netlinkx.PMTUDiscDo:
		reply.Status, reply.MTU = netlinkx.PingTooLong, eff
		return reply, nil
	case dst.Is6():
	case r.PMTUDisc == netlinkx.PMTUDiscDo:
		df = true
	case r.PMTUDisc == netlinkx.PMTUDiscWant:
		df = size <= int(eff)
	}
	start := time.Now()
	hw, ok := n.ip.resolve(dp, src, dst, deadline)
	if !ok {
		reply.Status, reply.From = netlinkx.PingUnreachable, src.AsSlice()
		return reply, nil
	}
	res, err := n.ip.echo(dp, src, dst, hw, r.Ident, r.Seq, int(r.Size), df, int(eff), deadline)
	var tb *tooBig
	if errors.As(err, &tb) {
		// The driver's emulated ICMP "fragmentation needed" / "packet
		// too big" (RFC 4755's answer for a peer reached over UD) carries
		// the UD MTU, and the route's path MTU drops to it.
		n.ip.setPMTU(dst, tb.mtu)
		reply.Status, reply.From, reply.MTU = netlinkx.PingFragNeeded, src.AsSlice(), tb.mtu
		return reply, nil
	}
	if err != nil {
		return reply, err
	}
	if res.reasmTimeout {
		reply.Status, reply.From = netlinkx.PingReasmTimeout, res.from.AsSlice()
		return reply, nil
	}
	if !res.reply {
		reply.Status = netlinkx.PingTimeout
		return reply, nil
	}
	reply.Status, reply.TTL, reply.Bytes, reply.From = netlinkx.PingReplied, res.ttl, uint32(res.bytes), res.from.AsSlice()
	reply.RTTNs = uint64(time.Since(start))
	return reply, nil
}

// routeResult is a route and what the data path needs of it, read under
// the driver lock so that the caller can work without it.
type routeResult struct {
	nd  *Netdev // identity only once the lock is released
	src netip.Addr
	dp  *dataPath // nil when the interface has no data path (down)
	mtu uint32
}

// routeTo picks the route to dst (see route) under the driver lock.
func (n *Node) routeTo(dev string, dst netip.Addr) (routeResult, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, src, err := n.route(dev, dst)
	if err != nil {
		return routeResult{}, err
	}
	return routeResult{nd: nd, src: src, dp: nd.dp, mtu: nd.mtu}, nil
}

// route picks the interface for dst: the named one, or the first whose
// subnet holds dst. Caller holds d.mu.
func (n *Node) route(dev string, dst netip.Addr) (*Netdev, netip.Addr, error) {
	if dev != "" {
		nd, err := n.lookup("ping", 0, dev)
		if err != nil {
			return nil, netip.Addr{}, err
		}
		src, ok := n.ip.srcFor(nd.index, dst)
		if !ok {
			return nil, netip.Addr{}, errorf("ping", dev, unix.EADDRNOTAVAIL, "")
		}
		return nd, src, nil
	}
	n.ip.mu.Lock()
	defer n.ip.mu.Unlock()
	for _, nd := range sortedDevs(n.devs) {
		for _, p := range n.ip.addrs[nd.index] {
			if p.Addr().Is4() == dst.Is4() && (p.Masked().Contains(dst) || p.Addr() == dst) && nd.up {
				if dst.Is6() {
					src, _ := n.ip.srcFor6(nd.index, dst)
					return nd, src, nil
				}
				return nd, p.Addr(), nil
			}
		}
	}
	return nil, netip.Addr{}, errorf("ping", "", unix.ENETUNREACH, "")
}
