package driver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/inet"
	"github.com/ibctl/ibctl/driver/netns"
	"github.com/ibctl/ibctl/driver/store"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// Kernel netdevs (driver/netns): with Options.Netns every node has a
// network namespace, NetnsPrefix + its name, and in it every IPoIB
// interface of the node is a kernel netdev of the same name — a TUN
// device with the link type of InfiniBand — which the driver keeps in
// step with its own state (up, carrier, MTU, addresses) and whose packets
// it carries: the kernel's IP stack in the namespace is the interface's
// upper stack (inet.Upper), the node's inet stack stays its neighbour
// layer. What real tools change in the namespace (`ip link set`, `ip
// addr`) comes back through rtnetlink and is applied as any request is,
// or put back with the reason in the node's log. The driver stays the
// one source of truth.

// NetnsPrefix starts the name of every node's network namespace.
const NetnsPrefix = "ibctl-"

// netnsKey is the store's list of the namespaces this driver made, kept
// before they are made so that a driver killed before removing them
// reclaims them at its next start.
const netnsKey = "netns"

// kernelNet is a node's namespace and its kernel netdevs.
type kernelNet struct {
	ns        *netns.Namespace
	conn      *netns.Conn
	devs      map[int32]*kernelDev // by the driver's ifindex
	stopWatch func()
	// changed wakes the adopter (kernelAdopt) after changes in the
	// namespace: one pass for a burst of them. done ends it.
	changed, done chan struct{}
	// dirty are the kernel ifindexes whose links (or addresses) changed
	// since the adopter's last pass; all asks for every one (events
	// were lost). Under dmu.
	dmu                  sync.Mutex
	dirtyLink, dirtyAddr map[uint32]bool
	dirtyRoutes          bool
	all                  bool
	byKernel             map[uint32]int32 // driver ifindex by kernel ifindex
}

// note records what an event says changed.
func (k *kernelNet) note(e netns.Event) {
	k.dmu.Lock()
	switch {
	case e.Overrun:
		k.all = true
	case e.Link != nil:
		k.dirtyLink[e.Link.Index] = true
	case e.Addr != nil:
		k.dirtyAddr[e.Addr.Index] = true
	case e.Route:
		k.dirtyRoutes = true
	}
	k.dmu.Unlock()
	select {
	case k.changed <- struct{}{}:
	default: // a pass is due already
	}
}

// takeDirty returns and clears what changed.
func (k *kernelNet) takeDirty() (links, addrs map[uint32]bool, routes, all bool) {
	k.dmu.Lock()
	defer k.dmu.Unlock()
	links, addrs, routes, all = k.dirtyLink, k.dirtyAddr, k.dirtyRoutes, k.all
	k.dirtyLink, k.dirtyAddr, k.dirtyRoutes, k.all = map[uint32]bool{}, map[uint32]bool{}, false, false
	return links, addrs, routes, all
}

// kernelDev is an interface's kernel netdev and the state last given to
// it: what differs from that in the kernel was changed there by someone
// else.
type kernelDev struct {
	tun *netns.TUN
	// rx is the device's backlog: what the node receives for the
	// kernel, written by writeKernel in batches; done ends that.
	rx      chan []byte
	done    chan struct{}
	up      bool
	mtu     uint32
	qlen    uint32
	carrier bool
	// offloads are the TUN's, following the interface's active
	// features; set is false until they were first set.
	offloads netns.Offloads
	set      bool
	addrs    []netip.Prefix
}

// openNamespaces gives every node its namespace and its interfaces their
// kernel netdevs. A namespace name that exists is refused unless the
// store lists it as made by this driver.
func (d *Driver) openNamespaces() error {
	if err := netns.Check(); err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	ours := map[string]bool{}
	if d.st != nil {
		if b, ok := d.st.Get(netnsKey); ok {
			var names []string
			if json.Unmarshal(b, &names) == nil {
				for _, s := range names {
					ours[s] = true
				}
			}
		}
	}
	var names []string
	for _, name := range d.order {
		ns := NetnsPrefix + name
		if netns.Exists(ns) && !ours[ns] {
			return fmt.Errorf("netns: network namespace %s: %w", ns, netns.ErrNotOurs)
		}
		names = append(names, ns)
	}
	if err := d.recordNamespaces(names); err != nil {
		return err
	}
	for _, name := range d.order {
		if err := d.nodes[name].openNamespace(ours[NetnsPrefix+name]); err != nil {
			d.closeNamespaces()
			return err
		}
	}
	return nil
}

// recordNamespaces saves the names of the namespaces this driver owns.
func (d *Driver) recordNamespaces(names []string) error {
	if d.st == nil {
		return nil
	}
	var b store.Batch
	if len(names) == 0 {
		b.Delete(netnsKey)
	} else {
		b.Put(netnsKey, mustJSON(names))
	}
	if err := d.st.Apply(b); err != nil {
		return fmt.Errorf("netns: save: %w", err)
	}
	return nil
}

// closeNamespaces removes every node's kernel netdevs and namespace.
// Caller does not hold d.mu: the watchers it stops may be waiting for
// it.
func (d *Driver) closeNamespaces() {
	var ks []*kernelNet
	d.mu.Lock()
	for _, name := range d.order {
		if n := d.nodes[name]; n.kern != nil {
			ks = append(ks, n.kern)
			for index := range n.kern.devs {
				n.ip.SetUpper(index, nil)
				n.ip.SetUpperLookup(index, nil)
			}
			n.kern = nil
		}
	}
	d.mu.Unlock()
	for _, k := range ks {
		k.close()
	}
	if err := d.recordNamespaces(nil); err != nil {
		d.log(err.Error())
	}
}

// Close takes down what the driver made outside itself: the nodes'
// namespaces and kernel netdevs.
func (d *Driver) Close() {
	if d.netns {
		d.closeNamespaces()
		d.netns = false
	}
}

// openNamespace makes the node's namespace (reclaiming one an earlier
// run left when reclaim is set) and its kernel netdevs.
func (n *stack) openNamespace(reclaim bool) error {
	ns, err := netns.Create(NetnsPrefix+n.name, reclaim)
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	conn, err := ns.Dial()
	if err != nil {
		ns.Close()
		netns.Remove(ns.Name)
		return fmt.Errorf("netns: %w", err)
	}
	k := &kernelNet{ns: ns, conn: conn, devs: map[int32]*kernelDev{},
		changed: make(chan struct{}, 1), done: make(chan struct{}),
		dirtyLink: map[uint32]bool{}, dirtyAddr: map[uint32]bool{}, byKernel: map[uint32]int32{}}
	n.kern = k
	for _, nd := range n.order.list() {
		n.syncKernel(nd)
	}
	stop, err := ns.Watch(func(e netns.Event) {
		// Whatever changed (a rule, a route of any table, an
		// address, a link) may change a next hop: ask again.
		n.ip.FlushUpperLookups()
		k.note(e)
	})
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	k.stopWatch = stop
	go func() {
		for {
			select {
			case <-k.changed:
				n.kernelAdopt()
			case <-k.done:
				return
			}
		}
	}()
	return nil
}

// drop removes an interface's kernel netdev. Caller holds d.mu.
func (k *kernelNet) drop(n *stack, index int32) {
	kd := k.devs[index]
	n.ip.SetUpper(index, nil)
	n.ip.SetUpperLookup(index, nil)
	n.ip.SetUpperRoutes(index, nil)
	kd.close()
	delete(k.devs, index)
	if k.byKernel[kd.tun.Index] == index {
		delete(k.byKernel, kd.tun.Index)
	}
}

// close removes the kernel netdevs and the namespace.
func (k *kernelNet) close() {
	if k.stopWatch != nil {
		k.stopWatch()
		close(k.done)
	}
	for _, kd := range k.devs {
		kd.close()
	}
	k.conn.Close()
	k.ns.Close()
	netns.Remove(k.ns.Name)
}

// syncKernel brings the interface's kernel netdev in step with it: made
// when missing, removed when the interface is gone, its state and
// addresses set where they differ. A failure is logged: the driver's
// change stands. Caller holds d.mu.
func (n *stack) syncKernel(nd *Netdev) {
	n.monitorSync(nd)
	k := n.kern
	if k == nil {
		return
	}
	kd := k.devs[nd.index]
	if n.order.get(nd.index) != nd {
		if kd != nil {
			k.drop(n, nd.index)
		}
		return
	}
	if kd == nil {
		tun, err := k.ns.NewTUN(nd.name, uint32(nd.index))
		if err != nil {
			n.logf(nd.name, "kernel netdev: "+err.Error())
			return
		}
		kd = &kernelDev{tun: tun, rx: make(chan []byte, backlog), done: make(chan struct{})}
		k.devs[nd.index] = kd
		k.byKernel[tun.Index] = nd.index
		n.ip.SetUpper(nd.index, kd.receive)
		n.ip.SetUpperLookup(nd.index, k.lookup(tun.Index))
		go n.readKernel(nd.index, tun)
		go kd.writeKernel()
	}
	// What the namespace's kernel may leave to the interface: the
	// checksum and TCP segmentation, as the interface's features allow
	// (ethtool -K, and connected mode, which has neither).
	f := nd.activeFeatures()
	off := netns.Offloads{Csum: f&(fIPCsum|fIPv6Csum|fHWCsum) != 0, TSO4: f&fTSO != 0, TSO6: f&fTSO6 != 0}
	if !kd.set || kd.offloads != off {
		if err := kd.tun.SetOffloads(off); err != nil {
			n.logf(nd.name, "kernel netdev: "+err.Error())
		} else {
			kd.offloads, kd.set = off, true
		}
	}
	if kd.carrier != nd.carrier {
		if err := kd.tun.SetCarrier(nd.carrier); err == nil {
			kd.carrier = nd.carrier
		}
	}
	if kd.up != nd.up || kd.mtu != nd.mtu {
		if err := k.conn.SetLink(kd.tun.Index, nd.up, nd.mtu); err != nil {
			n.logf(nd.name, "kernel netdev: "+err.Error())
		} else {
			kd.up, kd.mtu = nd.up, nd.mtu
		}
	}
	if kd.qlen != nd.txQLen {
		if err := k.conn.SetTxQueueLen(kd.tun.Index, nd.txQLen); err != nil {
			n.logf(nd.name, "kernel netdev: "+err.Error())
		} else {
			kd.qlen = nd.txQLen
		}
	}
	want := n.kernelAddrs(nd)
	for _, p := range kd.addrs {
		if !slices.Contains(want, p) {
			if err := k.conn.DelAddr(netns.Addr{Index: kd.tun.Index, Prefix: p}); err != nil {
				n.logf(nd.name, "kernel netdev: "+err.Error())
			}
		}
	}
	for _, p := range want {
		if !slices.Contains(kd.addrs, p) {
			if err := k.conn.AddAddr(netns.Addr{Index: kd.tun.Index, Prefix: p, Broadcast: nd.brd[p]}); err != nil {
				n.logf(nd.name, "kernel netdev: "+err.Error())
			}
		}
	}
	kd.addrs = want
}

// kernelAddrs are the interface's addresses as its kernel netdev carries
// them.
func (n *stack) kernelAddrs(nd *Netdev) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range n.ip.Addrs(nd.index) {
		out = append(out, a.Prefix)
	}
	return out
}

// readKernel carries what the kernel sends through the interface's
// netdev until the device is closed.
func (n *stack) readKernel(index int32, tun *netns.TUN) {
	for {
		p, mss, err := tun.ReadPacket(header.IPoIBHeaderLen)
		if errors.Is(err, netns.ErrMalformed) {
			continue
		}
		if err != nil {
			return
		}
		// A TSO segment goes whole, with its MSS: the interface's
		// large send offload cuts it (ipoib's LSO work request). A
		// packet that is the TUN's read buffer goes back to it when
		// the send that carries it completes (the endpoint's
		// SendDone); one that is dropped or copied on the way goes
		// to the garbage collector.
		n.ip.OutputFrame(index, p, mss)
		runtime.Gosched()
	}
}

// backlog is how many received packets wait for the kernel
// (netdev_max_backlog); more are dropped.
const backlog = 1000

// writeBatch is the most packets given to the kernel in one go.
const writeBatch = 64

// receive queues a packet for the kernel (the interface's inet.Upper);
// with the backlog full it is dropped, and the stack counts it.
func (kd *kernelDev) receive(ip []byte) bool {
	f := netns.Frame(ip)
	select {
	case kd.rx <- f:
		return true
	default: // backlog full
		netns.FreeFrame(f)
		return false
	}
}

// writeKernel gives the kernel what receive queued, in batches, until
// the device is closed.
func (kd *kernelDev) writeKernel() {
	batch := make([][]byte, 0, writeBatch)
	for {
		select {
		case p := <-kd.rx:
			batch = append(batch[:0], p)
		case <-kd.done:
			return
		}
	more:
		for len(batch) < writeBatch {
			select {
			case p := <-kd.rx:
				batch = append(batch, p)
			default:
				break more
			}
		}
		_ = kd.tun.WritePackets(batch)
	}
}

// close removes the device and ends its writer.
func (kd *kernelDev) close() {
	close(kd.done)
	kd.tun.Close()
}

// kernelAdopt applies what someone changed on the kernel netdevs (`ip
// link set`, `ip addr` in the namespace) to their interfaces, as requests
// of the driver. What the driver refuses is put back, and the reason
// logged.
func (n *stack) kernelAdopt() {
	type change struct {
		nd      *Netdev
		deleted bool   // ip link del
		qlen    uint32 // ip link set txqueuelen, when not 0
		link    *netlinkx.LinkRequest
		add     []netns.Addr // with the broadcast ip gave, if any
		del     []netip.Prefix
	}
	var changes []change
	n.d.mu.Lock()
	k := n.kern
	if k == nil {
		n.d.mu.Unlock()
		return
	}
	dirtyLinks, dirtyAddrs, dirtyRoutes, all := k.takeDirty()
	if dirtyRoutes || all {
		k.adoptRoutes(n)
	}
	// What to compare: the devices the events named, or all of them.
	check := map[int32]bool{}
	for _, dirty := range []map[uint32]bool{dirtyLinks, dirtyAddrs} {
		for kidx := range dirty {
			if index, ok := k.byKernel[kidx]; ok {
				check[index] = true
			}
		}
	}
	if all {
		for index := range k.devs {
			check[index] = true
		}
	}
	var addrs map[uint32][]netns.Addr
	if all || len(dirtyAddrs) > 0 {
		var err error
		if addrs, err = k.conn.AllAddrs(); err != nil {
			n.d.mu.Unlock()
			return
		}
	}
	for index := range check {
		kd, nd := k.devs[index], n.order.get(index)
		if kd == nil || nd == nil {
			continue
		}
		c := change{nd: nd}
		l, err := k.conn.Link(kd.tun.Index)
		if errors.Is(err, unix.ENODEV) {
			changes = append(changes, change{nd: nd, deleted: true})
			continue
		}
		if l.Name != nd.name {
			// The driver's names are its own (ipoib has no
			// ndo to rename a child's P_Key name away): put back.
			if err := k.conn.SetName(kd.tun.Index, nd.name); err == nil {
				n.logf(nd.name, "refused in "+NetnsPrefix+n.name+": ip link set name "+l.Name+": the driver names its interfaces; put back")
			}
		}
		if err != nil {
			continue
		}
		if l.TxQLen != kd.qlen {
			c.qlen = l.TxQLen
		}
		if l.Up != kd.up || l.MTU != kd.mtu {
			r := netlinkx.LinkRequest{Index: index}
			if l.MTU != kd.mtu {
				mtu := l.MTU
				r.MTU = &mtu
			}
			if l.Up != kd.up {
				up := l.Up
				r.Up = &up
			}
			c.link = &r
		}
		haveAddrs, ok := addrs[kd.tun.Index]
		have := netns.Prefixes(haveAddrs)
		if addrs == nil || (!ok && !all && !dirtyAddrs[kd.tun.Index]) {
			have, haveAddrs = kd.addrs, nil // addresses not in question
		}
		for _, a := range haveAddrs {
			if !slices.Contains(kd.addrs, a.Prefix) {
				c.add = append(c.add, a)
			}
		}
		for _, p := range kd.addrs {
			if !slices.Contains(have, p) {
				c.del = append(c.del, p)
			}
		}
		if c.link != nil || c.add != nil || c.del != nil || c.qlen != 0 {
			changes = append(changes, c)
		}
	}
	n.d.mu.Unlock()
	node := &Node{stack: n}
	for _, c := range changes {
		if c.deleted {
			// ip link del: the driver's dellink (a child goes, a
			// parent stays); what stays gets its netdev back.
			why := "ip link del: a parent interface stays (ipoib_del_child_link); its netdev is given back"
			if err := node.DelLink(c.nd.index, ""); err != nil {
				why = fmt.Sprintf("ip link del: %v", err)
			}
			n.recreate(c.nd, why)
			continue
		}
		if c.qlen != 0 {
			if err := node.SetTxQueueLen(c.nd.name, c.qlen); err != nil {
				n.putBack(c.nd, fmt.Sprintf("ip link set txqueuelen %d: %v", c.qlen, err))
			}
		}
		if c.link != nil {
			if err := node.SetLink(*c.link); err != nil {
				n.putBack(c.nd, fmt.Sprintf("ip link set %s: %v", describe(*c.link), err))
			}
		}
		for _, p := range c.del {
			// Gone already is no refusal: a link set down in the
			// namespace takes its IPv6 addresses, and the driver's
			// down did the same.
			if err := node.DelAddr(addrMsg(c.nd, p, netip.Addr{})); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				n.putBack(c.nd, fmt.Sprintf("ip addr del %s: %v", p, err))
			}
		}
		for _, a := range c.add {
			if err := node.AddAddr(addrMsg(c.nd, a.Prefix, a.Broadcast)); err != nil && !errors.Is(err, unix.EEXIST) {
				n.putBack(c.nd, fmt.Sprintf("ip addr add %s: %v", a.Prefix, err))
			}
		}
	}
}

// lookup asks the namespace's kernel for the next hop of what it sends
// through the kernel netdev oif: a TUN shows the datagram, not the next
// hop the kernel chose, so the driver asks as `ip route get DST from SRC
// oif DEV tos TOS` does, every rule and table applied. Without an answer
// (the flow's rule refuses it, a forwarded datagram's source fails the
// reverse-path filter from lo) the main table's routes decide.
//
// Asking the kernel, rather than keeping a copy of its rules and tables
// and matching them here, gives its own answer (rule order, actions,
// suppress_prefixlength, the multipath hash of the addresses) at the
// cost of one request per flow and change; a copy could match no more
// selectors, since a TUN shows neither marks nor owners.
func (k *kernelNet) lookup(oif uint32) inet.UpperLookup {
	return func(src, dst netip.Addr, tos uint8) (netip.Addr, bool) {
		h, err := k.conn.RouteGet(src, dst, tos, oif)
		if err != nil {
			return netip.Addr{}, false
		}
		return h.Via, true
	}
}

// adoptRoutes gives each interface's neighbour layer the routes of the
// namespace's main table through its netdev, so that what the kernel
// sends through a gateway is resolved as the gateway (a TUN shows only
// the datagram). Caller holds d.mu.
func (k *kernelNet) adoptRoutes(n *stack) {
	routes, err := k.conn.Routes()
	if err != nil {
		return
	}
	for index, kd := range k.devs {
		var rs []inet.Route
		for _, r := range routes[kd.tun.Index] {
			rs = append(rs, inet.Route{Dst: r.Dst, Via: r.Via})
		}
		n.ip.SetUpperRoutes(index, rs)
	}
}

// recreate gives back a netdev deleted in the namespace whose interface
// the driver still has, logging why.
func (n *stack) recreate(nd *Netdev, why string) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	if n.kern == nil || n.order.get(nd.index) != nd {
		return
	}
	n.logf(nd.name, "refused in "+NetnsPrefix+n.name+": "+why)
	if n.kern.devs[nd.index] != nil {
		n.kern.drop(n, nd.index)
	}
	n.syncKernel(nd)
}

// describe names a link change as ip would have been asked for it.
func describe(r netlinkx.LinkRequest) string {
	s := ""
	if r.MTU != nil {
		s += fmt.Sprintf("mtu %d", *r.MTU)
	}
	if r.Up != nil {
		if s != "" {
			s += " "
		}
		if *r.Up {
			s += "up"
		} else {
			s += "down"
		}
	}
	return s
}

// putBack logs why the driver refused a change made in the namespace and
// sets the kernel netdev back to the interface's state.
func (n *stack) putBack(nd *Netdev, why string) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	n.logf(nd.name, "refused in "+NetnsPrefix+n.name+": "+why)
	if n.kern == nil {
		return
	}
	if kd := n.kern.devs[nd.index]; kd != nil {
		// Force the link's state out, and let the comparison with the
		// kernel's addresses remove what the driver does not have.
		kd.up, kd.mtu, kd.qlen = !nd.up, 0, 0
		if have, err := n.kern.conn.Addrs(kd.tun.Index); err == nil {
			kd.addrs = have
		}
		n.syncKernel(nd)
	}
}
