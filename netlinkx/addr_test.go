package netlinkx

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ipNode is a fakeNode with an IP stack: it records the requests and
// answers from fixed tables.
type ipNode struct {
	*fakeNode
	addrs   []Addr
	neighs  []Neigh
	added   []Addr
	deleted []Addr
	// delNeighs are the neighbour deletions that reached the node.
	delNeighs []Neigh
}

var _ AddrNode = (*ipNode)(nil)

func (n *ipNode) Addrs() ([]Addr, error)   { return n.addrs, nil }
func (n *ipNode) Neighs() ([]Neigh, error) { return n.neighs, nil }
func (n *ipNode) AddAddr(a Addr) error {
	for _, x := range n.addrs {
		if x.Index == a.Index && string(x.Local) == string(a.Local) {
			return unix.EEXIST
		}
	}
	n.added = append(n.added, a)
	return nil
}
func (n *ipNode) DelNeigh(m Neigh) error {
	for _, x := range n.neighs {
		if x.Index == m.Index && string(x.Dst) == string(m.Dst) {
			n.delNeighs = append(n.delNeighs, m)
			return nil
		}
	}
	return unix.ENOENT
}
func (n *ipNode) DelAddr(a Addr) error {
	for _, x := range n.addrs {
		if x.Index == a.Index && string(x.Local) == string(a.Local) && (a.PrefixLen == 0 || a.PrefixLen == x.PrefixLen) {
			n.deleted = append(n.deleted, a)
			return nil
		}
	}
	return withMsg(unix.EADDRNOTAVAIL, "address not found")
}

// ipBackend serves an ipNode.
type ipBackend struct {
	fakeBackend
	ip *ipNode
}

func (b *ipBackend) Node(name string) (Node, error) {
	if _, err := b.fakeBackend.Node(name); err != nil {
		return nil, err
	}
	return b.ip, nil
}

var (
	v4Addr = Addr{Index: 2, Family: unix.AF_INET, PrefixLen: 24, Local: []byte{10, 0, 0, 1},
		Broadcast: []byte{10, 0, 0, 255}, Label: "ib0"}
	v4Secondary = Addr{Index: 2, Family: unix.AF_INET, PrefixLen: 24, Flags: unix.IFA_F_SECONDARY, Local: []byte{10, 0, 0, 2}, Label: "ib0"}
	v6Link      = Addr{Index: 2, Family: unix.AF_INET6, PrefixLen: 64, Scope: unix.RT_SCOPE_LINK, Flags: unix.IFA_F_NODAD,
		Local: []byte{0xfe, 0x80, 15: 1}}
	testNeighs = []Neigh{
		{Index: 2, Family: unix.AF_INET6, State: unix.NUD_STALE, Flags: unix.NTF_ROUTER, Dst: []byte{0xfd, 15: 2}, LLAddr: make([]byte, 20)},
		{Index: 2, Family: unix.AF_INET, State: unix.NUD_REACHABLE, Dst: []byte{10, 0, 0, 2}, Used: 250, Confirmed: 300,
			LLAddr: []byte{0x80, 0, 0, 0x48, 0xfe, 0x80, 12: 0x02, 0xc9, 0x03, 0, 0, 0, 0x20, 0x01}, Updated: 0x01020304, Refcnt: 1, Probes: 4},
		{Index: 3, Family: unix.AF_INET, State: unix.NUD_FAILED, Dst: []byte{10, 0, 0, 9}},
	}
)

// permanent is a as the server reports it: IFA_F_PERMANENT set, and for
// IPv6 neither label nor broadcast.
func permanent(a Addr) Addr {
	a.Flags |= unix.IFA_F_PERMANENT
	if a.Family == unix.AF_INET6 {
		a.Label, a.Broadcast = "", nil
	}
	return a
}

func request(typ netlink.HeaderType, flags netlink.HeaderFlags, data []byte) netlink.Message {
	return netlink.Message{Header: netlink.Header{Type: typ, Flags: netlink.Request | flags, Sequence: 5}, Data: data}
}

// TestAddrRequest drives the server side directly: dumps, family order and
// filter, validation, and nodes without an IP stack.
func TestAddrRequest(t *testing.T) {
	n := &ipNode{fakeNode: &fakeNode{}, addrs: []Addr{v6Link, v4Addr, v4Secondary}, neighs: testNeighs}
	decodeAll := func(replies [][]byte, typ netlink.HeaderType) []netlink.Message {
		t.Helper()
		var out []netlink.Message
		for _, r := range replies {
			msgs, err := wire.ParseMessages(r)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if m.Header.Type != typ || m.Header.Flags&netlink.Multi == 0 || m.Header.Sequence != 5 {
					t.Fatalf("reply header %+v", m.Header)
				}
			}
			out = append(out, msgs...)
		}
		return out
	}
	dumpAddrs := func(family uint8) []Addr {
		t.Helper()
		replies, err := addrRequest(n, request(unix.RTM_GETADDR, netlink.Dump, wire.Ifaddrmsg{Family: family}.Marshal()))
		if err != nil {
			t.Fatal(err)
		}
		var out []Addr
		for _, m := range decodeAll(replies, unix.RTM_NEWADDR) {
			a, err := wire.UnmarshalAddr(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, a)
		}
		return out
	}
	all := []Addr{permanent(v4Addr), permanent(v4Secondary), permanent(v6Link)}
	if diff := cmp.Diff(all, dumpAddrs(unix.AF_UNSPEC)); diff != "" {
		t.Errorf("dump (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(all[2:], dumpAddrs(unix.AF_INET6)); diff != "" {
		t.Errorf("inet6 dump (-want +got):\n%s", diff)
	}
	replies, err := addrRequest(n, request(unix.RTM_GETNEIGH, netlink.Dump, wire.Ndmsg{}.Marshal()))
	if err != nil {
		t.Fatal(err)
	}
	var neighs []Neigh
	for _, m := range decodeAll(replies, unix.RTM_NEWNEIGH) {
		nb, err := wire.UnmarshalNeigh(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		neighs = append(neighs, nb)
	}
	if diff := cmp.Diff([]Neigh{testNeighs[1], testNeighs[2], testNeighs[0]}, neighs); diff != "" {
		t.Errorf("neighbours, IPv4 first (-want +got):\n%s", diff)
	}

	bad := func(a Addr) []byte { return wire.MarshalAddrRequest(a) }
	for _, tc := range []struct {
		name  string
		m     netlink.Message
		errno unix.Errno
	}{
		{"get one address", request(unix.RTM_GETADDR, 0, wire.Ifaddrmsg{}.Marshal()), unix.EOPNOTSUPP},
		{"get one neighbour", request(unix.RTM_GETNEIGH, 0, wire.Ndmsg{}.Marshal()), unix.EOPNOTSUPP},
		{"replace", request(unix.RTM_NEWADDR, netlink.Create|netlink.Replace, bad(v4Addr)), unix.EOPNOTSUPP},
		{"change", request(unix.RTM_NEWADDR, 0, bad(v4Addr)), unix.EOPNOTSUPP},
		{"no family", request(unix.RTM_NEWADDR, netlink.Create|netlink.Excl, bad(Addr{Index: 2})), unix.EOPNOTSUPP},
		{"short address", request(unix.RTM_NEWADDR, netlink.Create|netlink.Excl, bad(Addr{Index: 2, Family: unix.AF_INET6, Local: []byte{10, 0, 0, 1}})), unix.EINVAL},
		{"long prefix", request(unix.RTM_DELADDR, 0, bad(Addr{Index: 2, Family: unix.AF_INET, PrefixLen: 33, Local: []byte{10, 0, 0, 1}})), unix.EINVAL},
		{"bad broadcast", request(unix.RTM_NEWADDR, netlink.Create|netlink.Excl, bad(Addr{Index: 2, Family: unix.AF_INET, Local: []byte{10, 0, 0, 1}, Broadcast: []byte{1}})), unix.EINVAL},
		{"truncated", request(unix.RTM_NEWADDR, netlink.Create|netlink.Excl, []byte{2, 24}), unix.EINVAL},
		{"exists", request(unix.RTM_NEWADDR, netlink.Create|netlink.Excl, bad(v4Addr)), unix.EEXIST},
		{"not there", request(unix.RTM_DELADDR, 0, bad(Addr{Index: 2, Family: unix.AF_INET, PrefixLen: 24, Local: []byte{10, 9, 9, 9}})), unix.EADDRNOTAVAIL},
	} {
		before := len(n.added) + len(n.deleted)
		if _, err := addrRequest(n, tc.m); ErrnoOf(err) != tc.errno {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.errno)
		}
		if len(n.added)+len(n.deleted) != before {
			t.Errorf("%s reached the node", tc.name)
		}
	}
	for _, typ := range []netlink.HeaderType{unix.RTM_GETADDR, unix.RTM_NEWADDR, unix.RTM_DELADDR, unix.RTM_GETNEIGH, unix.RTM_DELNEIGH} {
		_, err := addrRequest(&fakeNode{}, request(typ, netlink.Dump|netlink.Create|netlink.Excl, bad(v4Addr)))
		if !errors.Is(err, unix.EOPNOTSUPP) || extAckOf(err) != "this node has no IP stack" {
			t.Errorf("type %d on a node without IP stack: %v", typ, err)
		}
	}
}

func TestAddrRoundTrip(t *testing.T) {
	n := &ipNode{fakeNode: &fakeNode{links: []Link{testLink}}, addrs: []Addr{v6Link, v4Addr}, neighs: testNeighs}
	c, err := Pipe(&ipBackend{ip: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	addrs, err := c.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Addr{permanent(v4Addr), permanent(v6Link)}, addrs); diff != "" {
		t.Errorf("addrs (-want +got):\n%s", diff)
	}
	neighs, err := c.Neighs()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Neigh{testNeighs[1], testNeighs[2], testNeighs[0]}, neighs); diff != "" {
		t.Errorf("neighs (-want +got):\n%s", diff)
	}
	add := Addr{Index: 2, Family: unix.AF_INET, PrefixLen: 16, Scope: unix.RT_SCOPE_HOST, Local: []byte{127, 1, 0, 1},
		Broadcast: []byte{127, 1, 255, 255}, Label: "ib0:lo"}
	if err := c.AddAddr(add); err != nil {
		t.Fatal(err)
	}
	del := Addr{Index: 2, Family: unix.AF_INET, Local: []byte{10, 0, 0, 1}} // any prefix length
	if err := c.DelAddr(del); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Addr{add}, n.added); diff != "" {
		t.Errorf("added (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Addr{del}, n.deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}

	if err := c.DelNeigh(testNeighs[2]); err != nil {
		t.Fatal(err)
	}
	want := Neigh{Index: 3, Family: unix.AF_INET, Dst: []byte{10, 0, 0, 9}}
	if diff := cmp.Diff([]Neigh{want}, n.delNeighs); diff != "" {
		t.Errorf("neighbours deleted (-want +got):\n%s", diff)
	}
	if err := c.DelNeigh(Neigh{Index: 3, Family: unix.AF_INET, Dst: []byte{10, 0, 0, 8}}); !errors.Is(err, unix.ENOENT) {
		t.Errorf("del missing neighbour: %v", err)
	}
	if err := c.DelNeigh(Neigh{Index: 3, Family: unix.AF_INET}); !errors.Is(err, unix.EINVAL) || len(n.delNeighs) != 1 {
		t.Errorf("del neighbour without address: %v, %d deleted", err, len(n.delNeighs))
	}

	var oe *netlink.OpError
	if err := c.AddAddr(v4Addr); !errors.As(err, &oe) || oe.Err != unix.EEXIST {
		t.Errorf("add existing: %#v", err)
	}
	err = c.DelAddr(Addr{Index: 2, Family: unix.AF_INET6, PrefixLen: 64, Local: make([]byte, 16)})
	if !errors.As(err, &oe) || oe.Err != unix.EADDRNOTAVAIL || oe.Message != "address not found" {
		t.Errorf("del missing: %#v", err)
	}
	if err := c.AddAddr(Addr{Index: 2}); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("add without family: %v", err)
	}
	// the connection still serves links
	if _, err := c.Link("ib0"); err != nil {
		t.Fatal(err)
	}
}

func TestAddrWithoutIPStack(t *testing.T) {
	c, _ := newPipe(t)
	var oe *netlink.OpError
	for name, err := range map[string]error{
		"addrs":     func() error { _, err := c.Addrs(); return err }(),
		"neighs":    func() error { _, err := c.Neighs(); return err }(),
		"add":       c.AddAddr(v4Addr),
		"del":       c.DelAddr(v4Addr),
		"neigh del": c.DelNeigh(testNeighs[0]),
	} {
		if !errors.As(err, &oe) || oe.Err != unix.EOPNOTSUPP || oe.Message != "this node has no IP stack" {
			t.Errorf("%s: %#v", name, err)
		}
	}
}

// FuzzAddrRequest: no RTM_NEWADDR or RTM_DELADDR payload makes the
// server's address requests panic.
func FuzzAddrRequest(f *testing.F) {
	f.Add(wire.MarshalAddrRequest(v4Addr))
	f.Add(wire.MarshalAddrRequest(v6Link))
	f.Add([]byte{2, 24, 0})
	n := &ipNode{fakeNode: &fakeNode{}, addrs: []Addr{v4Addr}, neighs: testNeighs}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, typ := range []netlink.HeaderType{unix.RTM_NEWADDR, unix.RTM_DELADDR} {
			_, _ = addrRequest(n, request(typ, netlink.Create|netlink.Excl, b))
		}
		n.added, n.deleted = nil, nil
	})
}
