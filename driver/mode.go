package driver

import (
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// cmMaxMTU is ipoib_cm_max_mtu without SRQ limits (16 SGEs × 4 KiB − 16).
const cmMaxMTU = maxMTU

// open is ipoib_open: IFF_UP, carrier forced off, then the broadcast join
// turns it on. Opening a parent also opens its children that are down.
func (nd *Netdev) open() {
	if nd.up {
		return
	}
	nd.up = true
	nd.setCarrier(false)
	nd.active = true
	nd.mcUp()
	if nd.parent != nil && !nd.parent.up {
		nd.dbg("parent device %s is not up, so child device may be not functioning.", nd.parent.name)
	}
	nd.join()
	if nd.parent == nil {
		for _, c := range nd.node.childrenOf(nd) {
			c.open()
		}
	}
}

// stop is ipoib_stop: a parent going down takes its children down.
func (nd *Netdev) stop() {
	if !nd.up {
		return
	}
	nd.up = false
	nd.setCarrier(false)
	nd.leave()
	nd.addrconfDown()
	nd.mcDown()
	if nd.parent == nil {
		for _, c := range nd.node.childrenOf(nd) {
			c.stop()
		}
	}
}

// join checks the P_Key against the port's table and joins the broadcast
// group; on success carrier goes on and, in datagram mode, the MTU follows
// the group's (ipoib_mcast_join_complete → carrier_on_task).
func (nd *Netdev) join() {
	if !nd.up {
		return
	}
	if nd.node.d.fab.PortState(nd.node.name, nd.port) != fabric.StateActive {
		nd.dbg("Keeping carrier off until IB port is active")
		return
	}
	if !header.PKeyValid(nd.pkey) {
		nd.warn("P_Key 0x%04x is Invalid", nd.pkey)
		return
	}
	table := nd.node.d.fab.PKeyTable(nd.node.name, nd.port)
	if _, ok := fabric.FindPKey(table, nd.pkey); !ok {
		nd.warn("P_Key 0x%04x is not found", nd.pkey)
		return
	}
	m, err := nd.node.d.fab.Join(nd.portRef(), fabric.JoinRequest{Joiner: nd.joiner(),
		MGID: fabric.BroadcastMGID(nd.pkey), PKey: nd.pkey, JoinState: fabric.FullMember})
	if err != nil {
		// A missing broadcast group keeps carrier off (the kernel retries
		// with back-off; here the next P_Key or port event retries).
		nd.mcastDbg("couldn't join broadcast group: %v", err)
		return
	}
	nd.joined = true
	nd.mcCreated = nd.node.d.jiffies()
	mcast := uint32(m.MTU - encapLen)
	if nd.adminMTU == nd.mcastMTU {
		nd.adminMTU = mcast
	}
	nd.mcastMTU = mcast
	if nd.mode == netlinkx.ModeDatagram {
		_ = nd.devSetMTU(min(nd.mcastMTU, nd.adminMTU))
	}
	if err := nd.openDataPath(m); err != nil {
		nd.warn("failed to open the UD QP: %v", err)
		nd.leave()
		return
	}
	nd.setCarrier(true)
	nd.addrconfReady()
	nd.syncMcast()
}

// devSetMTU is dev_set_mtu: no-op when unchanged, the core's
// dev_validate_mtu, then the driver's rules.
func (nd *Netdev) devSetMTU(mtu uint32) error {
	if mtu == nd.mtu {
		return nil
	}
	// dev_validate_mtu takes the MTU as an int: a value past INT_MAX is
	// negative, below min_mtu (0).
	if int32(mtu) < 0 {
		return errorf("set mtu", nd.name, unix.EINVAL, "mtu less than device minimum")
	}
	if mtu > maxMTU {
		return errorf("set mtu", nd.name, unix.EINVAL, "mtu greater than device maximum")
	}
	old := nd.mtu
	if err := nd.changeMTU(mtu); err != nil {
		return err
	}
	nd.addrconfMTU(old)
	return nil
}

// changeMTU is ipoib_change_mtu.
func (nd *Netdev) changeMTU(mtu uint32) error {
	if nd.mode == netlinkx.ModeConnected {
		if mtu > cmMaxMTU {
			return errorf("set mtu", nd.name, unix.EINVAL, "")
		}
		if mtu > nd.mcastMTU {
			nd.warn("mtu > %d will cause multicast packet drops.", nd.mcastMTU)
		}
		nd.mtu = mtu
		nd.updateDataPath()
		return nil
	}
	if mtu < minDatagramMTU || mtu > uint32(nd.node.portSpec(nd.port).MTU-encapLen) {
		return errorf("set mtu", nd.name, unix.EINVAL, "")
	}
	nd.adminMTU = mtu
	if nd.mcastMTU < nd.adminMTU {
		nd.dbg("MTU must be smaller than the underlying link layer MTU - 4 (%d)", nd.mcastMTU)
	}
	nd.mtu = min(nd.mcastMTU, nd.adminMTU)
	nd.updateDataPath()
	return nil
}

// setMode is ipoib_set_mode.
func (nd *Netdev) setMode(mode uint16) error {
	if mode == nd.mode {
		return nil
	}
	switch mode {
	case netlinkx.ModeConnected:
		if !nd.cmCapable() {
			return errorf("set mode", nd.name, unix.EINVAL, "connected mode not supported by %s", nd.name)
		}
		nd.mode = mode
		nd.updateDataPath()
		nd.flushConnections()
		nd.warn("enabling connected mode will cause multicast packet drops")
		_ = nd.devSetMTU(cmMaxMTU)
		return nil
	case netlinkx.ModeDatagram:
		nd.mode = mode
		nd.updateDataPath()
		nd.flushConnections()
		_ = nd.devSetMTU(min(nd.mcastMTU, nd.mtu))
		return nil
	}
	return errorf("set mode", nd.name, unix.EINVAL, "")
}

// allocQueues is the number of TX and RX queues the device is allocated
// with. rtnl_create_link allocates a netlink child with
// ipoib_get_max_num_queues, min(CPUs, 128), of each. ipoib_intf_alloc
// allocates a parent or a sysfs child: on a classic port alloc_netdev's
// one of each; on an enhanced port rdma_alloc_netdev with
// mlx5_rdma_rn_get_params (mlx5/core/ipoib/ipoib.c), nch * MLX5_MAX_NUM_TC
// TX queues and nch RX queues, nch being mlx5e_get_max_num_channels: one
// completion vector per CPU, under MLX5E_MAX_NUM_CHANNELS.
func (nd *Netdev) allocQueues() (tx, rx uint32) {
	if nd.parent != nil && !nd.legacy {
		q := uint32(min(emulatedCPUs, 128))
		return q, q
	}
	if nd.enhanced() {
		return mlx5iMaxChannels * mlx5MaxNumTC, mlx5iMaxChannels
	}
	return 1, 1
}

func (nd *Netdev) setUmcast(on bool) {
	if on {
		nd.warn("ignoring multicast groups joined directly by userspace")
	}
	nd.umcast = on
	nd.syncMcast()
}

func (nd *Netdev) portRef() fabric.PortRef { return fabric.PortRef{Node: nd.node.name, Port: nd.port} }

// joiner names the interface's SA joins and leaves: each interface joins
// its groups itself (ipoib_mcast_join per interface), so that removing
// one interface leaves the port a member of the groups another still
// joined. The ifindex is the interface's for its whole life.
func (nd *Netdev) joiner() uint64 { return uint64(nd.index) }

// leave closes the data path and leaves the broadcast group joined by join.
func (nd *Netdev) leave() {
	nd.leaveAllMcast()
	nd.closeDataPath()
	if !nd.joined {
		return
	}
	nd.joined = false
	if err := nd.node.d.fab.Leave(nd.portRef(), nd.joiner(), fabric.BroadcastMGID(nd.pkey), fabric.FullMember); err != nil {
		// The SM already dropped the membership (port down, P_Key gone).
		nd.mcastDbg("leave broadcast group: %v", err)
	}
}

// setJoined brings the group membership and data path back to want after
// a rolled-back change.
func (nd *Netdev) setJoined(want bool) {
	switch {
	case want && !nd.joined:
		nd.join()
	case !want && nd.joined:
		nd.leave()
	}
}

// flushConnections frees the neighbours of unicast addresses and with
// them the active connections, and the path records, as a mode switch
// flushes all paths (ipoib_flush_paths): the next packet to a peer queries
// the SA again. Multicast neighbours stay.
func (nd *Netdev) flushConnections() {
	if nd.dp != nil {
		nd.dp.FlushPaths()
	}
}
