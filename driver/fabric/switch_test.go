package fabric_test

import (
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/fabric/fabrictest"
	"golang.org/x/sys/unix"
)

// attachAll attaches a fabrictest.Port to each of the four default ports.
func attachAll(t testing.TB, f *fabric.Fabric) map[fabric.PortRef]*fabrictest.Port {
	t.Helper()
	ports := map[fabric.PortRef]*fabrictest.Port{}
	for _, r := range all {
		p, err := fabrictest.Attach(f, r.Node, r.Port)
		if err != nil {
			t.Fatal(err)
		}
		ports[r] = p
	}
	return ports
}

// received is what each port got, by port; ports with nothing are absent.
func received(ports map[fabric.PortRef]*fabrictest.Port) map[fabric.PortRef][]fabrictest.Frame {
	got := map[fabric.PortRef][]fabrictest.Frame{}
	for r, p := range ports {
		if q := p.Drain(); q != nil {
			got[r] = q
		}
	}
	return got
}

func counters(f *fabric.Fabric) map[fabric.PortRef]fabric.PortCounters {
	m := map[fabric.PortRef]fabric.PortCounters{}
	for _, r := range all {
		c, _ := f.Counters(r.Node, r.Port)
		if c != (fabric.PortCounters{}) {
			m[r] = c
		}
		f.ClearCounters(r.Node, r.Port)
	}
	return m
}

func frame(dlid uint16, s string) fabrictest.Frame {
	return fabrictest.Frame{DLID: dlid, Payload: []byte(s)}
}

var (
	ucastTx = fabric.PortCounters{XmitPkts: 1, UnicastXmitPkts: 1}
	ucastRx = fabric.PortCounters{RcvPkts: 1, UnicastRcvPkts: 1}
	mcastTx = fabric.PortCounters{XmitPkts: 1, MulticastXmitPkts: 1}
	mcastRx = fabric.PortCounters{RcvPkts: 1, MulticastRcvPkts: 1}
	discard = fabric.PortCounters{XmitDiscards: 1}
)

func add(a, b fabric.PortCounters) fabric.PortCounters {
	return fabric.PortCounters{XmitPkts: a.XmitPkts + b.XmitPkts, RcvPkts: a.RcvPkts + b.RcvPkts,
		UnicastXmitPkts: a.UnicastXmitPkts + b.UnicastXmitPkts, UnicastRcvPkts: a.UnicastRcvPkts + b.UnicastRcvPkts,
		MulticastXmitPkts: a.MulticastXmitPkts + b.MulticastXmitPkts, MulticastRcvPkts: a.MulticastRcvPkts + b.MulticastRcvPkts,
		XmitDiscards: a.XmitDiscards + b.XmitDiscards, LinkDowned: a.LinkDowned + b.LinkDowned}
}

type want = map[fabric.PortRef][]fabrictest.Frame
type wantCtr = map[fabric.PortRef]fabric.PortCounters

// TestSwitch sends one frame per case on the default fabric, where node0/1
// and node1/1 are full members and node1/2 a send-only member of the
// default broadcast group (MLID 0xc000), and node0/2 is in no group.
func TestSwitch(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*fabric.Fabric)
		from     fabric.PortRef
		dlid     uint16
		got      want
		counters wantCtr
	}{
		{"unicast", nil, n0p1, 3, want{n1p1: {frame(3, "unicast")}}, wantCtr{n0p1: ucastTx, n1p1: ucastRx}},
		{"unicast to itself", nil, n1p2, 4, want{n1p2: {frame(4, "unicast to itself")}}, wantCtr{n1p2: add(ucastTx, ucastRx)}},
		{"unknown LID", nil, n0p1, 5, want{}, wantCtr{n0p1: discard}},
		{"last unicast LID", nil, n0p1, 0xbfff, want{}, wantCtr{n0p1: discard}},
		{"LID 0", nil, n0p2, 0, want{}, wantCtr{n0p2: discard}},
		{"permissive LID", nil, n0p2, 0xffff, want{}, wantCtr{n0p2: discard}},
		{"multicast loops back to a member sender", nil, n0p1, 0xc000,
			want{n0p1: {frame(0xc000, "multicast loops back to a member sender")}, n1p1: {frame(0xc000, "multicast loops back to a member sender")}},
			wantCtr{n0p1: add(mcastTx, mcastRx), n1p1: mcastRx}},
		{"multicast from a send-only member", nil, n1p2, 0xc000,
			want{n0p1: {frame(0xc000, "multicast from a send-only member")}, n1p1: {frame(0xc000, "multicast from a send-only member")}},
			wantCtr{n1p2: mcastTx, n0p1: mcastRx, n1p1: mcastRx}},
		{"multicast from a non-member", nil, n0p2, 0xc000,
			want{n0p1: {frame(0xc000, "multicast from a non-member")}, n1p1: {frame(0xc000, "multicast from a non-member")}},
			wantCtr{n0p2: mcastTx, n0p1: mcastRx, n1p1: mcastRx}},
		{"unknown MLID", nil, n0p1, 0xc001, want{}, wantCtr{n0p1: discard}},
		{"last MLID", nil, n0p1, 0xfffe, want{}, wantCtr{n0p1: discard}},
		{"sender down", func(f *fabric.Fabric) { _ = f.SetPortState("node0", 1, fabric.StateDown) }, n0p1, 3,
			want{}, wantCtr{n0p1: {XmitDiscards: 1, LinkDowned: 1}}},
		{"receiver down", func(f *fabric.Fabric) { _ = f.SetPortState("node1", 1, fabric.StateDown) }, n0p1, 3,
			want{}, wantCtr{n0p1: discard, n1p1: {LinkDowned: 1}}},
		{"down member gets no multicast", func(f *fabric.Fabric) { _ = f.SetPortState("node1", 1, fabric.StateDown) }, n0p1, 0xc000,
			want{n0p1: {frame(0xc000, "down member gets no multicast")}}, wantCtr{n0p1: add(mcastTx, mcastRx), n1p1: {LinkDowned: 1}}},
		{"back up: unicast again, multicast after rejoining", func(f *fabric.Fabric) {
			_ = f.SetPortState("node1", 1, fabric.StateDown)
			_ = f.SetPortState("node1", 1, fabric.StateActive)
			f.ClearCounters("node1", 1)
			f.Send(n0p1, &fabrictest.Frame{DLID: 0xc000})
			f.Send(n1p1, &fabrictest.Frame{DLID: 1})
			f.ClearCounters("node0", 1)
			f.ClearCounters("node1", 1)
		}, n0p1, 3, want{n1p1: {frame(3, "back up: unicast again, multicast after rejoining")}}, wantCtr{n0p1: ucastTx, n1p1: ucastRx}},
		{"detached receiver", func(f *fabric.Fabric) { _ = f.Detach("node1", 1) }, n0p1, 3, want{}, wantCtr{n0p1: discard}},
		{"detached member", func(f *fabric.Fabric) { _ = f.Detach("node1", 1) }, n0p1, 0xc000,
			want{n0p1: {frame(0xc000, "detached member")}}, wantCtr{n0p1: add(mcastTx, mcastRx)}},
		{"unknown sender", nil, fabric.PortRef{Node: "node9", Port: 1}, 3, want{}, wantCtr{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, nil)
			ports := attachAll(t, f)
			bcast := fabric.BroadcastMGID(0xffff)
			for _, j := range []struct {
				r  fabric.PortRef
				js fabric.JoinState
			}{{n0p1, fabric.FullMember}, {n1p1, fabric.FullMember}, {n1p2, fabric.SendOnlyNonMember}} {
				if _, err := f.Join(j.r, fabric.JoinRequest{MGID: bcast, PKey: 0xffff, JoinState: j.js}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.setup != nil {
				tt.setup(f)
				received(ports)
			}
			f.Send(tt.from, &fabrictest.Frame{DLID: tt.dlid, Payload: []byte(tt.name)})
			wantEqual(t, "received", received(ports), tt.got)
			wantEqual(t, "counters", counters(f), tt.counters)
		})
	}
}

func TestMulticastMembers(t *testing.T) {
	f := newFabric(t, nil)
	for _, j := range []struct {
		r  fabric.PortRef
		js fabric.JoinState
	}{{n1p2, fabric.NonMember}, {n0p2, fabric.SendOnlyFullMember}, {n0p1, fabric.FullMember}} {
		if _, err := f.Join(j.r, fabric.JoinRequest{MGID: fabric.BroadcastMGID(0xffff), PKey: 0xffff, JoinState: j.js}); err != nil {
			t.Fatal(err)
		}
	}
	wantEqual(t, "0xc000", f.MulticastMembers(0xc000), []fabric.PortRef{n0p1, n1p2})
	wantEqual(t, "0xc001", f.MulticastMembers(0xc001), nil)
	if err := f.Leave(n0p1, 0, fabric.BroadcastMGID(0xffff), fabric.FullMember); err != nil {
		t.Fatal(err)
	}
	if err := f.Leave(n1p2, 0, fabric.BroadcastMGID(0xffff), fabric.NonMember); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "0xc000 with a send-only member", f.MulticastMembers(0xc000), []fabric.PortRef{})
}

func TestAttach(t *testing.T) {
	f := newFabric(t, nil)
	p, err := fabrictest.Attach(f, "node0", 1)
	wantErr(t, err, 0, "")
	_, err = fabrictest.Attach(f, "node0", 1)
	wantErr(t, err, unix.EBUSY, "attach node0/1: device or resource busy (an endpoint is attached)")
	_, err = fabrictest.Attach(f, "node0", 9)
	wantErr(t, err, unix.ENODEV, "attach node0/9: no such device (no such port)")
	wantErr(t, f.Attach("node0", 2, nil), unix.EINVAL, "attach node0/2: invalid argument (nil endpoint)")
	wantErr(t, f.Detach("node0", 9), unix.ENODEV, "detach node0/9: no such device (no such port)")
	wantErr(t, f.Detach("node0", 1), 0, "")
	wantErr(t, f.Detach("node0", 1), 0, "")
	wantErr(t, f.Attach("node0", 1, p), 0, "")
	p.Inject(1, []byte("hello"))
	fr, ok := p.Read()
	wantEqual(t, "read", fr, frame(1, "hello"))
	if _, ok2 := p.Read(); !ok || ok2 {
		t.Fatalf("Read ok = %v then %v", ok, ok2)
	}
}

// countEP counts deliveries; it keeps nothing.
type countEP struct{ n int }

func (c *countEP) Deliver(fabric.Frame) { c.n++ }

func TestSendAllocatesNothing(t *testing.T) {
	f := newFabric(t, nil)
	eps := []*countEP{{}, {}}
	wantErr(t, f.Attach("node1", 1, eps[0]), 0, "")
	wantErr(t, f.Attach("node0", 1, eps[1]), 0, "")
	for _, r := range []fabric.PortRef{n0p1, n1p1} {
		if _, err := f.Join(r, fabric.JoinRequest{MGID: fabric.BroadcastMGID(0xffff), PKey: 0xffff, JoinState: fabric.FullMember}); err != nil {
			t.Fatal(err)
		}
	}
	for _, dlid := range []uint16{3, 0xc000, 7} {
		fr := &fabrictest.Frame{DLID: dlid}
		if n := testing.AllocsPerRun(100, func() { f.Send(n0p1, fr) }); n != 0 {
			t.Errorf("Send to %#x: %v allocs", dlid, n)
		}
	}
}

func BenchmarkSwitchUnicast(b *testing.B) {
	f := newFabric(b, nil)
	ep := &countEP{}
	if err := f.Attach("node1", 1, ep); err != nil {
		b.Fatal(err)
	}
	fr := &fabrictest.Frame{DLID: 3}
	b.ReportAllocs()
	for b.Loop() {
		f.Send(n0p1, fr)
	}
	if ep.n == 0 {
		b.Fatal("nothing delivered")
	}
}

func BenchmarkSwitchMulticast(b *testing.B) {
	f := newFabric(b, nil)
	for _, r := range all {
		if err := f.Attach(r.Node, r.Port, &countEP{}); err != nil {
			b.Fatal(err)
		}
		if _, err := f.Join(r, fabric.JoinRequest{MGID: fabric.BroadcastMGID(0xffff), PKey: 0xffff, JoinState: fabric.FullMember}); err != nil {
			b.Fatal(err)
		}
	}
	fr := &fabrictest.Frame{DLID: 0xc000}
	b.ReportAllocs()
	for b.Loop() {
		f.Send(n0p1, fr)
	}
}

// trainFrame is a Frame standing for n packets.
type trainFrame struct {
	dlid uint16
	n    int
}

func (f trainFrame) DestLID() uint16 { return f.dlid }
func (f trainFrame) Packets() int    { return f.n }

// A Train counts every packet it stands for, in both ports' counters.
func TestSwitchCountsTrains(t *testing.T) {
	f := newFabric(t, nil)
	attachAll(t, f)
	for _, n := range []int{16, 0} { // 0 is one packet
		f.Send(n0p1, trainFrame{dlid: 3, n: n})
	}
	wantEqual(t, "counters", counters(f), wantCtr{
		n0p1: {XmitPkts: 17, UnicastXmitPkts: 17},
		n1p1: {RcvPkts: 17, UnicastRcvPkts: 17},
	})
}
