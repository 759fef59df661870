package ipoib

import "testing"

// An open endpoint holds no receive buffer until a packet lands: its 256
// receive WRs borrow one each when used.
func TestIdleEndpointHoldsNoRecvBuffers(t *testing.T) {
	tp := newTestPair(t, false)
	for _, tn := range []*testNode{tp.n0, tp.n1} {
		held := 0
		for _, b := range tn.ep.bufs {
			if b != nil {
				held++
			}
		}
		if len(tn.ep.bufs) != 256 || held != 0 {
			t.Errorf("%d receive WRs, %d holding a buffer; want 256, none", len(tn.ep.bufs), held)
		}
	}
	tp.send(3)
	if got := tp.n1.waitRx(3); got != 3 {
		t.Fatalf("node1 received %d packets, want 3", got)
	}
}

// A lent buffer is of the message's size class and goes back to its
// pool, which lends it again.
func TestLendRx(t *testing.T) {
	tests := []struct {
		n, wantCap int
	}{
		{40, rxSmallLen},
		{rxSmallLen, rxSmallLen},
		{rxSmallLen + 1, rxBufLen},
		{rxBufLen, rxBufLen},
	}
	for _, tt := range tests {
		b := lendRx(tt.n)
		if len(b) != tt.wantCap || cap(b) != tt.wantCap {
			t.Errorf("lendRx(%d): len %d cap %d, want %d", tt.n, len(b), cap(b), tt.wantCap)
		}
		returnRx(b[:1])
		if again := lendRx(tt.n); &again[0] != &b[0] || len(again) != tt.wantCap {
			t.Errorf("lendRx(%d) after returnRx: a new buffer of %d, want the one returned", tt.n, len(again))
		}
	}
}
