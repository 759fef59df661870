package driver

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/store"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// openStore opens the store in dir or fails the test.
func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.OpenOptions(dir, store.Options{Dict: StoreDict()}) // as the daemon opens it
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newTestDriver(t *testing.T, st *store.Store) (*Driver, *Node) {
	t.Helper()
	var mu sync.Mutex
	var logs []string
	d, err := New(Options{Store: st, Log: func(s string) { mu.Lock(); logs = append(logs, s); mu.Unlock() }, KernelRelease: "6.18.0-test"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	n, err := d.Node("node0")
	if err != nil {
		t.Fatalf("Node: %v", err)
	}
	return d, n
}

func mustLink(t *testing.T, n *Node, name string) netlinkx.Link {
	t.Helper()
	l, err := n.Link(0, name)
	if err != nil {
		t.Fatalf("Link(%s): %v", name, err)
	}
	return l
}

func wantErrno(t *testing.T, err error, want unix.Errno) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestCreateChildRules(t *testing.T) {
	tests := []struct {
		name  string
		pkeys []uint16 // written in order; the last one is checked
		want  unix.Errno
		dev   string // created device
		pkey  uint16 // its stored pkey
	}{
		{"full member", []uint16{0x8001}, 0, "ib0.8001", 0x8001},
		{"limited named as written", []uint16{0x0001}, 0, "ib0.0001", 0x8001},
		{"0x7fff gets parent pkey value", []uint16{0x7fff}, 0, "ib0.7fff", 0xffff},
		{"parent pkey", []uint16{0xffff}, unix.ENOTUNIQ, "", 0},
		{"duplicate", []uint16{0x8001, 0x8001}, unix.ENOTUNIQ, "", 0},
		{"limited twice is a name clash", []uint16{0x0001, 0x0001}, unix.EEXIST, "", 0},
		{"limited then full", []uint16{0x0001, 0x8001}, unix.ENOTUNIQ, "", 0},
		{"0x8000", []uint16{0x8000}, unix.EINVAL, "", 0},
		{"zero", []uint16{0}, unix.EINVAL, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, n := newTestDriver(t, nil)
			var err error
			for _, p := range tt.pkeys {
				err = n.CreateChild("ib0", p)
			}
			wantErrno(t, err, tt.want)
			if tt.dev != "" {
				l := mustLink(t, n, tt.dev)
				if l.IPoIB.PKey != tt.pkey {
					t.Errorf("pkey = %#x, want %#x", l.IPoIB.PKey, tt.pkey)
				}
				if l.MTU != 4092 {
					t.Errorf("new child mtu = %d, want 4092", l.MTU)
				}
			}
			if tt.want != 0 && len(n.Devices()) != 2+len(tt.pkeys)-1 {
				t.Errorf("devices = %v after failure", n.Devices())
			}
		})
	}
}

func TestDeleteChild(t *testing.T) {
	_, n := newTestDriver(t, nil)
	wantErrno(t, n.CreateChild("ib0", 0x0001), 0)
	wantErrno(t, n.DeleteChild("ib0", 0x0001), unix.ENODEV)
	wantErrno(t, n.DeleteChild("ib0", 0x8002), unix.ENODEV)
	// netlink children are never matched
	wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "nl", ParentIndex: mustLink(t, n, "ib0").Index, Kind: "ipoib", PKey: ptr(uint16(0x8005))}), 0)
	wantErrno(t, n.DeleteChild("ib0", 0x8005), unix.ENODEV)
	wantErrno(t, n.DeleteChild("ib0", 0x8001), 0)
	if got := n.Devices(); len(got) != 3 || got[2] != "nl" {
		t.Fatalf("devices = %v", got)
	}
}

// TestNewLinkMTU checks `ip link add … mtu N type ipoib` against the
// kernel: rtnl_create_link (net/core/rtnetlink.c) validates N with
// dev_validate_mtu while min_mtu and max_mtu are still 0, so only a value
// negative as an int is refused ("mtu less than device minimum"); then
// ipoib_ndo_init (ipoib_main.c) sets the port's datagram MTU whatever N
// was, and ipoib_changelink's connected mode sets the connected-mode one.
func TestNewLinkMTU(t *testing.T) {
	_, n := newTestDriver(t, nil)
	p := mustLink(t, n, "ib0")
	for i, tc := range []struct {
		mtu  uint32
		mode *uint16
		want unix.Errno
		msg  string
		got  uint32
	}{
		{1500, nil, 0, "", 4092},
		{4093, nil, 0, "", 4092},
		{71, nil, 0, "", 4092},
		{0, nil, 0, "", 4092},
		{100000, nil, 0, "", 4092},
		{0x7fffffff, nil, 0, "", 4092},
		{1400, ptr(netlinkx.ModeConnected), 0, "", 65520},
		{0x80000000, nil, unix.EINVAL, "mtu less than device minimum", 0},
		{0xffffffff, nil, unix.EINVAL, "mtu less than device minimum", 0},
	} {
		name := fmt.Sprintf("m%d", i)
		err := n.NewLink(netlinkx.LinkRequest{Name: name, ParentIndex: p.Index, Kind: "ipoib",
			PKey: ptr(uint16(0x8001 + i)), MTU: ptr(tc.mtu), Mode: tc.mode})
		wantErrno(t, err, tc.want)
		if tc.want != 0 {
			var de *Error
			if !errors.As(err, &de) || de.Msg != tc.msg {
				t.Fatalf("mtu %d: error %v, want message %q", tc.mtu, err, tc.msg)
			}
			if _, err := n.Link(0, name); err == nil {
				t.Fatalf("mtu %d: %s created", tc.mtu, name)
			}
			continue
		}
		if got := mustLink(t, n, name).MTU; got != tc.got {
			t.Errorf("mtu %d: %s has mtu %d, want %d", tc.mtu, name, got, tc.got)
		}
	}
}

func TestMTURules(t *testing.T) {
	_, n := newTestDriver(t, nil)
	set := func(r netlinkx.LinkRequest) error { r.Name = "ib0"; return n.SetLink(r) }
	mtu := func() uint32 { return mustLink(t, n, "ib0").MTU }
	if mtu() != 4092 {
		t.Fatalf("down parent mtu = %d, want 4092 (port MTU − 4)", mtu())
	}
	wantErrno(t, set(netlinkx.LinkRequest{Up: ptr(true)}), 0)
	if mtu() != 2044 {
		t.Fatalf("up parent mtu = %d, want 2044 (broadcast group 2048 − 4)", mtu())
	}
	steps := []struct {
		req  netlinkx.LinkRequest
		want unix.Errno
		mtu  uint32
	}{
		{netlinkx.LinkRequest{MTU: ptr(uint32(4092))}, 0, 2044},
		{netlinkx.LinkRequest{MTU: ptr(uint32(4093))}, unix.EINVAL, 2044},
		{netlinkx.LinkRequest{MTU: ptr(uint32(71))}, unix.EINVAL, 2044},
		{netlinkx.LinkRequest{MTU: ptr(uint32(72))}, 0, 72},
		{netlinkx.LinkRequest{MTU: ptr(uint32(65521))}, unix.EINVAL, 72},
		{netlinkx.LinkRequest{Mode: ptr(netlinkx.ModeConnected)}, 0, 65520},
		{netlinkx.LinkRequest{MTU: ptr(uint32(65521))}, unix.EINVAL, 65520},
		{netlinkx.LinkRequest{MTU: ptr(uint32(9000))}, 0, 9000},
		{netlinkx.LinkRequest{Mode: ptr(netlinkx.ModeDatagram)}, 0, 2044},
		{netlinkx.LinkRequest{Mode: ptr(uint16(2))}, unix.EINVAL, 2044},
		// failed mode+mtu request leaves the mode unchanged too
		{netlinkx.LinkRequest{Mode: ptr(netlinkx.ModeConnected), MTU: ptr(uint32(70000))}, unix.EINVAL, 2044},
	}
	for i, s := range steps {
		wantErrno(t, set(s.req), s.want)
		if got := mtu(); got != s.mtu {
			t.Fatalf("step %d: mtu = %d, want %d", i, got, s.mtu)
		}
	}
	if mode := mustLink(t, n, "ib0").IPoIB.Mode; mode != netlinkx.ModeDatagram {
		t.Fatalf("mode = %d after failed request", mode)
	}
}

func TestConnectedModeNeedsCapability(t *testing.T) {
	topo := fabric.DefaultTopology()
	topo.Nodes[0].Ports[0].Caps = &fabric.Capabilities{}
	d, err := New(Options{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := d.Node("node0")
	wantErrno(t, n.SetMode("ib0", netlinkx.ModeConnected), unix.EINVAL)
	if a := mustLink(t, n, "ib0").Address; a[0] != 0 {
		t.Fatalf("address flags = %#x, want 0", a[0])
	}
	if a := mustLink(t, n, "ib1").Address; a[0] != 0x80 {
		t.Fatalf("ib1 address flags = %#x, want 0x80", a[0])
	}
	// newlink with mode connected on a non-CM port: the new device is removed
	p := mustLink(t, n, "ib0")
	wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "x", ParentIndex: p.Index, Kind: "ipoib", PKey: ptr(uint16(0x8001)), Mode: ptr(netlinkx.ModeConnected)}), unix.EINVAL)
	if _, err := n.Link(0, "x"); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("x exists after failed newlink: %v", err)
	}
}

func TestFeaturesFollowMode(t *testing.T) {
	_, n := newTestDriver(t, nil)
	state := func() map[string]netlinkx.Feature {
		fs, err := n.Features("ib0")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]netlinkx.Feature{}
		for _, f := range fs {
			m[f.Name] = f
		}
		return m
	}
	f := state()
	for _, name := range []string{"tx-checksum-ipv4", "rx-checksum", "tx-tcp-segmentation", "tx-scatter-gather", "highdma"} {
		if !f[name].Active {
			t.Errorf("datagram: %s off", name)
		}
	}
	if f["rx-lro"].Active || !f["rx-lro"].Available {
		t.Errorf("lro: %+v, want available and off", f["rx-lro"])
	}
	wantErrno(t, setFeatures(n, "ib0", map[string]bool{"rx-lro": true}), 0)
	wantErrno(t, n.SetMode("ib0", netlinkx.ModeConnected), 0)
	f = state()
	for _, name := range []string{"tx-checksum-ipv4", "tx-tcp-segmentation", "rx-lro"} {
		if f[name].Active || !f[name].Wanted {
			t.Errorf("connected: %s = %+v, want off [requested on]", name, f[name])
		}
	}
	if !f["rx-checksum"].Active {
		t.Error("connected: rx-checksum off")
	}
	wantErrno(t, n.SetMode("ib0", netlinkx.ModeDatagram), 0)
	f = state()
	for _, name := range []string{"tx-checksum-ipv4", "tx-tcp-segmentation", "rx-lro"} {
		if !f[name].Active {
			t.Errorf("datagram again: %s off", name)
		}
	}
	wantErrno(t, setFeatures(n, "ib0", map[string]bool{"no-such": true}), unix.EINVAL)
}

// TestCoalesceLimits checks COALESCE_SET against net/ethtool/coalesce.c's
// ethnl_set_coalesce_validate (a parameter outside
// supported_coalesce_params: EINVAL with "cannot modify an unsupported
// parameter", checked before any value) and ipoib_ethtool.c's
// ipoib_set_coalesce (values above 0xffff: EINVAL, no message).
func TestCoalesceLimits(t *testing.T) {
	_, n := newTestDriver(t, nil)
	const unsupported = "cannot modify an unsupported parameter"
	tests := []struct {
		set  netlinkx.CoalesceSet
		want unix.Errno
		msg  string
	}{
		{netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_RX_USECS: 70000}, unix.EINVAL, ""},
		{netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES: 0x10000}, unix.EINVAL, ""},
		{netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_TX_USECS: 5}, unix.EINVAL, unsupported},
		{netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX: 1}, unix.EINVAL, unsupported},
		{netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_RX_USECS: 70000, unix.ETHTOOL_A_COALESCE_TX_USECS: 5}, unix.EINVAL, unsupported},
		{netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_RX_USECS: 0xffff, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES: 16}, 0, ""},
	}
	for i, tt := range tests {
		err := n.SetCoalesce("ib0", tt.set)
		wantErrno(t, err, tt.want)
		var de *Error
		if tt.want != 0 && (!errors.As(err, &de) || de.Msg != tt.msg) {
			t.Fatalf("case %d: error %#v, want message %q", i, err, tt.msg)
		}
		c, _ := n.Coalesce("ib0")
		if tt.want != 0 && (c.RxUsecs != 0 || c.RxFrames != 0) {
			t.Fatalf("case %d: coalesce changed on failure: %+v", i, c)
		}
		if tt.want == 0 && (c.RxUsecs != 0xffff || c.RxFrames != 16) {
			t.Fatalf("case %d: coalesce = %+v", i, c)
		}
	}
}

func TestCarrierNeedsPKeyInTable(t *testing.T) {
	_, n := newTestDriver(t, nil)
	p := mustLink(t, n, "ib0")
	wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "ib0.8001", ParentIndex: p.Index, Kind: "ipoib", PKey: ptr(uint16(0x8001))}), 0)
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0.8001", Up: ptr(true)}), 0)
	l := mustLink(t, n, "ib0.8001")
	// DOWN, not LOWERLAYERDOWN: ib0 was never opened, so it still has its
	// initial carrier (link_watch.c default_operstate since 6.1).
	if l.Carrier || l.Flags&unix.IFF_UP == 0 || l.Operstate != ifOperDown {
		t.Fatalf("child: carrier=%v flags=%#x operstate=%d", l.Carrier, l.Flags, l.Operstate)
	}
	ls, _ := n.LinkSettings("ib0.8001")
	if ls.SpeedMegabits != 0 || ls.Link {
		t.Fatalf("link settings without carrier: %+v", ls)
	}
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	if l := mustLink(t, n, "ib0.8001"); l.Carrier || l.Operstate != ifOperDown {
		t.Fatalf("child with absent pkey has carrier=%v operstate=%d", l.Carrier, l.Operstate)
	}
	ls, _ = n.LinkSettings("ib0")
	if ls.SpeedMegabits != 100000 || !ls.Link {
		t.Fatalf("parent link settings: %+v", ls)
	}
}

// TestChildOperstate checks a child's operstate against link_watch.c's
// default_operstate (6.1 and later): without carrier a child is
// LOWERLAYERDOWN only when its parent (ipoib_get_iflink) has no carrier,
// and a parent never opened still has the carrier alloc_netdev gave it;
// a device not running is reported DOWN (rtnl_fill_ifinfo).
func TestChildOperstate(t *testing.T) {
	_, n := newTestDriver(t, nil)
	p := mustLink(t, n, "ib0")
	// 0x8001 is not in the port's P_Key table: the child never has carrier.
	wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "c", ParentIndex: p.Index, Kind: "ipoib", PKey: ptr(uint16(0x8001))}), 0)
	for i, step := range []struct {
		dev  string
		up   bool
		want uint8
	}{
		{"c", true, ifOperDown},           // parent never opened: carrier on
		{"ib0", true, ifOperDown},         // parent up with carrier
		{"ib0", false, ifOperDown},        // ipoib_stop takes the child down too
		{"c", true, ifOperLowerLayerDown}, // parent down after an open: no carrier
		{"c", false, ifOperDown},          // not running
		{"ib0", true, ifOperDown},         // the parent brings the child up with it
		{"c", false, ifOperDown},
	} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: step.dev, Up: ptr(step.up)}), 0)
		if got := mustLink(t, n, "c").Operstate; got != step.want {
			t.Errorf("step %d (%s up=%v): child operstate %d, want %d", i, step.dev, step.up, got, step.want)
		}
	}
}

func TestParentUpDownPropagates(t *testing.T) {
	_, n := newTestDriver(t, nil)
	wantErrno(t, n.CreateChild("ib0", 0x7fff), 0)
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	if l := mustLink(t, n, "ib0.7fff"); !l.Carrier || l.MTU != 2044 {
		t.Fatalf("child after parent up: carrier=%v mtu=%d", l.Carrier, l.MTU)
	}
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(false)}), 0)
	if l := mustLink(t, n, "ib0.7fff"); l.Flags&unix.IFF_UP != 0 {
		t.Fatal("child still up after parent down")
	}
}

func TestDelLinkParentIsNoop(t *testing.T) {
	_, n := newTestDriver(t, nil)
	wantErrno(t, n.CreateChild("ib0", 0x8001), 0)
	wantErrno(t, n.DelLink(0, "ib0"), 0)
	wantErrno(t, n.DelLink(0, "nope"), unix.ENODEV)
	if got := n.Devices(); len(got) != 3 {
		t.Fatalf("devices = %v", got)
	}
}

func TestRestoreAfterRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	_, n := newTestDriver(t, st)
	p := mustLink(t, n, "ib0")
	wantErrno(t, n.CreateChild("ib0", 0x0001), 0)
	wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "nl0", ParentIndex: p.Index, Kind: "ipoib", PKey: ptr(uint16(0x7fff)), Umcast: ptr(uint16(1))}), 0)
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true), MTU: ptr(uint32(1500))}), 0)
	wantErrno(t, n.SetMode("nl0", netlinkx.ModeConnected), 0)
	wantErrno(t, setFeatures(n, "ib0", map[string]bool{"rx-gro": false}), 0)
	wantErrno(t, n.SetCoalesce("ib0", netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES: 16}), 0)
	wantErrno(t, n.SetParam("debug_level", 3), 0)
	before, _ := n.Links()
	featBefore, _ := n.Features("ib0")
	st.Close()

	st2, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	_, n2 := newTestDriver(t, st2)
	after, _ := n2.Links()
	if len(after) != len(before) {
		t.Fatalf("links %d → %d", len(before), len(after))
	}
	for i := range before {
		b, a := before[i], after[i]
		if b.Name != a.Name || b.Index != a.Index || b.MTU != a.MTU || *b.IPoIB != *a.IPoIB || b.Flags != a.Flags ||
			string(b.Address) != string(a.Address) || b.Qdisc != a.Qdisc {
			t.Errorf("link %d: before %+v %+v\nafter %+v %+v", i, b, *b.IPoIB, a, *a.IPoIB)
		}
	}
	featAfter, _ := n2.Features("ib0")
	for i := range featBefore {
		if featBefore[i] != featAfter[i] {
			t.Errorf("feature %s: %+v → %+v", featBefore[i].Name, featBefore[i], featAfter[i])
		}
	}
	if c, _ := n2.Coalesce("ib0"); c.RxFrames != 16 {
		t.Errorf("rx-frames = %d", c.RxFrames)
	}
	for _, p := range n2.Params() {
		if p.Name == "debug_level" && p.Value != 3 {
			t.Errorf("debug_level = %d", p.Value)
		}
	}
	// the allocators continue: the next child gets a fresh ifindex
	wantErrno(t, n2.CreateChild("ib0", 0x8002), 0)
	if l := mustLink(t, n2, "ib0.8002"); l.Index != before[len(before)-1].Index+1 {
		t.Errorf("new ifindex %d", l.Index)
	}
}

func TestStartParams(t *testing.T) {
	tests := []struct {
		in   map[string]int
		want map[string]int
		err  bool
	}{
		{nil, map[string]int{"send_queue_size": 128, "recv_queue_size": 256}, false},
		{map[string]int{"send_queue_size": 100, "recv_queue_size": 300}, map[string]int{"send_queue_size": 128, "recv_queue_size": 512}, false},
		{map[string]int{"send_queue_size": 20000, "recv_queue_size": 1}, map[string]int{"send_queue_size": 8192, "recv_queue_size": 2}, false},
		{map[string]int{"send_queue_size": 200}, map[string]int{"send_queue_size": 256}, false},
		{map[string]int{"bogus": 1}, nil, true},
		{map[string]int{"send_queue_size": 0}, nil, true},
	}
	for _, tt := range tests {
		d, err := New(Options{Params: tt.in})
		if tt.err {
			if err == nil {
				t.Errorf("%v: no error", tt.in)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tt.in, err)
		}
		n, _ := d.Node("")
		got := map[string]int{}
		for _, p := range n.Params() {
			got[p.Name] = p.Value
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%v: %s = %d, want %d", tt.in, k, got[k], v)
			}
		}
		if l := mustLink(t, n, "ib0"); l.TxQLen != uint32(2*got["send_queue_size"]) {
			t.Errorf("qlen = %d", l.TxQLen)
		}
	}
}

func TestPartitionAddBringsChildUp(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	d, n := newTestDriver(t, st)
	p := mustLink(t, n, "ib0")
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "c1", ParentIndex: p.Index, Kind: "ipoib", PKey: ptr(uint16(0x8001)), Up: ptr(true)}), 0)
	if l := mustLink(t, n, "c1"); l.Carrier || l.MTU != 4092 {
		t.Fatalf("before: carrier=%v mtu=%d", l.Carrier, l.MTU)
	}
	wantErrno(t, d.AddPartition(netlinkx.Partition{PKey: 0x8001, MTU: 4096, All: "full"}), 0)
	if l := mustLink(t, n, "c1"); !l.Carrier || l.MTU != 4092 {
		t.Fatalf("after add: carrier=%v mtu=%d (want carrier, 4096-4)", l.Carrier, l.MTU)
	}
	wantErrno(t, d.AddPartition(netlinkx.Partition{PKey: 0x0001, All: "full"}), unix.EEXIST)
	wantErrno(t, d.AddPartition(netlinkx.Partition{PKey: 0x8000}), unix.EINVAL)
	wantErrno(t, d.DelPartition(0x8001), 0)
	if l := mustLink(t, n, "c1"); l.Carrier {
		t.Fatal("carrier stays after the partition is deleted")
	}
	wantErrno(t, d.DelPartition(0x8001), unix.ENOENT)
	wantErrno(t, d.AddPartition(netlinkx.Partition{PKey: 0x8002, MTU: 1024, Members: []netlinkx.PartitionMember{{Node: "node0", Port: 1, Full: true}}}), 0)
	st.Close()

	st2, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	d2, _ := newTestDriver(t, st2)
	parts := d2.Partitions()
	if len(parts) != 2 || parts[0].PKey != 0x8002 || parts[0].MTU != 1024 || parts[1].PKey != 0xffff {
		t.Fatalf("partitions after restart: %+v", parts)
	}
}

func TestPortDownDropsCarrier(t *testing.T) {
	d, n := newTestDriver(t, nil)
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	d.mu.Lock()
	if err := d.fab.SetPortState("node0", 1, fabric.StateDown); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, d.drainEvents(), 0)
	d.mu.Unlock()
	if l := mustLink(t, n, "ib0"); l.Carrier {
		t.Fatal("carrier with the port down")
	}
	d.mu.Lock()
	_ = d.fab.SetPortState("node0", 1, fabric.StateActive)
	wantErrno(t, d.drainEvents(), 0)
	d.mu.Unlock()
	if l := mustLink(t, n, "ib0"); !l.Carrier {
		t.Fatal("no carrier after the port came back")
	}
}

func TestBroadcastGroupMembership(t *testing.T) {
	d, n := newTestDriver(t, nil)
	members := func() []string {
		var out []string
		for _, g := range d.Groups() {
			if !g.Broadcast || g.PKey != 0xffff {
				continue
			}
			for _, m := range g.Members {
				out = append(out, fmt.Sprintf("%s/%d:%d", m.Node, m.Port, m.JoinState))
			}
		}
		return out
	}
	if got := members(); len(got) != 0 {
		t.Fatalf("members before up: %v", got)
	}
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	wantErrno(t, n.CreateChild("ib0", 0x7fff), 0)
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0.7fff", Up: ptr(true)}), 0)
	if got := members(); len(got) != 1 || got[0] != "node0/1:1" {
		t.Fatalf("members after up: %v", got)
	}
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(false)}), 0)
	if got := members(); len(got) != 0 {
		t.Fatalf("members after down: %v", got)
	}
	// a failed request rolls the membership back with the rest
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(false), MTU: ptr(uint32(70000))}), unix.EINVAL)
	if got := members(); len(got) != 1 {
		t.Fatalf("members after failed down: %v", got)
	}
}

func errorsIs(err error, target error) bool { return errors.Is(err, target) }

// umcast only makes the restart task skip groups userspace joined through
// the SA; with no such joins the interface keeps every group.
func TestUmcastKeepsGroups(t *testing.T) {
	d, _ := newClockedDriver(t)
	n0, _ := pingPair(t, d, netlinkx.ModeDatagram)
	before, _ := n0.McastGroups("ib0")
	if len(before) == 0 {
		t.Fatal("ib0 is in no multicast group")
	}
	wantErrno(t, n0.SetUmcast("ib0", true), 0)
	after, _ := n0.McastGroups("ib0")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("umcast 1 changed _mcg (-before +after):\n%s", diff)
	}
	wantErrno(t, n0.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(false)}), 0)
	wantErrno(t, n0.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	if again, _ := n0.McastGroups("ib0"); len(again) != len(before) {
		t.Errorf("umcast 1, after down/up: %d groups, want %d", len(again), len(before))
	}
}

// setFeatures is SetFeatures for tests that look at its error alone.
func setFeatures(n *Node, dev string, want map[string]bool) error {
	_, _, err := n.SetFeatures(dev, want)
	return err
}

// TestCarrierChanges counts IFLA_CARRIER_CHANGES as the kernel does: a
// netdev is allocated with carrier on, so ipoib_open's netif_carrier_off
// counts on the first open only; the broadcast join's netif_carrier_on and
// ipoib_stop's netif_carrier_off (ipoib_ib_dev_down) count each time. A
// failed request on a device never opened counts nothing.
func TestCarrierChanges(t *testing.T) {
	_, n := newTestDriver(t, nil)
	changes := func() uint32 { return mustLink(t, n, "ib0").CarrierChanges }
	if got := changes(); got != 0 {
		t.Fatalf("never opened: %d carrier changes, want 0", got)
	}
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", MTU: ptr(uint32(70000))}), unix.EINVAL)
	if got := changes(); got != 0 {
		t.Fatalf("after a failed request: %d carrier changes, want 0", got)
	}
	for i, step := range []struct {
		up   bool
		want uint32
	}{
		{true, 2},  // off at open (on since allocation), on at the join
		{false, 3}, // off at stop
		{true, 4},  // already off at open; on at the join
	} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(step.up)}), 0)
		if got := changes(); got != step.want {
			t.Errorf("step %d (up=%v): %d carrier changes, want %d", i, step.up, got, step.want)
		}
	}
}
