package driver

import (
	"fmt"
	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/driver/verbs"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/netlinkx"
)

// GIDs of port 1 of node0 and node1 as %pI6 prints them.
const (
	pI6Node0 = "fe80:0000:0000:0000:0002:c903:0000:1001"
	pI6Node1 = "fe80:0000:0000:0000:0002:c903:0000:2001"
)

// cmEnv is node0 and node1 with ib0 up, connected on node0 (and on node1
// when both), debug_level 1, a manual clock.
type cmEnv struct {
	t      *testing.T
	d      *Driver
	clk    interface{ Advance(time.Duration) }
	n0, n1 *Node
	dp0    *ipoib.Endpoint
	hw1    header.HWAddr
}

func newCMEnv(t *testing.T, mode1 uint16) *cmEnv {
	t.Helper()
	d, clk := newClockedDriver(t)
	e := &cmEnv{t: t, d: d, clk: clk}
	e.n0, e.n1 = pingPair(t, d, netlinkx.ModeConnected)
	wantErrno(t, e.n1.SetMode("ib0", mode1), 0)
	d.mu.Lock()
	e.dp0 = mustDev(t, e.n0, "ib0").dp
	d.mu.Unlock()
	copy(e.hw1[:], mustLink(t, e.n1, "ib0").Address)
	return e
}

// send transmits n UDP datagrams from node0's ib0 to node1's.
func (e *cmEnv) send(n int) {
	e.t.Helper()
	for range n {
		if err := e.dp0.WritePacket(udpPacket(100), e.hw1); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *cmEnv) cm(node string) *ibcmCounters {
	c := e.d.nodes[node].ports[0].CMCounters()
	return &ibcmCounters{sent: c.Sent, received: c.Received, retries: c.Retries}
}

type ibcmCounters struct{ sent, received, retries map[uint16]uint64 }

func TestConnectedModeExchange(t *testing.T) {
	e := newCMEnv(t, netlinkx.ModeConnected)
	_, seq0 := logSince(e.n0, 0)
	_, seq1 := logSince(e.n1, 0)
	mustPing(t, e.n0, [4]byte{10, 0, 0, 2}, 1)
	// node0 connects for the request, node1 for the reply.
	log0, _ := logSince(e.n0, seq0)
	log1, _ := logSince(e.n1, seq1)
	want0 := []string{"ib0: Request connection 0x49 for gid " + pI6Node1 + " qpn 0x48", "ib0: REP received.", "ib0: REQ arrived"}
	want1 := []string{"ib0: REQ arrived", "ib0: Request connection 0x4a for gid " + pI6Node0 + " qpn 0x48", "ib0: REP received."}
	if diff := cmp.Diff(want0, log0); diff != "" {
		t.Errorf("node0 messages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want1, log1); diff != "" {
		t.Errorf("node1 messages (-want +got):\n%s", diff)
	}
	e.d.Settle() // the last RTU
	sent := map[uint16]uint64{header.CMAttrREQ: 1, header.CMAttrREP: 1, header.CMAttrRTU: 1}
	for _, node := range []string{"node0", "node1"} {
		if c := e.cm(node); !cmp.Equal(c.sent, sent) || !cmp.Equal(c.received, sent) {
			t.Errorf("%s CM counters: sent %v received %v", node, c.sent, c.received)
		}
	}
	if tx, rx := e.dp0.ConnCounts(); tx != 1 || rx != 1 {
		t.Errorf("node0 connections: %d active, %d passive", tx, rx)
	}
}

func TestConnectedModeNobodyListens(t *testing.T) {
	// node1's ib0 is down: its port's CM has no listener for QPN 0x48.
	e := newCMEnv(t, netlinkx.ModeConnected)
	wantErrno(t, e.n1.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(false)}), 0)
	_, seq := logSince(e.n0, 0)
	e.send(1)
	e.d.Settle()
	msgs, _ := logSince(e.n0, seq)
	want := []string{
		"ib0: Request connection 0x49 for gid " + pI6Node1 + " qpn 0x48",
		"ib0: CM error 11.", // IB_CM_REJ_RECEIVED
		"ib0: neigh free for 000048 " + pI6Node1,
		"ib0: Destroy active connection 0x49 head 0x0 tail 0x0",
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("node0 messages (-want +got):\n%s", diff)
	}
	if s := mustLink(t, e.n0, "ib0").Stats; s.TxDropped != 1 || s.TxPackets != 0 {
		t.Errorf("node0 stats %+v", s)
	}
	if n := e.dp0.NeighCount(); n != 0 {
		t.Errorf("%d neighbours after the REJ", n)
	}
	if c := e.cm("node1"); c.sent[header.CMAttrREJ] != 1 || c.received[header.CMAttrREQ] != 1 {
		t.Errorf("node1 CM counters: sent %v received %v", c.sent, c.received)
	}
}

func TestConnectedModeREQTimeout(t *testing.T) {
	e := newCMEnv(t, netlinkx.ModeConnected)
	mustPing(t, e.n0, [4]byte{10, 0, 0, 2}, 1) // caches the path to node1
	// The neighbour expires, freeing its connection; the path stays.
	e.clk.Advance(2*ipoib.NeighReapInterval + time.Second)
	if got := e.d.ReapNeighbours(); got == 0 {
		t.Fatal("no neighbour reaped")
	}
	e.d.Settle()
	e.clk.Advance(3 * time.Second) // time-wait of the old connections
	e.d.Settle()
	// node1's port goes down: the REQ and its retries are lost.
	e.d.mu.Lock()
	if err := e.d.fab.SetPortState("node1", 1, fabric.StateDown); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, e.d.drainEvents(), 0)
	e.d.mu.Unlock()
	stats0 := mustLink(t, e.n0, "ib0").Stats
	_, seq := logSince(e.n0, 0)
	// Three packets wait for the connection, the fourth is dropped.
	e.send(4)
	if s := mustLink(t, e.n0, "ib0").Stats; s.TxDropped-stats0.TxDropped != 1 || s.TxPackets != stats0.TxPackets {
		t.Fatalf("after 4 packets: %+v (before %+v)", s, stats0)
	}
	// 1 + 15 REQs, 6144 ms apart; then the queued packets are dropped.
	const try = 6144 * time.Millisecond
	for range 15 {
		e.clk.Advance(try)
		e.d.Settle()
	}
	e.clk.Advance(try - time.Millisecond)
	e.d.Settle()
	if c := e.cm("node0"); c.sent[header.CMAttrREQ] != 1+16 || c.retries[header.CMAttrREQ] != 15 || e.dp0.NeighCount() != 1 {
		t.Fatalf("before the last timeout: REQs sent %d, retries %d, %d neighbours", c.sent[header.CMAttrREQ], c.retries[header.CMAttrREQ], e.dp0.NeighCount())
	}
	e.clk.Advance(time.Millisecond)
	e.d.Settle()
	msgs, _ := logSince(e.n0, seq)
	want := []string{
		"ib0: Request connection 0x4b for gid " + pI6Node1 + " qpn 0x48",
		"ib0: CM error 0.", // IB_CM_REQ_ERROR
		"ib0: neigh free for 000048 " + pI6Node1,
		"ib0: Destroy active connection 0x4b head 0x0 tail 0x0",
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("node0 messages (-want +got):\n%s", diff)
	}
	if s := mustLink(t, e.n0, "ib0").Stats; s.TxDropped-stats0.TxDropped != 4 || s.TxPackets != stats0.TxPackets {
		t.Errorf("after the timeout: %+v (before %+v)", s, stats0)
	}
	if n := e.dp0.NeighCount(); n != 0 {
		t.Errorf("%d neighbours after the timeout", n)
	}
}

func TestConnectedModeDisconnect(t *testing.T) {
	e := newCMEnv(t, netlinkx.ModeConnected)
	mustPing(t, e.n0, [4]byte{10, 0, 0, 2}, 1)
	e.d.Settle()
	e.d.mu.Lock()
	dp1 := mustDev(t, e.n1, "ib0").dp
	e.d.mu.Unlock()
	_, seq0 := logSince(e.n0, 0)
	_, seq1 := logSince(e.n1, 0)
	// node0's ib0 goes down: its active connection and its passive one
	// send DREQs.
	wantErrno(t, e.n0.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(false)}), 0)
	e.d.Settle()
	log0, _ := logSince(e.n0, seq0)
	want0 := []string{"ib0: Reap connection for gid " + pI6Node1, "ib0: neigh free for 000048 " + pI6Node1,
		"ib0: Destroy active connection 0x49 head 0x1 tail 0x1"}
	if diff := cmp.Diff(want0, log0); diff != "" {
		t.Errorf("node0 messages (-want +got):\n%s", diff)
	}
	// node1's passive end answered and went; its active end answered and
	// waits out time-wait.
	if tx, rx := dp1.ConnCounts(); tx != 1 || rx != 0 {
		t.Fatalf("node1 connections after the DREQs: %d active, %d passive", tx, rx)
	}
	e.clk.Advance(2047 * time.Millisecond)
	e.d.Settle()
	if tx, _ := dp1.ConnCounts(); tx != 1 {
		t.Fatalf("node1 active connections before the end of time-wait: %d", tx)
	}
	e.clk.Advance(time.Millisecond)
	e.d.Settle()
	if tx, _ := dp1.ConnCounts(); tx != 0 || dp1.NeighCount() != 0 {
		t.Fatalf("node1 after time-wait: %d active connections, %d neighbours", tx, dp1.NeighCount())
	}
	log1, _ := logSince(e.n1, seq1)
	want1 := []string{"ib0: DREQ received.", "ib0: CM error 9.", // IB_CM_TIMEWAIT_EXIT
		"ib0: neigh free for 000048 " + pI6Node0, "ib0: Destroy active connection 0x4a head 0x1 tail 0x1"}
	if diff := cmp.Diff(want1, log1); diff != "" {
		t.Errorf("node1 messages (-want +got):\n%s", diff)
	}
	c0, c1 := e.cm("node0"), e.cm("node1")
	if c0.sent[header.CMAttrDREQ] != 2 || c1.received[header.CMAttrDREQ] != 2 || c1.sent[header.CMAttrDREP] != 2 {
		t.Errorf("CM counters: node0 sent %v, node1 sent %v received %v", c0.sent, c1.sent, c1.received)
	}
}

// TestConnectedModeLimitedDefaultPartition: with the default partition
// limited on every port, connections on a full partition set up with CM
// MADs on that partition's P_Key (cm_alloc_msg sends with the path's
// pkey_index), not the limited default one that the peer's QP1 would drop.
func TestConnectedModeLimitedDefaultPartition(t *testing.T) {
	topo := fabric.DefaultTopology()
	topo.Partitions = []fabric.Partition{{PKey: "0xffff", MTU: 2048, All: "limited"}, {PKey: "0x8001", MTU: 2048, All: "full"}}
	d, err := New(Options{Topology: topo, Clock: verbs.NewManualClock(time.Unix(1_700_000_000, 0))})
	if err != nil {
		t.Fatal(err)
	}
	var nodes [2]*Node
	for i, name := range []string{"node0", "node1"} {
		n, _ := d.Node(name)
		nodes[i] = n
		ib0 := mustLink(t, n, "ib0")
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
		wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "ib0.8001", ParentIndex: ib0.Index, Kind: "ipoib", PKey: ptr(uint16(0x8001)),
			Mode: ptr(netlinkx.ModeConnected), Up: ptr(true)}), 0)
		addAddr(t, n, "ib0.8001", fmt.Sprintf("10.1.0.%d/24", i+1))
	}
	mustPing(t, nodes[0], [4]byte{10, 1, 0, 2}, 1)
	d.Settle()
	for i, n := range nodes {
		d.mu.Lock()
		dp := mustDev(t, n, "ib0.8001").dp
		d.mu.Unlock()
		if tx, rx := dp.ConnCounts(); tx != 1 || rx != 1 {
			t.Errorf("node%d connections: %d active, %d passive", i, tx, rx)
		}
	}
}
