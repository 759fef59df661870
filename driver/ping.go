package driver

import (
	"errors"
	"net/netip"
	"time"

	"github.com/ibctl/ibctl/driver/inet"
	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// Ping sends one ICMP echo request the way the node's IP stack would:
// route by the interfaces' subnets (or the given device), resolve the
// neighbour, send over the interface's endpoint and wait for the reply
// (inet.Stack.Echo). It holds the driver lock only to pick the route.
// r.Connect picks the route alone, as connect(2) on ping's socket does;
// r.Cancel ends the waits of the requests of r.Ident to r.Dst.
func (n *Node) Ping(r netlinkx.PingRequest) (netlinkx.PingReply, error) {
	dst, ok := netip.AddrFromSlice(r.Dst)
	if !ok {
		return netlinkx.PingReply{}, errorf("ping", "", unix.EAFNOSUPPORT, "")
	}
	dst = dst.Unmap()
	if r.Cancel {
		n.ip.CancelEchoes(r.Ident, dst)
		return netlinkx.PingReply{}, nil
	}
	if dst.Is6() && dst.IsLinkLocalUnicast() && r.Dev == "" {
		// ip6_datagram_connect: a link-local destination needs an
		// interface
		return netlinkx.PingReply{}, errorf("ping", "", unix.EINVAL, "")
	}
	// The deadline is on the driver's clock, as the stack's timers are.
	deadline := n.ip.Now().Add(time.Duration(r.TimeoutMs) * time.Millisecond)
	rt, err := n.routeTo(r.Dev, dst)
	if err != nil {
		return netlinkx.PingReply{}, err
	}
	reply := netlinkx.PingReply{Src: rt.src.AsSlice(), MTU: rt.mtu}
	if r.Connect {
		return reply, nil
	}
	if n.ip.Owns(rt.index, dst) {
		// Local delivery goes through loopback, not the HCA.
		reply.Status, reply.TTL, reply.Bytes, reply.From = netlinkx.PingReplied, 64, r.Size+8, dst.AsSlice()
		return reply, nil
	}
	res, err := n.ip.Echo(inet.EchoRequest{Index: rt.index, Src: rt.src, Dst: dst, Ident: r.Ident, Seq: r.Seq,
		Size: int(r.Size), PMTUDisc: pmtuDisc(r.PMTUDisc), Deadline: deadline})
	if errors.Is(err, inet.ErrNoLink) {
		return netlinkx.PingReply{}, errorf("ping", rt.name, unix.ENETUNREACH, "")
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return netlinkx.PingReply{}, errorf("ping", "", errno, "")
	}
	if err != nil {
		return reply, err
	}
	reply.Status = pingStatus(res.Status)
	switch res.Status {
	case inet.EchoTooLong, inet.EchoFragNeeded:
		reply.MTU = res.MTU
	case inet.EchoReplied:
		reply.TTL, reply.Bytes, reply.RTTNs = res.TTL, uint32(res.Bytes), uint64(res.RTT)
	case inet.EchoUnreachable:
		reply.Together = uint32(res.Together)
	}
	if res.From.IsValid() {
		reply.From = res.From.AsSlice()
	}
	return reply, nil
}

// pingStatus maps the stack's echo outcomes to the protocol's.
func pingStatus(s inet.EchoStatus) uint8 {
	switch s {
	case inet.EchoReplied:
		return netlinkx.PingReplied
	case inet.EchoUnreachable:
		return netlinkx.PingUnreachable
	case inet.EchoFragNeeded:
		return netlinkx.PingFragNeeded
	case inet.EchoTooLong:
		return netlinkx.PingTooLong
	case inet.EchoReasmTimeout:
		return netlinkx.PingReasmTimeout
	}
	return netlinkx.PingTimeout
}

// pmtuDisc maps ping's -M setting to the stack's.
func pmtuDisc(m uint8) inet.PMTUDisc {
	switch m {
	case netlinkx.PMTUDiscDo:
		return inet.PMTUDiscDo
	case netlinkx.PMTUDiscWant:
		return inet.PMTUDiscWant
	}
	return inet.PMTUDiscDont
}

// routeResult is a route and what sending on it needs, read under the
// driver lock so that the caller can work without it.
type routeResult struct {
	index int32
	name  string
	src   netip.Addr
	dp    *ipoib.Endpoint // nil when the interface has no endpoint (down)
	mtu   uint32
	mode  uint16
}

// routeTo picks the route to dst (see route) under the driver lock.
func (n *Node) routeTo(dev string, dst netip.Addr) (routeResult, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, src, err := n.route(dev, dst)
	if err != nil {
		return routeResult{}, err
	}
	return routeResult{index: nd.index, name: nd.name, src: src, dp: nd.dp, mtu: nd.mtu, mode: nd.mode}, nil
}

// route picks the interface for dst: the named one, or the first up
// interface whose subnet holds dst. Caller holds d.mu.
func (n *Node) route(dev string, dst netip.Addr) (*Netdev, netip.Addr, error) {
	if dev != "" {
		nd, err := n.lookup("ping", 0, dev)
		if err != nil {
			return nil, netip.Addr{}, err
		}
		src, ok := n.ip.SourceFor(nd.index, dst)
		if !ok {
			return nil, netip.Addr{}, errorf("ping", dev, unix.EADDRNOTAVAIL, "")
		}
		return nd, src, nil
	}
	var up []int32
	for _, nd := range n.order.list() {
		if nd.up {
			up = append(up, nd.index)
		}
	}
	if index, src, ok := n.ip.Route(dst, up); ok {
		return n.order.get(index), src, nil
	}
	return nil, netip.Addr{}, errorf("ping", "", unix.ENETUNREACH, "")
}
