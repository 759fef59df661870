package ibctl

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/netlinkx"
)

// render returns what a Printer prints as text and as JSON.
func render(t *testing.T, p *Printer) (string, string) {
	t.Helper()
	var text, js strings.Builder
	if err := emit(&text, &Globals{}, p); err != nil {
		t.Fatal(err)
	}
	if err := emit(&js, &Globals{JSON: true}, p); err != nil {
		t.Fatal(err)
	}
	return text.String(), js.String()
}

func TestDriverStatusPrinter(t *testing.T) {
	for _, tc := range []struct {
		running  bool
		st       netlinkx.Status
		text, js string
	}{
		{true, netlinkx.Status{PID: 42, Socket: "/run/ibctl/ibctl.sock", StateDir: "/var/lib/ibctl", Nodes: []string{"node0", "node1"}, Links: 4, Uptime: 7},
			"driver: running\npid: 42\nsocket: /run/ibctl/ibctl.sock\nstate dir: /var/lib/ibctl\nnodes: node0 node1\nlinks: 4\nuptime: 7s\n",
			`{"running":true,"pid":42,"socket":"/run/ibctl/ibctl.sock","state_dir":"/var/lib/ibctl","nodes":["node0","node1"],"links":4,"uptime":7}` + "\n"},
		{false, netlinkx.Status{Socket: "/tmp/x.sock"}, "", `{"running":false,"socket":"/tmp/x.sock"}` + "\n"},
	} {
		text, js := render(t, driverStatusPrinter(tc.running, tc.st))
		if text != tc.text || js != tc.js {
			t.Errorf("running %v:\ntext %q\nwant %q\njson %s\nwant %s", tc.running, text, tc.text, js, tc.js)
		}
	}
}

// TestSysJSONMatchesText rebuilds the text of sys ls and sys read from
// their -j twins.
func TestSysJSONMatchesText(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	for _, path := range []string{"class/net", "class/net/ib0", "module/ib_ipoib/parameters"} {
		text, _, _ := e.run("sys ls " + path)
		js, _, _ := e.run("-j sys ls " + path)
		var entries []struct{ Name, Type, Mode string }
		if err := json.Unmarshal([]byte(js), &entries); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, en := range entries {
			b.WriteString(en.Name)
			switch en.Type {
			case "dir":
				b.WriteString("/")
			case "file":
			default:
				t.Errorf("%s/%s: type %q", path, en.Name, en.Type)
			}
			if len(en.Mode) != 4 || strings.Trim(en.Mode, "01234567") != "" {
				t.Errorf("%s/%s: mode %q", path, en.Name, en.Mode)
			}
			b.WriteString("\n")
		}
		if b.String() != text || len(entries) < 2 {
			t.Errorf("sys ls %s text:\n%s\nrebuilt from JSON:\n%s", path, text, b.String())
		}
	}
	for _, path := range []string{"class/net/ib0.7fff/pkey", "class/net/ib0/mode", "/sys/module/ib_ipoib/parameters/send_queue_size"} {
		text, _, _ := e.run("sys read " + path)
		js, _, _ := e.run("-j sys read " + path)
		var v struct{ Path, Value string }
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			t.Fatal(err)
		}
		if v.Value+"\n" != text || v.Path != displayPath(path) || text == "\n" {
			t.Errorf("sys read %s: text %q, JSON %+v", path, text, v)
		}
	}
}

// TestMaddrJSONMatchesText rebuilds the text of maddr show from its -j
// twin.
func TestMaddrJSONMatchesText(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	text, _, _ := e.run("maddr show")
	js, _, _ := e.run("-j maddr show")
	var links []struct {
		Ifindex int
		Ifname  string
		Maddr   []struct{ Family, Address, Link string }
	}
	if err := json.Unmarshal([]byte(js), &links); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	families := map[string]int{}
	for _, l := range links {
		fmt.Fprintf(&b, "%d:\t%s\n", l.Ifindex, l.Ifname)
		for _, m := range l.Maddr {
			if m.Link != "" {
				// a link-layer group is {"link": ADDR}, as ip -j prints it
				m.Family, m.Address = "link", m.Link
			}
			fmt.Fprintf(&b, "\t%-5s %s\n", m.Family, m.Address)
			families[m.Family]++
		}
	}
	if b.String() != text || families["link"] == 0 || families["inet"] == 0 || families["inet6"] == 0 {
		t.Errorf("maddr show text:\n%s\nrebuilt from JSON (%v):\n%s", text, families, b.String())
	}
}
