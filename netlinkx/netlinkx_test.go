package netlinkx

import (
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// fakeNode is a Node over a fixed link list.
type fakeNode struct {
	links   []Link
	added   []LinkRequest
	entries []SysEntry // the listing of every directory when set
	rings   []RingsSet // RINGS_SET requests received
}

func (f *fakeNode) Links() ([]Link, error) { return f.links, nil }
func (f *fakeNode) Link(index int32, name string) (Link, error) {
	for _, l := range f.links {
		if l.Name == name || (index != 0 && l.Index == index) {
			return l, nil
		}
	}
	return Link{}, withMsg(unix.ENODEV, "no such device")
}
func (f *fakeNode) NewLink(r LinkRequest) error {
	if r.PKey != nil && *r.PKey == 0x8000 {
		return withMsg(unix.EINVAL, "bad pkey")
	}
	f.added = append(f.added, r)
	return nil
}
func (f *fakeNode) SetLink(r LinkRequest) error        { return unix.ENODEV }
func (f *fakeNode) DelLink(int32, string) error        { return nil }
func (f *fakeNode) Features(string) ([]Feature, error) { return testFeatures, nil }
func (f *fakeNode) SetFeatures(string, map[string]bool) ([]Feature, []Feature, error) {
	return testFeatures, testFeaturesAfter, nil
}
func (f *fakeNode) Coalesce(string) (Coalesce, error) {
	return Coalesce{RxUsecs: 3, RxFrames: 16, Supported: []uint16{unix.ETHTOOL_A_COALESCE_RX_USECS, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES}}, nil
}
func (f *fakeNode) SetCoalesce(string, CoalesceSet) error { return unix.EOPNOTSUPP }
func (f *fakeNode) Channels(string) (Channels, error) {
	return Channels{CombinedMax: 2, Combined: 2}, nil
}
func (f *fakeNode) SetChannels(string, ChannelsSet) error { return nil }
func (f *fakeNode) Rings(string) (Rings, error) {
	return Rings{RxMax: 8192, TxMax: 8192, Rx: 256, Tx: 128}, nil
}
func (f *fakeNode) SetRings(_ string, set RingsSet) error {
	f.rings = append(f.rings, set)
	return nil
}
func (f *fakeNode) LinkSettings(string) (LinkSettings, error) {
	return LinkSettings{Port: 0xff, SpeedMegabits: 100000, Duplex: 1, Autoneg: 1, PHYAddress: 255, Link: true}, nil
}
func (f *fakeNode) DriverInfo(string) (DriverInfo, error) {
	return DriverInfo{Driver: "ib_ipoib", Version: "6.18.0", Firmware: "2.42.5000", BusInfo: "0000:81:00.0", NStats: 8}, nil
}
func (f *fakeNode) Stats(string) ([]Stat, error) {
	return []Stat{{Name: "rx_packets", Value: 1}, {Name: "tx_packets", Value: 2}}, nil
}
func (f *fakeNode) SysRead(p, _ string) ([]byte, error) {
	if p == "class/net/ib0/mtu" {
		return []byte("2044\n"), nil
	}
	return nil, unix.ENOENT
}
func (f *fakeNode) SysWrite(p string, b []byte) (int, error) { return len(b), nil }
func (f *fakeNode) HCA() (HCA, error) {
	return HCA{Name: "mlx4_0", Type: "MT4099", Firmware: "2.42.5000", NodeGUID: 0x2c90300001000, SysImageGUID: 7,
		Ports: []HCAPort{{Num: 1, State: "Active", PhysState: "LinkUp", Rate: "100", LID: 1, SMLID: 1, PortGUID: 0x2c90300001001, Width: "4X", Speed: "EDR", MTU: 4096, PKeys: []uint16{0xffff, 0x8001}}}}, nil
}
func (f *fakeNode) SysList(string) ([]SysEntry, error) {
	if f.entries != nil {
		return f.entries, nil
	}
	return []SysEntry{{Name: "class", Mode: SysDir | 0o755}, {Name: "module", Mode: SysDir | 0o755}}, nil
}

// testFeaturesAfter is testFeatures after a change that turned
// tx-checksum-ipv4 on and failed to turn tx-scatter-gather off.
var testFeaturesAfter = []Feature{
	{Name: "tx-scatter-gather", Wanted: true, Active: true},
	{Name: "tx-checksum-ipv4", Available: true, Wanted: true, Active: true},
	{Name: "vlan-challenged", Wanted: true, Active: true, NoChange: true},
}

var testFeatures = []Feature{
	{Name: "tx-scatter-gather", Wanted: true, Active: true},
	{Name: "tx-checksum-ipv4", Available: true, Wanted: true},
	{Name: "vlan-challenged", Wanted: true, Active: true, NoChange: true},
}

type fakeBackend struct {
	node  *fakeNode
	nodes []string // Status's node list when set
	parts []Partition
	grps  []Group // the SM's groups and partitions when set
	mu    sync.Mutex
	syncs int
}

func (b *fakeBackend) syncCount() int { b.mu.Lock(); defer b.mu.Unlock(); return b.syncs }

func (b *fakeBackend) Node(name string) (Node, error) {
	if name != "" && name != "node0" {
		return nil, withMsg(unix.ENOENT, "no node")
	}
	return b.node, nil
}
func (b *fakeBackend) Partitions() []Partition {
	if b.parts != nil {
		return b.parts
	}
	return []Partition{{PKey: 0xffff, MTU: 2048, All: "full"}, {PKey: 0x8001, MTU: 4096, Members: []PartitionMember{{Node: "node0", Port: 1, Full: true}, {Node: "node1", Port: 2}}}}
}
func (b *fakeBackend) AddPartition(p Partition) error {
	if p.PKey == 0x8001 {
		return withMsg(unix.EEXIST, "partition 0x8001 exists")
	}
	return nil
}
func (b *fakeBackend) DelPartition(uint16) error { return withMsg(unix.ENOENT, "no partition") }
func (b *fakeBackend) Groups() []Group {
	if b.grps != nil {
		return b.grps
	}
	return []Group{{MGID: [16]byte{0xff, 0x12, 0x40, 0x1b, 0xff, 0xff, 15: 0xff}, MLID: 0xc000, PKey: 0xffff, QKey: 0xb1b, MTU: 2048, Rate: 100000, Broadcast: true,
		Members: []GroupMember{{Node: "node0", Port: 1, JoinState: 1}}}}
}
func (b *fakeBackend) Status() Status {
	if b.nodes != nil {
		return Status{PID: 7, Nodes: b.nodes}
	}
	return Status{PID: 7, Nodes: []string{"node0"}, Uptime: 3, StartedNs: 1_700_000_000_123_456_789}
}
func (b *fakeBackend) Stop()       {}
func (b *fakeBackend) Sync() error { b.mu.Lock(); b.syncs++; b.mu.Unlock(); return nil }

var testLink = Link{
	Index: 2, Type: 32, Flags: unix.IFF_UP | unix.IFF_BROADCAST, Name: "ib0", MTU: 2044, MaxMTU: 65520, TxQLen: 256,
	Qdisc: "pfifo_fast", Operstate: 6, Carrier: true, Address: make([]byte, 20), Broadcast: make([]byte, 20), NumTxQ: 1, NumRxQ: 1,
	Kind: "ipoib", IPoIB: &IPoIB{PKey: 0xffff, Mode: 1, Umcast: 1}, Stats: Stats{RxPackets: 5, Multicast: 9},
	ParentBus: "pci", ParentDev: "0000:81:00.0",
}

func newPipe(t *testing.T) (*Client, *fakeNode) {
	t.Helper()
	n := &fakeNode{links: []Link{testLink}}
	c, err := Pipe(&fakeBackend{node: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, n
}

func TestRoundTrip(t *testing.T) {
	c, n := newPipe(t)
	links, err := c.Links()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Link{testLink}, links); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	pk, mode := uint16(0x8001), uint16(1)
	if err := c.NewLink(LinkRequest{Name: "ib0.8001", ParentIndex: 2, Kind: "ipoib", PKey: &pk, Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]LinkRequest{{Name: "ib0.8001", ParentIndex: 2, Kind: "ipoib", PKey: &pk, Mode: &mode}}, n.added); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	fs, err := c.Features("ib0")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(testFeatures, fs); diff != "" {
		t.Errorf("features (-want +got):\n%s", diff)
	}
	ch, err := c.SetFeatures("ib0", []string{"tx-checksum-ipv4", "tx-scatter-gather"}, map[string]bool{"tx-checksum-ipv4": true, "tx-scatter-gather": false})
	if err != nil {
		t.Fatal(err)
	}
	wantCh := FeaturesChange{Wanted: []FeatureBit{{Index: 0, Name: "tx-scatter-gather", Value: false}}, Active: []FeatureBit{{Index: 1, Name: "tx-checksum-ipv4", Value: true}}}
	if diff := cmp.Diff(wantCh, ch); diff != "" {
		t.Errorf("features set reply (-want +got):\n%s", diff)
	}
	co, err := c.Coalesce("ib0")
	if err != nil || co.RxUsecs != 3 || co.RxFrames != 16 || len(co.Supported) != 2 {
		t.Errorf("coalesce = %+v, %v", co, err)
	}
	ls, err := c.LinkSettings("ib0")
	if err != nil || ls.SpeedMegabits != 100000 || !ls.Link || ls.PHYAddress != 255 {
		t.Errorf("link settings = %+v, %v", ls, err)
	}
	di, err := c.DriverInfo("ib0")
	if err != nil || di.BusInfo != "0000:81:00.0" || di.NStats != 8 {
		t.Errorf("drvinfo = %+v, %v", di, err)
	}
	st, err := c.Stats("ib0")
	if err != nil || len(st) != 2 || st[1] != (Stat{Name: "tx_packets", Value: 2}) {
		t.Errorf("stats = %+v, %v", st, err)
	}
	b, err := c.SysRead("class/net/ib0/mtu")
	if err != nil || string(b) != "2044\n" {
		t.Errorf("sys read = %q, %v", b, err)
	}
	ents, err := c.SysList("")
	if err != nil || len(ents) != 2 || ents[0].Name != "class" {
		t.Errorf("sys list = %+v, %v", ents, err)
	}
}

func TestErrorsCarryErrnoAndExtAck(t *testing.T) {
	c, _ := newPipe(t)
	pk := uint16(0x8000)
	err := c.NewLink(LinkRequest{Name: "x", ParentIndex: 2, Kind: "ipoib", PKey: &pk})
	var oe *netlink.OpError
	if !errors.As(err, &oe) || !errors.Is(err, unix.EINVAL) || oe.Message != "bad pkey" {
		t.Fatalf("err = %#v", err)
	}
	if _, err := c.SysRead("nope"); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("sys read err = %v", err)
	}
	if err := c.SetCoalesce("ib0", CoalesceSet{unix.ETHTOOL_A_COALESCE_TX_USECS: 1}, []uint16{unix.ETHTOOL_A_COALESCE_TX_USECS}); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("coalesce err = %v", err)
	}
	if err := c.Bind("node9"); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("bind err = %v", err)
	}
}

// rawPair returns a raw connection to a server for garbage tests.
func rawPair(t *testing.T) (*net.UnixConn, *Client) {
	t.Helper()
	return rawPairWith(t, &fakeNode{links: []Link{testLink}})
}

// rawPairWith is rawPair over the node n.
func rawPairWith(t *testing.T, n *fakeNode) (*net.UnixConn, *Client) {
	t.Helper()
	conn, _ := serveBackend(t, &fakeBackend{node: n})
	return conn, NewClient(conn)
}

// serveBackend serves b over a socketpair and returns the client's end
// and a channel closed once the server is done with the connection.
func serveBackend(t *testing.T, b Backend) (*net.UnixConn, <-chan struct{}) {
	t.Helper()
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
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewServer(b).ServeConn(conns[1])
	}()
	t.Cleanup(func() { conns[0].Close() })
	return conns[0], done
}

func TestGarbageGetsErrorReplyAndServerGoesOn(t *testing.T) {
	raw, c := rawPair(t)
	frames := map[string][]byte{
		"short":            {1, 2, 3},
		"length too big":   {0xff, 0, 0, 0, 16, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0},
		"length too small": {4, 0, 0, 0, 16, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0},
		"truncated ifinfomsg": func() []byte {
			b, _ := wire.MarshalMessage(netlink.Header{Type: unix.RTM_NEWLINK, Flags: netlink.Request | netlink.Create, Sequence: 9}, []byte{0, 0, 1})
			return b
		}(),
		"bad attributes": func() []byte {
			b, _ := wire.MarshalMessage(netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request, Sequence: 9}, append(make([]byte, 16), 0xff, 0xff, 1, 0))
			return b
		}(),
		"unknown type": func() []byte {
			b, _ := wire.MarshalMessage(netlink.Header{Type: 0x7777, Flags: netlink.Request, Sequence: 9}, nil)
			return b
		}(),
	}
	buf := make([]byte, 65536)
	for name, frame := range frames {
		if _, err := raw.Write(frame); err != nil {
			t.Fatalf("%s: write: %v", name, err)
		}
		n, err := raw.Read(buf)
		if err != nil {
			t.Fatalf("%s: read: %v", name, err)
		}
		msgs, err := wire.ParseMessages(buf[:n])
		if err != nil || len(msgs) != 1 || msgs[0].Header.Type != netlink.Error {
			t.Fatalf("%s: reply %v %v", name, msgs, err)
		}
		errno, _, _ := wire.ParseAck(msgs[0].Data)
		if errno != unix.EINVAL && errno != unix.EOPNOTSUPP {
			t.Fatalf("%s: errno %v", name, errno)
		}
		// the connection still serves
		if _, err := c.Link("ib0"); err != nil {
			t.Fatalf("%s: after garbage: %v", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(wire.MarshalLink(testLink))
	f.Add(wire.MarshalLinkRequest(LinkRequest{Name: "ib0", ParentIndex: 2, Kind: "ipoib"}))
	f.Add(wire.MarshalFeatures("ib0", testFeatures))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ss := &session{s: NewServer(&fakeBackend{node: &fakeNode{links: []Link{testLink}}})}
		for _, r := range ss.handleDatagram(b) {
			if _, err := wire.ParseMessages(r); err != nil {
				t.Fatalf("server produced an unparsable reply: %v", err)
			}
		}
	})
}

func TestBatchSyncsAtEndAndOnClose(t *testing.T) {
	b := &fakeBackend{node: &fakeNode{links: []Link{testLink}}}
	conn, served := serveBackend(t, b)
	c := NewClient(conn)
	if err := c.Batch(true); err != nil {
		t.Fatal(err)
	}
	if n := b.syncCount(); n != 0 {
		t.Fatalf("synced %d times at batch start", n)
	}
	if err := c.Batch(false); err != nil {
		t.Fatal(err)
	}
	if n := b.syncCount(); n != 1 {
		t.Fatalf("synced %d times at batch end, want 1", n)
	}
	if err := c.Batch(true); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not end the connection its client closed")
	}
	if n := b.syncCount(); n != 2 {
		t.Fatalf("synced %d times after closing a connection in a batch, want 2", n)
	}
}

func TestSMRoundTrip(t *testing.T) {
	c, _ := newPipe(t)
	h, err := c.HCA()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := (&fakeNode{}).HCA()
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("hca (-want +got):\n%s", diff)
	}
	parts, err := c.Partitions()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff((&fakeBackend{}).Partitions(), parts); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
	groups, err := c.Groups()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff((&fakeBackend{}).Groups(), groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	if err := c.AddPartition(Partition{PKey: 0x8001}); !errors.Is(err, unix.EEXIST) {
		t.Errorf("add: %v", err)
	}
	if err := c.DelPartition(0x8009); !errors.Is(err, unix.ENOENT) {
		t.Errorf("del: %v", err)
	}
}
