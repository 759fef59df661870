package ipoib

import (
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
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
