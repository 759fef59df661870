package netlinkx

import (
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func maddrRequest(node Node, _ []byte, put putEntry) error {
	m, ok := node.(MaddrNode)
	if !ok {
		return withMsg(unix.EOPNOTSUPP, "this node keeps no multicast lists")
	}
	list, err := m.Maddrs()
	if err != nil {
		return err
	}
	for _, e := range list {
		put(wire.AttrEntry, func(n *netlink.AttributeEncoder) {
			n.Uint32(wire.AttrPortNum, uint32(e.Index))
			n.String(wire.AttrName, e.Name)
			for _, l := range e.Link {
				n.Bytes(wire.AttrLink, l)
			}
			for _, a := range e.Inet {
				n.Bytes(wire.AttrInet, a)
			}
		})
	}
	return nil
}

// Maddrs lists every interface's multicast addresses.
func (c *Client) Maddrs() ([]Maddr, error) {
	var out []Maddr
	err := c.dump(wire.CmdMaddr, wire.AttrEntry, nil, func(n *netlink.AttributeDecoder) {
		var m Maddr
		for n.Next() {
			switch n.Type() {
			case wire.AttrPortNum:
				m.Index = int32(n.Uint32())
			case wire.AttrName:
				m.Name = n.String()
			case wire.AttrLink:
				m.Link = append(m.Link, n.Bytes())
			case wire.AttrInet:
				m.Inet = append(m.Inet, n.Bytes())
			}
		}
		out = append(out, m)
	})
	return out, err
}
