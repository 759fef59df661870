package netlinkx

import (
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Route is `ip route get`'s answer.
type Route struct {
	Dst, Src   []byte
	Dev        string
	Local      bool
	MTU        uint32 // a path MTU exception; 0 when none
	ExpiresSec uint32
	// Table, Protocol and Metric are the IPv6 route's rtm_table,
	// rtm_protocol and RTA_PRIORITY; an IPv4 answer (a cached route)
	// leaves them 0.
	Table    uint8
	Protocol uint8
	Metric   uint32
}

// RouteGetter is implemented by nodes with an IP stack.
type RouteGetter interface {
	RouteGet(dst []byte) (Route, error)
}

// CmdRouteGet asks for the route to AttrDst (ibctl family).
const CmdRouteGet uint8 = 20

// Attributes of route answers besides the ping ones.
const (
	AttrExpires  uint16 = 92 // a route exception's remaining life in seconds
	AttrTable    uint16 = 93
	AttrProtocol uint16 = 94
	AttrMetric   uint16 = 95
)

func routeRequest(node Node, rest []byte, ae *netlink.AttributeEncoder) error {
	g, ok := node.(RouteGetter)
	if !ok {
		return withMsg(unix.EOPNOTSUPP, "this node has no IP stack")
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return withMsg(unix.EINVAL, "malformed route request")
	}
	var dst []byte
	for ad.Next() {
		if ad.Type() == AttrDst {
			dst = ad.Bytes()
		}
	}
	r, err := g.RouteGet(dst)
	if err != nil {
		return err
	}
	ae.Bytes(AttrDst, r.Dst)
	ae.Bytes(AttrSrc, r.Src)
	ae.String(AttrDev, r.Dev)
	ae.Flag(AttrFull, r.Local)
	ae.Uint32(AttrMTU, r.MTU)
	ae.Uint32(AttrExpires, r.ExpiresSec)
	ae.Uint8(AttrTable, r.Table)
	ae.Uint8(AttrProtocol, r.Protocol)
	ae.Uint32(AttrMetric, r.Metric)
	return nil
}

// RouteGet asks the bound node for its route to dst.
func (c *Client) RouteGet(dst []byte) (Route, error) {
	ad, err := c.ibctl(CmdRouteGet, func(ae *netlink.AttributeEncoder) { ae.Bytes(AttrDst, dst) })
	if err != nil {
		return Route{}, err
	}
	var r Route
	for ad.Next() {
		switch ad.Type() {
		case AttrDst:
			r.Dst = ad.Bytes()
		case AttrSrc:
			r.Src = ad.Bytes()
		case AttrDev:
			r.Dev = ad.String()
		case AttrFull:
			r.Local = true
		case AttrMTU:
			r.MTU = ad.Uint32()
		case AttrExpires:
			r.ExpiresSec = ad.Uint32()
		case AttrTable:
			r.Table = ad.Uint8()
		case AttrProtocol:
			r.Protocol = ad.Uint8()
		case AttrMetric:
			r.Metric = ad.Uint32()
		}
	}
	return r, ad.Err()
}
