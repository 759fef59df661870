package netns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// dial opens an rtnetlink socket inside the namespace.
func (ns *Namespace) dial() (*rtnetlink.Conn, error) {
	c, err := rtnetlink.Dial(&netlink.Config{NetNS: ns.fd})
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: rtnetlink: %w", ns.Name, err)
	}
	return c, nil
}

// loopbackUp brings lo up, as a booted host has it.
func (ns *Namespace) loopbackUp() error {
	c, err := ns.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	ifi, err := c.Link.List()
	if err != nil {
		return fmt.Errorf("network namespace %s: links: %w", ns.Name, err)
	}
	for _, l := range ifi {
		if l.Attributes != nil && l.Attributes.Name == "lo" {
			return ns.setLink(c, l.Index, true, 0)
		}
	}
	return fmt.Errorf("network namespace %s: no lo", ns.Name)
}

func (ns *Namespace) setLink(c *rtnetlink.Conn, index uint32, up bool, mtu uint32) error {
	var flags uint32
	if up {
		flags = unix.IFF_UP
	}
	m := &rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: index, Flags: flags, Change: unix.IFF_UP}
	if mtu != 0 {
		m.Attributes = &rtnetlink.LinkAttributes{MTU: mtu}
	}
	if err := c.Link.Set(m); err != nil {
		return fmt.Errorf("network namespace %s: link %d: %w", ns.Name, index, err)
	}
	return nil
}

// Conn is an rtnetlink connection inside a namespace, for the changes the
// driver makes there.
type Conn struct {
	ns *Namespace
	c  *rtnetlink.Conn
	// raw is a plain rtnetlink socket for what the typed library does
	// not encode (IFLA_TXQLEN on set).
	raw *netlink.Conn
}

// Dial opens a connection for changes in the namespace.
func (ns *Namespace) Dial() (*Conn, error) {
	c, err := ns.dial()
	if err != nil {
		return nil, err
	}
	raw, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: ns.fd})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("network namespace %s: rtnetlink: %w", ns.Name, err)
	}
	return &Conn{ns: ns, c: c, raw: raw}, nil
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.raw.Close()
	return c.c.Close()
}

// SetTxQueueLen sets a device's transmit queue length (ip link set
// txqueuelen).
func (c *Conn) SetTxQueueLen(index, qlen uint32) error {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(unix.IFLA_TXQLEN, qlen)
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	msg := make([]byte, unix.SizeofIfInfomsg, unix.SizeofIfInfomsg+len(attrs))
	msg[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(msg[4:], index)
	_, err = c.raw.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWLINK,
		Flags: netlink.Request | netlink.Acknowledge}, Data: append(msg, attrs...)})
	if err != nil {
		return fmt.Errorf("network namespace %s: link %d: txqueuelen %d: %w", c.ns.Name, index, qlen, err)
	}
	return nil
}

// SetLink sets a device up or down and its MTU.
func (c *Conn) SetLink(index uint32, up bool, mtu uint32) error {
	return c.ns.setLink(c.c, index, up, mtu)
}

// SetName renames a device.
func (c *Conn) SetName(index uint32, name string) error {
	err := c.c.Link.Set(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: index,
		Attributes: &rtnetlink.LinkAttributes{Name: name}})
	if err != nil {
		return fmt.Errorf("network namespace %s: link %d: rename %s: %w", c.ns.Name, index, name, err)
	}
	return nil
}

// Link is a device's state as the kernel reports it.
type Link struct {
	Index  uint32
	Name   string
	Up     bool
	MTU    uint32
	TxQLen uint32
}

// Link reads one device's state.
// A device that is gone fails with an error that errors.Is finds as
// unix.ENODEV.
func (c *Conn) Link(index uint32) (Link, error) {
	// A plain request, not the library's Get (a dump filtered in
	// user space), so that the kernel's ENODEV comes back as it is.
	ms, err := c.c.Execute(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: index}, unix.RTM_GETLINK, netlink.Request)
	if err == nil && len(ms) != 1 {
		err = fmt.Errorf("%d replies", len(ms))
	}
	if err != nil {
		return Link{}, fmt.Errorf("network namespace %s: link %d: %w", c.ns.Name, index, err)
	}
	m, ok := ms[0].(*rtnetlink.LinkMessage)
	if !ok {
		return Link{}, fmt.Errorf("network namespace %s: link %d: reply of type %T", c.ns.Name, index, ms[0])
	}
	return linkOf(*m), nil
}

func linkOf(m rtnetlink.LinkMessage) Link {
	l := Link{Index: m.Index, Up: m.Flags&unix.IFF_UP != 0}
	if m.Attributes != nil {
		l.Name, l.MTU = m.Attributes.Name, m.Attributes.MTU
		if m.Attributes.TxQueueLen != nil {
			l.TxQLen = *m.Attributes.TxQueueLen
		}
	}
	return l
}

// Addr is an interface address: its device and prefix.
type Addr struct {
	Index  uint32
	Prefix netip.Prefix
	// Broadcast is an IPv4 address's broadcast address, if it has one:
	// as with ip, an address has none unless it was given one.
	Broadcast netip.Addr
}

// AddAddr adds an address to a device, with the prefix route the kernel
// adds with it. An address it already has is not an error.
func (c *Conn) AddAddr(a Addr) error {
	err := c.c.Address.New(addrMsg(a))
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("network namespace %s: add %s: %w", c.ns.Name, a.Prefix, err)
	}
	return nil
}

// DelAddr removes an address; one already gone is not an error.
func (c *Conn) DelAddr(a Addr) error {
	err := c.c.Address.Delete(addrMsg(a))
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("network namespace %s: delete %s: %w", c.ns.Name, a.Prefix, err)
	}
	return nil
}

// Addrs lists the addresses of a device.
func (c *Conn) Addrs(index uint32) ([]netip.Prefix, error) {
	all, err := c.AllAddrs()
	if err != nil {
		return nil, err
	}
	return Prefixes(all[index]), nil
}

// AllAddrs lists the addresses of every device, by device, with their
// broadcast addresses.
func (c *Conn) AllAddrs() (map[uint32][]Addr, error) {
	ms, err := c.c.Address.List()
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: addresses: %w", c.ns.Name, err)
	}
	out := map[uint32][]Addr{}
	for _, m := range ms {
		if a, ok := addrOf(m); ok {
			out[a.Index] = append(out[a.Index], a)
		}
	}
	return out, nil
}

// Prefixes are the prefixes of addrs, in their order.
func Prefixes(addrs []Addr) []netip.Prefix {
	if addrs == nil {
		return nil
	}
	out := make([]netip.Prefix, len(addrs))
	for i, a := range addrs {
		out[i] = a.Prefix
	}
	return out
}

// Links lists every device's state, by device.
func (c *Conn) Links() (map[uint32]Link, error) {
	ms, err := c.c.Link.List()
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: links: %w", c.ns.Name, err)
	}
	out := make(map[uint32]Link, len(ms))
	for _, m := range ms {
		out[m.Index] = linkOf(m)
	}
	return out, nil
}

func addrMsg(a Addr) *rtnetlink.AddressMessage {
	ip := net.IP(a.Prefix.Addr().AsSlice())
	fam := uint8(unix.AF_INET6)
	attrs := &rtnetlink.AddressAttributes{Address: ip, Local: ip}
	if a.Prefix.Addr().Is4() {
		fam = unix.AF_INET
		if a.Broadcast.Is4() {
			attrs.Broadcast = net.IP(a.Broadcast.AsSlice())
		}
	} else {
		attrs.Local = nil
		// A driver-chosen IPv6 address is no tentative guess: skip DAD.
		attrs.Flags = unix.IFA_F_NODAD
	}
	scope := uint8(unix.RT_SCOPE_UNIVERSE)
	if a.Prefix.Addr().IsLinkLocalUnicast() {
		scope = unix.RT_SCOPE_LINK
	}
	return &rtnetlink.AddressMessage{Family: fam, PrefixLength: uint8(a.Prefix.Bits()), Scope: scope,
		Index: a.Index, Attributes: attrs}
}

func addrOf(m rtnetlink.AddressMessage) (Addr, bool) {
	if m.Attributes == nil {
		return Addr{}, false
	}
	ip := m.Attributes.Local
	if ip == nil {
		ip = m.Attributes.Address
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return Addr{}, false
	}
	out := Addr{Index: m.Index}
	if m.Family == unix.AF_INET {
		a = a.Unmap()
		// IFA_BROADCAST: present only when the address was given one
		// (ip addr add ... brd), as ip prints it.
		if b, ok := netip.AddrFromSlice(m.Attributes.Broadcast); ok {
			out.Broadcast = b.Unmap()
		}
	}
	out.Prefix = netip.PrefixFrom(a, int(m.PrefixLength))
	return out, true
}

// Route is a unicast route of the namespace's main table through a
// device: to Dst, through the gateway Via, or on-link when Via is not
// valid.
type Route struct {
	Index uint32
	Dst   netip.Prefix
	Via   netip.Addr
}

// Routes lists the unicast routes of the main table, IPv4 and IPv6, by
// device; a multipath route gives each of its next hops.
func (c *Conn) Routes() (map[uint32][]Route, error) {
	ms, err := c.c.Route.List()
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: routes: %w", c.ns.Name, err)
	}
	out := map[uint32][]Route{}
	for _, m := range ms {
		if !mainUnicast(m) {
			continue
		}
		dst, ok := routeDst(m)
		if !ok {
			continue
		}
		add := func(index uint32, gw net.IP) {
			r := Route{Index: index, Dst: dst}
			if a, ok := netip.AddrFromSlice(gw); ok {
				r.Via = a
				if m.Family == unix.AF_INET {
					r.Via = a.Unmap()
				}
			}
			out[index] = append(out[index], r)
		}
		if len(m.Attributes.Multipath) == 0 {
			add(m.Attributes.OutIface, m.Attributes.Gateway)
		}
		for _, nh := range m.Attributes.Multipath {
			add(nh.Hop.IfIndex, nh.Gateway)
		}
	}
	return out, nil
}

// mainUnicast reports whether a route is a unicast route of the main
// table (RT_TABLE_MAIN, which a table ID over 255 replaces with
// RTA_TABLE).
func mainUnicast(m rtnetlink.RouteMessage) bool {
	table := uint32(m.Table)
	if m.Attributes.Table != 0 {
		table = m.Attributes.Table
	}
	return m.Type == unix.RTN_UNICAST && table == unix.RT_TABLE_MAIN
}

// routeDst is a route's destination prefix: the default route has no
// RTA_DST.
func routeDst(m rtnetlink.RouteMessage) (netip.Prefix, bool) {
	var a netip.Addr
	switch {
	case m.Attributes.Dst != nil:
		var ok bool
		if a, ok = netip.AddrFromSlice(m.Attributes.Dst); !ok {
			return netip.Prefix{}, false
		}
		if m.Family == unix.AF_INET {
			a = a.Unmap()
		}
	case m.Family == unix.AF_INET:
		a = netip.IPv4Unspecified()
	case m.Family == unix.AF_INET6:
		a = netip.IPv6Unspecified()
	default:
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, int(m.DstLength)), true
}

// Event is a change the kernel announced in the namespace: a device's
// state (Link set), an address added or deleted (Addr set), a unicast
// route of the main table (Route), or a route of another kind or table
// or a policy routing rule (Policy).
type Event struct {
	Link    *Link
	Addr    *Addr
	Route   bool
	Policy  bool
	Deleted bool
	// Overrun is set when the kernel dropped events (the socket's buffer
	// filled): the receiver must read the whole state again.
	Overrun bool
}

// maxReceiveErrors is how many failed reads in a row end a watch: a
// socket that fails that often is broken.
const maxReceiveErrors = 100

// Watch reports the namespace's link, address, route and rule changes
// to fn, one at a time, until the returned stop function is called.
func (ns *Namespace) Watch(fn func(Event)) (stop func(), err error) {
	c, err := ns.dial()
	if err != nil {
		return nil, err
	}
	for _, g := range []uint32{unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR,
		unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE, unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE} {
		if err := c.JoinGroup(g); err != nil {
			c.Close()
			return nil, fmt.Errorf("network namespace %s: watch: %w", ns.Name, err)
		}
	}
	done := make(chan struct{})
	var stopped atomic.Bool
	go func() {
		defer close(done)
		for failed := 0; failed < maxReceiveErrors; {
			msgs, raw, err := c.Receive()
			if stopped.Load() {
				return
			}
			if err != nil {
				// ENOBUFS (events lost), or a message that did not
				// decode: either way, read the whole state again.
				fn(Event{Overrun: true})
				if !errors.Is(err, unix.ENOBUFS) {
					failed++
				}
				continue
			}
			failed = 0
			for i, m := range msgs {
				t := raw[i].Header.Type
				switch m := m.(type) {
				case *rtnetlink.LinkMessage:
					l := linkOf(*m)
					fn(Event{Link: &l, Deleted: t == unix.RTM_DELLINK})
				case *rtnetlink.AddressMessage:
					if a, ok := addrOf(*m); ok {
						fn(Event{Addr: &a, Deleted: t == unix.RTM_DELADDR})
					}
				case *rtnetlink.RouteMessage:
					main := mainUnicast(*m)
					fn(Event{Route: main, Policy: !main, Deleted: t == unix.RTM_DELROUTE})
				case *rtnetlink.RuleMessage:
					fn(Event{Policy: true, Deleted: t == unix.RTM_DELRULE})
				}
			}
		}
	}()
	return func() { stopped.Store(true); c.Close(); <-done }, nil
}

// Hop is the kernel's routing decision for one datagram: the device it
// leaves by, and the gateway it is sent to (Via), or none when the
// destination is on link.
type Hop struct {
	Index uint32
	Via   netip.Addr
}

// loopbackIndex is lo's ifindex in every namespace (LOOPBACK_IFINDEX).
const loopbackIndex = 1

// RouteGet asks the namespace's kernel how it routes a datagram from src
// to dst with the traffic class tos out of the device oif, as `ip route
// get DST from SRC oif DEV tos TOS` does: every rule and table applied.
// The IPv4 output lookup refuses a source that is not the namespace's
// own; such a datagram is one the namespace forwards, and is asked as
// forwarded from lo (`ip route get DST from SRC iif lo`). An answer of
// another kind than a unicast route, or through another device, is an
// error.
func (c *Conn) RouteGet(src, dst netip.Addr, tos uint8, oif uint32) (Hop, error) {
	h, err := c.routeGet(src, dst, tos, oif, 0)
	if err != nil && dst.Is4() {
		h, err = c.routeGet(src, dst, tos, oif, loopbackIndex)
	}
	if err != nil {
		return Hop{}, fmt.Errorf("network namespace %s: route get %s from %s: %w", c.ns.Name, dst, src, err)
	}
	if h.Index != oif {
		return Hop{}, fmt.Errorf("network namespace %s: route get %s from %s: routed out of device %d, not %d",
			c.ns.Name, dst, src, h.Index, oif)
	}
	return h, nil
}

// routeGet sends one RTM_GETROUTE: an output lookup, or with iif an
// input lookup on that device.
func (c *Conn) routeGet(src, dst netip.Addr, tos uint8, oif, iif uint32) (Hop, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.RTA_DST, dst.AsSlice())
	ae.Bytes(unix.RTA_SRC, src.AsSlice())
	if iif != 0 {
		ae.Uint32(unix.RTA_IIF, iif)
	} else {
		ae.Uint32(unix.RTA_OIF, oif)
	}
	attrs, err := ae.Encode()
	if err != nil {
		return Hop{}, err
	}
	// struct rtmsg: family, dst_len, src_len, tos, then table,
	// protocol, scope, type and flags, all zero.
	msg := make([]byte, unix.SizeofRtMsg, unix.SizeofRtMsg+len(attrs))
	msg[0] = unix.AF_INET6
	if dst.Is4() {
		msg[0] = unix.AF_INET
	}
	msg[1], msg[2], msg[3] = uint8(dst.BitLen()), uint8(src.BitLen()), tos
	ms, err := c.raw.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETROUTE,
		Flags: netlink.Request}, Data: append(msg, attrs...)})
	if err != nil {
		return Hop{}, err
	}
	if len(ms) != 1 {
		return Hop{}, fmt.Errorf("%d replies", len(ms))
	}
	var m rtnetlink.RouteMessage
	if err := m.UnmarshalBinary(ms[0].Data); err != nil {
		return Hop{}, err
	}
	if m.Type != unix.RTN_UNICAST {
		return Hop{}, fmt.Errorf("route of type %d", m.Type)
	}
	if m.Attributes.Via != nil {
		return Hop{}, errors.New("a gateway of another family")
	}
	h := Hop{Index: m.Attributes.OutIface}
	if a, ok := netip.AddrFromSlice(m.Attributes.Gateway); ok {
		h.Via = a
		if dst.Is4() {
			h.Via = a.Unmap()
		}
	}
	return h, nil
}
