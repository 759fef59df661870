package ibctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/clocktest"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

func TestGetPrefix(t *testing.T) {
	tests := []struct {
		arg    string
		family uint8
		want   string // family/address/bitlen/plenSet, or "" for an error
	}{
		{"10.0.0.1/24", 0, "2 10.0.0.1/24 true"},
		{"10.0.0.1", 0, "2 10.0.0.1/32 false"},
		{"10.1", 0, "2 10.1.0.0/32 false"},
		{"10", 0, "2 10.0.0.0/32 false"},
		{"0x0a.010.0.1/0x18", 0, "2 10.8.0.1/24 true"},
		{"10.0.0.1/024", 0, "2 10.0.0.1/20 true"},
		{"10.0.0.3/255.255.0.0", 0, "2 10.0.0.3/16 true"},
		{"10.0.0.3/255.255", 0, "2 10.0.0.3/16 true"},
		{"10.0.0.3/255.0.255.0", 0, ""},
		{"10.0.0.1/any", 0, "2 10.0.0.1/0 true"},
		{"10.0.0.1/33", 0, ""},
		{"10.0.0.1/-1", 0, ""},
		{"10.0.0.1/", 0, ""},
		{"10.0.0.1/24/8", 0, ""},
		{"10.0.0.256/24", 0, ""},
		{"10.0.0.1.5", 0, ""},
		{"10..1", 0, ""},
		{"-1.0.0.0", 0, ""},
		{"+1.2.3.4", 0, "2 1.2.3.4/32 false"},
		{"/24", 0, ""},
		{"foo", 0, ""},
		{"", 0, ""},
		{"10.0.0.1/24", unix.AF_INET6, ""},
		{"fd00::1/64", 0, "10 fd00::1/64 true"},
		{"FE80::1", 0, "10 fe80::1/128 false"},
		{"::ffff:1.2.3.4/96", 0, "10 ::ffff:1.2.3.4/96 true"},
		{"fd00::1/129", 0, ""},
		{"fd00::1/255.255.255.0", 0, "10 fd00::1/24 true"},
		{"fe80::1%ib0/64", 0, ""},
		{"fd00::1", unix.AF_INET, ""},
		{"1::2::3", 0, ""},
		{"default", 0, "0 invalid IP/0 false"},
		{"any", unix.AF_INET, "2 0.0.0.0/0 false"},
		{"default/24", 0, ""},
	}
	for _, tt := range tests {
		p, ok := getPrefix(tt.arg, tt.family)
		got := ""
		if ok {
			ip, _ := netip.AddrFromSlice(p.data)
			got = fmt.Sprintf("%d %s/%d %v", p.family, ip, p.bitlen, p.plenSet)
		}
		if got != tt.want {
			t.Errorf("getPrefix(%q, %d) = %q, want %q", tt.arg, tt.family, got, tt.want)
		}
	}
}

func TestParseAddrArgs(t *testing.T) {
	v4 := []byte{10, 0, 0, 1}
	tests := []struct {
		verb, line string
		want       AddrArgs
		err        string
	}{
		{"add", "10.0.0.1/24 dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET, Local: v4, PrefixLen: 24}, ""},
		{"add", "dev ib0 local 10.0.0.1/24 brd + label ib0:1 scope link",
			AddrArgs{Dev: "ib0", Family: unix.AF_INET, Local: v4, PrefixLen: 24, Broadcast: []byte{10, 0, 0, 255}, Label: "ib0:1", Scope: unix.RT_SCOPE_LINK}, ""},
		{"add", "10.0.0.9/30 b + dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET, Local: []byte{10, 0, 0, 9}, PrefixLen: 30, Broadcast: []byte{10, 0, 0, 11}}, ""},
		{"add", "10.0.0.9/30 brd - dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET, Local: []byte{10, 0, 0, 9}, PrefixLen: 30, Broadcast: []byte{10, 0, 0, 8}}, ""},
		{"add", "10.0.0.9/31 brd + dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET, Local: []byte{10, 0, 0, 9}, PrefixLen: 31}, ""},
		{"add", "broadcast 10.0.0.255 10.0.0.1/24 dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET, Local: v4, PrefixLen: 24, Broadcast: []byte{10, 0, 0, 255}}, ""},
		{"add", "127.0.0.2/8 dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET, Local: []byte{127, 0, 0, 2}, PrefixLen: 8, Scope: unix.RT_SCOPE_HOST}, ""},
		{"add", "127.0.0.2/8 scope 7 dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET, Local: []byte{127, 0, 0, 2}, PrefixLen: 8, Scope: 7}, ""},
		{"add", "fe80::1/64 dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET6, Local: []byte{0xfe, 0x80, 15: 1}, PrefixLen: 64}, ""},
		{"add", "fd00::7 dev ib1 dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET6, Local: []byte{0xfd, 15: 7}, PrefixLen: 128}, ""},
		{"add", "dev ib0", AddrArgs{Dev: "ib0"}, ""},
		{"add", "default dev ib0", AddrArgs{Dev: "ib0"}, ""},
		{"delete", "10.0.0.1/24 dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET, Local: v4, PrefixLen: 24}, ""},
		{"delete", "10.0.0.1/24 brd + dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET, Local: v4, PrefixLen: 24}, ""},
		{"delete", "fd00::7 dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET6, Local: []byte{0xfd, 15: 7}, PrefixLen: 128}, ""},
		{"delete", "10.1 dev ib0", AddrArgs{Dev: "ib0", Family: unix.AF_INET, Local: []byte{10, 1, 0, 0}, Wildcard: true,
			Warning: "Warning: Executing wildcard deletion to stay compatible with old scripts.\n" +
				"         Explicitly specify the prefix length (10.1/32) to avoid this warning.\n" +
				"         This special behaviour is likely to disappear in further releases,\n" +
				"         fix your scripts!\n"}, ""},
		{"add", "10.0.0.7/33 dev ib0", AddrArgs{}, "Error: any valid prefix is expected rather than \"10.0.0.7/33\"."},
		{"add", "brd 10.0.0.255 fd00::1 dev ib0", AddrArgs{}, "Error: inet prefix is expected rather than \"fd00::1\"."},
		{"add", "10.0.0.1/24 brd fd00::1 dev ib0", AddrArgs{}, "Error: inet address is expected rather than \"fd00::1\"."},
		{"add", "10.0.0.1/24 broadcast foo dev ib0", AddrArgs{}, "Error: inet address is expected rather than \"foo\"."},
		{"add", "10.0.0.1/24 brd 10.0.0.255 brd + dev ib0", AddrArgs{}, "Error: duplicate \"broadcast\": \"+\" is the second value."},
		{"add", "10.0.0.1/24 10.0.0.2 dev ib0", AddrArgs{}, "Error: either \"local\" is duplicate, or \"10.0.0.2\" is a garbage."},
		{"add", "10.0.0.1/24", AddrArgs{}, "Not enough information: \"dev\" argument is required."},
		{"add", "10.0.0.1/24 dev", AddrArgs{}, "Command line is not complete. Try option \"help\""},
		{"add", "10.0.0.1/24 local", AddrArgs{}, "Command line is not complete. Try option \"help\""},
		{"add", "fd00::1/64 brd + dev ib0", AddrArgs{}, "Broadcast can be set only for IPv4 addresses"},
		{"add", "brd + dev ib0", AddrArgs{}, "Broadcast can be set only for IPv4 addresses"},
		{"add", "10.0.0.1/24 scope galaxy dev ib0", AddrArgs{}, "Error: argument \"galaxy\" is wrong: invalid scope value."},
		{"add", "10.0.0.1/24 scope 256 dev ib0", AddrArgs{}, "Error: argument \"256\" is wrong: invalid scope value."},
		{"add", "10.0.0.1/24 peer 10.0.0.2 dev ib0", AddrArgs{}, "\"peer\" is not supported"},
		{"add", "10.0.0.1/24 valid 30 dev ib0", AddrArgs{}, "\"valid\" is not supported"},
		{"add", "he", AddrArgs{}, addrUsage},
		{"show", "", AddrArgs{}, ""},
		{"show", "ib0 up", AddrArgs{Dev: "ib0", Up: true}, ""},
		{"show", "up dev ib0", AddrArgs{Dev: "ib0", Up: true}, ""},
		{"show", "ib0 ib1", AddrArgs{}, "Error: either \"dev\" is duplicate, or \"ib1\" is a garbage."},
		{"show", "dev", AddrArgs{}, "Command line is not complete. Try option \"help\""},
		{"show", "to 10.0.0.0/8", AddrArgs{}, "\"to\" is not supported"},
		{"show", "-tentative", AddrArgs{}, "\"-tentative\" is not supported"},
		{"show", "h", AddrArgs{}, addrUsage},
	}
	for _, tt := range tests {
		got, err := ParseAddrArgs(tt.verb, strings.Fields(tt.line))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err || ExitStatus(err) != ExitUsage {
				t.Errorf("%s %q: err %v, want usage error %q", tt.verb, tt.line, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", tt.verb, tt.line, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(inetPrefix{})); diff != "" {
			t.Errorf("%s %q (-want +got):\n%s", tt.verb, tt.line, diff)
		}
	}
}

func TestParseNeighArgs(t *testing.T) {
	all := uint32(0xff &^ unix.NUD_NOARP)
	tests := []struct {
		line string
		want string // Dev, State, Family, To (as prefix)
		err  string
	}{
		{"", " 0xbf 0 invalid Prefix", ""},
		{"dev ib0", "ib0 0xbf 0 invalid Prefix", ""},
		{"nud stale nud reach", " 0x6 0 invalid Prefix", ""},
		{"nud perm nud f", " 0xa0 0 invalid Prefix", ""},
		{"nud all", " 0xffffffff 0 invalid Prefix", ""},
		{"nud none", " 0x100 0 invalid Prefix", ""},
		{"nud 0x40", " 0x40 0 invalid Prefix", ""},
		{"to 10.0.0.0/8", " 0xbf 2 10.0.0.0/8", ""},
		{"fd00::/16 dev ib0", "ib0 0xbf 10 fd00::/16", ""},
		{"nud 3", "", "Error: argument \"3\" is wrong: nud state is bad"},
		{"nud 0x100", "", "Error: argument \"0x100\" is wrong: nud state is bad"},
		{"nud Stale", "", "Error: argument \"Stale\" is wrong: nud state is bad"},
		{"nud", "", "Command line is not complete. Try option \"help\""},
		{"dev ib0 dev ib1", "", "Error: duplicate \"dev\": \"ib1\" is the second value."},
		{"ib0", "", "Error: any valid prefix is expected rather than \"ib0\"."},
		{"10.0.0.0/8 fd00::1", "", "Error: inet prefix is expected rather than \"fd00::1\"."},
		{"proxy", "", "\"proxy\" is not supported"},
		{"help", "", neighUsage},
	}
	for _, tt := range tests {
		a, err := ParseNeighArgs(strings.Fields(tt.line))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err || ExitStatus(err) != ExitUsage {
				t.Errorf("%q: err %v, want usage error %q", tt.line, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.line, err)
			continue
		}
		ip, _ := netip.AddrFromSlice(a.To.data)
		pfx := netip.PrefixFrom(ip, a.To.bitlen)
		if got := fmt.Sprintf("%s %#x %d %s", a.Dev, a.State, a.Family, pfx); got != tt.want {
			t.Errorf("%q = %q, want %q", tt.line, got, tt.want)
		}
	}
	if a, _ := ParseNeighArgs(nil); a.State != all {
		t.Errorf("default state %#x", a.State)
	}
}

func TestNeighSelected(t *testing.T) {
	n := func(state uint16, flags uint8, dst ...byte) netlinkx.Neigh {
		return netlinkx.Neigh{Index: 2, Family: unix.AF_INET, State: state, Flags: flags, Dst: dst}
	}
	tests := []struct {
		line string
		n    netlinkx.Neigh
		want bool
	}{
		{"", n(unix.NUD_REACHABLE, 0, 10, 0, 0, 2), true},
		{"", n(unix.NUD_NOARP, 0, 10, 0, 0, 2), false},
		{"", n(unix.NUD_NONE, 0, 10, 0, 0, 2), false},
		{"", n(unix.NUD_NOARP, unix.NTF_PROXY, 10, 0, 0, 2), true},
		{"nud all", n(unix.NUD_NOARP, 0, 10, 0, 0, 2), true},
		{"nud none", n(unix.NUD_NONE, 0, 10, 0, 0, 2), true},
		{"nud stale", n(unix.NUD_REACHABLE, 0, 10, 0, 0, 2), false},
		{"10.0.0.0/31", n(unix.NUD_REACHABLE, 0, 10, 0, 0, 1), true},
		{"10.0.0.0/31", n(unix.NUD_REACHABLE, 0, 10, 0, 0, 2), false},
		{"10.0.0.2", n(unix.NUD_REACHABLE, 0, 10, 0, 0, 2), true},
		{"fd00::/8", n(unix.NUD_REACHABLE, 0, 10, 0, 0, 2), false},
		{"default", n(unix.NUD_REACHABLE, 0, 10, 0, 0, 2), true},
	}
	for _, tt := range tests {
		a, err := ParseNeighArgs(strings.Fields(tt.line))
		if err != nil {
			t.Fatal(err)
		}
		if got := a.selected(tt.n, 0); got != tt.want {
			t.Errorf("%q selects %+v: %v", tt.line, tt.n, got)
		}
	}
	if a, _ := ParseNeighArgs(nil); a.selected(n(unix.NUD_REACHABLE, 0, 10, 0, 0, 2), 3) {
		t.Error("dev filter ignored")
	}
}

// TestInetNtop6 checks glibc's inet_ntop forms (taken from it).
func TestInetNtop6(t *testing.T) {
	for in, want := range map[string]string{
		"::": "::", "::1": "::1", "::1:2": "::0.1.0.2", "::ffff:1.2.3.4": "::ffff:1.2.3.4",
		"1:0:0:1::1": "1:0:0:1::1", "1:0:1:0:1:0:1:0": "1:0:1:0:1:0:1:0", "0:0:1::": "0:0:1::", "fe80::1": "fe80::1",
		"::0:1:0:0:0:0": "0:0:0:1::", "2001:db8:0:0:1:0:0:1": "2001:db8::1:0:0:1", "::ffff:0:1.2.3.4": "::ffff:0:102:304",
		"1::ffff:1.2.3.4": "1::ffff:102:304",
	} {
		if got := inetNtop6(netip.MustParseAddr(in).As16()); got != want {
			t.Errorf("inetNtop6(%s) = %q, want %q", in, got, want)
		}
	}
}

func print1(fn func(p *Printer)) (string, string) {
	p := NewPrinter()
	fn(p)
	b, err := json.Marshal(p.Object())
	if err != nil {
		panic(err)
	}
	return p.TextOut(), string(b)
}

func TestPrintAddr(t *testing.T) {
	tests := []struct {
		a          netlinkx.Addr
		text, json string
	}{
		{netlinkx.Addr{Family: unix.AF_INET, PrefixLen: 24, Flags: unix.IFA_F_PERMANENT | unix.IFA_F_SECONDARY, Local: []byte{10, 0, 0, 2},
			Broadcast: []byte{10, 0, 0, 255}, Label: "ib0"},
			"    inet 10.0.0.2/24 brd 10.0.0.255 scope global secondary ib0\n       valid_lft forever preferred_lft forever\n",
			`{"family":"inet","local":"10.0.0.2","prefixlen":24,"broadcast":"10.0.0.255","scope":"global","secondary":true,"label":"ib0","valid_life_time":4294967295,"preferred_life_time":4294967295}`},
		{netlinkx.Addr{Family: unix.AF_INET6, PrefixLen: 64, Scope: unix.RT_SCOPE_LINK, Flags: unix.IFA_F_SECONDARY | unix.IFA_F_TENTATIVE | 0x10000,
			Local: []byte{0xfe, 0x80, 15: 1}},
			"    inet6 fe80::1/64 scope link temporary tentative dynamic flags 10000 \n       valid_lft forever preferred_lft forever\n",
			`{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link","temporary":true,"tentative":true,"dynamic":true,"ifa_flags":"10000","valid_life_time":4294967295,"preferred_life_time":4294967295}`},
		{netlinkx.Addr{Family: 7, Scope: 9, Flags: unix.IFA_F_PERMANENT},
			"    family 7 scope 9 \n       valid_lft forever preferred_lft forever\n",
			`{"family_index":7,"scope":"9","valid_life_time":4294967295,"preferred_life_time":4294967295}`},
		{netlinkx.Addr{Family: unix.AF_INET6, PrefixLen: 128, Scope: unix.RT_SCOPE_HOST, Flags: unix.IFA_F_PERMANENT | unix.IFA_F_NODAD, Local: []byte{1, 2, 3}},
			"    inet6 ???/128 scope host nodad \n       valid_lft forever preferred_lft forever\n",
			`{"family":"inet6","local":"???","prefixlen":128,"scope":"host","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}`},
	}
	for _, tt := range tests {
		text, js := print1(func(p *Printer) { PrintAddr(p, tt.a) })
		if text != tt.text || js != tt.json {
			t.Errorf("%+v:\n got %q\n     %s\nwant %q\n     %s", tt.a, text, js, tt.text, tt.json)
		}
	}
}

func TestPrintNeigh(t *testing.T) {
	ll := []byte{0x80, 0, 0, 0x48, 0xfe, 0x80, 13: 0x02, 0xc9, 0x03, 0, 0, 0x10, 0x01}
	const lls = "80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:10:01"
	tests := []struct {
		n          netlinkx.Neigh
		dev        string
		stats      bool
		text, json string
	}{
		{netlinkx.Neigh{Family: unix.AF_INET, State: unix.NUD_REACHABLE, Dst: []byte{10, 0, 0, 2}, LLAddr: ll}, "ib0", false,
			"10.0.0.2 dev ib0 lladdr " + lls + " REACHABLE \n",
			`{"dst":"10.0.0.2","dev":"ib0","lladdr":"` + lls + `","state":["REACHABLE"]}`},
		{netlinkx.Neigh{Family: unix.AF_INET, State: unix.NUD_FAILED, Dst: []byte{10, 0, 0, 9}}, "", false,
			"10.0.0.9 FAILED \n", `{"dst":"10.0.0.9","state":["FAILED"]}`},
		{netlinkx.Neigh{Family: unix.AF_INET6, State: unix.NUD_STALE, Flags: unix.NTF_ROUTER | unix.NTF_PROXY, Dst: []byte{0xfd, 15: 1}, LLAddr: ll}, "ib0.8001", false,
			"fd00::1 dev ib0.8001 lladdr " + lls + " router proxy STALE \n",
			`{"dst":"fd00::1","dev":"ib0.8001","lladdr":"` + lls + `","router":null,"proxy":null,"state":["STALE"]}`},
		{netlinkx.Neigh{Family: unix.AF_INET, State: 0xff, Flags: unix.NTF_EXT_LEARNED | unix.NTF_OFFLOADED, Dst: []byte{10, 0, 0, 3}}, "ib1", false,
			"10.0.0.3 dev ib1 extern_learn offload INCOMPLETE REACHABLE STALE DELAY PROBE FAILED NOARP PERMANENT \n",
			`{"dst":"10.0.0.3","dev":"ib1","extern_learn":null,"offload":null,"state":["INCOMPLETE","REACHABLE","STALE","DELAY","PROBE","FAILED","NOARP","PERMANENT"]}`},
		{netlinkx.Neigh{Family: unix.AF_INET, State: 0x100, Dst: []byte{10, 0, 0, 4}}, "ib1", false,
			"10.0.0.4 dev ib1 \n", `{"dst":"10.0.0.4","dev":"ib1","state":[]}`},
		// -s: print_cacheinfo (ref only when not zero, the ticks in whole
		// seconds) and the probes, between the flags and the state
		{netlinkx.Neigh{Family: unix.AF_INET, State: unix.NUD_REACHABLE, Dst: []byte{10, 0, 0, 2}, LLAddr: ll,
			Used: 1299, Confirmed: 1200, Updated: 1234, Refcnt: 1, Probes: 4}, "ib0", true,
			"10.0.0.2 dev ib0 lladdr " + lls + "  ref 1 used 12/12/12probes 4 REACHABLE \n",
			`{"dst":"10.0.0.2","dev":"ib0","lladdr":"` + lls + `","refcnt":1,"used":12,"confirmed":12,"updated":12,"probes":4,"state":["REACHABLE"]}`},
		{netlinkx.Neigh{Family: unix.AF_INET6, State: unix.NUD_STALE, Flags: unix.NTF_ROUTER, Dst: []byte{0xfd, 15: 1}, LLAddr: ll,
			Used: 4000, Confirmed: 4099, Updated: 1000, Probes: 4}, "", true,
			"fd00::1 lladdr " + lls + " router  used 40/40/10probes 4 STALE \n",
			`{"dst":"fd00::1","lladdr":"` + lls + `","router":null,"used":40,"confirmed":40,"updated":10,"probes":4,"state":["STALE"]}`},
		{netlinkx.Neigh{Family: unix.AF_INET, State: unix.NUD_FAILED, Dst: []byte{10, 0, 0, 9},
			Used: 500, Confirmed: 6500, Updated: 200, Probes: 6}, "ib0", true,
			"10.0.0.9 dev ib0  used 5/65/2probes 6 FAILED \n",
			`{"dst":"10.0.0.9","dev":"ib0","used":5,"confirmed":65,"updated":2,"probes":6,"state":["FAILED"]}`},
		// without -s the statistics stay out
		{netlinkx.Neigh{Family: unix.AF_INET, State: unix.NUD_FAILED, Dst: []byte{10, 0, 0, 9},
			Used: 500, Confirmed: 6500, Updated: 200, Refcnt: 1, Probes: 6}, "ib0", false,
			"10.0.0.9 dev ib0 FAILED \n", `{"dst":"10.0.0.9","dev":"ib0","state":["FAILED"]}`},
		{netlinkx.Neigh{Family: unix.AF_INET}, "", false, "\n", `{}`},
	}
	for _, tt := range tests {
		text, js := print1(func(p *Printer) { PrintNeigh(p, tt.n, tt.dev, tt.stats) })
		if text != tt.text || js != tt.json {
			t.Errorf("%+v:\n got %q\n     %s\nwant %q\n     %s", tt.n, text, js, tt.text, tt.json)
		}
	}
}

// addrScenario is the configuration the addr and neigh goldens show: on
// node0 ib0 up with IPv4 and IPv6 addresses, a netlink child with one,
// ib1 down without; node1's ib0 answers a ping, so node0 has learnt it,
// and a ping to an address nobody has left a failed entry: its three
// solicitations, a second apart, went unanswered on the driver's clock.
func newAddrEnv(t *testing.T) *env {
	t.Helper()
	clk := clocktest.New(t)
	e := newClockedEnv(t, clk, driver.Options{})
	e.ok("link set ib0 up",
		"link add link ib0 name ib0.8001 up type ipoib pkey 0x8001",
		"addr add 10.0.0.1/24 brd + dev ib0",
		"addr add fd00::1/64 dev ib0",
		"addr add fe80::1/64 dev ib0",
		"addr add 192.168.1.1/16 brd + dev ib0.8001",
		"-n node1 link set ib0 up",
		"-n node1 addr add 10.0.0.2/24 dev ib0",
		"ping -c 1 10.0.0.2")
	// The ping waits on the driver's clock: it ends when its deadline or
	// the entry's failure comes, whichever the clock reaches first.
	done := make(chan string, 1)
	go func() {
		if _, errs, st := e.run("ping -c 1 -W 0.2 10.0.0.9"); st != 1 {
			done <- fmt.Sprintf("ping 10.0.0.9: %d %s", st, errs)
		}
		close(done)
	}()
	n0, _ := e.drv.Node("node0")
	for bound := time.Now().Add(10 * time.Second); !hasNeigh(t, n0, []byte{10, 0, 0, 9}); runtime.Gosched() {
		if time.Now().After(bound) {
			t.Fatal("ping 10.0.0.9 made no neighbour entry")
		}
	}
	clk.Advance(3 * time.Second)
	if msg, failed := <-done; failed {
		t.Fatal(msg)
	}
	return e
}

// hasNeigh reports whether the node has a neighbour entry for dst.
func hasNeigh(t *testing.T, n *driver.Node, dst []byte) bool {
	t.Helper()
	ns, err := n.Neighs()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ns {
		if bytes.Equal(x.Dst, dst) {
			return true
		}
	}
	return false
}

func TestAddrNeighGolden(t *testing.T) {
	e := newAddrEnv(t)
	for _, tc := range []struct{ name, cmd string }{
		{"addr_show", "addr show"},
		{"addr_show_json", "-j addr show"},
		{"addr_show_dev", "address ls dev ib0.8001"},
		{"addr_show_dev_pretty", "-j -p a ls ib0.8001"},
		{"neigh_show", "neigh show"},
		{"neigh_show_json", "-j neigh"},
		{"neigh_show_dev", "n show dev ib0 nud failed"},
		{"neigh_show_dev_json", "-j neigh show dev ib0 nud failed"},
		{"neigh_show_s", "-s neigh show nud all"},
		{"neigh_show_s_json", "-j -s neigh show nud all"},
	} {
		out, errs, st := e.run(tc.cmd)
		if st != 0 || errs != "" {
			t.Fatalf("%s: %d %q", tc.cmd, st, errs)
		}
		golden(t, tc.name, out)
	}
	if out, _, _ := e.run("addr show up"); strings.Contains(out, "ib1") || !strings.Contains(out, "ib0.8001") {
		t.Errorf("show up:\n%s", out)
	}
}

// TestAddrJSONMatchesText rebuilds the text of addr show and neigh show
// from their -j twins.
func TestAddrJSONMatchesText(t *testing.T) {
	e := newAddrEnv(t)
	var links []struct {
		Ifindex                 int
		Ifname, Link            string
		Flags                   []string
		MTU                     int
		Qdisc, Operstate, Group string
		Txqlen                  int
		LinkType                string `json:"link_type"`
		Address, Broadcast      string
		AddrInfo                []map[string]any `json:"addr_info"`
	}
	text, _, _ := e.run("addr show")
	js, _, _ := e.run("-j addr show")
	if err := json.Unmarshal([]byte(js), &links); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range links {
		name := l.Ifname
		if l.Link != "" {
			name += "@" + l.Link
		}
		fmt.Fprintf(&b, "%d: %s: <%s> mtu %d qdisc %s state %s group %s qlen %d\n    link/%s %s brd %s\n",
			l.Ifindex, name, strings.Join(l.Flags, ","), l.MTU, l.Qdisc, l.Operstate, l.Group, l.Txqlen, l.LinkType, l.Address, l.Broadcast)
		for _, a := range l.AddrInfo {
			fmt.Fprintf(&b, "    %s %s/%v ", a["family"], a["local"], a["prefixlen"])
			if brd, ok := a["broadcast"]; ok {
				fmt.Fprintf(&b, "brd %s ", brd)
			}
			fmt.Fprintf(&b, "scope %s ", a["scope"])
			if label, ok := a["label"]; ok {
				fmt.Fprint(&b, label)
			}
			if a["valid_life_time"] != float64(infinityLifeTime) || a["preferred_life_time"] != float64(infinityLifeTime) {
				t.Errorf("lifetimes %v", a)
			}
			b.WriteString("\n       valid_lft forever preferred_lft forever\n")
		}
	}
	if b.String() != text {
		t.Errorf("addr show text:\n%s\nrebuilt from JSON:\n%s", text, b.String())
	}

	var neighs []struct {
		Dst, Dev, Lladdr string
		State            []string
	}
	text, _, _ = e.run("neigh show")
	js, _, _ = e.run("-j neigh show")
	if err := json.Unmarshal([]byte(js), &neighs); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	for _, n := range neighs {
		fmt.Fprintf(&b, "%s dev %s ", n.Dst, n.Dev)
		if n.Lladdr != "" {
			fmt.Fprintf(&b, "lladdr %s ", n.Lladdr)
		}
		b.WriteString(strings.Join(n.State, " ") + " \n")
	}
	if b.String() != text || len(neighs) != 2 {
		t.Errorf("neigh show text:\n%s\nrebuilt from JSON:\n%s", text, b.String())
	}
}

// addrState is what a failed addr command must leave unchanged.
func (e *env) addrState() string {
	e.t.Helper()
	var b strings.Builder
	for _, cmd := range []string{"-j addr show", "-j neigh show nud all", "-n node1 -j addr show"} {
		out, errs, st := e.run(cmd)
		if st != 0 {
			e.t.Fatalf("%s: %d %s", cmd, st, errs)
		}
		b.WriteString(out)
	}
	return b.String()
}

func TestAddrBadInputLeavesStateUnchanged(t *testing.T) {
	tests := []struct {
		cmd    string
		status int
		stderr string
	}{
		{"addr add 10.0.0.7/33 dev ib0", 2, "ibctl: addr add: Error: any valid prefix is expected rather than \"10.0.0.7/33\".\n"},
		{"addr add 10.0.0.256/24 dev ib0", 2, "ibctl: addr add: Error: any valid prefix is expected rather than \"10.0.0.256/24\".\n"},
		{"addr add foo dev ib0", 2, "ibctl: addr add: Error: any valid prefix is expected rather than \"foo\".\n"},
		{"addr add fe80::1%ib0/64 dev ib0", 2, "ibctl: addr add: Error: any valid prefix is expected rather than \"fe80::1%ib0/64\".\n"},
		{"addr add 10.0.0.8/24", 2, "ibctl: addr add: Not enough information: \"dev\" argument is required.\n"},
		{"addr add 10.0.0.8/24 10.0.0.9 dev ib0", 2, "ibctl: addr add: Error: either \"local\" is duplicate, or \"10.0.0.9\" is a garbage.\n"},
		{"addr add 10.0.0.8/24 brd", 2, "ibctl: addr add: Command line is not complete. Try option \"help\"\n"},
		{"addr add 10.0.0.8/24 brd 10.0.0.255 brd + dev ib0", 2, "ibctl: addr add: Error: duplicate \"broadcast\": \"+\" is the second value.\n"},
		{"addr add 10.0.0.8/24 brd fd00::1 dev ib0", 2, "ibctl: addr add: Error: inet address is expected rather than \"fd00::1\".\n"},
		{"addr add fd00::6/64 brd + dev ib0", 2, "ibctl: addr add: Broadcast can be set only for IPv4 addresses\n"},
		{"addr add 10.0.0.8/24 scope galaxy dev ib0", 2, "ibctl: addr add: Error: argument \"galaxy\" is wrong: invalid scope value.\n"},
		{"addr add 10.0.0.8/24 peer 10.0.0.9 dev ib0", 2, "ibctl: addr add: \"peer\" is not supported\n"},
		{"addr add 10.0.0.8/24 dev ib9", 1, "ibctl: Cannot find device \"ib9\"\n"},
		{"addr add 10.0.0.1/24 dev ib0", 1, "ibctl: addr add: File exists\n"},
		{"addr add fd00::1/64 dev ib0", 1, "ibctl: addr add: File exists\n"},
		{"addr add dev ib0", 1, "ibctl: addr add: Operation not supported\n"},
		{"addr del 10.0.0.99/24 dev ib0", 1, "ibctl: addr del: Cannot assign requested address\n"},
		{"addr del 10.0.0.1/16 dev ib0", 1, "ibctl: addr del: Cannot assign requested address\n"},
		{"addr del fd00::99/64 dev ib0", 1, "ibctl: addr del: Cannot assign requested address\n"},
		{"addr del 10.0.0.1/24 dev ib1", 1, "ibctl: addr del: Cannot assign requested address\n"},
		{"addr del 10.0.0.1/24", 2, "ibctl: addr del: Not enough information: \"dev\" argument is required.\n"},
		{"addr show dev ib9", 1, "ibctl: Device \"ib9\" does not exist.\n"},
		{"addr show ib0 ib1", 2, "ibctl: addr show: Error: either \"dev\" is duplicate, or \"ib1\" is a garbage.\n"},
		{"addr show dev", 2, "ibctl: addr show: Command line is not complete. Try option \"help\"\n"},
		{"addr show to 10.0.0.0/8", 2, "ibctl: addr show: \"to\" is not supported\n"},
		{"addr frob", 2, "ibctl: unknown command \"frob\" for \"ibctl addr\"\n"},
		{"neigh show nud bogus", 2, "ibctl: neigh show: Error: argument \"bogus\" is wrong: nud state is bad\n"},
		{"neigh show foo", 2, "ibctl: neigh show: Error: any valid prefix is expected rather than \"foo\".\n"},
		{"neigh show dev ib0 dev ib1", 2, "ibctl: neigh show: Error: duplicate \"dev\": \"ib1\" is the second value.\n"},
		{"neigh show dev ib9", 1, "ibctl: Cannot find device \"ib9\"\n"},
		{"neigh show proxy", 2, "ibctl: neigh show: \"proxy\" is not supported\n"},
	}
	e := newAddrEnv(t)
	before := e.addrState()
	for _, tt := range tests {
		out, errs, st := e.run(tt.cmd)
		if st != tt.status || errs != tt.stderr || out != "" {
			t.Errorf("%s:\n got status %d stderr %q stdout %q\nwant status %d stderr %q", tt.cmd, st, errs, out, tt.status, tt.stderr)
		}
		if after := e.addrState(); after != before {
			t.Fatalf("%s changed state:\n%s\n---\n%s", tt.cmd, before, after)
		}
	}
}

func TestAddrAddDel(t *testing.T) {
	e := newEnv(t)
	show := func() string {
		out, errs, st := e.run("addr show dev ib1")
		if st != 0 {
			t.Fatalf("show: %d %s", st, errs)
		}
		_, rest, _ := strings.Cut(out, "ff:ff:ff:ff\n")
		return rest
	}
	e.ok("a a 10.1.0.1/16 brd + dev ib1", "address add local fd00::2/64 dev ib1")
	want := "    inet 10.1.0.1/16 brd 10.1.255.255 scope global ib1\n       valid_lft forever preferred_lft forever\n" +
		"    inet6 fd00::2/64 scope global \n       valid_lft forever preferred_lft forever\n"
	if got := show(); got != want {
		t.Fatalf("after add:\n%s\nwant:\n%s", got, want)
	}
	// an IPv4 address without a length: any length matches, with ip's warning
	out, errs, st := e.run("addr d 10.1.0.1 dev ib1")
	if st != 0 || out != "" || errs != "Warning: Executing wildcard deletion to stay compatible with old scripts.\n"+
		"         Explicitly specify the prefix length (10.1.0.1/32) to avoid this warning.\n"+
		"         This special behaviour is likely to disappear in further releases,\n"+
		"         fix your scripts!\n" {
		t.Fatalf("wildcard delete: %d %q %q", st, out, errs)
	}
	e.ok("addr delete fd00::2/64 dev ib1")
	if got := show(); got != "" {
		t.Fatalf("after delete:\n%s", got)
	}
	if out, _, _ := e.run("-j addr show ib1"); !strings.HasSuffix(out, `"addr_info":[]}]`+"\n") {
		t.Fatalf("json without addresses: %s", out)
	}
	// another node's table is its own
	e.ok("-n node1 addr add 10.1.0.1/16 dev ib1")
	if got := show(); got != "" {
		t.Fatalf("node1's address on node0:\n%s", got)
	}
}

// IPv4 addresses in a subnet that has one already are secondaries: listed
// after the primaries and flagged, and deleting the primary deletes them
// (promote_secondaries 0); a new primary goes before the secondaries.
func TestAddrSecondaries(t *testing.T) {
	e := newEnv(t)
	list := func() string {
		out, errs, st := e.run("-j addr show dev ib1")
		if st != 0 {
			t.Fatalf("show: %d %s", st, errs)
		}
		var ls []struct {
			AddrInfo []struct {
				Local     string `json:"local"`
				PrefixLen int    `json:"prefixlen"`
				Secondary bool   `json:"secondary"`
			} `json:"addr_info"`
		}
		if err := json.Unmarshal([]byte(out), &ls); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, a := range ls[0].AddrInfo {
			fmt.Fprintf(&b, "%s/%d", a.Local, a.PrefixLen)
			if a.Secondary {
				b.WriteString(" secondary")
			}
			b.WriteString(", ")
		}
		return b.String()
	}
	steps := []struct{ cmd, want string }{
		{"addr add 10.1.0.1/24 dev ib1", "10.1.0.1/24, "},
		{"addr add 10.1.0.2/24 dev ib1", "10.1.0.1/24, 10.1.0.2/24 secondary, "},
		{"addr add 10.1.0.3/16 dev ib1", "10.1.0.1/24, 10.1.0.3/16, 10.1.0.2/24 secondary, "},
		{"addr add 10.2.0.1/24 dev ib1", "10.1.0.1/24, 10.1.0.3/16, 10.2.0.1/24, 10.1.0.2/24 secondary, "},
		{"addr add 10.1.0.4/24 dev ib1", "10.1.0.1/24, 10.1.0.3/16, 10.2.0.1/24, 10.1.0.2/24 secondary, 10.1.0.4/24 secondary, "},
		{"addr del 10.1.0.1/24 dev ib1", "10.1.0.3/16, 10.2.0.1/24, "},
	}
	for _, s := range steps {
		e.ok(s.cmd)
		if got := list(); got != s.want {
			t.Fatalf("after %s:\n got %s\nwant %s", s.cmd, got, s.want)
		}
	}
	e.ok("addr add 10.2.0.9/24 dev ib1")
	out, _, _ := e.run("addr show dev ib1")
	if want := "    inet 10.2.0.9/24 scope global secondary ib1\n"; !strings.Contains(out, want) {
		t.Errorf("addr show lacks %q:\n%s", want, out)
	}
}

// TestAddrFlush runs addr flush as ip 6.1 does it: what it requires,
// its selectors, the secondaries that go with their primary and the
// lines of -s and -s -s; bad input deletes nothing.
func TestAddrFlush(t *testing.T) {
	setup := []string{
		"addr add 10.1.0.1/24 dev ib1", "addr add 10.1.0.2/24 dev ib1", "addr add 10.2.0.1/16 dev ib1",
		"addr add fd00::1/64 dev ib1", "addr add 10.3.0.1/8 dev ib0", "addr add 10.4.0.1/8 dev ib0",
		"addr add 127.0.0.9/8 dev ib0",
	}
	const ib0, ib1 = "ib0 10.3.0.1/8, ib0 127.0.0.9/8, ib0 10.4.0.1/8, ", "ib1 10.1.0.1/24, ib1 10.2.0.1/16, ib1 10.1.0.2/24, ib1 fd00::1/64, "
	const all = ib0 + ib1
	round1 := func(n int) string {
		return fmt.Sprintf("\n*** Round 1, deleting %d addresses ***\n*** Flush is complete after 1 round ***\n", n)
	}
	tests := []struct {
		cmd            string
		status         int
		stdout, stderr string
		left           string
	}{
		{cmd: "-s addr flush dev ib1", stdout: round1(4), left: ib0},
		{cmd: "addr flush ib1", left: ib0},
		{cmd: "-s addr flush dev ib1 to 10.1.0.2", stdout: round1(1),
			left: ib0 + "ib1 10.1.0.1/24, ib1 10.2.0.1/16, ib1 fd00::1/64, "},
		// 10.4.0.1 goes with its primary 10.3.0.1, 10.1.0.2 would with 10.1.0.1
		{cmd: "-s addr flush to 10.0.0.0/14", stdout: round1(4), left: "ib0 127.0.0.9/8, ib1 fd00::1/64, "},
		{cmd: "-s addr flush to 10.1.0.1/32", stdout: round1(1), left: ib0 + "ib1 10.2.0.1/16, ib1 fd00::1/64, "},
		{cmd: "-6 addr flush up", left: ib0 + "ib1 10.1.0.1/24, ib1 10.2.0.1/16, ib1 10.1.0.2/24, "},
		{cmd: "-s addr flush scope host", stdout: "Nothing to flush.\n", left: all},
		{cmd: "-s addr flush dev ib0 scope global", stdout: round1(3), left: ib1},
		{cmd: "-s addr flush scope 0", stdout: round1(7), left: ""},
		{cmd: "addr flush scope all dev ib0", left: ib1},
		{cmd: "addr flush label ib0*", left: ib1},
		{cmd: "-s addr flush label ib1", stdout: round1(4), left: ib0},
		{cmd: "-4 addr flush label ib?", left: "ib1 fd00::1/64, "},
		{cmd: "-s -s addr flush dev ib0 to 10.4.0.1/32", stdout: "2: ib0    inet 10.4.0.1/8 scope global secondary ib0\n" +
			"       valid_lft forever preferred_lft forever\n" + round1(1), left: "ib0 10.3.0.1/8, ib0 127.0.0.9/8, " + ib1},
		{cmd: "-s addr flush dev ib0 to 10.9.0.0/16", stdout: "Nothing to flush.\n", left: all},
		{cmd: "addr flush label x", left: all},
		{cmd: "addr flush", status: 2, stderr: "ibctl: addr flush: Flush requires arguments.\n", left: all},
		{cmd: "-0 addr flush dev ib0", status: 2, stderr: "ibctl: addr flush: Cannot flush link addresses.\n", left: all},
		{cmd: "addr flush dev ib0 scope bogus", status: 2, stderr: "ibctl: addr flush: Error: argument \"bogus\" is wrong: invalid \"scope\"\n", left: all},
		{cmd: "addr flush to", status: 2, stderr: "ibctl: addr flush: Command line is not complete. Try option \"help\"\n", left: all},
		{cmd: "-6 addr flush to 10.0.0.0/8", status: 2, stderr: "ibctl: addr flush: Error: inet6 prefix is expected rather than \"10.0.0.0/8\".\n", left: all},
		{cmd: "addr flush dev ib0 dev ib1", status: 2, stderr: "ibctl: addr flush: Error: either \"dev\" is duplicate, or \"ib1\" is a garbage.\n", left: all},
		// flag selectors, as get_filter reads them: every address is
		// permanent; 10.1.0.2 and 10.4.0.1 are secondaries
		{cmd: "-s addr flush dev ib1 secondary", stdout: round1(1), left: ib0 + "ib1 10.1.0.1/24, ib1 10.2.0.1/16, ib1 fd00::1/64, "},
		{cmd: "-s addr flush dev ib0 temporary", stdout: round1(1), left: "ib0 10.3.0.1/8, ib0 127.0.0.9/8, " + ib1},
		{cmd: "-s -4 addr flush dev ib1 primary", stdout: round1(2), left: ib0 + "ib1 fd00::1/64, "},
		{cmd: "-s -4 addr flush dev ib1 -secondary", stdout: round1(2), left: ib0 + "ib1 fd00::1/64, "},
		{cmd: "-s addr flush dev ib1 dynamic", stdout: "Nothing to flush.\n", left: all},
		{cmd: "-s addr flush dev ib1 -permanent", stdout: "Nothing to flush.\n", left: all},
		{cmd: "-s -6 addr flush dev ib1 permanent", stdout: round1(1), left: ib0 + "ib1 10.1.0.1/24, ib1 10.2.0.1/16, ib1 10.1.0.2/24, "},
		{cmd: "-s addr flush dev ib1 permanent -primary", stdout: round1(1), left: ib0 + "ib1 10.1.0.1/24, ib1 10.2.0.1/16, ib1 fd00::1/64, "},
		{cmd: "-s addr flush dev ib1 tentative", stdout: "Nothing to flush.\n", left: all},
		{cmd: "addr flush label ib1 10.0.0.0/8", status: 1, stderr: "ibctl: Device \"10.0.0.0/8\" does not exist.\n", left: all},
		{cmd: "addr flush dev nosuch", status: 1, stderr: "ibctl: Device \"nosuch\" does not exist.\n", left: all},
	}
	for _, tt := range tests {
		e := newEnv(t)
		e.ok(setup...)
		out, errs, st := e.run(tt.cmd)
		if st != tt.status || out != tt.stdout || errs != tt.stderr {
			t.Errorf("%s: %d %q %q, want %d %q %q", tt.cmd, st, out, errs, tt.status, tt.stdout, tt.stderr)
		}
		js, _, _ := e.run("-j addr show")
		var links []struct {
			Ifname   string `json:"ifname"`
			AddrInfo []struct {
				Local     string `json:"local"`
				PrefixLen int    `json:"prefixlen"`
			} `json:"addr_info"`
		}
		if err := json.Unmarshal([]byte(js), &links); err != nil {
			t.Fatal(err)
		}
		var left strings.Builder
		for _, l := range links {
			for _, a := range l.AddrInfo {
				fmt.Fprintf(&left, "%s %s/%d, ", l.Ifname, a.Local, a.PrefixLen)
			}
		}
		if left.String() != tt.left {
			t.Errorf("%s: left %s\nwant %s", tt.cmd, left.String(), tt.left)
		}
	}
}

// TestNeighFlush runs neigh flush as ip 6.1 does it on node0's table, a
// REACHABLE 10.0.0.2 and a FAILED 10.0.0.9 on ib0: what it requires,
// which states it deletes, its selectors and the lines of -s; bad input
// deletes nothing.
func TestNeighFlush(t *testing.T) {
	const both = "10.0.0.2 dev ib0 lladdr 80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:20:01 REACHABLE \n10.0.0.9 dev ib0 FAILED \n"
	const reachable = "10.0.0.2 dev ib0 lladdr 80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:20:01 REACHABLE \n"
	// the ping to 10.0.0.2 resolved it at the start, 3 s ago; 10.0.0.9
	// failed now, its three solicitations sent
	const statsOne = "10.0.0.2 lladdr 80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:20:01  ref 1 used 3/3/3probes 4 REACHABLE \n" +
		"10.0.0.9  used 3/63/0probes 6 FAILED \n"
	const statsAll = "10.0.0.2 dev ib0 lladdr 80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:20:01  ref 1 used 3/3/3probes 4 REACHABLE \n" +
		"10.0.0.9 dev ib0  used 3/63/0probes 6 FAILED \n"
	round1 := func(n int) string {
		return fmt.Sprintf("\n*** Round 1, deleting %d entries ***\n*** Flush is complete after 1 round ***\n", n)
	}
	tests := []struct {
		cmd            string
		status         int
		stdout, stderr string
		left           string
	}{
		{cmd: "-s neigh flush dev ib0", stdout: round1(2)},
		// -s -s lists each entry deleted, with its statistics, before its
		// round, as text even with -j
		{cmd: "-s -s neigh flush dev ib0", stdout: statsOne + round1(2)},
		{cmd: "-j -s -s neigh flush dev ib0", stdout: statsOne + round1(2)},
		{cmd: "-s -s neigh flush all", stdout: statsAll + round1(2)},
		{cmd: "-s -s neigh flush nud failed", stdout: "10.0.0.9 dev ib0  used 3/63/0probes 6 FAILED \n" + round1(1), left: reachable},
		{cmd: "neigh flush dev ib0"},
		{cmd: "neigh flush all"},
		{cmd: "-s neigh flush nud failed", stdout: round1(1), left: reachable},
		{cmd: "-s neigh flush to 10.0.0.8/31", stdout: round1(1), left: reachable},
		{cmd: "neigh flush nud reachable nud stale", left: "10.0.0.9 dev ib0 FAILED \n"},
		{cmd: "neigh flush nud all dev ib0"},
		{cmd: "-s neigh flush dev ib0.8001", stdout: "Nothing to flush.\n", left: both},
		{cmd: "-s neigh flush nud permanent", stdout: "Nothing to flush.\n", left: both},
		{cmd: "-6 neigh flush dev ib0", left: both},
		{cmd: "neigh flush", status: 2, stderr: "ibctl: neigh flush: Flush requires arguments.\n", left: both},
		{cmd: "neigh flush nud bogus", status: 2, stderr: "ibctl: neigh flush: Error: argument \"bogus\" is wrong: nud state is bad\n", left: both},
		{cmd: "neigh flush dev", status: 2, stderr: "ibctl: neigh flush: Command line is not complete. Try option \"help\"\n", left: both},
		{cmd: "neigh flush dev ib9", status: 1, stderr: "ibctl: Cannot find device \"ib9\"\n", left: both},
	}
	for _, tt := range tests {
		e := newAddrEnv(t)
		if left, _, _ := e.run("neigh show nud all"); left != both {
			t.Fatalf("before %s: %q", tt.cmd, left)
		}
		out, errs, st := e.run(tt.cmd)
		if st != tt.status || out != tt.stdout || errs != tt.stderr {
			t.Errorf("%s: %d %q %q, want %d %q %q", tt.cmd, st, out, errs, tt.status, tt.stdout, tt.stderr)
		}
		if left, _, _ := e.run("neigh show nud all"); left != tt.left {
			t.Errorf("%s: left %q, want %q", tt.cmd, left, tt.left)
		}
	}
}
