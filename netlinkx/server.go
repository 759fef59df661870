package netlinkx

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// maxDatagram bounds one datagram either way; a larger request is cut
// short by the socket and answered as malformed.
const maxDatagram = 64 << 10

// packLimit bounds one reply datagram (below the socket's send buffer).
const packLimit = 32 << 10

// writeTimeout bounds one reply write: a client that reads nothing for
// this long loses its connection.
const writeTimeout = 10 * time.Second

// stopGrace bounds the reply writes of a stopping server (see CloseConns).
const stopGrace = 200 * time.Millisecond

// Server answers netlink requests for a Backend.
type Server struct {
	b     Backend
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[*net.UnixConn]bool
	// stopAt is the write deadline of every connection once CloseConns
	// was called; zero before.
	stopAt time.Time
	// stopping is closed by CloseConns; it ends an accept back-off.
	stopping chan struct{}

	// Log, when set, receives the server's messages (one line each).
	Log func(string)
}

// NewServer returns a server for b.
func NewServer(b Backend) *Server {
	return &Server{b: b, conns: map[*net.UnixConn]bool{}, stopping: make(chan struct{})}
}

// maxAcceptDelay bounds the back-off after a failed accept.
const maxAcceptDelay = time.Second

// acceptLogInterval is the least time between two accept failures logged.
const acceptLogInterval = time.Minute

// Serve accepts connections on l until it is closed, then waits for the
// connections being served (see CloseConns). When accept fails for want
// of resources (file descriptors, memory), it backs off from 5 ms up to
// maxAcceptDelay and tries again, as net/http's Server does, logging one
// failure a minute at most.
func (s *Server) Serve(l *net.UnixListener) error {
	var delay time.Duration
	var logged time.Time // the last accept failure logged
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				s.wg.Wait()
				return nil
			}
			if !temporary(err) {
				return fmt.Errorf("accept: %w", err)
			}
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else {
				delay = min(2*delay, maxAcceptDelay)
			}
			if now := time.Now(); s.Log != nil && (logged.IsZero() || now.Sub(logged) >= acceptLogInterval) {
				logged = now
				s.Log(fmt.Sprintf("accept: %v; retrying", errnoOf(err)))
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.stopping:
				t.Stop()
			}
			continue
		}
		delay = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.ServeConn(c)
		}()
	}
}

// CloseConns closes every connection being served, and every one served
// later, so a stopping server acknowledges nothing more. Requests in
// progress finish first, but a reply not written within stopGrace (its
// client does not read) is dropped with its connection.
func (s *Server) CloseConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopAt.IsZero() {
		close(s.stopping)
	}
	s.stopAt = time.Now().Add(stopGrace)
	for c := range s.conns {
		_ = c.CloseRead()
		_ = c.SetWriteDeadline(s.stopAt)
	}
}

// temporary reports whether a failed accept may succeed later: the process
// or system is out of file descriptors or memory.
func temporary(err error) bool {
	for _, e := range []unix.Errno{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// errnoOf is the errno in err, else err.
func errnoOf(err error) error {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return err
}

// write sends one reply datagram within writeTimeout, or by the stop
// deadline once CloseConns was called.
func (s *Server) write(c *net.UnixConn, b []byte) error {
	s.mu.Lock()
	deadline := time.Now().Add(writeTimeout)
	if !s.stopAt.IsZero() && s.stopAt.Before(deadline) {
		deadline = s.stopAt
	}
	err := c.SetWriteDeadline(deadline)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = c.Write(b)
	return err
}

// ServeConn serves one connection until the peer closes it. A malformed
// datagram gets an error reply; the connection goes on.
func (s *Server) ServeConn(c *net.UnixConn) {
	s.mu.Lock()
	s.conns[c] = true
	if !s.stopAt.IsZero() {
		// Accepted as the server stopped: CloseConns did not see it.
		_ = c.CloseRead()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	defer c.Close()
	sess := &session{s: s, conn: c}
	defer func() {
		if sess.batch {
			_ = s.b.Sync()
		}
	}()
	buf := make([]byte, maxDatagram)
	pk := &packer{write: func(b []byte) error { return s.write(c, b) }}
	sess.emit = pk.add
	for {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			return
		}
		for _, reply := range sess.handleDatagram(buf[:n]) {
			pk.add(reply)
		}
		if pk.flush() != nil {
			return
		}
	}
}

// session is one connection's state: the node it is bound to and whether
// it is in a batch (changes acknowledged before they are synced).
type session struct {
	s       *Server
	conn    *net.UnixConn // nil when not served over a connection
	node    Node
	batch   bool
	durable Node // the node handle outside batches
	// stop is the BatchStop mode: a failed request sets stopped, and a
	// stopped session runs nothing but CmdBatch.
	stop, stopped bool
	// emit, when set, sends a reply message on (packed with the next);
	// a dump that streams uses it, and the replies of the messages
	// before it in a datagram go first.
	emit func([]byte) error
}

// handleDatagram decodes every message in b and returns the reply datagrams.
func (ss *session) handleDatagram(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		m, rest, err := wire.SplitMessage(b)
		if err != nil {
			var h netlink.Header
			if len(b) >= unix.NLMSG_HDRLEN {
				h.Type = netlink.HeaderType(binary.NativeEndian.Uint16(b[4:6]))
				h.Sequence = binary.NativeEndian.Uint32(b[8:12])
				h.PID = binary.NativeEndian.Uint32(b[12:16])
			}
			return append(out, wire.ErrorReply(h, unix.EINVAL, err.Error()))
		}
		out = append(out, ss.handle(m)...)
		if ss.emit != nil {
			for _, r := range out {
				ss.emit(r)
			}
			out = out[:0]
		}
		b = rest
	}
	return out
}

func (ss *session) nodeOrDefault() (Node, error) {
	if ss.node == nil {
		n, err := ss.s.b.Node("")
		if err != nil {
			return nil, err
		}
		ss.node = n
	}
	return ss.node, nil
}

// handle serves one request; the last datagram is always the ack or
// NLMSG_DONE. In BatchStop mode, a request after one that failed is
// answered ECANCELED and not run.
func (ss *session) handle(m netlink.Message) [][]byte {
	if ss.stopped && !isBatchRequest(m) {
		return [][]byte{wire.ErrorReply(m.Header, unix.ECANCELED, "not run: an earlier request of the batch failed")}
	}
	out := ss.serve(m)
	if ss.stop && len(out) > 0 && failedAck(out[len(out)-1]) {
		ss.stopped = true
	}
	return out
}

// isBatchRequest reports whether m is a CmdBatch request.
func isBatchRequest(m netlink.Message) bool {
	if m.Header.Type != wire.FamilyIbctl {
		return false
	}
	cmd, _, err := wire.ParseGenl(m.Data)
	return err == nil && cmd == wire.CmdBatch
}

// failedAck reports whether the reply message b is a negative ack.
func failedAck(b []byte) bool {
	if len(b) < unix.NLMSG_HDRLEN+4 || netlink.HeaderType(binary.NativeEndian.Uint16(b[4:6])) != netlink.Error {
		return false
	}
	return binary.NativeEndian.Uint32(b[unix.NLMSG_HDRLEN:]) != 0
}

// serve serves one request for handle.
func (ss *session) serve(m netlink.Message) (out [][]byte) {
	defer func() {
		if r := recover(); r != nil {
			out = [][]byte{wire.ErrorReply(m.Header, unix.EINVAL, fmt.Sprintf("internal error: %v", r))}
		}
	}()
	if m.Header.Flags&netlink.Request == 0 {
		return [][]byte{wire.ErrorReply(m.Header, unix.EINVAL, "not a request")}
	}
	if m.Header.Type == wire.FamilyIbctl {
		if cmd, rest, err := wire.ParseGenl(m.Data); err == nil && cmd == wire.CmdBind {
			return ss.bind(m, rest)
		} else if err == nil && cmd == wire.CmdBatch {
			return ss.setBatch(m, rest)
		}
	}
	node, err := ss.nodeOrDefault()
	if err != nil {
		return [][]byte{wire.ErrorReply(m.Header, ErrnoOf(err), extAckOf(err))}
	}
	// A request that runs long (a perf stream) ends when its client
	// goes: the connection is watched for the peer's hangup meanwhile.
	if ss.conn != nil && isCapture(m) {
		return ss.capture(m, node)
	}
	if ss.conn != nil && isMonitor(m) {
		return ss.monitor(m, node)
	}
	ctx := context.Background()
	if ss.conn != nil && isLong(m) {
		var stop func()
		ctx, stop = watchHangup(ss.conn, false)
		defer stop()
	}
	if p, ok := node.(LinkPager); ok && ss.emit != nil && m.Header.Type == unix.RTM_GETLINK && m.Header.Flags&netlink.Dump != 0 {
		return streamLinks(m, p, ss.emit)
	}
	replies, err := dispatch(ctx, ss.s.b, node, m)
	if err != nil {
		return append(replies, wire.ErrorReply(m.Header, ErrnoOf(err), extAckOf(err)))
	}
	// A message must fit one datagram; a reply that does not is refused
	// as genlmsg_reply refuses one that does not fit its skb.
	for _, r := range replies {
		if len(r) > maxDatagram {
			return [][]byte{wire.ErrorReply(m.Header, unix.EMSGSIZE,
				fmt.Sprintf("reply message of %d bytes exceeds the %d-byte datagram", len(r), maxDatagram))}
		}
	}
	if m.Header.Flags&netlink.Dump != 0 {
		return append(replies, wire.DoneReply(m.Header))
	}
	return append(replies, wire.ErrorReply(m.Header, 0, ""))
}

func (ss *session) bind(m netlink.Message, rest []byte) [][]byte {
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return [][]byte{wire.ErrorReply(m.Header, unix.EINVAL, "malformed bind request")}
	}
	var name string
	for ad.Next() {
		if ad.Type() == wire.AttrNode {
			name = ad.String()
		}
	}
	n, err := ss.s.b.Node(name)
	if err != nil {
		return [][]byte{wire.ErrorReply(m.Header, ErrnoOf(err), extAckOf(err))}
	}
	ss.node = n
	if ss.batch {
		ss.durable = n
		if d, ok := n.(Deferrer); ok {
			ss.node = d.Deferred()
		}
	}
	return [][]byte{wire.ErrorReply(m.Header, 0, "")}
}

// setBatch sets the batch mode (wire.BatchOff, BatchOn, BatchStop).
// Ending a batch syncs, so the ack of the end of a batch means every
// change of the batch is durable. Any mode ends a stopped session's stop.
func (ss *session) setBatch(m netlink.Message, rest []byte) [][]byte {
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return [][]byte{wire.ErrorReply(m.Header, unix.EINVAL, "malformed batch request")}
	}
	mode := wire.BatchOff
	for ad.Next() {
		if ad.Type() == wire.AttrValue {
			mode = ad.Uint8()
		}
	}
	if ad.Err() != nil {
		return [][]byte{wire.ErrorReply(m.Header, unix.EINVAL, "malformed batch request")}
	}
	node, err := ss.nodeOrDefault()
	if err != nil {
		return [][]byte{wire.ErrorReply(m.Header, ErrnoOf(err), extAckOf(err))}
	}
	on := mode != wire.BatchOff
	ss.stop, ss.stopped = mode == wire.BatchStop, false
	switch {
	case on && !ss.batch:
		ss.batch, ss.durable = true, node
		if d, ok := node.(Deferrer); ok {
			ss.node = d.Deferred()
		}
	case !on && ss.batch:
		ss.batch, ss.node = false, ss.durable
		if err := ss.s.b.Sync(); err != nil {
			return [][]byte{wire.ErrorReply(m.Header, unix.EIO, err.Error())}
		}
	}
	if ss.stop {
		ae := netlink.NewAttributeEncoder()
		ae.Uint8(wire.AttrValue, wire.BatchStop)
		return [][]byte{wire.Reply(m.Header, wire.FamilyIbctl, 0, append(wire.GenlHeader(wire.CmdBatch), wire.Encode(ae)...)),
			wire.ErrorReply(m.Header, 0, "")}
	}
	return [][]byte{wire.ErrorReply(m.Header, 0, "")}
}

// dispatch routes one request to the backend and encodes the replies.
func dispatch(ctx context.Context, b Backend, node Node, m netlink.Message) ([][]byte, error) {
	switch m.Header.Type {
	case unix.RTM_GETLINK:
		return getLink(node, m)
	case unix.RTM_NEWLINK, unix.RTM_SETLINK:
		r, err := wire.UnmarshalLinkRequest(m.Data)
		if err != nil {
			return nil, withMsg(unix.EINVAL, err.Error())
		}
		if m.Header.Type == unix.RTM_NEWLINK && m.Header.Flags&netlink.Create != 0 {
			return nil, node.NewLink(r)
		}
		return nil, node.SetLink(r)
	case unix.RTM_DELLINK:
		r, err := wire.UnmarshalLinkRequest(m.Data)
		if err != nil {
			return nil, withMsg(unix.EINVAL, err.Error())
		}
		return nil, node.DelLink(r.Index, r.Name)
	case unix.RTM_GETADDR, unix.RTM_NEWADDR, unix.RTM_DELADDR, unix.RTM_GETNEIGH, unix.RTM_DELNEIGH:
		return addrRequest(node, m)
	case wire.FamilyEthtool:
		return ethtoolRequest(node, m)
	case wire.FamilyIbctl:
		return ibctlRequest(ctx, b, node, m)
	}
	return nil, withMsg(unix.EOPNOTSUPP, fmt.Sprintf("unknown message type %d", m.Header.Type))
}

func getLink(node Node, m netlink.Message) ([][]byte, error) {
	if m.Header.Flags&netlink.Dump != 0 {
		links, err := node.Links()
		if err != nil {
			return nil, err
		}
		out := make([][]byte, 0, len(links))
		for _, l := range links {
			out = append(out, wire.Reply(m.Header, unix.RTM_NEWLINK, netlink.Multi, wire.MarshalLink(l)))
		}
		return out, nil
	}
	r, err := wire.UnmarshalLinkRequest(m.Data)
	if err != nil {
		return nil, withMsg(unix.EINVAL, err.Error())
	}
	l, err := node.Link(r.Index, r.Name)
	if err != nil {
		return nil, err
	}
	return [][]byte{wire.Reply(m.Header, unix.RTM_NEWLINK, 0, wire.MarshalLink(l))}, nil
}

func ethtoolRequest(node Node, m netlink.Message) ([][]byte, error) {
	r, err := wire.ParseEthtoolRequest(m.Data)
	if err != nil {
		return nil, withMsg(unix.EINVAL, err.Error())
	}
	cmd, dev, want := r.Cmd, r.Dev, r.Want
	if dev == "" {
		return nil, withMsg(unix.EINVAL, "request header missing device")
	}
	one := func(typ uint8, data []byte) [][]byte {
		return [][]byte{wire.Reply(m.Header, wire.FamilyEthtool, 0, data)}
	}
	switch cmd {
	case unix.ETHTOOL_MSG_FEATURES_GET:
		fs, err := node.Features(dev)
		if err != nil {
			return nil, err
		}
		return one(cmd, wire.MarshalFeatures(dev, fs)), nil
	case unix.ETHTOOL_MSG_FEATURES_SET:
		before, after, err := node.SetFeatures(dev, want)
		if err != nil {
			return nil, err
		}
		return one(cmd, wire.MarshalFeaturesChange(dev, diffFeatures(before, after, want))), nil
	case unix.ETHTOOL_MSG_COALESCE_GET:
		c, err := node.Coalesce(dev)
		if err != nil {
			return nil, err
		}
		return one(cmd, wire.MarshalCoalesce(dev, c)), nil
	case unix.ETHTOOL_MSG_COALESCE_SET:
		return nil, node.SetCoalesce(dev, r.Coalesce)
	case unix.ETHTOOL_MSG_RINGS_GET:
		r, err := node.Rings(dev)
		if err != nil {
			return nil, err
		}
		return one(cmd, wire.MarshalRings(dev, r)), nil
	case unix.ETHTOOL_MSG_RINGS_SET:
		return nil, node.SetRings(dev, r.Rings)
	case unix.ETHTOOL_MSG_CHANNELS_GET:
		c, err := node.Channels(dev)
		if err != nil {
			return nil, err
		}
		return one(cmd, wire.MarshalChannels(dev, c)), nil
	case unix.ETHTOOL_MSG_CHANNELS_SET:
		return nil, node.SetChannels(dev, r.Channels)
	case unix.ETHTOOL_MSG_LINKINFO_GET, unix.ETHTOOL_MSG_LINKMODES_GET, unix.ETHTOOL_MSG_LINKSTATE_GET:
		ls, err := node.LinkSettings(dev)
		if err != nil {
			return nil, err
		}
		return one(cmd, wire.MarshalLinkSettings(cmd, dev, ls)), nil
	}
	return nil, withMsg(unix.EOPNOTSUPP, fmt.Sprintf("unknown ethtool command %d", cmd))
}

// diffFeatures is what ethnl_set_features reports of a change from before
// to after for the request want.
func diffFeatures(before, after []Feature, want map[string]bool) FeaturesChange {
	var c FeaturesChange
	for i, f := range after {
		if req, ok := want[f.Name]; ok && req != f.Active {
			c.Wanted = append(c.Wanted, FeatureBit{Index: uint32(i), Name: f.Name, Value: req})
		}
		if i < len(before) && before[i].Active != f.Active {
			c.Active = append(c.Active, FeatureBit{Index: uint32(i), Name: f.Name, Value: f.Active})
		}
	}
	return c
}

func ibctlRequest(ctx context.Context, b Backend, node Node, m netlink.Message) ([][]byte, error) {
	cmd, rest, err := wire.ParseGenl(m.Data)
	if err != nil {
		return nil, withMsg(unix.EINVAL, err.Error())
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return nil, withMsg(unix.EINVAL, "malformed attributes")
	}
	var path, dev, comm string
	var data []byte
	for ad.Next() {
		switch ad.Type() {
		case wire.AttrComm:
			comm = ad.String()
		case wire.AttrPath:
			path = ad.String()
		case wire.AttrDev:
			dev = ad.String()
		case wire.AttrData:
			data = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return nil, withMsg(unix.EINVAL, "malformed attributes")
	}
	if isDump := m.Header.Flags&netlink.Dump == netlink.Dump; isDump != wire.IsDump(cmd) {
		return nil, withMsg(unix.EOPNOTSUPP, fmt.Sprintf("ibctl command %d: dump flag %t, want %t", cmd, isDump, wire.IsDump(cmd)))
	}
	if wire.IsDump(cmd) {
		return ibctlDump(b, node, m, cmd, rest, path, dev)
	}
	ae := netlink.NewAttributeEncoder()
	perf := func(node Node, rest []byte, ae *netlink.AttributeEncoder) error {
		return perfRequest(ctx, node, rest, ae)
	}
	if run, ok := map[uint8]func(Node, []byte, *netlink.AttributeEncoder) error{
		wire.CmdPing: pingRequest, wire.CmdPerf: perf, wire.CmdRouteGet: routeRequest, wire.CmdDmesgClear: dmesgClearRequest}[cmd]; ok {
		if err := run(node, rest, ae); err != nil {
			return nil, err
		}
		return [][]byte{wire.Reply(m.Header, wire.FamilyIbctl, 0, append(wire.GenlHeader(cmd), wire.Encode(ae)...))}, nil
	}
	if ok, err := smRequest(b, node, cmd, rest, ae); ok {
		if err != nil {
			return nil, err
		}
		return [][]byte{wire.Reply(m.Header, wire.FamilyIbctl, 0, append(wire.GenlHeader(cmd), wire.Encode(ae)...))}, nil
	}
	switch cmd {
	case wire.CmdStatus:
		wire.EncodeStatus(ae, b.Status())
	case wire.CmdStop:
		b.Stop()
		return nil, nil
	case wire.CmdCaptureStop:
		// ends the capture the connection ran (capture.go); acked alone
		return nil, nil
	case wire.CmdSysRead:
		content, err := node.SysRead(path, comm)
		if err != nil {
			return nil, err
		}
		ae.Bytes(wire.AttrData, content)
	case wire.CmdSysWrite:
		n, err := node.SysWrite(path, data)
		if err != nil {
			return nil, err
		}
		ae.Uint32(wire.AttrWritten, uint32(n))
	case wire.CmdDrvInfo:
		di, err := node.DriverInfo(dev)
		if err != nil {
			return nil, err
		}
		wire.EncodeDriverInfo(ae, di)
	default:
		return nil, withMsg(unix.EOPNOTSUPP, fmt.Sprintf("unknown ibctl command %d", cmd))
	}
	return [][]byte{wire.Reply(m.Header, wire.FamilyIbctl, 0, append(wire.GenlHeader(cmd), wire.Encode(ae)...))}, nil
}

// msgError is an errno with an extended-ack text.
type msgError struct {
	errno unix.Errno
	msg   string
}

func (e *msgError) Error() string  { return e.errno.Error() + ": " + e.msg }
func (e *msgError) Unwrap() error  { return e.errno }
func (e *msgError) ExtAck() string { return e.msg }

func withMsg(errno unix.Errno, msg string) error { return &msgError{errno, msg} }
