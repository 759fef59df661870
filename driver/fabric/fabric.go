package fabric

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Fabric is the running fabric: ports with GUIDs and LIDs, and the subnet
// manager's partition table from which it programs every port's P_Key table.
type Fabric struct {
	mu         sync.Mutex
	topo       *Topology
	nodes      map[string]*NodeState
	partitions []Partition
}

// NodeState is one node as the subnet manager sees it.
type NodeState struct {
	Index int
	Spec  Node
	GUID  uint64
}

// New brings up the fabric for t (validated first).
func New(t *Topology) (*Fabric, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	f := &Fabric{topo: t, nodes: map[string]*NodeState{}, partitions: append([]Partition(nil), t.Partitions...)}
	for i, n := range t.Nodes {
		guid := uint64(0x0002c90300000000) | uint64(i+1)<<12
		if n.GUID != "" {
			guid, _ = strconv.ParseUint(strings.TrimPrefix(n.GUID, "0x"), 16, 64)
		}
		f.nodes[n.Name] = &NodeState{Index: i, Spec: n, GUID: guid}
	}
	return f, nil
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

// LID is the port's LID as assigned by the subnet manager (node0 port 1 = 1).
func (n *NodeState) LID(port int) uint16 { return uint16(n.Index*len(n.Spec.Ports) + port) }

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
// Full members have bit 15 set.
func (f *Fabric) PKeyTable(node string, port int) []uint16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var table []uint16
	for _, p := range f.partitions {
		v, _ := strconv.ParseUint(p.PKey, 0, 16)
		full, ok := membership(p, node, port)
		if !ok {
			continue
		}
		key := uint16(v) & 0x7fff
		if full {
			key |= 0x8000
		}
		if key&0x7fff == 0x7fff {
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
	for _, p := range f.partitions {
		v, _ := strconv.ParseUint(p.PKey, 0, 16)
		if uint16(v)&0x7fff == pkey&0x7fff {
			return p.MTU, true
		}
	}
	return 0, false
}

// Partitions lists the partition table sorted by P_Key.
func (f *Fabric) Partitions() []Partition {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]Partition(nil), f.partitions...)
	sort.Slice(out, func(i, j int) bool { return out[i].PKey < out[j].PKey })
	return out
}

// FindPKey is ib_find_pkey as IPoIB uses it: the table index of the entry
// with the same low 15 bits, a full member preferred over a limited one.
func FindPKey(table []uint16, pkey uint16) (int, bool) {
	if pkey&0x7fff == 0 {
		return 0, false
	}
	partial := -1
	for i, e := range table {
		if e&0x7fff != pkey&0x7fff {
			continue
		}
		if e&0x8000 != 0 {
			return i, true
		}
		if partial < 0 {
			partial = i
		}
	}
	return partial, partial >= 0
}

// String names a port for messages.
func PortName(node string, port int) string { return fmt.Sprintf("%s/%d", node, port) }
