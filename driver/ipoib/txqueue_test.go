package ipoib

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
	"golang.org/x/sys/unix"
)

// recorder is a dispatcher that notes the sequence number in the last 4
// bytes of each packet, and counts them for waitRx. The first delivery
// blocks until release is closed, after closing entered: the receiver's
// poller holds its buffers meanwhile.
type recorder struct {
	c                *counter
	entered, release chan struct{}
	once             sync.Once
	mu               sync.Mutex
	seq              []uint32
}

func (r *recorder) DeliverPacket(_ header.HWAddr, pkt header.IPoIB) {
	r.once.Do(func() { close(r.entered); <-r.release })
	r.mu.Lock()
	r.seq = append(r.seq, binary.BigEndian.Uint32(pkt[len(pkt)-4:]))
	r.mu.Unlock()
	r.c.n.Add(1)
}

// seqPacket is udpPacket(100) carrying seq in its last 4 bytes.
func seqPacket(seq uint32) []byte {
	pkt := udpPacket(100)
	binary.BigEndian.PutUint32(pkt[len(pkt)-4:], seq)
	return pkt
}

// TestStoppedQueueHoldsPackets fills the send ring (4) of a connection
// and checks what the stopped queue does with a burst behind it: the
// qdisc holds up to tx_queue_len packets and sends them, in order, as
// completions free the ring; what is beyond is dropped by the qdisc
// alone, never counted in tx_dropped or tx_errors. The receiver's poller
// is held on the first packet (the one that connected), so that its
// shared receive queue of 4 buffers takes 3 more and answers the next
// with RNR NAKs: the sends stay outstanding until the RNR timer fires on
// the manual clock, the ring fills with packets 4 to 7, and the rest of
// the burst meets the stopped queue, which holds UD packets too (the
// netdev queue is the interface's, shared by all its rings): such a
// packet is counted in tx_packets only once the queue lets it through.
func TestStoppedQueueHoldsPackets(t *testing.T) {
	tests := []struct {
		name      string
		txqlen    uint32
		burst     int
		wantDrops int
		// bcastLast sends the burst's last packet to the broadcast
		// group, over UD: the stopped queue holds it as well.
		bcastLast bool
	}{
		{"within tx_queue_len", 8, 15, 0, false},
		{"UD behind RC", 8, 15, 0, true},
		{"beyond tx_queue_len", 5, 15, 3, false},
		{"empty qdisc", 0, 9, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPairRings(t, true, 4, 4, tt.txqlen)
			rec := &recorder{c: tp.n1.rx, entered: make(chan struct{}), release: make(chan struct{})}
			var releaseOnce sync.Once
			releasePoller := func() { releaseOnce.Do(func() { close(rec.release) }) }
			t.Cleanup(releasePoller) // before the endpoints close
			tp.n1.ep.Attach(rec)
			tp.connect()
			<-rec.entered
			before := tp.n0.ep.Stats().Snapshot()
			_, logAt := tp.n0.log.since(0)

			var dropped []uint32
			for i := 1; i <= tt.burst; i++ {
				dst := tp.n1.hw
				if tt.bcastLast && i == tt.burst {
					dst = tp.n0.ep.Broadcast()
				}
				err := tp.n0.ep.WritePacket(seqPacket(uint32(i)), dst)
				switch {
				case errors.Is(err, ErrQdiscDrop):
					dropped = append(dropped, uint32(i))
				case err != nil:
					t.Fatalf("packet %d: %v", i, err)
				}
			}
			// 3 packets went, 4 fill the ring: the rest wait or were
			// dropped.
			if _, backlog := tp.n0.ep.QdiscStats(); backlog != tt.burst-7-tt.wantDrops {
				t.Errorf("qdisc backlog %d before the ring drains, want %d", backlog, tt.burst-7-tt.wantDrops)
			}
			if !tp.n0.ep.QueueStopped() {
				t.Error("the queue is not stopped before the ring drains")
			}
			releasePoller()

			// Fire the RNR timer until everything sent has arrived.
			want := 1 + tt.burst - tt.wantDrops
			for deadline := time.Now().Add(10 * time.Second); tp.n1.rx.n.Load() < int64(want) && time.Now().Before(deadline); {
				tp.advance(2 * time.Millisecond)
				tp.n1.waitRxFor(int64(want), time.Millisecond)
			}
			var wantDropped []uint32
			for i := want; i <= tt.burst; i++ {
				wantDropped = append(wantDropped, uint32(i))
			}
			if !slices.Equal(dropped, wantDropped) {
				t.Errorf("qdisc dropped packets %v, want %v", dropped, wantDropped)
			}
			wantSeq := make([]uint32, want)
			for i := range wantSeq {
				wantSeq[i] = uint32(i)
			}
			rec.mu.Lock()
			got := slices.Clone(rec.seq)
			rec.mu.Unlock()
			if tt.bcastLast {
				// Order holds per destination: the UD packet may
				// pass connection packets that an RNR NAK holds
				// back.
				if i := slices.Index(got, uint32(tt.burst)); i >= 0 {
					got = slices.Delete(got, i, i+1)
					wantSeq = wantSeq[:len(wantSeq)-1]
				}
			}
			if !slices.Equal(got, wantSeq) {
				t.Errorf("node1 received %v, want %v", got, wantSeq)
			}
			after := tp.n0.ep.Stats().Snapshot()
			if d := after.TxPackets - before.TxPackets; d != uint64(want-1) {
				t.Errorf("tx_packets grew by %d, want %d", d, want-1)
			}
			if d := after.TxDropped - before.TxDropped; d != 0 {
				t.Errorf("tx_dropped grew by %d, want 0", d)
			}
			if d := after.TxErrors - before.TxErrors; d != 0 {
				t.Errorf("tx_errors grew by %d, want 0", d)
			}
			if after.QdiscDrops != uint64(tt.wantDrops) {
				t.Errorf("qdisc drops %d, want %d", after.QdiscDrops, tt.wantDrops)
			}
			tp.n0.ep.neighs.mu.Lock()
			tx := tp.n0.ep.neighs.m[tp.n1.hw].cm.Load()
			tp.n0.ep.neighs.mu.Unlock()
			if tx == nil {
				t.Fatal("node0's connection is gone")
			}
			stopLog := fmt.Sprintf("ib0: TX ring 0x%x full, stopping kernel net queue", tx.qp.Num())
			lines, _ := tp.n0.log.since(logAt)
			if !slices.Contains(lines, stopLog) {
				t.Errorf("node0's log %q has no %q", strings.Join(lines, "\n"), stopLog)
			}
		})
	}
}

// TestRecvCQHoldsSRQAndUDRings fills the shared receive queue and part of
// the UD ring of a receiver whose poller is held: the receive CQ, sized
// as ipoib_transport_dev_init sizes it, takes every completion.
func TestRecvCQHoldsSRQAndUDRings(t *testing.T) {
	tp := newTestPairRings(t, true, 4, 4, 8)
	rec := &recorder{c: tp.n1.rx, entered: make(chan struct{}), release: make(chan struct{})}
	var releaseOnce sync.Once
	releasePoller := func() { releaseOnce.Do(func() { close(rec.release) }) }
	t.Cleanup(releasePoller)
	tp.n1.ep.Attach(rec)
	tp.connect()
	<-rec.entered
	// The SRQ has 3 buffers left and the UD ring 4: 3 packets over the
	// connection and 2 over UD make 5 completions for the held poller.
	dsts := []header.HWAddr{tp.n1.hw, tp.n1.hw, tp.n1.hw, tp.n0.ep.Broadcast(), tp.n0.ep.Broadcast()}
	for i, dst := range dsts {
		if err := tp.n0.ep.WritePacket(seqPacket(uint32(i+1)), dst); err != nil {
			t.Fatalf("packet %d: %v", i+1, err)
		}
	}
	releasePoller()
	want := int64(1 + len(dsts))
	if got := tp.n1.waitRx(want); got != want {
		t.Errorf("node1 received %d packets, want %d", got, want)
	}
	if st := tp.n1.ep.RecvCQStats(); st.Overflows != 0 {
		t.Errorf("node1's receive CQ overflowed %d times, want 0", st.Overflows)
	}
}

func TestErrQdiscDrop(t *testing.T) {
	tests := []struct {
		target error
		want   bool
	}{
		{unix.ENOBUFS, true},
		{ErrQdiscDrop, true},
		{unix.ENOMEM, false},
	}
	for _, tt := range tests {
		if got := errors.Is(ErrQdiscDrop, tt.target); got != tt.want {
			t.Errorf("errors.Is(ErrQdiscDrop, %v) = %v, want %v", tt.target, got, tt.want)
		}
	}
	if got, want := ErrQdiscDrop.Error(), "transmit queue full: no buffer space available"; got != want {
		t.Errorf("ErrQdiscDrop = %q, want %q", got, want)
	}
}

// The stopped queue wakes once the outstanding sends come down to half
// the ring (ipoib_ib_handle_tx_wc: tx_head − tx_tail <= ipoib_sendq_size
// >> 1), and a send that the QP refused gives its slot back and wakes the
// queue it had stopped (ipoib_send's error path). Woken with nothing
// waiting, the queue no longer holds packets back.
func TestQueueWake(t *testing.T) {
	tp := newTestPairRings(t, false, 8, 16, 8)
	ep := tp.n0.ep
	ep.txmu.Lock()
	defer ep.txmu.Unlock()
	ep.outstanding, ep.stopped = 8, true
	ep.qdiscBusy.Store(true)
	for _, want := range []struct {
		outstanding int
		stopped     bool
	}{{7, true}, {6, true}, {5, true}, {4, false}, {3, false}} {
		ep.retiredLocked()
		if ep.outstanding != want.outstanding || ep.stopped != want.stopped || ep.qdiscBusy.Load() != want.stopped {
			t.Errorf("after a completion: %d outstanding, stopped %v, holding %v; want %d, %v, %v",
				ep.outstanding, ep.stopped, ep.qdiscBusy.Load(), want.outstanding, want.stopped, want.stopped)
		}
	}
	ep.outstanding, ep.stopped = 8, true
	ep.qdiscBusy.Store(true)
	ep.unreserveLocked()
	if ep.outstanding != 7 || ep.stopped || ep.qdiscBusy.Load() {
		t.Errorf("after a refused send: %d outstanding, stopped %v, holding %v; want 7, false, false",
			ep.outstanding, ep.stopped, ep.qdiscBusy.Load())
	}
}

// A send that the UD QP refuses (it is no longer in RTS) is returned to
// the caller and counted as dropped and as an error, not as sent; its
// ring slot comes back, so refused sends never stop the queue.
func TestPostSendRefused(t *testing.T) {
	tp := newTestPairRings(t, false, 4, 16, 8)
	ep := tp.n0.ep
	if err := ep.qp.Modify(verbs.QPAttr{State: verbs.QPReset}, verbs.AttrState); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if err := ep.WritePacket(udpPacket(100), tp.n1.hw); !errors.Is(err, unix.EINVAL) {
			t.Fatalf("send %d: error %v, want EINVAL", i, err)
		}
	}
	if c := ep.Stats().Snapshot(); c != (Counters{TxDropped: 6, TxErrors: 6}) {
		t.Errorf("counted %+v, want 6 dropped, 6 errors", c)
	}
	ep.txmu.Lock()
	defer ep.txmu.Unlock()
	if ep.outstanding != 0 || ep.stopped || len(ep.backlog) != 0 {
		t.Errorf("%d outstanding, stopped %v, %d waiting; want 0, false, 0", ep.outstanding, ep.stopped, len(ep.backlog))
	}
}

// Destroying a connection whose sends are unacknowledged gives their
// ring slots back and wakes the queue they stopped (ipoib_cm_tx_destroy
// counts them in global_tx_tail), so UD traffic goes on.
func TestDestroyedConnectionFreesRing(t *testing.T) {
	tp := newTestPairRings(t, true, 4, 16, 8)
	tp.connect()
	tp.send(2) // acknowledged
	lose := func(*verbs.Packet) bool { return true }
	tp.n0.lose.Store(&lose)
	tp.send(4) // unacknowledged: the ring is full
	ep := tp.n0.ep
	if !ep.QueueStopped() {
		t.Fatal("the queue is not stopped by a full ring")
	}
	ep.FlushPaths()
	ep.txmu.Lock()
	out, stopped, inflight := ep.outstanding, ep.stopped, len(ep.rcInflight)
	ep.txmu.Unlock()
	if out != 0 || stopped || inflight != 0 || ep.QueueStopped() {
		t.Errorf("%d outstanding, stopped %v, %d QPs in flight, holding %v; want 0, false, 0, false",
			out, stopped, inflight, ep.QueueStopped())
	}
	tp.n0.lose.Store(nil)
	if err := ep.WritePacket(udpPacket(100), ep.Broadcast()); err != nil {
		t.Fatal(err)
	}
	if got := tp.n1.waitRx(4); got != 4 {
		t.Errorf("node1 delivered %d packets, want 4", got)
	}
}
