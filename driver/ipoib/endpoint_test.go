package ipoib

import (
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/verbs"
)

// sendSize is a datagram node0 sends to node1 in sendSizes, and what
// comes of it.
type sendSize struct {
	payload int // UDP payload: the IPoIB packet is 32 bytes more
	wantErr bool
	log     []string // node0's messages
	rx      int64    // node1's received packets afterwards
	c       Counters // node0's afterwards
}

// sendSizes sends each case's datagram from node0 to node1 and checks the
// error (too big, with the UD MTU 2044), node0's messages, node1's
// packets and node0's counters.
func (tp *testPair) sendSizes(t *testing.T, cases []sendSize) {
	t.Helper()
	for _, tt := range cases {
		var seq int
		tp.n0.logged(&seq)
		err := tp.n0.ep.WritePacket(udpPacket(tt.payload), tp.n1.hw)
		var tooBig *TooBigError
		if tt.wantErr != (err != nil) || err != nil && (!errors.As(err, &tooBig) || tooBig.TooBigMTU() != 2044) {
			t.Errorf("payload %d: error %v, want too big: %v (UD MTU 2044)", tt.payload, err, tt.wantErr)
		}
		if got := tp.n0.logged(&seq); !slices.Equal(got, tt.log) {
			t.Errorf("payload %d: logged %q, want %q", tt.payload, got, tt.log)
		}
		if got := tp.n1.waitRx(tt.rx); got != tt.rx {
			t.Errorf("payload %d: node1 received %d packets, want %d", tt.payload, got, tt.rx)
		}
		if c := tp.n0.ep.Stats().Snapshot(); c != tt.c {
			t.Errorf("payload %d: node0 counted %+v, want %+v", tt.payload, c, tt.c)
		}
	}
}

// A packet over UD may carry up to the UD MTU after the encapsulation
// header; a larger one is dropped with ipoib_send's warning, which counts
// the header on both sides, in tx_dropped and tx_errors, and answered with
// the UD MTU.
func TestUDMTU(t *testing.T) {
	tp := newTestPair(t, false)
	tp.sendSizes(t, []sendSize{
		{2044 - 28, false, nil, 1, Counters{TxPackets: 1, TxBytes: 2048}},
		{2045 - 28, true, []string{"ib0: packet len 2049 (> 2048) too long to send, dropping"}, 1,
			Counters{TxPackets: 1, TxBytes: 2048, TxDropped: 1, TxErrors: 1}},
	})
	if got, want := (&TooBigError{MTU: 2044}).Error(), "packet too long for UD MTU 2044"; got != want {
		t.Errorf("TooBigError = %q, want %q", got, want)
	}
}

// A received packet of the encapsulation header alone goes up; a shorter
// one is dropped and counted in rx_dropped, over UD (where the capture
// point sees it as PKT_TOO_SMALL) as over a connection.
func TestShortPacketsReceived(t *testing.T) {
	for _, tt := range []struct {
		name      string
		connected bool
		n         int
		c         Counters // node1's
		tapped    bool     // node1's tap sees it
		drop      string   // with this drop reason
	}{
		{"UD, header only", false, 4, Counters{RxPackets: 1, RxBytes: 4}, true, ""},
		{"UD, shorter", false, 3, Counters{RxDropped: 1}, true, DropPktTooSmall},
		{"RC, header only", true, 4, Counters{RxPackets: 2, RxBytes: 132 + 4}, true, ""},
		{"RC, shorter", true, 3, Counters{RxPackets: 1, RxBytes: 132, RxDropped: 1}, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPair(t, tt.connected)
			if tt.connected {
				tp.connect()
				tp.n1.waitRx(1)
			}
			tap, frames := recordingTap()
			tp.n1.ep.AddTap(tap)
			pkt := udpPacket(100)[:tt.n]
			if err := tp.n0.ep.WritePacket(pkt, tp.n1.hw); err != nil {
				t.Fatal(err)
			}
			if tt.tapped {
				if got := next(t, frames); got.drop != tt.drop || got.n != tt.n {
					t.Errorf("node1's tap saw %+v, want %d bytes dropped for %q", got, tt.n, tt.drop)
				}
			}
			want := int64(tt.c.RxPackets)
			if got := tp.n1.waitRx(want); got != want {
				t.Errorf("node1 delivered %d packets, want %d", got, want)
			}
			// A dropped packet is counted before the poller goes on.
			for deadline := time.Now().Add(10 * time.Second); tp.n1.ep.Stats().Snapshot() != tt.c && time.Now().Before(deadline); {
				runtime.Gosched()
			}
			if c := tp.n1.ep.Stats().Snapshot(); c != tt.c {
				t.Errorf("node1 counted %+v, want %+v", c, tt.c)
			}
			if len(frames) != 0 {
				t.Errorf("node1's tap saw %d more frames", len(frames))
			}
		})
	}
}

// The data path's messages (ipoib_dbg_data) are logged only with
// data_debug_level set: the sender's for each UD send, the receiver's for
// each packet, its GRH counted.
func TestDataDebugMessages(t *testing.T) {
	for _, tt := range []struct {
		level      int32
		log0, log1 []string
	}{
		{0, nil, nil},
		{1, []string{"ib0: sending packet, length=132 dlid=0x0003 dqpn=0x000048"},
			[]string{"ib0: received 172 bytes, SLID 0x0001"}},
	} {
		tp := newTestPair(t, false)
		tp.n0.host.DataDebug.Store(tt.level)
		tp.n1.host.DataDebug.Store(tt.level)
		tp.send(1)
		if got := tp.n1.waitRx(1); got != 1 {
			t.Fatalf("node1 delivered %d packets", got)
		}
		for _, c := range []struct {
			tn   *testNode
			want []string
		}{{tp.n0, tt.log0}, {tp.n1, tt.log1}} {
			if got, _ := c.tn.log.since(0); !slices.Equal(got, c.want) {
				t.Errorf("data_debug_level %d: logged %q, want %q", tt.level, got, c.want)
			}
		}
	}
}

// The receive CQ takes the UD ring and one more and, for an interface
// that does connected mode, the send ring and the SRQ's ring and one more
// (ipoib_transport_dev_init).
func TestRecvCQSize(t *testing.T) {
	for _, tt := range []struct {
		listen bool
		want   int
	}{
		{false, 16 + 1},
		{true, 16 + 1 + 16 + 16 + 1},
	} {
		tp := newTestPair(t, false)
		if got := tp.n0.openOn(t, "ib1", 0x50, tt.listen).rcq.Depth(); got != tt.want {
			t.Errorf("RC flag %v: receive CQ of %d, want %d", tt.listen, got, tt.want)
		}
	}
}

// The receive buffers go back to their queue after each poll: many more
// packets than there are buffers arrive, over UD and over a connection.
func TestRecvBuffersReposted(t *testing.T) {
	for _, connected := range []bool{false, true} {
		tp := newTestPairRings(t, connected, 4, 4, 8)
		for i := range int64(12) {
			tp.send(1)
			if got := tp.n1.waitRx(i + 1); got != i+1 {
				t.Fatalf("connected %v: node1 delivered %d packets, want %d", connected, got, i+1)
			}
		}
		if s := tp.n1.port.HCAStats(); s.DropNoRecv != 0 || s.RNRNaksSent != 0 {
			t.Errorf("connected %v: node1's HCA dropped %d for want of a receive WR, sent %d RNR NAKs; want 0, 0",
				connected, s.DropNoRecv, s.RNRNaksSent)
		}
	}
}

// A GSO packet that must be cut (for a multicast group) returns the
// first error of its packets: here each is larger than the UD MTU.
func TestGSOSegmentsError(t *testing.T) {
	tp := newTestPair(t, false)
	err := tp.n0.ep.WritePacketGSO(tcpGSOPacket(9000), tp.n0.ep.Broadcast(), 3000)
	var tooBig *TooBigError
	if !errors.As(err, &tooBig) || tooBig.MTU != 2044 {
		t.Errorf("error %v, want too big for UD MTU 2044", err)
	}
	if c := tp.n0.ep.Stats().Snapshot(); c.TxPackets != 0 || c.TxDropped != 3 || c.TxErrors != 3 {
		t.Errorf("counted %+v, want 3 dropped, 3 errors", c)
	}
}

// closeWithin closes ep, failing the test with why() if Close has not
// returned in 10 s.
func closeWithin(t *testing.T, ep *Endpoint, why func() string) {
	t.Helper()
	closed := make(chan struct{})
	go func() {
		ep.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("Close did not return: %s", why())
	}
}

// A wake of the poller that finds no completion (the event of a
// completion that the last batch already took) leaves it idle, waiting
// for the next event or for Close.
func TestPollerWakeWithoutCompletion(t *testing.T) {
	tp := newTestPair(t, false)
	ep := tp.n0.ep
	ep.kick()
	for deadline := time.Now().Add(10 * time.Second); len(ep.wake) > 0 && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	closeWithin(t, ep, func() string { return "the poller did not go idle" })
}

// The registry finds an open endpoint by its address; an endpoint that
// closes after another took its address leaves the other's entry.
func TestRegistry(t *testing.T) {
	a, b := &Endpoint{}, &Endpoint{}
	k := Key{GID: [16]byte{0xfe, 0x80, 15: 1}, QPN: 0x48}
	r := &Registry{}
	for _, step := range []struct {
		name string
		do   func()
		want *Endpoint
	}{
		{"empty", func() {}, nil},
		{"a added", func() { r.add(k, a) }, a},
		{"b takes the address", func() { r.add(k, b) }, b},
		{"a removed", func() { r.remove(k, a) }, b},
		{"b removed", func() { r.remove(k, b) }, nil},
	} {
		step.do()
		if got := r.Lookup(k); got != step.want {
			t.Errorf("%s: Lookup = %p, want %p", step.name, got, step.want)
		}
	}
	if got := r.Lookup(Key{GID: k.GID, QPN: 0x49}); got != nil {
		t.Errorf("Lookup of another QPN = %p, want nil", got)
	}
}

// MTUEnum maps an IB MTU in bytes to its enum, 4096 for one that is not.
func TestMTUEnum(t *testing.T) {
	for _, tt := range []struct {
		bytes int
		want  verbs.MTU
	}{
		{256, verbs.MTU256}, {512, verbs.MTU512}, {1024, verbs.MTU1024}, {2048, verbs.MTU2048}, {4096, verbs.MTU4096},
		{1500, verbs.MTU4096}, {0, verbs.MTU4096},
	} {
		if got := MTUEnum(tt.bytes); got != tt.want {
			t.Errorf("MTUEnum(%d) = %v, want %v", tt.bytes, got, tt.want)
		}
	}
}
