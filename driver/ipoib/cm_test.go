package ipoib

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/verbs"
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
	// Both QPs are in RTS (ipoib_cm_rep_handler, ipoib_cm_req_handler
	// through ipoib_cm_modify_rx_qp), retry RNR for ever with the
	// 1.28 ms timer, and the passive side starts at the PSN its QPN
	// gives (0x49 × 2654435761 mod 2^24) where the kernel draws one.
	for _, q := range []struct {
		name string
		a    verbs.QPAttr
		rq   uint32
	}{{"active", a, 0}, {"passive", p, 0xd1b379}} {
		if q.a.State != verbs.QPRTS || q.a.RNRRetry != cmRNRRetry || q.a.MinRNRTimer != cmMinRNRTimer || q.a.RQPSN != q.rq {
			t.Errorf("%s QP: state %v, RNR retry %d, RNR timer %d, RQ PSN %#x; want RTS, 7, 14, %#x",
				q.name, q.a.State, q.a.RNRRetry, q.a.MinRNRTimer, q.a.RQPSN, q.rq)
		}
	}
	if got := tp.n1.waitRx(1); got != 1 {
		t.Errorf("node1 delivered %d packets, want 1", got)
	}
}

// A peer whose passive QP vanished without a DREQ acknowledges nothing:
// the active QP runs out of transport retries (IPoIB asks for none), the
// failed send completion frees the neighbour and reaps the connection,
// and the next packet connects again (ipoib_cm_handle_tx_wc). The
// failure is part of a connection's life: its message is a debug one,
// naming the send's ring slot (its count modulo send_queue_size) as its
// work request ID.
func TestConnectedModePeerVanishes(t *testing.T) {
	for _, tt := range []struct {
		name   string
		debug  int32
		sendq  int
		before int    // packets sent over the connection before the lost one
		want   string // the message, "" for none
	}{
		{"debug_level 1", 1, 128, 0, "ib0: ipoib_cm_handle_tx_wc: failed cm send event (status=12, wrid=1 vend_err 0x0)"},
		{"debug_level 0", 0, 128, 0, ""},
		{"ring of 4", 1, 4, 5, "ib0: ipoib_cm_handle_tx_wc: failed cm send event (status=12, wrid=2 vend_err 0x0)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPairRings(t, true, tt.sendq, 256, 256)
			tp.n0.host.Debug.Store(tt.debug)
			tp.connect()
			for i := range tt.before {
				tp.send(1)
				if got := tp.n1.waitRx(int64(i + 2)); got != int64(i+2) {
					t.Fatalf("node1 delivered %d packets, want %d", got, i+2)
				}
			}
			peerVanishes(t, tp, tt.want)
		})
	}
}

func peerVanishes(t *testing.T, tp *testPair, want string) {
	t.Helper()
	tp.n0.ep.neighs.mu.Lock()
	tx := tp.n0.ep.neighs.m[tp.n1.hw].cm.Load()
	tp.n0.ep.neighs.mu.Unlock()
	// The active QP's local ACK timeout is cm_ack_timeout of the CA ACK
	// delay and the path record's packet lifetime (the larger plus one),
	// and IPoIB asks for no transport retries: the HCA gives up one
	// timeout after the lost send.
	a := tx.qp.Query()
	if want := uint8(max(caAckDelay, saPacketLifeTime+1)); a.Timeout != want || a.RetryCnt != 0 {
		t.Fatalf("active QP: Timeout %d RetryCnt %d, want %d and 0", a.Timeout, a.RetryCnt, want)
	}
	giveUp := verbs.AckTimeout(a.Timeout) * time.Duration(a.RetryCnt+1)
	ep1 := tp.n1.ep
	ep1.cm.mu.Lock()
	for _, rx := range ep1.cm.rx {
		rx.qp.Destroy()
	}
	ep1.cm.mu.Unlock()
	_, seq := tp.n0.log.since(0)
	tp.send(1) // lost: no ACK
	if n := tp.n0.port.Unacked(); n != 1 {
		t.Fatalf("node0: %d QPs await an ACK, want 1", n)
	}
	// The clock moves without quiescing: the lost send is meant to time
	// out.
	tp.clk.ManualClock.Advance(giveUp - time.Nanosecond)
	if s := tp.n0.port.HCAStats(); s.RetryExceeded != 0 {
		t.Fatalf("node0 HCA: RetryExceeded %d before the ACK timeout", s.RetryExceeded)
	}
	tp.clk.ManualClock.Advance(time.Nanosecond)
	if s := tp.n0.port.HCAStats(); s.RetryExceeded != 1 || s.Retries != 0 {
		t.Fatalf("node0 HCA at the ACK timeout: RetryExceeded %d Retries %d, want 1 and 0", s.RetryExceeded, s.Retries)
	}
	tp.send(1) // retires the failed send first, which reaps the connection
	tp.Settle()
	msgs, _ := tp.n0.log.since(seq)
	failed := slices.IndexFunc(msgs, func(m string) bool { return strings.Contains(m, "failed cm send event") })
	if want == "" && failed >= 0 || want != "" && (failed < 0 || msgs[failed] != want) {
		t.Errorf("node0 messages %q, want %q among them", msgs, want)
	}
	tp.advance(3 * time.Second) // the old connection's time-wait
	tp.connect()
	if s := tp.n0.port.HCAStats(); s.RetryExceeded != 1 {
		t.Errorf("node0 HCA: RetryExceeded %d", s.RetryExceeded)
	}
}
