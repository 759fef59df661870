package netlinkx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// captureNode streams the packets given to its channel until its context
// is done or the channel is closed (the interface went down).
type captureNode struct {
	*fakeNode
	pkts  chan CapturedPacket
	ended chan error          // the context's error when the capture ended
	reqs  chan CaptureRequest // the requests, as the driver decoded them
}

func (n *captureNode) Capture(ctx context.Context, r CaptureRequest, emit func([]CapturedPacket) error) (CaptureStats, error) {
	select {
	case n.reqs <- r:
	default:
	}
	if r.Dev != "ib0" {
		return CaptureStats{}, withMsg(unix.ENODEV, "Cannot find device")
	}
	if err := emit(nil); err != nil {
		return CaptureStats{}, err
	}
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			n.ended <- ctx.Err()
			return CaptureStats{Captured: seen, Lost: 3}, nil
		case p, ok := <-n.pkts:
			if !ok {
				n.ended <- nil
				return CaptureStats{Captured: seen, End: CaptureWentDown}, nil
			}
			seen++
			if err := emit([]CapturedPacket{p}); err != nil {
				n.ended <- err
				return CaptureStats{Captured: seen}, nil
			}
		}
	}
}

type captureBackend struct {
	fakeBackend
	n *captureNode
}

func (b *captureBackend) Node(string) (Node, error) { return b.n, nil }

// capturePair serves a captureNode over a socketpair; the client's end.
func capturePair(t *testing.T) (*Client, *net.UnixConn, *captureNode) {
	t.Helper()
	n := &captureNode{fakeNode: &fakeNode{links: []Link{testLink}}, pkts: make(chan CapturedPacket, 64), ended: make(chan error, 1),
		reqs: make(chan CaptureRequest, 1)}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "t")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
	}
	go NewServer(&captureBackend{n: n}).ServeConn(conns[1])
	t.Cleanup(func() { conns[0].Close() })
	return NewClient(conns[0]), conns[0], n
}

func packet(i int) CapturedPacket {
	return CapturedPacket{TimeNs: int64(i), PktType: PacketOutgoing, Src: make([]byte, 20), Dst: make([]byte, 20),
		OrigLen: 100, Data: []byte{8, 0, 0, 0, byte(i)}, Drop: fmt.Sprint("R", i)}
}

func waitEnded(t *testing.T, n *captureNode) error {
	t.Helper()
	select {
	case err := <-n.ended:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the driver's capture did not end")
		return nil
	}
}

// TestCaptureStopsOnCount stops after three packets of many: the
// driver's capture ends and the connection serves the next request.
func TestCaptureStopsOnCount(t *testing.T) {
	c, _, n := capturePair(t)
	for i := range 10 {
		n.pkts <- packet(i)
	}
	var got []CapturedPacket
	started := 0
	st, err := c.Capture(context.Background(), CaptureRequest{Dev: "ib0"}, func() { started++ }, func(p CapturedPacket) error {
		got = append(got, p)
		if len(got) == 3 {
			return ErrStopCapture
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(waitEnded(t, n), context.Canceled) {
		t.Error("the driver's capture was not cancelled")
	}
	if started != 1 || len(got) != 3 {
		t.Fatalf("started %d, %d packets, want 1, 3", started, len(got))
	}
	for i, p := range got {
		if want := packet(i); fmt.Sprint(p) != fmt.Sprint(want) {
			t.Errorf("packet %d: %+v, want %+v", i, p, want)
		}
	}
	if st.Lost != 3 || st.End != CaptureStopped {
		t.Errorf("stats %+v", st)
	}
	if _, err := c.Links(); err != nil {
		t.Errorf("the connection after a capture: %v", err)
	}
}

// TestCaptureEndsWithInterface ends the driver's side: the client gets
// the end and the packets before it.
func TestCaptureEndsWithInterface(t *testing.T) {
	c, _, n := capturePair(t)
	n.pkts <- packet(0)
	close(n.pkts)
	var got int
	st, err := c.Capture(context.Background(), CaptureRequest{Dev: "ib0"}, nil, func(CapturedPacket) error { got++; return nil })
	if err != nil || got != 1 || st.End != CaptureWentDown || st.Captured != 1 {
		t.Errorf("err %v, %d packets, stats %+v", err, got, st)
	}
	waitEnded(t, n)
}

// TestCaptureInterrupted cancels the client's context (Ctrl-C) while no
// packet comes.
func TestCaptureInterrupted(t *testing.T) {
	c, _, n := capturePair(t)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := c.Capture(ctx, CaptureRequest{Dev: "ib0"}, cancel, func(CapturedPacket) error { return nil })
	if err != nil || st.End != CaptureStopped {
		t.Errorf("err %v stats %+v", err, st)
	}
	if !errors.Is(waitEnded(t, n), context.Canceled) {
		t.Error("the driver's capture was not cancelled")
	}
}

// TestCaptureClientGoes closes the client's connection (a killed ibctl):
// the driver's capture ends.
func TestCaptureClientGoes(t *testing.T) {
	c, conn, n := capturePair(t)
	go func() {
		_, _ = c.Capture(context.Background(), CaptureRequest{Dev: "ib0"}, func() { conn.Close() }, func(CapturedPacket) error { return nil })
	}()
	if !errors.Is(waitEnded(t, n), context.Canceled) {
		t.Error("the driver's capture was not cancelled")
	}
}

func TestCaptureError(t *testing.T) {
	c, _, _ := capturePair(t)
	_, err := c.Capture(context.Background(), CaptureRequest{Dev: "ib9"}, nil, func(CapturedPacket) error { return nil })
	if !errors.Is(err, unix.ENODEV) {
		t.Errorf("err %v, want ENODEV", err)
	}
	if _, err := c.Links(); err != nil {
		t.Errorf("the connection after a failed capture: %v", err)
	}
}

// TestCaptureSeveralPorts sends a request for three fabric ports: the
// driver decodes them in order, and each packet's Iface comes back.
func TestCaptureSeveralPorts(t *testing.T) {
	c, _, n := capturePair(t)
	for i := range 3 {
		p := packet(i)
		p.Iface = uint32(i)
		n.pkts <- p
	}
	close(n.pkts)
	var got []uint32
	req := CaptureRequest{Dev: "ib0", Also: []string{"node1/1", "node0/2"}, Snaplen: 96, Fabric: true}
	_, err := c.Capture(context.Background(), req, nil, func(p CapturedPacket) error {
		got = append(got, p.Iface)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, n)
	if r := <-n.reqs; fmt.Sprint(r) != fmt.Sprint(req) {
		t.Errorf("the driver decodes %+v, want %+v", r, req)
	}
	if fmt.Sprint(got) != "[0 1 2]" {
		t.Errorf("Iface %v, want [0 1 2]", got)
	}
}
