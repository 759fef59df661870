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

// Monitor groups: what a monitor stream carries, as the rtnetlink
// multicast groups ip monitor binds to, and the subnet manager's
// partitions and multicast groups.
const (
	MonitorLink      = wire.MonitorLink      // 1 << 0: RTM_NEWLINK, RTM_DELLINK
	MonitorAddr      = wire.MonitorAddr      // 1 << 1: RTM_NEWADDR, RTM_DELADDR
	MonitorNeigh     = wire.MonitorNeigh     // 1 << 2: RTM_NEWNEIGH, RTM_DELNEIGH
	MonitorRoute     = wire.MonitorRoute     // 1 << 3: the main table's routes
	MonitorPartition = wire.MonitorPartition // 1 << 4: the subnet manager's partitions
	MonitorGroup     = wire.MonitorGroup     // 1 << 5: the subnet manager's multicast groups
	MonitorAll       = wire.MonitorAll       // every group
)

// Monitorer is implemented by nodes that report their changes. Monitor
// calls emit with nil once it is subscribed, then with the events of
// groups as they come, in batches, until ctx is done or emit fails, and
// returns nil then; an error ends it otherwise (the driver stopping). A
// reader that falls behind must not hold the node up: what does not fit
// its queue is dropped.
type Monitorer interface {
	Monitor(ctx context.Context, groups uint32, emit func([]MonitorEvent) error) error
}

// isMonitor reports whether m asks for a monitor stream.
func isMonitor(m netlink.Message) bool {
	if m.Header.Type != wire.FamilyIbctl {
		return false
	}
	cmd, _, err := wire.ParseGenl(m.Data)
	return err == nil && cmd == wire.CmdMonitor
}

// monitor serves a monitor request on the session's connection: the
// events are written as they come. It returns the last reply: NLMSG_DONE
// when the client ended the stream, or the error that ended it.
func (ss *session) monitor(m netlink.Message, node Node) [][]byte {
	mon, ok := node.(Monitorer)
	if !ok {
		return [][]byte{wire.ErrorReply(m.Header, unix.EOPNOTSUPP, "this node reports no changes")}
	}
	_, rest, _ := wire.ParseGenl(m.Data)
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return [][]byte{wire.ErrorReply(m.Header, unix.EINVAL, "malformed monitor request")}
	}
	groups := MonitorAll
	for ad.Next() {
		if ad.Type() == wire.AttrGroups {
			groups = ad.Uint32()
		}
	}
	if ad.Err() != nil {
		return [][]byte{wire.ErrorReply(m.Header, unix.EINVAL, "malformed monitor request")}
	}
	ctx, stop := watchHangup(ss.conn, true)
	defer stop()
	out := packer{write: func(b []byte) error { return ss.s.write(ss.conn, b) }}
	emit := func(evs []MonitorEvent) error {
		if evs == nil {
			// subscribed: tell the client
			return ss.s.write(ss.conn, wire.Reply(m.Header, wire.FamilyIbctl, netlink.Multi, wire.MarshalMonitorStart(groups)))
		}
		for _, ev := range evs {
			msg := wire.MarshalEvent(m.Header, ev)
			if err := out.add(msg); err != nil {
				return err
			}
		}
		return out.flush()
	}
	if err := mon.Monitor(ctx, groups, emit); err != nil {
		return [][]byte{wire.ErrorReply(m.Header, ErrnoOf(err), extAckOf(err))}
	}
	select {
	case <-ss.s.stopping:
		return [][]byte{wire.ErrorReply(m.Header, unix.ESHUTDOWN, "the driver is stopping")}
	default:
	}
	return [][]byte{wire.DoneReply(m.Header)}
}

// ErrStopMonitor, returned by Monitor's function, ends the stream.
var ErrStopMonitor = errors.New("monitor stopped")

// ErrMonitorEnded is the end of a monitor stream the client did not ask
// for: the driver went away.
var ErrMonitorEnded = errors.New("the driver ended the stream")

// Monitor streams the bound node's events of groups (MonitorLink, ...)
// to fn until fn returns an error (ErrStopMonitor to stop cleanly) or
// ctx is done, and then returns nil (or fn's error). A stream the driver
// ends (it stops or goes away) returns an error. started, when not nil,
// is called once the driver has subscribed, before the first event. The
// connection serves nothing else meanwhile.
func (c *Client) Monitor(ctx context.Context, groups uint32, started func(), fn func(MonitorEvent) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settleLocked()
	c.inbox = nil
	c.seq++
	seq := c.seq
	c.seq++
	stopSeq := c.seq
	b, err := wire.MarshalMessage(netlink.Header{Type: wire.FamilyIbctl, Flags: netlink.Request | netlink.Acknowledge | netlink.Dump, Sequence: seq},
		wire.MarshalMonitorStart(groups))
	if err != nil {
		return err
	}
	if _, err := c.conn.Write(b); err != nil {
		return &netlink.OpError{Op: "send", Err: err}
	}
	// The stop request (any request ends the stream) is sent once, by
	// fn's end or ctx's.
	var smu sync.Mutex
	stopSent := false
	sendStop := func() {
		smu.Lock()
		defer smu.Unlock()
		if stopSent {
			return
		}
		stopSent = true
		b, _ := wire.MarshalMessage(netlink.Header{Type: wire.FamilyIbctl, Flags: netlink.Request | netlink.Acknowledge, Sequence: stopSeq},
			wire.GenlHeader(wire.CmdCaptureStop))
		_, _ = c.conn.Write(b)
	}
	stopped := func() bool {
		smu.Lock()
		defer smu.Unlock()
		return stopSent
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
	var fnErr error
	for {
		n, err := c.conn.Read(c.buf)
		if errors.Is(err, io.EOF) {
			n, err = 0, nil
		}
		if err != nil {
			return &netlink.OpError{Op: "receive", Err: err}
		}
		if n == 0 {
			if stopped() {
				return fnErr
			}
			return ErrMonitorEnded
		}
		msgs, err := wire.ParseMessages(c.buf[:n])
		if err != nil {
			return &netlink.OpError{Op: "receive", Err: err}
		}
		for _, m := range msgs {
			switch {
			case m.Header.Sequence == stopSeq && m.Header.Type == netlink.Error:
				return fnErr
			case m.Header.Sequence != seq:
			case m.Header.Type == netlink.Done:
				if !stopped() {
					return ErrMonitorEnded
				}
			case m.Header.Type == netlink.Error:
				errno, msg, err := wire.ParseAck(m.Data)
				if err != nil {
					return &netlink.OpError{Op: "receive", Err: err}
				}
				if errno == 0 {
					continue
				}
				if !stopped() {
					return &netlink.OpError{Op: "receive", Err: errno, Message: msg}
				}
			default:
				ev, start, err := wire.DecodeEvent(m)
				if err != nil {
					return &netlink.OpError{Op: "receive", Err: err}
				}
				if start {
					if started != nil {
						started()
					}
					continue
				}
				if stopped() {
					continue // in flight when the stream was stopped
				}
				if err := fn(ev); err != nil {
					if !errors.Is(err, ErrStopMonitor) {
						fnErr = err
					}
					sendStop()
				}
			}
		}
	}
}
