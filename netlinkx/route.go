package netlinkx

import (
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// RouteGetter is implemented by nodes with an IP stack.
type RouteGetter interface {
	RouteGet(dst []byte) (Route, error)
}

// RouteLister is implemented by nodes whose routing table can be listed.
type RouteLister interface {
	// Routes lists the main table: IPv4, then IPv6.
	Routes() ([]Route, error)
}

func routeListRequest(node Node, put putEntry) error {
	l, ok := node.(RouteLister)
	if !ok {
		return withMsg(unix.EOPNOTSUPP, "this node has no IP stack")
	}
	routes, err := l.Routes()
	if err != nil {
		return err
	}
	for _, r := range routes {
		put(wire.AttrEntry, func(ae *netlink.AttributeEncoder) { wire.EncodeRoute(ae, r) })
	}
	return nil
}

// Routes lists the bound node's main routing table.
func (c *Client) Routes() ([]Route, error) {
	var out []Route
	err := c.dump(wire.CmdRouteList, wire.AttrEntry, nil, func(ad *netlink.AttributeDecoder) {
		out = append(out, wire.DecodeRoute(ad))
	})
	return out, err
}

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
		if ad.Type() == wire.AttrDst {
			dst = ad.Bytes()
		}
	}
	r, err := g.RouteGet(dst)
	if err != nil {
		return err
	}
	ae.Bytes(wire.AttrDst, r.Dst)
	ae.Bytes(wire.AttrSrc, r.Src)
	ae.String(wire.AttrDev, r.Dev)
	ae.Flag(wire.AttrFull, r.Local)
	ae.Uint32(wire.AttrMTU, r.MTU)
	ae.Uint32(wire.AttrExpires, r.ExpiresSec)
	ae.Uint8(wire.AttrTable, r.Table)
	ae.Uint8(wire.AttrProtocol, r.Protocol)
	ae.Uint32(wire.AttrMetric, r.Metric)
	return nil
}

// RouteGet asks the bound node for its route to dst.
func (c *Client) RouteGet(dst []byte) (Route, error) {
	ad, err := c.ibctl(wire.CmdRouteGet, func(ae *netlink.AttributeEncoder) { ae.Bytes(wire.AttrDst, dst) })
	if err != nil {
		return Route{}, err
	}
	var r Route
	for ad.Next() {
		switch ad.Type() {
		case wire.AttrDst:
			r.Dst = ad.Bytes()
		case wire.AttrSrc:
			r.Src = ad.Bytes()
		case wire.AttrDev:
			r.Dev = ad.String()
		case wire.AttrFull:
			r.Local = true
		case wire.AttrMTU:
			r.MTU = ad.Uint32()
		case wire.AttrExpires:
			r.ExpiresSec = ad.Uint32()
		case wire.AttrTable:
			r.Table = ad.Uint8()
		case wire.AttrProtocol:
			r.Protocol = ad.Uint8()
		case wire.AttrMetric:
			r.Metric = ad.Uint32()
		}
	}
	return r, ad.Err()
}
