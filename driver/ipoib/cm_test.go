package ipoib

import (
	"slices"
	"testing"
	"time"
)

// Both QPs of a connection agree on PSNs and QPNs, and the connection's
// MTU is the peer's receive size minus the header (ipoib_cm_rep_handler).
func TestConnectionQPs(t *testing.T) {
	tp := newTestPair(t, true)
	tp.connect()
	tx := tp.n0.ep.neighs.m[tp.n1.hw].cm.Load()
	tp.n1.ep.cm.mu.Lock()
	rx := tp.n1.ep.cm.rx[0x49]
	tp.n1.ep.cm.mu.Unlock()
	if tx == nil || rx == nil {
		t.Fatal("no connection node0 → node1")
	}
	a, p := tx.qp.Query(), rx.qp.Query()
	if a.DestQPN != 0x49 || p.DestQPN != 0x49 || a.SQPSN != p.RQPSN || a.DLID != 3 || p.DLID != 1 || a.PathMTU != p.PathMTU || tx.mtu != 65520 {
		t.Errorf("active %+v, passive %+v, mtu %d", a, p, tx.mtu)
	}
	if got := tp.n1.waitRx(1); got != 1 {
		t.Errorf("node1 delivered %d packets, want 1", got)
	}
}

// A peer whose passive QP vanished without a DREQ acknowledges nothing:
// the active QP runs out of transport retries (IPoIB asks for none), the
// failed send completion frees the neighbour and reaps the connection,
// and the next packet connects again (ipoib_cm_handle_tx_wc).
func TestConnectedModePeerVanishes(t *testing.T) {
	tp := newTestPair(t, true)
	tp.connect()
	ep1 := tp.n1.ep
	ep1.cm.mu.Lock()
	for _, rx := range ep1.cm.rx {
		rx.qp.Destroy()
	}
	ep1.cm.mu.Unlock()
	_, seq := tp.n0.log.since(0)
	tp.send(1) // lost: no ACK
	// The ACK timeout runs on the HCA's own clock (4.096 us x 2^19 from
	// the path's packet lifetime, about 2 s): wait for it.
	for deadline := time.Now().Add(20 * time.Second); tp.n0.port.HCAStats().RetryExceeded == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the lost send never ran out of retries")
		}
	}
	tp.send(1) // retires the failed send first, which reaps the connection
	tp.Settle()
	msgs, _ := tp.n0.log.since(seq)
	want := "ib0: ipoib_cm_handle_tx_wc: failed cm send event (status=12, wrid=1 vend_err 0x0)"
	if !slices.Contains(msgs, want) {
		t.Errorf("node0 messages %q lack %q", msgs, want)
	}
	tp.advance(3 * time.Second) // the old connection's time-wait
	tp.connect()
	if s := tp.n0.port.HCAStats(); s.RetryExceeded != 1 {
		t.Errorf("node0 HCA: RetryExceeded %d", s.RetryExceeded)
	}
}
