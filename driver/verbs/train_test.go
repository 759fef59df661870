package verbs

import (
	"errors"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tapWire is a synchronous wire that lets a test look at each packet, and
// act, before the Loopback delivers it.
type tapWire struct {
	lb     *Loopback
	before func(p *Packet)
	lose   func(p *Packet) bool // drops the packets it returns true for
}

func (w *tapWire) Transmit(p *Packet) {
	if w.before != nil {
		w.before(p)
	}
	if w.lose != nil && w.lose(p) {
		p.Release()
		return
	}
	w.lb.Transmit(p)
}

func (w *tapWire) Synchronous() bool { return true }

// tapFabric is newFabric with a tapWire in front of a synchronous
// Loopback.
func tapFabric(t *testing.T) (*fabric, *tapWire) {
	t.Helper()
	f := newFabric(t, fabricOpts{})
	w := &tapWire{lb: f.lb}
	for _, d := range []*Device{f.a, f.b} {
		d.opts.Wire = w
	}
	return f, w
}

// seenPacket is what a test notes of a packet on the wire.
type seenPacket struct {
	packets      int
	opcode, last Opcode
	psn          uint32
	ackReq       bool
}

// aliases reports whether a lies inside b's memory.
func aliases(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return pa >= pb && pa < pb+uintptr(len(b))
}

func TestRCTrainShape(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		imm       bool
		segments  int
		opcode    Opcode
		last      Opcode
		nextPSNBy uint32
	}{
		{"empty", 0, false, 1, OpRCSendOnly, OpRCSendOnly, 1},
		{"one packet", 4096, false, 1, OpRCSendOnly, OpRCSendOnly, 1},
		{"one packet with immediate", 100, true, 1, OpRCSendOnlyImm, OpRCSendOnlyImm, 1},
		{"two packets", 4097, false, 2, OpRCSendFirst, OpRCSendLast, 2},
		{"64 KiB with immediate", 64 << 10, true, 16, OpRCSendFirst, OpRCSendLastImm, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, w := tapFabric(t)
			x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true})
			y := newEnd(t, f.b, endOpts{typ: RC})
			rcConnect(t, x.qp, y.qp, MTU4096, 7)
			buf := make([]byte, 64<<10)
			if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{buf}}); err != nil {
				t.Fatal(err)
			}
			msg := pattern(tt.size, 3)
			var seen []seenPacket
			w.before = func(p *Packet) {
				if p.Opcode.isRequest() && !aliases(p.Payload, msg) && len(msg) > 0 {
					t.Errorf("train payload is a copy, not the send buffer")
				}
				seen = append(seen, seenPacket{p.Packets(), p.Opcode, p.last(), p.PSN, p.AckReq})
			}
			wr := &SendWR{WRID: 9, SGL: [][]byte{msg}}
			if tt.imm {
				wr.Opcode, wr.Imm = WRSendWithImm, 77
			}
			first := psnOf(x.qp)
			if err := x.qp.PostSend(wr); err != nil {
				t.Fatal(err)
			}
			if len(seen) != 2 {
				t.Fatalf("wire saw %d packets, want the train and its ACK", len(seen))
			}
			tr, ack := seen[0], seen[1]
			if want := (seenPacket{tt.segments, tt.opcode, tt.last, first, true}); tr != want {
				t.Errorf("train: %+v, want %+v", tr, want)
			}
			if want := (seenPacket{1, OpRCAck, OpRCAck, (first + tt.nextPSNBy - 1) & psnMask, false}); ack != want {
				t.Errorf("ack: %+v, want %+v (the train's last PSN)", ack, want)
			}
			equalBytes(t, "message", buf[:tt.size], msg)
			want := []WC{{WRID: 1, Status: WCSuccess, Opcode: WCRecv, ByteLen: uint32(tt.size), QPNum: y.qp.Num(), SrcQP: x.qp.Num(), SLID: lidA, WithImm: tt.imm}}
			if tt.imm {
				want[0].Imm = 77
			}
			if d := diff(want, poll(y, y.rcq)); d != "" {
				t.Errorf("recv CQ (-want +got):\n%s", d)
			}
			if d := diff([]WC{{WRID: 9, Status: WCSuccess, Opcode: WCSend, ByteLen: uint32(tt.size), QPNum: x.qp.Num()}}, poll(x, x.scq)); d != "" {
				t.Errorf("send CQ (-want +got):\n%s", d)
			}
			n := uint64(tt.segments)
			if d := diff(Stats{TxPackets: n, RxPackets: 1}, f.a.Stats()); d != "" {
				t.Errorf("requester stats (-want +got):\n%s", d)
			}
			if d := diff(Stats{TxPackets: 1, RxPackets: n}, f.b.Stats()); d != "" {
				t.Errorf("responder stats (-want +got):\n%s", d)
			}
			x.qp.mu.Lock()
			psn := x.qp.req.psn
			x.qp.mu.Unlock()
			y.qp.mu.Lock()
			epsn := y.qp.resp.epsn
			y.qp.mu.Unlock()
			if want := (first + tt.nextPSNBy) & psnMask; psn != want || epsn != want {
				t.Errorf("requester PSN %#x, responder ePSN %#x, want %#x", psn, epsn, want)
			}
		})
	}
}

// A train that meets no receive WQE is RNR NAKed at its first PSN and
// counted as the packet-by-packet exchange would be: its other packets
// are sequence drops. The retry delivers it once.
func TestRCTrainRNR(t *testing.T) {
	f, x, y := rnrFixture(t, false, 3)
	msg := pattern(8192, 4)
	if err := x.qp.PostSend(&SendWR{WRID: 1, SGL: [][]byte{msg}}); err != nil {
		t.Fatal(err)
	}
	// As TestRCRNRRetrySucceeds sees it packet by packet.
	if d := diff(Stats{TxPackets: 1, RxPackets: 2, DropSequence: 1, RNRNaksSent: 1}, f.b.Stats()); d != "" {
		t.Errorf("responder stats (-want +got):\n%s", d)
	}
	buf := make([]byte, 8192)
	if err := y.qp.PostRecv(&RecvWR{WRID: 2, SGL: [][]byte{buf}}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(RNRTimeout(rnrCode))
	equalBytes(t, "message", buf, msg)
	if d := diff([]WC{{WRID: 2, Status: WCSuccess, Opcode: WCRecv, ByteLen: 8192, QPNum: y.qp.Num(), SrcQP: x.qp.Num(), SLID: lidA}}, poll(y, y.rcq)); d != "" {
		t.Errorf("recv CQ (-want +got):\n%s", d)
	}
	if d := diff([]WC{{WRID: 1, Status: WCSuccess, Opcode: WCSend, ByteLen: 8192, QPNum: x.qp.Num()}}, poll(x, x.scq)); d != "" {
		t.Errorf("send CQ (-want +got):\n%s", d)
	}
	if d := diff(Stats{TxPackets: 4, RxPackets: 2, RNRRetries: 1}, f.a.Stats()); d != "" {
		t.Errorf("requester stats (-want +got):\n%s", d)
	}
}

// While a train lends its send buffer to the wire, the QP entering Error
// must not hand any send WQE back: the flush completions come once the
// train is delivered, in order, including WRs posted meanwhile; a WR that
// finds the send queue full gets ENOMEM.
func TestRCTrainErrorWhileLending(t *testing.T) {
	f, w := tapFabric(t)
	x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true, maxSend: 4})
	y := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, x.qp, y.qp, MTU4096, 7)
	buf := make([]byte, 8192)
	if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{buf}}); err != nil {
		t.Fatal(err)
	}
	msg := pattern(8192, 5)
	var during []WC
	var posted []uint64
	var postErr error
	w.before = func(p *Packet) {
		if !p.Opcode.isRequest() {
			return
		}
		w.before = nil
		mustModify(t, x.qp, QPAttr{State: QPError}, AttrState)
		for id := uint64(8); postErr == nil; id++ {
			if postErr = x.qp.PostSend(&SendWR{WRID: id, SGL: [][]byte{msg}}); postErr == nil {
				posted = append(posted, id)
			}
		}
		during = poll(x, x.scq)
	}
	if err := x.qp.PostSend(&SendWR{WRID: 7, SGL: [][]byte{msg}}); err != nil {
		t.Fatal(err)
	}
	if len(posted) == 0 || !errors.Is(postErr, unix.ENOMEM) {
		t.Fatalf("PostSend in Error while lending: %d posted, then %v; want some, then ENOMEM", len(posted), postErr)
	}
	if len(during) != 0 {
		t.Errorf("send CQ had %v while the train was on the wire, want nothing", during)
	}
	want := []WC{{WRID: 7, Status: WCWRFlushErr, Opcode: WCSend, QPNum: x.qp.Num()}}
	for _, id := range posted {
		want = append(want, WC{WRID: id, Status: WCWRFlushErr, Opcode: WCSend, QPNum: x.qp.Num()})
	}
	if d := diff(want, poll(x, x.scq)); d != "" {
		t.Errorf("send CQ (-want +got):\n%s", d)
	}
}

// Destroy waits for a lent train to be delivered before it returns.
func TestRCTrainDestroyWaits(t *testing.T) {
	f, w := tapFabric(t)
	x := newEnd(t, f.a, endOpts{typ: RC})
	y := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, x.qp, y.qp, MTU4096, 7)
	if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{make([]byte, 100)}}); err != nil {
		t.Fatal(err)
	}
	onWire, release, destroyed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var delivered bool
	w.before = func(p *Packet) {
		if !p.Opcode.isRequest() {
			return
		}
		close(onWire)
		<-release
		delivered = true
	}
	go func() {
		<-onWire
		go func() {
			x.qp.Destroy()
			close(destroyed)
		}()
		// A Destroy that did not wait would return long before this.
		select {
		case <-destroyed:
			t.Error("Destroy returned while the train was on the wire")
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
	}()
	if err := x.qp.PostSend(&SendWR{WRID: 7, SGL: [][]byte{pattern(100, 1)}}); err != nil {
		t.Fatal(err)
	}
	<-destroyed
	if !delivered {
		t.Error("Destroy returned before the train was delivered")
	}
}

// Only a train lends the send buffer: a message sent packet by packet (two
// SGEs) is copied into its packets, so the QP entering Error while one is
// on the wire flushes its send queue at once.
func TestRCPacketErrorWhileOnWire(t *testing.T) {
	f, w := tapFabric(t)
	x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true})
	y := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, x.qp, y.qp, MTU4096, 7)
	if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{make([]byte, 8192)}}); err != nil {
		t.Fatal(err)
	}
	var during []WC
	var segments []int
	w.before = func(p *Packet) {
		if !p.Opcode.isRequest() {
			return
		}
		segments = append(segments, p.Segments)
		if len(segments) == 1 {
			mustModify(t, x.qp, QPAttr{State: QPError}, AttrState)
			during = poll(x, x.scq)
		}
	}
	msg := pattern(8192, 2)
	if err := x.qp.PostSend(&SendWR{WRID: 7, SGL: [][]byte{msg[:100], msg[100:]}}); err != nil {
		t.Fatal(err)
	}
	if d := diff([]WC{{WRID: 7, Status: WCWRFlushErr, Opcode: WCSend, QPNum: x.qp.Num()}}, during); d != "" {
		t.Errorf("send CQ while the packet was on the wire (-want +got):\n%s", d)
	}
	if d := diff([]int{0}, segments); d != "" {
		t.Errorf("requests sent, by segments (-want +got):\n%s", d)
	}
	if got := poll(x, x.scq); len(got) != 0 {
		t.Errorf("send CQ after: %v, want nothing more", got)
	}
}

// A receive completion carries immediate data only for a SEND with
// immediate (rxe_resp.c do_complete: the CQE is zeroed and imm_data set
// only for a packet with an ImmDt): a SEND's WR.Imm goes nowhere, whether
// the message goes packet by packet or as a train of one or more packets.
func TestRCImmOnlyWithImmediate(t *testing.T) {
	tests := []struct {
		name string
		size int
		sges int // 1: a train on this synchronous wire
		op   WROpcode
	}{
		{"train of one, SEND", 100, 1, WRSend},
		{"train of two, SEND", 8192, 1, WRSend},
		{"packets, SEND", 8192, 2, WRSend},
		{"train of one, SEND with immediate", 100, 1, WRSendWithImm},
		{"train of two, SEND with immediate", 8192, 1, WRSendWithImm},
		{"packets, SEND with immediate", 8192, 2, WRSendWithImm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, fabricOpts{})
			x := newEnd(t, f.a, endOpts{typ: RC})
			y := newEnd(t, f.b, endOpts{typ: RC})
			rcConnect(t, x.qp, y.qp, MTU4096, 7)
			if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{make([]byte, 8192)}}); err != nil {
				t.Fatal(err)
			}
			msg := pattern(tt.size, 1)
			sgl := [][]byte{msg}
			if tt.sges == 2 {
				sgl = [][]byte{msg[:10], msg[10:]}
			}
			if err := x.qp.PostSend(&SendWR{WRID: 2, Opcode: tt.op, Imm: 77, SGL: sgl}); err != nil {
				t.Fatal(err)
			}
			want := WC{WRID: 1, Status: WCSuccess, Opcode: WCRecv, ByteLen: uint32(tt.size), QPNum: y.qp.Num(), SrcQP: x.qp.Num(), SLID: lidA}
			if tt.op == WRSendWithImm {
				want.WithImm, want.Imm = true, 77
			}
			if d := diff([]WC{want}, poll(y, y.rcq)); d != "" {
				t.Errorf("recv CQ (-want +got):\n%s", d)
			}
		})
	}
}
