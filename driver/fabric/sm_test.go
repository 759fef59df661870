package fabric_test

import (
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/fabric/fabrictest"
	"golang.org/x/sys/unix"
)

func TestAssignment(t *testing.T) {
	tests := []struct {
		name string
		topo *fabric.Topology
		want []fabric.PortInfo
	}{
		{"default", fabric.DefaultTopology(), []fabric.PortInfo{
			{Port: n0p1, GUID: 0x0002c90300001001, LID: 1},
			{Port: n0p2, GUID: 0x0002c90300001002, LID: 2},
			{Port: n1p1, GUID: 0x0002c90300002001, LID: 3},
			{Port: n1p2, GUID: 0x0002c90300002002, LID: 4},
		}},
		{"uneven ports, given GUID", &fabric.Topology{Nodes: []fabric.Node{
			{Name: "a", Ports: []fabric.Port{{}, {}}},
			{Name: "b", GUID: "0x0002c903000abc00", Ports: []fabric.Port{{}}},
			{Name: "c", Ports: []fabric.Port{{}, {}}},
		}}, []fabric.PortInfo{
			{Port: fabric.PortRef{Node: "a", Port: 1}, GUID: 0x0002c90300001001, LID: 1},
			{Port: fabric.PortRef{Node: "a", Port: 2}, GUID: 0x0002c90300001002, LID: 2},
			{Port: fabric.PortRef{Node: "b", Port: 1}, GUID: 0x0002c903000abc01, LID: 3},
			{Port: fabric.PortRef{Node: "c", Port: 1}, GUID: 0x0002c90300003001, LID: 4},
			{Port: fabric.PortRef{Node: "c", Port: 2}, GUID: 0x0002c90300003002, LID: 5},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, tt.topo)
			if got := f.SMLID(); got != 1 {
				t.Fatalf("SMLID = %d, want 1", got)
			}
			for _, w := range tt.want {
				got, ok := f.PortInfo(w.Port.Node, w.Port.Port)
				if !ok {
					t.Fatalf("PortInfo(%s): missing", w.Port)
				}
				ns, _ := f.Node(w.Port.Node)
				w.Spec = ns.Spec.Ports[w.Port.Port-1]
				w.GID = gid(w.GUID)
				w.SMLID, w.State, w.PhysState = 1, fabric.StateActive, fabric.PhysLinkUp
				wantEqual(t, w.Port.String(), got, w)
				if ns.LID(w.Port.Port) != w.LID || ns.PortGUID(w.Port.Port) != w.GUID || ns.PortGID(w.Port.Port) != w.GID {
					t.Fatalf("NodeState disagrees for %s: LID %d GUID %#x GID %x", w.Port, ns.LID(w.Port.Port),
						ns.PortGUID(w.Port.Port), ns.PortGID(w.Port.Port))
				}
			}
			if _, ok := f.PortInfo("node9", 1); ok {
				t.Fatal("PortInfo(node9/1) exists")
			}
		})
	}
	// Port GID bytes, spelled out once.
	f := newFabric(t, nil)
	info, _ := f.PortInfo("node1", 2)
	wantEqual(t, "node1/2 GID", info.GID, [16]byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x20, 0x02})
}

// TestPartitionChanges runs one scenario; each step checks the error, the
// events and all four P_Key tables.
func TestPartitionChanges(t *testing.T) {
	f := newFabric(t, nil)
	log := fabrictest.Record(f)
	defer log.Stop()
	type tabs = map[string][]uint16
	steps := []struct {
		name   string
		do     func() error
		errno  unix.Errno
		msg    string
		events []fabric.Event
		tables tabs
	}{
		{"initial", func() error { return nil }, 0, "", nil,
			tabs{"node0/1": hex(0xffff), "node0/2": hex(0xffff), "node1/1": hex(0xffff), "node1/2": hex(0xffff)}},
		{"add 0x8001", func() error {
			return f.AddPartition(fabric.Partition{PKey: "0x8001", Members: []fabric.Member{{Node: "node0", Port: 1, Full: true}, {Node: "node1", Port: 1}}})
		}, 0, "", []fabric.Event{ev(fabric.PKeyChange, n0p1), ev(fabric.PKeyChange, n1p1)},
			tabs{"node0/1": hex(0xffff, 0x8001), "node0/2": hex(0xffff), "node1/1": hex(0xffff, 0x0001), "node1/2": hex(0xffff)}},
		{"duplicate (limited form)", func() error { return f.AddPartition(fabric.Partition{PKey: "0x0001"}) },
			unix.EEXIST, "add partition 0x0001: file exists (partition 0x8001 exists)", nil, nil},
		{"duplicate of the first partition", func() error { return f.AddPartition(fabric.Partition{PKey: "0x7fff"}) },
			unix.EEXIST, "add partition 0x7fff: file exists (partition 0xffff exists)", nil, nil},
		{"invalid pkey", func() error { return f.AddPartition(fabric.Partition{PKey: "0x8000"}) },
			unix.EINVAL, `add partition 0x8000: invalid argument (invalid pkey "0x8000")`, nil, nil},
		{"unknown member", func() error {
			return f.AddPartition(fabric.Partition{PKey: "0x8005", Members: []fabric.Member{{Node: "node9", Port: 1}}})
		}, unix.EINVAL, `add partition 0x8005: invalid argument (unknown node "node9")`, nil, nil},
		{"add 0x8002 all limited", func() error { return f.AddPartition(fabric.Partition{PKey: "0x8002", All: "limited", MTU: 4096}) },
			0, "", []fabric.Event{ev(fabric.PKeyChange, n0p1), ev(fabric.PKeyChange, n0p2), ev(fabric.PKeyChange, n1p1), ev(fabric.PKeyChange, n1p2)},
			tabs{"node0/1": hex(0xffff, 0x8001, 0x0002), "node0/2": hex(0xffff, 0x0002), "node1/1": hex(0xffff, 0x0001, 0x0002), "node1/2": hex(0xffff, 0x0002)}},
		{"node0/2 full in 0x8002", func() error { return f.SetMembership(0x8002, fabric.Member{Node: "node0", Port: 2, Full: true}) },
			0, "", []fabric.Event{ev(fabric.PKeyChange, n0p2)},
			tabs{"node0/1": hex(0xffff, 0x8001, 0x0002), "node0/2": hex(0xffff, 0x8002), "node1/1": hex(0xffff, 0x0001, 0x0002), "node1/2": hex(0xffff, 0x0002)}},
		{"same membership again", func() error { return f.SetMembership(0x8002, fabric.Member{Node: "node0", Port: 2, Full: true}) },
			0, "", nil, nil},
		{"the first explicit member limited", func() error { return f.SetMembership(0x8002, fabric.Member{Node: "node0", Port: 2}) },
			0, "", []fabric.Event{ev(fabric.PKeyChange, n0p2)},
			tabs{"node0/1": hex(0xffff, 0x8001, 0x0002), "node0/2": hex(0xffff, 0x0002), "node1/1": hex(0xffff, 0x0001, 0x0002), "node1/2": hex(0xffff, 0x0002)}},
		{"and full again", func() error { return f.SetMembership(0x8002, fabric.Member{Node: "node0", Port: 2, Full: true}) },
			0, "", []fabric.Event{ev(fabric.PKeyChange, n0p2)},
			tabs{"node0/1": hex(0xffff, 0x8001, 0x0002), "node0/2": hex(0xffff, 0x8002), "node1/1": hex(0xffff, 0x0001, 0x0002), "node1/2": hex(0xffff, 0x0002)}},
		{"node1/1 full in 0x8001", func() error { return f.SetMembership(0x0001, fabric.Member{Node: "node1", Port: 1, Full: true}) },
			0, "", []fabric.Event{ev(fabric.PKeyChange, n1p1)},
			tabs{"node0/1": hex(0xffff, 0x8001, 0x0002), "node0/2": hex(0xffff, 0x8002), "node1/1": hex(0xffff, 0x8001, 0x0002), "node1/2": hex(0xffff, 0x0002)}},
		{"remove node1/2 from an all partition", func() error { return f.RemoveMember(0x8002, n1p2) },
			0, "", []fabric.Event{ev(fabric.PKeyChange, n1p2)},
			tabs{"node0/1": hex(0xffff, 0x8001, 0x0002), "node0/2": hex(0xffff, 0x8002), "node1/1": hex(0xffff, 0x8001, 0x0002), "node1/2": hex(0xffff)}},
		{"remove it again", func() error { return f.RemoveMember(0x8002, n1p2) },
			unix.ENOENT, "remove member 0x8002: no such file or directory (node1/2 is not a member of 0x8002)", nil, nil},
		{"unknown partition", func() error { return f.SetMembership(0x8003, fabric.Member{Node: "node0", Port: 1}) },
			unix.ENOENT, "set membership 0x8003: no such file or directory (no partition 0x8003)", nil, nil},
		{"unknown port", func() error { return f.SetMembership(0x8001, fabric.Member{Node: "node0", Port: 3}) },
			unix.ENODEV, "set membership 0x8001: no such device (no port node0/3)", nil, nil},
		{"delete 0x8001 by its limited form", func() error { return f.DeletePartition(0x0001) },
			0, "", []fabric.Event{ev(fabric.PKeyChange, n0p1), ev(fabric.PKeyChange, n1p1)},
			tabs{"node0/1": hex(0xffff, 0x0002), "node0/2": hex(0xffff, 0x8002), "node1/1": hex(0xffff, 0x0002), "node1/2": hex(0xffff)}},
		{"delete it again", func() error { return f.DeletePartition(0x8001) },
			unix.ENOENT, "delete partition 0x8001: no such file or directory (no partition 0x8001)", nil, nil},
		{"delete invalid", func() error { return f.DeletePartition(0x8000) },
			unix.EINVAL, "delete partition 0x8000: invalid argument (invalid P_Key)", nil, nil},
		{"delete the default partition", func() error { return f.DeletePartition(0x7fff) },
			0, "", []fabric.Event{ev(fabric.PKeyChange, n0p1), ev(fabric.PKeyChange, n0p2), ev(fabric.PKeyChange, n1p1), ev(fabric.PKeyChange, n1p2)},
			tabs{"node0/1": hex(0x0002), "node0/2": hex(0x8002), "node1/1": hex(0x0002), "node1/2": nil}},
	}
	last := tables(f)
	for _, s := range steps {
		wantErr(t, s.do(), s.errno, s.msg)
		wantEqual(t, s.name+": events", log.Take(), s.events)
		if s.tables == nil {
			s.tables = last // unchanged
		}
		wantEqual(t, s.name+": tables", tables(f), s.tables)
		last = s.tables
	}
	wantEqual(t, "partitions", f.Partitions(), []fabric.Partition{{PKey: "0x8002", MTU: 4096, Members: []fabric.Member{
		{Node: "node0", Port: 1}, {Node: "node0", Port: 2, Full: true}, {Node: "node1", Port: 1}}}})
	wantEqual(t, "groups", f.Groups(), []fabric.Group{{MGID: fabric.BroadcastMGID(0x8002), MLID: 0xc002, PKey: 0x8002,
		QKey: 0x0b1b, MTU: 4096, Rate: 100000, Broadcast: true}})
	mtu, ok := f.BroadcastMTU(0x0002)
	if mtu != 4096 || !ok {
		t.Fatalf("BroadcastMTU(0x0002) = %d, %v", mtu, ok)
	}
	if _, ok := f.BroadcastMTU(0xffff); ok {
		t.Fatal("BroadcastMTU(0xffff) after deleting the default partition")
	}
}

// TestTopologyUntouched: runtime changes work on the SM's copy.
func TestTopologyUntouched(t *testing.T) {
	topo := mixedTopology()
	f := newFabric(t, topo)
	wantErr(t, f.SetMembership(0x8001, fabric.Member{Node: "node1", Port: 1, Full: true}), 0, "")
	wantErr(t, f.RemoveMember(0x8001, n0p2), 0, "")
	wantEqual(t, "topology 0x8001", topo.Partitions[1].Members,
		[]fabric.Member{{Node: "node0", Port: 1, Full: true}, {Node: "node0", Port: 2}, {Node: "node1", Port: 1}})
	if f.Topology() != topo {
		t.Fatal("Topology() is not the topology given")
	}
	p := f.Partitions()
	p[1].Members[0].Full = false
	wantEqual(t, "0x8001 after editing a copy", f.Partitions()[1].Members,
		[]fabric.Member{{Node: "node0", Port: 1, Full: true}, {Node: "node1", Port: 1, Full: true}})
}

func TestPortStateEvents(t *testing.T) {
	f := newFabric(t, nil)
	log := fabrictest.Record(f)
	steps := []struct {
		ref    fabric.PortRef
		state  fabric.State
		errno  unix.Errno
		msg    string
		events []fabric.Event
	}{
		{n1p2, fabric.StateDown, 0, "", []fabric.Event{ev(fabric.PortDown, n1p2)}},
		{n1p2, fabric.StateDown, 0, "", nil},
		{n1p2, fabric.StateActive, 0, "", []fabric.Event{ev(fabric.PortActive, n1p2)}},
		{n1p2, fabric.State(2), unix.EINVAL, "set port state node1/2: invalid argument (invalid state 2)", nil},
		{fabric.PortRef{Node: "node1", Port: 3}, fabric.StateDown, unix.ENODEV, "set port state node1/3: no such device (no such port)", nil},
		{n0p1, fabric.StateDown, 0, "", []fabric.Event{ev(fabric.PortDown, n0p1)}},
	}
	for _, s := range steps {
		wantErr(t, f.SetPortState(s.ref.Node, s.ref.Port, s.state), s.errno, s.msg)
		wantEqual(t, "events", log.Take(), s.events)
	}
	wantEqual(t, "states", []fabric.State{f.PortState("node0", 1), f.PortState("node0", 2), f.PortState("node1", 2), f.PortState("node9", 1)},
		[]fabric.State{fabric.StateDown, fabric.StateActive, fabric.StateActive, 0})
	info, _ := f.PortInfo("node0", 1)
	if info.State != fabric.StateDown || info.PhysState != fabric.PhysDisabled || info.State.String() != "Down" || info.PhysState.String() != "Disabled" {
		t.Fatalf("node0/1 info: %v %v", info.State, info.PhysState)
	}
	c, _ := f.Counters("node1", 2)
	if c.LinkDowned != 1 {
		t.Fatalf("node1/2 LinkDowned = %d, want 1", c.LinkDowned)
	}
	// The SM LID stays the first port's LID even when it is down.
	if f.SMLID() != 1 {
		t.Fatalf("SMLID = %d", f.SMLID())
	}
}

// TestEventDelivery: every subscriber sees every event in order, after
// the change is in place and without the SM's lock held; cancel stops it.
func TestEventDelivery(t *testing.T) {
	f := newFabric(t, nil)
	type seen struct {
		sub   string
		ev    fabric.Event
		table []uint16
	}
	var got []seen
	sub := func(name string) func(fabric.Event) {
		return func(e fabric.Event) {
			// Calls back into the fabric: deadlocks if the lock is held.
			got = append(got, seen{name, e, f.PKeyTable(e.Node, e.Port)})
		}
	}
	cancelA := f.Subscribe(sub("a"))
	cancelB := f.Subscribe(sub("b"))
	wantErr(t, f.AddPartition(fabric.Partition{PKey: "0x8001", Members: []fabric.Member{{Node: "node1", Port: 2, Full: true}, {Node: "node0", Port: 1}}}), 0, "")
	cancelA()
	cancelA()
	wantErr(t, f.SetPortState("node0", 2, fabric.StateDown), 0, "")
	cancelB()
	wantErr(t, f.SetPortState("node0", 2, fabric.StateActive), 0, "")
	wantEqual(t, "deliveries", got, []seen{
		{"a", ev(fabric.PKeyChange, n0p1), hex(0xffff, 0x0001)},
		{"b", ev(fabric.PKeyChange, n0p1), hex(0xffff, 0x0001)},
		{"a", ev(fabric.PKeyChange, n1p2), hex(0xffff, 0x8001)},
		{"b", ev(fabric.PKeyChange, n1p2), hex(0xffff, 0x8001)},
		{"b", ev(fabric.PortDown, n0p2), hex(0xffff)},
	})
	if s := ev(fabric.PKeyChange, n0p1).String(); s != "PKeyChange node0/1" {
		t.Fatalf("Event.String = %q", s)
	}
}

func TestReregister(t *testing.T) {
	f := newFabric(t, nil)
	if _, err := f.Join(n0p1, fabric.JoinRequest{MGID: fabric.BroadcastMGID(0xffff), PKey: 0xffff, JoinState: fabric.FullMember}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Join(n0p1, fabric.JoinRequest{MGID: mgid(0xffff, 1), PKey: 0xffff, JoinState: fabric.FullMember, Create: true}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, f.SetPortState("node1", 1, fabric.StateDown), 0, "")
	log := fabrictest.Record(f)
	f.Reregister()
	wantEqual(t, "events", log.Take(), []fabric.Event{ev(fabric.SMReregister, n0p1), ev(fabric.SMReregister, n0p2), ev(fabric.SMReregister, n1p2)})
	wantEqual(t, "groups", f.Groups(), []fabric.Group{{MGID: fabric.BroadcastMGID(0xffff), MLID: 0xc000, PKey: 0xffff,
		QKey: 0x0b1b, MTU: 2048, Rate: 100000, Broadcast: true}})
}

// Partitions lists the table sorted by the P_Key as written, whatever
// the order the partitions came in.
func TestPartitionsSorted(t *testing.T) {
	f := newFabric(t, mixedTopology())
	wantErr(t, f.AddPartition(fabric.Partition{PKey: "0x0003"}), 0, "")
	var got []string
	for _, p := range f.Partitions() {
		got = append(got, p.PKey)
	}
	wantEqual(t, "P_Keys", got, []string{"0x0003", "0x8001", "0x8002", "0xffff"})
}
