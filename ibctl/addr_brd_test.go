package ibctl

import (
	"strings"
	"testing"
)

// inetLines are the "inet " lines of ip addr show output, the device name
// at their end left out.
func inetLines(out, dev string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "inet ") {
			lines = append(lines, strings.TrimSuffix(strings.TrimSpace(l), " "+dev))
		}
	}
	return lines
}

// TestAddrBroadcastMatchesIP: an IPv4 address has a broadcast address
// only when "brd" or "broadcast" gives one: ip 6.1 sends IFA_BROADCAST
// only then (ipaddr_modify, ip/ipaddress.c) and the kernel sets
// ifa_broadcast only from it (rtm_to_ifaddr, net/ipv4/devinet.c). The
// same adds on a veth in a namespace of the test's own and on ib0 list
// the same inet lines.
func TestAddrBroadcastMatchesIP(t *testing.T) {
	adds := []string{
		"10.1.0.1/16",
		"10.2.0.1/24 brd +",
		"10.3.0.1/24 brd -",
		"10.4.0.1/24 broadcast 10.4.0.77",
		"10.5.0.1/31 brd +",
		"10.6.0.1/8 brd 0.0.0.0",
	}
	want := []string{
		"inet 10.1.0.1/16 scope global",
		"inet 10.2.0.1/24 brd 10.2.0.255 scope global",
		"inet 10.3.0.1/24 brd 10.3.0.0 scope global",
		"inet 10.4.0.1/24 brd 10.4.0.77 scope global",
		"inet 10.5.0.1/31 scope global",
		"inet 10.6.0.1/8 scope global",
	}
	e := newEnv(t)
	for _, a := range adds {
		e.ok("addr add " + a + " dev ib0")
	}
	out, errs, st := e.run("addr show dev ib0")
	if st != 0 {
		t.Fatalf("addr show: %d %s", st, errs)
	}
	if got := inetLines(out, "ib0"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ibctl:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ns := ipTestNetns(t, "brd")
	ipNetns(t, ns, "link", "add", "va", "type", "veth", "peer", "name", "vb")
	for _, a := range adds {
		ipNetns(t, ns, append([]string{"addr", "add"}, append(strings.Fields(a), "dev", "va")...)...)
	}
	if got := inetLines(ipNetns(t, ns, "addr", "show", "dev", "va"), "va"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ip:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
