package ibctl

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// maddrShape is ip -j maddr show dev DEV as a list of "family address"
// entries in order, with link addresses reduced to "link" (their mapping
// is the link type's) and solicited-node groups to "ff02::1:ffXX:XXXX"
// (their address is the interface's).
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
		for _, a := range j.Maddr {
			switch {
			case a.Link != "":
				out = append(out, "link")
			case strings.HasPrefix(a.Address, "ff02::1:ff"):
				out = append(out, a.Family+" ff02::1:ffXX:XXXX")
			default:
				out = append(out, a.Family+" "+a.Address)
			}
		}
	}
	return out
}

// TestMaddrMatchesIP: an interface lists the multicast addresses a
// kernel interface does, in the kernel's order (dev_mc list, then
// /proc/net/igmp and /proc/net/igmp6, newest first): up with an IPv4
// address and its link-local address, the link entries of ff02::1,
// 224.0.0.1 and the solicited-node group, then 224.0.0.1, the
// solicited-node group, ff02::1 and ff01::1 (interface-local, which
// igmp6_group_added maps to no link address); down, ff02::1's link
// entry, ff02::1 and ff01::1 (ipv6_add_dev joined them at register). The
// same holds for a veth in a namespace of the test's own with iproute2
// 6.1.
func TestMaddrMatchesIP(t *testing.T) {
	up := []string{"link", "link", "link", "inet 224.0.0.1", "inet6 ff02::1:ffXX:XXXX", "inet6 ff02::1", "inet6 ff01::1"}
	down := []string{"link", "inet6 ff02::1", "inet6 ff01::1"}
	e := newEnv(t)
	e.ok("addr add 10.7.0.1/24 dev ib0", "link set ib0 up")
	for dev, want := range map[string][]string{"ib0": up, "ib1": down} {
		js, errs, st := e.run("-j maddr show dev " + dev)
		if st != 0 {
			t.Fatalf("maddr show dev %s: %d %s", dev, st, errs)
		}
		if got := maddrShape(t, js); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ibctl %s: %q, want %q", dev, got, want)
		}
	}

	ns := ipTestNetns(t, "maddr")
	for _, line := range []string{"link add va type veth peer name vb", "link add vc type veth peer name vd",
		"addr add 10.7.0.1/24 dev va", "link set vb up", "link set va up"} {
		ipNetns(t, ns, strings.Fields(line)...)
	}
	for dev, want := range map[string][]string{"va": up, "vc": down} {
		if got := maddrShape(t, ipNetns(t, ns, "-j", "maddr", "show", "dev", dev)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ip %s: %q, want %q", dev, got, want)
		}
	}
}
