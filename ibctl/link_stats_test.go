package ibctl

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/netlinkx"
)

// TestStatsBlockMatchesIproute2 compares printStats with what iproute2
// 6.1's `ip -s -s link show lo` printed for the same counters.
func TestStatsBlockMatchesIproute2(t *testing.T) {
	l := netlinkx.Link{Stats: netlinkx.Stats{RxBytes: 3193, RxPackets: 29, TxBytes: 3193, TxPackets: 29}}
	want := "    RX:  bytes packets errors dropped  missed   mcast           \n" +
		"          3193      29      0       0       0       0 \n" +
		"    RX errors:  length    crc   frame    fifo overrun\n" +
		"                     0      0       0       0       0 \n" +
		"    TX:  bytes packets errors dropped carrier collsns           \n" +
		"          3193      29      0       0       0       0 \n" +
		"    TX errors: aborted   fifo  window heartbt transns\n" +
		"                     0      0       0       0       0 \n"
	p := NewPrinter()
	printStats(p, l, true)
	if got := p.TextOut(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// a wide value widens its column
	l.Stats.RxBytes = 12345678901
	p = NewPrinter()
	printStats(p, l, false)
	if got := strings.SplitN(p.TextOut(), "\n", 3)[:2]; got[0] != "    RX:   bytes packets errors dropped  missed   mcast           " ||
		got[1] != "    12345678901      29      0       0       0       0 " {
		t.Errorf("wide: %q", got)
	}
}

func TestLinkShowStats(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "-n node1 link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	e.addAddr("node1", "ib0", "10.0.0.2/24")
	e.ok("ping -c 2 -i 0 10.0.0.2")
	for _, tc := range []struct{ name, cmd string }{
		{"link_show_s", "link show -s ib0"},
		{"link_show_s_s", "link show -s -s ib0"},
		{"link_show_s_json", "-j link show -s ib0"},
	} {
		out, errs, st := e.run(tc.cmd)
		if st != 0 || errs != "" {
			t.Fatalf("%s: %d %q", tc.cmd, st, errs)
		}
		golden(t, tc.name, out)
	}
	// JSON values equal the counters (ARP + 2 echoes each way)
	out, _, _ := e.run("-j link show -s ib0")
	var v []struct {
		Stats64 struct{ Rx, Tx map[string]uint64 } `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v[0].Stats64.Tx["packets"] != 3 || v[0].Stats64.Rx["packets"] != 3 || v[0].Stats64.Tx["bytes"] != 4+56+2*(4+84) {
		t.Fatalf("stats64 = %+v", v[0].Stats64)
	}
	// without -s nothing changes
	plain, _, _ := e.run("link show ib0")
	if strings.Contains(plain, "RX:") {
		t.Fatalf("link show without -s prints statistics:\n%s", plain)
	}
}
