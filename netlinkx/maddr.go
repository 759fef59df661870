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
		put(wire.AttrEntry, func(n *netlink.AttributeEncoder) { wire.EncodeMaddr(n, e) })
	}
	return nil
}

// Maddrs lists every interface's multicast addresses.
func (c *Client) Maddrs() ([]Maddr, error) {
	var out []Maddr
	err := c.dump(wire.CmdMaddr, wire.AttrEntry, nil, func(n *netlink.AttributeDecoder) {
		out = append(out, wire.DecodeMaddr(n))
	})
	return out, err
}
