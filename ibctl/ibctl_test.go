package ibctl

import (
	"bytes"
	"encoding/json"
	"flag"
	"github.com/ibctl/ibctl/driver/daemon"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/clocktest"
	"github.com/ibctl/ibctl/netlinkx"
)

var update = flag.Bool("update", false, "rewrite golden files")

// env is one emulated driver served in-process, and a way to run ibctl
// command lines against it.
type env struct {
	t      testing.TB
	client *netlinkx.Client
	node   string
	drv    *driver.Driver
	// loc is the factory's Location: the zone of printed local times.
	loc *time.Location
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, driver.Options{})
}

// newEnvWith is newEnv with driver options (a topology, a clock).
func newEnvWith(t testing.TB, opts driver.Options) *env {
	t.Helper()
	opts.KernelRelease = "6.18.0-test"
	d, err := driver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := netlinkx.Pipe(daemon.Backend(d))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &env{t: t, client: c, drv: d}
}

// newClockedEnv is newEnvWith on clk, a test clock whose Advance
// quiesces the driver first (clocktest); opts.Clock, when set, is a clock
// wrapping clk.
func newClockedEnv(t testing.TB, clk *clocktest.Clock, opts driver.Options) *env {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = clk
	}
	e := newEnvWith(t, opts)
	clk.Watch(e.drv)
	return e
}

// run executes one ibctl command line (split on blanks; stdin optional).
func (e *env) run(line string, stdin ...string) (stdout, stderr string, status int) {
	e.t.Helper()
	args, err := splitLine(line)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.runArgs(args, stdin...)
}

func (e *env) runArgs(args []string, stdin ...string) (string, string, int) {
	var out, errb bytes.Buffer
	in := strings.NewReader(strings.Join(stdin, ""))
	status := Run(e.factory(&IOStreams{In: in, Out: &out, ErrOut: &errb}), args)
	return out.String(), errb.String(), status
}

// factory is a Factory on e's driver, as a command line gets.
func (e *env) factory(ios *IOStreams) *Factory {
	f := &Factory{IO: ios, Globals: &Globals{}, Location: e.loc,
		Executable: func() (string, error) { return "", os.ErrNotExist }}
	f.Connect = func(g *Globals) (*netlinkx.Client, error) {
		if g.Node != e.node {
			if err := e.client.Bind(g.Node); err != nil {
				return nil, opError("node "+g.Node, err)
			}
			e.node = g.Node
		}
		return e.client, nil
	}
	return f
}

// ok runs a line that must succeed silently.
func (e *env) ok(lines ...string) {
	e.t.Helper()
	for _, l := range lines {
		out, errs, st := e.run(l)
		if st != 0 || errs != "" {
			e.t.Fatalf("%q: status %d, stderr %q, stdout %q", l, st, errs, out)
		}
	}
}

// state is the JSON link dump plus features and coalescing of every
// device: what a failed command must leave unchanged.
func (e *env) state() string {
	e.t.Helper()
	out, errs, st := e.run("-j link show")
	if st != 0 {
		e.t.Fatalf("link show: %d %s", st, errs)
	}
	var b strings.Builder
	b.WriteString(out)
	var links []map[string]any
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		e.t.Fatal(err)
	}
	for _, l := range links {
		name := l["ifname"].(string)
		for _, cmd := range []string{"ethtool -k ", "ethtool -c "} {
			o, _, _ := e.run(cmd + name)
			b.WriteString(o)
		}
	}
	for _, p := range []string{"debug_level", "mcast_debug_level", "data_debug_level", "send_queue_size"} {
		o, _, _ := e.run("sys read module/ib_ipoib/parameters/" + p)
		b.WriteString(o)
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ibctl -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s mismatch\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// scenario is the configuration the golden files show: ib0 up with a
// netlink child in connected mode, a sysfs child, ib1 down.
func scenario(e *env) {
	e.ok("link set ib0 up",
		"link add link ib0 name ib0.8001 up type ipoib pkey 0x8001 mode connected umcast 1",
		"sys write class/net/ib0/create_child 0x7fff",
		"link set ib0.7fff up")
}

func TestLinkShowGolden(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	for _, tc := range []struct{ name, cmd string }{
		{"link_show", "link show"},
		{"link_show_child", "link show dev ib0.8001"},
		{"link_show_json", "-j link show"},
		{"link_show_pretty", "-j -p link show ib0.7fff"},
	} {
		out, errs, st := e.run(tc.cmd)
		if st != 0 || errs != "" {
			t.Fatalf("%s: %d %q", tc.cmd, st, errs)
		}
		golden(t, tc.name, out)
	}
}

// TestLinkShowFilters checks link show's "up" and "type" as ip 6.1
// applies them: ib1 is down, every link is of kind ipoib, and a link
// filtered out is an empty object in JSON.
func TestLinkShowFilters(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	for _, tc := range []struct{ cmd, out string }{
		{"-br link show up", "ib0              UP             80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:10:01 <BROADCAST,MULTICAST,UP,LOWER_UP> \n" +
			"ib0.8001@ib0     DOWN           80:00:00:4a:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:10:01 <NO-CARRIER,BROADCAST,MULTICAST,UP> \n" +
			"ib0.7fff@ib0     UP             80:00:00:4b:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:10:01 <BROADCAST,MULTICAST,UP,LOWER_UP> \n"},
		{"-br link show ib1 up", ""},
		{"-br link show up up dev ib0", "ib0              UP             80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:10:01 <BROADCAST,MULTICAST,UP,LOWER_UP> \n"},
		{"-br link show type ipoib ib1", "ib1              DOWN           80:00:00:49:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:10:02 <BROADCAST,MULTICAST> \n"},
		{"-br link show type veth type ipoib ib1", "ib1              DOWN           80:00:00:49:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:10:02 <BROADCAST,MULTICAST> \n"},
		{"link show type bogus", ""},
		{"link show type ipoib type veth", ""},
		{"link show type ipoib_slave", ""},
		{"-j link show type bogus", "[{},{},{},{}]\n"},
		{"-j -br link show type ipoib_slave ib1", "[{}]\n"},
		{"-j link show ib1 up", "[{}]\n"},
		{"-j link show ib0 up type ipoib", ""},
	} {
		out, errs, st := e.run(tc.cmd)
		if st != 0 || errs != "" {
			t.Errorf("%s: %d %q", tc.cmd, st, errs)
		}
		if tc.out != "" && out != tc.out || tc.out == "" && strings.HasPrefix(tc.cmd, "-j") && !strings.HasPrefix(out, "[{\"ifindex\":2,") {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.cmd, out, tc.out)
		}
		if tc.out == "" && !strings.HasPrefix(tc.cmd, "-j") && out != "" {
			t.Errorf("%s: %q, want nothing", tc.cmd, out)
		}
	}
	for _, tc := range []struct{ cmd, stderr string }{
		{"link show type", "ibctl: link show: Command line is not complete. Try option \"help\"\n"},
		{"link show up nosuch", "ibctl: Device \"nosuch\" does not exist.\n"},
	} {
		_, errs, st := e.run(tc.cmd)
		if errs != tc.stderr {
			t.Errorf("%s: %d %q, want %q", tc.cmd, st, errs, tc.stderr)
		}
	}
}

// TestLinkJSONMatchesText rebuilds the text of link show from its -j
// twin, every field of it: a parent that is up and one that is down
// (M-DOWN), netlink and sysfs children, datagram and connected mode.
func TestLinkJSONMatchesText(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	e.ok("link add link ib1 name ib1.8002 type ipoib pkey 0x8002")
	text, _, _ := e.run("link show")
	js, _, _ := e.run("-j link show")
	if got := linkTextFromJSON(t, "-j link show", js); got != text || !strings.Contains(text, "M-DOWN") {
		t.Errorf("link show text:\n%s\nrebuilt from JSON:\n%s", text, got)
	}
}

func TestBadInputLeavesStateUnchanged(t *testing.T) {
	tests := []struct {
		cmd    string
		status int
		stderr string
	}{
		// P_Keys through sysfs
		{"sys write class/net/ib0/create_child 0x10000", 1, "ibctl: write error: Invalid argument\n"},
		{"sys write class/net/ib0/create_child -1", 1, "ibctl: write error: Invalid argument\n"},
		{"sys write class/net/ib0/create_child abc", 1, "ibctl: write error: Invalid argument\n"},
		{"sys write class/net/ib0/create_child 0", 1, "ibctl: write error: Invalid argument\n"},
		{"sys write class/net/ib0/create_child 0x8000", 1, "ibctl: write error: Invalid argument\n"},
		{"sys write class/net/ib0/create_child ''", 1, "ibctl: write error: Invalid argument\n"},
		{"sys write class/net/ib0/create_child 0xffff", 1, "ibctl: write error: Name not unique on network\n"},
		{"sys write class/net/ib0/create_child 0x8001", 1, "ibctl: write error: Name not unique on network\n"},
		{"sys write class/net/ib0/delete_child 0x8002", 1, "ibctl: write error: No such device\n"},
		{"sys write class/net/ib0/delete_child 0x0001", 1, "ibctl: write error: No such device\n"},
		{"sys write class/net/ib0.8001/create_child 0x8003", 1, "ibctl: /sys/class/net/ib0.8001/create_child: No such file or directory\n"},
		{"sys write class/net/ib0/mode Connected", 1, "ibctl: write error: Invalid argument\n"},
		{"sys write class/net/ib0/mode foo", 1, "ibctl: write error: Invalid argument\n"},
		{"sys write class/net/ib0/mode ''", 1, "ibctl: write error: Invalid argument\n"},
		{"sys write --no-newline class/net/ib0/mode connected", 1, "ibctl: write error: Invalid argument\n"},
		{"sys write class/net/ib0/pkey 0x8001", 1, "ibctl: /sys/class/net/ib0/pkey: Permission denied\n"},
		{"sys write module/ib_ipoib/parameters/send_queue_size 512", 1, "ibctl: /sys/module/ib_ipoib/parameters/send_queue_size: Permission denied\n"},
		{"sys write module/ib_ipoib/parameters/debug_level abc", 1, "ibctl: write error: Invalid argument\n"},
		{"sys read class/net/ib0/create_child", 1, "ibctl: /sys/class/net/ib0/create_child: Permission denied\n"},
		{"sys read class/net/ib0/nope", 1, "ibctl: /sys/class/net/ib0/nope: No such file or directory\n"},
		{"sys read /sys/class/net/ib7/mtu", 1, "ibctl: /sys/class/net/ib7/mtu: No such file or directory\n"},
		// ip link
		{"link add link ib0 type ipoib pkey 0x10000", 2, "ibctl: link add: argument \"0x10000\" is wrong: pkey is invalid\n"},
		{"link add link ib0 type ipoib pkey -1", 2, "ibctl: link add: argument \"-1\" is wrong: pkey is invalid\n"},
		{"link add link ib0 type ipoib pkey abc", 2, "ibctl: link add: argument \"abc\" is wrong: pkey is invalid\n"},
		{"link add link ib0 type ipoib pkey ''", 2, "ibctl: link add: argument \"\" is wrong: pkey is invalid\n"},
		{"link add link ib0 type ipoib pkey 0", 1, "ibctl: link add: Invalid argument (invalid P_Key 0x0000)\n"},
		{"link add link ib0 type ipoib pkey 0x8000", 1, "ibctl: link add: Invalid argument (invalid P_Key 0x8000)\n"},
		{"link add link ib0 name ib0.8001 type ipoib pkey 0x8005", 1, "ibctl: link add: File exists\n"},
		{"link add link ib0.8001 name x type ipoib", 1, "ibctl: link add: Invalid argument (child creation disallowed for child devices)\n"},
		{"link add link ib9 type ipoib", 1, "ibctl: Cannot find device \"ib9\"\n"},
		{"link add link ib0 type ipoib mode Connected", 2, "ibctl: link add: argument of \"mode\" must be \"datagram\"or \"connected\"\n"},
		{"link add link ib0 type ipoib mode foo", 2, "ibctl: link add: argument of \"mode\" must be \"datagram\"or \"connected\"\n"},
		{"link add link ib0 type ipoib mode ''", 2, "ibctl: link add: argument of \"mode\" must be \"datagram\"or \"connected\"\n"},
		{"link add link ib0 type ipoib bogus 1", 2, "ibctl: link add: ipoib: unknown option \"bogus\"?\n"},
		{"link del ib9", 1, "ibctl: Cannot find device \"ib9\"\n"},
		{"link set ib0 mtu 4093", 1, "ibctl: link set ib0: Invalid argument\n"},
		{"link set ib0 mtu 71", 1, "ibctl: link set ib0: Invalid argument\n"},
		{"link set ib0.8001 mtu 65521", 1, "ibctl: link set ib0.8001: Invalid argument (mtu greater than device maximum)\n"},
		{"link set ib0 mtu abc", 2, "ibctl: link set: argument \"abc\" is wrong: Invalid \"mtu\" value\n"},
		// iproute2 6.1 iplink.c parses mtu with get_integer: past INT_MAX
		// is a usage error, a negative value goes to the kernel, whose
		// dev_validate_mtu refuses it (checked against ip and a veth).
		{"link set ib0 mtu 2147483648", 2, "ibctl: link set: argument \"2147483648\" is wrong: Invalid \"mtu\" value\n"},
		{"link set ib0 mtu 3000000000", 2, "ibctl: link set: argument \"3000000000\" is wrong: Invalid \"mtu\" value\n"},
		{"link set ib0 mtu -5", 1, "ibctl: link set ib0: Invalid argument (mtu less than device minimum)\n"},
		{"link set ib0 mtu -2147483648", 1, "ibctl: link set ib0: Invalid argument (mtu less than device minimum)\n"},
		{"link set ib0 mtu -2147483649", 2, "ibctl: link set: argument \"-2147483649\" is wrong: Invalid \"mtu\" value\n"},
		{"link set ib0 mtu -1 mtu 70000", 1, "ibctl: link set ib0: Invalid argument (mtu greater than device maximum)\n"},
		{"link set ib0 mtu 1500 mtu -1", 2, "ibctl: link set: duplicate \"mtu\": \"-1\" is the second value\n"},
		{"link add link ib0 name m mtu -1 type ipoib", 1, "ibctl: link add: Invalid argument (mtu less than device minimum)\n"},
		{"link set ib0 type ipoib mode connected mtu 70000", 2, "ibctl: link set: ipoib: unknown option \"mtu\"?\n"},
		{"link set ib0 mtu 70000 type ipoib mode connected", 1, "ibctl: link set ib0: Invalid argument (mtu greater than device maximum)\n"},
		{"link frob", 2, "ibctl: unknown command \"frob\" for \"ibctl link\"\n"},
		{"-n node9 link show", 1, "ibctl: node node9: No such file or directory (no node \"node9\" in the fabric)\n"},
	}
	e := newEnv(t)
	e.ok("link add link ib0 name ib0.8001 type ipoib pkey 0x8001",
		"sys write class/net/ib0/create_child 0x0001")
	before := e.state()
	for _, tt := range tests {
		out, errs, st := e.run(tt.cmd)
		if st != tt.status || errs != tt.stderr || out != "" {
			t.Errorf("%s:\n got status %d stderr %q stdout %q\nwant status %d stderr %q", tt.cmd, st, errs, out, tt.status, tt.stderr)
		}
		if after := e.state(); after != before {
			t.Fatalf("%s changed state:\n%s\n---\n%s", tt.cmd, before, after)
		}
	}
}

func TestParentDeleteIsSilentNoop(t *testing.T) {
	e := newEnv(t)
	e.ok("link add link ib0 name c1 type ipoib pkey 0x8001")
	before := e.state()
	e.ok("link del ib0")
	if e.state() != before {
		t.Fatal("link del ib0 changed state")
	}
}

func TestModeSwitchAndMTU(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up")
	read := func(p string) string {
		out, errs, st := e.run("sys read " + p)
		if st != 0 {
			t.Fatalf("read %s: %s", p, errs)
		}
		return out
	}
	steps := []struct{ cmd, mtu, mode string }{
		{"sys write class/net/ib0/mode connected", "65520\n", "connected\n"},
		{"sys write class/net/ib0/mode connected", "65520\n", "connected\n"},
		{"link set ib0 mtu 4000", "4000\n", "connected\n"},
		{"sys write class/net/ib0/mode datagram", "2044\n", "datagram\n"},
		{"link set ib0 mtu 4092", "2044\n", "datagram\n"},
		{"link set ib0 type ipoib mode connected", "65520\n", "connected\n"},
		{"link set ib0 type ipoib mode datagram", "2044\n", "datagram\n"},
	}
	for _, s := range steps {
		e.ok(s.cmd)
		if got := read("class/net/ib0/mtu"); got != s.mtu {
			t.Fatalf("after %q: mtu %q, want %q", s.cmd, got, s.mtu)
		}
		if got := read("class/net/ib0/mode"); got != s.mode {
			t.Fatalf("after %q: mode %q, want %q", s.cmd, got, s.mode)
		}
	}
}

func TestSysChildFiles(t *testing.T) {
	e := newEnv(t)
	e.ok("sys write class/net/ib0/create_child 0x1",
		"link add link ib0 name nl type ipoib pkey 0x8002")
	for _, tc := range []struct{ path, want string }{
		{"class/net/ib0.0001/pkey", "0x8001\n"},
		{"class/net/ib0.0001/parent", "ib0\n"},
		{"/sys/class/net/ib0/pkey", "0xffff\n"},
		{"class/net/ib0/umcast", "0\n"},
		{"class/net/ib1/dev_id", "0x1\n"},
		{"class/net/ib0/dev_id", "0\n"},
		{"class/net/nl/iflink", "2\n"},
	} {
		out, errs, st := e.run("sys read " + tc.path)
		if st != 0 || out != tc.want {
			t.Errorf("%s = %q (%d %q), want %q", tc.path, out, st, errs, tc.want)
		}
	}
	for _, p := range []string{"class/net/nl/pkey", "class/net/nl/mode", "class/net/nl/umcast", "class/net/nl/parent", "class/net/ib0.0001/create_child"} {
		if _, errs, st := e.run("sys read " + p); st != 1 || !strings.HasSuffix(errs, "No such file or directory\n") {
			t.Errorf("%s: %d %q", p, st, errs)
		}
	}
	e.ok("sys write class/net/ib0/umcast 1")
	if out, _, _ := e.run("sys read class/net/ib0/umcast"); out != "1\n" {
		t.Errorf("umcast after 1: %q", out)
	}
	e.ok("sys write class/net/ib0/umcast foo")
	if out, _, _ := e.run("sys read class/net/ib0/umcast"); out != "0\n" {
		t.Errorf("umcast after foo: %q", out)
	}
	e.ok("sys write class/net/ib0/delete_child 0x8001")
	if _, errs, st := e.run("link show ib0.0001"); st != 1 || errs != "ibctl: Device \"ib0.0001\" does not exist.\n" {
		t.Errorf("after delete_child: %d %q", st, errs)
	}
	out, _, _ := e.run("sys ls class/net")
	golden(t, "sys_ls_class_net", out)
	out, _, _ = e.run("sys ls /sys/class/net/ib0")
	golden(t, "sys_ls_ib0", out)
}

func TestBatch(t *testing.T) {
	e := newEnv(t)
	script := "# comment\nlink add link ib0 name a type ipoib pkey 0x8001\n\nlink add link ib0 name a type ipoib pkey 0x8002\nlink add link ib0 name b type ipoib pkey 0x8003\n"
	_, errs, st := e.run("-b -", script)
	if st != 1 || errs != "ibctl: -:4: link add: File exists\n" {
		t.Fatalf("batch: %d %q", st, errs)
	}
	if _, _, st := e.run("link show b"); st == 0 {
		t.Fatal("batch went on after a failure without --force")
	}
	_, errs, st = e.run("-b - --force", script)
	if st != 1 || errs != "ibctl: -:2: link add: File exists\nibctl: -:4: link add: File exists\n" {
		t.Fatalf("batch --force: %d %q", st, errs)
	}
	if _, _, st := e.run("link show b"); st != 0 {
		t.Fatal("batch --force did not run line 5")
	}
	_, errs, st = e.run("-b -", "link add link ib0 type ipoib pkey zz\n")
	if st != 2 || errs != "ibctl: -:1: link add: argument \"zz\" is wrong: pkey is invalid\n" {
		t.Fatalf("batch usage error: %d %q", st, errs)
	}
	out, _, st := e.run("-b -", "-n node1 -j link show ib1\n")
	if st != 0 || !strings.Contains(out, "\"ifname\":\"ib1\"") || !strings.Contains(out, "00:00:20:02") {
		t.Fatalf("batch with node: %d %q", st, out)
	}
}

// The global options given with --batch apply to every line, as ip's
// -n and -json do with -batch; a line's own option overrides them.
func TestBatchGlobals(t *testing.T) {
	for _, tc := range []struct {
		name, args, script string
		onNode1, onNode0   bool   // a child 0x8031 exists on node1 / node0 after
		out                string // how the output begins
	}{
		{"-n before -b", "-n node1 -b -", "sys write class/net/ib1/create_child 0x8031\n", true, false, ""},
		{"-n after -b", "-b - -n node1", "sys write class/net/ib1/create_child 0x8031\n", true, false, ""},
		{"a line's -n overrides", "-n node1 -b -", "-n node0 sys write class/net/ib0/create_child 0x8031\n", false, true, ""},
		{"no -n", "-b -", "sys write class/net/ib0/create_child 0x8031\n", false, true, ""},
		{"-j for every line", "-j -b -", "link show ib0\n", false, false, "[{"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			out, errs, st := e.run(tc.args, tc.script)
			if st != 0 || errs != "" || !strings.HasPrefix(out, tc.out) || (tc.out == "") != (out == "") {
				t.Fatalf("batch: %d %q %q, want output beginning %q", st, out, errs, tc.out)
			}
			has := func(node string) bool {
				out, _, _ := e.run("-n " + node + " link show")
				return strings.Contains(out, ".8031@")
			}
			if has("node1") != tc.onNode1 || has("node0") != tc.onNode0 {
				t.Fatalf("child on node1 %v, on node0 %v; want %v, %v", has("node1"), has("node0"), tc.onNode1, tc.onNode0)
			}
		})
	}
}

func TestSMAndHCA(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "link add link ib0 name p1 up type ipoib pkey 0x8001")
	for _, tc := range []struct{ name, cmd string }{
		{"hca_show", "hca show"},
		{"hca_show_node1_json", "-n node1 -j hca show"},
	} {
		out, errs, st := e.run(tc.cmd)
		if st != 0 || errs != "" {
			t.Fatalf("%s: %d %q", tc.cmd, st, errs)
		}
		golden(t, tc.name, out)
	}
	if out, _, _ := e.run("link show p1"); !strings.Contains(out, "NO-CARRIER") {
		t.Fatalf("p1 has carrier before its partition exists:\n%s", out)
	}
	e.ok("sm partition add 0x8001 mtu 4096 member node0/1 member node1/1:limited")
	if out, _, _ := e.run("link show p1"); strings.Contains(out, "NO-CARRIER") || !strings.Contains(out, "mtu 4092 ") {
		t.Fatalf("p1 after partition add:\n%s", out)
	}
	for _, tc := range []struct{ name, cmd string }{
		{"sm_partition_list", "sm partition list"},
		{"sm_partition_list_json", "-j sm partition list"},
		{"sm_groups", "sm groups"},
		{"sm_groups_json", "-j sm groups"},
		{"sm_show", "sm show"},
		{"sm_show_json", "-j sm show"},
		{"hca_show_pkeys", "hca show"},
		{"hca_pkeys", "hca pkeys"},
		{"hca_pkeys_json", "-j hca pkeys 1"},
	} {
		out, errs, st := e.run(tc.cmd)
		if st != 0 || errs != "" {
			t.Fatalf("%s: %d %q", tc.cmd, st, errs)
		}
		golden(t, tc.name, out)
	}
	for _, tc := range []struct {
		cmd, stderr string
		status      int
	}{
		{"sm partition add 0x8001", "ibctl: sm partition add: File exists (partition 0x8001 exists)\n", 1},
		{"sm partition add 0x8000", "ibctl: sm partition add: Invalid argument (invalid P_Key 0x8000)\n", 1},
		{"sm partition add zz", "ibctl: sm partition add: argument \"zz\" is wrong: pkey is invalid\n", 2},
		{"sm partition add 0x8003 member node0", "ibctl: sm partition add: member \"node0\": want NODE/PORT\n", 2},
		{"sm partition add 0x8003 member node7/1", "ibctl: sm partition add: Invalid argument (unknown node \"node7\")\n", 1},
		{"sm partition del 0x8009", "ibctl: sm partition del: No such file or directory (no partition 0x8009)\n", 1},
	} {
		_, errs, st := e.run(tc.cmd)
		if st != tc.status || errs != tc.stderr {
			t.Errorf("%s: %d %q, want %d %q", tc.cmd, st, errs, tc.status, tc.stderr)
		}
	}
	e.ok("sm partition del 0x8001")
	if out, _, _ := e.run("link show p1"); !strings.Contains(out, "NO-CARRIER") {
		t.Fatalf("p1 keeps carrier after partition del:\n%s", out)
	}
}
