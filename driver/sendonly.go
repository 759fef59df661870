package driver

import (
	"bytes"
	"sort"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/sysfs"
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
func (dp *dataPath) mcastGroup(mgid [16]byte) (uint16, bool) {
	dp.mcmu.Lock()
	defer dp.mcmu.Unlock()
	if dp.mcClosed {
		return 0, false
	}
	if mlid, ok := dp.fullGroups[mgid]; ok {
		return mlid, true
	}
	if g, ok := dp.sendOnly[mgid]; ok {
		return g.mlid, true
	}
	dp.mcastDbg("setting up send only multicast group for %s", pI6(mgid))
	cfg := dp.cfg.Load()
	m, err := dp.port.fab.Join(dp.port.ref, fabric.JoinRequest{MGID: mgid, PKey: cfg.pkey,
		JoinState: fabric.SendOnlyFullMember, Create: true})
	if err != nil {
		return 0, false
	}
	if dp.sendOnly == nil {
		dp.sendOnly = map[[16]byte]sendOnlyGroup{}
	}
	dp.sendOnly[mgid] = sendOnlyGroup{mlid: m.MLID, created: dp.nd.node.d.jiffies()}
	return m.MLID, true
}

// mcastNeigh finds or allocates the neighbour entry of a multicast
// address and marks it alive (ipoib_mcast_send: ipoib_neigh_get, else
// ipoib_neigh_alloc with the group's address handle).
func (dp *dataPath) mcastNeigh(daddr header.HWAddr, mlid uint16) {
	now := dp.nanos()
	t := &dp.neighs
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
func (dp *dataPath) dropSendOnly(mgid [16]byte) bool {
	dp.mcmu.Lock()
	defer dp.mcmu.Unlock()
	return dp.dropSendOnlyLocked(mgid)
}

// dropSendOnlyLocked is dropSendOnly with dp.mcmu held.
func (dp *dataPath) dropSendOnlyLocked(mgid [16]byte) bool {
	if _, ok := dp.sendOnly[mgid]; !ok {
		return false
	}
	delete(dp.sendOnly, mgid)
	_ = dp.port.fab.Leave(dp.port.ref, mgid, fabric.SendOnlyFullMember)
	dp.mcastDbg("deleting multicast group %s", pI6(mgid))
	return true
}

// joinFull joins mgid as a full member for the restart task, replacing a
// send-only entry for it, and records the group for the data path. The
// neighbours of a replaced entry are freed.
func (dp *dataPath) joinFull(mgid [16]byte, join func() (uint16, error)) (uint16, error) {
	dp.mcmu.Lock()
	replaced := false
	if _, ok := dp.sendOnly[mgid]; ok {
		dp.mcastDbg("adding multicast entry for mgid %s", pI6(mgid))
		replaced = dp.dropSendOnlyLocked(mgid)
	}
	mlid, err := join()
	if err == nil {
		if dp.fullGroups == nil {
			dp.fullGroups = map[[16]byte]uint16{}
		}
		dp.fullGroups[mgid] = mlid
	}
	dp.mcmu.Unlock()
	if replaced {
		for _, n := range dp.takeNeighs(func(n *ipoibNeigh) bool { return n.daddr.GID() == mgid }) {
			dp.freeNeigh(n)
		}
	}
	return mlid, err
}

// leftFull forgets a full-member group the interface left.
func (dp *dataPath) leftFull(mgid [16]byte) {
	dp.mcmu.Lock()
	defer dp.mcmu.Unlock()
	delete(dp.fullGroups, mgid)
}

// leaveSendOnly leaves the send-only groups when the data path closes;
// mcastGroup joins none after it.
func (dp *dataPath) leaveSendOnly() {
	dp.mcmu.Lock()
	defer dp.mcmu.Unlock()
	dp.mcClosed = true
	for mgid := range dp.sendOnly {
		_ = dp.port.fab.Leave(dp.port.ref, mgid, fabric.SendOnlyFullMember)
	}
	dp.sendOnly, dp.fullGroups = nil, nil
}

// sendOnlyRecords are the _mcg records of the send-only entries.
func (dp *dataPath) sendOnlyRecords() []sysfs.MCG {
	dp.mcmu.Lock()
	defer dp.mcmu.Unlock()
	out := make([]sysfs.MCG, 0, len(dp.sendOnly))
	for mgid, g := range dp.sendOnly {
		out = append(out, sysfs.MCG{GID: mgid, Created: g.created, Complete: true, SendOnly: true})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].GID[:], out[j].GID[:]) < 0 })
	return out
}

// mcastDbg logs for the data path when mcast_debug_level > 0
// (ipoib_dbg_mcast).
func (dp *dataPath) mcastDbg(format string, args ...any) {
	if dp.nd.node.mcastDebug.Load() > 0 {
		dp.nd.warnf(dp.cfg.Load().name, format, args...)
	}
}
