package fabric_test

import (
	"fmt"
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
)

// The SM hands out unicast LIDs 1…0xbfff (IBA 4.1.3) in port order: a
// fabric whose ports take exactly the last one comes up, one port more is
// refused by the node that runs out.
func TestNewUnicastLIDRange(t *testing.T) {
	for _, tt := range []struct {
		name     string
		lastPort int // ports of the last node; the others have 8
		want     string
	}{
		{"last LID taken", 7, ""},
		{"one port beyond it", 8, `node "node6143": out of unicast LIDs`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const full = fabric.MaxUnicastLID / 8 // 6143 nodes of 8 ports: LIDs 1…49144
			nodes := make(fabric.NodeList, full+1)
			for i := range nodes {
				nodes[i] = fabric.Node{Name: fmt.Sprintf("node%d", i), Ports: make([]fabric.Port, 8)}
			}
			nodes[full].Ports = nodes[full].Ports[:tt.lastPort]
			f, err := fabric.New(&fabric.Topology{Nodes: nodes})
			if tt.want != "" {
				if err == nil || err.Error() != tt.want {
					t.Fatalf("New = %v, want %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			info, ok := f.PortInfo(fmt.Sprintf("node%d", full), tt.lastPort)
			if !ok || info.LID != fabric.MaxUnicastLID {
				t.Fatalf("last port: LID %#x (ok %v), want %#x", info.LID, ok, fabric.MaxUnicastLID)
			}
		})
	}
}

// A NodeState built outside New numbers its ports as if every node had
// its number of ports: node i port p is i × ports + p.
func TestNodeStateLIDOutsideNew(t *testing.T) {
	ns := fabric.NodeState{Index: 2, Spec: fabric.Node{Ports: make([]fabric.Port, 2)}}
	wantEqual(t, "LIDs of ports 1 and 2", []uint16{ns.LID(1), ns.LID(2)}, []uint16{5, 6})
}

// FindPKey is ib_find_pkey (drivers/infiniband/core/device.c): the first
// entry with the P_Key's low 15 bits that is a full member, else the first
// limited one. An invalid P_Key (low 15 bits zero) matches nothing here.
func TestFindPKey(t *testing.T) {
	for _, tt := range []struct {
		name  string
		table []uint16
		pkey  uint16
		index int
		ok    bool
	}{
		{"full member", hex(0xffff, 0x8001), 0x8001, 1, true},
		{"limited form finds the full entry", hex(0xffff, 0x8001), 0x0001, 1, true},
		{"limited entry first in the table", hex(0x0001, 0xffff), 0x8001, 0, true},
		{"first of two limited entries", hex(0x0001, 0x0001), 0x0001, 0, true},
		{"full entry after a limited one", hex(0x0001, 0x0002, 0x8001), 0x0001, 2, true},
		{"absent", hex(0xffff, 0x8002), 0x8001, -1, false},
		{"empty table", nil, 0xffff, -1, false},
		{"invalid P_Key", hex(0x8000, 0x0000), 0x8000, 0, false},
		{"invalid limited P_Key", hex(0x8000, 0x0000), 0x0000, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			i, ok := fabric.FindPKey(tt.table, tt.pkey)
			if i != tt.index || ok != tt.ok {
				t.Fatalf("FindPKey(%#04x) = %d, %v, want %d, %v", tt.pkey, i, ok, tt.index, tt.ok)
			}
		})
	}
}
