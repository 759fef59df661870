package driver

import (
	"net/netip"
	"testing"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// TestAddrBroadcastKept: an IPv4 address keeps the broadcast address it
// was added with, and has none without one (rtm_to_ifaddr,
// net/ipv4/devinet.c, sets ifa_broadcast only from IFA_BROADCAST); a
// deleted and re-added address loses it; a restarted driver lists the
// same.
func TestAddrBroadcastKept(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	_, n := newTestDriver(t, st)
	ib0 := mustLink(t, n, "ib0")
	add := func(p, brd string) netlinkx.Addr {
		pr := netip.MustParsePrefix(p)
		a := netlinkx.Addr{Family: unix.AF_INET, Index: ib0.Index, PrefixLen: uint8(pr.Bits()), Local: pr.Addr().AsSlice()}
		if brd != "" {
			a.Broadcast = netip.MustParseAddr(brd).AsSlice()
		}
		return a
	}
	wantErrno(t, n.AddAddr(add("10.1.0.1/16", "")), 0)
	wantErrno(t, n.AddAddr(add("10.2.0.1/24", "10.2.0.255")), 0)
	wantErrno(t, n.AddAddr(add("10.3.0.1/24", "10.3.0.9")), 0)
	wantErrno(t, n.AddAddr(add("10.3.0.1/24", "10.3.0.255")), unix.EEXIST)
	wantErrno(t, n.DelAddr(add("10.2.0.1/24", "")), 0)
	wantErrno(t, n.AddAddr(add("10.2.0.1/24", "")), 0)
	want := map[string]string{"10.1.0.1": "", "10.2.0.1": "", "10.3.0.1": "10.3.0.9"}
	check := func(n *Node, when string) {
		t.Helper()
		addrs, err := n.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, a := range addrs {
			if a.Family != unix.AF_INET {
				continue
			}
			l, _ := netip.AddrFromSlice(a.Local)
			b := ""
			if a.Broadcast != nil {
				bb, _ := netip.AddrFromSlice(a.Broadcast)
				b = bb.String()
			}
			got[l.String()] = b
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", when, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: %v, want %v", when, got, want)
			}
		}
	}
	check(n, "before restart")
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	_, n = newTestDriver(t, st)
	check(n, "after restart")
}
