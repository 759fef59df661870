package fabric

import (
	"fmt"
	"github.com/ibctl/ibctl/driver/header"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Fabric is the running fabric: a switch joining every HCA port and the
// subnet manager (SM) with its subnet administrator (SA). The SM assigns
// LIDs and GIDs, programs every port's P_Key table from its partition
// table, owns one IPoIB broadcast group per partition and tells
// subscribers about changes (events.go); the SA answers multicast joins
// (mcast.go) and path queries (path.go); the switch forwards frames
// between attached endpoints (switch.go).
//
// Partitions, port states and multicast groups change under mu; each change
// updates what the switch forwards by (a port's fwd, a group's receivers,
// the multicast routes), which Send reads without locking.
type Fabric struct {
	topo   *Topology
	nodes  map[string]*NodeState
	ports  []*port            // topology order; fixed after New
	byRef  map[PortRef]*port  // fixed after New
	byGID  map[[16]byte]*port // fixed after New
	nports map[string]int     // node name → port count, for checkPartition

	byLID []*port // by unicast LID, nil where none; fixed after New
	// mroutes are the switch's multicast routes by MLID - MulticastLIDBase:
	// the group, whose receivers Send reads (group.recv); nil where no
	// group. Stored under mu, read by Send without locking.
	mroutes [MaxMulticastLID - MulticastLIDBase + 1]atomic.Pointer[group]
	ev      notifier
	hook    atomic.Pointer[func()] // SetChangeHook's

	mu sync.Mutex
	// Caller holds mu.
	partitions []partition
	// Caller holds mu.
	groups map[[16]byte]*group
	// Caller holds mu.
	mlids map[uint16]*group
	// Caller holds mu.
	subs []*subscriber
	// Caller holds mu.
	nextTicket uint64
	// Caller holds mu: every MLID below MulticastLIDBase+mlidFree is taken.
	mlidFree uint16
}

// partition is one entry of the SM's partition table.
type partition struct {
	key  uint16 // partition number: the P_Key's low 15 bits
	spec Partition
}

// port is one HCA port as the SM and the switch see it.
type port struct {
	idx  int // position in Fabric.ports
	ref  PortRef
	spec Port
	lid  uint16
	guid uint64
	gid  [16]byte
	ctr  counters // atomic; bumped by Send without any lock

	// Guarded by Fabric.mu; Send sees them through up and fwd.
	state State
	ep    Endpoint

	up  atomic.Bool              // state is StateActive
	fwd atomic.Pointer[Endpoint] // ep when up and attached, else nil
}

// syncFwdLocked publishes the port's state and endpoint to Send.
//
// Caller holds Fabric.mu.
func (p *port) syncFwdLocked() {
	p.up.Store(p.state == StateActive)
	if p.state == StateActive && p.ep != nil {
		ep := p.ep
		p.fwd.Store(&ep)
	} else {
		p.fwd.Store(nil)
	}
}

// PortRef names one HCA port: node name and 1-based port number.
type PortRef struct {
	Node string
	Port int
}

func (r PortRef) String() string { return PortName(r.Node, r.Port) }

// NodeState is one node as the subnet manager sees it.
type NodeState struct {
	Index int
	Spec  Node
	GUID  uint64

	firstLID uint16 // LID of port 1; 0 when built outside New
}

// Unicast and multicast LID ranges (IBA 4.1.3).
const (
	MaxUnicastLID    = 0xbfff
	MulticastLIDBase = 0xc000
	MaxMulticastLID  = 0xfffe // 0xffff is the permissive LID
)

// New brings up the fabric for t (validated first): LIDs, GUIDs and GIDs
// for every port (all Active), the partition table with one broadcast
// group per partition, and an empty switch.
func New(t *Topology) (*Fabric, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	f := &Fabric{
		topo:   t,
		nodes:  map[string]*NodeState{},
		byRef:  map[PortRef]*port{},
		byGID:  map[[16]byte]*port{},
		nports: map[string]int{},
		groups: map[[16]byte]*group{},
		mlids:  map[uint16]*group{},
	}
	lid := 1
	for i, n := range t.Nodes {
		if lid+len(n.Ports)-1 > MaxUnicastLID {
			return nil, fmt.Errorf("node %q: out of unicast LIDs", n.Name)
		}
		guid := uint64(0x0002c90300000000) | uint64(i+1)<<12
		if n.GUID != "" {
			guid, _ = strconv.ParseUint(strings.TrimPrefix(n.GUID, "0x"), 16, 64)
		}
		ns := &NodeState{Index: i, Spec: n, GUID: guid, firstLID: uint16(lid)}
		f.nodes[n.Name] = ns
		f.nports[n.Name] = len(n.Ports)
		for num := 1; num <= len(n.Ports); num++ {
			p := &port{idx: len(f.ports), ref: PortRef{n.Name, num}, spec: n.Ports[num-1],
				lid: ns.LID(num), guid: ns.PortGUID(num), gid: ns.PortGID(num), state: StateActive}
			if other, dup := f.byGID[p.gid]; dup {
				// Two ports with one GUID: the SM could route to
				// only one of them.
				return nil, fmt.Errorf("node %q port %d: port GUID 0x%016x is also %s's", n.Name, num, p.guid, other.ref)
			}
			p.syncFwdLocked()
			f.ports = append(f.ports, p)
			f.byRef[p.ref] = p
			f.byGID[p.gid] = p
			for int(p.lid) >= len(f.byLID) {
				f.byLID = append(f.byLID, nil)
			}
			f.byLID[p.lid] = p
		}
		lid += len(n.Ports)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, pt := range t.Partitions {
		key, _ := parsePKey(pt.PKey)
		f.partitions = append(f.partitions, partition{key: key, spec: clonePartition(pt)})
		mlid, ok := f.freeMLIDLocked()
		if !ok {
			return nil, fmt.Errorf("partition %q: out of multicast LIDs", pt.PKey)
		}
		f.addBroadcastLocked(key, pt.MTU, mlid)
	}
	f.resyncLocked()
	return f, nil
}

func clonePartition(p Partition) Partition {
	p.Members = append([]Member(nil), p.Members...)
	return p
}

// Topology returns the topology the fabric was built from.
func (f *Fabric) Topology() *Topology { return f.topo }

// NodeNames lists the nodes in topology order.
func (f *Fabric) NodeNames() []string {
	names := make([]string, 0, len(f.topo.Nodes))
	for _, n := range f.topo.Nodes {
		names = append(names, n.Name)
	}
	return names
}

// Node returns a node by name.
func (f *Fabric) Node(name string) (*NodeState, bool) {
	n, ok := f.nodes[name]
	return n, ok
}

// PortGUID is the GUID of port (1-based) of the node.
func (n *NodeState) PortGUID(port int) uint64 { return n.GUID + uint64(port) }

// LID is the port's LID as assigned by the subnet manager: ports are
// numbered from 1 in topology order, so node0 port 1 is 1 and, when every
// node has the same number of ports, node i port p is i × ports + p.
func (n *NodeState) LID(port int) uint16 {
	if n.firstLID == 0 {
		return uint16(n.Index*len(n.Spec.Ports) + port)
	}
	return n.firstLID + uint16(port-1)
}

// PortGID is the port GID: subnet prefix fe80::/64 followed by the port GUID.
func (n *NodeState) PortGID(port int) [16]byte {
	var g [16]byte
	g[0], g[1] = 0xfe, 0x80
	guid := n.PortGUID(port)
	for i := 0; i < 8; i++ {
		g[15-i] = byte(guid >> (8 * i))
	}
	return g
}

// PKeyTable is the port's P_Key table as programmed by the subnet manager:
// the default partition first (index 0), then the others in table order.
// Full members have bit 15 set. It is nil for a port the fabric lacks.
func (f *Fabric) PKeyTable(node string, port int) []uint16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byRef[PortRef{node, port}] == nil {
		return nil
	}
	return f.pkeyTableLocked(PortRef{node, port})
}

// Caller holds f.mu.
func (f *Fabric) pkeyTableLocked(ref PortRef) []uint16 {
	var table []uint16
	for _, p := range f.partitions {
		full, ok := membership(p.spec, ref.Node, ref.Port)
		if !ok {
			continue
		}
		key := p.key
		if full {
			key = header.PKeyFull(key)
		}
		if header.PKeyBase(key) == 0x7fff {
			table = append([]uint16{key}, table...)
		} else {
			table = append(table, key)
		}
	}
	return table
}

func membership(p Partition, node string, port int) (full, ok bool) {
	for _, m := range p.Members {
		if m.Node == node && m.Port == port {
			return m.Full, true
		}
	}
	switch p.All {
	case "full":
		return true, true
	case "limited":
		return false, true
	}
	return false, false
}

// BroadcastMTU is the IB MTU of the partition's broadcast group, which the
// subnet manager creates with the partition; ok is false when the partition
// does not exist.
func (f *Fabric) BroadcastMTU(pkey uint16) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := f.findPartitionLocked(pkey); i >= 0 {
		return f.partitions[i].spec.MTU, true
	}
	return 0, false
}

// Partitions lists the partition table sorted by P_Key (as written).
func (f *Fabric) Partitions() []Partition {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Partition, 0, len(f.partitions))
	for _, p := range f.partitions {
		out = append(out, clonePartition(p.spec))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PKey < out[j].PKey })
	return out
}

// FindPKey is ib_find_pkey as IPoIB uses it: the table index of the entry
// with the same low 15 bits, a full member preferred over a limited one.
func FindPKey(table []uint16, pkey uint16) (int, bool) {
	if !header.PKeyValid(pkey) {
		return 0, false
	}
	partial := -1
	for i, e := range table {
		if header.PKeyBase(e) != header.PKeyBase(pkey) {
			continue
		}
		if header.PKeyIsFull(e) {
			return i, true
		}
		if partial < 0 {
			partial = i
		}
	}
	return partial, partial >= 0
}

// PortName names a port for messages: "node0/1".
func PortName(node string, port int) string { return fmt.Sprintf("%s/%d", node, port) }
