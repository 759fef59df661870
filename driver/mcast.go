package driver

import (
	"bytes"
	"maps"
	"net/netip"
	"slices"
	"sort"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/inet"
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/ibctl/ibctl/sysfs"
)

// Multicast memberships. The interface's dev_mc list holds the link
// addresses of the groups its IP stacks are in, in the order dev_mc_add
// appended them (mcList):
//   - ff02::1, joined by ipv6_add_dev (net/ipv6/addrconf.c) when the
//     interface registers, or its MTU rises back to 1280 or more; ff01::1,
//     joined with it, has no link address (igmp6_group_added maps no group
//     below link-local scope);
//   - 224.0.0.1, joined by ip_mc_up (net/ipv4/igmp.c) at every up, whether
//     or not the interface has an IPv4 address: its in_device exists from
//     registration (inetdev_init) and stays when the last address goes;
//   - the solicited-node group of each IPv6 address, as the address is
//     added (addrconf_join_solict).
//
// Going down withdraws them all (ip_mc_down drops every IPv4 group and
// leaves 224.0.0.1; ipv6_mc_down drops every IPv6 group from the device
// but keeps the memberships, and addrconf_ifdown deletes the addresses
// with their solicited-node groups); ff02::1 comes back when the link is
// ready again (ipv6_mc_up from addrconf_dev_config), or when an IPv6
// address is added while up (ipv6_find_idev), after 224.0.0.1.
//
// ipoib_set_mcast_list → ipoib_mcast_restart_task: once the broadcast
// group is joined, the driver joins every group of the list as a full
// member (creating it with the broadcast group's parameters) and attaches
// its QP. A group's IPoIB address is 00:ff:ff:ff + the mapped MGID.

// The groups of the device itself: all-hosts (IGMP_ALL_HOSTS) and the
// all-nodes groups ipv6_add_dev joins.
var (
	allHosts      = netip.AddrFrom4([4]byte{224, 0, 0, 1})
	allNodesLink  = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 1})
	allNodesIface = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x01, 15: 1})
)

// mcEntry is one joined multicast group other than the broadcast group.
type mcEntry struct {
	group   netip.Addr
	mlid    uint16
	created int64 // jiffies
}

// hasIPv6 reports whether the interface has an inet6_dev: an MTU of at
// least 1280 (ipv6_add_dev).
func (nd *Netdev) hasIPv6() bool { return nd.mtu >= header.IPv6MinMTU }

// registeredMcList is the dev_mc list of an interface with IPv6 as
// registered, one array for all of them (lists are never changed in
// place, and its capacity is its length).
var registeredMcList = []netip.Addr{allNodesLink}

// mcRegister is the dev_mc list of a newly registered interface: ff02::1
// with IPv6.
func (nd *Netdev) mcRegister() {
	nd.mcList = nil
	if nd.hasIPv6() {
		nd.mcList = registeredMcList
	}
}

// mcAdd appends g to the dev_mc list unless it is there. The list is
// never changed in place: a rolled-back change restores it by copy.
func (nd *Netdev) mcAdd(g netip.Addr) {
	if !slices.Contains(nd.mcList, g) {
		nd.mcList = append(slices.Clip(nd.mcList), g)
	}
}

// mcDel removes g from the dev_mc list.
func (nd *Netdev) mcDel(g netip.Addr) {
	nd.mcList = slices.DeleteFunc(slices.Clone(nd.mcList), func(a netip.Addr) bool { return a == g })
}

// mcUp is ip_mc_up at NETDEV_UP: 224.0.0.1 joins the list.
func (nd *Netdev) mcUp() { nd.mcAdd(allHosts) }

// mcDown is ip_mc_down and ipv6_mc_down: nothing stays on the list.
func (nd *Netdev) mcDown() { nd.mcList = nil }

// syncSolicited brings the solicited-node groups of the dev_mc list in
// line with the interface's IPv6 addresses (inet.Stack.Groups): the ones
// no address needs leave, new ones are appended.
func (nd *Netdev) syncSolicited() {
	want := nd.node.ip.Groups(nd.index)
	for _, g := range nd.mcList {
		if isSolicitedNode(g) && !slices.Contains(want, g) {
			nd.mcDel(g)
		}
	}
	for _, g := range want {
		nd.mcAdd(g)
	}
}

// solicitedNodes is ff02::1:ff00:0/104.
var solicitedNodes = netip.PrefixFrom(netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 11: 1, 12: 0xff}), 104)

// isSolicitedNode reports whether g is a solicited-node group.
func isSolicitedNode(g netip.Addr) bool { return solicitedNodes.Contains(g) }

func (nd *Netdev) mgidOf(g netip.Addr) [16]byte {
	var b header.HWAddr
	copy(b[:], nd.broadcast())
	return inet.MulticastLinkAddr(b, g).GID()
}

// syncMcast joins the groups of the dev_mc list and leaves the others, as
// the restart task does; it needs the broadcast group joined first.
// Groups are joined in dev_mc list order, so that the SM hands out the
// same MLIDs every time.
//
// umcast does not change what is joined here: in the kernel it only makes
// the restart task skip a group it has not joined yet when the SA already
// has a membership record for it on the port (ib_sa_get_mcmember_rec), a
// group userspace joined directly; the emulation has no userspace SA
// joins, so every group is joined as usual.
func (nd *Netdev) syncMcast() {
	nd.syncSolicited()
	var groups []netip.Addr
	if nd.joined && nd.dp != nil {
		groups = nd.mcList
	}
	want := map[[16]byte]bool{}
	for _, g := range groups {
		want[nd.mgidOf(g)] = true
	}
	for _, mgid := range slices.SortedFunc(maps.Keys(nd.mcast), func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) }) {
		if !want[mgid] {
			nd.leaveGroup(mgid, nd.mcast[mgid])
		}
	}
	for _, g := range groups {
		mgid := nd.mgidOf(g)
		if _, ok := nd.mcast[mgid]; ok {
			continue
		}
		// a send-only entry for the group gives way (ipoib/multicast.go)
		mlid, err := nd.dp.JoinFull(mgid)
		if err != nil {
			nd.mcastDbg("couldn't join multicast group %s: %v", header.FormatGID(mgid), err)
			continue
		}
		if nd.mcast == nil {
			nd.mcast = map[[16]byte]mcEntry{}
		}
		nd.mcast[mgid] = mcEntry{group: g, mlid: mlid, created: nd.node.d.jiffies()}
	}
}

func (nd *Netdev) leaveGroup(mgid [16]byte, e mcEntry) {
	if nd.dp != nil {
		nd.dp.LeaveFull(mgid, e.mlid)
	} else {
		_ = nd.node.d.fab.Leave(nd.portRef(), nd.joiner(), mgid, fabric.FullMember)
	}
	delete(nd.mcast, mgid)
}

// leaveAllMcast leaves every joined multicast group (on stop and flushes).
func (nd *Netdev) leaveAllMcast() {
	for mgid, e := range nd.mcast {
		nd.leaveGroup(mgid, e)
	}
}

// syncMcastAll re-evaluates the groups of every interface of the node
// (after an address change). Caller holds d.mu.
func (n *stack) syncMcastAll() {
	for nd := range n.order.all() {
		nd.syncMcast()
	}
}

// Maddrs lists each interface's multicast addresses as ip maddr shows
// them: the link-layer addresses of its groups, then the IPv4 groups.
func (n *Node) Maddrs() ([]netlinkx.Maddr, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	var out []netlinkx.Maddr
	for _, nd := range n.order.list() {
		out = append(out, nd.maddr())
	}
	return out, nil
}

// maddr is what ip maddr lists of the interface, in the kernel's order:
// the link addresses of the dev_mc list (/proc/net/dev_mcast) in list
// order; then the IPv4 groups (/proc/net/igmp), 224.0.0.1 while up; then
// the IPv6 ones (/proc/net/igmp6) while the interface has IPv6, newest
// first as ipv6_dev_mc_inc prepends them: the solicited-node groups,
// ff02::1, then ff01::1 joined just before it. ipv6_mc_down keeps these
// memberships while the interface is down, without link addresses.
func (nd *Netdev) maddr() netlinkx.Maddr {
	m := netlinkx.Maddr{Index: nd.index, Name: nd.name}
	var snm []netip.Addr
	for _, g := range nd.mcList {
		a := header.MulticastAddr(nd.mgidOf(g))
		m.Link = append(m.Link, append([]byte(nil), a[:]...))
		if isSolicitedNode(g) {
			snm = append(snm, g)
		}
	}
	if slices.Contains(nd.mcList, allHosts) {
		m.Inet = append(m.Inet, allHosts.AsSlice())
	}
	if nd.hasIPv6() {
		for _, g := range slices.Backward(snm) {
			m.Inet = append(m.Inet, g.AsSlice())
		}
		m.Inet = append(m.Inet, allNodesLink.AsSlice(), allNodesIface.AsSlice())
	}
	return m
}

// mcgRecords are the _mcg records of the joined non-broadcast groups.
func (nd *Netdev) mcgRecords() []sysfs.MCG {
	var out []sysfs.MCG
	for mgid, e := range nd.mcast {
		out = append(out, sysfs.MCG{GID: mgid, Created: e.created, Complete: true})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].GID[:], out[j].GID[:]) < 0 })
	return out
}
