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
	wire.EncodeRouteGet(ae, r)
	return nil
}

// RouteGet asks the bound node for its route to dst.
func (c *Client) RouteGet(dst []byte) (Route, error) {
	ad, err := c.ibctl(wire.CmdRouteGet, func(ae *netlink.AttributeEncoder) { ae.Bytes(wire.AttrDst, dst) })
	if err != nil {
		return Route{}, err
	}
	r := wire.DecodeRouteGet(ad)
	return r, ad.Err()
}
