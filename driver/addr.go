package driver

import (
	"errors"
	"maps"
	"net/netip"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/inet"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// Addrs lists the node's interface addresses (RTM_GETADDR) as an
// AF_UNSPEC dump does: every IPv4 address, then every IPv6 address, each
// family by interface (rtnl_dump_all).
func (n *Node) Addrs() ([]netlinkx.Addr, error) {
	n.d.mu.Lock()
	devs := n.order.list()
	n.d.mu.Unlock()
	lists := make([][]inet.Address, len(devs))
	brds := make([]map[netip.Prefix]netip.Addr, len(devs))
	n.d.mu.Lock()
	for i, nd := range devs {
		brds[i] = maps.Clone(nd.brd)
	}
	n.d.mu.Unlock()
	for i, nd := range devs {
		lists[i] = n.ip.Addrs(nd.index)
	}
	var out []netlinkx.Addr
	for _, v4 := range []bool{true, false} {
		for i, nd := range devs {
			for _, a := range lists[i] {
				if a.Addr().Is4() == v4 {
					m := addrMsg(nd, a.Prefix, brds[i][a.Prefix])
					if a.Secondary {
						m.Flags |= unix.IFA_F_SECONDARY
					}
					out = append(out, m)
				}
			}
		}
	}
	return out, nil
}

// addrMsg is the RTM_NEWADDR message of an address of nd. An IPv4
// address has the broadcast address it was added with, if any: the
// kernel sets ifa_broadcast only from IFA_BROADCAST (rtm_to_ifaddr,
// net/ipv4/devinet.c), and ip 6.1 sends one only for "brd" or
// "broadcast" (ipaddr_modify, ip/ipaddress.c), so that
// `ip addr add 10.1.0.1/16 dev ib0` lists no "brd".
func addrMsg(nd *Netdev, p netip.Prefix, brd netip.Addr) netlinkx.Addr {
	a := netlinkx.Addr{Index: nd.index, PrefixLen: uint8(p.Bits()), Local: p.Addr().AsSlice(), Label: nd.name}
	if p.Addr().Is4() {
		a.Family = unix.AF_INET
		a.Scope = unix.RT_SCOPE_UNIVERSE
		if brd.Is4() {
			a.Broadcast = brd.AsSlice()
		}
	} else {
		a.Family = unix.AF_INET6
		a.Scope = unix.RT_SCOPE_UNIVERSE
		if p.Addr().IsLinkLocalUnicast() {
			a.Scope = unix.RT_SCOPE_LINK
		}
	}
	return a
}

// AddAddr adds an address (RTM_NEWADDR with NLM_F_EXCL): EEXIST when the
// interface has it already.
func (n *Node) AddAddr(a netlinkx.Addr) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("addr add", a.Index, "")
	if err != nil {
		return err
	}
	ip, ok := netip.AddrFromSlice(a.Local)
	if !ok || (a.Family == unix.AF_INET && (!ip.Is4() || a.PrefixLen > 32)) || (a.Family == unix.AF_INET6 && (!ip.Is6() || a.PrefixLen > 128)) {
		return errorf("addr add", nd.name, unix.EINVAL, "invalid address")
	}
	if ip.Is6() && nd.mtu < header.IPv6MinMTU {
		// no inet6_dev below the IPv6 minimum MTU (ipv6_add_dev)
		return errorf("addr add", nd.name, unix.EINVAL, "")
	}
	brd, _ := netip.AddrFromSlice(a.Broadcast)
	if !ip.Is4() || !brd.Is4() || brd.IsUnspecified() {
		brd = netip.Addr{}
	}
	p := netip.PrefixFrom(ip, int(a.PrefixLen))
	undoAddrs := n.ip.SnapshotAddrs(nd.index)
	if err := n.ip.AddAddr(nd.index, p); errors.Is(err, inet.ErrAddrExists) {
		return errorf("addr add", nd.name, unix.EEXIST, "")
	}
	old, had := nd.brd[p]
	nd.setBroadcast(p, brd)
	undo := func() {
		undoAddrs()
		if had {
			nd.setBroadcast(p, old)
		} else {
			delete(nd.brd, p)
		}
	}
	if err := n.persist(nd); err != nil {
		undo()
		return err
	}
	if ip.Is6() && nd.up {
		// addrconf_add_dev → ipv6_find_idev: ipv6_mc_up puts ff02::1 on
		// the dev_mc list of an interface that is up, before the
		// address's solicited-node group
		nd.mcAdd(allNodesLink)
	}
	nd.syncMcast()
	return nil
}

// setBroadcast records the IPv4 broadcast address of p (none when brd is
// not valid).
func (nd *Netdev) setBroadcast(p netip.Prefix, brd netip.Addr) {
	if !brd.IsValid() {
		delete(nd.brd, p)
		return
	}
	if nd.brd == nil {
		nd.brd = map[netip.Prefix]netip.Addr{}
	}
	nd.brd[p] = brd
}

// commitAddrs saves nd's changed addresses, restoring them (undo) if that
// fails, and joins or leaves the multicast groups they imply.
func (n *Node) commitAddrs(nd *Netdev, undo func()) error {
	if err := n.persist(nd); err != nil {
		undo()
		return err
	}
	nd.syncMcast()
	return nil
}

// DelAddr removes an address: EADDRNOTAVAIL when the interface lacks it.
func (n *Node) DelAddr(a netlinkx.Addr) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("addr del", a.Index, "")
	if err != nil {
		return err
	}
	ip, _ := netip.AddrFromSlice(a.Local)
	undoAddrs := n.ip.SnapshotAddrs(nd.index)
	if err := n.ip.DelAddr(nd.index, ip, int(a.PrefixLen)); errors.Is(err, inet.ErrAddrNotFound) {
		return errorf("addr del", nd.name, unix.EADDRNOTAVAIL, "")
	}
	p := netip.PrefixFrom(ip, int(a.PrefixLen))
	old, had := nd.brd[p]
	delete(nd.brd, p)
	undo := func() {
		undoAddrs()
		if had {
			nd.setBroadcast(p, old)
		}
	}
	return n.commitAddrs(nd, undo)
}

// DelNeigh removes a neighbour table entry (RTM_DELNEIGH, neigh_delete):
// ENOENT when the interface has none for the address.
func (n *Node) DelNeigh(m netlinkx.Neigh) error {
	n.d.mu.Lock()
	nd, err := n.lookup("neigh del", m.Index, "")
	n.d.mu.Unlock()
	if err != nil {
		return err
	}
	ip, ok := netip.AddrFromSlice(m.Dst)
	if !ok {
		return errorf("neigh del", nd.name, unix.EINVAL, "Network address not specified")
	}
	if !n.ip.DelNeighbour(nd.index, ip.Unmap()) {
		return errorf("neigh del", nd.name, unix.ENOENT, "")
	}
	return nil
}

// Neighs lists the neighbour tables (RTM_GETNEIGH) by interface.
func (n *Node) Neighs() ([]netlinkx.Neigh, error) {
	n.d.mu.Lock()
	devs := n.order.list()
	n.d.mu.Unlock()
	var out []netlinkx.Neigh
	for _, nd := range devs {
		for _, e := range n.ip.Neighbours(nd.index) {
			out = append(out, neighMessage(nd.index, e))
		}
	}
	return out, nil
}

// neighMessage is e as neigh_fill_info reports it: the link-layer
// address of a valid entry, and the statistics with the times in clock_t
// ticks.
func neighMessage(index int32, e inet.Neighbour) netlinkx.Neigh {
	fam := uint8(unix.AF_INET)
	if e.Addr.Is6() {
		fam = unix.AF_INET6
	}
	m := netlinkx.Neigh{Index: index, Family: fam, State: e.State, Dst: e.Addr.AsSlice(),
		Used: clockT(e.Stats.Used), Confirmed: clockT(e.Stats.Confirmed), Updated: clockT(e.Stats.Updated),
		Refcnt: e.Stats.Refcnt, Probes: e.Stats.Probes}
	if e.State&(unix.NUD_REACHABLE|unix.NUD_STALE|unix.NUD_DELAY|unix.NUD_PROBE) != 0 { // NUD_VALID
		m.LLAddr = append([]byte(nil), e.HW[:]...)
	}
	return m
}

// userHZ is USER_HZ, the clock_t ticks a second the kernel reports times
// in (jiffies_to_clock_t), and ip divides them by (get_user_hz).
const userHZ = 100

// clockT is d in clock_t ticks, truncated to 32 bits as nda_cacheinfo
// holds them.
func clockT(d time.Duration) uint32 {
	return uint32(d / (time.Second / userHZ))
}
