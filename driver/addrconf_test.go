package driver

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// addrsOf lists a device's addresses in dump order as "ADDR/LEN scope".
func addrsOf(t *testing.T, n *Node, dev string) string {
	t.Helper()
	l := mustLink(t, n, dev)
	all, err := n.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range all {
		if a.Index != l.Index {
			continue
		}
		ip, _ := netip.AddrFromSlice(a.Local)
		out = append(out, fmt.Sprintf("%s/%d %d", ip, a.PrefixLen, a.Scope))
	}
	return strings.Join(out, ", ")
}

func setUp(t *testing.T, n *Node, dev string, up bool) {
	t.Helper()
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: dev, Up: ptr(up)}), 0)
}

// ib0 of node0: GUID 00:02:c9:03:00:00:10:01, interface ID with 0x02 ORed
const ll0 = "fe80::202:c903:0:1001/64 253" // RT_SCOPE_LINK

func TestLinkLocalAddressLifecycle(t *testing.T) {
	_, n := newTestDriver(t, nil)
	steps := []struct {
		name string
		do   func()
		want string
	}{
		{"down: none", func() {}, ""},
		{"IPv4 and IPv6 added while down stay", func() {
			addAddr(t, n, "ib0", "10.0.0.1/24")
			addAddr6(t, n, "ib0", "fd00::9/64")
		}, "10.0.0.1/24 0, fd00::9/64 0"},
		// the link-local address goes after the global one (scope order)
		{"up: link-local added", func() { setUp(t, n, "ib0", true) }, "10.0.0.1/24 0, fd00::9/64 0, " + ll0},
		{"up again: no duplicate", func() { setUp(t, n, "ib0", true) }, "10.0.0.1/24 0, fd00::9/64 0, " + ll0},
		// ipv6_link_dev_addr: larger scopes first, the newest first within a scope
		{"more addresses", func() {
			addAddr6(t, n, "ib0", "fe80::1/64")
			addAddr6(t, n, "ib0", "fd00::1/64")
		}, "10.0.0.1/24 0, fd00::1/64 0, fd00::9/64 0, fe80::1/64 253, " + ll0},
		// keep_addr_on_down 0: every IPv6 address goes, IPv4 stays
		{"down: IPv6 flushed", func() { setUp(t, n, "ib0", false) }, "10.0.0.1/24 0"},
		{"up: only the link-local back", func() { setUp(t, n, "ib0", true) }, "10.0.0.1/24 0, " + ll0},
	}
	for _, s := range steps {
		s.do()
		if got := addrsOf(t, n, "ib0"); got != s.want {
			t.Fatalf("%s:\n got %s\nwant %s", s.name, got, s.want)
		}
	}
	// the dump lists IPv4 before IPv6 whatever the order added
	addAddr6(t, n, "ib1", "fd01::1/64")
	addAddr(t, n, "ib1", "10.1.0.1/24")
	if got := addrsOf(t, n, "ib1"); got != "10.1.0.1/24 0, fd01::1/64 0" {
		t.Fatalf("ib1: %s", got)
	}
}

// Addresses follow the link becoming ready (carrier), not IFF_UP, and
// carrier loss removes none; children share the parent's GUID and so its
// link-local address.
func TestLinkLocalFollowsCarrier(t *testing.T) {
	d, n := newTestDriver(t, nil)
	p := mustLink(t, n, "ib0")
	setUp(t, n, "ib0", true)
	wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "c1", ParentIndex: p.Index, Kind: "ipoib", PKey: ptr(uint16(0x8001)), Up: ptr(true)}), 0)
	if l := mustLink(t, n, "c1"); l.Carrier || addrsOf(t, n, "c1") != "" {
		t.Fatalf("c1 without its P_Key: carrier %v, addresses %q", l.Carrier, addrsOf(t, n, "c1"))
	}
	wantErrno(t, d.AddPartition(netlinkx.Partition{PKey: 0x8001, MTU: 2048, All: "full"}), 0)
	if got := addrsOf(t, n, "c1"); got != ll0 {
		t.Fatalf("c1 after its P_Key came: %q", got)
	}
	// a deleted link-local address stays deleted through carrier changes
	// (the link was ready already) until the interface goes down and up
	wantErrno(t, n.DelAddr(netlinkx.Addr{Index: p.Index, Family: unix.AF_INET6, PrefixLen: 64, Local: netip.MustParseAddr("fe80::202:c903:0:1001").AsSlice()}), 0)
	d.mu.Lock()
	_ = d.fab.SetPortState("node0", 1, fabric.StateDown)
	wantErrno(t, d.drainEvents(), 0)
	d.mu.Unlock()
	if l := mustLink(t, n, "c1"); l.Carrier || addrsOf(t, n, "c1") != ll0 || addrsOf(t, n, "ib0") != "" {
		t.Fatalf("port down: c1 carrier %v %q, ib0 %q", l.Carrier, addrsOf(t, n, "c1"), addrsOf(t, n, "ib0"))
	}
	d.mu.Lock()
	_ = d.fab.SetPortState("node0", 1, fabric.StateActive)
	wantErrno(t, d.drainEvents(), 0)
	d.mu.Unlock()
	if addrsOf(t, n, "c1") != ll0 || addrsOf(t, n, "ib0") != "" {
		t.Fatalf("port back: c1 %q, ib0 %q", addrsOf(t, n, "c1"), addrsOf(t, n, "ib0"))
	}
	// the parent going down takes its children down: all flushed
	setUp(t, n, "ib0", false)
	if addrsOf(t, n, "ib0") != "" || addrsOf(t, n, "c1") != "" {
		t.Fatalf("after down: ib0 %q, c1 %q", addrsOf(t, n, "ib0"), addrsOf(t, n, "c1"))
	}
	setUp(t, n, "ib0", true)
	if addrsOf(t, n, "ib0") != ll0 || addrsOf(t, n, "c1") != ll0 {
		t.Fatalf("after up: ib0 %q, c1 %q", addrsOf(t, n, "ib0"), addrsOf(t, n, "c1"))
	}
}

// Below the IPv6 minimum MTU an interface has no IPv6 (NETDEV_CHANGEMTU,
// ipv6_add_dev): of its groups only 224.0.0.1 (ip_mc_up) stays.
func TestLinkLocalNeedsMTU1280(t *testing.T) {
	_, n := newTestDriver(t, nil)
	setUp(t, n, "ib0", true)
	addAddr6(t, n, "ib0", "fd00::1/64")
	l := mustLink(t, n, "ib0")
	wantErrno(t, n.SetMTU("ib0", 1279), 0)
	if got := addrsOf(t, n, "ib0"); got != "" {
		t.Fatalf("MTU 1279: %q", got)
	}
	wantErrno(t, n.AddAddr(netlinkx.Addr{Index: l.Index, Family: unix.AF_INET6, PrefixLen: 64, Local: netip.MustParseAddr("fd00::1").AsSlice()}), unix.EINVAL)
	if got := inetGroups(t, n, "ib0"); got != "224.0.0.1" {
		t.Fatalf("groups at MTU 1279: %s", got)
	}
	wantErrno(t, n.SetMTU("ib0", 1280), 0)
	if got := addrsOf(t, n, "ib0"); got != ll0 {
		t.Fatalf("MTU 1280: %q", got)
	}
	// the link-local address's solicited-node group, ff02::1, ff01::1
	if got := inetGroups(t, n, "ib0"); got != "224.0.0.1 ff02::1:ff00:1001 ff02::1 ff01::1" {
		t.Fatalf("groups at MTU 1280: %s", got)
	}
}

// inetGroups lists dev's IPv4 and IPv6 groups as ip maddr does.
func inetGroups(t *testing.T, n *Node, dev string) string {
	t.Helper()
	ms, err := n.Maddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		for _, g := range m.Inet {
			if ip, ok := netip.AddrFromSlice(g); ok && m.Name == dev {
				out = append(out, ip.String())
			}
		}
	}
	return strings.Join(out, " ")
}

// The automatic address is derived again at start, never restored: no
// duplicate, and the saved record lists only configured addresses.
func TestLinkLocalNotSaved(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	_, n := newTestDriver(t, st)
	setUp(t, n, "ib0", true)
	addAddr6(t, n, "ib0", "fd00::1/64")
	addAddr6(t, n, "ib0", "fe80::1/64")
	want := "fd00::1/64 0, fe80::1/64 253, " + ll0
	if got := addrsOf(t, n, "ib0"); got != want {
		t.Fatalf("before: %s", got)
	}
	if b, _ := st.Get(devKey("node0", mustLink(t, n, "ib0").Index)); strings.Contains(string(b), "fe80::202") ||
		!strings.Contains(string(b), `"addrs":["fd00::1/64","fe80::1/64"]`) {
		t.Fatalf("saved record: %s", b)
	}
	st.Close()
	for range 2 {
		st := openStore(t, dir)
		_, n := newTestDriver(t, st)
		if got := addrsOf(t, n, "ib0"); got != want {
			t.Fatalf("after restart: %s", got)
		}
		st.Close()
	}
}
