package netlinkx

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// AddrNode is implemented by nodes with an IP stack: addresses and the
// neighbour table.
type AddrNode interface {
	Addrs() ([]Addr, error)
	AddAddr(a Addr) error
	DelAddr(a Addr) error
	Neighs() ([]Neigh, error)
	// DelNeigh removes the entry of n's Index and Dst: ENOENT when there
	// is none.
	DelNeigh(n Neigh) error
}

// addrRequest serves RTM_GETADDR (dump), RTM_NEWADDR (NLM_F_CREATE|
// NLM_F_EXCL), RTM_DELADDR, RTM_GETNEIGH (dump) and RTM_DELNEIGH for
// nodes with an IP stack; other nodes answer EOPNOTSUPP. dispatch routes
// these five types here.
func addrRequest(node Node, m netlink.Message) ([][]byte, error) {
	an, ok := node.(AddrNode)
	if !ok {
		return nil, withMsg(unix.EOPNOTSUPP, "this node has no IP stack")
	}
	switch m.Header.Type {
	case unix.RTM_GETADDR:
		if m.Header.Flags&netlink.Dump == 0 {
			return nil, withMsg(unix.EOPNOTSUPP, "only address dumps are supported")
		}
		addrs, err := an.Addrs()
		if err != nil {
			return nil, err
		}
		return dumpByFamily(m, addrs, func(a Addr) uint8 { return a.Family }, unix.RTM_NEWADDR, wire.MarshalAddr), nil
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		a, err := wire.UnmarshalAddr(m.Data)
		if err != nil {
			return nil, withMsg(unix.EINVAL, err.Error())
		}
		if err := checkAddr(a); err != nil {
			return nil, err
		}
		if m.Header.Type == unix.RTM_DELADDR {
			return nil, an.DelAddr(a)
		}
		if m.Header.Flags&(netlink.Create|netlink.Excl) != netlink.Create|netlink.Excl {
			return nil, withMsg(unix.EOPNOTSUPP, "only exclusive creation of addresses is supported")
		}
		return nil, an.AddAddr(a)
	case unix.RTM_GETNEIGH:
		if m.Header.Flags&netlink.Dump == 0 {
			return nil, withMsg(unix.EOPNOTSUPP, "only neighbour dumps are supported")
		}
		ns, err := an.Neighs()
		if err != nil {
			return nil, err
		}
		return dumpByFamily(m, ns, func(n Neigh) uint8 { return n.Family }, unix.RTM_NEWNEIGH, wire.MarshalNeigh), nil
	case unix.RTM_DELNEIGH:
		n, err := wire.UnmarshalNeigh(m.Data)
		if err != nil {
			return nil, withMsg(unix.EINVAL, err.Error())
		}
		if len(n.Dst) == 0 {
			return nil, withMsg(unix.EINVAL, "Network address not specified")
		}
		return nil, an.DelNeigh(n)
	}
	return nil, withMsg(unix.EOPNOTSUPP, fmt.Sprintf("unknown message type %d", m.Header.Type))
}

// dumpByFamily answers a dump as the kernel does for AF_UNSPEC: family by
// family (IPv4, then IPv6), each in the node's order; a request naming a
// family (the first byte of ifaddrmsg, ndmsg or rtgenmsg) gets only that
// family.
func dumpByFamily[T any](m netlink.Message, items []T, family func(T) uint8, typ netlink.HeaderType, marshal func(T) []byte) [][]byte {
	var want uint8
	if len(m.Data) > 0 {
		want = m.Data[0]
	}
	items = slices.Clone(items)
	slices.SortStableFunc(items, func(a, b T) int { return cmp.Compare(family(a), family(b)) })
	out := make([][]byte, 0, len(items))
	for _, it := range items {
		if want == unix.AF_UNSPEC || family(it) == want {
			out = append(out, wire.Reply(m.Header, typ, netlink.Multi, marshal(it)))
		}
	}
	return out
}

// checkAddr validates a request as rtnetlink does before the stack sees
// it: a known family (EOPNOTSUPP, as for a family with no handler), an
// address of the family's length and a prefix that fits (EINVAL).
func checkAddr(a Addr) error {
	var size int
	switch a.Family {
	case unix.AF_INET:
		size = 4
	case unix.AF_INET6:
		size = 16
	default:
		return unix.EOPNOTSUPP
	}
	if len(a.Local) != size {
		return withMsg(unix.EINVAL, fmt.Sprintf("address of %d bytes for family %d", len(a.Local), a.Family))
	}
	if int(a.PrefixLen) > 8*size {
		return withMsg(unix.EINVAL, fmt.Sprintf("prefix length %d out of range", a.PrefixLen))
	}
	if a.Family == unix.AF_INET && len(a.Broadcast) != 0 && len(a.Broadcast) != 4 {
		return withMsg(unix.EINVAL, fmt.Sprintf("broadcast address of %d bytes", len(a.Broadcast)))
	}
	return nil
}

// Addrs dumps the bound node's interface addresses, IPv4 first (ip
// address show). It fails with EOPNOTSUPP when the node has no IP stack.
func (c *Client) Addrs() ([]Addr, error) {
	msgs, err := c.Execute(unix.RTM_GETADDR, netlink.Dump, wire.Ifaddrmsg{}.Marshal())
	if err != nil {
		return nil, err
	}
	out := make([]Addr, 0, len(msgs))
	for _, m := range msgs {
		a, err := wire.UnmarshalAddr(m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// AddAddr adds an address (RTM_NEWADDR with NLM_F_CREATE|NLM_F_EXCL, as
// ip address add): EEXIST when the interface has it already.
func (c *Client) AddAddr(a Addr) error {
	_, err := c.Execute(unix.RTM_NEWADDR, netlink.Create|netlink.Excl, wire.MarshalAddrRequest(a))
	return err
}

// DelAddr removes an address (RTM_DELADDR): EADDRNOTAVAIL when the
// interface lacks it. A PrefixLen of 0 matches any prefix length, as ip
// address del does for an IPv4 address given without one.
func (c *Client) DelAddr(a Addr) error {
	_, err := c.Execute(unix.RTM_DELADDR, 0, wire.MarshalAddrRequest(a))
	return err
}

// DelNeigh removes the neighbour table entry of n's Index and Dst
// (RTM_DELNEIGH, as ip neigh del and ip neigh flush send it): ENOENT
// when there is none.
func (c *Client) DelNeigh(n Neigh) error {
	_, err := c.Execute(unix.RTM_DELNEIGH, 0, wire.MarshalNeigh(Neigh{Index: n.Index, Family: n.Family, Dst: n.Dst}))
	return err
}

// Neighs dumps the bound node's neighbour tables, IPv4 (ARP) first (ip
// neigh show). It fails with EOPNOTSUPP when the node has no IP stack.
func (c *Client) Neighs() ([]Neigh, error) {
	msgs, err := c.Execute(unix.RTM_GETNEIGH, netlink.Dump, wire.Ndmsg{}.Marshal())
	if err != nil {
		return nil, err
	}
	out := make([]Neigh, 0, len(msgs))
	for _, m := range msgs {
		n, err := wire.UnmarshalNeigh(m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// MaddrNode is implemented by nodes that keep multicast lists.
type MaddrNode interface {
	Maddrs() ([]Maddr, error)
}
