package ipoib

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/ibcm"
	"github.com/ibctl/ibctl/driver/verbs"
)

// openOn opens another interface, name with UD QPN qpn, on the node's
// port and default partition, closed with the test; listen is whether
// its address has the RC flag.
func (tn *testNode) openOn(t *testing.T, name string, qpn uint32, listen bool) *Endpoint {
	t.Helper()
	cfg := tn.ep.cfg.Load()
	c := cfg.Config
	c.Name, c.HWAddr = name, header.NewHWAddr(0x80, qpn, cfg.HWAddr.GID())
	ep, err := Open(tn.port, OpenOptions{Config: c, QPN: qpn, Group: fabric.MCMember{MGID: cfg.mgid, MLID: cfg.mlid, QKey: cfg.qkey},
		SendQueue: 16, RecvQueue: 16, ListenCM: listen, Stats: &Stats{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ep.Close)
	return ep
}

// An interface with the RC flag listens on its service ID when it
// opens; when the ID is taken it only warns (ipoib_cm_dev_open). One
// without the flag does not listen, and closes all the same.
func TestCMListen(t *testing.T) {
	for _, tt := range []struct {
		name   string
		listen bool
		taken  bool
		want   []string
	}{
		{"service ID free", true, false, nil},
		{"service ID taken", true, true, []string{"ib1: failed to listen on ID 0x1000000000000050"}},
		{"no RC flag", false, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPair(t, true)
			if tt.taken {
				if _, err := tp.n0.port.cm.Listen(cmServiceID(0x50), func(*ibcm.ID, *ibcm.Event) error { return nil }, nil); err != nil {
					t.Fatal(err)
				}
			}
			var seq int
			tp.n0.logged(&seq)
			ep := tp.n0.openOn(t, "ib1", 0x50, tt.listen)
			if got := tp.n0.logged(&seq); !slices.Equal(got, tt.want) {
				t.Errorf("logged %q, want %q", got, tt.want)
			}
			ep.cm.mu.Lock()
			listening := ep.cm.listen != nil
			ep.cm.mu.Unlock()
			if want := tt.listen && !tt.taken; listening != want {
				t.Errorf("listener kept: %v, want %v", listening, want)
			}
			ep.Close()
		})
	}
}

// Setting a connection up logs the kernel's debug messages on both ends
// (ipoib_cm_tx_init, ipoib_cm_tx_handler, ipoib_cm_req_handler) with
// debug_level set, and nothing else: opening the interfaces logs nothing
// either.
func TestConnectMessages(t *testing.T) {
	for _, tt := range []struct {
		level      int32
		log0, log1 []string
	}{
		{0, nil, nil},
		{1, []string{"ib0: Request connection 0x49 for gid <node1> qpn 0x48", "ib0: REP received."}, []string{"ib0: REQ arrived"}},
	} {
		tp := newTestPair(t, true)
		tp.n0.host.Debug.Store(tt.level)
		tp.n1.host.Debug.Store(tt.level)
		tp.connect()
		for _, c := range []struct {
			tn   *testNode
			want []string
		}{{tp.n0, tt.log0}, {tp.n1, tt.log1}} {
			want := slices.Clone(c.want)
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], "<node1>", pI6(tp.n1.hw.GID()))
			}
			if got, _ := c.tn.log.since(0); !slices.Equal(got, want) {
				t.Errorf("debug_level %d: logged %q, want %q", tt.level, got, want)
			}
		}
	}
}

// loseMADs makes the node's port lose the MADs it sends (the CM's, to
// QP1) while on is set.
func (tn *testNode) loseMADs(on bool) {
	var f func(*verbs.Packet) bool
	if on {
		f = func(p *verbs.Packet) bool { return p.DestQPN == 1 }
	} else {
		f = func(*verbs.Packet) bool { return false }
	}
	tn.lose.Store(&f)
}

// cmREQTimeout is when the CM resends a REQ without an answer: twice the
// path's packet lifetime and the remote CM response timeout.
var cmREQTimeout = 2*4096*time.Nanosecond<<saPacketLifeTime + 4096*time.Nanosecond<<cmResponseTimeout

// Until its connection is up, a neighbour queues at most
// IPOIB_MAX_PATH_REC_QUEUE (3) packets and drops the rest
// (ipoib_start_xmit: NEIGH_QUEUEFULL, tx_dropped). The REP, here to the
// REQ resent after the first was lost, sends the queued packets in
// order; a neighbour freed first drops them (ipoib_neigh_dtor:
// NEIGH_DEAD, tx_dropped) and destroys its connection.
func TestConnectingNeighQueue(t *testing.T) {
	node1 := ""
	for _, tt := range []struct {
		name    string
		end     func(tp *testPair)
		drops   []string // the drop reasons node0's tap saw, in order
		rx      int64
		dropped uint64
		log     []string // node0's messages after the sends
	}{
		{"connection comes up", func(tp *testPair) { tp.n0.loseMADs(false); tp.advance(cmREQTimeout) },
			[]string{DropNeighQueueFul, DropNeighQueueFul, "", "", ""}, 3, 2,
			[]string{"ib0: REP received."}},
		{"neighbour flushed", func(tp *testPair) { tp.n0.ep.FlushPaths(); tp.Settle() },
			[]string{DropNeighQueueFul, DropNeighQueueFul, DropNeighDead, DropNeighDead, DropNeighDead}, 0, 5,
			[]string{"ib0: Reap connection for gid <node1>", "ib0: neigh free for 000048 <node1>",
				"ib0: Destroy active connection 0x49 head 0x0 tail 0x0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPair(t, true)
			node1 = pI6(tp.n1.hw.GID())
			tap, frames := recordingTap()
			tp.n0.ep.AddTap(tap)
			tp.n0.loseMADs(true)
			var pkts [][]byte
			for i := range 5 {
				pkts = append(pkts, seqPacket(uint32(i)))
				if err := tp.n0.ep.WritePacket(pkts[i], tp.n1.hw); err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
			}
			rec := &copier{c: tp.n1.rx}
			tp.n1.ep.Attach(rec)
			var seq int
			tp.n0.logged(&seq)
			tt.end(tp)
			var drops []string
			for range len(tt.drops) {
				drops = append(drops, next(t, frames).drop)
			}
			if !slices.Equal(drops, tt.drops) {
				t.Errorf("node0's tap saw drops %q, want %q", drops, tt.drops)
			}
			if got := tp.n1.waitRx(tt.rx); got != tt.rx {
				t.Errorf("node1 received %d packets, want %d", got, tt.rx)
			}
			if got := rec.take(); !slices.EqualFunc(got, pkts[:tt.rx], slices.Equal) {
				t.Errorf("node1 received %x, want %x", got, pkts[:tt.rx])
			}
			if c := tp.n0.ep.Stats().Snapshot(); c.TxDropped != tt.dropped || c.TxPackets != uint64(tt.rx) || c.TxErrors != 0 {
				t.Errorf("node0 counted %d sent, %d dropped, %d errors; want %d, %d, 0", c.TxPackets, c.TxDropped, c.TxErrors, tt.rx, tt.dropped)
			}
			want := slices.Clone(tt.log)
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], "<node1>", node1)
			}
			if got := tp.n0.logged(&seq); !slices.Equal(got, want) {
				t.Errorf("node0 logged %q, want %q", got, want)
			}
		})
	}
}

// A connection carries packets up to the peer's receive size less the
// encapsulation header; a larger one is dropped with the kernel's
// warning (ipoib_cm_send: "packet len %d (> %d) too long to send"),
// counted in tx_dropped and tx_errors, and answered with the UD MTU.
func TestConnectionMTU(t *testing.T) {
	tp := newTestPair(t, true)
	tp.connect()
	tp.n1.waitRx(1)
	tp.sendSizes(t, []sendSize{
		{65520 - 28, false, nil, 2, Counters{TxPackets: 2, TxBytes: 132 + 65524}},
		{65521 - 28, true, []string{"ib0: packet len 65525 (> 65524) too long to send, dropping"}, 2,
			Counters{TxPackets: 2, TxBytes: 132 + 65524, TxDropped: 1, TxErrors: 1}},
	})
}

// A connection that cannot be set up frees its neighbour, the packet
// queued on it (tx_dropped), and destroys its QP: a REJ because nobody
// listens (ipoib_cm_tx_handler's "CM error"), or a REP whose receive
// size does not exceed the encapsulation header (ipoib_cm_rep_handler
// rejects it, and the REJ takes the passive end down). A receive size
// one larger is accepted.
func TestConnectionRefused(t *testing.T) {
	for _, tt := range []struct {
		name    string
		setup   func(tp *testPair)
		log     []string // node0's messages, <node1> for its GID
		up      bool
		qpState verbs.QPState
		neighs  int
		dropped uint64
		rx1     int // node1's passive connections
		log1    []string
	}{
		{"nobody listens", func(tp *testPair) { tp.n1.ep.Close() },
			[]string{"ib0: Request connection 0x49 for gid <node1> qpn 0x48", "ib0: CM error 11.",
				"ib0: neigh free for 000048 <node1>", "ib0: Destroy active connection 0x49 head 0x0 tail 0x0"},
			false, verbs.QPReset, 0, 1, 0, nil},
		{"REP receive size 4", func(tp *testPair) { tp.n1.rewriteREPSize(4) },
			[]string{"ib0: Request connection 0x49 for gid <node1> qpn 0x48", "ib0: REP received.",
				"ib0: Rejecting connection: mtu 4 <= 4"},
			false, verbs.QPInit, 1, 0, 0, []string{"ib0: REQ arrived"}},
		{"REP receive size 5", func(tp *testPair) { tp.n1.rewriteREPSize(5) },
			[]string{"ib0: Request connection 0x49 for gid <node1> qpn 0x48", "ib0: REP received.",
				"ib0: packet len 132 (> 5) too long to send, dropping"},
			true, verbs.QPRTS, 1, 1, 1, []string{"ib0: REQ arrived"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPair(t, true)
			tt.setup(tp)
			// The first REQ is lost, so that the connection is
			// still there to look at; the CM resends it.
			tp.n0.loseMADs(true)
			if err := tp.n0.ep.WritePacket(udpPacket(100), tp.n1.hw); err != nil {
				t.Fatal(err)
			}
			tp.n0.ep.neighs.mu.Lock()
			tx := tp.n0.ep.neighs.m[tp.n1.hw].cm.Load()
			tp.n0.ep.neighs.mu.Unlock()
			tp.n0.loseMADs(false)
			tp.advance(cmREQTimeout)
			node1 := pI6(tp.n1.hw.GID())
			want := slices.Clone(tt.log)
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], "<node1>", node1)
			}
			if got, _ := tp.n0.log.since(0); !slices.Equal(got, want) {
				t.Errorf("node0 logged %q, want %q", got, want)
			}
			if up, st := tx.up.Load(), tx.qp.State(); up != tt.up || st != tt.qpState {
				t.Errorf("connection up %v, QP %v; want %v, %v", up, st, tt.up, tt.qpState)
			}
			if n := tp.n0.ep.NeighCount(); n != tt.neighs {
				t.Errorf("node0 has %d neighbours, want %d", n, tt.neighs)
			}
			// A receive size of 5 carries a single byte: the packet
			// queued while connecting is too large for it.
			if c := tp.n0.ep.Stats().Snapshot(); c.TxDropped != tt.dropped {
				t.Errorf("node0 counted %d dropped, want %d", c.TxDropped, tt.dropped)
			}
			if _, rx := tp.n1.ep.ConnCounts(); rx != tt.rx1 {
				t.Errorf("node1 has %d passive connections, want %d", rx, tt.rx1)
			}
			// A closed interface's listener is gone: its handler
			// never sees the REQ.
			if got, _ := tp.n1.log.since(0); !slices.Equal(got, tt.log1) {
				t.Errorf("node1 logged %q, want %q", got, tt.log1)
			}
		})
	}
}

// rewriteREPSize makes the node's REPs advertise a receive size of mtu
// in their IPoIB private data (struct ipoib_cm_data), as a peer with
// another idea of IPOIB_CM_BUF_SIZE would.
func (tn *testNode) rewriteREPSize(mtu uint32) {
	f := func(p *verbs.Packet) bool {
		if p.DestQPN == 1 && len(p.Payload) == header.MADSize && binary.BigEndian.Uint16(p.Payload[16:]) == header.CMAttrREP {
			binary.BigEndian.PutUint32(p.Payload[header.MADHeaderLen+36+4:], mtu)
		}
		return false
	}
	tn.lose.Store(&f)
}

// A passive connection notes when it last received at most every 256 s
// (ipoib_cm_handle_rx_wc: time_after_eq(jiffies, p->jiffies +
// IPOIB_CM_RX_UPDATE_TIME)), and the stale scan reaps it once idle for
// more than 512 s (ipoib_cm_stale_task: time_before_eq(jiffies,
// p->jiffies + IPOIB_CM_RX_TIMEOUT) keeps it).
func TestPassiveConnectionActivity(t *testing.T) {
	for _, tt := range []struct {
		name  string
		at    time.Duration // when the second packet arrives, after the connection's start
		kept  time.Duration // the last scan that keeps it
		reaps time.Duration // the first scan that reaps it
	}{
		{"packet before the refresh time", cmActivityRefresh - time.Nanosecond, cmRxTimeout, cmRxTimeout + time.Nanosecond},
		{"packet at the refresh time", cmActivityRefresh, cmActivityRefresh + cmRxTimeout,
			cmActivityRefresh + cmRxTimeout + time.Nanosecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPair(t, true)
			tp.connect()
			tp.n1.waitRx(1)
			tp.advance(tt.at)
			tp.send(1)
			if got := tp.n1.waitRx(2); got != 2 {
				t.Fatalf("node1 delivered %d packets, want 2", got)
			}
			tp.advance(tt.kept - tt.at)
			if n := tp.n1.ep.ReapStale(); n != 0 {
				t.Errorf("reaped %d connections %v after the start, want 0", n, tt.kept)
			}
			tp.advance(tt.reaps - tt.kept)
			if n := tp.n1.ep.ReapStale(); n != 1 {
				t.Errorf("reaped %d connections %v after the start, want 1", n, tt.reaps)
			}
			if _, rx := tp.n1.ep.ConnCounts(); rx != 0 {
				t.Errorf("node1 keeps %d passive connections", rx)
			}
		})
	}
}

// A neighbour whose queue is full while its connection does not come up
// is not kept alive by the packets it drops (ipoib_start_xmit refreshes
// neigh->alive only when it queues), so the neighbour scan frees it,
// with its queue and the connection.
func TestConnectingNeighExpires(t *testing.T) {
	tp := newTestPair(t, true)
	tp.n0.loseMADs(true)
	tp.send(maxPathRecQueue)
	tp.advance(arpGCInterval)
	tp.send(1) // dropped: the queue is full
	tp.advance(neighObsolete - arpGCInterval)
	if tx, _ := tp.n0.ep.ConnCounts(); tx != 1 {
		t.Fatalf("node0 has %d connections being set up, want 1", tx)
	}
	if n := tp.n0.ep.ReapNeighbours(); n != 0 {
		t.Fatalf("the scan freed %d neighbours idle for 2 × gc_interval, want 0", n)
	}
	tp.advance(time.Nanosecond)
	if n := tp.n0.ep.ReapNeighbours(); n != 1 {
		t.Errorf("the scan freed %d neighbours, want 1", n)
	}
	if c := tp.n0.ep.Stats().Snapshot(); c.TxDropped != maxPathRecQueue+1 || c.TxPackets != 0 {
		t.Errorf("node0 counted %d sent, %d dropped; want 0, %d", c.TxPackets, c.TxDropped, maxPathRecQueue+1)
	}
	if tx, _ := tp.n0.ep.ConnCounts(); tx != 0 {
		t.Errorf("node0 keeps %d connections", tx)
	}
}

// A send that the peer refuses (a message longer than its receive
// buffers, after a REP that promised more) is no part of a connection's
// life: its failure is warned about whatever debug_level says
// (ipoib_cm_handle_tx_wc), and the connection is reaped as for any
// failed send.
func TestConnectionSendRefusedByPeer(t *testing.T) {
	tp := newTestPair(t, true)
	tp.n0.host.Debug.Store(0)
	tp.n1.rewriteREPSize(70000)
	tp.connect()
	tp.n1.waitRx(1)
	if err := tp.n0.ep.WritePacket(udpPacket(65500), tp.n1.hw); err != nil {
		t.Fatal(err)
	}
	tp.send(1) // retires the failed send first, which reaps the connection
	tp.Settle()
	want := []string{"ib0: ipoib_cm_handle_tx_wc: failed cm send event (status=9, wrid=1 vend_err 0x0)"}
	if got, _ := tp.n0.log.since(0); !slices.Equal(got, want) {
		t.Errorf("node0 logged %q, want %q", got, want)
	}
	if n := tp.n0.ep.NeighCount(); n != 0 {
		t.Errorf("node0 keeps %d neighbours, want 0", n)
	}
}
