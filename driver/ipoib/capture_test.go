package ipoib

import (
	"fmt"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

// frameRec is what a test tap keeps of a frame.
type frameRec struct {
	pktType  uint8
	src, dst header.HWAddr
	rc       bool
	drop     string
	n        int
}

// recordingTap records frames; they come from the pollers' goroutines.
func recordingTap() (*Tap, chan frameRec) {
	ch := make(chan frameRec, 64)
	return NewTap(func(f *Frame) {
		ch <- frameRec{f.PktType, f.Src, f.Dst, f.RC, f.Drop, len(f.Data)}
	}), ch
}

// next returns the next frame the tap saw, failing after a bound.
func next(t *testing.T, ch chan frameRec) frameRec {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no frame")
		return frameRec{}
	}
}

func TestTapBothDirectionsAndDrops(t *testing.T) {
	tp := newTestPair(t, false)
	tap0, ch0 := recordingTap()
	tap1, ch1 := recordingTap()
	tp.n0.ep.AddTap(tap0)
	tp.n1.ep.AddTap(tap1)
	// as node1 sees node0: the flags are not on the wire, the GID only
	// in a GRH (multicast)
	src0 := header.NewHWAddr(0, tp.n0.hw.QPN(), tp.n0.hw.GID())
	src0QPN := header.NewHWAddr(0, tp.n0.hw.QPN(), [16]byte{})
	pkt := udpPacket(100)
	nowhere := header.NewHWAddr(0x80, 0x99, [16]byte{0xfe, 0x80, 15: 0x77})
	tests := []struct {
		name string
		send func() error
		tap0 *frameRec // what node0's tap sees, nil for nothing
		tap1 *frameRec
	}{
		{"unicast", func() error { return tp.n0.ep.WritePacket(pkt, tp.n1.hw) },
			&frameRec{PacketOutgoing, tp.n0.hw, tp.n1.hw, false, "", len(pkt)},
			&frameRec{PacketHost, src0QPN, tp.n1.hw, false, "", len(pkt)}},
		{"broadcast", func() error { return tp.n0.ep.WritePacket(pkt, tp.n0.ep.Broadcast()) },
			&frameRec{PacketOutgoing, tp.n0.hw, tp.n0.ep.Broadcast(), false, "", len(pkt)},
			&frameRec{PacketBroadcast, src0, tp.n1.ep.Broadcast(), false, "", len(pkt)}},
		{"too big", func() error { return tp.n0.ep.WritePacket(udpPacket(3000), tp.n1.hw) },
			&frameRec{PacketOutgoing, tp.n0.hw, tp.n1.hw, false, DropPktTooBig, len(udpPacket(3000))}, nil},
		{"no path", func() error { return tp.n0.ep.WritePacket(pkt, nowhere) },
			&frameRec{PacketOutgoing, tp.n0.hw, nowhere, false, DropNeighFailed, len(pkt)}, nil},
		{"nobody above", func() error {
			tp.n1.ep.Attach(nil) // until the tap saw the packet (below)
			return tp.n0.ep.WritePacket(pkt, tp.n1.hw)
		},
			&frameRec{PacketOutgoing, tp.n0.hw, tp.n1.hw, false, "", len(pkt)},
			&frameRec{PacketHost, src0QPN, tp.n1.hw, false, DropDevReady, len(pkt)}},
	}
	for _, tt := range tests {
		_ = tt.send()
		if tt.tap0 != nil {
			if got := next(t, ch0); got != *tt.tap0 {
				t.Errorf("%s: node0 saw %+v, want %+v", tt.name, got, *tt.tap0)
			}
		}
		if tt.tap1 != nil {
			if got := next(t, ch1); got != *tt.tap1 {
				t.Errorf("%s: node1 saw %+v, want %+v", tt.name, got, *tt.tap1)
			}
		}
	}
	tp.n1.ep.Attach(tp.n1.rx)
	// Removed, a tap sees nothing more; the other goes on.
	tp.n0.ep.RemoveTap(tap0)
	if err := tp.n0.ep.WritePacket(pkt, tp.n1.hw); err != nil {
		t.Fatal(err)
	}
	if got := next(t, ch1); got.drop != "" || got.pktType != PacketHost {
		t.Errorf("node1 saw %+v", got)
	}
	if len(ch0) != 0 {
		t.Errorf("a removed tap saw %d frames", len(ch0))
	}
}

func TestTapConnected(t *testing.T) {
	tp := newTestPair(t, true)
	tap0, ch0 := recordingTap()
	tap1, ch1 := recordingTap()
	tp.n0.ep.AddTap(tap0)
	tp.n1.ep.AddTap(tap1)
	tp.connect()
	pkt := udpPacket(100)
	if got, want := next(t, ch0), (frameRec{PacketOutgoing, tp.n0.hw, tp.n1.hw, true, "", len(pkt)}); got != want {
		t.Errorf("node0 saw %+v, want %+v", got, want)
	}
	if got, want := next(t, ch1), (frameRec{PacketHost, header.HWAddr{}, tp.n1.hw, true, "", len(pkt)}); got != want {
		t.Errorf("node1 saw %+v, want %+v", got, want)
	}
}

func TestTapGoneWithEndpoint(t *testing.T) {
	tp := newTestPair(t, false)
	tap, _ := recordingTap()
	tp.n0.ep.AddTap(tap)
	select {
	case <-tap.Gone():
		t.Fatal("gone while the endpoint is open")
	default:
	}
	tp.n0.ep.closeTaps() // what Close does last; the test's cleanup closes the endpoint
	<-tap.Gone()
	late, _ := recordingTap()
	tp.n0.ep.AddTap(late)
	<-late.Gone() // added to a closed endpoint: gone at once
	if tp.n0.ep.taps.Load() != nil {
		t.Error("a closed endpoint keeps taps")
	}
}

// TestWirePackets checks how verbs packets become IB packets: a train
// splits at the path MTU with consecutive PSNs, the acknowledge request
// and immediate data on its last packet; NAKs carry their AETH syndrome.
func TestWirePackets(t *testing.T) {
	payload := make([]byte, 2*1024+10)
	train := &verbs.Packet{SLID: 1, DLID: 3, PKey: 0xffff, DestQPN: 0x49, PSN: 0xfffffe, Opcode: verbs.OpRCSendFirst,
		LastOpcode: verbs.OpRCSendLastImm, Segments: 3, AckReq: true, Imm: 7, Payload: payload}
	type pk struct {
		op     uint8
		psn    uint32
		n      int
		ack    bool
		imm    uint32
		syndr  uint8
		qkey   uint32
		srcQPN uint32
	}
	tests := []struct {
		name string
		p    *verbs.Packet
		want []pk
	}{
		{"train", train, []pk{{header.OpRCSendFirst, 0xfffffe, 1024, false, 0, 0, 0, 0},
			{header.OpRCSendMiddle, 0xffffff, 1024, false, 0, 0, 0, 0},
			{header.OpRCSendLastImm, 0, 10, true, 7, 0, 0, 0}}},
		{"train of full packets", &verbs.Packet{PSN: 9, Opcode: verbs.OpRCSendFirst, LastOpcode: verbs.OpRCSendLast,
			Segments: 2, AckReq: true, Payload: payload[:2048]},
			[]pk{{header.OpRCSendFirst, 9, 1024, false, 0, 0, 0, 0}, {header.OpRCSendLast, 10, 1024, true, 0, 0, 0, 0}}},
		{"ud", &verbs.Packet{Opcode: verbs.OpUDSendOnly, QKey: 0xb1b, SrcQPN: 0x48, PSN: 3, Payload: payload[:100]},
			[]pk{{header.OpUDSendOnly, 3, 100, false, 0, 0, 0xb1b, 0x48}}},
		{"rc only", &verbs.Packet{Opcode: verbs.OpRCSendOnly, PSN: 4, AckReq: true, Payload: payload[:100]},
			[]pk{{header.OpRCSendOnly, 4, 100, true, 0, 0, 0, 0}}},
		{"ack", &verbs.Packet{Opcode: verbs.OpRCAck, PSN: 5}, []pk{{header.OpRCAck, 5, 0, false, 0, 0x1f, 0, 0}}},
		{"rnr nak", &verbs.Packet{Opcode: verbs.OpRCRNRNak, PSN: 6, Syndrome: 12}, []pk{{header.OpRCAck, 6, 0, false, 0, 0x2c, 0, 0}}},
		{"nak", &verbs.Packet{Opcode: verbs.OpRCNak, PSN: 7, Syndrome: 3}, []pk{{header.OpRCAck, 7, 0, false, 0, 0x63, 0, 0}}},
	}
	for _, tt := range tests {
		var got []pk
		for _, q := range wirePackets(tt.p) {
			got = append(got, pk{q.Opcode, q.PSN, len(q.Payload), q.AckReq, q.Imm, q.Syndrome, q.QKey, q.SrcQP})
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestWireTap checks the port's link tap: a UD packet leaves node0's
// port and arrives at node1's, encoded from the LRH to the VCRC, the
// frames naming the sending and the receiving QPN and GID, which the
// packet's LRH has not.
func TestWireTap(t *testing.T) {
	tp := newTestPair(t, false)
	got := make(chan []byte, 4)
	addrs := make(chan [2]header.HWAddr, 4)
	tap := NewTap(func(f *Frame) {
		got <- append([]byte{f.PktType}, f.Data...)
		addrs <- [2]header.HWAddr{f.Src, f.Dst}
	})
	tp.n0.port.AddWireTap(tap)
	tp.n1.port.AddWireTap(tap)
	pkt := udpPacket(100)
	if err := tp.n0.ep.WritePacket(pkt, tp.n1.hw); err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint8{PacketOutgoing, PacketHost} {
		b := <-got
		// LRH 8, BTH 12, DETH 8, payload, ICRC 4, VCRC 2
		if b[0] != want || len(b)-1 != 8+12+8+len(pkt)+4+2 || b[1+8] != header.OpUDSendOnly {
			t.Errorf("frame % x", b[:min(len(b), 40)])
		}
		a := <-addrs
		src, dst := header.NewHWAddr(0, tp.n0.hw.QPN(), tp.n0.hw.GID()), header.NewHWAddr(0, tp.n1.hw.QPN(), tp.n1.hw.GID())
		if a[0] != src || a[1] != dst {
			t.Errorf("frame from %s to %s, want %s to %s", a[0], a[1], src, dst)
		}
	}
	tp.n0.port.RemoveWireTap(tap)
	tp.n1.port.RemoveWireTap(tap)
	if err := tp.n0.ep.WritePacket(pkt, tp.n1.hw); err != nil {
		t.Fatal(err)
	}
	if tp.n1.waitRx(2) != 2 || len(got) != 0 {
		t.Errorf("removed taps saw %d frames", len(got))
	}
}

// Removing one of an endpoint's taps leaves the others seeing its
// packets; removing the last leaves the capture point idle (nil), so
// that the data path pays one load.
func TestRemoveTap(t *testing.T) {
	tp := newTestPair(t, false)
	tapA, chA := recordingTap()
	tapB, chB := recordingTap()
	tp.n0.ep.AddTap(tapA)
	tp.n0.ep.AddTap(tapB)
	tp.n0.ep.RemoveTap(tapA)
	if err := tp.n0.ep.WritePacket(udpPacket(100), tp.n1.hw); err != nil {
		t.Fatal(err)
	}
	if got := next(t, chB); got.pktType != PacketOutgoing || got.n != 132 {
		t.Errorf("the remaining tap saw %+v", got)
	}
	if len(chA) != 0 {
		t.Errorf("the removed tap saw %d frames", len(chA))
	}
	tp.n0.ep.RemoveTap(tapB)
	if p := tp.n0.ep.taps.Load(); p != nil {
		t.Errorf("the capture point keeps %d taps after the last was removed", len(*p))
	}
	tp.n0.ep.RemoveTap(tapB) // removing from an idle point does nothing
	if p := tp.n0.ep.taps.Load(); p != nil {
		t.Errorf("the capture point has %d taps", len(*p))
	}
}
