package driver

import (
	"github.com/ibctl/ibctl/driver/inet"
	"github.com/ibctl/ibctl/driver/ipoib"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/ibctl/ibctl/sysfs"
)

// snm2 is the MGID of fd00::2's solicited-node group ff02::1:ff00:2 on
// the default partition, as %pI6 and as debugfs print it.
const (
	snm2      = "ff12:601b:ffff:0000:0000:0001:ff00:0002"
	snm2Dbgfs = "ff12:601b:ffff:0:0:1:ff00:2"
)

// sendOnlyPair is node0 and node1 with ib0 up, fd00::1 and fd00::2, and
// debug_level and mcast_debug_level 1 on node0.
func sendOnlyPair(t *testing.T) (*Driver, *Node, *Node, func(time.Duration)) {
	t.Helper()
	d, clk := newClockedDriver(t)
	n0, _ := d.Node("node0")
	n1, _ := d.Node("node1")
	wantErrno(t, n0.SetParam("debug_level", 1), 0)
	wantErrno(t, n0.SetParam("mcast_debug_level", 1), 0)
	for i, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
		addAddr6(t, n, "ib0", netip.PrefixFrom(pairAddr(true, byte(i+1)), 64).String())
	}
	return d, n0, n1, clk.Advance
}

// membership is node0's join state in the group with the MGID, 0 when it
// is no member, and whether the group exists.
func membership(d *Driver, mgid string) (fabric.JoinState, bool) {
	for _, g := range d.Fabric().Groups() {
		if header.FormatGID(g.MGID) != mgid {
			continue
		}
		for _, m := range g.Members {
			if m.Port.Node == "node0" {
				return m.JoinState, true
			}
		}
		return 0, true
	}
	return 0, false
}

// sendOnlyRecord is node0's ib0_mcg record of the group, if any.
func sendOnlyRecord(t *testing.T, n *Node, mgid string) (sysfs.MCG, bool) {
	t.Helper()
	recs, err := n.McastGroups("ib0")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if header.FormatGID(r.GID) == mgid {
			return r, true
		}
	}
	return sysfs.MCG{}, false
}

// solicit has node0 send a neighbour solicitation to fd00::2's
// solicited-node group, for fd00::1:0:2, which shares the group and which
// nobody has: node1 receives it and does not answer, so that only node0's
// neighbour entries change.
func solicit(t *testing.T, d *Driver, n0 *Node) {
	t.Helper()
	d.mu.Lock()
	dp := mustDev(t, n0, "ib0").dp
	d.mu.Unlock()
	sendSolicit(t, dp, pairAddr(true, 1), netip.MustParseAddr("fd00::1:0:2"))
}

// sendSolicit writes a neighbour solicitation from src for target to
// target's solicited-node group on the endpoint, as the stack's would be.
func sendSolicit(t *testing.T, dp *ipoib.Endpoint, src, target netip.Addr) {
	t.Helper()
	snm := header.SolicitedNodeAddr(target.As16())
	buf := make([]byte, header.IPoIBHeaderLen+header.IPv6HeaderLen+header.NDPMessageLen+header.NDPLinkLayerOptionLen)
	header.IPoIB(buf).Encode(header.EtherTypeIPv6)
	hw := dp.LinkAddress()
	n := header.EncodeNeighborSolicit(buf[header.IPoIBHeaderLen:], src.As16(), snm, target.As16(), &hw)
	if n == 0 {
		t.Fatal("encode neighbour solicitation")
	}
	_ = dp.WritePacket(buf[:header.IPoIBHeaderLen+n], inet.MulticastLinkAddr(dp.Broadcast(), netip.AddrFrom16(snm)))
}

// A send-only join lives as long as its multicast neighbour entry: each
// packet to the group keeps it alive, and the scan that frees the entry
// after more than 2 × gc_interval idle leaves the group.
func TestSendOnlyGroupReaped(t *testing.T) {
	d, n0, _, advance := sendOnlyPair(t)
	_, seq := logSince(n0, 0)
	created := d.jiffies()
	rep, err := n0.Ping(netlinkx.PingRequest{Dst: pairAddr(true, 2).AsSlice(), Size: 56, Seq: 1, TimeoutMs: 5000})
	if err != nil || rep.Status != netlinkx.PingReplied {
		t.Fatalf("ping6: %+v %v", rep, err)
	}
	msgs, _ := logSince(n0, seq)
	if want := []string{"ib0: setting up send only multicast group for " + snm2}; !cmp.Equal(msgs, want) {
		t.Fatalf("messages of the first send:\n%q\nwant %q", msgs, want)
	}
	if js, ok := membership(d, snm2Dbgfs); js != fabric.SendOnlyFullMember || !ok {
		t.Fatalf("node0's join state %d (group exists %v), want send-only full member", js, ok)
	}
	if r, ok := sendOnlyRecord(t, n0, snm2Dbgfs); !ok || !r.SendOnly || !r.Complete || r.Created != created {
		t.Fatalf("ib0_mcg record %+v (%v), want send-only, complete, created %d", r, ok, created)
	}
	// Solicitations every 50 s keep the group; the unicast neighbours of
	// the echo go after 61 s idle.
	for i := range 3 {
		advance(50 * time.Second)
		solicit(t, d, n0)
		freed := d.ReapNeighbours()
		if want := map[int]int{0: 0, 1: 2, 2: 0}[i]; freed != want {
			t.Fatalf("scan %d freed %d neighbours, want %d", i, freed, want)
		}
	}
	if js, _ := membership(d, snm2Dbgfs); js != fabric.SendOnlyFullMember {
		t.Fatalf("node0 left the group while using it: join state %d", js)
	}
	_, seq = logSince(n0, 0)
	// Idle for exactly 2 × gc_interval: kept; a second more: left.
	advance(60 * time.Second)
	if got := d.ReapNeighbours(); got != 0 {
		t.Fatalf("freed %d neighbours after 60 s", got)
	}
	if _, ok := sendOnlyRecord(t, n0, snm2Dbgfs); !ok {
		t.Fatal("send-only entry gone after 60 s")
	}
	advance(time.Second)
	if got := d.ReapNeighbours(); got != 1 {
		t.Fatalf("freed %d neighbours after 61 s, want the group's", got)
	}
	msgs, _ = logSince(n0, seq)
	want := []string{"ib0: deleting multicast group " + snm2, "ib0: neigh free for ffffff " + snm2}
	if !cmp.Equal(msgs, want) {
		t.Errorf("messages of the scan:\n%q\nwant %q", msgs, want)
	}
	if r, ok := sendOnlyRecord(t, n0, snm2Dbgfs); ok {
		t.Errorf("ib0_mcg still lists %+v", r)
	}
	// node1 is a full member, so the group stays, without node0.
	if js, ok := membership(d, snm2Dbgfs); js != 0 || !ok {
		t.Errorf("after the scan node0's join state is %d (group exists %v)", js, ok)
	}
	// The next packet to the group joins it again.
	solicit(t, d, n0)
	if js, _ := membership(d, snm2Dbgfs); js != fabric.SendOnlyFullMember {
		t.Errorf("join state %d after a new solicitation", js)
	}
}

// When the group enters the interface's multicast list (an address with
// the same solicited-node group), the restart task replaces the send-only
// entry by a full join; the scan then frees the group's neighbour but
// leaves the group joined.
func TestSendOnlyGroupBecomesFull(t *testing.T) {
	d, n0, _, advance := sendOnlyPair(t)
	solicit(t, d, n0)
	_, seq := logSince(n0, 0)
	advance(10 * time.Second)
	joined := d.jiffies()
	addAddr6(t, n0, "ib0", "fd01::2/64") // solicited-node group ff02::1:ff00:2 as well
	msgs, seq := logSince(n0, seq)
	want := []string{"ib0: adding multicast entry for mgid " + snm2, "ib0: deleting multicast group " + snm2,
		"ib0: neigh free for ffffff " + snm2}
	if !cmp.Equal(msgs, want) {
		t.Errorf("messages of the restart task:\n%q\nwant %q", msgs, want)
	}
	if js, _ := membership(d, snm2Dbgfs); js != fabric.FullMember {
		t.Fatalf("node0's join state %d, want full member only", js)
	}
	if r, ok := sendOnlyRecord(t, n0, snm2Dbgfs); !ok || r.SendOnly || r.Created != joined {
		t.Fatalf("ib0_mcg record %+v (%v), want a full entry created %d", r, ok, joined)
	}
	// Packets to the group now use the full membership.
	solicit(t, d, n0)
	if msgs, _ := logSince(n0, seq); len(msgs) != 0 {
		t.Errorf("messages of a send to a joined group: %q", msgs)
	}
	advance(61 * time.Second)
	if got := d.ReapNeighbours(); got != 1 {
		t.Fatalf("freed %d neighbours, want the group's", got)
	}
	if js, _ := membership(d, snm2Dbgfs); js != fabric.FullMember {
		t.Errorf("the scan changed node0's join state to %d", js)
	}
}

// A mode switch flushes the neighbours of path records only: the
// send-only group's entry stays, and with it the group.
func TestModeSwitchKeepsSendOnlyGroup(t *testing.T) {
	d, n0, _, advance := sendOnlyPair(t)
	solicit(t, d, n0)
	wantErrno(t, n0.SetMode("ib0", netlinkx.ModeConnected), 0)
	if _, ok := sendOnlyRecord(t, n0, snm2Dbgfs); !ok {
		t.Fatal("send-only entry gone after a mode switch")
	}
	advance(61 * time.Second)
	if got := d.ReapNeighbours(); got != 1 {
		t.Fatalf("freed %d neighbours, want the group's", got)
	}
	if js, _ := membership(d, snm2Dbgfs); js != 0 {
		t.Errorf("join state %d after the scan", js)
	}
}

// A solicitation from a Ping that picked the data path before the link
// went down is dropped and counted; it joins no group that nothing would
// leave.
func TestSendOnlyNotJoinedAfterClose(t *testing.T) {
	d, n0, _, _ := sendOnlyPair(t)
	d.mu.Lock()
	dp := mustDev(t, n0, "ib0").dp
	d.mu.Unlock()
	wantErrno(t, n0.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(false)}), 0)
	before := dp.Stats().Snapshot().TxDropped
	sendSolicit(t, dp, pairAddr(true, 1), netip.MustParseAddr("fd00::1:0:2"))
	if js, _ := membership(d, snm2Dbgfs); js == fabric.SendOnlyFullMember {
		t.Errorf("node0 (ib0 down) is a send-only member of %s that nothing will leave", snm2Dbgfs)
	}
	if got := dp.Stats().Snapshot().TxDropped - before; got != 1 {
		t.Errorf("tx_dropped grew by %d, want 1", got)
	}
	wantErrno(t, n0.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	wantErrno(t, n0.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(false)}), 0)
	if js, _ := membership(d, snm2Dbgfs); js == fabric.SendOnlyFullMember {
		t.Errorf("still a send-only member after another up/down")
	}
}
