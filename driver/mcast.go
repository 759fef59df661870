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
		m := netlinkx.Maddr{Index: nd.index, Name: nd.name}
		for _, g := range nd.mcGroups() {
			hw := header.MulticastAddr(nd.mgidOf(g))
			m.Link = append(m.Link, append([]byte(nil), hw[:]...))
			m.Inet = append(m.Inet, g.AsSlice())
		}
		out = append(out, m)
	}
	return out, nil
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
