package driver

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/netlinkx"
)

// manualClock is a settable clock for the IP stack.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newManualClock() *manualClock { return &manualClock{now: time.Unix(1_700_000_000, 0)} }

func TestPingIPv6Fragmented(t *testing.T) {
	d, n0 := newTestDriver(t, nil)
	n1, _ := d.Node("node1")
	for _, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	}
	addAddr6(t, n0, "ib0", "fd00::1/64")
	addAddr6(t, n1, "ib0", "fd00::2/64")
	dst := netip.MustParseAddr("fd00::2")
	// neighbour discovery first, so that the counters below are the echo's
	if rep, err := n0.Ping(netlinkx.PingRequest{Dst: dst.AsSlice(), Size: 56, Seq: 1, TimeoutMs: 10000}); err != nil || rep.Status != netlinkx.PingReplied {
		t.Fatalf("ping6 = %+v, %v", rep, err)
	}
	tx0, rx1 := mustLink(t, n0, "ib0").Stats, mustLink(t, n1, "ib0").Stats
	rep, err := n0.Ping(netlinkx.PingRequest{Dst: dst.AsSlice(), Size: 4000, Seq: 2, TimeoutMs: 10000})
	if err != nil || rep.Status != netlinkx.PingReplied || rep.Bytes != 4008 || rep.TTL != 64 || netip.AddrFrom16([16]byte(rep.From)) != dst {
		t.Fatalf("4000 bytes = %+v, %v", rep, err)
	}
	// three fragments each way: two of 2040 bytes (1992 of data) and one
	// of 72, each with the 4-byte encapsulation header
	s0, s1 := mustLink(t, n0, "ib0").Stats, mustLink(t, n1, "ib0").Stats
	if s0.TxPackets-tx0.TxPackets != 3 || s0.TxBytes-tx0.TxBytes != 2*2044+76 ||
		s1.RxPackets-rx1.RxPackets != 3 || s1.TxPackets-rx1.TxPackets != 3 || s0.RxPackets-tx0.RxPackets != 3 {
		t.Fatalf("node0 %+v → %+v, node1 %+v → %+v", tx0, s0, rx1, s1)
	}
	// -M do: not sent, EMSGSIZE with the path MTU; -M dont fragments
	rep, err = n0.Ping(netlinkx.PingRequest{Dst: dst.AsSlice(), Size: 4000, Seq: 3, TimeoutMs: 300, PMTUDisc: netlinkx.PMTUDiscDo})
	if err != nil || rep.Status != netlinkx.PingTooLong || rep.MTU != 2044 {
		t.Fatalf("-M do = %+v, %v", rep, err)
	}
	if s := mustLink(t, n0, "ib0").Stats; s.TxPackets != s0.TxPackets {
		t.Fatalf("-M do sent %d packets", s.TxPackets-s0.TxPackets)
	}
	rep, err = n0.Ping(netlinkx.PingRequest{Dst: dst.AsSlice(), Size: 1996, Seq: 4, TimeoutMs: 10000, PMTUDisc: netlinkx.PMTUDiscDo})
	if err != nil || rep.Status != netlinkx.PingReplied || rep.Bytes != 2004 {
		t.Fatalf("1996 bytes (2044 on the wire), -M do = %+v, %v", rep, err)
	}
	rep, err = n0.Ping(netlinkx.PingRequest{Dst: dst.AsSlice(), Size: 1997, Seq: 5, TimeoutMs: 10000, PMTUDisc: netlinkx.PMTUDiscDont})
	if err != nil || rep.Status != netlinkx.PingReplied || rep.Bytes != 2005 {
		t.Fatalf("1997 bytes, -M dont = %+v, %v", rep, err)
	}
}

// A peer without connected mode reached from an interface in connected
// mode goes over UD: the first large echo is answered by the driver's
// "packet too big", after which the route's path MTU is the UD MTU for
// 600 s (net.ipv6.route.mtu_expires) and echoes are fragmented to it.
func TestPingIPv6PathMTU(t *testing.T) {
	topo := fabric.DefaultTopology()
	topo.Nodes[1].Ports[0].Caps = &fabric.Capabilities{Checksum: true}
	clock := newManualClock()
	d, err := New(Options{Topology: topo, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	n0, _ := d.Node("node0")
	n1, _ := d.Node("node1")
	for _, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	}
	wantErrno(t, n0.SetMode("ib0", netlinkx.ModeConnected), 0)
	addAddr6(t, n0, "ib0", "fd00::1/64")
	addAddr6(t, n1, "ib0", "fd00::2/64")
	dst := netip.MustParseAddr("fd00::2")
	ping := func(seq uint16, size uint32, pmtu uint8) netlinkx.PingReply {
		t.Helper()
		rep, err := n0.Ping(netlinkx.PingRequest{Dst: dst.AsSlice(), Size: size, Seq: seq, TimeoutMs: 10000, PMTUDisc: pmtu})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	route := func() netlinkx.Route {
		t.Helper()
		r, err := n0.RouteGet(dst.AsSlice())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := route(); r.MTU != 0 || r.ExpiresSec != 0 {
		t.Fatalf("route before: %+v", r)
	}
	rep := ping(1, 4000, netlinkx.PMTUDiscWant)
	if rep.Status != netlinkx.PingFragNeeded || rep.MTU != 2044 || netip.AddrFrom16([16]byte(rep.From)).String() != "fd00::1" {
		t.Fatalf("first 4000 bytes: %+v", rep)
	}
	if s := mustLink(t, n0, "ib0").Stats; s.TxDropped != 1 || s.TxErrors != 1 {
		t.Fatalf("stats = %+v", s)
	}
	if r := route(); r.MTU != 2044 || r.ExpiresSec != 600 || r.Dev != "ib0" {
		t.Fatalf("route after packet too big: %+v", r)
	}
	tx := mustLink(t, n0, "ib0").Stats.TxPackets
	if rep := ping(2, 4000, netlinkx.PMTUDiscWant); rep.Status != netlinkx.PingReplied || rep.Bytes != 4008 {
		t.Fatalf("4000 bytes at the path MTU: %+v", rep)
	}
	if d := mustLink(t, n0, "ib0").Stats.TxPackets - tx; d != 3 {
		t.Fatalf("%d fragments sent, want 3", d)
	}
	if rep := ping(3, 4000, netlinkx.PMTUDiscDo); rep.Status != netlinkx.PingTooLong || rep.MTU != 2044 {
		t.Fatalf("-M do at the path MTU: %+v", rep)
	}
	clock.Advance(599 * time.Second)
	if r := route(); r.MTU != 2044 || r.ExpiresSec != 1 {
		t.Fatalf("route after 599 s: %+v", r)
	}
	clock.Advance(time.Second)
	if r := route(); r.MTU != 0 || r.ExpiresSec != 0 {
		t.Fatalf("route after 600 s: %+v", r)
	}
	// the interface MTU (65520) applies again: sent whole, too big for UD
	if rep := ping(4, 4000, netlinkx.PMTUDiscDo); rep.Status != netlinkx.PingFragNeeded || rep.MTU != 2044 {
		t.Fatalf("-M do after expiry: %+v", rep)
	}
	if r := route(); r.MTU != 2044 || r.ExpiresSec != 600 {
		t.Fatalf("route after a new packet too big: %+v", r)
	}
}
