package ibctl

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/fabric"
)

func TestNaturalCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"n2", "n10", -1},
		{"n10", "n2", 1},
		{"n2", "n2", 0},
		{"node9/1", "node10/1", -1},
		{"n1", "n1a", -1},
		{"n02", "n2", -1}, // equal values: plain order
		{"n2", "n02", 1},
		{"a10b2", "a10b10", -1},
		{"b1", "a2", 1},
		{"", "n", -1},
		{"n99999999999999999999", "n100000000000000000000", -1},
	} {
		if got := naturalCompare(tc.a, tc.b); got != tc.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestSMMemberOrder checks that sm groups and sm partition list list
// members in the same order in text and JSON: by node name with numbers
// compared by value (n2 before n10), then port.
func TestSMMemberOrder(t *testing.T) {
	topo := fabric.DefaultTopology()
	base := topo.Nodes[0]
	topo.Nodes = nil
	for _, name := range []string{"n10", "n2", "n1"} {
		nd := base
		nd.Name = name
		topo.Nodes = append(topo.Nodes, nd)
	}
	e := newEnvWith(t, driver.Options{Topology: topo})
	e.ok("-n n10 link set ib0 up", "-n n2 link set ib0 up", "-n n1 link set ib0 up",
		"sm partition add 0x8001 member n10/1 member n2/1:limited member n1/2 member n1/1")

	lastColumn := func(text, first string) string {
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, first+" ") {
				f := strings.SplitN(line, "  ", -1)
				return strings.TrimSpace(f[len(f)-1])
			}
		}
		t.Fatalf("no row %s in\n%s", first, text)
		return ""
	}

	text, _, _ := e.run("sm partition list")
	js, _, _ := e.run("-j sm partition list")
	var parts []struct {
		PKey    string
		Members []struct {
			Node string
			Port int
			Full bool
		}
	}
	if err := json.Unmarshal([]byte(js), &parts); err != nil {
		t.Fatal(err)
	}
	want := "n1/1:full n1/2:full n2/1:limited n10/1:full"
	if got := lastColumn(text, "0x8001"); got != want {
		t.Errorf("partition list text members %q, want %q", got, want)
	}
	var jm []string
	for _, p := range parts {
		if p.PKey != "0x8001" {
			continue
		}
		for _, m := range p.Members {
			kind := "limited"
			if m.Full {
				kind = "full"
			}
			jm = append(jm, fmt.Sprintf("%s/%d:%s", m.Node, m.Port, kind))
		}
	}
	if got := strings.Join(jm, " "); got != want {
		t.Errorf("partition list JSON members %q, want %q", got, want)
	}

	text, _, _ = e.run("sm groups")
	js, _, _ = e.run("-j sm groups")
	var groups []struct {
		MGID      string
		Broadcast bool
		Members   []struct {
			Node      string
			Port      int
			JoinState string `json:"join_state"`
		}
	}
	if err := json.Unmarshal([]byte(js), &groups); err != nil {
		t.Fatal(err)
	}
	want = "n1/1:full n2/1:full n10/1:full"
	seen := 0
	for _, g := range groups {
		if !g.Broadcast || !strings.Contains(g.MGID, ":ffff:0:0:0:ffff:ffff") {
			continue
		}
		seen++
		var jm []string
		for _, m := range g.Members {
			jm = append(jm, fmt.Sprintf("%s/%d:%s", m.Node, m.Port, m.JoinState))
		}
		if got := strings.Join(jm, " "); got != want {
			t.Errorf("groups JSON members %q, want %q", got, want)
		}
		if got := lastColumn(text, g.MGID); got != want {
			t.Errorf("groups text members %q, want %q", got, want)
		}
	}
	if seen != 1 {
		t.Fatalf("%d broadcast groups of 0xffff in\n%s", seen, js)
	}
}
