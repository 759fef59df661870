package driver

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/inet"
	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// Device constants from ipoib.h and the netdev core.
const (
	arphrdInfiniband = 32
	hwAddrLen        = 20
	maxMTU           = ipoib.MaxMTU
	encapLen         = 4
	minDatagramMTU   = 68 + encapLen
	cmSupported      = 0x80 // hardware address byte 0: RC capable (RFC 4755)
	emulatedCPUs     = 2    // num_possible_cpus of an emulated host
	firstQPN         = 0x48
	firstIfindex     = 2 // 1 is the node's loopback
)

// RFC 2863 operational states (IF_OPER_*).
const (
	ifOperDown           = 2
	ifOperLowerLayerDown = 3
	ifOperUp             = 6
)

// stack is the network stack of one fabric node.
type stack struct {
	d         *Driver
	hw        *fabric.NodeState
	name      string
	byName    map[string]*Netdev
	order     devList              // the devices in ifindex order, found by ifindex (get)
	children  map[*Netdev]*devList // each parent's children in ifindex order
	legacy    legacyIndex          // legacy children by parent and P_Key
	ipoibN    *ipoibNames          // the N of every "ipoibN" name; nil until one is
	nextIndex int32
	nextQPN   uint32
	params    params
	ports     []*ipoib.Port // per HCA port, index port-1
	host      *ipoib.Host   // what the node's endpoints share: log, debug levels, clocks
	ip        *inet.Stack
	klog      *klog
	kern      *kernelNet // the node's namespace and kernel netdevs, nil without
	// devIDLogged is dev_id_show's netdev_info_once: logged already.
	devIDLogged bool
	mon         *monState // what monitors were last told of the devices, nil without one (monitor.go)
}

// Node is a handle on one node's stack: every control operation of the
// driver for that node. A handle from Deferred acknowledges changes
// before they are synced (a batch syncs once at its end with Sync).
type Node struct {
	*stack
	deferSync bool
}

// Netdev is one IPoIB interface: a parent (one per HCA port) or a child.
//
// The fields are ordered so that the struct has one byte of padding
// (192 bytes, a malloc size class): there is one per device.
type Netdev struct {
	node           *stack
	index          int32
	qpn            uint32
	name           string
	port           int // HCA port, 1-based
	parent         *Netdev
	pkey           uint16 // with the full-member bit
	mode           uint16
	legacy         bool // created through sysfs create_child
	umcast         bool
	up             bool
	carrier        bool
	carrierChanges uint32               // IFLA_CARRIER_CHANGES
	active         bool                 // opened at least once: a qdisc is attached
	joined         bool                 // full member of the broadcast group (not saved: rejoined on restore)
	v6Ready        bool                 // IPv6 configured since the link became ready (IF_READY; addrconf.go)
	mcCreated      int64                // jiffies when the broadcast group entry was created
	mcList         []netip.Addr         // the dev_mc list's groups in list order (mcast.go); never changed in place
	mcast          map[[16]byte]mcEntry // joined multicast groups besides the broadcast group
	dp             *ipoib.Endpoint      // the IPoIB endpoint while joined
	nic            *inet.NIC            // dp attached to the IP stack
	counters       *ipoib.Stats         // interface statistics, kept across endpoints; nil (all zero) until first opened
	mtu            uint32
	adminMTU       uint32
	mcastMTU       uint32
	numTxQ         uint32 // dev->num_tx_queues
	numRxQ         uint32 // dev->num_rx_queues
	txQLen         uint32 // dev->tx_queue_len
	wanted         featureSet
	rxUsecs        uint16
	rxFrames       uint16
	// sendQ and recvQ are priv->sendq_size and recvq_size as ethtool -G
	// set them; zero is the module parameter's value.
	sendQ, recvQ uint32
	// channels is the number of combined channels of an enhanced
	// interface as ethtool -L set it; zero is the default, one per CPU.
	channels uint32
	// moder is an enhanced interface's interrupt moderation as ethtool -C
	// set it; nil is mlx5e_build_nic_params' (defaultMlx5Moder).
	moder *mlx5Moder
	// brd is the broadcast address of IPv4 addresses added with one.
	brd map[netip.Prefix]netip.Addr
}

func newStack(d *Driver, hw *fabric.NodeState, p params) *stack {
	// Each node's host loads its own module: its parameters are its own.
	n := &stack{d: d, hw: hw, name: hw.Spec.Name, byName: map[string]*Netdev{},
		children: map[*Netdev]*devList{}, legacy: legacyIndex{first: map[legacyKey]*Netdev{}},
		nextIndex: firstIfindex, nextQPN: firstQPN, params: maps.Clone(p), ip: inet.New(d.timers),
		klog: newKlog(d.started, d.now)}
	n.ip.SetNeighNotify(n.neighChanged)
	n.host = &ipoib.Host{Fabric: d.fab, Log: n.logf, Now: d.now, Nanos: d.nanos, Jiffies: d.jiffies,
		Clock: d.clock, LoseFrame: d.lose, Endpoints: d.endpoints}
	n.host.DataDebug.Store(int32(p.get("data_debug_level")))
	n.host.Debug.Store(int32(p.get("debug_level")))
	n.host.McastDebug.Store(int32(p.get("mcast_debug_level")))
	for port := 1; port <= len(hw.Spec.Ports); port++ {
		nd := n.newNetdev(fmt.Sprintf("ib%d", port-1), port, nil)
		nd.pkey = n.portPKey(port)
		nd.numTxQ, nd.numRxQ = nd.allocQueues()
		nd.wanted = nd.initialWanted()
		n.insert(nd)
	}
	return n
}

// newNetdev allocates a device in the state ipoib_intf_alloc leaves it:
// datagram mode, MTU from the port's IB MTU, down.
func (n *stack) newNetdev(name string, port int, parent *Netdev) *Netdev {
	ud := uint32(n.portSpec(port).MTU - encapLen)
	nd := &Netdev{node: n, name: name, port: port, parent: parent, index: n.nextIndex, qpn: n.nextQPN,
		mtu: ud, adminMTU: ud, mcastMTU: ud, numTxQ: 1, numRxQ: 1,
		// ipoib_setup_common: twice the send queue.
		txQLen: uint32(2 * n.params.get("send_queue_size"))}
	n.nextIndex++
	n.nextQPN++
	nd.mcRegister()
	return nd
}

// insert registers nd in every index of the node.
func (n *stack) insert(nd *Netdev) {
	n.byName[nd.name] = nd
	n.order.add(nd)
	if v, ok := ipoibNumber(nd.name); ok {
		if n.ipoibN == nil {
			n.ipoibN = &ipoibNames{}
		}
		n.ipoibN.set(v, true)
	}
	if p := nd.parent; p != nil {
		if n.children[p] == nil {
			n.children[p] = &devList{}
		}
		n.children[p].add(nd)
	}
	if nd.legacy {
		n.legacy.add(nd)
	}
}

// remove takes nd out of every index of the node.
func (n *stack) remove(nd *Netdev) {
	delete(n.byName, nd.name)
	n.order.remove(nd)
	if v, ok := ipoibNumber(nd.name); ok {
		n.ipoibN.set(v, false)
	}
	if p := nd.parent; p != nil && n.children[p] != nil {
		n.children[p].remove(nd)
	}
	if nd.legacy {
		n.legacy.remove(nd)
	}
}

func (n *stack) portSpec(port int) fabric.Port { return n.hw.Spec.Ports[port-1] }

// portPKey is the parent's P_Key: table index 0, full-member bit forced.
func (n *stack) portPKey(port int) uint16 {
	table := n.d.fab.PKeyTable(n.name, port)
	if len(table) == 0 {
		return 0x8000
	}
	return header.PKeyFull(table[0])
}

// lookup finds a device by index, or by name when index is 0.
func (n *stack) lookup(op string, index int32, name string) (*Netdev, error) {
	if index != 0 {
		if nd := n.order.get(index); nd != nil {
			return nd, nil
		}
		return nil, errorf(op, fmt.Sprint(index), unix.ENODEV, "")
	}
	if nd, ok := n.byName[name]; ok {
		return nd, nil
	}
	return nil, errorf(op, name, unix.ENODEV, "Cannot find device %q", name)
}

func (nd *Netdev) caps() fabric.Capabilities { return *nd.node.portSpec(nd.port).Caps }

// enhanced reports whether the interface is mlx5's enhanced IPoIB netdev
// (an rdma_netdev below ib_ipoib) rather than ib_ipoib's own.
func (nd *Netdev) enhanced() bool { return nd.node.portSpec(nd.port).Enhanced() }

// cmCapable is bit 0x80 of the hardware address: set when connected-mode
// setup succeeded (ipoib_cm_dev_init).
func (nd *Netdev) cmCapable() bool { return nd.caps().Connected }

// hwAddr is the 20-byte IPoIB address: flags, UD QPN, port GID.
func (nd *Netdev) hwAddr() []byte {
	a := make([]byte, hwAddrLen)
	if nd.cmCapable() {
		a[0] = cmSupported
	}
	a[1], a[2], a[3] = byte(nd.qpn>>16), byte(nd.qpn>>8), byte(nd.qpn)
	gid := nd.node.hw.PortGID(nd.port)
	copy(a[4:], gid[:])
	return a
}

// broadcast is QPN 0xffffff + MGID ff12:401b:PPPP::ffff:ffff.
func (nd *Netdev) broadcast() []byte {
	b := []byte{0x00, 0xff, 0xff, 0xff, 0xff, 0x12, 0x40, 0x1b, byte(nd.pkey >> 8), byte(nd.pkey),
		0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	return b
}

// childrenOf lists a parent's children in ifindex order.
func (n *stack) childrenOf(p *Netdev) []*Netdev {
	l := n.children[p]
	if l == nil {
		return nil
	}
	return l.list()
}

// operstate is what rtnl_fill_ifinfo reports: IF_OPER_DOWN when not
// running, else link_watch.c's default_operstate. Without carrier that is
// LOWERLAYERDOWN only when the device's iflink (ipoib_get_iflink: a
// child's parent) has no carrier either (since 6.1; before, every child
// without carrier was LOWERLAYERDOWN). A parent never opened still has
// the carrier every netdev is allocated with (ipoib_open is the first to
// turn it off), so its children are DOWN. The kernel evaluates this at the
// child's own carrier events; here it is evaluated when read.
func (nd *Netdev) operstate() uint8 {
	switch {
	case !nd.up:
		return ifOperDown
	case nd.carrier:
		return ifOperUp
	case nd.parent != nil && !nd.parent.kernelCarrier():
		return ifOperLowerLayerDown
	}
	return ifOperDown
}

// kernelCarrier is netif_carrier_ok: on from allocation until the first
// ipoib_open, then what the broadcast join and ipoib_stop leave.
func (nd *Netdev) kernelCarrier() bool { return nd.carrier || !nd.active }

func (nd *Netdev) flags() uint32 {
	f := uint32(unix.IFF_BROADCAST | unix.IFF_MULTICAST)
	if nd.up {
		f |= unix.IFF_UP
		if nd.carrier {
			f |= unix.IFF_RUNNING | unix.IFF_LOWER_UP
		}
	}
	return f
}

// link is the RTM_NEWLINK view of the device.
func (nd *Netdev) link() netlinkx.Link {
	l := netlinkx.Link{
		Index: nd.index, Type: arphrdInfiniband, Flags: nd.flags(), Name: nd.name,
		MTU: nd.mtu, MinMTU: 0, MaxMTU: maxMTU, TxQLen: nd.txQLen,
		Operstate: nd.operstate(), Carrier: nd.carrier, Address: nd.hwAddr(), Broadcast: nd.broadcast(),
		NumTxQ: nd.numTxQ, NumRxQ: nd.numRxQ, GSOMaxSize: 65536, GSOMaxSegs: 65535, TSOMaxSize: 65536,
		TSOMaxSegs: 65535, GROMaxSize: 65536, Kind: "ipoib",
		Qdisc: nd.qdisc(),
		IPoIB: &netlinkx.IPoIB{PKey: nd.pkey, Mode: nd.mode, Umcast: b2u16(nd.umcast)},
		Stats: nd.stats(), CarrierChanges: nd.carrierChanges,
	}
	if nd.parent != nil {
		l.ParentIndex = nd.parent.index
	} else {
		l.ParentBus, l.ParentDev = "pci", nd.node.hw.Spec.BusInfo
	}
	return l
}

func b2u16(b bool) uint16 {
	if b {
		return 1
	}
	return 0
}

// warn logs a kernel-style "<if>: msg" line.
func (nd *Netdev) warn(format string, args ...any) {
	nd.node.logf(nd.name, fmt.Sprintf(format, args...))
}

// validName is dev_valid_name.
func validName(s string) bool {
	if s == "" || len(s) >= unix.IFNAMSIZ || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n")
}

// setCarrier is netif_carrier_on/off: it counts the changes of the
// kernel's carrier bit, so the first ipoib_open's netif_carrier_off counts
// one (the bit was on since allocation).
func (nd *Netdev) setCarrier(on bool) {
	if nd.kernelCarrier() != on {
		nd.carrierChanges++
	}
	nd.carrier = on
	nd.node.syncKernel(nd)
}

// qdisc is noop until the device is first opened, then the default qdisc
// (attach_default_qdiscs): pfifo_fast for one TX queue, mq for a
// multi-queue device (netif_is_multiqueue: num_tx_queues above one),
// however many of its queues are in use (real_num_tx_queues).
func (nd *Netdev) qdisc() string {
	switch {
	case !nd.active:
		return "noop"
	case nd.numTxQ > 1:
		return "mq"
	}
	return "pfifo_fast"
}
