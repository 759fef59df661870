package driver

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/clocktest"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

func addAddr(t *testing.T, n *Node, dev, prefix string) {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	l := mustLink(t, n, dev)
	wantErrno(t, n.AddAddr(netlinkx.Addr{Index: l.Index, Family: unix.AF_INET, PrefixLen: uint8(p.Bits()), Local: p.Addr().AsSlice()}), 0)
}

func TestPingBetweenNodes(t *testing.T) {
	d, n0 := newTestDriver(t, nil)
	n1, err := d.Node("node1")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	}
	addAddr(t, n0, "ib0", "10.0.0.1/24")
	addAddr(t, n1, "ib0", "10.0.0.2/24")

	rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 56, Ident: 7, Seq: 1, TimeoutMs: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != netlinkx.PingReplied || rep.TTL != 64 || rep.Bytes != 64 || netip.AddrFrom4([4]byte(rep.From)).String() != "10.0.0.2" {
		t.Fatalf("reply = %+v", rep)
	}
	// ARP taught both sides each other's address: node0 from the
	// reply, REACHABLE; node1 from the request, STALE (neigh_event_ns),
	// then DELAY once its echo reply went through the entry.
	for _, tc := range []struct {
		n     *Node
		peer  string
		hw    []byte
		state uint16
	}{{n0, "10.0.0.2", mustLink(t, n1, "ib0").Address, unix.NUD_REACHABLE},
		{n1, "10.0.0.1", mustLink(t, n0, "ib0").Address, unix.NUD_DELAY}} {
		ns, _ := tc.n.Neighs()
		if len(ns) != 1 || netip.AddrFrom4([4]byte(ns[0].Dst)).String() != tc.peer || string(ns[0].LLAddr[1:]) != string(tc.hw[1:]) || ns[0].State != tc.state {
			t.Fatalf("neighbours = %+v", ns)
		}
	}
	s0, s1 := mustLink(t, n0, "ib0").Stats, mustLink(t, n1, "ib0").Stats
	// node0: ARP request + echo request out, ARP reply + echo reply in.
	if s0.TxPackets != 2 || s0.RxPackets != 2 || s1.TxPackets != 2 || s1.RxPackets != 2 {
		t.Fatalf("stats node0 %+v node1 %+v", s0, s1)
	}
	if s0.TxBytes != 4+56+4+84 {
		t.Fatalf("node0 tx bytes = %d", s0.TxBytes)
	}

	// a second ping needs no ARP
	rep, err = n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 1000, Ident: 7, Seq: 2, TimeoutMs: 10000})
	if err != nil || rep.Status != netlinkx.PingReplied || rep.Bytes != 1008 {
		t.Fatalf("second reply = %+v, %v", rep, err)
	}
	if s := mustLink(t, n0, "ib0").Stats; s.TxPackets != 3 {
		t.Fatalf("tx after second ping = %d", s.TxPackets)
	}
	// nobody owns 10.0.0.9: 300 ms is before the entry fails (3 s), so
	// the request has no answer yet
	rep, err = n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 9}, Size: 56, Ident: 7, Seq: 3, TimeoutMs: 300})
	if err != nil || rep.Status != netlinkx.PingTimeout {
		t.Fatalf("unresolved = %+v, %v", rep, err)
	}
	// connect alone: the route's source and MTU, nothing sent
	tx := mustLink(t, n0, "ib0").Stats.TxPackets
	rep, err = n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 56, Connect: true})
	if err != nil || string(rep.Src) != string([]byte{10, 0, 0, 1}) || rep.MTU != 2044 || rep.From != nil {
		t.Fatalf("connect = %+v, %v", rep, err)
	}
	if d := mustLink(t, n0, "ib0").Stats.TxPackets - tx; d != 0 {
		t.Fatalf("connect sent %d packets", d)
	}
	// larger than the MTU: refused with DF (-M do), fragmented and
	// reassembled both ways otherwise
	if rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 4000, TimeoutMs: 300, PMTUDisc: netlinkx.PMTUDiscDo}); err != nil || rep.Status != netlinkx.PingTooLong || rep.MTU != 2044 {
		t.Fatalf("4000 bytes, -M do: %+v %v", rep, err)
	}
	tx0 := mustLink(t, n0, "ib0").Stats.TxPackets
	if rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 4000, Seq: 10, TimeoutMs: 10000}); err != nil || rep.Status != netlinkx.PingReplied || rep.Bytes != 4008 {
		t.Fatalf("4000 bytes, fragmented: %+v %v", rep, err)
	}
	// 4028 bytes at MTU 2044: fragments of 2020 + 2008 bytes of payload... 2 or 3 packets
	if d := mustLink(t, n0, "ib0").Stats.TxPackets - tx0; d != 2 {
		t.Fatalf("fragments sent = %d, want 2", d)
	}
	// no route
	if _, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{192, 0, 2, 1}, Size: 56, TimeoutMs: 300}); !errorsIs(err, unix.ENETUNREACH) {
		t.Fatalf("no route: %v", err)
	}
	// the peer goes down: no reply
	wantErrno(t, n1.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(false)}), 0)
	rep, err = n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 56, Ident: 7, Seq: 4, TimeoutMs: 300})
	if err != nil || rep.Status != netlinkx.PingTimeout {
		t.Fatalf("peer down = %+v, %v", rep, err)
	}
}

func TestPartitionsIsolate(t *testing.T) {
	d, n0 := newTestDriver(t, nil)
	n1, _ := d.Node("node1")
	wantErrno(t, d.AddPartition(netlinkx.Partition{PKey: 0x8001, MTU: 2048, All: "full"}), 0)
	wantErrno(t, d.AddPartition(netlinkx.Partition{PKey: 0x8002, MTU: 2048, All: "full"}), 0)
	for _, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	}
	p0, p1 := mustLink(t, n0, "ib0"), mustLink(t, n1, "ib0")
	wantErrno(t, n0.NewLink(netlinkx.LinkRequest{Name: "a", ParentIndex: p0.Index, Kind: "ipoib", PKey: ptr(uint16(0x8001)), Up: ptr(true)}), 0)
	wantErrno(t, n1.NewLink(netlinkx.LinkRequest{Name: "b", ParentIndex: p1.Index, Kind: "ipoib", PKey: ptr(uint16(0x8002)), Up: ptr(true)}), 0)
	addAddr(t, n0, "a", "10.1.0.1/24")
	addAddr(t, n1, "b", "10.1.0.2/24")
	rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 1, 0, 2}, Size: 56, Seq: 1, TimeoutMs: 300})
	if err != nil || rep.Status != netlinkx.PingTimeout {
		t.Fatalf("across partitions = %+v, %v", rep, err)
	}
	if s := mustLink(t, n1, "b").Stats; s.RxPackets != 0 {
		t.Fatalf("b received %d packets from another partition", s.RxPackets)
	}
}

func TestConnectedModeOverRC(t *testing.T) {
	d, n0 := newTestDriver(t, nil)
	n1, _ := d.Node("node1")
	for _, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
		wantErrno(t, n.SetMode("ib0", netlinkx.ModeConnected), 0)
	}
	addAddr(t, n0, "ib0", "10.0.0.1/24")
	addAddr(t, n1, "ib0", "10.0.0.2/24")
	for seq, size := range []uint32{56, 4000, 65000} {
		rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: size, Seq: uint16(seq), TimeoutMs: 10000})
		if err != nil || rep.Status != netlinkx.PingReplied || rep.Bytes != size+8 {
			t.Fatalf("%d bytes over RC = %+v, %v", size, rep, err)
		}
	}
	// one active and one passive connection each way
	d.mu.Lock()
	tx0, rx0 := mustDev(t, n0, "ib0").dp.ConnCounts()
	tx1, rx1 := mustDev(t, n1, "ib0").dp.ConnCounts()
	d.mu.Unlock()
	if tx0 != 1 || rx0 != 1 || tx1 != 1 || rx1 != 1 {
		t.Fatalf("connections node0 %d/%d node1 %d/%d", tx0, rx0, tx1, rx1)
	}
	// above the connection MTU: refused with DF, fragmented otherwise
	rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 65500, Seq: 9, TimeoutMs: 10000, PMTUDisc: netlinkx.PMTUDiscDo})
	if err != nil || rep.Status != netlinkx.PingTooLong || rep.MTU != 65520 {
		t.Fatalf("65500 bytes, -M do = %+v, %v", rep, err)
	}
	rep, err = n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 65500, Seq: 10, TimeoutMs: 10000})
	if err != nil || rep.Status != netlinkx.PingReplied || rep.Bytes != 65508 {
		t.Fatalf("65500 bytes = %+v, %v", rep, err)
	}
	// back to datagram: connections flushed, UD MTU applies
	wantErrno(t, n0.SetMode("ib0", netlinkx.ModeDatagram), 0)
	d.mu.Lock()
	tx0, _ = mustDev(t, n0, "ib0").dp.ConnCounts()
	d.mu.Unlock()
	if tx0 != 0 {
		t.Fatalf("active connections after datagram: %d", tx0)
	}
}

func TestConnectedModePeerWithoutCMUsesUD(t *testing.T) {
	topo := fabric.DefaultTopology()
	topo.Nodes[1].Ports[0].Caps = &fabric.Capabilities{Checksum: true}
	// A manual clock: the route's expiry is read within the jiffy the
	// exception was learnt in.
	clk := clocktest.New(t)
	d, err := New(Options{Topology: topo, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	clk.Watch(d)
	n0, _ := d.Node("node0")
	n1, _ := d.Node("node1")
	for _, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	}
	wantErrno(t, n0.SetMode("ib0", netlinkx.ModeConnected), 0)
	addAddr(t, n0, "ib0", "10.0.0.1/24")
	addAddr(t, n1, "ib0", "10.0.0.2/24")
	rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 1000, Seq: 1, TimeoutMs: 10000})
	if err != nil || rep.Status != netlinkx.PingReplied {
		t.Fatalf("1000 bytes to a UD peer = %+v, %v", rep, err)
	}
	rep, err = n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 4000, Seq: 2, TimeoutMs: 10000})
	if err != nil || rep.Status != netlinkx.PingFragNeeded || rep.MTU != 2044 {
		t.Fatalf("4000 bytes to a UD peer = %+v, %v", rep, err)
	}
	if s := mustLink(t, n0, "ib0").Stats; s.TxDropped != 1 || s.TxErrors != 1 {
		t.Fatalf("stats = %+v", s)
	}
	// the path MTU dropped to the UD MTU: the route shows it, and the next
	// echo is fragmented to fit
	r, err := n0.RouteGet([]byte{10, 0, 0, 2})
	if err != nil || r.MTU != 2044 || r.ExpiresSec != 600 || r.Dev != "ib0" {
		t.Fatalf("route = %+v, %v", r, err)
	}
	rep, err = n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 4000, Seq: 3, TimeoutMs: 10000})
	if err != nil || rep.Status != netlinkx.PingReplied || rep.Bytes != 4008 {
		t.Fatalf("4000 bytes after the path MTU dropped = %+v, %v", rep, err)
	}
	rep, err = n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 4000, Seq: 4, TimeoutMs: 10000, PMTUDisc: netlinkx.PMTUDiscDo})
	if err != nil || rep.Status != netlinkx.PingTooLong || rep.MTU != 2044 {
		t.Fatalf("4000 bytes, -M do, after the path MTU dropped = %+v, %v", rep, err)
	}
}

func mustDev(t *testing.T, n *Node, name string) *Netdev {
	t.Helper()
	nd, ok := n.byName[name]
	if !ok {
		t.Fatalf("no %s", name)
	}
	return nd
}

func TestPerfAndCQModeration(t *testing.T) {
	d, n0 := newTestDriver(t, nil)
	n1, _ := d.Node("node1")
	for _, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	}
	addAddr(t, n0, "ib0", "10.0.0.1/24")
	addAddr(t, n1, "ib0", "10.0.0.2/24")
	run := func(frames uint32) netlinkx.PerfReply {
		wantErrno(t, n1.SetCoalesce("ib0", netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES: frames, unix.ETHTOOL_A_COALESCE_RX_USECS: 50}), 0)
		rep, err := n0.PerfContext(context.Background(), netlinkx.PerfRequest{Dst: []byte{10, 0, 0, 2}, DurationMs: 200})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Sent == 0 || rep.Received != rep.Sent || rep.Bytes != rep.Received*2048 {
			t.Fatalf("perf with rx-frames %d: %+v", frames, rep)
		}
		return rep
	}
	// Every datagram is one receive completion; events are what the
	// armed CQ raised (NAPI polling and moderation both lower them).
	for _, frames := range []uint32{1, 16} {
		rep := run(frames)
		if rep.Completions != rep.Received || rep.Events == 0 || rep.Events > rep.Completions {
			t.Fatalf("rx-frames %d: %+v", frames, rep)
		}
	}
	// connected mode streams over RC
	for _, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetMode("ib0", netlinkx.ModeConnected), 0)
	}
	rep, err := n0.PerfContext(context.Background(), netlinkx.PerfRequest{Dst: []byte{10, 0, 0, 2}, Size: 65000, DurationMs: 200})
	if err != nil || rep.Sent == 0 || rep.Received != rep.Sent || rep.Mode != netlinkx.ModeConnected {
		t.Fatalf("connected perf: %+v %v", rep, err)
	}
}

func TestStalePassiveConnectionsReaped(t *testing.T) {
	d, clk := newClockedDriver(t)
	advance := clk.Advance
	n0, _ := d.Node("node0")
	n1, _ := d.Node("node1")
	for _, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
		wantErrno(t, n.SetMode("ib0", netlinkx.ModeConnected), 0)
	}
	addAddr(t, n0, "ib0", "10.0.0.1/24")
	addAddr(t, n1, "ib0", "10.0.0.2/24")
	ping := func(seq uint16) {
		if rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 3000, Seq: seq, TimeoutMs: 10000}); err != nil || rep.Status != netlinkx.PingReplied {
			t.Fatalf("ping %d: %+v %v", seq, rep, err)
		}
	}
	passive := func(n *Node) int {
		d.mu.Lock()
		defer d.mu.Unlock()
		_, rx := mustDev(t, n, "ib0").dp.ConnCounts()
		return rx
	}
	ping(1)
	d.Settle()
	if passive(n1) != 1 {
		t.Fatalf("node1 passive connections = %d", passive(n1))
	}
	advance(500 * time.Second)
	if got := d.ReapStaleConnections(); got != 0 {
		t.Fatalf("reaped %d after 500 s", got)
	}
	advance(13 * time.Second) // 513 s idle: both passive ends go
	if got := d.ReapStaleConnections(); got != 2 {
		t.Fatalf("reaped %d after 513 s, want 2", got)
	}
	if passive(n1) != 0 {
		t.Fatalf("node1 passive connections after reap = %d", passive(n1))
	}
	// The passive ends' DREQs reach the active ends, which answer and
	// stay in time-wait for the ACK timeout (2048 ms) before they let go
	// of their neighbours; the next ping then connects anew.
	d.Settle()
	advance(2048 * time.Millisecond)
	d.Settle()
	ping(2)
	if passive(n1) != 1 {
		t.Fatalf("node1 passive connections after a new ping = %d", passive(n1))
	}
}

func addAddr6(t *testing.T, n *Node, dev, prefix string) {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	l := mustLink(t, n, dev)
	wantErrno(t, n.AddAddr(netlinkx.Addr{Index: l.Index, Family: unix.AF_INET6, PrefixLen: uint8(p.Bits()), Local: p.Addr().AsSlice()}), 0)
}

func TestPingIPv6WithNeighbourDiscovery(t *testing.T) {
	d, n0 := newTestDriver(t, nil)
	n1, _ := d.Node("node1")
	for _, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	}
	addAddr6(t, n0, "ib0", "fd00::1/64")
	addAddr6(t, n1, "ib0", "fd00::2/64")
	dst := netip.MustParseAddr("fd00::2")
	rep, err := n0.Ping(netlinkx.PingRequest{Dst: dst.AsSlice(), Size: 56, Seq: 1, TimeoutMs: 10000})
	if err != nil || rep.Status != netlinkx.PingReplied || rep.Bytes != 64 || rep.TTL != 64 {
		t.Fatalf("ping6 = %+v, %v", rep, err)
	}
	ns, _ := n0.Neighs()
	if len(ns) != 1 || netip.AddrFrom16([16]byte(ns[0].Dst)) != dst || ns[0].LLAddr[0] != 0x80 {
		t.Fatalf("neighbours = %+v", ns)
	}
	// node1 joined its solicited-node group ff02::1:ff00:2 (full member);
	// node0 sent its solicitation there after a send-only join.
	var bcast header.HWAddr
	copy(bcast[:], mustLink(t, n0, "ib0").Broadcast)
	snm := header.IPv6MGID(header.SolicitedNodeAddr(dst.As16()), bcast)
	members := map[string]uint8{}
	for _, g := range d.Groups() {
		if g.MGID == snm {
			for _, m := range g.Members {
				members[m.Node] = m.JoinState
			}
		}
	}
	if len(members) != 2 || members["node1"] != 1 || members["node0"] != 8 {
		t.Fatalf("solicited-node group members = %v", members)
	}
	// all-hosts, joined at up without an IPv4 address (ip_mc_up); the
	// solicited-node groups of fd00::2 and of the link-local address
	// fe80::202:c903:0:2001, newest first; then all-nodes of link and
	// interface scope
	if got := inetGroups(t, n1, "ib0"); got != "224.0.0.1 ff02::1:ff00:2 ff02::1:ff00:2001 ff02::1 ff01::1" {
		t.Fatalf("node1 ib0 multicast list = %s", got)
	}
}

// Port 2 (ib1) is a data path of its own, in either mode: each HCA port is
// a verbs device, whose QPs use its port 1.
func TestPingOverSecondPort(t *testing.T) {
	for _, mode := range []uint16{netlinkx.ModeDatagram, netlinkx.ModeConnected} {
		d, n0 := newTestDriver(t, nil)
		n1, err := d.Node("node1")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []*Node{n0, n1} {
			wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib1", Up: ptr(true)}), 0)
			wantErrno(t, n.SetMode("ib1", mode), 0)
			if l := mustLink(t, n, "ib1"); !l.Carrier {
				t.Fatalf("mode %d: ib1 has no carrier", mode)
			}
		}
		addAddr(t, n0, "ib1", "10.1.0.1/24")
		addAddr(t, n1, "ib1", "10.1.0.2/24")
		rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 1, 0, 2}, Size: 3000, Ident: 7, Seq: 1, TimeoutMs: 10000})
		if err != nil || rep.Status != netlinkx.PingReplied {
			t.Fatalf("mode %d: ping over ib1: %+v %v", mode, rep, err)
		}
		if tx, _ := mustDev(t, n0, "ib1").dp.ConnCounts(); (tx == 1) != (mode == netlinkx.ModeConnected) {
			t.Errorf("mode %d: %d active connections", mode, tx)
		}
	}
}

// With -I, the source is the first address of the interface's subnet
// that holds the destination (the connected route's preferred source),
// not the interface's first address; off its subnets, the first address.
func TestPingSourceWithInterface(t *testing.T) {
	d, n0 := newTestDriver(t, nil)
	n1, err := d.Node("node1")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	}
	addAddr(t, n0, "ib0", "192.168.1.1/24")
	addAddr(t, n0, "ib0", "10.0.0.1/24")
	addAddr(t, n0, "ib0", "10.0.0.7/24")
	addAddr(t, n1, "ib0", "10.0.0.2/24")
	tests := []struct {
		dst  [4]byte
		want string
	}{
		{[4]byte{10, 0, 0, 2}, "10.0.0.1"},
		{[4]byte{192, 168, 1, 9}, "192.168.1.1"},
		{[4]byte{172, 16, 0, 1}, "192.168.1.1"},
	}
	for _, tt := range tests {
		rep, err := n0.Ping(netlinkx.PingRequest{Dev: "ib0", Dst: tt.dst[:], Size: 56, Ident: 9, Seq: 1, TimeoutMs: 100})
		if err != nil {
			t.Fatalf("ping -I ib0 %v: %v", tt.dst, err)
		}
		if got := netip.AddrFrom4([4]byte(rep.Src)).String(); got != tt.want {
			t.Errorf("ping -I ib0 %v: source %s, want %s", netip.AddrFrom4(tt.dst), got, tt.want)
		}
	}
	// The reply to the in-subnet echo came back to that source.
	rep, err := n0.Ping(netlinkx.PingRequest{Dev: "ib0", Dst: []byte{10, 0, 0, 2}, Size: 56, Ident: 9, Seq: 2, TimeoutMs: 10000})
	if err != nil || rep.Status != netlinkx.PingReplied {
		t.Fatalf("ping -I ib0 10.0.0.2: %+v %v", rep, err)
	}
}

// A cancel ends the requests of a ping still waiting on a neighbour that
// does not answer, before the entry fails, as ping's exit closing its
// socket leaves nobody to wait for them.
func TestPingCancel(t *testing.T) {
	_, n0 := newTestDriver(t, nil)
	wantErrno(t, n0.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	addAddr(t, n0, "ib0", "10.0.0.1/24")
	nobody := []byte{10, 0, 0, 9}
	type result struct {
		rep netlinkx.PingReply
		err error
	}
	results := make(chan result, 1)
	go func() {
		rep, err := n0.Ping(netlinkx.PingRequest{Dst: nobody, Size: 56, Ident: 7, Seq: 1, TimeoutMs: 60000})
		results <- result{rep, err}
	}()
	// the request waits on the entry once it shows: both are made
	// under the stack's lock
	for {
		neighs, err := n0.Neighs()
		if err != nil {
			t.Fatal(err)
		}
		if len(neighs) == 1 {
			break
		}
		runtime.Gosched()
	}
	if _, err := n0.Ping(netlinkx.PingRequest{Dst: nobody, Ident: 7, Cancel: true}); err != nil {
		t.Fatal(err)
	}
	if r := <-results; r.err != nil || r.rep.Status != netlinkx.PingTimeout {
		t.Fatalf("after the cancel: %+v %v, want a timeout", r.rep, r.err)
	}
}

// Ping runs on the driver's clock: a reply that comes while the clock
// stands took no time, and a ping to nobody ends when the clock reaches
// its deadline, not before.
func TestPingOnDriverClock(t *testing.T) {
	for _, mode := range []uint16{netlinkx.ModeDatagram, netlinkx.ModeConnected} {
		clk := newArmClock(t)
		d, err := New(Options{Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		clk.Watch(d)
		n0, _ := pingPair(t, d, mode)
		rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 56, Seq: 1, TimeoutMs: 10000})
		if err != nil || rep.Status != netlinkx.PingReplied || rep.RTTNs != 0 {
			t.Fatalf("mode %d: ping 10.0.0.2: %+v %v, want a reply in 0 ns", mode, rep, err)
		}
		for len(clk.armed) > 0 {
			<-clk.armed
		}
		const timeout = 1500 * time.Millisecond // before the entry fails, 3 s after its first solicitation
		done := make(chan netlinkx.PingReply, 1)
		go func() {
			rep, _ := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 9}, Size: 56, Seq: 2, TimeoutMs: uint32(timeout / time.Millisecond)})
			done <- rep
		}()
		// the ping's deadline, armed on the driver's clock
		for bound := time.After(10 * time.Second); ; {
			select {
			case armed := <-clk.armed:
				if armed != timeout {
					continue
				}
			case <-bound:
				t.Fatalf("mode %d: ping 10.0.0.9 armed no %v timer on the driver's clock", mode, timeout)
			}
			break
		}
		clk.Advance(timeout - time.Millisecond)
		select {
		case rep := <-done:
			t.Fatalf("mode %d: ping 10.0.0.9 ended before its deadline: %+v", mode, rep)
		default:
		}
		clk.Advance(time.Millisecond)
		// before the entry fails (3 s): no answer yet
		if rep := <-done; rep.Status != netlinkx.PingTimeout {
			t.Errorf("mode %d: ping 10.0.0.9 at its deadline: %+v, want no answer yet", mode, rep)
		}
	}
}
