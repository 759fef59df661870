package driver

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ibctl/ibctl/driver/inet"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// Monitoring (ip monitor): a subscriber gets a node's changes as the
// kernel's rtnetlink multicast groups carry them — links (RTM_NEWLINK on
// any change of their flags, MTU, state, mode, queue length or name,
// RTM_DELLINK when deleted), addresses, neighbour entries and the routes
// the addresses make — and the subnet manager's partitions and multicast
// group memberships, which belong to the whole fabric. Link, address and
// route events come from comparing a device with what was last published
// for it whenever the device is saved or its carrier changes (the points
// its kernel netdev is brought in step, syncKernel); neighbour events
// from the IP stack's neighbour table; the SM's from comparing its tables
// after each of its changes. Nothing is kept while nobody subscribes.

var _ netlinkx.Monitorer = (*Node)(nil)

// monitorQueue is how many events a subscriber holds while it does not
// read (an rtnetlink socket's receive buffer): more are dropped and
// counted, as the kernel drops what overruns a listener (ENOBUFS), and
// the driver never waits for a reader.
const monitorQueue = 1024

// monitorSub is one subscriber.
type monitorSub struct {
	node   *stack
	groups uint32
	ch     chan netlinkx.MonitorEvent
	lost   atomic.Uint64
}

// monitorHub holds the subscribers and the SM's tables last published.
type monitorHub struct {
	mu   sync.Mutex
	subs map[*monitorSub]bool
	// parts and members are the partitions and group memberships last
	// published, nil while no subscriber wants them.
	parts   map[uint16]netlinkx.Partition
	members map[memberKey]netlinkx.Group
}

// memberKey is one port's membership of a group.
type memberKey struct {
	mgid [16]byte
	node string
	port uint32
}

// monState is what was last published of a node's devices. Under d.mu.
type monState struct {
	links  map[int32]netlinkx.Link
	addrs  map[int32][]netlinkx.Addr
	routes []netlinkx.Route
}

// publishLocked queues ev for the subscribers of node (every subscriber
// for the SM's events, node nil) that want its kind. Caller holds h.mu.
func (h *monitorHub) publishLocked(node *stack, ev netlinkx.MonitorEvent) {
	for s := range h.subs {
		if s.groups&ev.Kind == 0 || node != nil && s.node != node {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			s.lost.Add(1)
		}
	}
}

func (h *monitorHub) publish(node *stack, ev netlinkx.MonitorEvent) {
	h.mu.Lock()
	h.publishLocked(node, ev)
	h.mu.Unlock()
}

// Monitor streams the node's events of groups (and the SM's) to emit
// until ctx is done or emit fails; the driver stopping ends it with
// ESHUTDOWN.
func (n *Node) Monitor(ctx context.Context, groups uint32, emit func([]netlinkx.MonitorEvent) error) error {
	d := n.d
	sub := &monitorSub{node: n.stack, groups: groups, ch: make(chan netlinkx.MonitorEvent, monitorQueue)}
	d.mu.Lock()
	if n.mon == nil {
		n.mon = n.monSnapshot()
	}
	d.mon.mu.Lock()
	if d.mon.subs == nil {
		d.mon.subs = map[*monitorSub]bool{}
	}
	d.mon.subs[sub] = true
	if groups&(netlinkx.MonitorPartition|netlinkx.MonitorGroup) != 0 && d.mon.parts == nil {
		d.mon.parts, d.mon.members = d.smTables()
	}
	d.mon.mu.Unlock()
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.mon.mu.Lock()
		delete(d.mon.subs, sub)
		nodeWatched, smWatched := false, false
		for s := range d.mon.subs {
			nodeWatched = nodeWatched || s.node == n.stack
			smWatched = smWatched || s.groups&(netlinkx.MonitorPartition|netlinkx.MonitorGroup) != 0
		}
		if !smWatched {
			d.mon.parts, d.mon.members = nil, nil
		}
		d.mon.mu.Unlock()
		if !nodeWatched {
			n.mon = nil
		}
		d.mu.Unlock()
		if lost := sub.lost.Load(); lost > 0 {
			d.log(n.name + " monitor: " + strconv.FormatUint(lost, 10) + " events dropped for a reader that fell behind")
		}
	}()
	if err := emit(nil); err != nil {
		return nil
	}
	batch := make([]netlinkx.MonitorEvent, 0, 64)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.stop:
			return errorf("monitor", "", unix.ESHUTDOWN, "the driver stopped")
		case ev := <-sub.ch:
			batch = append(batch[:0], ev)
		more:
			for len(batch) < cap(batch) {
				select {
				case ev := <-sub.ch:
					batch = append(batch, ev)
				default:
					break more
				}
			}
			if emit(batch) != nil {
				return nil
			}
		}
	}
}

// monSnapshot is the node's devices as they are. Caller holds d.mu.
func (n *stack) monSnapshot() *monState {
	st := &monState{links: map[int32]netlinkx.Link{}, addrs: map[int32][]netlinkx.Addr{}, routes: n.routes()}
	for _, nd := range n.order.list() {
		st.links[nd.index] = nd.link()
		st.addrs[nd.index] = n.addrMsgs(nd)
	}
	return st
}

// addrMsgs are the device's addresses as RTM_NEWADDR describes them,
// with the broadcast each was added with. Caller holds d.mu.
func (n *stack) addrMsgs(nd *Netdev) []netlinkx.Addr {
	var out []netlinkx.Addr
	for _, a := range n.ip.Addrs(nd.index) {
		m := addrMsg(nd, a.Prefix, nd.brd[a.Prefix])
		if a.Secondary {
			m.Flags |= unix.IFA_F_SECONDARY
		}
		out = append(out, m)
	}
	return out
}

// linkChanged reports whether a link's RTM_NEWLINK would differ in what
// ip monitor shows or the kernel notifies (not its counters).
func linkChanged(a, b netlinkx.Link) bool {
	return a.Flags != b.Flags || a.MTU != b.MTU || a.Name != b.Name || a.Operstate != b.Operstate ||
		a.TxQLen != b.TxQLen || a.Qdisc != b.Qdisc || a.ParentIndex != b.ParentIndex ||
		!bytes.Equal(a.Address, b.Address) || !bytes.Equal(a.Broadcast, b.Broadcast) ||
		a.IPoIB != nil && b.IPoIB != nil && *a.IPoIB != *b.IPoIB
}

func sameAddr(a, b netlinkx.Addr) bool {
	return a.Family == b.Family && a.PrefixLen == b.PrefixLen && bytes.Equal(a.Local, b.Local) && a.Flags == b.Flags
}

// sameRoute reports whether two routes are the same entry: a change of
// its flags (linkdown) is not notified, as the kernel's fib_sync_down_dev
// marks a route without telling.
func sameRoute(a, b netlinkx.Route) bool {
	return a.Index == b.Index && a.DstLen == b.DstLen && bytes.Equal(a.Dst, b.Dst) && bytes.Equal(a.Src, b.Src)
}

// monitorSync publishes what changed on the node's devices since it was
// last published, nd (which may be gone) among them, in the kernel's
// order: links that changed (a deleted one first going down), then
// deletions (IPv6 routes before the addresses, IPv4 ones after), then
// additions (the same order), then the deleted link. Caller holds d.mu.
func (n *stack) monitorSync(nd *Netdev) {
	st := n.mon
	if st == nil {
		return
	}
	h := &n.d.mon
	h.mu.Lock()
	defer h.mu.Unlock()
	pub := func(ev netlinkx.MonitorEvent) { h.publishLocked(n, ev) }
	devs := n.order.list()
	gone := n.order.get(nd.index) != nd
	// links
	for _, d := range devs {
		l := d.link()
		if old, had := st.links[d.index]; !had || linkChanged(old, l) {
			pub(netlinkx.MonitorEvent{Kind: netlinkx.MonitorLink, Link: l})
			st.links[d.index] = l
		}
	}
	var deleted *netlinkx.Link
	if old, had := st.links[nd.index]; gone && had {
		l := nd.link()
		l.Flags &^= unix.IFF_UP | unix.IFF_RUNNING | unix.IFF_LOWER_UP
		l.Operstate, l.Qdisc = ifOperDown, "noop"
		if old.Flags&unix.IFF_UP != 0 {
			down := l
			down.Qdisc = old.Qdisc
			pub(netlinkx.MonitorEvent{Kind: netlinkx.MonitorLink, Link: down})
		}
		deleted = &l
		delete(st.links, nd.index)
	}
	// addresses and routes
	addrs := map[int32][]netlinkx.Addr{}
	for _, d := range devs {
		addrs[d.index] = n.addrMsgs(d)
	}
	routes := n.routes()
	var oldAddrs []netlinkx.Addr
	for _, list := range st.addrs {
		oldAddrs = append(oldAddrs, list...)
	}
	slices.SortStableFunc(oldAddrs, func(a, b netlinkx.Addr) int { return int(a.Index) - int(b.Index) })
	var newAddrs []netlinkx.Addr
	for _, d := range devs {
		newAddrs = append(newAddrs, addrs[d.index]...)
	}
	has := func(list []netlinkx.Addr, a netlinkx.Addr) bool {
		return slices.ContainsFunc(list, func(b netlinkx.Addr) bool { return a.Index == b.Index && sameAddr(a, b) })
	}
	hasRoute := func(list []netlinkx.Route, r netlinkx.Route) bool {
		return slices.ContainsFunc(list, func(b netlinkx.Route) bool { return sameRoute(r, b) })
	}
	for _, v6 := range []bool{true, false} {
		if !v6 {
			for _, a := range oldAddrs {
				if !has(newAddrs, a) {
					pub(netlinkx.MonitorEvent{Kind: netlinkx.MonitorAddr, Deleted: true, Addr: a})
				}
			}
		}
		for _, r := range st.routes {
			if (r.Family == unix.AF_INET6) == v6 && !hasRoute(routes, r) {
				pub(netlinkx.MonitorEvent{Kind: netlinkx.MonitorRoute, Deleted: true, Route: r})
			}
		}
	}
	for _, v6 := range []bool{true, false} {
		for _, r := range routes {
			if (r.Family == unix.AF_INET6) == v6 && !hasRoute(st.routes, r) {
				pub(netlinkx.MonitorEvent{Kind: netlinkx.MonitorRoute, Route: r})
			}
		}
		if v6 {
			for _, a := range newAddrs {
				if !has(oldAddrs, a) {
					pub(netlinkx.MonitorEvent{Kind: netlinkx.MonitorAddr, Addr: a})
				}
			}
		}
	}
	st.addrs, st.routes = addrs, routes
	if deleted != nil {
		pub(netlinkx.MonitorEvent{Kind: netlinkx.MonitorLink, Deleted: true, Link: *deleted})
	}
}

// neighChanged publishes a neighbour entry's change (inet.Stack's
// SetNeighNotify).
func (n *stack) neighChanged(index int32, e inet.Neighbour, deleted bool) {
	m := neighMessage(index, e)
	n.d.mon.publish(n, netlinkx.MonitorEvent{Kind: netlinkx.MonitorNeigh, Deleted: deleted, Neigh: m})
}

// smTables are the SM's partitions (without members) and group
// memberships, keyed as the monitor compares them.
func (d *Driver) smTables() (map[uint16]netlinkx.Partition, map[memberKey]netlinkx.Group) {
	parts := map[uint16]netlinkx.Partition{}
	for _, p := range d.Partitions() {
		p.Members = nil
		parts[p.PKey] = p
	}
	members := map[memberKey]netlinkx.Group{}
	for _, g := range d.Groups() {
		for _, m := range g.Members {
			one := g
			one.Members = []netlinkx.GroupMember{m}
			members[memberKey{mgid: g.MGID, node: m.Node, port: m.Port}] = one
		}
	}
	return parts, members
}

// smChanged publishes what changed in the SM's tables (the fabric's
// change hook): memberships left, partitions deleted, partitions added or
// changed, memberships joined or changed.
func (d *Driver) smChanged() {
	h := &d.mon
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.parts == nil {
		return
	}
	parts, members := d.smTables()
	for _, k := range sortedMembers(h.members) {
		if _, ok := members[k]; !ok {
			h.publishLocked(nil, netlinkx.MonitorEvent{Kind: netlinkx.MonitorGroup, Deleted: true, Group: h.members[k]})
		}
	}
	for _, k := range sortedKeys(h.parts) {
		if _, ok := parts[k]; !ok {
			h.publishLocked(nil, netlinkx.MonitorEvent{Kind: netlinkx.MonitorPartition, Deleted: true, Partition: h.parts[k]})
		}
	}
	for _, k := range sortedKeys(parts) {
		if old, ok := h.parts[k]; !ok || old.MTU != parts[k].MTU || old.All != parts[k].All {
			h.publishLocked(nil, netlinkx.MonitorEvent{Kind: netlinkx.MonitorPartition, Partition: parts[k]})
		}
	}
	for _, k := range sortedMembers(members) {
		if old, ok := h.members[k]; !ok || old.Members[0].JoinState != members[k].Members[0].JoinState {
			h.publishLocked(nil, netlinkx.MonitorEvent{Kind: netlinkx.MonitorGroup, Group: members[k]})
		}
	}
	h.parts, h.members = parts, members
}

func sortedKeys(m map[uint16]netlinkx.Partition) []uint16 {
	out := make([]uint16, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedMembers(m map[memberKey]netlinkx.Group) []memberKey {
	out := make([]memberKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b memberKey) int {
		if c := bytes.Compare(a.mgid[:], b.mgid[:]); c != 0 {
			return c
		}
		if a.node != b.node {
			if a.node < b.node {
				return -1
			}
			return 1
		}
		return int(a.port) - int(b.port)
	})
	return out
}
