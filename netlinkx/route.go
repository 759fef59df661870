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
}

// RouteGetter is implemented by nodes with an IP stack.
type RouteGetter interface {
	RouteGet(dst []byte) (Route, error)
}

// CmdRouteGet asks for the route to AttrDst (ibctl family).
const CmdRouteGet uint8 = 20

// AttrExpires is a route exception's remaining life in seconds.
const AttrExpires uint16 = 92

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
		}
	}
	return r, ad.Err()
}
