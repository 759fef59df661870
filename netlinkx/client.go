package netlinkx

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Client speaks the protocol over one connection. It is safe for
// concurrent use; requests are serialised, as the server answers one
// connection's requests in order: requests that must overlap go over
// connections of their own (Clone).
type Client struct {
	mu   sync.Mutex
	conn io.ReadWriteCloser
	seq  uint32
	buf  []byte
	// redial opens another connection to the same server; nil for a
	// client wrapped around a connection of unknown origin.
	redial func() (io.ReadWriteCloser, error)
	node   string // the node bound with Bind; "" for the server's default
	// inflight are the requests sent and not yet answered, oldest
	// first; inbox the messages read and not yet consumed.
	inflight []*Pending
	inbox    []netlink.Message
}

// Dial connects to the driver socket at path. Before anything is sent, the
// process serving it must be of the effective user or root (SO_PEERCRED),
// else the connection is closed and the error is a *PeerError.
//
// The connection is a blocking socket read and written with plain system
// calls, outside the runtime's network poller: a command's requests on
// it go one at a time, and it saves the poller's system calls and a
// goroutine's parking on every reply. Those of Clone, whose requests run
// side by side (ping's), are the poller's, so that waiting for their
// replies holds no thread.
func Dial(path string) (*Client, error) {
	c, err := dialBlocking(path)
	if err != nil {
		return nil, err
	}
	cl := newClient(c)
	cl.redial = func() (io.ReadWriteCloser, error) { return dialPolled(path) }
	return cl, nil
}

// dialPolled connects to path through the network poller and checks its
// peer.
func dialPolled(path string) (io.ReadWriteCloser, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	if err := checkPeer(c, path, uint32(os.Geteuid())); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dialBlocking connects a blocking SOCK_SEQPACKET socket to path and
// checks its peer. Errors read as net.DialUnix's.
func dialBlocking(path string) (io.ReadWriteCloser, error) {
	addr := &net.UnixAddr{Name: path, Net: "unixpacket"}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "unixpacket", Addr: addr, Err: os.NewSyscallError("socket", err)}
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, &net.OpError{Op: "dial", Net: "unixpacket", Addr: addr, Err: os.NewSyscallError("connect", err)}
	}
	if err := checkPeerFD(fd, path, uint32(os.Geteuid())); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A blocking descriptor: os.File reads and writes it with plain
	// system calls and closes it once no call uses it.
	return &blockingConn{f: os.NewFile(uintptr(fd), path), addr: addr}, nil
}

// unnamed is the local address of a socket that was not bound, as the
// net package reports it (getsockname's empty path, written "@").
var unnamed net.Addr = &net.UnixAddr{Name: "@", Net: "unixpacket"}

// blockingConn is a connected blocking socket. Its errors read as a
// net.UnixConn's.
type blockingConn struct {
	f    *os.File
	addr *net.UnixAddr
}

func (c *blockingConn) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	return n, c.opError("read", err)
}

func (c *blockingConn) Write(b []byte) (int, error) {
	n, err := c.f.Write(b)
	return n, c.opError("write", err)
}

func (c *blockingConn) Close() error { return c.opError("close", c.f.Close()) }

// opError turns os.File's *PathError into the *net.OpError of a
// net.UnixConn; io.EOF stays as it is.
func (c *blockingConn) opError(op string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
		if errno, ok := err.(unix.Errno); ok {
			err = os.NewSyscallError(op, errno)
		} else if errors.Is(err, os.ErrClosed) {
			err = net.ErrClosed
		}
		return &net.OpError{Op: op, Net: "unixpacket", Source: unnamed, Addr: c.addr, Err: err}
	}
	return err
}

// ErrNoClone is Clone on a client that cannot open another connection
// (one made with NewClient).
var ErrNoClone = errors.New("client cannot open another connection")

// Clone opens another connection to the same server, bound to the same
// node: its requests run alongside c's.
func (c *Client) Clone() (*Client, error) {
	if c.redial == nil {
		return nil, ErrNoClone
	}
	conn, err := c.redial()
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	n := newClient(conn)
	n.redial = c.redial
	c.mu.Lock()
	node := c.node
	c.mu.Unlock()
	if node != "" {
		if err := n.Bind(node); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// PeerError is a socket served by a process of another user.
type PeerError struct {
	Path string
	UID  uint32 // the serving process's
	Want uint32 // the effective uid of the client
}

func (e *PeerError) Error() string {
	if e.Want == 0 {
		return fmt.Sprintf("socket %s: served by uid %d, not by root", e.Path, e.UID)
	}
	return fmt.Sprintf("socket %s: served by uid %d, not by uid %d or root", e.Path, e.UID, e.Want)
}

// checkPeer accepts the peer of c when it runs as euid or as root.
func checkPeer(c *net.UnixConn, path string, euid uint32) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("socket %s: %w", path, err)
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = checkPeerFD(int(fd), path, euid) }); err != nil {
		return fmt.Errorf("socket %s: %w", path, err)
	}
	return cerr
}

// checkPeerFD accepts the peer of the socket fd when it runs as euid or
// as root.
func checkPeerFD(fd int, path string, euid uint32) error {
	cred, cerr := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if cerr != nil {
		return fmt.Errorf("socket %s: peer credentials: %w", path, cerr)
	}
	if cred.Uid != euid && cred.Uid != 0 {
		return &PeerError{Path: path, UID: cred.Uid, Want: euid}
	}
	return nil
}

// NewClient wraps an established SOCK_SEQPACKET connection.
func NewClient(c *net.UnixConn) *Client { return newClient(c) }

func newClient(c io.ReadWriteCloser) *Client {
	return &Client{conn: c, buf: make([]byte, maxDatagram)}
}

// Pipe serves b in-process over a socketpair and returns a client for it.
func Pipe(b Backend) (*Client, error) {
	dial := func() (io.ReadWriteCloser, error) { return pipeConn(b) }
	conn, err := dial()
	if err != nil {
		return nil, err
	}
	c := newClient(conn)
	c.redial = dial
	return c, nil
}

// pipeConn is one connection of Pipe: a socketpair whose other end b
// serves.
func pipeConn(b Backend) (*net.UnixConn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "ibctl-pipe")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("socketpair: %w", err)
		}
		conns[i] = c.(*net.UnixConn)
	}
	go NewServer(b).ServeConn(conns[1])
	return conns[0], nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Execute sends one request and collects the replies up to the ack (or
// NLMSG_DONE for dumps). A negative ack becomes a *netlink.OpError whose
// Err is the errno and Message the extended-ack text. The replies of
// requests sent before it with Send are collected first.
func (c *Client) Execute(typ netlink.HeaderType, flags netlink.HeaderFlags, data []byte) ([]netlink.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.sendLocked(typ, flags, data)
	c.waitLocked(p)
	return p.msgs, p.err
}

// maxInFlight bounds the requests sent ahead of their replies: the
// driver's replies wait in the socket meanwhile, and a client that let
// them fill its receive buffer would hold the driver (and so itself) up.
const maxInFlight = 64

// Pending is a request sent with Send whose replies have not been
// collected yet.
type Pending struct {
	c    *Client
	seq  uint32
	done bool
	msgs []netlink.Message
	err  error
}

// Send sends one request without waiting for its replies, which the
// driver sends after those of every request before it; Wait collects
// them. Requests sent later, Send's or Execute's, run after it.
func (c *Client) Send(typ netlink.HeaderType, flags netlink.HeaderFlags, data []byte) *Pending {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.inflight) >= maxInFlight {
		c.receiveLocked()
	}
	return c.sendLocked(typ, flags, data)
}

// Wait returns the request's error (as Execute's), reading the replies
// of the requests sent before it on the way.
func (p *Pending) Wait() error {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	p.c.waitLocked(p)
	return p.err
}

// Done reports whether the request's replies are in, so that Wait
// returns at once.
func (p *Pending) Done() bool {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	return p.done
}

// sendLocked sends a request and queues it for its replies; a request
// that could not be sent is done with its error.
func (c *Client) sendLocked(typ netlink.HeaderType, flags netlink.HeaderFlags, data []byte) *Pending {
	c.seq++
	p := &Pending{c: c, seq: c.seq}
	b, err := wire.MarshalMessage(netlink.Header{Type: typ, Flags: netlink.Request | netlink.Acknowledge | flags, Sequence: c.seq}, data)
	if err != nil {
		p.done, p.err = true, fmt.Errorf("marshal request: %w", err)
		return p
	}
	if _, err := c.conn.Write(b); err != nil {
		if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
			err = errors.New("driver closed the connection")
		}
		p.done, p.err = true, &netlink.OpError{Op: "send", Err: err}
		return p
	}
	c.inflight = append(c.inflight, p)
	return p
}

// waitLocked collects replies until p's are in.
func (c *Client) waitLocked(p *Pending) {
	for !p.done {
		c.receiveLocked()
	}
}

// settleLocked collects the replies of every request in flight.
func (c *Client) settleLocked() {
	for len(c.inflight) > 0 {
		c.receiveLocked()
	}
}

// receiveLocked collects the replies of the oldest request in flight, up
// to its ack or NLMSG_DONE. Messages of no request in flight are dropped.
// A failed read fails that request alone: the next read fails the next.
func (c *Client) receiveLocked() {
	p := c.inflight[0]
	finish := func(err error) {
		p.done, p.err = true, err
		c.inflight[0] = nil
		c.inflight = c.inflight[1:]
		if len(c.inflight) == 0 {
			c.inflight = c.inflight[:0:0]
		}
	}
	for {
		for len(c.inbox) > 0 {
			m := c.inbox[0]
			c.inbox = c.inbox[1:]
			if m.Header.Sequence != p.seq {
				continue
			}
			switch m.Header.Type {
			case netlink.Done:
				finish(nil)
				return
			case netlink.Error:
				errno, msg, err := wire.ParseAck(m.Data)
				switch {
				case err != nil:
					p.msgs = nil
					finish(&netlink.OpError{Op: "receive", Err: err})
				case errno != 0:
					finish(&netlink.OpError{Op: "receive", Err: errno, Message: msg})
				default:
					finish(nil)
				}
				return
			default:
				p.msgs = append(p.msgs, m)
			}
		}
		n, err := c.conn.Read(c.buf)
		if errors.Is(err, io.EOF) {
			n, err = 0, nil
		}
		if err != nil {
			p.msgs = nil
			finish(&netlink.OpError{Op: "receive", Err: err})
			return
		}
		if n == 0 {
			p.msgs = nil
			finish(&netlink.OpError{Op: "receive", Err: errors.New("driver closed the connection")})
			return
		}
		msgs, err := wire.ParseMessages(c.buf[:n])
		if err != nil {
			p.msgs = nil
			finish(&netlink.OpError{Op: "receive", Err: err})
			return
		}
		c.inbox = msgs
	}
}

func (c *Client) genl(family netlink.HeaderType, cmd uint8, fn func(ae *netlink.AttributeEncoder)) ([]netlink.Message, error) {
	ae := netlink.NewAttributeEncoder()
	if fn != nil {
		fn(ae)
	}
	return c.Execute(family, 0, append(wire.GenlHeader(cmd), wire.Encode(ae)...))
}

// Bind selects the node the following requests go to.
func (c *Client) Bind(node string) error {
	_, err := c.genl(wire.FamilyIbctl, wire.CmdBind, func(ae *netlink.AttributeEncoder) { ae.String(wire.AttrNode, node) })
	if err == nil {
		c.mu.Lock()
		c.node = node
		c.mu.Unlock()
	}
	return err
}

// Batch starts (on) or ends (off) batch mode on this connection: changes
// are acknowledged before they are synced, and ending the batch syncs them
// all, so its ack means the whole batch is durable. Starting it again
// ends BatchStop's mode.
func (c *Client) Batch(on bool) error {
	v := wire.BatchOff
	if on {
		v = wire.BatchOn
	}
	_, err := c.genl(wire.FamilyIbctl, wire.CmdBatch, func(ae *netlink.AttributeEncoder) { ae.Uint8(wire.AttrValue, v) })
	return err
}

// BatchStop starts batch mode in which the first request that fails
// stops the connection, as ip -batch stops at its first failing line:
// the driver answers every later request with ECANCELED without running
// it, until Batch is called. So requests sent ahead with Send never run
// after one that failed. It reports false when the driver does not know
// this mode (it then took it as Batch(true)).
func (c *Client) BatchStop() (bool, error) {
	msgs, err := c.genl(wire.FamilyIbctl, wire.CmdBatch, func(ae *netlink.AttributeEncoder) { ae.Uint8(wire.AttrValue, wire.BatchStop) })
	if err != nil || len(msgs) == 0 {
		return false, err
	}
	_, rest, err := wire.ParseGenl(msgs[0].Data)
	if err != nil {
		return false, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return false, err
	}
	mode := wire.BatchOff
	for ad.Next() {
		if ad.Type() == wire.AttrValue {
			mode = ad.Uint8()
		}
	}
	return mode == wire.BatchStop, ad.Err()
}

// Links dumps every link.
func (c *Client) Links() ([]Link, error) {
	msgs, err := c.Execute(unix.RTM_GETLINK, netlink.Dump, wire.Ifinfomsg{}.Marshal())
	if err != nil {
		return nil, err
	}
	out := make([]Link, 0, len(msgs))
	for _, m := range msgs {
		l, err := wire.UnmarshalLink(m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// Link gets one link by name.
func (c *Client) Link(name string) (Link, error) {
	msgs, err := c.Execute(unix.RTM_GETLINK, 0, wire.MarshalLinkRequest(LinkRequest{Name: name}))
	if err != nil {
		return Link{}, err
	}
	if len(msgs) != 1 {
		return Link{}, fmt.Errorf("%w: %d replies", wire.ErrMalformed, len(msgs))
	}
	return wire.UnmarshalLink(msgs[0].Data)
}

// NewLink creates a link (RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL).
func (c *Client) NewLink(r LinkRequest) error {
	_, err := c.Execute(unix.RTM_NEWLINK, netlink.Create|netlink.Excl, wire.MarshalLinkRequest(r))
	return err
}

// SetLink changes a link (RTM_NEWLINK without NLM_F_CREATE, as ip link set).
func (c *Client) SetLink(r LinkRequest) error {
	_, err := c.Execute(unix.RTM_NEWLINK, 0, wire.MarshalLinkRequest(r))
	return err
}

// SendNewLink is NewLink sent with Send: Wait returns its error.
func (c *Client) SendNewLink(r LinkRequest) *Pending {
	return c.Send(unix.RTM_NEWLINK, netlink.Create|netlink.Excl, wire.MarshalLinkRequest(r))
}

// DelLink deletes a link by name.
func (c *Client) DelLink(name string) error {
	_, err := c.Execute(unix.RTM_DELLINK, 0, wire.MarshalLinkRequest(LinkRequest{Name: name}))
	return err
}

// SendDelLink is DelLink sent with Send: Wait returns its error.
func (c *Client) SendDelLink(name string) *Pending {
	return c.Send(unix.RTM_DELLINK, 0, wire.MarshalLinkRequest(LinkRequest{Name: name}))
}

func (c *Client) ethtool(cmd uint8, dev string) ([]netlink.Message, error) {
	return c.genl(wire.FamilyEthtool, cmd, func(ae *netlink.AttributeEncoder) { wire.EthtoolHeader(ae, dev) })
}

func single(msgs []netlink.Message) ([]byte, error) {
	if len(msgs) != 1 {
		return nil, fmt.Errorf("%w: %d replies", wire.ErrMalformed, len(msgs))
	}
	return msgs[0].Data, nil
}

// Features gets a device's features in kernel order.
func (c *Client) Features(dev string) ([]Feature, error) {
	msgs, err := c.ethtool(unix.ETHTOOL_MSG_FEATURES_GET, dev)
	if err != nil {
		return nil, err
	}
	b, err := single(msgs)
	if err != nil {
		return nil, err
	}
	return wire.UnmarshalFeatures(b)
}

// SetFeatures requests features on or off by kernel name, in order, and
// returns what the change did.
func (c *Client) SetFeatures(dev string, names []string, want map[string]bool) (FeaturesChange, error) {
	msgs, err := c.Execute(wire.FamilyEthtool, 0, wire.MarshalFeaturesSet(dev, names, want))
	if err != nil {
		return FeaturesChange{}, err
	}
	b, err := single(msgs)
	if err != nil {
		return FeaturesChange{}, err
	}
	return wire.UnmarshalFeaturesChange(b)
}

// Coalesce gets interrupt moderation parameters.
func (c *Client) Coalesce(dev string) (Coalesce, error) {
	msgs, err := c.ethtool(unix.ETHTOOL_MSG_COALESCE_GET, dev)
	if err != nil {
		return Coalesce{}, err
	}
	b, err := single(msgs)
	if err != nil {
		return Coalesce{}, err
	}
	return wire.UnmarshalCoalesce(b)
}

// SetCoalesce sets interrupt moderation parameters (attributes in order).
func (c *Client) SetCoalesce(dev string, set CoalesceSet, order []uint16) error {
	_, err := c.Execute(wire.FamilyEthtool, 0, wire.MarshalCoalesceSet(dev, set, order))
	return err
}

// Rings gets ring sizes.
func (c *Client) Rings(dev string) (Rings, error) {
	msgs, err := c.ethtool(unix.ETHTOOL_MSG_RINGS_GET, dev)
	if err != nil {
		return Rings{}, err
	}
	b, err := single(msgs)
	if err != nil {
		return Rings{}, err
	}
	return wire.UnmarshalRings(b)
}

// Channels gets channel counts.
func (c *Client) Channels(dev string) (Channels, error) {
	msgs, err := c.ethtool(unix.ETHTOOL_MSG_CHANNELS_GET, dev)
	if err != nil {
		return Channels{}, err
	}
	b, err := single(msgs)
	if err != nil {
		return Channels{}, err
	}
	return wire.UnmarshalChannels(b)
}

// SetChannels sets channel counts (u32 attributes in order).
func (c *Client) SetChannels(dev string, set ChannelsSet, order []uint16) error {
	_, err := c.Execute(wire.FamilyEthtool, 0, wire.MarshalChannelsSet(dev, set, order))
	return err
}

// SetRings sets ring sizes (attributes in order; ETHTOOL_A_RINGS_TX_PUSH
// goes as a u8, the others as u32).
func (c *Client) SetRings(dev string, set RingsSet, order []uint16) error {
	_, err := c.Execute(wire.FamilyEthtool, 0, wire.MarshalRingsSet(dev, set, order))
	return err
}

// LinkSettings gets link info, link modes and link state.
func (c *Client) LinkSettings(dev string) (LinkSettings, error) {
	var ls LinkSettings
	for _, cmd := range []uint8{unix.ETHTOOL_MSG_LINKINFO_GET, unix.ETHTOOL_MSG_LINKMODES_GET, unix.ETHTOOL_MSG_LINKSTATE_GET} {
		msgs, err := c.ethtool(cmd, dev)
		if err != nil {
			return LinkSettings{}, err
		}
		b, err := single(msgs)
		if err != nil {
			return LinkSettings{}, err
		}
		if err := wire.UnmarshalLinkSettings(b, &ls); err != nil {
			return LinkSettings{}, err
		}
	}
	return ls, nil
}

func (c *Client) ibctl(cmd uint8, fn func(ae *netlink.AttributeEncoder)) (*netlink.AttributeDecoder, error) {
	msgs, err := c.genl(wire.FamilyIbctl, cmd, fn)
	if err != nil {
		return nil, err
	}
	b, err := single(msgs)
	if err != nil {
		return nil, err
	}
	_, rest, err := wire.ParseGenl(b)
	if err != nil {
		return nil, err
	}
	return netlink.NewAttributeDecoder(rest)
}

// SysRead reads a sysfs file as this program (its command name, what
// the kernel's current->comm would be).
func (c *Client) SysRead(path string) ([]byte, error) {
	return c.SysReadAs(path, selfComm())
}

// selfComm is this process's command name (/proc/self/comm).
func selfComm() string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// SysReadAs reads a sysfs file for the program comm, which show
// functions that log name (dev_id's).
func (c *Client) SysReadAs(path, comm string) ([]byte, error) {
	ad, err := c.ibctl(wire.CmdSysRead, func(ae *netlink.AttributeEncoder) {
		ae.String(wire.AttrPath, path)
		if comm != "" {
			ae.String(wire.AttrComm, comm)
		}
	})
	if err != nil {
		return nil, err
	}
	var data []byte
	for ad.Next() {
		if ad.Type() == wire.AttrData {
			data = ad.Bytes()
		}
	}
	return data, ad.Err()
}

// SysWrite writes data to a sysfs file and returns the accepted byte count.
func (c *Client) SysWrite(path string, data []byte) (int, error) {
	ad, err := c.ibctl(wire.CmdSysWrite, func(ae *netlink.AttributeEncoder) {
		ae.String(wire.AttrPath, path)
		ae.Bytes(wire.AttrData, data)
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for ad.Next() {
		if ad.Type() == wire.AttrWritten {
			n = int(ad.Uint32())
		}
	}
	return n, ad.Err()
}

// SendSysWrite is SysWrite sent with Send: Wait returns its error.
func (c *Client) SendSysWrite(path string, data []byte) *Pending {
	ae := netlink.NewAttributeEncoder()
	ae.String(wire.AttrPath, path)
	ae.Bytes(wire.AttrData, data)
	return c.Send(wire.FamilyIbctl, 0, append(wire.GenlHeader(wire.CmdSysWrite), wire.Encode(ae)...))
}

// SysList lists a sysfs directory.
func (c *Client) SysList(path string) ([]SysEntry, error) {
	var out []SysEntry
	err := c.dump(wire.CmdSysList, wire.AttrEntry, func(ae *netlink.AttributeEncoder) { ae.String(wire.AttrPath, path) }, func(n *netlink.AttributeDecoder) {
		out = append(out, wire.DecodeSysEntry(n))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DriverInfo is `ethtool -i`.
func (c *Client) DriverInfo(dev string) (DriverInfo, error) {
	ad, err := c.ibctl(wire.CmdDrvInfo, func(ae *netlink.AttributeEncoder) { ae.String(wire.AttrDev, dev) })
	if err != nil {
		return DriverInfo{}, err
	}
	di := wire.DecodeDriverInfo(ad)
	return di, ad.Err()
}

// Stats is `ethtool -S`.
func (c *Client) Stats(dev string) ([]Stat, error) {
	var out []Stat
	err := c.dump(wire.CmdStats, wire.AttrStat, func(ae *netlink.AttributeEncoder) { ae.String(wire.AttrDev, dev) }, func(n *netlink.AttributeDecoder) {
		out = append(out, wire.DecodeStat(n))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Status describes the driver.
func (c *Client) Status() (Status, error) {
	ad, err := c.ibctl(wire.CmdStatus, nil)
	if err != nil {
		return Status{}, err
	}
	st := wire.DecodeStatus(ad)
	return st, ad.Err()
}

// Stop asks the driver to exit.
func (c *Client) Stop() error {
	_, err := c.genl(wire.FamilyIbctl, wire.CmdStop, nil)
	return err
}
