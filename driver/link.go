package driver

import (
	"fmt"
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/ibctl/ibctl/sysfs"
	"golang.org/x/sys/unix"
	"strings"
)

// The optional capabilities the server finds by type assertion: a
// signature that drifts from its interface fails the build here instead
// of making the command answer EOPNOTSUPP.
var (
	_ netlinkx.AddrNode    = (*Node)(nil)
	_ netlinkx.MaddrNode   = (*Node)(nil)
	_ netlinkx.RouteGetter = (*Node)(nil)
	_ netlinkx.Pinger      = (*Node)(nil)
	_ netlinkx.Perfer      = (*Node)(nil)
	_ netlinkx.Logger      = (*Node)(nil)
	_ netlinkx.LogClearer  = (*Node)(nil)
	_ netlinkx.LinkPager   = (*Node)(nil)
	_ sysfs.Driver         = (*Node)(nil)
)

// Links lists every device in ifindex order.
func (n *Node) Links() ([]netlinkx.Link, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	devs := n.order.list()
	out := make([]netlinkx.Link, len(devs))
	for i, nd := range devs {
		out[i] = nd.link()
	}
	return out, nil
}

// LinksFrom lists at most max devices from ifindex index on, in ifindex
// order: a link dump a page at a time.
func (n *Node) LinksFrom(index int32, max int) ([]netlinkx.Link, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	devs := n.order.from(index, max)
	out := make([]netlinkx.Link, len(devs))
	for i, nd := range devs {
		out[i] = nd.link()
	}
	return out, nil
}

// Link looks one device up by index, or by name when index is 0.
func (n *Node) Link(index int32, name string) (netlinkx.Link, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("getlink", index, name)
	if err != nil {
		return netlinkx.Link{}, err
	}
	return nd.link(), nil
}

// family is a device and, for a parent, its children: what an operation
// on the device may change.
func (n *Node) family(nd *Netdev) []*Netdev {
	if nd.parent != nil {
		return []*Netdev{nd}
	}
	return append([]*Netdev{nd}, n.childrenOf(nd)...)
}

// change runs fn on devs and persists them; on any error every device is
// put back as it was, so a failed request leaves no trace.
func (n *Node) change(devs []*Netdev, fn func() error) error {
	saved := make([]Netdev, len(devs))
	for i, nd := range devs {
		saved[i] = *nd
	}
	undoAddrs := n.ip.SnapshotAddrs(indexes(devs)...)
	err := fn()
	if err == nil {
		err = n.persist(devs...)
	}
	if err != nil {
		undoAddrs()
		for i, nd := range devs {
			joined, dp, nic, mc, counters, carrier := nd.joined, nd.dp, nd.nic, nd.mcast, nd.counters, saved[i].carrier
			*nd = saved[i]
			nd.joined, nd.dp, nd.nic, nd.mcast, nd.counters = joined, dp, nic, mc, counters
			nd.setJoined(saved[i].joined)
			if nd.active { // a device never opened keeps its initial carrier
				nd.setCarrier(carrier && nd.joined)
			}
			nd.updateDataPath()
			// the groups the change left or joined on the fabric
			nd.syncMcast()
		}
	}
	return err
}

// SetLink is rtnl setlink for an existing device, in the core's order:
// kind-specific changelink, MTU, then flags (up/down).
func (n *Node) SetLink(r netlinkx.LinkRequest) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("setlink", r.Index, r.Name)
	if err != nil {
		return err
	}
	if r.Kind != "" && r.Kind != "ipoib" {
		return errorf("setlink", nd.name, unix.EOPNOTSUPP, "device kind %q does not match ipoib", r.Kind)
	}
	return n.change(n.family(nd), func() error {
		if err := n.changelink(nd, r); err != nil {
			return err
		}
		if r.MTU != nil {
			if err := nd.devSetMTU(*r.MTU); err != nil {
				return err
			}
		}
		if r.Up != nil {
			if *r.Up {
				nd.open()
			} else {
				nd.stop()
			}
		}
		return nil
	})
}

// Devices lists device names in ifindex order.
func (n *Node) Devices() []string {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	devs := n.order.list()
	out := make([]string, len(devs))
	for i, nd := range devs {
		out[i] = nd.name
	}
	return out
}

// Device is the sysfs view of one device.
func (n *Node) Device(name string) (sysfs.Device, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("device", 0, name)
	if err != nil {
		return sysfs.Device{}, err
	}
	dv := sysfs.Device{Link: nd.link(), Legacy: nd.legacy}
	if nd.parent != nil {
		dv.Parent = nd.parent.name
	} else {
		dv.DevID = uint16(nd.port - 1)
		dv.DevPort = uint16(nd.port - 1)
	}
	return dv, nil
}

// DevIDRead is told of each read of a dev_id file: IPoIB's dev_id_show
// (ipoib_main.c) logs with netdev_info_once, the first time in the
// module's life that a device whose dev_port is not 0 and equals its
// dev_id (a parent on port 2 or later) is read, who reads it. netdev_info
// prefixes the line with the parent device's driver and name, the HCA's
// PCI function.
func (n *Node) DevIDRead(dev, comm string) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, ok := n.byName[dev]
	if !ok || nd.parent != nil || nd.port == 1 || n.devIDLogged {
		return
	}
	n.devIDLogged = true
	line := fmt.Sprintf("%s_core %s %s: \"%s\" wants to know my dev_id. Should it look at dev_port instead? "+
		"See Documentation/ABI/testing/sysfs-class-net for more info.", strings.TrimSuffix(n.hw.Spec.Identity().Name, "_0"), n.hw.Spec.BusInfo, nd.name, comm)
	n.klog.add(line)
	n.d.log(n.name + " " + line)
}

// SetMode is the mode file's store.
func (n *Node) SetMode(dev string, mode uint16) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("mode", 0, dev)
	if err != nil {
		return err
	}
	return n.change([]*Netdev{nd}, func() error { return nd.setMode(mode) })
}

// SetUmcast is the umcast file's store.
func (n *Node) SetUmcast(dev string, on bool) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("umcast", 0, dev)
	if err != nil {
		return err
	}
	return n.change([]*Netdev{nd}, func() error { nd.setUmcast(on); return nil })
}

// SetMTU is the mtu file's store: dev_set_mtu.
func (n *Node) SetMTU(dev string, mtu uint32) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("mtu", 0, dev)
	if err != nil {
		return err
	}
	return n.change([]*Netdev{nd}, func() error { return nd.devSetMTU(mtu) })
}

// SetTxQueueLen is the tx_queue_len file's store after parsing:
// dev_change_tx_queue_len (no notifier refuses it for IPoIB).
func (n *Node) SetTxQueueLen(dev string, qlen uint32) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("tx_queue_len", 0, dev)
	if err != nil {
		return err
	}
	if nd.txQLen == qlen {
		return nil
	}
	return n.change([]*Netdev{nd}, func() error { nd.txQLen = qlen; nd.updateDataPath(); return nil })
}

// indexes are the devices' ifindexes.
func indexes(devs []*Netdev) []int32 {
	out := make([]int32, len(devs))
	for i, nd := range devs {
		out[i] = nd.index
	}
	return out
}
