package netlinkx

import (
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// CmdMaddr lists the multicast lists (ibctl family; iproute2 reads them
// from /proc/net/dev_mcast and /proc/net/igmp).
const CmdMaddr uint8 = 18

// AttrLink and AttrInet carry a multicast list's addresses.
const (
	AttrLink uint16 = 90
	AttrInet uint16 = 91
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
		put(AttrEntry, func(n *netlink.AttributeEncoder) {
			n.Uint32(AttrPortNum, uint32(e.Index))
			n.String(AttrName, e.Name)
			for _, l := range e.Link {
				n.Bytes(AttrLink, l)
			}
			for _, a := range e.Inet {
				n.Bytes(AttrInet, a)
			}
		})
	}
	return nil
}

// Maddrs lists every interface's multicast addresses.
func (c *Client) Maddrs() ([]Maddr, error) {
	var out []Maddr
	err := c.dump(CmdMaddr, AttrEntry, nil, func(n *netlink.AttributeDecoder) {
		var m Maddr
		for n.Next() {
			switch n.Type() {
			case AttrPortNum:
				m.Index = int32(n.Uint32())
			case AttrName:
				m.Name = n.String()
			case AttrLink:
				m.Link = append(m.Link, n.Bytes())
			case AttrInet:
				m.Inet = append(m.Inet, n.Bytes())
			}
		}
		out = append(out, m)
	})
	return out, err
}
