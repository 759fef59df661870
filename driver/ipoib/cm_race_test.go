package ipoib

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
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
	tp.settle()
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
	tp.settle()
	ep.flushPathNeighs()
	tp.settle()
	tp.checkTxDestroyed()
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
	if err := ep.sendCM(n, udpPacket(100), cfg); err != nil {
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
