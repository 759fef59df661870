// Package driver is the emulated ib_ipoib driver's netdev layer: one
// network stack per fabric node, each with a parent netdev per HCA port
// and its P_Key children, modes, MTU rules, features, interrupt
// moderation, module parameters, debugfs and the kernel log. Every
// acknowledged change is written to the store before the call returns.
//
// It composes the layers below it and is the only package that sees more
// than one of them: driver/ipoib is the IPoIB link endpoint (UD and RC
// data path, neighbours, CM, multicast) over driver/verbs and
// driver/fabric; driver/inet is the host IP stack over any link that meets
// its contract. endpoint.go wires an interface's endpoint to the stack.
// Concerns live in their own files, as in drivers/infiniband/ulp/ipoib:
// netdev.go (devices, carrier), child.go (create and delete child),
// mode.go (open, stop, mode and MTU), features.go, ethtool.go (coalescing,
// statistics), params.go, persist.go, mcast.go (the dev_mc list), addr.go
// and addrconf.go (addresses), ping.go and route.go (the stack's answers
// as the protocol reports them), sm.go (fabric events), debugfs.go,
// klog.go and perf.go.
//
// It may import driver/ipoib, driver/inet, driver/fabric, driver/verbs,
// driver/header, driver/store, netlinkx (the types it answers in) and
// sysfs (the types of its sysfs view); its tests also use
// driver/clocktest.
package driver

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/driver/store"
	"github.com/ibctl/ibctl/driver/verbs"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// Options configure a driver.
type Options struct {
	// Topology is the fabric; nil means fabric.DefaultTopology (or the
	// topology saved in the store by an earlier run).
	Topology *fabric.Topology
	// Store makes changes durable; nil keeps them in memory only.
	Store *store.Store
	// Params are module parameters given at start (send_queue_size, ...).
	Params map[string]int
	// Log receives kernel-style messages ("ib0: ..."); nil discards them.
	Log func(msg string)
	// Now is the clock (time.Now when nil, Clock.Now when Clock is set).
	Now func() time.Time
	// Clock is the driver's one clock: the HCAs' transport and CQ
	// moderation timers, the communication managers' retries and
	// time-wait, the IP stacks' timers and ping's deadlines run on it.
	// nil means the system clock. Tests pass a verbs.ManualClock.
	Clock verbs.Clock
	// KernelRelease is reported as the driver version by ethtool -i.
	KernelRelease string
	// LoseFrame, when set, is shown every frame an HCA port puts on the
	// wire, in the sender's goroutine, and discards those it returns true
	// for, as a lossy link would. It is a test hook (losing a fragment of
	// a datagram, or watching what a node sends); the kernel has no such
	// knob and nothing outside tests sets it.
	LoseFrame func(from fabric.PortRef, p *verbs.Packet) bool
	// Netns gives every node a network namespace with its interfaces as
	// kernel netdevs (kernelnet.go), as the topology's "netns" does.
	Netns bool
}

// Driver is the emulated driver for all nodes of a fabric. mu plays the
// role of RTNL: every operation that reads or changes netdevs holds it.
type Driver struct {
	mu      sync.Mutex
	mon     monitorHub // subscribers to changes (monitor.go); after mu in lock order
	fab     *fabric.Fabric
	st      *store.Store
	nodes   map[string]*stack
	order   []string
	log     func(string)
	now     func() time.Time
	nanos   func() int64 // now in Unix ns, cheaply (see New)
	clock   verbs.Clock  // nil: the system clock
	timers  verbs.Clock  // the IP stacks' timers: clock, or the system's timers reading now
	lose    func(fabric.PortRef, *verbs.Packet) bool
	started time.Time
	stop    chan struct{}
	once    sync.Once
	status  netlinkx.Status
	release string

	endpoints *ipoib.Registry // open endpoints by interface address (perf)
	netns     bool            // nodes have namespaces (kernelnet.go)

	evmu    sync.Mutex
	pending []fabric.Event // fabric events not yet flushed (see sm.go)
}

// New builds the fabric, creates a parent netdev per port on every node and
// restores the saved configuration from the store.
func New(opts Options) (*Driver, error) {
	d := &Driver{st: opts.Store, log: opts.Log, now: opts.Now, clock: opts.Clock, nodes: map[string]*stack{},
		stop: make(chan struct{}), release: opts.KernelRelease, lose: opts.LoseFrame, endpoints: &ipoib.Registry{}}
	if d.release == "" {
		d.release = defaultRelease
	}
	if d.log == nil {
		d.log = func(string) {}
	}
	if d.now == nil && d.clock != nil {
		d.now = d.clock.Now
	}
	if d.now == nil {
		d.now = time.Now
		// The transmit path reads the time of every packet (neighbour
		// use): on the system clock, the monotonic reading alone.
		base := time.Now()
		d.nanos = func() int64 { return base.UnixNano() + int64(time.Since(base)) }
	} else {
		d.nanos = func() int64 { return d.now().UnixNano() }
	}
	d.started = d.now()
	d.timers = d.clock
	if d.timers == nil {
		d.timers = wallTimers{now: d.now}
	}
	topo, err := d.loadTopology(opts.Topology, opts.Netns)
	if err != nil {
		return nil, err
	}
	if d.fab, err = fabric.New(topo); err != nil {
		return nil, fmt.Errorf("fabric: %w", err)
	}
	d.fab.Subscribe(d.onEvent)
	d.fab.SetChangeHook(d.smChanged)
	params, err := d.loadParams(opts.Params)
	if err != nil {
		return nil, err
	}
	for _, name := range d.fab.NodeNames() {
		ns, _ := d.fab.Node(name)
		n := newStack(d, ns, params)
		if err := n.newHCAPorts(); err != nil {
			return nil, fmt.Errorf("hca %s: %w", name, err)
		}
		d.nodes[name] = n
		d.order = append(d.order, name)
		if err := n.restore(); err != nil {
			return nil, fmt.Errorf("restore %s: %w", name, err)
		}
	}
	if topo.Netns {
		if err := d.openNamespaces(); err != nil {
			return nil, err
		}
		d.netns = true
	}
	return d, nil
}

// NodeNames lists the nodes in topology order.
func (d *Driver) NodeNames() []string { return append([]string(nil), d.order...) }

// Node returns a node by name; "" is the first node.
func (d *Driver) Node(name string) (*Node, error) {
	if name == "" {
		name = d.order[0]
	}
	n, ok := d.nodes[name]
	if !ok {
		return nil, errorf("node", name, unix.ENOENT, "no node %q in the fabric", name)
	}
	return &Node{stack: n}, nil
}

// Deferred returns a handle whose changes are written to the store but
// synced only by Sync (or by any later synced change): a batch of
// commands pays for one sync instead of one per command.
func (n *Node) Deferred() *Node { return &Node{stack: n.stack, deferSync: true} }

// Sync makes every change applied through any handle durable.
func (d *Driver) Sync() error {
	if d.st == nil {
		return nil
	}
	return d.st.Sync()
}

// Fabric returns the fabric.
func (d *Driver) Fabric() *fabric.Fabric { return d.fab }

// SetStatus records how the daemon serves this driver (socket, state dir).
func (d *Driver) SetStatus(st netlinkx.Status) { d.status = st }

// Status reports the driver's process, socket and size.
func (d *Driver) Status() netlinkx.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.status
	st.PID = uint32(os.Getpid())
	st.Nodes = d.NodeNames()
	st.Uptime = uint64(d.now().Sub(d.started) / time.Second)
	st.StartedNs = d.started.UnixNano()
	st.Links = 0
	for _, n := range d.nodes {
		st.Links += uint32(n.order.len())
	}
	return st
}

// Stop signals Done.
func (d *Driver) Stop() { d.once.Do(func() { close(d.stop) }) }

// Done is closed when a client asked the driver to stop.
func (d *Driver) Done() <-chan struct{} { return d.stop }

// wallTimers is the IP stacks' clock when Options.Clock is nil: the time
// is the driver's, the timers are the system's.
type wallTimers struct{ now func() time.Time }

func (c wallTimers) Now() time.Time { return c.now() }

func (wallTimers) AfterFunc(d time.Duration, f func()) verbs.Timer { return time.AfterFunc(d, f) }
