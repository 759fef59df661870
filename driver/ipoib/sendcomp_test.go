package ipoib

import (
	"sync"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/verbs"
)

// doneRec records what an endpoint passes to its SendDone.
type doneRec struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (r *doneRec) add(pkt []byte) {
	r.mu.Lock()
	r.pkts = append(r.pkts, pkt)
	r.mu.Unlock()
}

func (r *doneRec) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pkts
	r.pkts = nil
	return p
}

// setSendDone gives the endpoint a SendDone, as Open's option does.
func setSendDone(ep *Endpoint, fn func([]byte)) {
	ep.txmu.Lock()
	ep.sendDone = fn
	ep.txmu.Unlock()
}

// retire polls the endpoint's send completions, as its next send does.
func retire(ep *Endpoint) {
	ep.txmu.Lock()
	ep.retireSendsLocked()
	ep.txmu.Unlock()
	ep.handleSendErrors()
}

// sameMemory reports whether got are exactly the slices want, in order:
// the same memory and length, not copies.
func sameMemory(got, want [][]byte) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if len(got[i]) != len(want[i]) || len(got[i]) > 0 && &got[i][0] != &want[i][0] {
			return false
		}
	}
	return true
}

// Every send work request's packet goes to SendDone once, when the
// request's completion is polled (ipoib_ib_handle_tx_wc and
// ipoib_cm_handle_tx_wc free the skb of tx_ring[wr_id]), whatever its
// status: over UD, as an LSO request, over a connection, failed or
// flushed by a connection's QP in error. An RC send that the peer has not acknowledged is not passed,
// however often completions are polled; a packet copied before its send
// (the connection's queue while it connects) is not passed either.
func TestSendDone(t *testing.T) {
	for _, c := range []struct {
		name      string
		connected bool
		run       func(t *testing.T, tp *testPair, rec *doneRec) (posted [][]byte)
	}{
		{"UD", false, func(t *testing.T, tp *testPair, rec *doneRec) [][]byte {
			var posted [][]byte
			for range 3 {
				p := udPacket(tp, 1000)
				if err := tp.n0.ep.WritePacket(p, tp.n1.hw); err != nil {
					t.Fatal(err)
				}
				posted = append(posted, p)
			}
			return posted
		}},
		{"UD LSO", false, func(t *testing.T, tp *testPair, rec *doneRec) [][]byte {
			p := tcpGSOPacket(20000)
			if err := tp.n0.ep.WritePacketGSO(p, tp.n1.hw, 1400); err != nil {
				t.Fatal(err)
			}
			return [][]byte{p}
		}},
		{"UD flushed", false, func(t *testing.T, tp *testPair, rec *doneRec) [][]byte {
			// A QP in error completes each send at once, flushed.
			if err := tp.n0.ep.qp.Modify(verbs.QPAttr{State: verbs.QPError}, verbs.AttrState); err != nil {
				t.Fatal(err)
			}
			p := udPacket(tp, 1000)
			if err := tp.n0.ep.WritePacket(p, tp.n1.hw); err != nil {
				t.Fatal(err)
			}
			return [][]byte{p}
		}},
		{"RC", true, func(t *testing.T, tp *testPair, rec *doneRec) [][]byte {
			var posted [][]byte
			for _, n := range []int{100, 60000, 3000} {
				p := udpPacket(n)
				if err := tp.n0.ep.WritePacket(p, tp.n1.hw); err != nil {
					t.Fatal(err)
				}
				posted = append(posted, p)
			}
			return posted
		}},
		{"RC unacknowledged, then failed and flushed", true, func(t *testing.T, tp *testPair, rec *doneRec) [][]byte {
			lose := func(*verbs.Packet) bool { return true }
			tp.n0.lose.Store(&lose)
			var posted [][]byte
			for _, n := range []int{60000, 100} {
				p := udpPacket(n)
				if err := tp.n0.ep.WritePacket(p, tp.n1.hw); err != nil {
					t.Fatal(err)
				}
				posted = append(posted, p)
			}
			retire(tp.n0.ep)
			if got := rec.take(); len(got) != 0 {
				t.Fatalf("%d packets passed before their sends completed", len(got))
			}
			// No ACK: the first send runs out of retries, the
			// second is flushed.
			tx := tp.n0.ep.neighs.m[tp.n1.hw].cm.Load()
			a := tx.qp.Query()
			tp.clk.ManualClock.Advance(verbs.AckTimeout(a.Timeout) * time.Duration(a.RetryCnt+1))
			return posted
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp := newTestPair(t, c.connected)
			if c.connected {
				tp.connect()
				tp.n1.waitRx(1)
			}
			retire(tp.n0.ep)
			rec := &doneRec{}
			setSendDone(tp.n0.ep, rec.add)
			posted := c.run(t, tp, rec)
			retire(tp.n0.ep)
			if got := rec.take(); !sameMemory(got, posted) {
				t.Errorf("passed %d packets (%v), want the %d posted, once each", len(got), lens(got), len(posted))
			}
			retire(tp.n0.ep)
			if got := rec.take(); len(got) != 0 {
				t.Errorf("passed %d packets again", len(got))
			}
		})
	}
}

// udPacket is a UDP packet over UD: within the UD MTU.
func udPacket(tp *testPair, n int) []byte {
	return udpPacket(min(n, int(tp.n0.ep.cfg.Load().UDMTU)-28))
}

func lens(pkts [][]byte) []int {
	var n []int
	for _, p := range pkts {
		n = append(n, len(p))
	}
	return n
}
