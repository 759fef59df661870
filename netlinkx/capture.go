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

// CaptureRequest asks for the packets of one interface, or of several
// fabric ports.
type CaptureRequest struct {
	Dev string // an interface; with Fabric, a fabric port NODE/PORT
	// Also are more fabric ports to capture with Dev, with Fabric: a
	// packet's Iface is 0 for Dev and i for Also[i-1].
	Also    []string
	Snaplen uint32 // bytes of each packet to copy; 0 copies all
	// Fabric asks for what crosses a fabric port, as IB packets (LRH to
	// VCRC) in CapturedPacket.Data, instead of an interface's packets.
	Fabric bool
}

// CapturedPacket is one packet an interface sent, received or dropped.
type CapturedPacket struct {
	TimeNs  int64  // Unix time in nanoseconds
	PktType uint8  // sll_pkttype: PacketHost, PacketBroadcast, ...
	Src     []byte // 20-byte IPoIB address of the sender; zero over a connection
	Dst     []byte // 20-byte IPoIB address of the destination
	RC      bool   // carried over a connection
	Iface   uint32 // which of the request's ports saw it: 0 for Dev, i for Also[i-1]
	Drop    string // the kernel's drop reason when the driver dropped it
	OrigLen uint32 // the IPoIB packet's length, its 4-byte header included
	Data    []byte // the first bytes of the IPoIB packet, up to the snapshot length
}

// Packet types of a captured packet (sll_pkttype).
const (
	PacketHost      uint8 = 0
	PacketBroadcast uint8 = 1
	PacketMulticast uint8 = 2
	PacketOutgoing  uint8 = 4
)

// CaptureEnd says why a capture ended.
type CaptureEnd uint8

// Ends of a capture.
const (
	CaptureStopped     CaptureEnd = 0 // the client stopped it
	CaptureWentDown    CaptureEnd = 1 // the interface went down
	CaptureDisappeared CaptureEnd = 2 // the interface was deleted
)

// CaptureStats end a capture.
type CaptureStats struct {
	Captured uint64 // packets the capture point saw
	Lost     uint64 // packets lost because the reader fell behind
	End      CaptureEnd
}

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
	var r CaptureRequest
	for ad.Next() {
		switch ad.Type() {
		case wire.AttrDev:
			if r.Dev == "" {
				r.Dev = ad.String()
			} else {
				r.Also = append(r.Also, ad.String())
			}
		case wire.AttrSnaplen:
			r.Snaplen = ad.Uint32()
		case wire.AttrFabric:
			r.Fabric = ad.Uint8() != 0
		}
	}
	if ad.Err() != nil {
		return [][]byte{wire.ErrorReply(m.Header, unix.EINVAL, "malformed capture request")}
	}
	ctx, stop := watchHangup(ss.conn, true)
	defer stop()
	out := packer{write: func(b []byte) error { return ss.s.write(ss.conn, b) }}
	emit := func(pkts []CapturedPacket) error {
		if pkts == nil {
			// the capture point is attached: tell the client
			ae := netlink.NewAttributeEncoder()
			ae.Uint32(wire.AttrSnaplen, r.Snaplen)
			return ss.s.write(ss.conn, wire.Reply(m.Header, wire.FamilyIbctl, netlink.Multi,
				append(wire.GenlHeader(wire.CmdCapture), wire.Encode(ae)...)))
		}
		for _, p := range pkts {
			ae := netlink.NewAttributeEncoder()
			ae.Uint64(wire.AttrTime, uint64(p.TimeNs))
			ae.Uint8(wire.AttrPktType, p.PktType)
			ae.Bytes(wire.AttrSrc, p.Src)
			ae.Bytes(wire.AttrDst, p.Dst)
			if p.RC {
				ae.Uint8(wire.AttrRC, 1)
			}
			if p.Iface != 0 {
				ae.Uint32(wire.AttrIface, p.Iface)
			}
			if p.Drop != "" {
				ae.String(wire.AttrDrop, p.Drop)
			}
			ae.Uint32(wire.AttrOrigLen, p.OrigLen)
			ae.Bytes(wire.AttrData, p.Data)
			msg := wire.Reply(m.Header, wire.FamilyIbctl, netlink.Multi, append(wire.GenlHeader(wire.CmdCapture), wire.Encode(ae)...))
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
	ae := netlink.NewAttributeEncoder()
	ae.Uint64(wire.AttrCaptured, st.Captured)
	ae.Uint64(wire.AttrLost, st.Lost)
	ae.Uint8(wire.AttrEnd, uint8(st.End))
	return [][]byte{
		wire.Reply(m.Header, wire.FamilyIbctl, netlink.Multi, append(wire.GenlHeader(wire.CmdCapture), wire.Encode(ae)...)),
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
	ae.String(wire.AttrDev, r.Dev)
	for _, d := range r.Also {
		ae.String(wire.AttrDev, d)
	}
	ae.Uint32(wire.AttrSnaplen, r.Snaplen)
	if r.Fabric {
		ae.Uint8(wire.AttrFabric, 1)
	}
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
				p, end, kind, err := decodeCaptured(m.Data)
				if err != nil {
					return st, &netlink.OpError{Op: "receive", Err: err}
				}
				if kind == capStart {
					if started != nil {
						started()
					}
					continue
				}
				if kind == capEnd {
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

// Kinds of capture stream messages.
const (
	capPacket = iota
	capStart  // the capture point is attached
	capEnd    // the statistics that end the stream
)

// decodeCaptured decodes one message of a capture stream.
func decodeCaptured(b []byte) (CapturedPacket, CaptureStats, int, error) {
	var p CapturedPacket
	var st CaptureStats
	kind := capPacket
	_, rest, err := wire.ParseGenl(b)
	if err != nil {
		return p, st, kind, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return p, st, kind, err
	}
	for ad.Next() {
		switch ad.Type() {
		case wire.AttrTime:
			p.TimeNs = int64(ad.Uint64())
		case wire.AttrPktType:
			p.PktType = ad.Uint8()
		case wire.AttrSrc:
			p.Src = ad.Bytes()
		case wire.AttrDst:
			p.Dst = ad.Bytes()
		case wire.AttrRC:
			p.RC = ad.Uint8() != 0
		case wire.AttrIface:
			p.Iface = ad.Uint32()
		case wire.AttrDrop:
			p.Drop = ad.String()
		case wire.AttrOrigLen:
			p.OrigLen = ad.Uint32()
		case wire.AttrData:
			p.Data = ad.Bytes()
		case wire.AttrSnaplen:
			kind = capStart
		case wire.AttrCaptured:
			st.Captured, kind = ad.Uint64(), capEnd
		case wire.AttrLost:
			st.Lost = ad.Uint64()
		case wire.AttrEnd:
			st.End, kind = CaptureEnd(ad.Uint8()), capEnd
		}
	}
	return p, st, kind, ad.Err()
}
