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

// IPv4 multicast memberships (ipoib_set_mcast_list →
// ipoib_mcast_restart_task): an interface with an IPv4 address is in the
// all-hosts group 224.0.0.1, whose IPoIB address is 00:ff:ff:ff + the
// mapped MGID; once the broadcast group is joined the driver joins every
// such group as a full member (creating it with the broadcast group's
// parameters) and attaches its QP.

// mcEntry is one joined multicast group other than the broadcast group.
type mcEntry struct {
	group   netip.Addr
	mlid    uint16
	created int64 // jiffies
}

// mcGroups is the interface's dev_mc list: the groups its addresses put
// it in (inet.Stack.Groups), while it is up.
func (nd *Netdev) mcGroups() []netip.Addr {
	if !nd.up {
		return nil
	}
	return nd.node.ip.Groups(nd.index)
}

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
	var groups []netip.Addr
	if nd.joined && nd.dp != nil {
		groups = nd.mcGroups()
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
	for _, nd := range n.devs {
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

// The all-nodes groups ipv6_add_dev joins (net/ipv6/addrconf.c).
var (
	allNodesLink  = netip.MustParseAddr("ff02::1")
	allNodesIface = netip.MustParseAddr("ff01::1")
)

// maddr is what ip maddr lists of the interface, in the kernel's order.
// The link addresses are the dev_mc list (/proc/net/dev_mcast) in the
// order dev_mc_add appended them: ff02::1's, joined when the interface
// registered with IPv6 (an MTU of at least 1280) and kept while it is
// down, then 224.0.0.1's, joined at each up (ip_mc_up), then the
// solicited-node groups'. ff01::1 has none: igmp6_group_added
// (net/ipv6/mcast.c) maps no group below link-local scope. The IPv4
// groups follow (/proc/net/igmp), then the IPv6 ones (/proc/net/igmp6),
// each interface's newest first as ipv6_dev_mc_inc prepends them: the
// solicited-node groups, ff02::1, then ff01::1 joined just before it.
func (nd *Netdev) maddr() netlinkx.Maddr {
	m := netlinkx.Maddr{Index: nd.index, Name: nd.name}
	hw := func(g netip.Addr) {
		a := header.MulticastAddr(nd.mgidOf(g))
		m.Link = append(m.Link, append([]byte(nil), a[:]...))
	}
	v6 := nd.mtu >= header.IPv6MinMTU
	var v4, snm []netip.Addr
	for _, g := range nd.mcGroups() {
		switch {
		case g.Is4():
			v4 = append(v4, g)
		case g != allNodesLink:
			snm = append(snm, g)
		}
	}
	if v6 {
		hw(allNodesLink)
	}
	for _, g := range append(v4, snm...) {
		hw(g)
	}
	for _, g := range v4 {
		m.Inet = append(m.Inet, g.AsSlice())
	}
	for _, g := range snm {
		m.Inet = append(m.Inet, g.AsSlice())
	}
	if v6 {
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
