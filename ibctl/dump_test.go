package ibctl

import (
	"encoding/json"
	"fmt"
	"github.com/ibctl/ibctl/sysfs"
	"sort"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/netlinkx"
)

// TestSysListOf32767Children lists class/net with ib0's 32 767 legacy
// children (every P_Key 0x0001…0x7fff): a reply of about 1.3 MB, far
// above one datagram.
func TestSysListOf32767Children(t *testing.T) {
	e := newEnv(t)
	n, err := e.drv.Node("node0")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ib0", "ib1"}
	files := sysfs.New(n)
	for pkey := 1; pkey <= 0x7fff; pkey++ {
		if _, err := files.Write("class/net/ib0/create_child", []byte(fmt.Sprintf("0x%x", pkey))); err != nil {
			t.Fatalf("create_child 0x%x: %v", pkey, err)
		}
		want = append(want, fmt.Sprintf("ib0.%04x", pkey))
	}
	sort.Strings(want) // ls order, directories then marked with a slash
	for i := range want {
		want[i] += "/"
	}
	out, errs, st := e.run("sys ls class/net")
	if st != 0 || errs != "" {
		t.Fatalf("sys ls: status %d, stderr %q", st, errs)
	}
	if got := strings.Fields(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("sys ls class/net: %d names, want %d (%q … %q)", len(got), len(want), got[:min(3, len(got))], want[:3])
	}
}

// TestGroupsOf1024Nodes lists the multicast groups of a fabric of 1 024
// nodes with ib0 up: the broadcast group alone has 1 024 members, and
// every port's solicited-node group is listed as well.
func TestGroupsOf1024Nodes(t *testing.T) {
	topo := fabric.DefaultTopology()
	base := topo.Nodes[0]
	topo.Nodes = nil
	for i := 0; i < 1024; i++ {
		nd := base
		nd.Name = fmt.Sprintf("n%04d", i)
		topo.Nodes = append(topo.Nodes, nd)
	}
	e := newEnvWith(t, driver.Options{Topology: topo})
	up := true
	for _, nd := range topo.Nodes {
		n, err := e.drv.Node(nd.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: &up}); err != nil {
			t.Fatalf("%s ib0 up: %v", nd.Name, err)
		}
	}
	want := e.drv.Groups()
	out, errs, st := e.run("-j sm groups")
	if st != 0 || errs != "" {
		t.Fatalf("sm groups: status %d, stderr %q", st, errs)
	}
	if len(out) < 4*65536 {
		t.Fatalf("sm groups: %d bytes of JSON, want a fabric far above one datagram", len(out))
	}
	var got []struct {
		MGID    string `json:"mgid"`
		Members []struct {
			Node string `json:"node"`
			Port uint32 `json:"port"`
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d groups, want %d", len(got), len(want))
	}
	broadcast := 0
	for i, g := range want {
		if g.Broadcast {
			broadcast = len(g.Members)
		}
		var gm, wm []string
		for _, m := range got[i].Members {
			gm = append(gm, fmt.Sprintf("%s/%d", m.Node, m.Port))
		}
		for _, m := range g.Members {
			wm = append(wm, fmt.Sprintf("%s/%d", m.Node, m.Port))
		}
		if got[i].MGID != gidString(g.MGID) || strings.Join(gm, " ") != strings.Join(wm, " ") {
			t.Fatalf("group %d: %s with %d members, want %s with %d", i, got[i].MGID, len(gm), gidString(g.MGID), len(wm))
		}
	}
	if broadcast != 1024 {
		t.Fatalf("broadcast group of %d members, want 1024", broadcast)
	}
}
