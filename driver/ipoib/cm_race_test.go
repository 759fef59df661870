package ipoib

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/ibcm"
)

// checkTxDestroyed fails the test unless node0 has no active connection
// and destroyed every one it requested.
func (tp *testPair) checkTxDestroyed() {
	tp.t.Helper()
	if tx0, _ := tp.n0.ep.ConnCounts(); tx0 != 0 {
		tp.t.Errorf("node0: %d active connections", tx0)
	}
	msgs, _ := tp.n0.log.since(0)
	live := map[string]bool{}
	for _, m := range msgs {
		var qpn string
		if _, err := fmt.Sscanf(m, "ib0: Request connection %s", &qpn); err == nil {
			live[qpn] = true
		} else if _, err := fmt.Sscanf(m, "ib0: Destroy active connection %s", &qpn); err == nil {
			delete(live, qpn)
		}
	}
	for qpn := range live {
		tp.t.Errorf("node0: connection %s requested and never destroyed", qpn)
	}
}

// A neighbour freed while its connection starts (Ping transmits without
// the driver lock; a mode switch, a link down or another connection's
// failure frees neighbours) destroys the QP and the CM ID the start made:
// no connection is left that nothing will ever destroy.
func TestConnectedModeNeighFreedWhileStarting(t *testing.T) {
	tp := newTestPair(t, true)
	ep := tp.n0.ep
	cfg := ep.cfg.Load()
	n, err := ep.neigh(tp.n1.hw, cfg.PKey)
	if err != nil {
		t.Fatal(err)
	}
	// createTx up to the start: the connection hangs off the neighbour,
	// its QP and ID are not made yet.
	ep.cm.mu.Lock()
	tx := &cmTx{ep: ep, neigh: n, started: make(chan struct{})}
	n.cm.Store(tx)
	ep.cm.mu.Unlock()
	_, seq := tp.n0.log.since(0)
	done := make(chan struct{})
	go func() {
		ep.flushPathNeighs()
		close(done)
	}()
	// Wait until the flush has freed the neighbour.
	for {
		msgs, _ := tp.n0.log.since(seq)
		if slices.Contains(msgs, "ib0: neigh free for 000048 "+pI6Node1) {
			break
		}
		runtime.Gosched()
	}
	if err := ep.startTx(tx, n, cfg); err != nil {
		t.Fatal(err)
	}
	close(tx.started)
	<-done
	tp.Settle()
	tp.checkTxDestroyed()
}

// Transmits that create connections race with flushes of the neighbours;
// run with -race.
func TestConnectedModeCreateTxVsFlush(t *testing.T) {
	tp := newTestPair(t, true)
	ep := tp.n0.ep
	var wg sync.WaitGroup
	for range 300 {
		wg.Add(2)
		go func() { defer wg.Done(); _ = ep.WritePacket(udpPacket(100), tp.n1.hw) }()
		go func() { defer wg.Done(); ep.flushPathNeighs() }()
		wg.Wait()
	}
	tp.Settle()
	ep.flushPathNeighs()
	tp.Settle()
	tp.checkTxDestroyed()
	tp.checkRxAfterAbandonedREQs()
}

// checkRxAfterAbandonedREQs checks node1's side after node0 abandoned
// REQs (ib_destroy_cm_id in REQ_SENT sends REJ TIMEOUT): a passive
// connection whose REJ arrived is gone at once. A burst of REQs and REJs
// can overflow node1's QP1 receive queue, as the kernel's MAD layer's
// may; a passive ID whose REJ was lost waits in REP_SENT until its REP
// retries run out (cm_process_send_error: REP_ERROR, back to idle), and
// its connection, which ipoib_cm_rx_handler leaves alone on REP_ERROR,
// until the stale scan reaps it (ipoib_cm_stale_task).
func (tp *testPair) checkRxAfterAbandonedREQs() {
	tp.t.Helper()
	ep := tp.n1.ep
	states := func() map[ibcm.State]int {
		ep.cm.mu.Lock()
		defer ep.cm.mu.Unlock()
		m := map[ibcm.State]int{}
		for _, rx := range ep.cm.rx {
			m[rx.id.State()]++
		}
		return m
	}
	lost := tp.n1.port.dev.Stats().DropNoRecv
	if got := states(); lost == 0 && len(got) != 0 {
		tp.t.Fatalf("node1: no MAD lost, passive connections left in states %v", got)
	}
	for range cmMaxCMRetries + 1 {
		tp.advance(4096 * time.Millisecond) // the REQ's local CM response timeout, 20
		tp.Settle()
	}
	if got := states(); got[ibcm.REPSent] != 0 || got[ibcm.MRAREPRcvd] != 0 {
		tp.t.Fatalf("node1 (%d MADs lost): passive IDs after their REP retries: %v", lost, got)
	}
	tp.advance(cmRxTimeout + 1)
	ep.ReapStale()
	tp.Settle()
	if _, rx := ep.ConnCounts(); rx != 0 {
		tp.t.Errorf("node1: %d passive connections after the stale scan", rx)
	}
}

// A packet for a neighbour freed after sendCM found its connection (the
// REJ handler's txFailed emptied the queue) is dropped and counted, not
// stranded on the dead neighbour's queue.
func TestConnectedModeSendToFreedNeigh(t *testing.T) {
	tp := newTestPair(t, true)
	ep := tp.n0.ep
	cfg := ep.cfg.Load()
	n, err := ep.neigh(tp.n1.hw, cfg.PKey)
	if err != nil {
		t.Fatal(err)
	}
	before := ep.Stats().Snapshot().TxDropped
	// What sendCM sees once freeNeigh ran after it loaded the connection.
	started := make(chan struct{})
	close(started)
	n.cm.Store(&cmTx{ep: ep, started: started})
	n.qmu.Lock()
	n.dead = true
	n.qmu.Unlock()
	if err := ep.sendCM(n, udpPacket(100), cfg, false); err != nil {
		t.Fatal(err)
	}
	if got := ep.Stats().Snapshot().TxDropped - before; got != 1 {
		t.Errorf("tx_dropped grew by %d, want 1", got)
	}
	n.qmu.Lock()
	defer n.qmu.Unlock()
	if len(n.queue) != 0 {
		t.Errorf("%d packets stranded on the freed neighbour", len(n.queue))
	}
}
