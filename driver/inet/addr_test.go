package inet

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// addrList prints an interface's addresses, secondaries marked, IPv4
// before IPv6 as a dump by family lists them.
func addrList(s *Stack, index int32) string {
	var v4, v6 []string
	for _, a := range s.Addrs(index) {
		switch {
		case a.Secondary:
			v4 = append(v4, a.Prefix.String()+" secondary")
		case a.Addr().Is4():
			v4 = append(v4, a.Prefix.String())
		default:
			v6 = append(v6, a.Prefix.String())
		}
	}
	return strings.Join(append(v4, v6...), ", ")
}

// prefixList prints prefixes.
func prefixList(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ", ")
}

// addAll adds the prefixes to the interface.
func addAll(t *testing.T, s *Stack, index int32, prefixes ...string) {
	t.Helper()
	for _, p := range prefixes {
		if err := s.AddAddr(index, netip.MustParsePrefix(p)); err != nil {
			t.Fatalf("AddAddr(%s): %v", p, err)
		}
	}
}

// The order ip addr lists an interface's addresses in: a new IPv4 primary
// after the last primary, a secondary (an address in the subnet, with the
// mask, of one already there) last; IPv6 by scope, larger first, the
// newest first within a scope.
func TestAddrOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  []string
		want string
	}{
		{"IPv4 primaries and secondaries", []string{"10.0.0.1/24", "10.0.1.1/24", "10.0.0.2/24", "10.0.2.1/24"},
			"10.0.0.1/24, 10.0.1.1/24, 10.0.2.1/24, 10.0.0.2/24 secondary"},
		{"another mask is another subnet", []string{"10.0.0.1/24", "10.0.0.2/16"}, "10.0.0.1/24, 10.0.0.2/16"},
		{"IPv6 by scope, newest first", []string{"fd00::1/64", "fe80::1/64", "fd00::2/64", "fe80::2/64"},
			"fd00::2/64, fd00::1/64, fe80::2/64, fe80::1/64"},
		{"IPv6 scopes", []string{"::1/128", "fe80::1/64", "fec0::1/64", "fd00::1/64"}, "fd00::1/64, fec0::1/64, fe80::1/64, ::1/128"},
		{"mixed", []string{"10.0.0.1/24", "fd00::1/64", "10.0.1.1/24", "10.0.0.5/24", "fe80::1/64"},
			"10.0.0.1/24, 10.0.1.1/24, 10.0.0.5/24 secondary, fd00::1/64, fe80::1/64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStack()
			addAll(t, s, 2, tc.add...)
			if got := addrList(s, 2); got != tc.want {
				t.Fatalf("addresses %s\nwant %s", got, tc.want)
			}
			if got := addrList(s, 3); got != "" {
				t.Fatalf("another interface has %s", got)
			}
		})
	}
}

// Adding an address the interface has fails with EEXIST, deleting one it
// lacks with EADDRNOTAVAIL, both leaving the list as it was; deleting a
// primary IPv4 address deletes its secondaries, deleting a secondary only
// itself.
func TestAddDelAddr(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   func(s *Stack) error
		err  error
		want string
	}{
		{"add again", func(s *Stack) error { return s.AddAddr(2, netip.MustParsePrefix("10.0.0.2/24")) }, ErrAddrExists,
			"10.0.0.1/24, 10.0.1.1/24, 10.0.0.2/24 secondary, 10.0.0.3/24 secondary, fd00::1/64"},
		// inet_rtm_newaddr's find_matching_ifa compares address and mask:
		// the address with another length is another address, here a
		// primary of its own subnet.
		{"add IPv4 with another length", func(s *Stack) error { return s.AddAddr(2, netip.MustParsePrefix("10.0.0.2/16")) }, nil,
			"10.0.0.1/24, 10.0.1.1/24, 10.0.0.2/16, 10.0.0.2/24 secondary, 10.0.0.3/24 secondary, fd00::1/64"},
		{"add IPv4 /32 beside /24", func(s *Stack) error { return s.AddAddr(2, netip.MustParsePrefix("10.0.1.1/32")) }, nil,
			"10.0.0.1/24, 10.0.1.1/24, 10.0.1.1/32, 10.0.0.2/24 secondary, 10.0.0.3/24 secondary, fd00::1/64"},
		// ipv6_add_addr's ipv6_chk_same_addr compares the address only.
		{"add IPv6 with another length", func(s *Stack) error { return s.AddAddr(2, netip.MustParsePrefix("fd00::1/48")) }, ErrAddrExists,
			"10.0.0.1/24, 10.0.1.1/24, 10.0.0.2/24 secondary, 10.0.0.3/24 secondary, fd00::1/64"},
		{"delete one of two lengths", func(s *Stack) error {
			if err := s.AddAddr(2, netip.MustParsePrefix("10.0.1.1/16")); err != nil {
				return err
			}
			return s.DelAddr(2, netip.MustParseAddr("10.0.1.1"), 24)
		}, nil, "10.0.0.1/24, 10.0.1.1/16, 10.0.0.2/24 secondary, 10.0.0.3/24 secondary, fd00::1/64"},
		{"delete with another length", func(s *Stack) error { return s.DelAddr(2, netip.MustParseAddr("10.0.1.1"), 16) }, ErrAddrNotFound,
			"10.0.0.1/24, 10.0.1.1/24, 10.0.0.2/24 secondary, 10.0.0.3/24 secondary, fd00::1/64"},
		{"delete one lacking", func(s *Stack) error { return s.DelAddr(2, netip.MustParseAddr("10.0.9.1"), 0) }, ErrAddrNotFound,
			"10.0.0.1/24, 10.0.1.1/24, 10.0.0.2/24 secondary, 10.0.0.3/24 secondary, fd00::1/64"},
		{"delete a primary", func(s *Stack) error { return s.DelAddr(2, netip.MustParseAddr("10.0.0.1"), 24) }, nil,
			"10.0.1.1/24, fd00::1/64"},
		{"delete a secondary", func(s *Stack) error { return s.DelAddr(2, netip.MustParseAddr("10.0.0.2"), 0) }, nil,
			"10.0.0.1/24, 10.0.1.1/24, 10.0.0.3/24 secondary, fd00::1/64"},
		{"delete another primary", func(s *Stack) error { return s.DelAddr(2, netip.MustParseAddr("10.0.1.1"), 0) }, nil,
			"10.0.0.1/24, 10.0.0.2/24 secondary, 10.0.0.3/24 secondary, fd00::1/64"},
		{"delete IPv6", func(s *Stack) error { return s.DelAddr(2, netip.MustParseAddr("fd00::1"), 64) }, nil,
			"10.0.0.1/24, 10.0.1.1/24, 10.0.0.2/24 secondary, 10.0.0.3/24 secondary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStack()
			addAll(t, s, 2, "10.0.0.1/24", "10.0.0.2/24", "fd00::1/64", "10.0.1.1/24", "10.0.0.3/24")
			if err := tc.op(s); !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if got := addrList(s, 2); got != tc.want {
				t.Fatalf("addresses %s\nwant %s", got, tc.want)
			}
		})
	}
}

// The automatic link-local address is listed but not saved; saved
// addresses load back in the order they were listed; DropIPv6 takes the
// IPv6 addresses, the automatic one included.
func TestLinkLocalAndSavedAddrs(t *testing.T) {
	ll := netip.MustParsePrefix("fe80::202:c903:0:1001/64")
	s := newTestStack()
	s.AddLinkLocal(2, ll)
	addAll(t, s, 2, "fd00::1/64", "fd00::2/64", "10.0.0.1/24", "10.0.0.2/24")
	s.AddLinkLocal(2, ll) // already there
	const want = "10.0.0.1/24, 10.0.0.2/24 secondary, fd00::2/64, fd00::1/64, fe80::202:c903:0:1001/64"
	if got := addrList(s, 2); got != want {
		t.Fatalf("addresses %s\nwant %s", got, want)
	}
	saved := s.ConfiguredAddrs(2)
	if got, want := prefixList(saved), "10.0.0.1/24, fd00::2/64, fd00::1/64, 10.0.0.2/24"; got != want {
		t.Fatalf("saved %s, want %s", got, want)
	}
	// a restart: the saved addresses, then the automatic one
	r := newTestStack()
	r.LoadAddrs(2, saved)
	r.AddLinkLocal(2, ll)
	if got := addrList(r, 2); got != want {
		t.Fatalf("loaded %s\nwant %s", got, want)
	}
	r.LoadAddrs(2, []netip.Prefix{netip.MustParsePrefix("fd00::1/64")}) // already there
	if got := addrList(r, 2); got != want {
		t.Fatalf("loaded twice %s\nwant %s", got, want)
	}
	// deleted and added by hand, the link-local address is saved
	if err := s.DelAddr(2, ll.Addr(), 0); err != nil {
		t.Fatal(err)
	}
	addAll(t, s, 2, ll.String())
	if got, want := prefixList(s.ConfiguredAddrs(2)), "10.0.0.1/24, fd00::2/64, fd00::1/64, 10.0.0.2/24, fe80::202:c903:0:1001/64"; got != want {
		t.Fatalf("saved %s, want %s", got, want)
	}
	s.DropIPv6(2)
	if got, want := addrList(s, 2), "10.0.0.1/24, 10.0.0.2/24 secondary"; got != want {
		t.Fatalf("after DropIPv6: %s, want %s", got, want)
	}
}

// A snapshot puts the addresses of its interfaces back, and which one is
// automatic; other interfaces keep their changes.
func TestSnapshotAddrs(t *testing.T) {
	ll := netip.MustParsePrefix("fe80::1/64")
	s := newTestStack()
	s.AddLinkLocal(2, ll)
	addAll(t, s, 2, "10.0.0.1/24")
	addAll(t, s, 3, "10.0.1.1/24")
	restore := s.SnapshotAddrs(2, 4)
	if err := s.DelAddr(2, ll.Addr(), 0); err != nil {
		t.Fatal(err)
	}
	addAll(t, s, 2, "fe80::1/64", "10.0.0.2/24")
	addAll(t, s, 4, "10.0.4.1/24")
	addAll(t, s, 3, "10.0.3.1/24")
	restore()
	for _, tc := range []struct {
		index       int32
		list, saved string
	}{
		{2, "10.0.0.1/24, fe80::1/64", "10.0.0.1/24"},
		{3, "10.0.1.1/24, 10.0.3.1/24", "10.0.1.1/24, 10.0.3.1/24"},
		{4, "", ""},
	} {
		if got, saved := addrList(s, tc.index), prefixList(s.ConfiguredAddrs(tc.index)); got != tc.list || saved != tc.saved {
			t.Errorf("interface %d: %s (saved %s), want %s (saved %s)", tc.index, got, saved, tc.list, tc.saved)
		}
	}
}

// The multicast groups an interface's addresses put it in: the
// solicited-node group of each IPv6 address, once (addrconf_join_solict);
// an IPv4 address puts it in none, 224.0.0.1 being the interface's own
// (ip_mc_up), as are ff02::1 and ff01::1 (ipv6_add_dev).
func TestGroups(t *testing.T) {
	for _, tc := range []struct {
		add  []string
		want string
		v4   bool
	}{
		{nil, "", false},
		{[]string{"10.0.0.1/24"}, "", true},
		{[]string{"10.0.0.1/24", "fd00::1/64", "fe80::1/64"}, "ff02::1:ff00:1", true},
		{[]string{"fd00::1/64", "fd00::1:0:2/64", "fe80::1:3/64"}, "ff02::1:ff00:2, ff02::1:ff00:1, ff02::1:ff01:3", false},
	} {
		s := newTestStack()
		addAll(t, s, 2, tc.add...)
		var got []string
		for _, g := range s.Groups(2) {
			got = append(got, g.String())
		}
		if strings.Join(got, ", ") != tc.want || s.HasIPv4(2) != tc.v4 {
			t.Errorf("%v: groups %v, IPv4 %v; want %s, %v", tc.add, got, s.HasIPv4(2), tc.want, tc.v4)
		}
	}
}

// Route picks the first interface that is up whose subnet holds the
// destination, and its source address; SourceFor the source on a given
// interface.
func TestRouteAndSource(t *testing.T) {
	s := newTestStack()
	addAll(t, s, 2, "10.0.0.1/24", "10.0.1.1/24", "10.9.9.9/32")
	addAll(t, s, 3, "10.0.2.1/24", "10.0.0.7/24", "fe80::202:c903:0:1001/64", "fd00::1/64", "fd01::1/48", "fe80::1/64")
	for _, tc := range []struct {
		dst   string
		up    []int32
		index int32
		src   string
	}{
		{"10.0.1.7", []int32{2, 3}, 2, "10.0.1.1"},
		{"10.0.0.9", []int32{3, 2}, 3, "10.0.0.7"},
		{"10.0.2.9", []int32{2, 3}, 3, "10.0.2.1"},
		{"10.0.2.9", []int32{2}, 0, ""},
		{"10.9.9.9", []int32{2, 3}, 2, "10.9.9.9"},
		{"192.168.0.1", []int32{2, 3}, 0, ""},
		{"fd00::9", []int32{2, 3}, 3, "fd00::1"},
		{"fd01::2", []int32{2, 3}, 3, "fd01::1"},
		{"fe80::9", []int32{2, 3}, 3, "fe80::1"},
		{"fd00::9", []int32{2}, 0, ""},
	} {
		index, src, ok := s.Route(netip.MustParseAddr(tc.dst), tc.up)
		if ok != (tc.index != 0) || index != tc.index || (ok && src.String() != tc.src) {
			t.Errorf("route to %s over %v: %d %v %v; want %d %s", tc.dst, tc.up, index, src, ok, tc.index, tc.src)
		}
	}
	for _, tc := range []struct {
		index int32
		dst   string
		want  string
	}{
		{2, "10.0.1.5", "10.0.1.1"},
		{2, "192.168.1.1", "10.0.0.1"}, // off every subnet: the first address
		{3, "10.0.0.1", "10.0.0.7"},
		{4, "10.0.0.1", ""},
		{2, "fd00::1", ""},
		// IPv6 source selection (RFC 6724 rules 1, 2 and 8)
		{3, "fe80::2", "fe80::1"},                             // link scope; fe80::1 is newer, so first
		{3, "fd00::2", "fd00::1"},                             // longest match
		{3, "fd01::2", "fd01::1"},                             // longest match
		{3, "2001:db8::1", "fd01::1"},                         // global scope, first among equals
		{3, "fe80::202:c903:0:1001", "fe80::202:c903:0:1001"}, // the destination itself
	} {
		got, ok := s.SourceFor(tc.index, netip.MustParseAddr(tc.dst))
		if ok != (tc.want != "") || (ok && got.String() != tc.want) {
			t.Errorf("source on %d for %s: %v %v, want %q", tc.index, tc.dst, got, ok, tc.want)
		}
	}
	// with one scope only, it is taken whatever the destination's
	ll := newTestStack()
	addAll(t, ll, 2, "fe80::1/64")
	gl := newTestStack()
	addAll(t, gl, 2, "fd00:1:2::5/32", "fd00:1::1/48")
	bits := newTestStack()
	addAll(t, bits, 2, "fd00:4000::1/64", "fd00:8000::1/64")
	for _, tc := range []struct {
		s         *Stack
		dst, want string
	}{
		{ll, "2001:db8::1", "fe80::1"},
		{gl, "fe80::9", "fd00:1::1"},     // the newest of the scope
		{gl, "fd00:1:2::1", "fd00:1::1"}, // rule 8 counts up to the prefix length: 46 bits against 32
		// rule 8 counts the matching bits inside the first byte that
		// differs: 0x41 shares 7 bits with 0x40, none with 0x80
		{bits, "fd00:4100::9", "fd00:4000::1"},
		{bits, "fd00:8100::9", "fd00:8000::1"},
	} {
		if got, ok := tc.s.SourceFor(2, netip.MustParseAddr(tc.dst)); !ok || got.String() != tc.want {
			t.Errorf("source for %s: %v %v, want %s", tc.dst, got, ok, tc.want)
		}
	}
	if !s.Owns(3, netip.MustParseAddr("fd01::1")) || s.Owns(2, netip.MustParseAddr("fd01::1")) {
		t.Error("Owns")
	}
}

// The stack's time is its clock's.
func TestNow(t *testing.T) {
	s, clock := newClockedStack()
	clock.Advance(90)
	if got := s.Now(); !got.Equal(start.Add(90)) {
		t.Fatalf("Now = %v, want %v", got, start.Add(90))
	}
}
