package verbs

import (
	"testing"
)

func TestRC64KOverSRQ(t *testing.T) {
	for _, queued := range []bool{false, true} {
		name := "sync"
		if queued {
			name = "queued"
		}
		t.Run(name, func(t *testing.T) {
			f := newFabric(t, fabricOpts{queued: queued})
			srq, err := f.b.NewSRQ(8, 16)
			if err != nil {
				t.Fatal(err)
			}
			x := newEnd(t, f.a, endOpts{typ: RC, maxSGE: 1})
			y := newEnd(t, f.b, endOpts{typ: RC, srq: srq})
			rcConnect(t, x.qp, y.qp, MTU4096, 7)
			// The receive WQE is 16 page-sized buffers, as IPoIB CM's SRQ.
			bufs := make([][]byte, 16)
			for i := range bufs {
				bufs[i] = make([]byte, 4096)
			}
			if err := srq.PostRecv(&RecvWR{WRID: 0x5151, SGL: bufs}); err != nil {
				t.Fatal(err)
			}
			msg := pattern(64<<10, 9)
			if err := x.qp.PostSend(&SendWR{WRID: 0x64, Signaled: true, SGL: [][]byte{msg}}); err != nil {
				t.Fatal(err)
			}
			if queued {
				if got := f.lb.Flush(); got != 17 {
					t.Errorf("flushed %d packets, want 16 + 1 ACK", got)
				}
			}
			var got []byte
			for _, b := range bufs {
				got = append(got, b...)
			}
			equalBytes(t, "message", got, msg)
			wantRecv := []WC{{WRID: 0x5151, Status: WCSuccess, Opcode: WCRecv, ByteLen: 64 << 10, QPNum: y.qp.Num(), SrcQP: x.qp.Num(), SLID: lidA}}
			if diff := diff(wantRecv, poll(y, y.rcq)); diff != "" {
				t.Errorf("recv CQ (-want +got):\n%s", diff)
			}
			wantSend := []WC{{WRID: 0x64, Status: WCSuccess, Opcode: WCSend, ByteLen: 64 << 10, QPNum: x.qp.Num()}}
			if diff := diff(wantSend, poll(x, x.scq)); diff != "" {
				t.Errorf("send CQ (-want +got):\n%s", diff)
			}
			if diff := diff(Stats{TxPackets: 16, RxPackets: 1}, f.a.Stats()); diff != "" {
				t.Errorf("requester stats (-want +got):\n%s", diff)
			}
			if diff := diff(Stats{TxPackets: 1, RxPackets: 16}, f.b.Stats()); diff != "" {
				t.Errorf("responder stats (-want +got):\n%s", diff)
			}
			// PSNs advanced by 16 across the 24-bit wrap.
			x.qp.mu.Lock()
			psn := x.qp.req.psn
			x.qp.mu.Unlock()
			y.qp.mu.Lock()
			epsn := y.qp.resp.epsn
			y.qp.mu.Unlock()
			if want := (psnOf(x.qp) + 16) & psnMask; psn != want || epsn != want {
				t.Errorf("requester PSN %#x, responder ePSN %#x, want %#x", psn, epsn, want)
			}
		})
	}
}

func TestRCMessageSizes(t *testing.T) {
	for _, n := range []int{0, 1, 1024, 1025, 3 * 1024, 10000} {
		f := newFabric(t, fabricOpts{})
		x := newEnd(t, f.a, endOpts{typ: RC})
		y := newEnd(t, f.b, endOpts{typ: RC})
		rcConnect(t, x.qp, y.qp, MTU1024, 7)
		buf := make([]byte, 10000)
		if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{buf}}); err != nil {
			t.Fatal(err)
		}
		msg := pattern(n, 1)
		if err := x.qp.PostSend(&SendWR{WRID: 2, Opcode: WRSendWithImm, Imm: 42, SGL: [][]byte{msg[:n/2], msg[n/2:]}}); err != nil {
			t.Fatal(err)
		}
		equalBytes(t, "message", buf[:n], msg)
		want := []WC{{WRID: 1, Status: WCSuccess, Opcode: WCRecv, ByteLen: uint32(n), QPNum: y.qp.Num(), SrcQP: x.qp.Num(), SLID: lidA, WithImm: true, Imm: 42}}
		if diff := diff(want, poll(y, y.rcq)); diff != "" {
			t.Errorf("%d bytes: recv CQ (-want +got):\n%s", n, diff)
		}
		if got, want := f.a.Stats().TxPackets, uint64(max(1, (n+1023)/1024)); got != want {
			t.Errorf("%d bytes: %d packets, want %d", n, got, want)
		}
		if got := x.scq.Stats().Completions; got != 0 {
			t.Errorf("%d bytes: unsignaled send completed with a WC", n)
		}
	}
}

// rnrFixture is a connected RC pair with no receive posted at y.
func rnrFixture(t *testing.T, queued bool, rnrRetry uint8) (*fabric, *end, *end) {
	t.Helper()
	f := newFabric(t, fabricOpts{queued: queued})
	x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true})
	y := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, x.qp, y.qp, MTU4096, rnrRetry)
	return f, x, y
}

func TestRCRNRRetrySucceeds(t *testing.T) {
	f, x, y := rnrFixture(t, true, 3)
	msg := pattern(8192, 4) // FIRST + LAST
	if err := x.qp.PostSend(&SendWR{WRID: 1, SGL: [][]byte{msg}}); err != nil {
		t.Fatal(err)
	}
	// FIRST -> RNR NAK; LAST, behind the NAKed PSN, is dropped silently.
	if got := f.lb.Flush(); got != 3 {
		t.Fatalf("flushed %d packets, want FIRST, LAST, RNR NAK", got)
	}
	if diff := diff(Stats{TxPackets: 1, RxPackets: 2, DropSequence: 1, RNRNaksSent: 1}, f.b.Stats()); diff != "" {
		t.Errorf("responder stats (-want +got):\n%s", diff)
	}
	x.qp.mu.Lock()
	cs, rnrLeft := x.qp.comp.state, x.qp.comp.rnrLeft
	x.qp.mu.Unlock()
	if cs != compDone || rnrLeft != 2 {
		t.Errorf("completer state %v, rnr left %d; want DONE, 2", cs, rnrLeft)
	}
	if got := f.clk.Pending(); got != 1 {
		t.Fatalf("armed timers = %d, want the RNR timer", got)
	}

	// The timer fires with still no receive: a second RNR NAK.
	f.clk.Advance(RNRTimeout(rnrCode) - 1)
	if got := f.lb.Pending(); got != 0 {
		t.Fatalf("resent %d packets before the RNR timer expired", got)
	}
	f.clk.Advance(1)
	if got := f.lb.Pending(); got != 2 {
		t.Fatalf("resent %d packets, want 2", got)
	}
	f.lb.Flush()
	if got := f.b.Stats().RNRNaksSent; got != 2 {
		t.Errorf("RNRNaksSent = %d, want 2", got)
	}

	// Now a receive is posted; the next retry lands.
	buf := make([]byte, 8192)
	if err := y.qp.PostRecv(&RecvWR{WRID: 2, SGL: [][]byte{buf}}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(RNRTimeout(rnrCode))
	f.lb.Flush()
	equalBytes(t, "message", buf, msg)
	if diff := diff([]WC{{WRID: 2, Status: WCSuccess, Opcode: WCRecv, ByteLen: 8192, QPNum: y.qp.Num(), SrcQP: x.qp.Num(), SLID: lidA}}, poll(y, y.rcq)); diff != "" {
		t.Errorf("recv CQ (-want +got):\n%s", diff)
	}
	if diff := diff([]WC{{WRID: 1, Status: WCSuccess, Opcode: WCSend, ByteLen: 8192, QPNum: x.qp.Num()}}, poll(x, x.scq)); diff != "" {
		t.Errorf("send CQ (-want +got):\n%s", diff)
	}
	if diff := diff(Stats{TxPackets: 6, RxPackets: 3, RNRRetries: 2}, f.a.Stats()); diff != "" {
		t.Errorf("requester stats (-want +got):\n%s", diff)
	}
	x.qp.mu.Lock()
	rnrLeft = x.qp.comp.rnrLeft
	x.qp.mu.Unlock()
	if rnrLeft != 3 || x.qp.State() != QPRTS {
		t.Errorf("after success: rnr left %d (want 3, reset by progress), state %v", rnrLeft, x.qp.State())
	}
}

func TestRCRNRRetryExhausted(t *testing.T) {
	f, x, y := rnrFixture(t, false, 2)
	for i := range 3 {
		if err := x.qp.PostSend(&SendWR{WRID: uint64(i + 1), SGL: [][]byte{make([]byte, 100)}}); err != nil {
			t.Fatal(err)
		}
	}
	// Initial attempt + 2 retries, each answered by an RNR NAK.
	for range 2 {
		f.clk.Advance(RNRTimeout(rnrCode))
	}
	q := x.qp.Num()
	want := []WC{
		{WRID: 1, Status: WCRNRRetryExcErr, Opcode: WCSend, QPNum: q},
		{WRID: 2, Status: WCWRFlushErr, Opcode: WCSend, QPNum: q},
		{WRID: 3, Status: WCWRFlushErr, Opcode: WCSend, QPNum: q},
	}
	if diff := diff(want, poll(x, x.scq)); diff != "" {
		t.Errorf("send CQ (-want +got):\n%s", diff)
	}
	if got := x.qp.State(); got != QPError {
		t.Errorf("state = %v, want ERR", got)
	}
	if got := f.b.Stats().RNRNaksSent; got != 3 {
		t.Errorf("RNRNaksSent = %d, want 3", got)
	}
	if got := f.a.Stats().RNRRetries; got != 2 {
		t.Errorf("RNRRetries = %d, want 2", got)
	}
	if got := y.qp.State(); got != QPRTS {
		t.Errorf("responder state = %v, want RTS", got)
	}
	if got := f.clk.Pending(); got != 0 {
		t.Errorf("timers still armed: %d", got)
	}
}

func TestRCRNRRetryInfinite(t *testing.T) {
	f, x, y := rnrFixture(t, false, 7)
	if err := x.qp.PostSend(&SendWR{WRID: 1, SGL: [][]byte{make([]byte, 100)}}); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		f.clk.Advance(RNRTimeout(rnrCode))
	}
	if got := f.b.Stats().RNRNaksSent; got != 51 {
		t.Errorf("RNRNaksSent = %d, want 51", got)
	}
	if err := y.qp.PostRecv(&RecvWR{WRID: 2, SGL: [][]byte{make([]byte, 100)}}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(RNRTimeout(rnrCode))
	if got := poll(x, x.scq); len(got) != 1 || got[0].Status != WCSuccess || x.qp.State() != QPRTS {
		t.Errorf("send CQ = %+v, state %v", got, x.qp.State())
	}
}

func TestRCReceiveTooSmall(t *testing.T) {
	f := newFabric(t, fabricOpts{})
	x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true})
	y := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, x.qp, y.qp, MTU1024, 7)
	if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{make([]byte, 2000)}}); err != nil {
		t.Fatal(err)
	}
	if err := y.qp.PostRecv(&RecvWR{WRID: 2, SGL: [][]byte{make([]byte, 2000)}}); err != nil {
		t.Fatal(err)
	}
	if err := x.qp.PostSend(&SendWR{WRID: 7, SGL: [][]byte{make([]byte, 3000)}}); err != nil {
		t.Fatal(err)
	}
	wantRecv := []WC{
		{WRID: 1, Status: WCLocLenErr, Opcode: WCRecv, QPNum: y.qp.Num()},
		{WRID: 2, Status: WCWRFlushErr, Opcode: WCRecv, QPNum: y.qp.Num()},
	}
	if diff := diff(wantRecv, poll(y, y.rcq)); diff != "" {
		t.Errorf("recv CQ (-want +got):\n%s", diff)
	}
	if diff := diff([]WC{{WRID: 7, Status: WCRemInvReqErr, Opcode: WCSend, QPNum: x.qp.Num()}}, poll(x, x.scq)); diff != "" {
		t.Errorf("send CQ (-want +got):\n%s", diff)
	}
	if x.qp.State() != QPError || y.qp.State() != QPError {
		t.Errorf("states %v, %v; want ERR, ERR", x.qp.State(), y.qp.State())
	}
}

// A lost packet (the requester skips a PSN): the responder NAKs the
// sequence error once and drops what follows; the requester resends on
// the NAK and then on each ACK timeout, RetryCnt times in all, and the
// WQE completes with RETRY_EXC_ERR.
func TestRCSequenceError(t *testing.T) {
	f := newFabric(t, fabricOpts{})
	x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true})
	y := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, x.qp, y.qp, MTU4096, 7)
	x.qp.mu.Lock()
	x.qp.req.psn = (x.qp.req.psn + 1) & psnMask
	x.qp.mu.Unlock()
	if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{make([]byte, 100)}}); err != nil {
		t.Fatal(err)
	}
	if err := x.qp.PostSend(&SendWR{WRID: 3, SGL: [][]byte{make([]byte, 10)}}); err != nil {
		t.Fatal(err)
	}
	timeout := AckTimeout(14)
	for i := range 6 {
		if got := poll(x, x.scq); len(got) != 0 || x.qp.State() != QPRTS {
			t.Fatalf("after %d timeouts: %v, %v", i, got, x.qp.State())
		}
		f.clk.Advance(timeout)
	}
	if got := f.a.Stats().Retries; got != 7 {
		t.Errorf("retries = %d, want 7 (the NAK and 6 timeouts)", got)
	}
	f.clk.Advance(timeout)
	if d := diff([]WC{{WRID: 3, Status: WCRetryExcErr, Opcode: WCSend, QPNum: x.qp.Num()}}, poll(x, x.scq)); d != "" {
		t.Errorf("send CQ (-want +got):\n%s", d)
	}
	if x.qp.State() != QPError || y.qp.State() != QPRTS {
		t.Errorf("states %v, %v; want ERR, RTS", x.qp.State(), y.qp.State())
	}
	st := f.b.Stats()
	if st.DropSequence != 7 {
		t.Errorf("responder dropped %d resends, want 7", st.DropSequence)
	}
	if got := f.a.Stats().RetryExceeded; got != 1 {
		t.Errorf("RetryExceeded = %d", got)
	}
}

func TestSRQLimit(t *testing.T) {
	f := newFabric(t, fabricOpts{})
	srq, err := f.b.NewSRQ(8, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := newEnd(t, f.a, endOpts{typ: RC})
	y := newEnd(t, f.b, endOpts{typ: RC, srq: srq})
	rcConnect(t, x.qp, y.qp, MTU4096, 7)
	for i := range 4 {
		if err := srq.PostRecv(&RecvWR{WRID: uint64(i), SGL: [][]byte{make([]byte, 64)}}); err != nil {
			t.Fatal(err)
		}
	}
	events := 0
	srq.ArmLimit(2, func() { events++ })
	for i := range 3 {
		if err := x.qp.PostSend(&SendWR{SGL: [][]byte{make([]byte, 8)}}); err != nil {
			t.Fatal(err)
		}
		want := []int{0, 0, 1}[i]
		if events != want {
			t.Errorf("after %d receives: %d limit events, want %d", i+1, events, want)
		}
	}
	if got := srq.Len(); got != 1 {
		t.Errorf("SRQ holds %d, want 1", got)
	}
}

// An RC responder executes requests from RTR on (rxe_recv.c
// check_type_state: the responder is ready once the QP is in RTR), so a
// peer that is not yet in RTS receives and acknowledges; before RTR the
// request is dropped and counted.
func TestRCResponderStates(t *testing.T) {
	tests := []struct {
		name      string
		state     QPState // the responder's
		delivered bool
		want      Stats // the responder's
	}{
		{"INIT", QPInit, false, Stats{RxPackets: 1, DropQPState: 1}},
		{"RTR", QPRTR, true, Stats{TxPackets: 1, RxPackets: 1}},
		{"RTS", QPRTS, true, Stats{TxPackets: 1, RxPackets: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, fabricOpts{})
			x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true})
			y := newEnd(t, f.b, endOpts{typ: RC})
			mustModify(t, x.qp, QPAttr{State: QPInit, Port: 1}, AttrState|AttrPKeyIndex|AttrPort)
			mustModify(t, x.qp, QPAttr{State: QPRTR, DLID: lidB, PathMTU: MTU4096, DestQPN: y.qp.Num(), RQPSN: 0, MinRNRTimer: rnrCode}, rcRTRMask)
			mustModify(t, x.qp, QPAttr{State: QPRTS, SQPSN: 100, Timeout: 14, RetryCnt: 7, RNRRetry: 7}, rcRTSMask)
			mustModify(t, y.qp, QPAttr{State: QPInit, Port: 1}, AttrState|AttrPKeyIndex|AttrPort)
			if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{make([]byte, 64)}}); err != nil {
				t.Fatal(err)
			}
			if tt.state != QPInit {
				mustModify(t, y.qp, QPAttr{State: QPRTR, DLID: lidA, PathMTU: MTU4096, DestQPN: x.qp.Num(), RQPSN: 100, MinRNRTimer: rnrCode}, rcRTRMask)
			}
			if tt.state == QPRTS {
				mustModify(t, y.qp, QPAttr{State: QPRTS, SQPSN: 0, Timeout: 14, RetryCnt: 7, RNRRetry: 7}, rcRTSMask)
			}
			if err := x.qp.PostSend(&SendWR{WRID: 2, SGL: [][]byte{make([]byte, 10)}}); err != nil {
				t.Fatal(err)
			}
			var wantRecv, wantSend []WC
			if tt.delivered {
				wantRecv = []WC{{WRID: 1, Status: WCSuccess, Opcode: WCRecv, ByteLen: 10, QPNum: y.qp.Num(), SrcQP: x.qp.Num(), SLID: lidA}}
				wantSend = []WC{{WRID: 2, Status: WCSuccess, Opcode: WCSend, ByteLen: 10, QPNum: x.qp.Num()}}
			}
			if d := diff(wantRecv, poll(y, y.rcq)); d != "" {
				t.Errorf("recv CQ (-want +got):\n%s", d)
			}
			if d := diff(wantSend, poll(x, x.scq)); d != "" {
				t.Errorf("send CQ (-want +got):\n%s", d)
			}
			if d := diff(tt.want, f.b.Stats()); d != "" {
				t.Errorf("responder stats (-want +got):\n%s", d)
			}
			if got := y.qp.State(); got != tt.state {
				t.Errorf("responder state %v, want %v", got, tt.state)
			}
		})
	}
}
