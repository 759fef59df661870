package driver

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/ibctl/ibctl/netlinkx"
)

// dp1 is node1's ib0 data path.
func (e *cmEnv) dp1() *dataPath {
	e.t.Helper()
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	return mustDev(e.t, e.n1, "ib0").dp
}

// checkTxDestroyed fails the test unless node0 has no active connection
// and destroyed every one it requested.
func (e *cmEnv) checkTxDestroyed() {
	e.t.Helper()
	if tx0, _ := e.dp0.cmCounts(); tx0 != 0 {
		e.t.Errorf("node0: %d active connections", tx0)
	}
	msgs, _ := logSince(e.n0, 0)
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
		e.t.Errorf("node0: connection %s requested and never destroyed", qpn)
	}
}

// A neighbour freed while its connection starts (Ping transmits without
// the driver lock; a mode switch, a link down or another connection's
// failure frees neighbours) destroys the QP and the CM ID the start made:
// no connection is left that nothing will ever destroy.
func TestConnectedModeNeighFreedWhileStarting(t *testing.T) {
	e := newCMEnv(t, netlinkx.ModeConnected)
	cfg := e.dp0.cfg.Load()
	n, err := e.dp0.neigh(e.hw1, cfg.pkey)
	if err != nil {
		t.Fatal(err)
	}
	// createTx up to the start: the connection hangs off the neighbour,
	// its QP and ID are not made yet.
	e.dp0.cm.mu.Lock()
	tx := &cmTx{dp: e.dp0, neigh: n}
	tx.startMu.Lock()
	n.cm.Store(tx)
	e.dp0.cm.mu.Unlock()
	_, seq := logSince(e.n0, 0)
	done := make(chan struct{})
	go func() {
		e.dp0.flushPathNeighs()
		close(done)
	}()
	// Wait until the flush has freed the neighbour.
	for {
		msgs, _ := logSince(e.n0, seq)
		if slices.Contains(msgs, "ib0: neigh free for 000048 "+pI6Node1) {
			break
		}
		runtime.Gosched()
	}
	if err := e.dp0.startTx(tx, n, cfg); err != nil {
		t.Fatal(err)
	}
	tx.startMu.Unlock()
	<-done
	settleCM(e.d)
	e.checkTxDestroyed()
}

// Transmits that create connections race with flushes of the neighbours;
// run with -race.
func TestConnectedModeCreateTxVsFlush(t *testing.T) {
	e := newCMEnv(t, netlinkx.ModeConnected)
	var wg sync.WaitGroup
	for range 300 {
		wg.Add(2)
		go func() { defer wg.Done(); _ = e.dp0.transmit(udpPacket(100), e.hw1, false) }()
		go func() { defer wg.Done(); e.dp0.flushPathNeighs() }()
		wg.Wait()
	}
	settleCM(e.d)
	e.dp0.flushPathNeighs()
	settleCM(e.d)
	e.checkTxDestroyed()
}

// A packet for a neighbour freed after sendCM found its connection (the
// REJ handler's txFailed emptied the queue) is dropped and counted, not
// stranded on the dead neighbour's queue.
func TestConnectedModeSendToFreedNeigh(t *testing.T) {
	e := newCMEnv(t, netlinkx.ModeConnected)
	cfg := e.dp0.cfg.Load()
	n, err := e.dp0.neigh(e.hw1, cfg.pkey)
	if err != nil {
		t.Fatal(err)
	}
	before := mustLink(t, e.n0, "ib0").Stats.TxDropped
	// What sendCM sees once freeNeigh ran after it loaded the connection.
	n.cm.Store(&cmTx{dp: e.dp0})
	n.qmu.Lock()
	n.dead = true
	n.qmu.Unlock()
	if err := e.dp0.sendCM(n, udpPacket(100), cfg); err != nil {
		t.Fatal(err)
	}
	if got := mustLink(t, e.n0, "ib0").Stats.TxDropped - before; got != 1 {
		t.Errorf("tx_dropped grew by %d, want 1", got)
	}
	n.qmu.Lock()
	defer n.qmu.Unlock()
	if len(n.queue) != 0 {
		t.Errorf("%d packets stranded on the freed neighbour", len(n.queue))
	}
}
