package fabric_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/fabric/fabrictest"
)

// largeTopology is n nodes of the shorthand in the default partition.
func largeTopology(t testing.TB, n int) *fabric.Topology {
	t.Helper()
	var topo fabric.Topology
	if err := json.Unmarshal(fmt.Appendf(nil, `{"nodes": %d, "partitions": [{"pkey": "0xffff", "all": "full"}]}`, n), &topo); err != nil {
		t.Fatal(err)
	}
	return &topo
}

// The switch's work for a change is the change's, not the fabric's:
// attaching a port, and a join and leave of the broadcast group by the
// last member, allocate as much on a fabric of 1024 nodes, every other
// port a member, as on one of 4 (before, every change rebuilt a table of
// every port: thousands of allocations more).
func TestChangeCostIndependentOfFabricSize(t *testing.T) {
	// Under the race detector the mean count of a run varies by one
	// between runs of the same fabric; without it, it is exact.
	slack := 0.0
	if raceEnabled {
		slack = 1
	}
	bcast := fabric.JoinRequest{MGID: fabric.BroadcastMGID(0xffff), PKey: 0xffff, JoinState: fabric.FullMember}
	costs := map[string][]float64{}
	for _, size := range []int{4, 1024} {
		f := newFabric(t, largeTopology(t, size))
		var refs []fabric.PortRef
		for i := range size {
			for port := 1; port <= 2; port++ {
				refs = append(refs, fabric.PortRef{Node: fmt.Sprintf("node%d", i), Port: port})
			}
		}
		last := refs[len(refs)-1]
		for _, r := range refs[:len(refs)-1] {
			wantErr(t, f.Attach(r.Node, r.Port, &countEP{}), 0, "")
			if _, err := f.Join(r, bcast); err != nil {
				t.Fatal(err)
			}
		}
		costs["attach and detach"] = append(costs["attach and detach"], testing.AllocsPerRun(200, func() {
			wantErr(t, f.Attach(last.Node, last.Port, &countEP{}), 0, "")
			wantErr(t, f.Detach(last.Node, last.Port), 0, "")
		}))
		wantErr(t, f.Attach(last.Node, last.Port, &countEP{}), 0, "")
		costs["join and leave"] = append(costs["join and leave"], testing.AllocsPerRun(200, func() {
			if _, err := f.Join(last, bcast); err != nil {
				t.Fatal(err)
			}
			wantErr(t, f.Leave(last, 0, bcast.MGID, fabric.FullMember), 0, "")
		}))
	}
	for what, c := range costs {
		if c[1] < c[0]-slack || c[1] > c[0]+slack {
			t.Errorf("%s: %v allocs with 4 nodes, %v with 1024", what, c[0], c[1])
		}
	}
}

// recordEP notes the ports a multicast frame reaches, in order.
type recordEP struct {
	ref  fabric.PortRef
	seen *[]fabric.PortRef
}

func (r recordEP) Deliver(fabric.Frame) { *r.seen = append(*r.seen, r.ref) }

// Multicast copies go to the receiving members in port order, however
// they joined and left: at the end, in the middle, before every other.
func TestMulticastReceiversInPortOrder(t *testing.T) {
	type step struct {
		join  bool
		state fabric.JoinState
		ref   fabric.PortRef
		want  []fabric.PortRef // delivered after the step
	}
	join := func(r fabric.PortRef, js fabric.JoinState, want ...fabric.PortRef) step {
		return step{true, js, r, want}
	}
	leave := func(r fabric.PortRef, js fabric.JoinState, want ...fabric.PortRef) step {
		return step{false, js, r, want}
	}
	full, sendOnly := fabric.FullMember, fabric.SendOnlyFullMember
	tests := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{join(n0p1, full, n0p1), join(n0p2, full, n0p1, n0p2), join(n1p1, full, n0p1, n0p2, n1p1),
			join(n1p2, full, all...)}},
		{"reverse", []step{join(n1p2, full, n1p2), join(n1p1, full, n1p1, n1p2), join(n0p2, full, n0p2, n1p1, n1p2),
			join(n0p1, full, all...)}},
		{"middle, leave, again", []step{join(n0p1, full, n0p1), join(n1p2, full, n0p1, n1p2), join(n0p2, full, n0p1, n0p2, n1p2),
			leave(n0p2, full, n0p1, n1p2), join(n1p1, full, n0p1, n1p1, n1p2), join(n0p2, full, all...),
			leave(n1p2, full, n0p1, n0p2, n1p1), join(n1p2, full, all...)}},
		{"send-only does not receive", []step{join(n0p1, full, n0p1), join(n1p1, sendOnly, n0p1), join(n0p2, full, n0p1, n0p2),
			join(n1p1, full, n0p1, n0p2, n1p1), leave(n1p1, full, n0p1, n0p2), leave(n0p1, full, n0p2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, nil)
			var seen []fabric.PortRef
			for _, r := range all {
				wantErr(t, f.Attach(r.Node, r.Port, recordEP{r, &seen}), 0, "")
			}
			mgid := fabric.BroadcastMGID(0xffff)
			for i, s := range tt.steps {
				if s.join {
					if _, err := f.Join(s.ref, fabric.JoinRequest{MGID: mgid, PKey: 0xffff, JoinState: s.state}); err != nil {
						t.Fatal(err)
					}
				} else {
					wantErr(t, f.Leave(s.ref, 0, mgid, s.state), 0, "")
				}
				seen = nil
				f.Send(n0p1, &fabrictest.Frame{DLID: 0xc000})
				wantEqual(t, fmt.Sprintf("step %d: delivered to", i+1), seen, s.want)
			}
		})
	}
}

// A new group takes the lowest free MLID, one a deleted group freed
// included.
func TestGroupTakesLowestFreeMLID(t *testing.T) {
	f := newFabric(t, nil)
	mgid := func(i byte) [16]byte { return [16]byte{0xff, 0x12, 0x60, 0x1b, 0xff, 0xff, 15: i} }
	join := func(i byte) uint16 {
		t.Helper()
		m, err := f.Join(n0p1, fabric.JoinRequest{MGID: mgid(i), PKey: 0xffff, JoinState: fabric.FullMember, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		return m.MLID
	}
	leave := func(i byte) { t.Helper(); wantErr(t, f.Leave(n0p1, 0, mgid(i), fabric.FullMember), 0, "") }
	var got []uint16
	got = append(got, join(1), join(2), join(3))
	leave(2)
	leave(1)
	got = append(got, join(4), join(5), join(6))
	leave(5)
	got = append(got, join(7))
	wantEqual(t, "MLIDs", got, []uint16{0xc001, 0xc002, 0xc003, 0xc001, 0xc002, 0xc004, 0xc002})
}
