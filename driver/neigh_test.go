package driver

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver/clocktest"
	"github.com/ibctl/ibctl/driver/inet"
	"github.com/ibctl/ibctl/netlinkx"
)

// newClockedDriver is a driver whose clock moves only when advanced.
// Its Advance quiesces the driver first (clocktest).
func newClockedDriver(t *testing.T) (*Driver, *clocktest.Clock) {
	t.Helper()
	clk := clocktest.New(t)
	d, err := New(Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	clk.Watch(d)
	return d, clk
}

// pingPair brings ib0 of node0 and node1 up in mode with 10.0.0.1/24 and
// 10.0.0.2/24, debug_level 1 on both.
func pingPair(t *testing.T, d *Driver, mode uint16) (n0, n1 *Node) {
	t.Helper()
	n0, _ = d.Node("node0")
	n1, _ = d.Node("node1")
	for i, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetParam("debug_level", 1), 0)
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
		wantErrno(t, n.SetMode("ib0", mode), 0)
		addAddr(t, n, "ib0", netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 24).String())
	}
	return n0, n1
}

func mustPing(t *testing.T, n *Node, dst [4]byte, seq uint16) {
	t.Helper()
	rep, err := n.Ping(netlinkx.PingRequest{Dst: dst[:], Size: 1000, Seq: seq, TimeoutMs: 10000})
	if err != nil || rep.Status != netlinkx.PingReplied {
		t.Fatalf("ping %v seq %d: %+v %v", dst, seq, rep, err)
	}
}

// logSince returns the node's kernel messages after seq, and the last
// sequence number.
func logSince(n *Node, seq uint64) ([]string, uint64) {
	recs, _ := n.Log(seq)
	var out []string
	for _, r := range recs {
		out = append(out, r.Text)
		seq = r.Seq
	}
	return out, seq
}

func TestNeighbourExpiry(t *testing.T) {
	const (
		gid0 = "fe80:0000:0000:0000:0002:c903:0000:1001"
		gid1 = "fe80:0000:0000:0000:0002:c903:0000:2001"
	)
	tests := []struct {
		name string
		mode uint16
		// the messages of the first scan that frees anything
		log0, log1 []string
		// connections (active/passive) on node0 and node1 before expiry
		conns int
	}{
		{"datagram", netlinkx.ModeDatagram,
			[]string{"ib0: neigh free for 000048 " + gid1},
			[]string{"ib0: neigh free for 000048 " + gid0}, 0},
		{"connected", netlinkx.ModeConnected,
			[]string{"ib0: Reap connection for gid " + gid1, "ib0: neigh free for 000048 " + gid1,
				"ib0: Destroy active connection 0x49 head 0x1 tail 0x1"},
			[]string{"ib0: Reap connection for gid " + gid0, "ib0: neigh free for 000048 " + gid0,
				"ib0: Destroy active connection 0x4a head 0x1 tail 0x1"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, clk := newClockedDriver(t)
			n0, n1 := pingPair(t, d, tt.mode)
			mustPing(t, n0, [4]byte{10, 0, 0, 2}, 1)
			d.Settle() // the reply's connection finishes its exchange
			// node1's ARP entry for node0, in DELAY since its reply,
			// probes after delayProbeTime and node0 answers.
			clk.Advance(5 * time.Second)
			if ns, _ := n1.Neighs(); len(ns) != 1 || ns[0].State != unix.NUD_REACHABLE || ns[0].Probes != 1 {
				t.Fatalf("node1's ARP table 5 s after the ping: %+v, want node0 REACHABLE after one probe", ns)
			}
			state := func() [6]int {
				d.mu.Lock()
				defer d.mu.Unlock()
				dp0, dp1 := mustDev(t, n0, "ib0").dp, mustDev(t, n1, "ib0").dp
				tx0, rx0 := dp0.ConnCounts()
				tx1, rx1 := dp1.ConnCounts()
				return [6]int{dp0.NeighCount(), tx0, rx0, dp1.NeighCount(), tx1, rx1}
			}
			c := tt.conns
			if got, want := state(), [6]int{1, c, c, 1, c, c}; got != want {
				t.Fatalf("neighbours/active/passive before expiry = %v, want %v", got, want)
			}
			_, seq0 := logSince(n0, 0)
			_, seq1 := logSince(n1, 0)
			stats0, stats1 := mustLink(t, n0, "ib0").Stats, mustLink(t, n1, "ib0").Stats
			arp0, _ := n0.Neighs()
			paths0, _ := n0.Paths("ib0")

			// Idle for exactly 2 × gc_interval: not yet obsolete. The
			// unicast ARP exchange used no neighbour.
			clk.Advance(55 * time.Second)
			if got := d.ReapNeighbours(); got != 0 {
				t.Fatalf("freed %d neighbours after 60 s", got)
			}
			clk.Advance(time.Second)
			if got := d.ReapNeighbours(); got != 2 {
				t.Fatalf("freed %d neighbours after 61 s, want 2", got)
			}
			d.Settle() // the DREQs reach the passive ends
			if got, want := state(), [6]int{0, 0, 0, 0, 0, 0}; got != want {
				t.Fatalf("neighbours/active/passive after expiry = %v, want %v", got, want)
			}
			log0, _ := logSince(n0, seq0)
			log1, _ := logSince(n1, seq1)
			if diff := cmp.Diff(tt.log0, log0); diff != "" {
				t.Errorf("node0 messages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.log1, log1); diff != "" {
				t.Errorf("node1 messages (-want +got):\n%s", diff)
			}
			// Counters, the ARP table (now STALE) and the path records
			// stay.
			if s0, s1 := mustLink(t, n0, "ib0").Stats, mustLink(t, n1, "ib0").Stats; s0 != stats0 || s1 != stats1 {
				t.Errorf("counters changed: node0 %+v -> %+v, node1 %+v -> %+v", stats0, s0, stats1, s1)
			}
			arp, _ := n0.Neighs()
			if len(arp) != 1 || string(arp[0].Dst) != string(arp0[0].Dst) || arp[0].State != unix.NUD_STALE {
				t.Errorf("ARP table after expiry = %+v, before %+v", arp, arp0)
			}
			if paths, _ := n0.Paths("ib0"); !cmp.Equal(paths, paths0) {
				t.Errorf("paths after expiry = %+v, before %+v", paths, paths0)
			}
			// The next packet allocates the neighbour again and
			// reconnects.
			mustPing(t, n0, [4]byte{10, 0, 0, 2}, 2)
			if got, want := state(), [6]int{1, c, c, 1, c, c}; got != want {
				t.Fatalf("neighbours/active/passive after a new ping = %v, want %v", got, want)
			}
		})
	}
}

func TestNeighbourUseKeepsItAlive(t *testing.T) {
	d, clk := newClockedDriver(t)
	n0, n1 := pingPair(t, d, netlinkx.ModeConnected)
	mustPing(t, n0, [4]byte{10, 0, 0, 2}, 1)
	d.Settle()
	// A transmit every 50 s keeps both neighbours (each side transmits:
	// request and reply).
	for i := range 4 {
		clk.Advance(50 * time.Second)
		mustPing(t, n0, [4]byte{10, 0, 0, 2}, uint16(i+2))
		if got := d.ReapNeighbours(); got != 0 {
			t.Fatalf("scan %d freed %d neighbours in use", i, got)
		}
	}
	// Idle for more than 60 s: both go.
	clk.Advance(61 * time.Second)
	if got := d.ReapNeighbours(); got != 2 {
		t.Fatalf("freed %d idle neighbours, want 2", got)
	}
	// Messages need debug_level.
	wantErrno(t, n1.SetParam("debug_level", 0), 0)
	_, seq := logSince(n1, 0)
	mustPing(t, n0, [4]byte{10, 0, 0, 2}, 9)
	clk.Advance(61 * time.Second)
	if got := d.ReapNeighbours(); got != 2 {
		t.Fatalf("freed %d idle neighbours, want 2", got)
	}
	if msgs, _ := logSince(n1, seq); len(msgs) != 0 {
		t.Errorf("node1 messages with debug_level 0: %q", msgs)
	}
}

func TestUnicastARPUsesNoNeighbour(t *testing.T) {
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	n0, n1 := pingPair(t, d, netlinkx.ModeConnected)
	d.mu.Lock()
	index0, dp1 := mustDev(t, n0, "ib0").index, mustDev(t, n1, "ib0").dp
	d.mu.Unlock()
	// node0 asks (broadcast), node1 answers (unicast ARP over UD).
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	if _, ok := n0.ip.Resolve(index0, src, dst, time.Now().Add(2*time.Second)); !ok {
		t.Fatal("ARP unanswered")
	}
	if n, tx, rx := dp1.NeighCount(), 0, 0; n != 0 {
		tx, rx = dp1.ConnCounts()
		t.Fatalf("node1 after answering ARP: %d neighbours, %d/%d connections", n, tx, rx)
	}
	if s := mustLink(t, n0, "ib0").Stats; s.RxPackets != 1 {
		t.Fatalf("node0 received %d packets, want the ARP reply", s.RxPackets)
	}
	if msgs, _ := logSince(n1, 0); strings.Contains(strings.Join(msgs, "\n"), "connection") {
		t.Fatalf("node1 messages: %q", msgs)
	}
}

// TestDelNeigh deletes neighbour entries as RTM_DELNEIGH does: a
// reachable one and one still resolving, whose solicitations stop; an
// entry that is not there is ENOENT, a device that is not there ENODEV.
func TestDelNeigh(t *testing.T) {
	d, clk := newClockedDriver(t)
	n0, _ := pingPair(t, d, netlinkx.ModeDatagram)
	mustPing(t, n0, [4]byte{10, 0, 0, 2}, 1)
	// No timeout: the ping gives up as its first solicitation leaves,
	// and the entry stays incomplete.
	rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 9}, Size: 56, Seq: 2})
	if err != nil || rep.Status == netlinkx.PingReplied {
		t.Fatalf("ping 10.0.0.9: %+v %v", rep, err)
	}
	l, err := n0.Link(0, "ib0")
	if err != nil {
		t.Fatal(err)
	}
	list := func() string {
		ns, err := n0.Neighs()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, n := range ns {
			fmt.Fprintf(&b, "%v %#x, ", netip.AddrFrom4([4]byte(n.Dst)), n.State)
		}
		return b.String()
	}
	if got, want := list(), "10.0.0.2 0x2, 10.0.0.9 0x1, "; got != want {
		t.Fatalf("before: %s, want %s", got, want)
	}
	wantErrno(t, n0.DelNeigh(netlinkx.Neigh{Index: l.Index, Family: unix.AF_INET, Dst: []byte{10, 0, 0, 9}}), 0)
	clk.Advance(5 * time.Second) // the stopped probes fail no entry
	if got, want := list(), "10.0.0.2 0x2, "; got != want {
		t.Fatalf("after deleting 10.0.0.9: %s, want %s", got, want)
	}
	wantErrno(t, n0.DelNeigh(netlinkx.Neigh{Index: l.Index, Family: unix.AF_INET, Dst: []byte{10, 0, 0, 9}}), unix.ENOENT)
	wantErrno(t, n0.DelNeigh(netlinkx.Neigh{Index: 99, Family: unix.AF_INET, Dst: []byte{10, 0, 0, 2}}), unix.ENODEV)
	wantErrno(t, n0.DelNeigh(netlinkx.Neigh{Index: l.Index, Family: unix.AF_INET, Dst: []byte{10, 0, 0, 2}}), 0)
	if got := list(); got != "" {
		t.Fatalf("after deleting both: %s", got)
	}
	mustPing(t, n0, [4]byte{10, 0, 0, 2}, 3) // resolved again
	if got, want := list(), "10.0.0.2 0x2, "; got != want {
		t.Fatalf("after another ping: %s, want %s", got, want)
	}
}

// TestClearLog clears the kernel message ring up to a sequence number, as
// dmesg -c does after reading: a message logged after that one stays, and
// the sequence numbers go on.
func TestClearLog(t *testing.T) {
	d, _ := newClockedDriver(t)
	n, _ := d.Node("node0")
	_, last := logSince(n, 0)
	n.klog.add("ib0: one")
	n.klog.add("ib0: two")
	_, upto := logSince(n, last)
	n.klog.add("ib0: three")
	wantErrno(t, n.ClearLog(upto), 0)
	recs, _ := n.Log(0)
	if len(recs) != 1 || recs[0].Text != "ib0: three" || recs[0].Seq != upto+1 {
		t.Fatalf("after clearing up to %d: %+v", upto, recs)
	}
	n.klog.add("ib0: four")
	if got, _ := logSince(n, 0); strings.Join(got, "|") != "ib0: three|ib0: four" {
		t.Fatalf("after another message: %q", got)
	}
}

// The neighbour dump carries the entry's statistics as neigh_fill_info
// does: times since used, confirmed and updated in clock_t ticks, the
// timer's reference while reachable, and neigh->probes.
func TestNeighsStats(t *testing.T) {
	d, clk := newClockedDriver(t)
	n0, _ := pingPair(t, d, netlinkx.ModeDatagram)
	mustPing(t, n0, [4]byte{10, 0, 0, 2}, 1)
	index := mustLink(t, n0, "ib0").Index
	tests := []struct {
		advance time.Duration
		want    netlinkx.Neigh
	}{
		{12345 * time.Millisecond, netlinkx.Neigh{Index: index, Family: unix.AF_INET, State: unix.NUD_REACHABLE, Dst: []byte{10, 0, 0, 2},
			Used: 1234, Confirmed: 1234, Updated: 1234, Refcnt: 1, Probes: 4}},
		{30 * time.Second, netlinkx.Neigh{Index: index, Family: unix.AF_INET, State: unix.NUD_STALE, Dst: []byte{10, 0, 0, 2},
			Used: 4234, Confirmed: 4234, Updated: 1234, Probes: 4}},
	}
	for _, tt := range tests {
		clk.Advance(tt.advance)
		all, err := n0.Neighs()
		if err != nil {
			t.Fatal(err)
		}
		var got []netlinkx.Neigh
		for _, m := range all {
			if m.Family == unix.AF_INET {
				m.LLAddr = nil // node1's, as other tests check
				got = append(got, m)
			}
		}
		if diff := cmp.Diff([]netlinkx.Neigh{tt.want}, got); diff != "" {
			t.Errorf("after %v more (-want +got):\n%s", tt.advance, diff)
		}
	}
}

// A broadcast ARP request teaches its sender's address only to the node
// it asks for: on a three-node partition, node0 resolving node1 leaves no
// entry on node2 (arp_process looks the sender up without creating it
// when arp_accept is off). node2's own ping afterwards goes through the
// same receive queue as node0's request, so by its reply node2 has seen
// that request.
func TestBroadcastARPTeachesOnlyTheTarget(t *testing.T) {
	d := largeFabric(t, 3)
	bringUp(t, d)
	defer bringDown(t, d)
	n0, _ := d.Node("node0")
	n2, _ := d.Node("node2")
	mustPing(t, n0, nodeAddr(1).As4(), 1)
	mustPing(t, n2, nodeAddr(1).As4(), 1)
	neighs, err := n2.Neighs()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range neighs {
		got = append(got, netip.AddrFrom4([4]byte(n.Dst)).String())
	}
	if want := []string{nodeAddr(1).String()}; !cmp.Equal(got, want) {
		t.Fatalf("node2's neighbours %v, want %v", got, want)
	}
}

// neighMessage reports the link-layer address of a valid entry only
// (neigh_fill_info: NUD_VALID), whatever the entry holds.
func TestNeighMessageLLAddr(t *testing.T) {
	hw := [20]byte{0x80, 19: 1}
	for _, tc := range []struct {
		state uint16
		valid bool
	}{
		{unix.NUD_INCOMPLETE, false}, {unix.NUD_REACHABLE, true}, {unix.NUD_STALE, true},
		{unix.NUD_DELAY, true}, {unix.NUD_PROBE, true}, {unix.NUD_FAILED, false},
	} {
		m := neighMessage(2, inet.Neighbour{Addr: netip.MustParseAddr("10.0.0.2"), State: tc.state, HW: hw})
		if got := m.LLAddr != nil; got != tc.valid || tc.valid && string(m.LLAddr) != string(hw[:]) {
			t.Errorf("state %#x: lladdr %x, want it %v", tc.state, m.LLAddr, tc.valid)
		}
	}
}
