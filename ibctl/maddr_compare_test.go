package ibctl

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// maddrShape is ip -j maddr show dev DEV as a list of entries in order:
// "dev" for the interface's record, then "family address" for each group,
// with a link address named by the group it maps ("link 224.0.0.1"; the
// mapping is the link type's) and solicited-node groups reduced to
// "ff02::1:ffXX:XXXX" (their address is the interface's).
func maddrShape(t *testing.T, js string) []string {
	t.Helper()
	var jm []struct {
		Maddr []struct{ Link, Family, Address string }
	}
	if err := json.Unmarshal([]byte(js), &jm); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	var out []string
	for _, j := range jm {
		out = append(out, "dev")
		for _, a := range j.Maddr {
			switch {
			case a.Link != "":
				out = append(out, "link "+linkGroup(a.Link))
			case strings.HasPrefix(a.Address, "ff02::1:ff"):
				out = append(out, a.Family+" ff02::1:ffXX:XXXX")
			default:
				out = append(out, a.Family+" "+a.Address)
			}
		}
	}
	return out
}

// linkGroup names the group a multicast link address maps: on Ethernet
// (ip_eth_mc_map, ipv6_eth_mc_map) 01:00:5e + the IPv4 group's low 23
// bits or 33:33 + the IPv6 group's low 32 bits; on IPoIB (ip_ib_mc_map,
// ipv6_ib_mc_map) 00:ff:ff:ff + an MGID with signature 0x401b and the
// IPv4 group's low 28 bits, or 0x601b and the IPv6 group's low 80 bits.
// Only the groups an interface joins by itself are named.
func linkGroup(hw string) string {
	switch {
	case hw == "01:00:5e:00:00:01",
		strings.HasPrefix(hw, "00:ff:ff:ff:ff:12:40:1b:") && strings.HasSuffix(hw, ":00:00:00:00:00:00:00:00:00:01"):
		return "224.0.0.1"
	case hw == "33:33:00:00:00:01",
		strings.HasPrefix(hw, "00:ff:ff:ff:ff:12:60:1b:") && strings.HasSuffix(hw, ":00:00:00:00:00:00:00:00:00:01"):
		return "ff02::1"
	case strings.HasPrefix(hw, "33:33:ff:"),
		strings.HasPrefix(hw, "00:ff:ff:ff:ff:12:60:1b:") && len(hw) == 59 && hw[41:50] == ":00:01:ff":
		return "ff02::1:ffXX:XXXX"
	}
	return hw
}

// TestMaddrMatchesIP: an interface lists the multicast addresses a
// kernel interface does in each state, in the kernel's order: its dev_mc
// list (/proc/net/dev_mcast, in the order dev_mc_add appended them), then
// /proc/net/igmp and /proc/net/igmp6 (newest first). ipv6_add_dev
// (net/ipv6/addrconf.c) joins ff02::1 and ff01::1 at register (ff01::1
// with no link address: igmp6_group_added maps no group below link-local
// scope); ip_mc_up (net/ipv4/igmp.c) joins 224.0.0.1 at every up, with or
// without an IPv4 address, on the in_device that inetdev_init made at
// register and that stays when the last address goes; the link-local
// address brings its solicited-node group when the link is ready. Going
// down, ip_mc_down and ipv6_mc_down drop every group from the device,
// 224.0.0.1 altogether; at the next up ip_mc_up runs before the link is
// ready (addrconf_dev_config → ipv6_mc_up), so 224.0.0.1's link address
// comes first. Below an MTU of 1280 there is no IPv6 (addrconf_ifdown);
// an interface with no group at all is not listed. The same holds for
// veths in a namespace of the test's own with iproute2 6.1.
func TestMaddrMatchesIP(t *testing.T) {
	const (
		snm     = "inet6 ff02::1:ffXX:XXXX"
		linkSNM = "link ff02::1:ffXX:XXXX"
	)
	upFirst := []string{"dev", "link ff02::1", "link 224.0.0.1", linkSNM, "inet 224.0.0.1", snm, "inet6 ff02::1", "inet6 ff01::1"}
	upAgain := []string{"dev", "link 224.0.0.1", "link ff02::1", linkSNM, "inet 224.0.0.1", snm, "inet6 ff02::1", "inet6 ff01::1"}
	// Each case is an interface: ibctl's is a child of ib0 on its P_Key
	// (ib0 and ib1 themselves for the first two), ip's a veth whose peer
	// is up.
	cases := []struct {
		name, dev, veth string
		steps           []string // "up", "down", "addr", "del" (10.7.N.1/24), "mtu N"
		want            []string
	}{
		{"up with an IPv4 address", "ib0", "h0", []string{"addr", "up"}, upFirst},
		{"never up", "ib1", "h1", nil, []string{"dev", "link ff02::1", "inet6 ff02::1", "inet6 ff01::1"}},
		{"up without an address", "c2", "h2", []string{"up"}, upFirst},
		{"last IPv4 address deleted", "c3", "h3", []string{"up", "addr", "del"}, upFirst},
		{"down", "c4", "h4", []string{"up", "addr", "down"}, []string{"dev", "inet6 ff02::1", "inet6 ff01::1"}},
		{"up again", "c5", "h5", []string{"up", "down", "up"}, upAgain},
		{"up at MTU 1200", "c6", "h6", []string{"up", "mtu 1200"}, []string{"dev", "link 224.0.0.1", "inet 224.0.0.1"}},
		{"down at MTU 1000", "c7", "h7", []string{"mtu 1000"}, nil},
	}
	e := newEnv(t)
	e.ok("link set ib0 up")
	for i, c := range cases {
		if i >= 2 {
			e.ok(fmt.Sprintf("link add link ib0 name %s type ipoib pkey 0xffff", c.dev))
		}
		for _, step := range c.steps {
			e.ok(maddrStep(step, "dev "+c.dev, i))
		}
	}
	for _, c := range cases {
		js, errs, st := e.run("-j maddr show dev " + c.dev)
		if st != 0 {
			t.Fatalf("maddr show dev %s: %d %s", c.dev, st, errs)
		}
		if got := maddrShape(t, js); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: ibctl %s: %q, want %q", c.name, c.dev, got, c.want)
		}
		if text, _, _ := e.run("maddr show dev " + c.dev); c.want == nil && (text != "" || js != "[]\n") {
			t.Errorf("%s: ibctl %s: %q and %q, want nothing and []", c.name, c.dev, text, js)
		}
	}

	ns := ipTestNetns(t, "maddr")
	for i, c := range cases {
		ipNetns(t, ns, "link", "add", c.veth, "type", "veth", "peer", "name", "p"+c.veth)
		ipNetns(t, ns, "link", "set", "dev", "p"+c.veth, "up")
		for _, step := range c.steps {
			ipNetns(t, ns, strings.Fields(maddrStep(step, "dev "+c.veth, i))...)
		}
	}
	for _, c := range cases {
		js := ipNetns(t, ns, "-j", "maddr", "show", "dev", c.veth)
		if got := maddrShape(t, js); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: ip %s: %q, want %q", c.name, c.veth, got, c.want)
		}
		if text := ipNetns(t, ns, "maddr", "show", "dev", c.veth); c.want == nil && (text != "" || js != "[]\n") {
			t.Errorf("%s: ip %s: %q and %q, want nothing and []", c.name, c.veth, text, js)
		}
	}
}

// maddrStep is the ip command line of a step of TestMaddrMatchesIP on
// dev, the case's i-th.
func maddrStep(step, dev string, i int) string {
	switch f := strings.Fields(step); f[0] {
	case "up", "down":
		return "link set " + dev + " " + f[0]
	case "addr":
		return fmt.Sprintf("addr add 10.7.%d.1/24 %s", i, dev)
	case "del":
		return fmt.Sprintf("addr del 10.7.%d.1/24 %s", i, dev)
	default:
		return "link set " + dev + " mtu " + f[1]
	}
}
