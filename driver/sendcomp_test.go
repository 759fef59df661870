package driver

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/verbs"
	"github.com/ibctl/ibctl/netlinkx"
)

// A peer whose passive QP vanished without a DREQ acknowledges nothing:
// the active QP runs out of transport retries (IPoIB asks for none), the
// failed send completion frees the neighbour and reaps the connection,
// and the next packet connects again (ipoib_cm_handle_tx_wc).
func TestConnectedModePeerVanishes(t *testing.T) {
	e := newCMEnv(t, netlinkx.ModeConnected)
	mustPing(t, e.n0, [4]byte{10, 0, 0, 2}, 1)
	e.d.mu.Lock()
	dp1 := mustDev(t, e.n1, "ib0").dp
	e.d.mu.Unlock()
	dp1.cm.mu.Lock()
	for _, rx := range dp1.cm.rx {
		rx.qp.Destroy()
	}
	dp1.cm.mu.Unlock()
	tx0, _ := e.dp0.cmCounts()
	if tx0 != 1 {
		t.Fatalf("%d active connections before", tx0)
	}
	_, seq := logSince(e.n0, 0)
	e.send(1) // lost: no ACK
	// The ACK timeout runs on the HCA's own clock (4.096 us x 2^19 from
	// the path's packet lifetime, about 2 s): wait for it.
	hca0 := e.d.nodes["node0"].ports[0].dev
	for deadline := time.Now().Add(20 * time.Second); hca0.Stats().RetryExceeded == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the lost send never ran out of retries")
		}
	}
	e.send(1) // retires the failed send first, which reaps the connection
	settleCM(e.d)
	msgs, _ := logSince(e.n0, seq)
	want := "ib0: ipoib_cm_handle_tx_wc: failed cm send event (status=12, wrid=1 vend_err 0x0)"
	if !slices.Contains(msgs, want) {
		t.Errorf("node0 messages %q lack %q", msgs, want)
	}
	e.clk.Advance(3 * time.Second) // the old connection's time-wait
	settleCM(e.d)
	mustPing(t, e.n0, [4]byte{10, 0, 0, 2}, 2)
	if tx0, _ := e.dp0.cmCounts(); tx0 != 1 {
		t.Errorf("%d active connections after reconnecting", tx0)
	}
	if s := hca0.Stats(); s.RetryExceeded != 1 {
		t.Errorf("node0 HCA: RetryExceeded %d", s.RetryExceeded)
	}
}

func TestWCStatusIBValue(t *testing.T) {
	for s, want := range map[verbs.WCStatus]int{verbs.WCSuccess: 0, verbs.WCWRFlushErr: 5, verbs.WCRetryExcErr: 12, verbs.WCRNRRetryExcErr: 13, verbs.WCStatus(99): -1} {
		if got := s.IBValue(); got != want {
			t.Errorf("%v: %d, want %d", s, got, want)
		}
	}
}

// A packet over the UD MTU to a peer reached over UD is dropped with
// ipoib_send's warning, which counts the 4-byte header on both sides,
// and answered with the UD MTU.
func TestUDTooLongWarning(t *testing.T) {
	e := newCMEnv(t, netlinkx.ModeDatagram)
	wantErrno(t, e.n0.SetMode("ib0", netlinkx.ModeDatagram), 0) // UD to node1
	mustPing(t, e.n0, [4]byte{10, 0, 0, 2}, 1)
	_, seq := logSince(e.n0, 0)
	err := e.dp0.transmit(udpPacket(3000-28), e.hw1, false)
	var tb *tooBig
	if !errors.As(err, &tb) || tb.mtu != 2044 {
		t.Fatalf("transmit: %v, want too big with MTU 2044", err)
	}
	msgs, _ := logSince(e.n0, seq)
	if want := []string{"ib0: packet len 3004 (> 2048) too long to send, dropping"}; !slices.Equal(msgs, want) {
		t.Errorf("messages %q, want %q", msgs, want)
	}
}
