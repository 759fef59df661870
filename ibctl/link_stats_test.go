package ibctl

import (
	"encoding/json"
	"strconv"
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
	// -s alone: the same without the error rows
	p = NewPrinter()
	printStats(p, l, false)
	lines := strings.SplitAfter(want, "\n")
	if got, want := p.TextOut(), lines[0]+lines[1]+lines[4]+lines[5]; got != want {
		t.Errorf("-s: got\n%s\nwant\n%s", got, want)
	}
}

// TestStatsColumnSizing checks print_stats64's size_columns, including its
// quirks.
func TestStatsColumnSizing(t *testing.T) {
	statsLines := func(l netlinkx.Link, errs bool) []string {
		p := NewPrinter()
		printStats(p, l, errs)
		return strings.Split(p.TextOut(), "\n")
	}
	base := netlinkx.Stats{RxBytes: 3193, RxPackets: 29, TxBytes: 3193, TxPackets: 29}

	// A wide value widens its column in the header and in both value rows.
	s := base
	s.RxBytes = 12345678901
	got := statsLines(netlinkx.Link{Stats: s}, false)
	for i, want := range []string{
		"    RX:   bytes packets errors dropped  missed   mcast           ",
		"    12345678901      29      0       0       0       0 ",
		"    TX:   bytes packets errors dropped carrier collsns           ",
		"           3193      29      0       0       0       0 ",
	} {
		if got[i] != want {
			t.Errorf("wide bytes line %d: got %q want %q", i, got[i], want)
		}
	}
	// Exactly a power of ten: iproute2 6.1 counts digits by division
	// (the older powi < val loop was fixed in 5.19).
	s = base
	s.TxPackets = 10000000
	if got := statsLines(netlinkx.Link{Stats: s}, false); got[2] != "    TX:  bytes  packets errors dropped carrier collsns           " ||
		got[3] != "          3193 10000000      0       0       0       0 " {
		t.Errorf("power of ten: %q", got[2:4])
	}

	// An RX error value widens the column it is printed in; the error
	// rows are indented by cols[0]+5, and their header by cols[0]-10.
	s = base
	s.RxCRCErrors = 123456789
	got = statsLines(netlinkx.Link{Stats: s}, true)
	if got[0] != "    RX:  bytes packets    errors dropped  missed   mcast           " ||
		got[2] != "    RX errors:  length       crc   frame    fifo overrun" ||
		got[3] != "                     0 123456789       0       0       0 " {
		t.Errorf("rx crc errors: %q", got[:4])
	}
	// Without -s -s the error values size nothing.
	if got := statsLines(netlinkx.Link{Stats: s}, false); got[0] != "    RX:  bytes packets errors dropped  missed   mcast           " {
		t.Errorf("rx crc errors without -s -s: %q", got[0])
	}

	// The TX error values are sized one column to the right of where
	// they are printed (size_columns(cols, n, 0, 0, aborted, ...)):
	// aborted widens the "errors" column and overflows its own.
	s = base
	s.TxAbortedErrors = 12345678
	got = statsLines(netlinkx.Link{Stats: s, CarrierChanges: 1}, true)
	for i, want := range map[int]string{
		4: "    TX:  bytes packets   errors dropped carrier collsns           ",
		6: "    TX errors: aborted     fifo  window heartbt transns",
		7: "               12345678        0       0       0       1 ",
	} {
		if got[i] != want {
			t.Errorf("tx aborted line %d: got %q want %q", i, got[i], want)
		}
	}

	// rx_nohandler adds a column to the RX error rows, and a JSON key.
	s = base
	s.RxNoHandler = 5
	p := NewPrinter()
	printStats(p, netlinkx.Link{Stats: s}, true)
	got = strings.Split(p.TextOut(), "\n")
	if got[2] != "    RX errors:  length    crc   frame    fifo overrun  nohandler" ||
		got[3] != "                     0      0       0       0       0          5 " {
		t.Errorf("nohandler: %q", got[2:4])
	}
	js, err := json.Marshal(p.Object())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"missed_errors":0,"nohandler":5}`) {
		t.Errorf("nohandler JSON: %s", js)
	}
	p = NewPrinter()
	printStats(p, netlinkx.Link{Stats: s}, false)
	if strings.Contains(p.TextOut(), "nohandler") {
		t.Errorf("-s shows nohandler:\n%s", p.TextOut())
	}
}

// pingTraffic sets both nodes' ib0 up with addresses and pings node1
// from node0 twice: on node0's ib0 that is one ARP exchange (4+56 bytes
// each way) and two echo requests and replies (4+84 bytes each).
func pingTraffic(e *env) {
	e.ok("link set ib0 up", "-n node1 link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	e.addAddr("node1", "ib0", "10.0.0.2/24")
	e.ok("ping -c 2 -i 0.2 10.0.0.2")
}

func TestLinkShowStats(t *testing.T) {
	e := newEnv(t)
	pingTraffic(e)
	for _, tc := range []struct{ name, cmd string }{
		{"link_show_s", "link show -s ib0"},
		{"link_show_s_s", "link show -s -s ib0"},
		{"link_show_s_json", "-j link show -s ib0"},
		{"link_show_s_s_json", "-j link show -s -s ib0"},
	} {
		out, errs, st := e.run(tc.cmd)
		if st != 0 || errs != "" {
			t.Fatalf("%s: %d %q", tc.cmd, st, errs)
		}
		golden(t, tc.name, out)
	}
	// The counters are the ping's packets.
	out, _, _ := e.run("-j link show -s ib0")
	var v []struct {
		Stats64 struct{ Rx, Tx map[string]uint64 } `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	const bytes = 4 + 56 + 2*(4+84)
	if rx, tx := v[0].Stats64.Rx, v[0].Stats64.Tx; rx["packets"] != 3 || tx["packets"] != 3 || rx["bytes"] != bytes || tx["bytes"] != bytes {
		t.Fatalf("stats64 = %+v", v[0].Stats64)
	}
	// The spellings are equivalent, and -s does not change the lines
	// before the block.
	plain, _, _ := e.run("link show ib0")
	if strings.Contains(plain, "RX:") {
		t.Fatalf("link show without -s prints statistics:\n%s", plain)
	}
	for _, tc := range []struct{ cmd, golden string }{
		{"link show --stats ib0", "link_show_s"},
		{"link show -s dev ib0", "link_show_s"},
		{"link list -s ib0", "link_show_s"},
		{"link show -ss ib0", "link_show_s_s"},
		{"link show -s --stats ib0", "link_show_s_s"},
		{"link show --stats=2 ib0", "link_show_s_s"},
	} {
		out, errs, st := e.run(tc.cmd)
		if st != 0 || errs != "" {
			t.Fatalf("%s: %d %q", tc.cmd, st, errs)
		}
		golden(t, tc.golden, out)
		if !strings.HasPrefix(out, plain) {
			t.Errorf("%s: the lines before the block differ from link show:\n%s", tc.cmd, out)
		}
	}
}

// statsJSONKey maps a header of the text block to its JSON key.
var statsJSONKey = map[string]map[string]string{
	"RX": {"bytes": "bytes", "packets": "packets", "errors": "errors", "dropped": "dropped",
		"missed": "missed_errors", "mcast": "multicast"},
	"RX errors": {"length": "length_errors", "crc": "crc_errors", "frame": "frame_errors",
		"fifo": "fifo_errors", "overrun": "over_errors", "nohandler": "nohandler"},
	"TX": {"bytes": "bytes", "packets": "packets", "errors": "errors", "dropped": "dropped",
		"carrier": "carrier_errors", "collsns": "collisions"},
	"TX errors": {"aborted": "aborted_errors", "fifo": "fifo_errors", "window": "window_errors",
		"heartbt": "heartbeat_errors", "transns": "carrier_changes"},
}

// textStats parses the statistics blocks of `link show -s [-s]` into
// one {"rx": {...}, "tx": {...}} per link, keyed as in JSON.
func textStats(t *testing.T, text string) []map[string]map[string]uint64 {
	t.Helper()
	var out []map[string]map[string]uint64
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		title, names, ok := strings.Cut(strings.TrimLeft(lines[i], " "), ":")
		keys, isStats := statsJSONKey[title]
		if !ok || !isStats || !strings.HasPrefix(lines[i], "    "+title+":") {
			continue
		}
		if title == "RX" {
			out = append(out, map[string]map[string]uint64{"rx": {}, "tx": {}})
		}
		if len(out) == 0 || i+1 >= len(lines) {
			t.Fatalf("stray %q", lines[i])
		}
		dir := strings.ToLower(title[:2])
		hdr, vals := strings.Fields(names), strings.Fields(lines[i+1])
		if len(hdr) != len(vals) {
			t.Fatalf("%q has %d headers, %q %d values", lines[i], len(hdr), lines[i+1], len(vals))
		}
		for j, h := range hdr {
			key, ok := keys[h]
			if !ok {
				t.Fatalf("unknown header %q in %q", h, lines[i])
			}
			n, err := strconv.ParseUint(vals[j], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			out[len(out)-1][dir][key] = n
		}
		i++
	}
	return out
}

// TestLinkStatsJSONMatchesText checks that stats64 carries the values the
// text block shows, for every link, with -s and with -s -s.
func TestLinkStatsJSONMatchesText(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	pingTraffic(e)
	// Traffic the other way too, and ARP requests nobody answers, so
	// that RX and TX differ.
	e.ok("-n node1 ping -c 3 -i 0.2 -s 1000 10.0.0.1")
	e.run("ping -c 1 -W 0.3 10.0.0.9")
	for _, flags := range []string{"-s", "-s -s"} {
		text, errs, st := e.run("link show " + flags)
		if st != 0 || errs != "" {
			t.Fatalf("link show %s: %d %q", flags, st, errs)
		}
		js, _, _ := e.run("-j link show " + flags)
		var links []struct {
			Ifname  string                       `json:"ifname"`
			Stats64 map[string]map[string]uint64 `json:"stats64"`
		}
		if err := json.Unmarshal([]byte(js), &links); err != nil {
			t.Fatal(err)
		}
		blocks := textStats(t, text)
		if len(blocks) != len(links) || len(links) < 4 {
			t.Fatalf("link show %s: %d text blocks, %d JSON links", flags, len(blocks), len(links))
		}
		for i, l := range links {
			tb, jb := blocks[i], l.Stats64
			for _, dir := range []string{"rx", "tx"} {
				for k, v := range tb[dir] {
					jv, ok := jb[dir][k]
					if !ok && flags == "-s" && k == "missed_errors" {
						continue // text shows missed, JSON -s does not
					}
					if !ok || jv != v {
						t.Errorf("%s %s %s.%s: text %d, JSON %d (present %v)", flags, l.Ifname, dir, k, v, jv, ok)
					}
				}
				for k := range jb[dir] {
					if _, ok := tb[dir][k]; !ok && !(flags == "-s" && k == "over_errors") {
						t.Errorf("%s %s: JSON %s.%s is not in the text", flags, l.Ifname, dir, k)
					}
				}
			}
			if l.Ifname == "ib0" && (jb["rx"]["bytes"] == jb["tx"]["bytes"] || jb["rx"]["packets"] == 0) {
				t.Errorf("ib0 traffic is not asymmetric: %v", jb)
			}
		}
	}
}
