package ipoib

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
)

// snmMGID is the MGID of the solicited-node group ff02::1:ff00:2 on the
// default partition (ipv6_ib_mc_map), and snmPI6 it as %pI6 prints it.
var snmMGID = header.IPv6MGID([16]byte{0xff, 0x02, 11: 1, 12: 0xff, 15: 2}, header.BroadcastAddr(0xffff))

const snmPI6 = "ff12:601b:ffff:0000:0000:0001:ff00:0002"

// joinState is the node's join state in the group, 0 when it is no member
// or the group does not exist.
func (tp *testPair) joinState(node string, mgid [16]byte) fabric.JoinState {
	for _, g := range tp.fab.Groups() {
		if g.MGID != mgid {
			continue
		}
		for _, m := range g.Members {
			if m.Port.Node == node {
				return m.JoinState
			}
		}
	}
	return 0
}

// groupMLID is the group's MLID, 0 when it does not exist.
func (tp *testPair) groupMLID(mgid [16]byte) uint16 {
	for _, g := range tp.fab.Groups() {
		if g.MGID == mgid {
			return g.MLID
		}
	}
	return 0
}

// logged returns the node's kernel messages since the last call.
func (tn *testNode) logged(from *int) []string {
	lines, n := tn.log.since(*from)
	*from = n
	return lines
}

// A packet to a multicast group the interface is not a member of joins
// the group send-only first, through a neighbour entry for the group's
// address that each packet keeps alive (ipoib_mcast_send). The neighbour
// scan frees the entry once idle for more than 2 × gc_interval and leaves
// the group, the SA leave before the neighbour's destructor
// (__ipoib_reap_neigh, ipoib_mcast_remove_list); the next packet joins
// again. A unicast neighbour idle as long is freed by the same scan.
func TestSendOnlyGroupLifetime(t *testing.T) {
	tp := newTestPair(t, false)
	n0 := tp.n0
	n0.host.McastDebug.Store(1)
	n0.host.Jiffies = func() int64 { return 4242 }
	mlid, err := tp.n1.ep.JoinFull(snmMGID)
	if err != nil {
		t.Fatal(err)
	}
	if mlid == 0 || mlid != tp.groupMLID(snmMGID) {
		t.Fatalf("node1 joined with MLID 0x%04x, the group has 0x%04x", mlid, tp.groupMLID(snmMGID))
	}
	group := header.MulticastAddr(snmMGID)
	send := func(dst header.HWAddr) func() int {
		return func() int {
			if err := n0.ep.WritePacket(udpPacket(100), dst); err != nil {
				t.Fatalf("send to %s: %v", dst, err)
			}
			return 0
		}
	}
	advanceReap := func(d time.Duration) func() int {
		return func() int {
			tp.advance(d)
			return n0.ep.ReapNeighbours()
		}
	}
	node1PI6 := pI6(tp.n1.hw.GID())
	steps := []struct {
		name       string
		do         func() int // returns the neighbours freed
		freed      int
		log        []string
		state      fabric.JoinState
		groups     []Group
		neighs     int
		rx1, mcast uint64 // what node1 received in all, of it to the group
	}{
		{"unicast packet", send(tp.n1.hw), 0, nil, 0, []Group{}, 1, 1, 0},
		{"first packet to the group", send(group), 0,
			[]string{"ib0: setting up send only multicast group for " + snmPI6},
			fabric.SendOnlyFullMember, []Group{{snmMGID, 4242}}, 2, 2, 1},
		{"second packet to the group", send(group), 0, nil,
			fabric.SendOnlyFullMember, []Group{{snmMGID, 4242}}, 2, 3, 2},
		{"idle for 2 × gc_interval", advanceReap(neighObsolete), 0, nil,
			fabric.SendOnlyFullMember, []Group{{snmMGID, 4242}}, 2, 3, 2},
		{"idle a nanosecond longer", advanceReap(time.Nanosecond), 2,
			[]string{"ib0: deleting multicast group " + snmPI6, "ib0: neigh free for ffffff " + snmPI6,
				"ib0: neigh free for 000048 " + node1PI6},
			0, []Group{}, 0, 3, 2},
		{"packet after the scan", send(group), 0,
			[]string{"ib0: setting up send only multicast group for " + snmPI6},
			fabric.SendOnlyFullMember, []Group{{snmMGID, 4242}}, 1, 4, 3},
	}
	var seq int
	for _, s := range steps {
		if freed := s.do(); freed != s.freed {
			t.Errorf("%s: the scan freed %d neighbours, want %d", s.name, freed, s.freed)
		}
		if got := n0.logged(&seq); !slices.Equal(got, s.log) {
			t.Errorf("%s: node0 logged %q, want %q", s.name, got, s.log)
		}
		if js := tp.joinState("node0", snmMGID); js != s.state {
			t.Errorf("%s: node0's join state %d, want %d", s.name, js, s.state)
		}
		if g := n0.ep.SendOnlyGroups(); !slices.Equal(g, s.groups) {
			t.Errorf("%s: send-only groups %v, want %v", s.name, g, s.groups)
		}
		if n := n0.ep.NeighCount(); n != s.neighs {
			t.Errorf("%s: %d neighbours, want %d", s.name, n, s.neighs)
		}
		if got := tp.n1.waitRx(int64(s.rx1)); got != int64(s.rx1) {
			t.Errorf("%s: node1 received %d packets, want %d", s.name, got, s.rx1)
		}
		if c := tp.n1.ep.Stats().Snapshot(); c.Multicast != s.mcast || c.RxPackets != s.rx1 {
			t.Errorf("%s: node1 counted %d received, %d multicast; want %d, %d", s.name, c.RxPackets, c.Multicast, s.rx1, s.mcast)
		}
	}
	if c := n0.ep.Stats().Snapshot(); c.TxPackets != 4 || c.TxDropped != 0 {
		t.Errorf("node0 counted %d sent, %d dropped; want 4, 0", c.TxPackets, c.TxDropped)
	}
}

// The restart task replaces a send-only entry by a full join when the
// group enters the interface's multicast list ("adding multicast entry",
// the send-only entry left and freed with the neighbours of its MGID);
// packets then go through the full membership without another join, and
// a join of a group without a send-only entry logs nothing. LeaveFull
// leaves the group, and the next packet joins it send-only again.
func TestJoinFullReplacesSendOnly(t *testing.T) {
	tp := newTestPair(t, false)
	n0 := tp.n0
	n0.host.McastDebug.Store(1)
	tp.n1.host.McastDebug.Store(1)
	group := header.MulticastAddr(snmMGID)
	var mlid uint16
	send := func(from *testNode, dst header.HWAddr) func() error {
		return func() error { return from.ep.WritePacket(udpPacket(100), dst) }
	}
	steps := []struct {
		name       string
		do         func() error
		log0, log1 []string
		state      fabric.JoinState
		groups     int
		neighs     int
		rx0        int64 // what node0 received
	}{
		{"unicast packet", send(n0, tp.n1.hw), nil, nil, 0, 0, 1, 0},
		{"send-only join", send(n0, group), []string{"ib0: setting up send only multicast group for " + snmPI6}, nil,
			fabric.SendOnlyFullMember, 1, 2, 0},
		{"node1 joins", func() error {
			_, err := tp.n1.ep.JoinFull(snmMGID)
			return err
		}, nil, nil, fabric.SendOnlyFullMember, 1, 2, 0},
		{"full join", func() (err error) {
			mlid, err = n0.ep.JoinFull(snmMGID)
			if want := tp.groupMLID(snmMGID); err == nil && (mlid == 0 || mlid != want) {
				err = errors.New("joined with another MLID than the group's")
			}
			return err
		}, []string{"ib0: adding multicast entry for mgid " + snmPI6, "ib0: deleting multicast group " + snmPI6,
			"ib0: neigh free for ffffff " + snmPI6}, nil, fabric.FullMember, 0, 1, 0},
		{"packet to the joined group", send(n0, group), nil, nil, fabric.FullMember, 0, 2, 0},
		{"packet from node1, a member, to the group", send(tp.n1, group), nil, nil, fabric.FullMember, 0, 2, 1},
		{"leave", func() error {
			n0.ep.LeaveFull(snmMGID, mlid)
			return nil
		}, nil, nil, 0, 0, 2, 1},
		{"packet after the leave", send(n0, group), []string{"ib0: setting up send only multicast group for " + snmPI6}, nil,
			fabric.SendOnlyFullMember, 1, 2, 1},
	}
	var seq0, seq1 int
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := n0.logged(&seq0); !slices.Equal(got, s.log0) {
			t.Errorf("%s: node0 logged %q, want %q", s.name, got, s.log0)
		}
		if got := tp.n1.logged(&seq1); !slices.Equal(got, s.log1) {
			t.Errorf("%s: node1 logged %q, want %q", s.name, got, s.log1)
		}
		if js := tp.joinState("node0", snmMGID); js != s.state {
			t.Errorf("%s: node0's join state %d, want %d", s.name, js, s.state)
		}
		if g := n0.ep.SendOnlyGroups(); len(g) != s.groups {
			t.Errorf("%s: send-only groups %v, want %d", s.name, g, s.groups)
		}
		if n := n0.ep.NeighCount(); n != s.neighs {
			t.Errorf("%s: %d neighbours, want %d", s.name, n, s.neighs)
		}
		if got := n0.waitRx(s.rx0); got != s.rx0 {
			t.Errorf("%s: node0 received %d packets, want %d", s.name, got, s.rx0)
		}
	}
}

// The send-only join's message is ipoib_dbg_mcast's: only with
// mcast_debug_level set.
func TestSendOnlyJoinLoggedAtMcastDebugLevel(t *testing.T) {
	for _, tt := range []struct {
		level int32
		want  []string
	}{
		{0, nil},
		{1, []string{"ib0: setting up send only multicast group for " + snmPI6}},
	} {
		tp := newTestPair(t, false)
		tp.n0.host.McastDebug.Store(tt.level)
		var seq int
		tp.n0.logged(&seq)
		if err := tp.n0.ep.WritePacket(udpPacket(100), header.MulticastAddr(snmMGID)); err != nil {
			t.Fatal(err)
		}
		if got := tp.n0.logged(&seq); !slices.Equal(got, tt.want) {
			t.Errorf("mcast_debug_level %d: logged %q, want %q", tt.level, got, tt.want)
		}
	}
}

// A packet to a multicast group larger than the UD MTU is dropped before
// any join (ipoib_send's check, "fragmentation needed" with the UD MTU);
// one sent after the data path closed is dropped without a join that
// nothing would leave (ipoib_mcast_send on an interface that is not
// operational). Both count in tx_dropped, the first in tx_errors too.
func TestMulticastSendDropped(t *testing.T) {
	for _, tt := range []struct {
		name    string
		close   bool
		size    int
		wantErr error
		drop    string // the drop reason the tap sees
		errors  uint64
	}{
		{"larger than the UD MTU", false, 3000, &TooBigError{MTU: 2044}, DropPktTooBig, 1},
		{"after close", true, 100, errNoGroup, "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPair(t, false)
			tap, frames := recordingTap()
			tp.n0.ep.AddTap(tap)
			if tt.close {
				tp.n0.ep.Close()
			}
			pkt := udpPacket(tt.size)
			err := tp.n0.ep.WritePacket(pkt, header.MulticastAddr(snmMGID))
			if want, ok := tt.wantErr.(*TooBigError); ok {
				var got *TooBigError
				if !errors.As(err, &got) || *got != *want {
					t.Errorf("error %v, want %v", err, want)
				}
			} else if err != tt.wantErr {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if js := tp.joinState("node0", snmMGID); js != 0 || tp.groupMLID(snmMGID) != 0 {
				t.Errorf("join state %d, group MLID 0x%04x; want no group", js, tp.groupMLID(snmMGID))
			}
			if g := tp.n0.ep.SendOnlyGroups(); len(g) != 0 {
				t.Errorf("send-only groups %v", g)
			}
			c := tp.n0.ep.Stats().Snapshot()
			if c.TxPackets != 0 || c.TxDropped != 1 || c.TxErrors != tt.errors {
				t.Errorf("counted %d sent, %d dropped, %d errors; want 0, 1, %d", c.TxPackets, c.TxDropped, c.TxErrors, tt.errors)
			}
			// A closed endpoint has no capture point left.
			if !tt.close {
				want := frameRec{PacketOutgoing, tp.n0.hw, header.MulticastAddr(snmMGID), false, tt.drop, len(pkt)}
				if got := next(t, frames); got != want {
					t.Errorf("tap saw %+v, want %+v", got, want)
				}
			}
		})
	}
}

// The send-only groups are listed by MGID (debugfs <dev>_mcg), and
// closing the data path leaves them all (ipoib_mcast_dev_flush).
func TestCloseLeavesSendOnlyGroups(t *testing.T) {
	tp := newTestPair(t, false)
	tp.n0.host.Jiffies = func() int64 { return 7 }
	// ff02::1, after the solicited-node group in MGID order
	allNodes := header.IPv6MGID([16]byte{0xff, 0x02, 15: 1}, header.BroadcastAddr(0xffff))
	for _, mgid := range [][16]byte{snmMGID, allNodes} {
		if err := tp.n0.ep.WritePacket(udpPacket(100), header.MulticastAddr(mgid)); err != nil {
			t.Fatal(err)
		}
		if js := tp.joinState("node0", mgid); js != fabric.SendOnlyFullMember {
			t.Fatalf("join state %d before close, want send-only", js)
		}
	}
	if g, want := tp.n0.ep.SendOnlyGroups(), []Group{{allNodes, 7}, {snmMGID, 7}}; !slices.Equal(g, want) {
		t.Errorf("send-only groups %v, want %v", g, want)
	}
	tp.n0.ep.Close()
	for _, mgid := range [][16]byte{snmMGID, allNodes} {
		if js := tp.joinState("node0", mgid); js != 0 {
			t.Errorf("join state %d after close, want none", js)
		}
	}
	if g := tp.n0.ep.SendOnlyGroups(); len(g) != 0 {
		t.Errorf("send-only groups %v after close", g)
	}
}

// The path records are listed by destination GID (debugfs <dev>_path).
// A flush of the paths, as a mode switch does (ipoib_flush_paths), frees
// them and the neighbours of unicast addresses, in address order; the
// neighbours of multicast groups stay.
func TestFlushPaths(t *testing.T) {
	tp := newTestPair(t, false)
	ep := tp.n0.ep
	for _, dst := range []header.HWAddr{tp.n1.hw, tp.n0.hw, header.MulticastAddr(snmMGID)} {
		if err := ep.WritePacket(udpPacket(100), dst); err != nil {
			t.Fatalf("send to %s: %v", dst, err)
		}
	}
	var got []string
	for _, p := range ep.Paths() {
		got = append(got, pI6(p.GID)+" "+fmt.Sprint(p.DLID))
	}
	if want := []string{pI6Node0 + " 1", pI6Node1 + " 3"}; !slices.Equal(got, want) {
		t.Errorf("paths %q, want %q", got, want)
	}
	var seq int
	tp.n0.logged(&seq)
	ep.FlushPaths()
	if p := ep.Paths(); len(p) != 0 {
		t.Errorf("%d paths after the flush", len(p))
	}
	if n := ep.NeighCount(); n != 1 {
		t.Errorf("%d neighbours after the flush, want the group's", n)
	}
	want := []string{"ib0: neigh free for 000048 " + pI6Node0, "ib0: neigh free for 000048 " + pI6Node1}
	if got := tp.n0.logged(&seq); !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
}
