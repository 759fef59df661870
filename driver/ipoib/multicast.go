package ipoib

import (
	"bytes"
	"sort"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
)

// Send-only multicast groups, as ipoib_multicast.c keeps them: the first
// packet an interface sends to a group it is not a member of sets up a
// send-only entry and joins the group with join state 8
// (ipoib_mcast_send, "setting up send only multicast group for ..."),
// and every packet to a multicast group goes through an IPoIB neighbour
// entry for its 20-byte address (00:ff:ff:ff + MGID), whose alive time
// each packet refreshes. Such an entry is left again in two ways:
//
//   - the neighbour scan (__ipoib_reap_neigh, every ARP gc_interval)
//     frees a multicast neighbour idle for more than 2 × gc_interval and,
//     when its MGID is a send-only group, takes the group out
//     (ipoib_check_and_add_mcast_sendonly) and leaves it
//     (ipoib_mcast_remove_list: the SA leave, then ipoib_mcast_free's
//     "deleting multicast group ..."), before the freed neighbours'
//     destructors run ("neigh free for ffffff ...");
//   - the restart task (ipoib_mcast_restart_task), when the group enters
//     the interface's multicast list: "adding multicast entry for mgid
//     ...", the send-only entry is left and freed (with the neighbours of
//     its MGID, ipoib_del_neighs_by_gid) and the group joined as a full
//     member.
//
// A mode switch flushes only the neighbours of path records, so it leaves
// multicast neighbours alone; going down leaves every group. The restart
// task's other debug lines and the join thread's are not emulated.

// sendOnlyGroup is a send-only entry (an ipoib_mcast with
// IPOIB_MCAST_FLAG_SENDONLY).
type sendOnlyGroup struct {
	mlid    uint16
	created int64 // jiffies
}

// mcastGroup returns the MLID for a packet to mgid: the full-member
// group's when the interface is in it, else the send-only entry's, set up
// and joined the first time. None once the data path closed (a Ping that
// picked it before the link went down): nothing would leave a group
// joined then, and ipoib_mcast_send drops the packet (tx_dropped) when
// the interface is not operational.
func (ep *Endpoint) mcastGroup(mgid [16]byte) (uint16, bool) {
	ep.mcmu.Lock()
	defer ep.mcmu.Unlock()
	if ep.mcClosed {
		return 0, false
	}
	if mlid, ok := ep.fullGroups[mgid]; ok {
		return mlid, true
	}
	if g, ok := ep.sendOnly[mgid]; ok {
		return g.mlid, true
	}
	ep.mcastDbg("setting up send only multicast group for %s", pI6(mgid))
	cfg := ep.cfg.Load()
	m, err := ep.host.Fabric.Join(ep.port.ref, fabric.JoinRequest{Joiner: ep.joiner, MGID: mgid, PKey: cfg.PKey,
		JoinState: fabric.SendOnlyFullMember, Create: true})
	if err != nil {
		return 0, false
	}
	if ep.sendOnly == nil {
		ep.sendOnly = map[[16]byte]sendOnlyGroup{}
	}
	ep.sendOnly[mgid] = sendOnlyGroup{mlid: m.MLID, created: ep.host.Jiffies()}
	return m.MLID, true
}

// mcastNeigh finds or allocates the neighbour entry of a multicast
// address and marks it alive (ipoib_mcast_send: ipoib_neigh_get, else
// ipoib_neigh_alloc with the group's address handle).
func (ep *Endpoint) mcastNeigh(daddr header.HWAddr, mlid uint16) {
	now := ep.host.Nanos()
	t := &ep.neighs
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.m[daddr]
	if n == nil {
		n = &ipoibNeigh{daddr: daddr, path: fabric.Path{DLID: mlid}}
		if t.m == nil {
			t.m = map[header.HWAddr]*ipoibNeigh{}
		}
		t.m[daddr] = n
	}
	n.alive.Store(now)
}

// dropSendOnly leaves mgid's send-only entry, if there is one
// (ipoib_mcast_leave, ipoib_mcast_free), and reports whether there was.
func (ep *Endpoint) dropSendOnly(mgid [16]byte) bool {
	ep.mcmu.Lock()
	defer ep.mcmu.Unlock()
	return ep.dropSendOnlyLocked(mgid)
}

// dropSendOnlyLocked is dropSendOnly with ep.mcmu held.
func (ep *Endpoint) dropSendOnlyLocked(mgid [16]byte) bool {
	if _, ok := ep.sendOnly[mgid]; !ok {
		return false
	}
	delete(ep.sendOnly, mgid)
	_ = ep.host.Fabric.Leave(ep.port.ref, ep.joiner, mgid, fabric.SendOnlyFullMember)
	ep.mcastDbg("deleting multicast group %s", pI6(mgid))
	return true
}

// JoinFull joins mgid as a full member for the restart task
// (ipoib_mcast_join, creating the group with the broadcast group's
// parameters) and attaches the QP to it, replacing a send-only entry for
// the group, whose neighbours are freed. It returns the group's MLID.
func (ep *Endpoint) JoinFull(mgid [16]byte) (uint16, error) {
	ep.mcmu.Lock()
	replaced := false
	if _, ok := ep.sendOnly[mgid]; ok {
		ep.mcastDbg("adding multicast entry for mgid %s", pI6(mgid))
		replaced = ep.dropSendOnlyLocked(mgid)
	}
	mlid, err := ep.joinAttach(mgid)
	if err == nil {
		if ep.fullGroups == nil {
			ep.fullGroups = map[[16]byte]uint16{}
		}
		ep.fullGroups[mgid] = mlid
	}
	ep.mcmu.Unlock()
	if replaced {
		for _, n := range ep.takeNeighs(func(n *ipoibNeigh) bool { return n.daddr.GID() == mgid }) {
			ep.freeNeigh(n)
		}
	}
	return mlid, err
}

// joinAttach is the SA join and the QP's attach. Caller holds mcmu.
func (ep *Endpoint) joinAttach(mgid [16]byte) (uint16, error) {
	m, err := ep.host.Fabric.Join(ep.port.ref, fabric.JoinRequest{Joiner: ep.joiner, MGID: mgid, PKey: ep.cfg.Load().PKey,
		JoinState: fabric.FullMember, Create: true})
	if err != nil {
		return 0, err
	}
	if err := ep.qp.AttachMcast(mgid, m.MLID); err != nil {
		_ = ep.host.Fabric.Leave(ep.port.ref, ep.joiner, mgid, fabric.FullMember)
		return 0, err
	}
	return m.MLID, nil
}

// LeaveFull detaches the QP from a full-member group that JoinFull
// joined and leaves it.
func (ep *Endpoint) LeaveFull(mgid [16]byte, mlid uint16) {
	ep.mcmu.Lock()
	delete(ep.fullGroups, mgid)
	ep.mcmu.Unlock()
	_ = ep.qp.DetachMcast(mgid, mlid)
	_ = ep.host.Fabric.Leave(ep.port.ref, ep.joiner, mgid, fabric.FullMember)
}

// leaveSendOnly leaves the send-only groups when the data path closes;
// mcastGroup joins none after it.
func (ep *Endpoint) leaveSendOnly() {
	ep.mcmu.Lock()
	defer ep.mcmu.Unlock()
	ep.mcClosed = true
	for mgid := range ep.sendOnly {
		_ = ep.host.Fabric.Leave(ep.port.ref, ep.joiner, mgid, fabric.SendOnlyFullMember)
	}
	ep.sendOnly, ep.fullGroups = nil, nil
}

// Group is a multicast group the endpoint joined itself: a send-only
// entry (a line of debugfs <dev>_mcg).
type Group struct {
	MGID    [16]byte
	Created int64 // jiffies
}

// SendOnlyGroups lists the send-only entries, sorted by MGID.
func (ep *Endpoint) SendOnlyGroups() []Group {
	ep.mcmu.Lock()
	defer ep.mcmu.Unlock()
	out := make([]Group, 0, len(ep.sendOnly))
	for mgid, g := range ep.sendOnly {
		out = append(out, Group{MGID: mgid, Created: g.created})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].MGID[:], out[j].MGID[:]) < 0 })
	return out
}

// mcastDbg logs for the data path when mcast_debug_level > 0
// (ipoib_dbg_mcast).
func (ep *Endpoint) mcastDbg(format string, args ...any) {
	if ep.host.McastDebug.Load() > 0 {
		ep.host.logf(ep.cfg.Load().Name, format, args...)
	}
}
