package driver

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/store"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// TestSecondInterfaceOnPKeyRemoved: a second interface on ib0's P_Key
// joins the broadcast group itself (ipoib_mcast_join per interface), so
// deleting it leaves node0's port in the group, as the SA keeps a port
// while any join on it stands (multicast.c), and a peer that never talked
// to node0 still resolves and reaches it.
func TestSecondInterfaceOnPKeyRemoved(t *testing.T) {
	d, _ := newClockedDriver(t)
	n0, n1 := pingPair(t, d, netlinkx.ModeDatagram)
	ib0 := mustLink(t, n0, "ib0")
	wantErrno(t, n0.NewLink(netlinkx.LinkRequest{Name: "cx", ParentIndex: ib0.Index, Kind: "ipoib", PKey: ptr(uint16(0xffff)), Up: ptr(true)}), 0)
	wantErrno(t, n0.DelLink(0, "cx"), 0)
	bff := fabric.BroadcastMGID(0xffff)
	var members []fabric.PortRef
	for _, g := range d.Fabric().Groups() {
		if g.MGID == bff {
			for _, m := range g.Members {
				members = append(members, m.Port)
			}
		}
	}
	want := []fabric.PortRef{{Node: "node0", Port: 1}, {Node: "node1", Port: 1}}
	if diff := cmp.Diff(want, members); diff != "" {
		t.Errorf("members of the 0xffff broadcast group (-want +got):\n%s", diff)
	}
	mustPing(t, n1, [4]byte{10, 0, 0, 1}, 1)
}

// mgidGroup names the IP group an IPoIB multicast MGID maps (ip_ib_mc_map,
// ipv6_ib_mc_map): the signature 0x401b keeps 28 bits of an IPv4 group,
// 0x601b the last 80 bits of an IPv6 group with the MGID's scope.
func mgidGroup(mgid []byte) string {
	switch {
	case mgid[2] == 0x40 && mgid[3] == 0x1b:
		return netip.AddrFrom4([4]byte{0xe0 | mgid[12]&0x0f, mgid[13], mgid[14], mgid[15]}).String()
	case mgid[2] == 0x60 && mgid[3] == 0x1b:
		var a [16]byte
		a[0], a[1] = 0xff, mgid[1]&0x0f
		copy(a[6:], mgid[6:])
		return netip.AddrFrom16(a).String()
	}
	return fmt.Sprintf("mgid %x", mgid)
}

// maddrOf is what ip maddr lists of dev, one "link GROUP", "inet GROUP"
// or "inet6 GROUP" a line, link addresses named by the group they map.
func maddrOf(t *testing.T, n *Node, dev string) string {
	t.Helper()
	list, err := n.Maddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range list {
		if m.Name != dev {
			continue
		}
		for _, l := range m.Link {
			out = append(out, "link "+mgidGroup(l[4:]))
		}
		for _, a := range m.Inet {
			ip, _ := netip.AddrFromSlice(a)
			fam := "inet6"
			if ip.Is4() {
				fam = "inet"
			}
			out = append(out, fam+" "+ip.String())
		}
	}
	return strings.Join(out, "\n")
}

// joinedOf lists the groups besides broadcast groups that port 1 of node0
// is a member of, by name.
func joinedOf(d *Driver) string {
	var out []string
	for _, g := range d.Fabric().Groups() {
		for _, m := range g.Members {
			if !g.Broadcast && m.Port == (fabric.PortRef{Node: "node0", Port: 1}) {
				out = append(out, mgidGroup(g.MGID[:]))
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// TestMaddrFollowsDevice: the dev_mc list and the groups ip maddr lists
// follow the interface as the kernel's do (net/ipv4/igmp.c ip_mc_up,
// ip_mc_down; net/ipv6/addrconf.c ipv6_add_dev, addrconf_dev_config,
// addrconf_ifdown; net/ipv6/mcast.c ipv6_mc_up, ipv6_mc_down): registered
// and never up, ff02::1 alone on the list; up, 224.0.0.1 whether or not
// there is an IPv4 address, then the link-local address's solicited-node
// group, each joined on the fabric; down, the list empty and only the
// IPv6 all-nodes memberships listed; up again, 224.0.0.1 first, as
// ip_mc_up runs before the link is ready; an MTU below 1280 takes IPv6
// away, one of 1280 or more brings ff02::1 back at the end of the list,
// up or down; without an entry the interface is not listed. Each step
// was checked against a veth of kernel 6.18 with iproute2 6.1.
func TestMaddrFollowsDevice(t *testing.T) {
	d, n0 := newTestDriver(t, nil)
	ib0 := mustLink(t, n0, "ib0")
	// the solicited-node group of ib0's link-local address
	snm := netip.AddrFrom16(header.SolicitedNodeAddr(n0.byName["ib0"].linkLocal().As16())).String()
	up := func(on bool) func() error {
		return func() error { return n0.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(on)}) }
	}
	mtu := func(v uint32) func() error {
		return func() error { return n0.SetLink(netlinkx.LinkRequest{Name: "ib0", MTU: ptr(v)}) }
	}
	v4 := netlinkx.Addr{Index: ib0.Index, Family: unix.AF_INET, PrefixLen: 24, Local: []byte{10, 0, 0, 1}}
	const (
		allDown  = "inet6 ff02::1\ninet6 ff01::1"
		firstUp  = "link ff02::1\nlink 224.0.0.1\nlink SNM\ninet 224.0.0.1\ninet6 SNM\ninet6 ff02::1\ninet6 ff01::1"
		againUp  = "link 224.0.0.1\nlink ff02::1\nlink SNM\ninet 224.0.0.1\ninet6 SNM\ninet6 ff02::1\ninet6 ff01::1"
		joinedUp = "224.0.0.1 ff02::1 SNM"
	)
	for _, step := range []struct {
		name         string
		do           func() error
		maddr, joins string
	}{
		{"registered", nil, "link ff02::1\n" + allDown, ""},
		{"up without an address", up(true), firstUp, joinedUp},
		{"IPv4 address added", func() error { return n0.AddAddr(v4) }, firstUp, joinedUp},
		{"last IPv4 address deleted", func() error { return n0.DelAddr(v4) }, firstUp, joinedUp},
		{"down", up(false), allDown, ""},
		{"up again", up(true), againUp, joinedUp},
		{"MTU 1200", mtu(1200), "link 224.0.0.1\ninet 224.0.0.1", "224.0.0.1"},
		{"MTU 2044", mtu(2044), againUp, joinedUp},
		{"down again", up(false), allDown, ""},
		{"MTU 1000 down", mtu(1000), "", ""},
		{"MTU 1300 down", mtu(1300), "link ff02::1\n" + allDown, ""},
	} {
		if step.do != nil {
			wantErrno(t, step.do(), 0)
		}
		want := strings.ReplaceAll(step.maddr, "SNM", snm)
		if got := maddrOf(t, n0, "ib0"); got != want {
			t.Errorf("%s: maddr\n%s\nwant\n%s", step.name, got, want)
		}
		if got, want := joinedOf(d), strings.ReplaceAll(step.joins, "SNM", snm); got != want {
			t.Errorf("%s: joined %q, want %q", step.name, got, want)
		}
	}
}

// TestMaddrIPv6Addresses: each IPv6 address's solicited-node group is
// appended to the dev_mc list as the address is added, so the link
// addresses list it after the older groups while /proc/net/igmp6 lists it
// first (ipv6_dev_mc_inc prepends). An address added to an interface that
// is up without carrier after a down brings ff02::1 back before its own
// group (addrconf_add_dev → ipv6_find_idev → ipv6_mc_up), as on a veth
// whose peer is down.
func TestMaddrIPv6Addresses(t *testing.T) {
	_, n0 := newTestDriver(t, nil)
	snmLL := netip.AddrFrom16(header.SolicitedNodeAddr(n0.byName["ib0"].linkLocal().As16())).String()
	wantErrno(t, n0.NewLink(netlinkx.LinkRequest{Name: "ib0.8005", ParentIndex: mustLink(t, n0, "ib0").Index,
		Kind: "ipoib", PKey: ptr(uint16(0x8005))}), 0) // not in the P_Key table: no carrier
	up := func(dev string, on bool) func() {
		return func() { wantErrno(t, n0.SetLink(netlinkx.LinkRequest{Name: dev, Up: ptr(on)}), 0) }
	}
	add := func(dev string) func() {
		return func() { addAddr6(t, n0, dev, "fd00::5/64") }
	}
	for _, step := range []struct {
		name, dev string
		do        []func()
		want      string
	}{
		{"address after the link-local one", "ib0", []func(){up("ib0", true), add("ib0")},
			"link ff02::1\nlink 224.0.0.1\nlink " + snmLL + "\nlink ff02::1:ff00:5\ninet 224.0.0.1\n" +
				"inet6 ff02::1:ff00:5\ninet6 " + snmLL + "\ninet6 ff02::1\ninet6 ff01::1"},
		{"no carrier, never down", "ib0.8005", []func(){up("ib0.8005", true)},
			"link ff02::1\nlink 224.0.0.1\ninet 224.0.0.1\ninet6 ff02::1\ninet6 ff01::1"},
		{"no carrier, up again", "ib0.8005", []func(){up("ib0.8005", false), up("ib0.8005", true)},
			"link 224.0.0.1\ninet 224.0.0.1\ninet6 ff02::1\ninet6 ff01::1"},
		{"no carrier, address added", "ib0.8005", []func(){add("ib0.8005")},
			"link 224.0.0.1\nlink ff02::1\nlink ff02::1:ff00:5\ninet 224.0.0.1\ninet6 ff02::1:ff00:5\ninet6 ff02::1\ninet6 ff01::1"},
	} {
		for _, do := range step.do {
			do()
		}
		if got := maddrOf(t, n0, step.dev); got != step.want {
			t.Errorf("%s: maddr of %s\n%s\nwant\n%s", step.name, step.dev, got, step.want)
		}
	}
}

// TestMaddrAfterRestart: a restarted driver registers each saved interface
// with its saved MTU and brings up the ones that were up, so each lists
// the groups it listed before: 224.0.0.1 on an interface up without an
// IPv4 address, ff02::1 on one never up, nothing on one down below 1280.
func TestMaddrAfterRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	_, n := newTestDriver(t, st)
	ib0 := mustLink(t, n, "ib0")
	for _, name := range []string{"c1", "c2"} {
		wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: name, ParentIndex: ib0.Index, Kind: "ipoib", PKey: ptr(uint16(0xffff))}), 0)
	}
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "c1", Up: ptr(false)}), 0) // ib0 took it up
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "c2", MTU: ptr(uint32(1200))}), 0)
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib1", MTU: ptr(uint32(1000))}), 0)
	snm := netip.AddrFrom16(header.SolicitedNodeAddr(n.byName["ib0"].linkLocal().As16())).String()
	want := map[string]string{
		"ib0": "link ff02::1\nlink 224.0.0.1\nlink " + snm + "\ninet 224.0.0.1\ninet6 " + snm + "\ninet6 ff02::1\ninet6 ff01::1",
		"ib1": "",
		"c1":  "inet6 ff02::1\ninet6 ff01::1",
		"c2":  "link 224.0.0.1\ninet 224.0.0.1",
	}
	for dev, w := range want {
		if got := maddrOf(t, n, dev); got != w {
			t.Errorf("%s before the restart:\n%s\nwant\n%s", dev, got, w)
		}
	}
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	_, n = newTestDriver(t, st)
	want["c1"] = "link ff02::1\ninet6 ff02::1\ninet6 ff01::1" // registered again, never up since
	for dev, w := range want {
		if got := maddrOf(t, n, dev); got != w {
			t.Errorf("%s after the restart:\n%s\nwant\n%s", dev, got, w)
		}
	}
}

// TestMaddrKeptOnFailedSave: a change whose save fails leaves the
// interface's groups, listed and joined, as they were.
func TestMaddrKeptOnFailedSave(t *testing.T) {
	for _, tc := range []struct {
		name string
		up   bool // ib0 up before the change
		req  netlinkx.LinkRequest
	}{
		{"up", false, netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}},
		{"down", true, netlinkx.LinkRequest{Name: "ib0", Up: ptr(false)}},
		{"MTU 1200", true, netlinkx.LinkRequest{Name: "ib0", MTU: ptr(uint32(1200))}},
		{"MTU 1200 down", false, netlinkx.LinkRequest{Name: "ib0", MTU: ptr(uint32(1200))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := &store.FaultFS{}
			st, err := store.OpenOptions(t.TempDir(), store.Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			d, err := New(Options{Store: st})
			if err != nil {
				t.Fatal(err)
			}
			n, _ := d.Node("node0")
			wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(tc.up)}), 0)
			maddr, joined := maddrOf(t, n, "ib0"), joinedOf(d)
			fs.Inject(store.Fault{Op: store.OpWrite, Name: "journal.log", Err: syscall.ENOSPC})
			wantErrno(t, n.SetLink(tc.req), unix.ENOSPC)
			if got := maddrOf(t, n, "ib0"); got != maddr {
				t.Errorf("maddr after the failed change:\n%s\nwant\n%s", got, maddr)
			}
			if got := joinedOf(d); got != joined {
				t.Errorf("joined after the failed change %q, want %q", got, joined)
			}
		})
	}
}
