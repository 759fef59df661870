package ibctl

import (
	"fmt"
	"github.com/ibctl/ibctl/driver/daemon"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/clocktest"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// addAddr gives a node's interface an address through the driver.
func (e *env) addAddr(node, dev, prefix string) {
	e.t.Helper()
	n, err := e.drv.Node(node)
	if err != nil {
		e.t.Fatal(err)
	}
	l, err := n.Link(0, dev)
	if err != nil {
		e.t.Fatal(err)
	}
	p := netip.MustParsePrefix(prefix)
	if err := n.AddAddr(netlinkx.Addr{Index: l.Index, Family: unix.AF_INET, PrefixLen: uint8(p.Bits()), Local: p.Addr().AsSlice()}); err != nil {
		e.t.Fatal(err)
	}
}

// timeRE matches the measured parts of ping's output.
var timeRE = regexp.MustCompile(`time=[0-9.]+ ms|time [0-9]+ms|= [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms`)

func TestPing(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "-n node1 link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	e.addAddr("node1", "ib0", "10.0.0.2/24")
	tests := []struct {
		cmd, stdout, stderr string
		status              int
	}{
		{"ping -c 2 -i 0.2 10.0.0.2", "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n" +
			"64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=X\n64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=X\n\n" +
			"--- 10.0.0.2 ping statistics ---\n2 packets transmitted, 2 received, 0% packet loss, X\nrtt min/avg/max/mdev X\n", "", 0},
		// the linger time ends ping before the neighbour fails (3 s)
		{"ping -c 1 -W 0.3 10.0.0.9", "PING 10.0.0.9 (10.0.0.9) 56(84) bytes of data.\n\n" +
			"--- 10.0.0.9 ping statistics ---\n1 packets transmitted, 0 received, 100% packet loss, X\n\n", "", 1},
		{"ping -c 1 -s 4000 10.0.0.2", "PING 10.0.0.2 (10.0.0.2) 4000(4028) bytes of data.\n" +
			"4008 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=X\n\n" +
			"--- 10.0.0.2 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, X\nrtt min/avg/max/mdev X\n", "", 0},
		{"ping -c 1 -s 4000 -M do 10.0.0.2", "PING 10.0.0.2 (10.0.0.2) 4000(4028) bytes of data.\n\n" +
			"--- 10.0.0.2 ping statistics ---\n1 packets transmitted, 0 received, +1 errors, 100% packet loss, X\n\n",
			"ping: local error: message too long, mtu=2044\n", 1},
		{"ping -c 1 -s 65508 10.0.0.2", "", "ibctl: ping: invalid argument: '65508': out of range: 0 <= value <= 65507\n", 2},
		{"ping -c 1 192.0.2.1", "", "ibctl: ping: connect: Network is unreachable\n", 2},
		{"ping -c 1 nowhere", "", "ibctl: ping: nowhere: Name or service not known\n", 2},
		{"ping -c 1 -M maybe 10.0.0.2", "", "ibctl: ping: invalid -M argument: maybe\n", 2},
		{"ping -c 1 -i -1 10.0.0.2", "", "ibctl: ping: bad timing interval: -1\n", 2},
		{"ping -c 1 -W 0.0005 10.0.0.2", "", "ibctl: ping: bad linger time: 0.0005\n", 2},
		{"ping -c 1 -W 0 10.0.0.2", "", "ibctl: ping: bad linger time: 0\n", 2},
		{"ping -c 0 10.0.0.2", "", "ibctl: ping: invalid argument: '0': out of range: 1 <= value <= 9223372036854775807\n", 2},
		{"ping -c -3 10.0.0.2", "", "ibctl: ping: invalid argument: '-3': out of range: 1 <= value <= 9223372036854775807\n", 2},
		{"ping -c 00 10.0.0.2", "", "ibctl: ping: invalid argument: '00': out of range: 1 <= value <= 9223372036854775807\n", 2},
		{"ping -c abc 10.0.0.2", "", "ibctl: ping: invalid argument: 'abc'\n", 2},
		{"ping -c 1x 10.0.0.2", "", "ibctl: ping: invalid argument: '1x'\n", 2},
		{"ping -c 9223372036854775808 10.0.0.2", "", "ibctl: ping: invalid argument: '9223372036854775808': Numerical result out of range\n", 2},
	}
	for _, tt := range tests {
		out, errs, st := e.run(tt.cmd)
		out = timeRE.ReplaceAllStringFunc(out, func(s string) string {
			switch {
			case strings.HasPrefix(s, "time="):
				return "time=X"
			case strings.HasPrefix(s, "time "):
				return "X"
			}
			return "X"
		})
		out = strings.ReplaceAll(out, "rtt min/avg/max/mdev X", "rtt min/avg/max/mdev X")
		if out != tt.stdout || errs != tt.stderr || st != tt.status {
			t.Errorf("%s:\n got %d stdout %q stderr %q\nwant %d stdout %q stderr %q", tt.cmd, st, out, errs, tt.status, tt.stdout, tt.stderr)
		}
	}
	// connected mode on both ends: large echoes go over RC connections
	e.ok("sys write class/net/ib0/mode connected", "-n node1 sys write class/net/ib0/mode connected")
	// -W: the connection is set up first, which a loaded machine slows.
	out, _, st := e.run("ping -c 1 -W 30 -s 3000 10.0.0.2")
	if st != 0 || !strings.Contains(out, "3008 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=") {
		t.Errorf("connected mode 3000 bytes: %d %q", st, out)
	}
	// counters moved
	out, _, _ = e.run("ethtool -S ib0")
	if strings.Contains(out, "     rx_packets: 0\n") || strings.Contains(out, "     tx_bytes: 0\n") {
		t.Errorf("ethtool -S after pings:\n%s", out)
	}
}

// TestPingQuietDeadline checks iputils' -q and -w, and that ping
// refuses -j.
func TestPingQuietDeadline(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "-n node1 link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	e.addAddr("node1", "ib0", "10.0.0.2/24")
	const sum2 = "--- 10.0.0.2 ping statistics ---\n2 packets transmitted, 2 received, 0% packet loss, X\nrtt min/avg/max/mdev X\n"
	for _, tt := range []struct {
		cmd, stdout, stderr string
		status              int
	}{
		{"ping -q -c 2 -i 0.2 10.0.0.2", "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n\n" + sum2, "", 0},
		{"ping -q -c 1 -s 4000 -M do 10.0.0.2", "PING 10.0.0.2 (10.0.0.2) 4000(4028) bytes of data.\n\n" +
			"--- 10.0.0.2 ping statistics ---\n1 packets transmitted, 0 received, +1 errors, 100% packet loss, X\n\n", "", 1},
		// -w with -c: COUNT replies end it before the deadline
		{"ping -q -w 5 -c 2 -i 0.2 10.0.0.2", "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n\n" + sum2, "", 0},
		// the deadline ends it: two requests at 0 and 0.6 s, the third
		// would go at 1.2 s; fewer replies than COUNT is status 1
		{"ping -q -w 1 -c 3 -i 0.6 10.0.0.2", "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n\n" + sum2, "", 1},
		{"ping -q -w 1 -i 0.6 10.0.0.2", "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n\n" + sum2, "", 0},
		// with a deadline the first error ends ping
		{"ping -w 5 -c 3 -i 0.2 -s 4000 -M do 10.0.0.2", "PING 10.0.0.2 (10.0.0.2) 4000(4028) bytes of data.\n\n" +
			"--- 10.0.0.2 ping statistics ---\n1 packets transmitted, 0 received, +1 errors, 100% packet loss, X\n\n",
			"ping: local error: message too long, mtu=2044\n", 1},
		{"ping -w x 10.0.0.2", "", "ibctl: ping: invalid argument: 'x'\n", 2},
		{"ping -w -1 10.0.0.2", "", "ibctl: ping: invalid argument: '-1': out of range: 0 <= value <= 2147483647\n", 2},
		{"ping -w 2147483648 10.0.0.2", "", "ibctl: ping: invalid argument: '2147483648': out of range: 0 <= value <= 2147483647\n", 2},
		{"ping -w 99999999999999999999 10.0.0.2", "", "ibctl: ping: invalid argument: '99999999999999999999': Numerical result out of range\n", 2},
		{"-j ping -c 1 10.0.0.2", "", "ibctl: ping: -j: ping has no JSON output\n", 2},
		{"ping -j -c 1 10.0.0.2", "", "ibctl: ping: -j: ping has no JSON output\n", 2},
	} {
		out, errs, st := e.run(tt.cmd)
		out = timeRE.ReplaceAllStringFunc(out, func(s string) string {
			if strings.HasPrefix(s, "time=") {
				return "time=X"
			}
			return "X"
		})
		if out != tt.stdout || errs != tt.stderr || st != tt.status {
			t.Errorf("%s:\n got %d stdout %q stderr %q\nwant %d stdout %q stderr %q", tt.cmd, st, out, errs, tt.status, tt.stdout, tt.stderr)
		}
	}
}

// TestPingNumericAndNode checks that ping's -n is iputils' numeric output,
// which takes no argument, and that the node is then given before the
// command or with --node: the banner's source address tells the node.
func TestPingNumericAndNode(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "-n node1 link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	e.addAddr("node1", "ib0", "10.0.0.2/24")
	const (
		from0 = "PING 10.0.0.2 (10.0.0.2) from 10.0.0.1 ib0: 56(84) bytes of data.\n\n" +
			"--- 10.0.0.2 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, X\nrtt min/avg/max/mdev X\n"
		from1 = "PING 10.0.0.1 (10.0.0.1) from 10.0.0.2 ib0: 56(84) bytes of data.\n\n" +
			"--- 10.0.0.1 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, X\nrtt min/avg/max/mdev X\n"
	)
	for _, tt := range []struct {
		cmd, stdout, stderr string
		status              int
	}{
		{"ping -n -c 1 -q -I ib0 10.0.0.2", from0, "", 0},
		{"ping -q -n -c 1 -I ib0 10.0.0.2", from0, "", 0},
		{"ping -nq -c 1 -I ib0 10.0.0.2", from0, "", 0},
		{"ping --numeric -q -c 1 -I ib0 10.0.0.2", from0, "", 0},
		{"-n node1 ping -n -q -c 1 -I ib0 10.0.0.1", from1, "", 0},
		{"-nnode1 ping -q -c 1 -I ib0 10.0.0.1", from1, "", 0},
		{"-pn node1 ping -q -c 1 -I ib0 10.0.0.1", from1, "", 0},
		{"--node node1 ping -q -c 1 -I ib0 10.0.0.1", from1, "", 0},
		{"ping --node node1 -n -q -c 1 -I ib0 10.0.0.1", from1, "", 0},
		{"ping -q -c 1 -I ib0 --node=node1 10.0.0.1", from1, "", 0},
		{"ping -n node1 -c 1 10.0.0.1", "", "ibctl: ping: unexpected argument \"10.0.0.1\"\n", 2},
		{"-n node9 ping -c 1 10.0.0.1", "", "ibctl: node node9: No such file or directory (no node \"node9\" in the fabric)\n", 1},
	} {
		out, errs, st := e.run(tt.cmd)
		out = timeRE.ReplaceAllString(out, "X")
		if out != tt.stdout || errs != tt.stderr || st != tt.status {
			t.Errorf("%s:\n got %d stdout %q stderr %q\nwant %d stdout %q stderr %q", tt.cmd, st, out, errs, tt.status, tt.stdout, tt.stderr)
		}
	}
	// the same in a batch, whose lines get the batch's own node first
	out, errs, st := e.run("-b -", "-n node1 ping -n -q -c 1 -I ib0 10.0.0.1\nping -n -q -c 1 -I ib0 10.0.0.2\n")
	if out = timeRE.ReplaceAllString(out, "X"); out != from1+from0 || errs != "" || st != 0 {
		t.Errorf("batch: %d stdout %q stderr %q, want 0 stdout %q", st, out, errs, from1+from0)
	}
	out, errs, st = e.run("-n node1 -b -", "ping -n -q -c 1 -I ib0 10.0.0.1\n")
	if out = timeRE.ReplaceAllString(out, "X"); out != from1 || errs != "" || st != 0 {
		t.Errorf("batch -n node1: %d stdout %q stderr %q, want 0 stdout %q", st, out, errs, from1)
	}
}

// TestNodeBeforeCommand checks the rewriting of a -n NODE given before
// the command's name.
func TestNodeBeforeCommand(t *testing.T) {
	root := NewRootCmd(&Factory{IO: &IOStreams{}, Globals: &Globals{}})
	for _, tc := range []struct{ in, want string }{
		{"-n node1 ping -n 10.0.0.1", "--node=node1 ping -n 10.0.0.1"},
		{"-nnode1 ping", "--node=node1 ping"},
		{"-jn node1 link show", "-j --node=node1 link show"},
		{"-jpnnode1 link", "-jp --node=node1 link"},
		{"--socket -n -n node1 ping", "--socket -n --node=node1 ping"},
		{"--node node1 ping -n x", "--node node1 ping -n x"},
		{"--json -n x ping", "--json --node=x ping"},
		{"-b - -n x", "-b - --node=x"},
		{"ping -n -c 1 x", "ping -n -c 1 x"},
		{"-x -n y ping", "-x --node=y ping"},
		{"-- -n x", "-- -n x"},
		{"-n", "-n"},
		{"", ""},
	} {
		got := strings.Join(nodeBeforeCommand(root, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("nodeBeforeCommand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

var stampRE = regexp.MustCompile(`(?m)^\[ *[0-9]+\.[0-9]{6}\] `)

func TestDmesg(t *testing.T) {
	e := newEnv(t)
	e.ok("link add link ib0 name c1 up type ipoib pkey 0x8001",
		"sys write class/net/ib0/umcast 1",
		"link set ib0 type ipoib mode connected")
	out, _, st := e.run("dmesg")
	want := "c1: P_Key 0x8001 is not found\nib0: ignoring multicast groups joined directly by userspace\n" +
		"ib0: enabling connected mode will cause multicast packet drops\nib0: mtu > 4092 will cause multicast packet drops.\n"
	if st != 0 || stampRE.ReplaceAllString(out, "") != want || len(stampRE.FindAllString(out, -1)) != 4 {
		t.Fatalf("dmesg: %d %q", st, out)
	}
	// data path messages only with data_debug_level
	e.ok("link set ib0 type ipoib mode datagram", "link set ib0 up", "-n node1 link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	e.addAddr("node1", "ib0", "10.0.0.2/24")
	e.ok("ping -c 1 10.0.0.2")
	if out, _, _ := e.run("dmesg"); strings.Contains(out, "sending packet") {
		t.Fatalf("data messages without data_debug_level:\n%s", out)
	}
	e.ok("sys write module/ib_ipoib/parameters/data_debug_level 1", "ping -c 1 10.0.0.2")
	out, _, _ = e.run("dmesg")
	if !strings.Contains(out, "] ib0: sending packet, length=88 dlid=0x0003 dqpn=0x000048\n") ||
		!strings.Contains(out, "] ib0: received 128 bytes, SLID 0x0003\n") {
		t.Fatalf("data messages:\n%s", out)
	}
	js, _, _ := e.run("-j dmesg")
	if !strings.HasPrefix(js, `[{"seq":1,"time_ns":`) || !strings.Contains(js, `"msg":"c1: P_Key 0x8001 is not found"`) {
		t.Fatalf("dmesg -j: %s", js)
	}
	// The text rebuilt from the JSON twin.
	out, _, _ = e.run("dmesg")
	var recs []struct {
		Seq    uint64 `json:"seq"`
		TimeNs uint64 `json:"time_ns"`
		Msg    string `json:"msg"`
	}
	strictDecode(t, "-j dmesg", js, &recs)
	var b strings.Builder
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Errorf("record %d has seq %d", i, r.Seq)
		}
		fmt.Fprintf(&b, "[%5d.%06d] %s\n", r.TimeNs/1e9, r.TimeNs%1e9/1e3, r.Msg)
	}
	if b.String() != out {
		t.Errorf("dmesg text:\n%s\nrebuilt from JSON:\n%s", out, b.String())
	}
}

// TestDmesgCtimeAndClear checks dmesg -T's times (the driver's start plus
// each message's whole seconds, as util-linux's ctime format prints them)
// and -c and -C, which clear the node's ring as syslog's actions 4 and 5
// do: what -c printed is gone, a later message is not.
func TestDmesgCtimeAndClear(t *testing.T) {
	clk := clocktest.New(t) // Tue Nov 14 22:13:20 2023 UTC
	e := newClockedEnv(t, clk, driver.Options{})
	e.loc = time.UTC
	clk.Advance(1500 * time.Millisecond)
	e.ok("link add link ib0 name c1 up type ipoib pkey 0x8001")
	clk.Advance(time.Second)
	e.ok("sys write class/net/ib0/umcast 1")
	const first = "c1: P_Key 0x8001 is not found\n"
	const second = "ib0: ignoring multicast groups joined directly by userspace\n"
	steps := []struct {
		cmd            string
		status         int
		stdout, stderr string
	}{
		{cmd: "dmesg -T", stdout: "[Tue Nov 14 22:13:21 2023] " + first + "[Tue Nov 14 22:13:22 2023] " + second},
		{cmd: "dmesg --ctime", stdout: "[Tue Nov 14 22:13:21 2023] " + first + "[Tue Nov 14 22:13:22 2023] " + second},
		{cmd: "dmesg -c -C", status: 2, stderr: "ibctl: dmesg: mutually exclusive arguments: --clear --read-clear\n"},
		{cmd: "dmesg", stdout: "[    1.500000] " + first + "[    2.500000] " + second},
		{cmd: "dmesg -c", stdout: "[    1.500000] " + first + "[    2.500000] " + second},
		{cmd: "dmesg"},
		{cmd: "dmesg -c"},
		{cmd: "link set ib0 type ipoib mode connected"},
		{cmd: "dmesg -T", stdout: "[Tue Nov 14 22:13:22 2023] ib0: enabling connected mode will cause multicast packet drops\n" +
			"[Tue Nov 14 22:13:22 2023] ib0: mtu > 4092 will cause multicast packet drops.\n"},
		{cmd: "dmesg -C"},
		{cmd: "dmesg"},
		{cmd: "link set ib0 type ipoib mode datagram"},
		{cmd: "link set ib0 type ipoib mode connected"},
		{cmd: "-j dmesg -c", stdout: `[{"seq":5,"time_ns":2500000000,"msg":"ib0: enabling connected mode will cause multicast packet drops"},` +
			`{"seq":6,"time_ns":2500000000,"msg":"ib0: mtu \u003e 4092 will cause multicast packet drops."}]` + "\n"},
		{cmd: "-j dmesg", stdout: "[]\n"},
	}
	for _, s := range steps {
		out, errs, st := e.run(s.cmd)
		if st != s.status || out != s.stdout || errs != s.stderr {
			t.Errorf("%s: %d %q %q, want %d %q %q", s.cmd, st, out, errs, s.status, s.stdout, s.stderr)
		}
	}
}

// TestDmesgHuman checks dmesg -H's times as util-linux 2.38 prints them
// without a terminal: the local time to the minute ("%b%e %H:%M") when the
// minute changes, else the seconds since the message before, in 8 or 9
// columns; the last of -T and -H given counts.
func TestDmesgHuman(t *testing.T) {
	clk := clocktest.New(t) // Tue Nov 14 22:13:20 2023 UTC
	e := newClockedEnv(t, clk, driver.Options{})
	e.loc = time.UTC
	clk.Advance(1500 * time.Millisecond)
	e.ok("link add link ib0 name c1 up type ipoib pkey 0x8001")
	clk.Advance(time.Second)
	e.ok("sys write class/net/ib0/umcast 1")
	clk.Advance(13 * time.Second)
	e.ok("link set ib0 type ipoib mode connected", "link set ib0 type ipoib mode datagram")
	clk.Advance(30 * time.Second)
	e.ok("link set ib0 type ipoib mode connected")
	const (
		m1 = "c1: P_Key 0x8001 is not found\n"
		m2 = "ib0: ignoring multicast groups joined directly by userspace\n"
		m3 = "ib0: enabling connected mode will cause multicast packet drops\n"
		m4 = "ib0: mtu > 4092 will cause multicast packet drops.\n"
	)
	human := "[Nov14 22:13] " + m1 + "[  +1.000000] " + m2 + "[ +13.000000] " + m3 + "[  +0.000000] " + m4 +
		"[Nov14 22:14] " + m3 + "[  +0.000000] " + m4
	for _, tc := range []struct{ cmd, out string }{
		{"dmesg -H", human},
		{"dmesg --human", human},
		{"dmesg -T -H", human},
		{"dmesg -H -T", "[Tue Nov 14 22:13:21 2023] " + m1 + "[Tue Nov 14 22:13:22 2023] " + m2 +
			"[Tue Nov 14 22:13:35 2023] " + m3 + "[Tue Nov 14 22:13:35 2023] " + m4 +
			"[Tue Nov 14 22:14:05 2023] " + m3 + "[Tue Nov 14 22:14:05 2023] " + m4},
	} {
		out, errs, st := e.run(tc.cmd)
		if out != tc.out || errs != "" || st != 0 {
			t.Errorf("%s: %d %q %q, want\n%s", tc.cmd, st, out, errs, tc.out)
		}
	}
}

func TestDebugfsFiles(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "-n node1 link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	e.addAddr("node1", "ib0", "10.0.0.2/24")
	e.ok("ping -c 1 -i 0 -W 10 10.0.0.2")
	out, errs, st := e.run("sys read kernel/debug/ipoib/ib0_mcg")
	rec := func(gid string) string {
		return `GID: ` + gid + `\n  created: +[0-9]+\n  queuelen:         0\n  complete:       yes\n  send_only:       no\n\n`
	}
	// the all-hosts group 224.0.0.1 (an IPv4 address is set), the
	// broadcast group, then all-nodes ff02::1 and the solicited-node group
	// of the link-local address fe80::202:c903:0:1001
	if st != 0 || !regexp.MustCompile(`^`+rec("ff12:401b:ffff:0:0:0:0:1")+rec("ff12:401b:ffff:0:0:0:ffff:ffff")+
		rec("ff12:601b:ffff:0:0:0:0:1")+rec("ff12:601b:ffff:0:0:1:ff00:1001")+`$`).MatchString(out) {
		t.Errorf("ib0_mcg: %d %q %q", st, out, errs)
	}
	out, errs, st = e.run("sys read kernel/debug/ipoib/ib0_path")
	want := "GID: fe80:0:0:0:2:c903:0:2001\n  complete:    yes\n  DLID:     0x0003\n  SL:            0\n  rate:      100.0 Gb/sec\n\n"
	if st != 0 || out != want {
		t.Errorf("ib0_path: %d %q %q\nwant %q", st, out, errs, want)
	}
	if out, _, _ := e.run("sys read kernel/debug/ipoib/ib1_mcg"); out != "" {
		t.Errorf("ib1_mcg of a down interface = %q", out)
	}
	// A mode switch flushes the paths; the next packet resolves again.
	e.ok("sys write class/net/ib0/mode connected")
	if out, _, _ := e.run("sys read kernel/debug/ipoib/ib0_path"); out != "" {
		t.Errorf("ib0_path after a mode switch = %q, want empty", out)
	}
	e.ok("ping -c 1 -i 0 -W 10 10.0.0.2")
	if out, _, _ := e.run("sys read kernel/debug/ipoib/ib0_path"); out != want {
		t.Errorf("ib0_path after the next ping = %q, want %q", out, want)
	}
}

func TestMaddrAndMulticastJoins(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "-n node1 link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	e.addAddr("node1", "ib0", "10.0.0.2/24")
	for _, tc := range []struct{ name, cmd string }{
		{"maddr_show", "maddr show"},
		{"maddr_show_json", "-j maddr show dev ib0"},
		{"sm_groups_allhosts", "sm groups"},
	} {
		out, errs, st := e.run(tc.cmd)
		if st != 0 || errs != "" {
			t.Fatalf("%s: %d %q", tc.cmd, st, errs)
		}
		golden(t, tc.name, out)
	}
	if _, errs, st := e.run("maddr show dev ib9"); st != 1 || errs != "ibctl: Device \"ib9\" does not exist.\n" {
		t.Fatalf("maddr show dev ib9: %d %q", st, errs)
	}
	// going down leaves every group
	e.ok("link set ib0 down")
	out, _, _ := e.run("sm groups")
	if strings.Contains(out, "node0/1") || !strings.Contains(out, "ff12:401b:ffff:0:0:0:0:1        0xc002  0xffff  0x00000b1b  2048    100   node1/1:full\n") {
		t.Fatalf("node0 still in a group after down:\n%s", out)
	}
}

func TestPing6(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "-n node1 link set ib0 up", "addr add fd00::1/64 dev ib0", "-n node1 addr add fd00::2/64 dev ib0")
	out, errs, st := e.run("ping -c 1 fd00::2")
	out = timeRE.ReplaceAllString(out, "X")
	want := "PING fd00::2(fd00::2) 56 data bytes\n64 bytes from fd00::2: icmp_seq=1 ttl=64 X\n\n--- fd00::2 ping statistics ---\n" +
		"1 packets transmitted, 1 received, 0% packet loss, X\nrtt min/avg/max/mdev X\n"
	if st != 0 || out != want || errs != "" {
		t.Fatalf("ping6: %d %q %q\nwant %q", st, out, errs, want)
	}
	// the linger time ends ping before the neighbour fails (3 s)
	out, _, st = e.run("ping -c 1 -W 0.3 fd00::9")
	if st != 1 || !strings.HasSuffix(out, "1 packets transmitted, 0 received, 100% packet loss, time 0ms\n\n") {
		t.Fatalf("ping6 unresolved: %d %q", st, out)
	}
	out, _, _ = e.run("-n node1 maddr show dev ib0")
	golden(t, "maddr_show_ipv6", out)
	// node0 sent its solicitation as a send-only member
	out, _, _ = e.run("sys read kernel/debug/ipoib/ib0_mcg")
	if !regexp.MustCompile(`GID: ff12:601b:ffff:0:0:1:ff00:2\n  created: +[0-9]+\n  queuelen:         0\n  complete:       yes\n  send_only:      yes\n`).MatchString(out) {
		t.Fatalf("ib0_mcg after ping6:\n%s", out)
	}
	out, _, _ = e.run("neigh show")
	if !strings.HasPrefix(out, "fd00::2 dev ib0 lladdr 80:") {
		t.Fatalf("neigh after ping6: %q", out)
	}
}

func TestPingUnknownDevice(t *testing.T) {
	e := newEnv(t)
	_, errs, st := e.run("ping -c 1 -I ib9 10.0.0.2")
	if st != 1 || errs != "ibctl: ping: No such device (Cannot find device \"ib9\")\n" {
		t.Fatalf("ping -I ib9: %d %q", st, errs)
	}
}

func TestRouteGet(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	for _, tc := range []struct{ cmd, out, errs string }{
		{"route get 10.0.0.2", "10.0.0.2 dev ib0 src 10.0.0.1 uid 0 \n    cache \n", ""},
		{"route get 10.0.0.1", "local 10.0.0.1 dev lo table local src 10.0.0.1 uid 0 \n    cache <local> \n", ""},
		{"-j route get 10.0.0.1", `[{"type":"local","dst":"10.0.0.1","dev":"lo","table":"local","prefsrc":"10.0.0.1","flags":[],"uid":0,"cache":["local"]}]` + "\n", ""},
		{"-j route get 10.0.0.2", `[{"dst":"10.0.0.2","dev":"ib0","prefsrc":"10.0.0.1","flags":[],"uid":0,"cache":[]}]` + "\n", ""},
		{"route get 192.0.2.1", "", "ibctl: route get: Network is unreachable\n"},
		{"route get nowhere", "", "ibctl: route get: Error: inet address is expected rather than \"nowhere\".\n"},
	} {
		out, errs, _ := e.run(tc.cmd)
		if out != tc.out || errs != tc.errs {
			t.Errorf("%s: %q %q, want %q %q", tc.cmd, out, errs, tc.out, tc.errs)
		}
	}
}

// transcript runs command lines and records each as "$ ibctl LINE", its
// stdout and stderr, and its exit status when not 0, with ping's
// measured times replaced by X.
func (e *env) transcript(lines ...string) string {
	e.t.Helper()
	var b strings.Builder
	for _, l := range lines {
		out, errs, st := e.run(l)
		fmt.Fprintf(&b, "$ ibctl %s\n%s%s", l, scrubTimes(out), errs)
		if st != 0 {
			fmt.Fprintf(&b, "[exit %d]\n", st)
		}
	}
	return b.String()
}

// scrubTimes replaces ping's measured times with X.
func scrubTimes(out string) string {
	return timeRE.ReplaceAllStringFunc(out, func(s string) string {
		switch {
		case strings.HasPrefix(s, "time="):
			return "time=X ms"
		case strings.HasPrefix(s, "time "):
			return "time Xms"
		}
		return "= X/X/X/X ms"
	})
}

// IPv6 echoes larger than the MTU are fragmented both ways; -M do refuses
// them as ping6 does.
func TestPing6Fragmented(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "-n node1 link set ib0 up", "addr add fd00::1/64 dev ib0", "-n node1 addr add fd00::2/64 dev ib0")
	golden(t, "ping6_fragmented", e.transcript(
		"ping -c 2 -i 0.2 -s 4000 fd00::2",
		"ping -c 1 -s 4000 -M do fd00::2",
		"ping -c 1 -s 1996 -M do fd00::2",
		"route get fd00::2",
		"-j route get fd00::2",
		"route get fd00::1",
		"-j route get fd00::1",
	))
}

// A peer without connected mode, reached from an interface in connected
// mode, is behind UD: the driver's packet too big lowers the path MTU,
// which route get shows, and the next echo is fragmented to it.
func TestPing6PathMTU(t *testing.T) {
	topo := fabric.DefaultTopology()
	topo.Nodes[1].Ports[0].Caps = &fabric.Capabilities{Checksum: true}
	// A still clock: route get shows the exception's whole 600 s, as
	// within the jiffy the kernel learned it.
	still := time.Unix(1_800_000_000, 0)
	e := newEnvWith(t, driver.Options{Topology: topo, Now: func() time.Time { return still }})
	e.ok("link set ib0 up", "-n node1 link set ib0 up", "link set ib0 type ipoib mode connected",
		"addr add fd00::1/64 dev ib0", "-n node1 addr add fd00::2/64 dev ib0")
	golden(t, "ping6_pmtu", e.transcript(
		"route get fd00::2",
		"ping -c 1 -s 4000 fd00::2",
		"route get fd00::2",
		"-j route get fd00::2",
		"ping -c 1 -s 4000 fd00::2",
		"ping -c 1 -s 4000 -M do fd00::2",
	))
}

// Interfaces that come up get their link-local addresses; a peer's is
// reached through -I or a scope, and not without.
func TestPing6LinkLocal(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "-n node1 link set ib0 up")
	golden(t, "ping6_link_local", e.transcript(
		"addr show dev ib0",
		"ping -c 1 fe80::202:c903:0:2001",
		"ping -c 1 -I ib0 fe80::202:c903:0:2001",
		"ping -c 1 -s 4000 fe80::202:c903:0:2001%ib0",
		"neigh show",
		"link set ib0 down",
		"addr show dev ib0",
		"link set ib0 up",
		"-j addr show dev ib0",
	))
}

// armClock is a manual clock that reports each timer armed, so that a
// test knows when the peer queued a fragment.
type armClock struct {
	*clocktest.Clock
	armed chan time.Duration
}

func (c armClock) AfterFunc(d time.Duration, f func()) verbs.Timer {
	t := c.ManualClock.AfterFunc(d, f) // armed before it is reported
	select {
	case c.armed <- d:
	default:
	}
	return t
}

// loseLaterFragments loses every IPv4 or IPv6 fragment but the first
// that node0 sends.
func loseLaterFragments(from fabric.PortRef, p *verbs.Packet) bool {
	pkt := header.IPoIB(p.Payload)
	if from.Node != "node0" || p.DestQPN == 1 || !pkt.Valid() {
		return false
	}
	switch pkt.Type() {
	case header.EtherTypeIPv4:
		return header.IPv4(pkt.Payload()).FragmentOffset() != 0
	case header.EtherTypeIPv6:
		ip := header.IPv6(pkt.Payload())
		return ip.NextHeader() == header.ProtocolIPv6Fragment && header.IPv6Fragment(ip.Payload()).FragmentOffset() != 0
	}
	return false
}

// An echo whose later fragments are lost is answered, once the peer's
// reassembly time has run out on the driver's clock, by ICMP time
// exceeded, which ping prints as iputils does and counts as an error.
func TestPingReassemblyTimeout(t *testing.T) {
	for _, tc := range []struct {
		addr, peer string
		reasm      time.Duration // the peer's reassembly time
		want       string
	}{
		{"10.0.0.1/24", "10.0.0.2", 30 * time.Second, "PING 10.0.0.2 (10.0.0.2) 4000(4028) bytes of data.\n" +
			"From 10.0.0.2 icmp_seq=1 Frag reassembly time exceeded\n\n" +
			"--- 10.0.0.2 ping statistics ---\n1 packets transmitted, 0 received, +1 errors, 100% packet loss, time Xms\n\n"},
		{"fd00::1/64", "fd00::2", 60 * time.Second, "PING fd00::2(fd00::2) 4000 data bytes\n" +
			"From fd00::2 icmp_seq=1 Time exceeded: Defragmentation failure\n\n" +
			"--- fd00::2 ping statistics ---\n1 packets transmitted, 0 received, +1 errors, 100% packet loss, time Xms\n\n"},
	} {
		clk := armClock{clocktest.New(t), make(chan time.Duration, 16)}
		e := newClockedEnv(t, clk.Clock, driver.Options{Clock: clk, LoseFrame: loseLaterFragments})
		peerAddr := strings.Replace(tc.addr, ".1/", ".2/", 1)
		peerAddr = strings.Replace(peerAddr, "::1/", "::2/", 1)
		e.ok("link set ib0 up", "-n node1 link set ib0 up", "addr add "+tc.addr+" dev ib0", "-n node1 addr add "+peerAddr+" dev ib0")
		type result struct {
			out, errs string
			st        int
		}
		done := make(chan result, 1)
		go func() {
			out, errs, st := e.run("ping -c 1 -W 90 -s 4000 " + tc.peer)
			done <- result{out, errs, st}
		}()
		// node1 queued the first fragment: its reassembly timer runs out;
		// the neighbour probes' 1 s timers and the ping's own 90 s do not
		// count.
		for d := range clk.armed {
			if d == tc.reasm {
				clk.Advance(d)
				break
			}
		}
		r := <-done
		if got := scrubTimes(r.out); got != tc.want || r.errs != "" || r.st != 1 {
			t.Errorf("ping %s: %d stdout %q stderr %q\nwant 1 stdout %q", tc.peer, r.st, got, r.errs, tc.want)
		}
	}
}

// A send-only join made by neighbour discovery shows in ib0_mcg and in
// sm groups until the neighbour scan finds the group's neighbour entry
// idle for more than 60 s; with mcast_debug_level set, dmesg shows both
// ends as the kernel logs them. The nodes' neighbours for each other stay:
// 5 s after the ping node1's entry for fd00::1 goes from DELAY to PROBE,
// and its unicast solicitation and node0's advertisement go through
// them (ipoib_start_xmit's path for IPv6).
func TestSendOnlyGroupGC(t *testing.T) {
	clk := clocktest.New(t)
	e := newClockedEnv(t, clk, driver.Options{})
	e.ok("link set ib0 up", "-n node1 link set ib0 up", "addr add fd00::1/64 dev ib0", "-n node1 addr add fd00::2/64 dev ib0",
		"sys write module/ib_ipoib/parameters/mcast_debug_level 1")
	clk.Advance(5 * time.Second) // the send-only entry's created jiffies differ from the others'
	var b strings.Builder
	b.WriteString(e.transcript("ping -c 1 fd00::2", "sys read kernel/debug/ipoib/ib0_mcg", "sm groups"))
	for _, step := range []time.Duration{60 * time.Second, time.Second} {
		clk.Advance(step)
		fmt.Fprintf(&b, "# %v later, the neighbour scan freed %d entries\n", step, e.drv.ReapNeighbours())
		b.WriteString(e.transcript("sys read kernel/debug/ipoib/ib0_mcg", "sm groups"))
	}
	b.WriteString(e.transcript("dmesg"))
	golden(t, "sendonly_gc", b.String())
}

// The time in ping's statistics runs from the first request to the last
// one sent, so one request takes 0 ms however long ping waited.
func TestPingStatisticsTime(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	out, _, st := e.run("ping -c 1 -W 0.2 10.0.0.9")
	if want := "1 packets transmitted, 0 received, 100% packet loss, time 0ms\n\n"; st != 1 || !strings.HasSuffix(out, want) {
		t.Errorf("ping -c 1 to nobody: %d %q, want it to end %q", st, out, want)
	}
}

func TestLossPercent(t *testing.T) {
	tests := []struct {
		sent, received int
		want           string
	}{
		{1, 1, "0"}, {1, 0, "100"}, {2, 1, "50"}, {3, 2, "33.3333"}, {3, 1, "66.6667"}, {7, 6, "14.2857"}, {1000, 999, "0.1"},
	}
	for _, tt := range tests {
		if got := lossPercent(tt.sent, tt.received); got != tt.want {
			t.Errorf("lossPercent(%d, %d) = %q, want %q", tt.sent, tt.received, got, tt.want)
		}
	}
}

func TestRTTFormats(t *testing.T) {
	for us, want := range map[int64]string{
		45: "0.045", 123: "0.123", 999: "0.999", 1000: "1.00", 1234: "1.23", 1235: "1.24", 9994: "9.99",
		9995: "10.0", 99949: "99.9", 99950: "100", 123456: "123",
	} {
		if got := rttString(us); got != want {
			t.Errorf("rttString(%d) = %q, want %q", us, got, want)
		}
	}
	tests := []struct {
		us   []int64
		want string
	}{
		{[]int64{100, 200, 300}, "0.100/0.200/0.300/0.081"},
		{[]int64{1500}, "1.500/1.500/1.500/0.000"},
		{[]int64{45, 46}, "0.045/0.045/0.046/0.000"},
	}
	for _, tt := range tests {
		if got := rttSummary(tt.us); got != tt.want {
			t.Errorf("rttSummary(%v) = %q, want %q", tt.us, got, tt.want)
		}
	}
}

// hookNode is a node whose Ping runs a hook before each request, given
// the request's sequence number, 0 for ping's connect: a change between
// two echoes of a ping.
type hookNode struct {
	netlinkx.Node
	hook func(seq uint16)
}

func (n *hookNode) Ping(r netlinkx.PingRequest) (netlinkx.PingReply, error) {
	seq := r.Seq
	if r.Connect {
		seq = 0
	}
	n.hook(seq)
	return n.Node.(interface {
		Ping(netlinkx.PingRequest) (netlinkx.PingReply, error)
	}).Ping(r)
}

// hookBackend serves its nodes as hookNodes.
type hookBackend struct {
	netlinkx.Backend
	hook func(seq uint16)
}

func (b *hookBackend) Node(name string) (netlinkx.Node, error) {
	n, err := b.Backend.Node(name)
	if err != nil {
		return nil, err
	}
	return &hookNode{Node: n, hook: b.hook}, nil
}

// A running ping whose route goes away goes on, as iputils' pinger does
// with a hard local error of sendmsg (ENETUNREACH, EHOSTUNREACH): each
// failed request counts as sent and is reported as "ping: sendmsg:
// <reason>" on stderr; the statistics follow, and the exit status is 1
// only when no reply came. Only a route missing for the first request is
// connect's usage error.
func TestPingRouteLost(t *testing.T) {
	const banner = "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n"
	reply := func(seq int) string {
		return fmt.Sprintf("64 bytes from 10.0.0.2: icmp_seq=%d ttl=64 time=X\n", seq)
	}
	const stats = "\n--- 10.0.0.2 ping statistics ---\n"
	const unreach = "ping: sendmsg: Network is unreachable\n"
	for _, tc := range []struct {
		name   string
		count  int
		gone   int // the address goes before this request (0: ping's connect)
		back   int // and comes back before this one (-1: never)
		stdout string
		stderr string
		status int
	}{
		{"gone after two", 4, 3, -1, banner + reply(1) + reply(2) + stats +
			"4 packets transmitted, 2 received, 50% packet loss, X\nrtt min/avg/max/mdev X\n", unreach + unreach, 0},
		{"gone and back", 4, 2, 4, banner + reply(1) + reply(4) + stats +
			"4 packets transmitted, 2 received, 50% packet loss, X\nrtt min/avg/max/mdev X\n", unreach + unreach, 0},
		{"gone before the first", 2, 0, -1, "", "ibctl: ping: connect: Network is unreachable\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.ok("link set ib0 up", "-n node1 link set ib0 up")
			e.addAddr("node0", "ib0", "10.0.0.1/24")
			e.addAddr("node1", "ib0", "10.0.0.2/24")
			n, err := e.drv.Node("node0")
			if err != nil {
				t.Fatal(err)
			}
			l, err := n.Link(0, "ib0")
			if err != nil {
				t.Fatal(err)
			}
			addr := netlinkx.Addr{Index: l.Index, Family: unix.AF_INET, PrefixLen: 24, Local: []byte{10, 0, 0, 1}}
			hook := func(seq uint16) {
				switch int(seq) {
				case tc.gone:
					if err := n.DelAddr(addr); err != nil {
						t.Error(err)
					}
				case tc.back:
					if err := n.AddAddr(addr); err != nil {
						t.Error(err)
					}
				}
			}
			c, err := netlinkx.Pipe(&hookBackend{Backend: daemon.Backend(e.drv), hook: hook})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			e.client, e.node = c, ""
			out, errs, st := e.run(fmt.Sprintf("ping -c %d -i 0.2 10.0.0.2", tc.count))
			out = timeRE.ReplaceAllStringFunc(out, func(s string) string {
				if strings.HasPrefix(s, "time=") {
					return "time=X"
				}
				return "X"
			})
			if out != tc.stdout || errs != tc.stderr || st != tc.status {
				t.Errorf("got %d stdout %q stderr %q\nwant %d stdout %q stderr %q", st, out, errs, tc.status, tc.stdout, tc.stderr)
			}
		})
	}
}
