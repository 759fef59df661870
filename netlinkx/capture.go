package netlinkx

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Packet types of a captured packet (sll_pkttype).
const (
	PacketHost      uint8 = 0
	PacketBroadcast uint8 = 1
	PacketMulticast uint8 = 2
	PacketOutgoing  uint8 = 4
)

// Ends of a capture.
const (
	CaptureStopped     CaptureEnd = 0 // the client stopped it
	CaptureWentDown    CaptureEnd = 1 // the interface went down
	CaptureDisappeared CaptureEnd = 2 // the interface was deleted
)

// Capturer is implemented by nodes whose interfaces can be captured on.
// Capture calls emit with nil once it sees the interface's packets, then
// with the packets as they come, in batches, until ctx is done, emit
// fails, or the interface goes down or away.
type Capturer interface {
	Capture(ctx context.Context, r CaptureRequest, emit func([]CapturedPacket) error) (CaptureStats, error)
}

// isCapture reports whether m asks for a capture stream.
func isCapture(m netlink.Message) bool {
	if m.Header.Type != wire.FamilyIbctl {
		return false
	}
	cmd, _, err := wire.ParseGenl(m.Data)
	return err == nil && cmd == wire.CmdCapture
}

// capture serves a capture request on the session's connection: the
// packets are written as they come, not collected. It returns the last
// replies: the statistics and NLMSG_DONE, or the error.
func (ss *session) capture(m netlink.Message, node Node) [][]byte {
	c, ok := node.(Capturer)
	if !ok {
		return [][]byte{wire.ErrorReply(m.Header, unix.EOPNOTSUPP, "this node has no interfaces to capture on")}
	}
	_, rest, _ := wire.ParseGenl(m.Data)
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return [][]byte{wire.ErrorReply(m.Header, unix.EINVAL, "malformed capture request")}
	}
	r := wire.DecodeCaptureRequest(ad)
	if ad.Err() != nil {
		return [][]byte{wire.ErrorReply(m.Header, unix.EINVAL, "malformed capture request")}
	}
	ctx, stop := watchHangup(ss.conn, true)
	defer stop()
	out := packer{write: func(b []byte) error { return ss.s.write(ss.conn, b) }}
	emit := func(pkts []CapturedPacket) error {
		if pkts == nil {
			// the capture point is attached: tell the client
			return ss.s.write(ss.conn, wire.Reply(m.Header, wire.FamilyIbctl, netlink.Multi, wire.MarshalCaptureStart(r.Snaplen)))
		}
		for _, p := range pkts {
			msg := wire.Reply(m.Header, wire.FamilyIbctl, netlink.Multi, wire.MarshalCapturedPacket(p))
			if err := out.add(msg); err != nil {
				return err
			}
		}
		return out.flush()
	}
	st, err := c.Capture(ctx, r, emit)
	if err != nil {
		return [][]byte{wire.ErrorReply(m.Header, ErrnoOf(err), extAckOf(err))}
	}
	return [][]byte{
		wire.Reply(m.Header, wire.FamilyIbctl, netlink.Multi, wire.MarshalCaptureStats(st)),
		wire.DoneReply(m.Header),
	}
}

// ErrStopCapture, returned by Capture's function, ends the capture.
var ErrStopCapture = errors.New("capture stopped")

// Capture streams the packets of an interface of the bound node to fn
// until fn returns an error (ErrStopCapture to stop cleanly), ctx is
// done, or the interface goes down or away (CaptureStats.End says which).
// started, when not nil, is called once the driver sees the interface's
// packets, before the first one. The connection serves nothing else
// meanwhile.
func (c *Client) Capture(ctx context.Context, r CaptureRequest, started func(), fn func(CapturedPacket) error) (CaptureStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settleLocked()
	c.inbox = nil
	c.seq++
	seq := c.seq
	c.seq++
	stopSeq := c.seq
	ae := netlink.NewAttributeEncoder()
	wire.EncodeCaptureRequest(ae, r)
	b, err := wire.MarshalMessage(netlink.Header{Type: wire.FamilyIbctl, Flags: netlink.Request | netlink.Acknowledge | netlink.Dump, Sequence: seq},
		append(wire.GenlHeader(wire.CmdCapture), wire.Encode(ae)...))
	if err != nil {
		return CaptureStats{}, err
	}
	if _, err := c.conn.Write(b); err != nil {
		return CaptureStats{}, &netlink.OpError{Op: "send", Err: err}
	}
	// The stop request is sent once, by fn's end or ctx's; after the
	// stream's end nothing more is sent.
	var smu sync.Mutex
	stopSent, finished := false, false
	sendStop := func() {
		smu.Lock()
		defer smu.Unlock()
		if stopSent || finished {
			return
		}
		stopSent = true
		b, _ := wire.MarshalMessage(netlink.Header{Type: wire.FamilyIbctl, Flags: netlink.Request | netlink.Acknowledge, Sequence: stopSeq},
			wire.GenlHeader(wire.CmdCaptureStop))
		_, _ = c.conn.Write(b)
	}
	watchDone := make(chan struct{})
	defer close(watchDone)
	go func() {
		select {
		case <-ctx.Done():
			sendStop()
		case <-watchDone:
		}
	}()
	var st CaptureStats
	var fnErr error
	fnDone, streaming := false, true
	for {
		n, err := c.conn.Read(c.buf)
		if errors.Is(err, io.EOF) {
			n, err = 0, nil
		}
		if err != nil {
			return st, &netlink.OpError{Op: "receive", Err: err}
		}
		if n == 0 {
			return st, &netlink.OpError{Op: "receive", Err: errors.New("driver closed the connection")}
		}
		msgs, err := wire.ParseMessages(c.buf[:n])
		if err != nil {
			return st, &netlink.OpError{Op: "receive", Err: err}
		}
		for _, m := range msgs {
			switch {
			case m.Header.Sequence == stopSeq && m.Header.Type == netlink.Error:
				return st, fnErr
			case m.Header.Sequence != seq || !streaming:
			case m.Header.Type == netlink.Done:
				smu.Lock()
				finished = true
				sent := stopSent
				smu.Unlock()
				streaming = false
				if !sent {
					return st, fnErr
				}
			case m.Header.Type == netlink.Error:
				errno, msg, err := wire.ParseAck(m.Data)
				if err != nil {
					return st, &netlink.OpError{Op: "receive", Err: err}
				}
				if errno == 0 {
					continue
				}
				smu.Lock()
				finished = true
				sent := stopSent
				smu.Unlock()
				streaming = false
				fnErr = &netlink.OpError{Op: "receive", Err: errno, Message: msg}
				if !sent {
					return st, fnErr
				}
			default:
				p, end, kind, err := wire.DecodeCaptured(m.Data)
				if err != nil {
					return st, &netlink.OpError{Op: "receive", Err: err}
				}
				if kind == wire.CaptureMsgStart {
					if started != nil {
						started()
					}
					continue
				}
				if kind == wire.CaptureMsgEnd {
					st = end
					continue
				}
				if fnDone {
					continue // in flight when fn stopped
				}
				if err := fn(p); err != nil {
					fnDone = true
					if !errors.Is(err, ErrStopCapture) {
						fnErr = err
					}
					sendStop()
				}
			}
		}
	}
}
