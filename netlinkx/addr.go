package netlinkx

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Addr is one interface address (RTM_NEWADDR, struct ifaddrmsg + IFA_*).
type Addr struct {
	Index     int32
	Family    uint8 // unix.AF_INET or unix.AF_INET6
	PrefixLen uint8
	Scope     uint8 // RT_SCOPE_*
	Flags     uint32
	Local     []byte // IFA_LOCAL (4 or 16 bytes)
	Broadcast []byte // IFA_BROADCAST (IPv4)
	Label     string // IFA_LABEL
}

// Neigh is one neighbour table entry (RTM_NEWNEIGH, struct ndmsg + NDA_*).
type Neigh struct {
	Index  int32
	Family uint8
	State  uint16 // NUD_*
	Flags  uint8
	Dst    []byte // NDA_DST
	LLAddr []byte // NDA_LLADDR: the 20-byte IPoIB address
	// Used, Confirmed and Updated are NDA_CACHEINFO's times since the
	// entry was last used, confirmed and updated, in clock_t ticks
	// (USER_HZ, 100 a second, as jiffies_to_clock_t gives them); Refcnt
	// its ndm_refcnt, the references besides the table's.
	Used, Confirmed, Updated, Refcnt uint32
	Probes                           uint32 // NDA_PROBES
}

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

// marshalAddr encodes a as the kernel's RTM_NEWADDR reply: IFA_ADDRESS,
// and for IPv4 also IFA_LOCAL, IFA_BROADCAST and IFA_LABEL (the kernel
// sends neither a label nor a broadcast address for IPv6); IFA_FLAGS with
// IFA_F_PERMANENT set; an IFA_CACHEINFO of infinite lifetimes.
func marshalAddr(a Addr) []byte {
	flags := a.Flags | unix.IFA_F_PERMANENT
	ae := netlink.NewAttributeEncoder()
	if len(a.Local) > 0 {
		ae.Bytes(unix.IFA_ADDRESS, a.Local)
	}
	if a.Family != unix.AF_INET6 {
		if len(a.Local) > 0 {
			ae.Bytes(unix.IFA_LOCAL, a.Local)
		}
		if len(a.Broadcast) > 0 {
			ae.Bytes(unix.IFA_BROADCAST, a.Broadcast)
		}
		if a.Label != "" {
			ae.String(unix.IFA_LABEL, a.Label)
		}
	}
	ae.Uint32(unix.IFA_FLAGS, flags)
	ae.Bytes(unix.IFA_CACHEINFO, wire.CacheinfoForever())
	hdr := wire.Ifaddrmsg{Family: a.Family, PrefixLen: a.PrefixLen, Flags: uint8(flags), Scope: a.Scope, Index: uint32(a.Index)}
	return append(hdr.Marshal(), wire.Encode(ae)...)
}

// marshalAddrRequest encodes an RTM_NEWADDR / RTM_DELADDR request as ip
// address add/del does: IFA_LOCAL and IFA_ADDRESS (the same address, there
// being no peer), then IFA_BROADCAST, IFA_LABEL and IFA_FLAGS when set.
func marshalAddrRequest(a Addr) []byte {
	ae := netlink.NewAttributeEncoder()
	if len(a.Local) > 0 {
		ae.Bytes(unix.IFA_LOCAL, a.Local)
		ae.Bytes(unix.IFA_ADDRESS, a.Local)
	}
	if len(a.Broadcast) > 0 {
		ae.Bytes(unix.IFA_BROADCAST, a.Broadcast)
	}
	if a.Label != "" {
		ae.String(unix.IFA_LABEL, a.Label)
	}
	if a.Flags > 0xff {
		ae.Uint32(unix.IFA_FLAGS, a.Flags)
	}
	hdr := wire.Ifaddrmsg{Family: a.Family, PrefixLen: a.PrefixLen, Flags: uint8(a.Flags), Scope: a.Scope, Index: uint32(a.Index)}
	return append(hdr.Marshal(), wire.Encode(ae)...)
}

// unmarshalAddr decodes an RTM_NEWADDR or RTM_DELADDR payload, a reply or
// a request: Local is IFA_LOCAL, or IFA_ADDRESS without it (IPv6); Flags
// is IFA_FLAGS, or the header's 8 bits without it. IFA_CACHEINFO is
// accepted and ignored.
func unmarshalAddr(b []byte) (Addr, error) {
	hdr, rest, err := wire.ParseIfaddrmsg(b)
	if err != nil {
		return Addr{}, err
	}
	a := Addr{Index: int32(hdr.Index), Family: hdr.Family, PrefixLen: hdr.PrefixLen, Scope: hdr.Scope, Flags: uint32(hdr.Flags)}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Addr{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	var address []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.IFA_ADDRESS:
			address = ad.Bytes()
		case unix.IFA_LOCAL:
			a.Local = ad.Bytes()
		case unix.IFA_BROADCAST:
			a.Broadcast = ad.Bytes()
		case unix.IFA_LABEL:
			a.Label = ad.String()
		case unix.IFA_FLAGS:
			a.Flags = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return Addr{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	if a.Local == nil {
		a.Local = address
	}
	return a, nil
}

// marshalNeigh encodes n as the kernel's RTM_NEWNEIGH (neigh_fill_info):
// NDA_DST, NDA_LLADDR when the entry has a link-layer address, then
// NDA_CACHEINFO and NDA_PROBES, which every entry has.
func marshalNeigh(n Neigh) []byte {
	ae := netlink.NewAttributeEncoder()
	if len(n.Dst) > 0 {
		ae.Bytes(unix.NDA_DST, n.Dst)
	}
	if len(n.LLAddr) > 0 {
		ae.Bytes(unix.NDA_LLADDR, n.LLAddr)
	}
	ci := wire.NdaCacheinfo{Confirmed: n.Confirmed, Used: n.Used, Updated: n.Updated, Refcnt: n.Refcnt}
	ae.Bytes(unix.NDA_CACHEINFO, ci.Marshal())
	ae.Uint32(unix.NDA_PROBES, n.Probes)
	hdr := wire.Ndmsg{Family: n.Family, Index: n.Index, State: n.State, Flags: n.Flags, Type: unix.RTN_UNICAST}
	return append(hdr.Marshal(), wire.Encode(ae)...)
}

// unmarshalNeigh decodes an RTM_NEWNEIGH payload.
func unmarshalNeigh(b []byte) (Neigh, error) {
	hdr, rest, err := wire.ParseNdmsg(b)
	if err != nil {
		return Neigh{}, err
	}
	n := Neigh{Index: hdr.Index, Family: hdr.Family, State: hdr.State, Flags: hdr.Flags}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Neigh{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.NDA_DST:
			n.Dst = ad.Bytes()
		case unix.NDA_LLADDR:
			n.LLAddr = ad.Bytes()
		case unix.NDA_CACHEINFO:
			ci, err := wire.ParseNdaCacheinfo(ad.Bytes())
			if err != nil {
				return Neigh{}, err
			}
			n.Confirmed, n.Used, n.Updated, n.Refcnt = ci.Confirmed, ci.Used, ci.Updated, ci.Refcnt
		case unix.NDA_PROBES:
			n.Probes = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return Neigh{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	return n, nil
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
		return dumpByFamily(m, addrs, func(a Addr) uint8 { return a.Family }, unix.RTM_NEWADDR, marshalAddr), nil
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		a, err := unmarshalAddr(m.Data)
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
		return dumpByFamily(m, ns, func(n Neigh) uint8 { return n.Family }, unix.RTM_NEWNEIGH, marshalNeigh), nil
	case unix.RTM_DELNEIGH:
		n, err := unmarshalNeigh(m.Data)
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
		a, err := unmarshalAddr(m.Data)
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
	_, err := c.Execute(unix.RTM_NEWADDR, netlink.Create|netlink.Excl, marshalAddrRequest(a))
	return err
}

// DelAddr removes an address (RTM_DELADDR): EADDRNOTAVAIL when the
// interface lacks it. A PrefixLen of 0 matches any prefix length, as ip
// address del does for an IPv4 address given without one.
func (c *Client) DelAddr(a Addr) error {
	_, err := c.Execute(unix.RTM_DELADDR, 0, marshalAddrRequest(a))
	return err
}

// DelNeigh removes the neighbour table entry of n's Index and Dst
// (RTM_DELNEIGH, as ip neigh del and ip neigh flush send it): ENOENT
// when there is none.
func (c *Client) DelNeigh(n Neigh) error {
	_, err := c.Execute(unix.RTM_DELNEIGH, 0, marshalNeigh(Neigh{Index: n.Index, Family: n.Family, Dst: n.Dst}))
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
		n, err := unmarshalNeigh(m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// Maddr is one interface's multicast list as ip maddr shows it.
type Maddr struct {
	Index int32
	Name  string
	Link  [][]byte // link-layer multicast addresses (20 bytes each)
	Inet  [][]byte // IPv4 groups
}

// MaddrNode is implemented by nodes that keep multicast lists.
type MaddrNode interface {
	Maddrs() ([]Maddr, error)
}
