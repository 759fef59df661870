package verbs

import "testing"

// A lost request or a lost ACK is recovered by the ACK timeout: the
// requester resends, the responder executes a message once and
// acknowledges a duplicate, and the WQE completes successfully.
func TestRCRetryAfterLoss(t *testing.T) {
	tests := []struct {
		name string
		lose Opcode // the first packet with this opcode is lost
		dups uint64 // duplicates the responder saw
	}{
		{"request lost", OpRCSendFirst, 0},
		{"ACK lost", OpRCAck, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, w := tapFabric(t)
			x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true})
			y := newEnd(t, f.b, endOpts{typ: RC})
			rcConnect(t, x.qp, y.qp, MTU4096, 7)
			buf := make([]byte, 8192)
			if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{buf}}); err != nil {
				t.Fatal(err)
			}
			var acks []uint32 // PSNs of the ACKs on the wire
			w.before = func(p *Packet) {
				if p.Opcode == OpRCAck {
					acks = append(acks, p.PSN)
				}
			}
			lost := false
			w.lose = func(p *Packet) bool {
				if !lost && p.Opcode == tt.lose {
					lost = true
					return true
				}
				return false
			}
			msg := pattern(8192, 6) // a two-packet train
			if err := x.qp.PostSend(&SendWR{WRID: 9, SGL: [][]byte{msg}}); err != nil {
				t.Fatal(err)
			}
			if got := poll(x, x.scq); len(got) != 0 {
				t.Fatalf("completed before the timeout: %v", got)
			}
			if got := f.a.Unacked(); got != 1 {
				t.Errorf("before the timeout: Unacked() = %d, want 1", got)
			}
			f.clk.Advance(AckTimeout(14))
			if got := f.a.Unacked(); got != 0 {
				t.Errorf("after the resend: Unacked() = %d, want 0", got)
			}
			if d := diff([]WC{{WRID: 9, Status: WCSuccess, Opcode: WCSend, ByteLen: 8192, QPNum: x.qp.Num()}}, poll(x, x.scq)); d != "" {
				t.Errorf("send CQ (-want +got):\n%s", d)
			}
			if d := diff([]WC{{WRID: 1, Status: WCSuccess, Opcode: WCRecv, ByteLen: 8192, QPNum: y.qp.Num(), SrcQP: x.qp.Num(), SLID: lidA}}, poll(y, y.rcq)); d != "" {
				t.Errorf("recv CQ, once (-want +got):\n%s", d)
			}
			equalBytes(t, "message", buf, msg)
			if got := f.a.Stats().Retries; got != 1 {
				t.Errorf("retries = %d, want 1", got)
			}
			if got := f.b.Stats().DropSequence; got != tt.dups {
				t.Errorf("duplicates = %d, want %d", got, tt.dups)
			}
			// Each ACK, the duplicate's too (rxe_resp.c
			// duplicate_request), carries the message's last PSN.
			last := (psnOf(x.qp) + 1) & psnMask
			wantAcks := []uint32{last}
			if tt.dups > 0 {
				wantAcks = append(wantAcks, last)
			}
			if d := diff(wantAcks, acks); d != "" {
				t.Errorf("ACK PSNs (-want +got):\n%s", d)
			}
			// Nothing is left to time out.
			f.clk.Advance(AckTimeout(14) * 10)
			if got := f.a.Stats().Retries; got != 1 || x.qp.State() != QPRTS {
				t.Errorf("after more time: retries %d, state %v", got, x.qp.State())
			}
		})
	}
}

// A peer QP that is gone answers nothing: RetryCnt resends, then
// RETRY_EXC_ERR, which is how an IPoIB sender learns of it.
func TestRCRetryExceededWhenPeerGone(t *testing.T) {
	f, _ := tapFabric(t)
	x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true})
	y := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, x.qp, y.qp, MTU4096, 7)
	y.qp.Destroy()
	if err := x.qp.PostSend(&SendWR{WRID: 5, SGL: [][]byte{make([]byte, 100)}}); err != nil {
		t.Fatal(err)
	}
	if err := x.qp.PostSend(&SendWR{WRID: 6, SGL: [][]byte{make([]byte, 100)}}); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		f.clk.Advance(AckTimeout(14))
	}
	want := []WC{
		{WRID: 5, Status: WCRetryExcErr, Opcode: WCSend, QPNum: x.qp.Num()},
		{WRID: 6, Status: WCWRFlushErr, Opcode: WCSend, QPNum: x.qp.Num()},
	}
	if d := diff(want, poll(x, x.scq)); d != "" {
		t.Errorf("send CQ (-want +got):\n%s", d)
	}
	if s := f.a.Stats(); s.Retries != 7 || s.RetryExceeded != 1 || x.qp.State() != QPError {
		t.Errorf("retries %d, exceeded %d, state %v", s.Retries, s.RetryExceeded, x.qp.State())
	}
}

func TestAckTimeout(t *testing.T) {
	for code, want := range map[uint8]string{0: "0s", 1: "8.192µs", 14: "67.108864ms", 31: "2h26m36.093022208s", 32: "0s"} {
		if got := AckTimeout(code).String(); got != want {
			t.Errorf("AckTimeout(%d) = %s, want %s", code, got, want)
		}
	}
}

// An acknowledgement for a PSN beyond a message's last one acknowledges
// that message too (IBA 9.7.5.1; rxe_comp.c check_psn): an ACK completes
// every message up to it, and an RNR NAK those before the message it
// refuses, so a lost ACK costs no resend when a later one arrives.
func TestRCLaterAckCoversEarlierMessages(t *testing.T) {
	tests := []struct {
		name  string
		recvs int      // receive WRs posted at the responder
		wrids []uint64 // send completions after both posts, all successful
	}{
		{"ACK", 2, []uint64{1, 2}},
		{"RNR NAK", 1, []uint64{1}},
	}
	sizes := []int{100, 200}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, w := tapFabric(t)
			x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true})
			y := newEnd(t, f.b, endOpts{typ: RC})
			rcConnect(t, x.qp, y.qp, MTU4096, 7)
			for i := range tt.recvs {
				if err := y.qp.PostRecv(&RecvWR{WRID: uint64(10 + i), SGL: [][]byte{make([]byte, 256)}}); err != nil {
					t.Fatal(err)
				}
			}
			lost := false
			w.lose = func(p *Packet) bool {
				if !lost && p.Opcode == OpRCAck {
					lost = true
					return true
				}
				return false
			}
			for i, n := range sizes {
				if err := x.qp.PostSend(&SendWR{WRID: uint64(1 + i), SGL: [][]byte{make([]byte, n)}}); err != nil {
					t.Fatal(err)
				}
			}
			var want []WC
			for _, id := range tt.wrids {
				want = append(want, WC{WRID: id, Status: WCSuccess, Opcode: WCSend, ByteLen: uint32(sizes[id-1]), QPNum: x.qp.Num()})
			}
			if d := diff(want, poll(x, x.scq)); d != "" {
				t.Errorf("send CQ (-want +got):\n%s", d)
			}
			x.qp.mu.Lock()
			rnrWait, outstanding := x.qp.req.rnrWait, x.qp.sq.count()
			x.qp.mu.Unlock()
			if wantOut := uint32(len(sizes) - len(tt.wrids)); rnrWait != (wantOut > 0) || outstanding != wantOut {
				t.Errorf("RNR wait %v with %d send WQEs outstanding, want %v with %d", rnrWait, outstanding, wantOut > 0, wantOut)
			}
			if d := diff(Stats{TxPackets: 2, RxPackets: 1}, f.a.Stats()); d != "" {
				t.Errorf("requester stats (-want +got):\n%s", d)
			}
			if x.qp.State() != QPRTS {
				t.Errorf("state %v, want RTS", x.qp.State())
			}
		})
	}
}

// RNRTimeout follows IBA table 45 (the RNR timer field of the AETH and
// of ib_qp_attr.min_rnr_timer): code 0 is the longest, 655.36 ms, codes
// 1 to 31 run from 0.01 ms to 491.52 ms; only the low 5 bits count.
func TestRNRTimeout(t *testing.T) {
	for code, want := range map[uint8]string{0: "655.36ms", 1: "10µs", 2: "20µs", 14: "1.28ms", 18: "5.12ms", 31: "491.52ms", 32: "655.36ms", 33: "10µs"} {
		if got := RNRTimeout(code).String(); got != want {
			t.Errorf("RNRTimeout(%d) = %s, want %s", code, got, want)
		}
	}
}

// A message sent packet by packet (two SGEs: no train) that loses its
// MIDDLE packet: the LAST is out of sequence and NAKed with the PSN the
// responder expects, which is inside the message, so the message is not
// acknowledged (rxe_comp.c check_psn against wqe->last_psn): the
// requester resends it from its first PSN, the responder drops the
// duplicate FIRST and takes the rest, and it completes once.
func TestRCLostMiddlePacket(t *testing.T) {
	f, w := tapFabric(t)
	x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true})
	y := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, x.qp, y.qp, MTU4096, 7)
	buf := make([]byte, 3*4096)
	if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{buf}}); err != nil {
		t.Fatal(err)
	}
	first := psnOf(x.qp)
	type seen struct {
		op  Opcode
		psn uint32
	}
	var wire []seen
	w.before = func(p *Packet) { wire = append(wire, seen{p.Opcode, p.PSN}) }
	lost := false
	w.lose = func(p *Packet) bool {
		if !lost && p.Opcode == OpRCSendMiddle {
			lost = true
			return true
		}
		return false
	}
	msg := pattern(3*4096, 8)
	if err := x.qp.PostSend(&SendWR{WRID: 4, SGL: [][]byte{msg[:5000], msg[5000:]}}); err != nil {
		t.Fatal(err)
	}
	psn := func(i uint32) uint32 { return (first + i) & psnMask }
	wantWire := []seen{
		{OpRCSendFirst, psn(0)}, {OpRCSendMiddle, psn(1)}, {OpRCSendLast, psn(2)},
		{OpRCNak, psn(1)},
		{OpRCSendFirst, psn(0)}, {OpRCSendMiddle, psn(1)}, {OpRCSendLast, psn(2)},
		{OpRCAck, psn(2)},
	}
	if d := diff(wantWire, wire); d != "" {
		t.Errorf("wire (-want +got):\n%s", d)
	}
	equalBytes(t, "message", buf, msg)
	if d := diff([]WC{{WRID: 1, Status: WCSuccess, Opcode: WCRecv, ByteLen: 3 * 4096, QPNum: y.qp.Num(), SrcQP: x.qp.Num(), SLID: lidA}}, poll(y, y.rcq)); d != "" {
		t.Errorf("recv CQ (-want +got):\n%s", d)
	}
	if d := diff([]WC{{WRID: 4, Status: WCSuccess, Opcode: WCSend, ByteLen: 3 * 4096, QPNum: x.qp.Num()}}, poll(x, x.scq)); d != "" {
		t.Errorf("send CQ (-want +got):\n%s", d)
	}
	if d := diff(Stats{TxPackets: 6, RxPackets: 2, Retries: 1}, f.a.Stats()); d != "" {
		t.Errorf("requester stats (-want +got):\n%s", d)
	}
	if d := diff(Stats{TxPackets: 2, RxPackets: 5, DropSequence: 1}, f.b.Stats()); d != "" {
		t.Errorf("responder stats (-want +got):\n%s", d)
	}
}
