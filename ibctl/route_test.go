package ibctl

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// TestRouteShow: the routes the addresses make, as ip route show prints
// them: primary IPv4 prefixes of up interfaces (none for a /32 or a
// secondary), IPv6 prefixes with -6, linkdown without carrier, dev
// leaving dev out, and the errors of a bad selector.
func TestRouteShow(t *testing.T) {
	e := newEnv(t)
	e.ok("link add link ib0 name ib0.8001 type ipoib pkey 0x8001")
	e.addAddr("node0", "ib0", "10.1.0.1/16")
	e.addAddr("node0", "ib0", "10.1.0.2/16")
	e.addAddr("node0", "ib0", "10.2.0.1/32")
	e.addAddr("node0", "ib0.8001", "10.3.0.1/24")
	e.addAddr("node0", "ib1", "192.0.2.1/24") // ib1 stays down: no route
	e.ok("link set ib0 up", "link set ib0.8001 up", "addr add fd00::1/64 dev ib0", "addr add fd00::2/64 dev ib0", "addr add fd01::1/128 dev ib0")
	for _, tc := range []struct{ cmd, out, errs string }{
		{"route", "10.1.0.0/16 dev ib0 proto kernel scope link src 10.1.0.1 \n" +
			"10.3.0.0/24 dev ib0.8001 proto kernel scope link src 10.3.0.1 linkdown \n", ""},
		{"route show", "10.1.0.0/16 dev ib0 proto kernel scope link src 10.1.0.1 \n" +
			"10.3.0.0/24 dev ib0.8001 proto kernel scope link src 10.3.0.1 linkdown \n", ""},
		{"route list dev ib0", "10.1.0.0/16 proto kernel scope link src 10.1.0.1 \n", ""},
		{"route show dev ib1", "", ""},
		{"route show table main dev ib0.8001", "10.3.0.0/24 proto kernel scope link src 10.3.0.1 linkdown \n", ""},
		{"-j route show dev ib0", `[{"dst":"10.1.0.0/16","protocol":"kernel","scope":"link","prefsrc":"10.1.0.1","flags":[]}]` + "\n", ""},
		{"-j route", `[{"dst":"10.1.0.0/16","dev":"ib0","protocol":"kernel","scope":"link","prefsrc":"10.1.0.1","flags":[]},` +
			`{"dst":"10.3.0.0/24","dev":"ib0.8001","protocol":"kernel","scope":"link","prefsrc":"10.3.0.1","flags":["linkdown"]}]` + "\n", ""},
		{"-6 route show dev ib0", "fd00::/64 proto kernel metric 256 pref medium\n" +
			"fd01::1 proto kernel metric 256 pref medium\n" +
			"fe80::/64 proto kernel metric 256 pref medium\n", ""},
		{"-6 -j route show dev ib0.8001", "[]\n", ""},
		{"route show dev nosuch", "", "ibctl: route show: Cannot find device \"nosuch\"\n"},
		{"route show table 100", "", "ibctl: route show: table 100: FIB table does not exist\n"},
		{"route show table local", "", "ibctl: route show: table local: not supported (the driver keeps the main table only)\n"},
		{"route show table foo", "", "ibctl: route show: Error: argument \"foo\" is wrong: table id value is invalid\n"},
		{"route show dev", "", "ibctl: route show: Command line is not complete. Try \"ibctl route --help\".\n"},
		{"route show proto kernel", "", "ibctl: route show: \"proto\" is not supported (dev IFNAME, table TABLE)\n"},
		{"route bogus", "", "ibctl: route: unknown command \"bogus\" (try \"ibctl route --help\")\n"},
	} {
		out, errs, _ := e.run(tc.cmd)
		if out != tc.out || errs != tc.errs {
			t.Errorf("%s:\n%q %q, want\n%q %q", tc.cmd, out, errs, tc.out, tc.errs)
		}
	}
	// down: the routes go (the child goes down with its parent)
	e.ok("link set ib0.8001 down")
	if out, _, _ := e.run("route"); out != "10.1.0.0/16 dev ib0 proto kernel scope link src 10.1.0.1 \n" {
		t.Errorf("after ib0 down: %q", out)
	}
}

// TestRouteShowMatchesIP compares route show's format with what the
// real ip (iproute2 6.1) prints for a veth pair in a network namespace
// of the test's own: the routes are read back from ip -j route and
// printed by ibctl's printer.
func TestRouteShowMatchesIP(t *testing.T) {
	ns := ipTestNetns(t, "route")
	for _, line := range []string{
		"link add va type veth peer name vb",
		"link set va addrgenmode none", "link set vb addrgenmode none",
		"addr add 10.1.0.1/16 dev va", "addr add 10.1.0.2/16 dev va", "addr add 10.2.0.1/32 dev va",
		"addr add 192.0.2.1/24 dev vb",
		"addr add fd00::1/64 dev va nodad", "addr add fd01::1/128 dev va nodad",
		"link set va up", // vb down: va has no carrier
	} {
		ipNetns(t, ns, strings.Fields(line)...)
	}
	for _, tc := range []struct {
		ip  string
		g   Globals
		dev string
	}{
		{ip: "route"},
		{ip: "route show dev va", dev: "va"},
		{ip: "-6 route", g: Globals{Family: "inet6"}},
		{ip: "-o -6 route", g: Globals{Family: "inet6", Oneline: true}},
		{ip: "-6 route show dev va", g: Globals{Family: "inet6"}, dev: "va"},
	} {
		routes := netnsRoutes(t, ns, tc.g.Family)
		for _, g := range []Globals{tc.g, func() Globals { g := tc.g; g.JSON = true; return g }()} {
			args := strings.Fields(tc.ip)
			if g.JSON {
				args = append([]string{"-j"}, args...)
			}
			want := ipNetns(t, ns, args...)
			var got bytes.Buffer
			if err := printRoutes(&got, routes, &g, tc.dev); err != nil {
				t.Fatal(err)
			}
			if got.String() != want || want == "" || want == "[]\n" {
				t.Errorf("ip %s:\n%s\nibctl:\n%s", strings.Join(args, " "), want, got.String())
			}
		}
	}
}

// netnsRoutes reads the main table of the namespace back from ip -j
// route, as the driver would describe it.
func netnsRoutes(t *testing.T, ns, family string) []netlinkx.Route {
	t.Helper()
	fam := uint8(unix.AF_INET)
	args := []string{"-j", "route"}
	if family == "inet6" {
		fam, args = unix.AF_INET6, []string{"-6", "-j", "route"}
	}
	var jr []struct {
		Dst, Dev, Protocol, Scope, Prefsrc string
		Metric                             uint32
		Flags                              []string
	}
	if err := json.Unmarshal([]byte(ipNetns(t, ns, args...)), &jr); err != nil {
		t.Fatal(err)
	}
	var out []netlinkx.Route
	for _, j := range jr {
		p, err := netip.ParsePrefix(j.Dst)
		if err != nil {
			a := netip.MustParseAddr(j.Dst)
			p = netip.PrefixFrom(a, a.BitLen())
		}
		r := netlinkx.Route{Family: fam, Dst: p.Addr().AsSlice(), DstLen: uint8(p.Bits()), Dev: j.Dev,
			Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_KERNEL, Metric: j.Metric}
		if j.Scope == "link" {
			r.Scope = unix.RT_SCOPE_LINK
		}
		if j.Prefsrc != "" {
			r.Src = netip.MustParseAddr(j.Prefsrc).AsSlice()
		}
		for _, f := range j.Flags {
			if f == "linkdown" {
				r.Flags |= unix.RTNH_F_LINKDOWN
			}
		}
		out = append(out, r)
	}
	return out
}
