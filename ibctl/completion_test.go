package ibctl

import (
	"strings"
	"testing"
)

// TestCompletion drives cobra's __complete as the shell scripts do: device
// names, feature names and sys paths come from the running driver.
func TestCompletion(t *testing.T) {
	e := newEnv(t)
	e.ok("link add link ib0 name ib0.8001 type ipoib pkey 0x8001")
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "link", "set", ""}, []string{"dev", "ib0", "ib1", "ib0.8001", ":4"}},
		{[]string{"__complete", "link", "add", "link", ""}, []string{"ib0", "ib1", "ib0.8001", ":4"}},
		{[]string{"__complete", "link", "set", "ib0", "type", "ipoib", "mode", ""}, []string{"datagram", "connected", ":4"}},
		{[]string{"__complete", "ethtool", "-K", "ib0", ""}, []string{"rx", "tx", "sg", "tso"}},
		{[]string{"__complete", "ethtool", ""}, []string{"ib0", "ib1", "ib0.8001"}},
		{[]string{"__complete", "sys", "read", "class/net/"}, []string{"class/net/ib0/", "class/net/ib0.8001/", "class/net/ib1/", ":6"}},
		{[]string{"__complete", "sys", "read", "/sys/class/net/ib0/p"}, []string{"/sys/class/net/ib0/pkey"}},
		{[]string{"__complete", "-n", ""}, []string{"node0", "node1"}},
		// ip's options before the object
		{[]string{"__complete", "-br", "-4", "addr", "show", ""}, []string{"dev", "up", "ib0", "ib0.8001"}},
		{[]string{"__complete", "-s", "-n", "node1", "link", "show", ""}, []string{"dev", "up", "type", "ib0", "ib1"}},
		{[]string{"__complete", "link", "show", "ib0", ""}, []string{"up", "type", ":4"}},
		{[]string{"__complete", "link", "show", "type", ""}, []string{"ipoib", ":4"}},
		{[]string{"__complete", "addr", "flush", "scope", ""}, []string{"global", "link", "host", ":4"}},
		{[]string{"__complete", "addr", "flush", ""}, []string{"dev", "scope", "to", "label", "ib0", ":4"}},
		{[]string{"__complete", "neigh", "flush", ""}, []string{"dev", "nud", "to", ":4"}},
		{[]string{"__complete", "-o", "li"}, []string{"link\tShow and change IPoIB links (ip link)"}},
	}
	for _, tt := range tests {
		out, errs, st := e.runArgs(tt.args)
		if st != 0 {
			t.Fatalf("%v: %d %s", tt.args, st, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		got := map[string]bool{}
		for _, l := range lines {
			got[l] = true
		}
		for _, w := range tt.want {
			if !got[w] {
				t.Errorf("%v: missing %q in %q", tt.args, w, lines)
			}
		}
	}
}
