package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Kernel netdevs in network namespaces (driver start --netns): the
// kernel's own tools over the emulated fabric.

// netnsEnv is a driver started with --netns on a fabric whose node names
// are this test's own, so that its namespaces (ibctl-NODE) collide with
// nothing else on the machine.
type netnsEnv struct {
	*env
	nodes []string
	topo  string
}

// needNetns skips a test that needs root, TUN devices and the named
// tools.
func needNetns(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and TUN devices need CAP_SYS_ADMIN and CAP_NET_ADMIN")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("needs /dev/net/tun")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian: iproute2, iputils-ping, ethtool)", tool)
		}
	}
}

// newNetnsEnv starts a driver with --netns on the fabric of nodes (each
// with one 4X EDR port; caps false turns connected mode off for that
// node) and partitions (JSON list).
func newNetnsEnv(t testing.TB, connected []bool, partitions string) *netnsEnv {
	t.Helper()
	tag := fmt.Sprintf("t%d", os.Getpid()%100000)
	e := &netnsEnv{env: newEnv(t)}
	var nodes []string
	for i, cm := range connected {
		name := fmt.Sprintf("%s%c", tag, 'a'+i)
		e.nodes = append(e.nodes, name)
		nodes = append(nodes, fmt.Sprintf(`{"name":%q,"ports":[{"width":"4X","speed":"EDR","ib_mtu":4096,"caps":{"checksum":true,"lso":true,"connected":%v}}]}`, name, cm))
	}
	e.topo = filepath.Join(t.TempDir(), "topo.json")
	body := fmt.Sprintf(`{"nodes":[%s],"partitions":%s}`, strings.Join(nodes, ","), partitions)
	if err := os.WriteFile(e.topo, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range e.nodes {
		if _, err := os.Lstat("/run/netns/ibctl-" + n); err == nil {
			t.Fatalf("namespace ibctl-%s exists before the test", n)
		}
	}
	t.Cleanup(func() {
		e.shutdown()
		for _, n := range e.nodes {
			exec.Command("ip", "netns", "delete", "ibctl-"+n).Run()
		}
	})
	e.ok("driver", "start", "--netns", "--topology", e.topo)
	return e
}

// ns is the namespace of node i.
func (e *netnsEnv) ns(i int) string { return "ibctl-" + e.nodes[i] }

// in runs a command in node i's namespace.
func (e *netnsEnv) in(i int, args ...string) (string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", e.ns(i)}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("%v: %v", args, err)
	}
	return string(out), code
}

// up gives node i's device an address and brings it up.
func (e *netnsEnv) up(i int, dev, prefix string) {
	e.t.Helper()
	e.ok("-n", e.nodes[i], "addr", "add", prefix, "dev", dev)
	e.ok("-n", e.nodes[i], "link", "set", dev, "up")
}

// eventually polls cond until it holds or the deadline passes: for what
// the driver does on its own after the kernel announced a change.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not after 10s", what)
}

// The kernel's ping between namespaces: over the parent, over a P_Key
// child, nothing between two limited members, and the connected-mode
// fallback's "fragmentation needed" from a node whose peer has no
// connected mode (ipoib_cm.c: icmp_ndo_send with the UD MTU).
func TestNetnsKernelPing(t *testing.T) {
	needNetns(t, "ping")
	tag := fmt.Sprintf("t%d", os.Getpid()%100000)
	member := func(node string, full bool) string {
		return fmt.Sprintf(`{"node":"%s%s","port":1,"full":%v}`, tag, node, full)
	}
	e := newNetnsEnv(t, []bool{true, false, true, true}, `[{"pkey":"0xffff","all":"full"},{"pkey":"0x8001","members":[`+
		member("a", true)+","+member("b", true)+","+member("c", false)+","+member("d", false)+`]}]`)
	for i := range e.nodes {
		e.up(i, "ib0", fmt.Sprintf("10.1.0.%d/24", i+1))
		e.ok("-n", e.nodes[i], "link", "add", "link", "ib0", "name", "ib0.8001", "type", "ipoib", "pkey", "0x8001")
		e.up(i, "ib0.8001", fmt.Sprintf("10.2.0.%d/24", i+1))
	}
	for _, c := range []struct {
		from int
		dst  string
		code int
		want string
	}{
		{0, "10.1.0.2", 0, "2 packets transmitted, 2 received, 0% packet loss"},
		{2, "10.1.0.4", 0, "2 packets transmitted, 2 received, 0% packet loss"},
		{0, "10.2.0.2", 0, "2 packets transmitted, 2 received, 0% packet loss"},
		{0, "10.2.0.3", 0, "2 packets transmitted, 2 received, 0% packet loss"},
		{2, "10.2.0.4", 1, "2 packets transmitted, 0 received"},
	} {
		out, code := e.in(c.from, "ping", "-c", "2", "-i", "0.2", "-W", "2", c.dst)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%s: ping %s: exit %d, want %d and %q:\n%s", e.ns(c.from), c.dst, code, c.code, c.want, out)
		}
	}
	// The all-nodes group: the kernel's multicast over the broadcast
	// group's partition, answered by the other namespaces' kernels.
	out, code := e.in(0, "ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "ff02::1%ib0")
	if code != 0 || !strings.Contains(out, "0% packet loss") || !strings.Contains(out, "duplicates") {
		t.Errorf("ping -6 ff02::1%%ib0: exit %d, want replies from the other nodes:\n%s", code, out)
	}
	e.ok("-n", e.nodes[0], "sys", "write", "class/net/ib0/mode", "connected")
	e.ok("-n", e.nodes[0], "link", "set", "ib0", "mtu", "65520")
	out, code = e.in(0, "ping", "-M", "do", "-s", "3000", "-c", "2", "-i", "0.2", "-W", "2", "10.1.0.2")
	if code != 1 || !strings.Contains(out, "Frag needed and DF set (mtu = 2044)") {
		t.Errorf("ping -M do -s 3000 to a peer without connected mode: exit %d, want 1 and the kernel's frag needed:\n%s", code, out)
	}
}

// A change made with ip in a namespace reaches the driver and survives
// its restart; one the driver refuses is put back, the reason in dmesg.
func TestNetnsChangesFromKernel(t *testing.T) {
	needNetns(t)
	e := newNetnsEnv(t, []bool{true}, `[{"pkey":"0xffff","all":"full"}]`)
	e.up(0, "ib0", "10.1.0.1/24")
	if out, code := e.in(0, "ip", "addr", "add", "10.7.0.1/24", "dev", "ib0"); code != 0 {
		t.Fatalf("ip addr add: %s", out)
	}
	eventually(t, "ibctl addr show lists 10.7.0.1/24", func() bool {
		return strings.Contains(e.ok("-n", e.nodes[0], "addr", "show", "dev", "ib0"), "inet 10.7.0.1/24")
	})
	if out, code := e.in(0, "ip", "link", "set", "ib0", "mtu", "1500"); code != 0 {
		t.Fatalf("ip link set mtu: %s", out)
	}
	eventually(t, "ibctl link show has mtu 1500", func() bool {
		return strings.Contains(e.ok("-n", e.nodes[0], "link", "show", "ib0"), " mtu 1500 ")
	})
	if out, code := e.in(0, "ip", "link", "set", "ib0", "txqueuelen", "1000"); code != 0 {
		t.Fatalf("ip link set txqueuelen: %s", out)
	}
	eventually(t, "ibctl link show has qlen 1000", func() bool {
		return strings.Contains(e.ok("-n", e.nodes[0], "link", "show", "ib0"), " qlen 1000")
	})
	if out, code := e.in(0, "ip", "link", "set", "ib0", "mtu", "65530"); code != 0 {
		t.Fatalf("ip link set mtu 65530 (the TUN takes it): %s", out)
	}
	eventually(t, "the refused MTU is put back", func() bool {
		out, _ := e.in(0, "ip", "link", "show", "ib0")
		return strings.Contains(out, " mtu 1500 ")
	})
	if log := e.ok("-n", e.nodes[0], "dmesg"); !strings.Contains(log, "ib0: refused in "+e.ns(0)+": ip link set mtu 65530: ") {
		t.Errorf("dmesg does not say why mtu 65530 was refused:\n%s", log)
	}
	if out, code := e.in(0, "ip", "addr", "del", "10.1.0.1/24", "dev", "ib0"); code != 0 {
		t.Fatalf("ip addr del: %s", out)
	}
	eventually(t, "ibctl addr show drops 10.1.0.1/24", func() bool {
		return !strings.Contains(e.ok("-n", e.nodes[0], "addr", "show", "dev", "ib0"), "inet 10.1.0.1/24")
	})
	e.ok("driver", "stop")
	if _, err := os.Lstat("/run/netns/" + e.ns(0)); err == nil {
		t.Errorf("driver stop left %s", e.ns(0))
	}
	e.ok("driver", "start") // no --netns: the saved topology keeps it
	out, _ := e.in(0, "ip", "-o", "addr", "show", "dev", "ib0")
	if !strings.Contains(out, "inet 10.7.0.1/24") || strings.Contains(out, "10.1.0.1") {
		t.Errorf("after restart, the namespace's ib0 has:\n%s", out)
	}
	if got := e.ok("-n", e.nodes[0], "link", "show", "ib0"); !strings.Contains(got, " mtu 1500 ") {
		t.Errorf("after restart: %s", got)
	}
}

// What a driver killed with SIGKILL left behind is reclaimed by the next
// start; a namespace this driver did not make is refused, never touched.
func TestNetnsReclaimAndRefuse(t *testing.T) {
	needNetns(t)
	e := newNetnsEnv(t, []bool{true}, `[{"pkey":"0xffff","all":"full"}]`)
	e.up(0, "ib0", "10.1.0.1/24")
	e.kill(e.driverPID())
	if _, err := os.Lstat("/run/netns/" + e.ns(0)); err != nil {
		t.Fatalf("after SIGKILL the namespace is expected to stay: %v", err)
	}
	e.ok("driver", "start")
	if out, _ := e.in(0, "ip", "-o", "addr", "show", "dev", "ib0"); !strings.Contains(out, "inet 10.1.0.1/24") {
		t.Errorf("after the restart the namespace's ib0 has:\n%s", out)
	}
	e.ok("driver", "stop")

	// A namespace of the same name made by someone else.
	if out, err := exec.Command("ip", "netns", "add", e.ns(0)).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	if out, err := exec.Command("ip", "-n", e.ns(0), "link", "set", "lo", "alias", "theirs").CombinedOutput(); err != nil {
		t.Fatalf("ip link set alias: %v %s", err, out)
	}
	// The state that said it was ours is gone with the clean stop; a
	// fresh state directory says nothing either.
	r := e.run("", "driver", "start", "--foreground")
	want := "network namespace " + e.ns(0) + ": exists and was not made by this driver"
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("driver start over a foreign namespace: %v, want exit 1 and %q", r, want)
	}
	if out, _ := exec.Command("ip", "-n", e.ns(0), "-j", "link", "show", "lo").Output(); !jsonHas(out, "ifalias", "theirs") {
		t.Errorf("the foreign namespace was touched: %s", out)
	}
}

// jsonHas reports whether ip -j output's first object has key = value.
func jsonHas(b []byte, key, value string) bool {
	var v []map[string]any
	if json.Unmarshal(b, &v) != nil || len(v) == 0 {
		return false
	}
	return v[0][key] == value
}

// iperf3 runs a TCP stream from namespace a to address dst, served in
// namespace b, for secs seconds, and returns the receiver's bits/s and
// bytes. A run that did not start (the server not yet listening) is
// tried again.
func iperf3(b testing.TB, nsA, nsB, dst string, secs int) (bps, received float64) {
	b.Helper()
	var out []byte
	var err error
	for range 20 {
		if bps, received, out, err = iperf3Once(nsA, nsB, dst, secs); err == nil && bps > 0 {
			return bps, received
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("iperf3 to %s: %v\n%s", dst, err, out)
	return 0, 0
}

// iperf3Once is one run of iperf3 with a server of its own.
func iperf3Once(nsA, nsB, dst string, secs int) (bps, received float64, out []byte, err error) {
	srv := exec.Command("ip", "netns", "exec", nsB, "iperf3", "-s", "-1", "-p", "5301")
	if err := srv.Start(); err != nil {
		return 0, 0, nil, err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	time.Sleep(100 * time.Millisecond) // its listen
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+30)*time.Second)
	defer cancel()
	out, err = exec.CommandContext(ctx, "ip", "netns", "exec", nsA, "iperf3", "-J", "-p", "5301", "-c", dst,
		"-t", fmt.Sprint(secs), "--connect-timeout", "2000").Output()
	if err != nil {
		return 0, 0, out, err
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
				Bytes         float64 `json:"bytes"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	err = json.Unmarshal(out, &r)
	return r.End.SumReceived.BitsPerSecond, r.End.SumReceived.Bytes, out, err
}

// cpuSeconds is the user and system CPU time a process has used
// (/proc/PID/stat's utime and stime).
func cpuSeconds(b testing.TB, pid int) float64 {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command's closing parenthesis: state is
	// field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if i < 0 || len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	var ticks float64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			b.Fatalf("/proc/%d/stat: %q: %v", pid, stat, err)
		}
		ticks += float64(v)
	}
	return ticks / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every Linux architecture Go runs on.
const clockTicks = 100

// vethPair makes two namespaces joined by a veth pair with the MTU, for
// the baseline.
func vethPair(b testing.TB, mtu int) (string, string) {
	b.Helper()
	a, c := fmt.Sprintf("ibctl-veth-%da", os.Getpid()), fmt.Sprintf("ibctl-veth-%db", os.Getpid())
	b.Cleanup(func() {
		exec.Command("ip", "netns", "delete", a).Run()
		exec.Command("ip", "netns", "delete", c).Run()
	})
	for _, args := range [][]string{
		{"netns", "add", a}, {"netns", "add", c},
		{"-n", a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", c},
		{"-n", a, "addr", "add", "10.77.0.1/24", "dev", "va"}, {"-n", c, "addr", "add", "10.77.0.2/24", "dev", "vb"},
		{"-n", a, "link", "set", "va", "mtu", fmt.Sprint(mtu), "up"}, {"-n", c, "link", "set", "vb", "mtu", fmt.Sprint(mtu), "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			b.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	return a, c
}

// BenchmarkNetnsIperf3 measures TCP between two node namespaces over the
// emulated fabric against a veth pair at the same MTU, in the same run:
// datagram mode (MTU 2044) and connected mode (MTU 65520). The ratio is
// the figure of merit.
func BenchmarkNetnsIperf3(b *testing.B) {
	needNetns(b, "iperf3")
	for _, c := range []struct {
		mode string
		mtu  int
	}{{"datagram", 2044}, {"connected", 65520}} {
		b.Run(c.mode, func(b *testing.B) {
			e := newNetnsEnv(b, []bool{true, true}, `[{"pkey":"0xffff","all":"full"}]`)
			for i := range e.nodes {
				e.ok("-n", e.nodes[i], "sys", "write", "class/net/ib0/mode", c.mode)
				e.ok("-n", e.nodes[i], "link", "set", "ib0", "mtu", fmt.Sprint(c.mtu))
				e.up(i, "ib0", fmt.Sprintf("10.1.0.%d/24", i+1))
			}
			va, vb := vethPair(b, c.mtu)
			pid := e.driverPID()
			var netnsBPS, vethBPS, netnsBytes, cpu float64
			for range b.N {
				bps, _ := iperf3(b, va, vb, "10.77.0.2", 3)
				vethBPS += bps
				cpu0 := cpuSeconds(b, pid)
				bps, n := iperf3(b, e.ns(0), e.ns(1), "10.1.0.2", 3)
				cpu += cpuSeconds(b, pid) - cpu0
				netnsBPS += bps
				netnsBytes += n
			}
			b.ReportMetric(netnsBPS/float64(b.N)/1e9, "netns-Gb/s")
			b.ReportMetric(vethBPS/float64(b.N)/1e9, "veth-Gb/s")
			b.ReportMetric(100*netnsBPS/vethBPS, "%-of-veth")
			// The driver's CPU time per GB carried depends less on what
			// else the machine runs than the rates do.
			b.ReportMetric(cpu/(netnsBytes/1e9), "driver-cpu-s/GB")
		})
	}
}

// A script run with ibctl exec on a --netns node changes the driver
// through /sys, and the namespace's netdevs follow at once: a child
// created is a kernel netdev before the write returns, the mode's MTU
// shows on it, a child deleted is gone.
func TestNetnsExecFollows(t *testing.T) {
	needNetns(t, "bash")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("exec needs /dev/fuse: %v", err)
	}
	e := newNetnsEnv(t, []bool{true}, `[{"pkey":"0xffff","all":"full"}]`)
	script := `set -e
echo 0x8001 > /sys/class/net/ib0/create_child
ip -o link show ib0.8001 | grep -o 'link/infiniband'
cat /sys/class/net/ib0.8001/pkey /sys/class/net/ib0.8001/parent
echo connected > /sys/class/net/ib0.8001/mode
ip link set ib0.8001 up
ip -o link show ib0.8001 | grep -o 'mtu [0-9]*'
echo 0x8001 > /sys/class/net/ib0/delete_child
ip link show ib0.8001 2>&1 || true
echo bogus > /sys/class/net/ib0/mode
`
	r := e.run("", "-n", e.nodes[0], "exec", "--", "bash", "-c", script)
	wantOut := "link/infiniband\n0x8001\nib0\nmtu 65520\n"
	wantErr := "Device \"ib0.8001\" does not exist.\n"
	if r.code != 1 || !strings.HasPrefix(r.stdout, wantOut) || !strings.Contains(r.stdout+r.stderr, wantErr) ||
		!strings.Contains(r.stderr, "write error: Invalid argument") {
		t.Errorf("%v\nwant exit 1, stdout starting %q, %q and bash's write error", r, wantOut, wantErr)
	}
}

// Without root, driver start --netns fails at once with one line saying
// what is missing, and starts nothing.
func TestNetnsNeedsRoot(t *testing.T) {
	needRoot(t) // to become another user
	base, err := os.MkdirTemp("", "ibn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	sockDir, state := filepath.Join(base, "s"), filepath.Join(base, "state")
	mustDo(t, os.Chmod(base, 0o755), os.Mkdir(sockDir, 0o700), os.Chown(sockDir, nobody, nobody),
		os.Mkdir(state, 0o700), os.Chown(state, nobody, nobody))
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ibctlBin, "driver", "start", "--foreground", "--netns",
		"--socket", filepath.Join(sockDir, "s"), "--state-dir", state)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	want := "ibctl: driver start: netns: needs root (network namespaces and TUN devices need CAP_SYS_ADMIN and CAP_NET_ADMIN)\n"
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || string(out) != want {
		t.Errorf("driver start --netns as uid %d: %v\n%s\nwant exit 1 and %q", nobody, err, out, want)
	}
}

// The kernel netdev shows the driver's carrier: NO-CARRIER while the
// child's P_Key is in no partition of its port, LOWER_UP once the subnet
// manager adds it. ip link set up and down in the namespace reach the
// driver.
func TestNetnsCarrierAndUpDown(t *testing.T) {
	needNetns(t)
	e := newNetnsEnv(t, []bool{true}, `[{"pkey":"0xffff","all":"full"}]`)
	e.ok("-n", e.nodes[0], "link", "add", "link", "ib0", "name", "ib0.8005", "type", "ipoib", "pkey", "0x8005")
	e.ok("-n", e.nodes[0], "link", "set", "ib0.8005", "up")
	linkLine := func(dev string) string {
		out, _ := e.in(0, "ip", "-o", "link", "show", dev)
		return out
	}
	if l := linkLine("ib0.8005"); !strings.Contains(l, "NO-CARRIER") || !strings.Contains(l, "state DOWN") {
		t.Errorf("a child on a P_Key of no partition: %s", l)
	}
	e.ok("sm", "partition", "add", "0x8005", "all", "full")
	eventually(t, "ib0.8005 gets its carrier", func() bool {
		l := linkLine("ib0.8005")
		return strings.Contains(l, "LOWER_UP") && !strings.Contains(l, "NO-CARRIER")
	})
	if out, code := e.in(0, "ip", "link", "set", "ib0.8005", "down"); code != 0 {
		t.Fatalf("ip link set down: %s", out)
	}
	eventually(t, "ibctl sees ib0.8005 down", func() bool {
		return strings.Contains(e.ok("-n", e.nodes[0], "link", "show", "ib0.8005"), "state DOWN")
	})
	if out, code := e.in(0, "ip", "link", "set", "ib0", "up"); code != 0 {
		t.Fatalf("ip link set up: %s", out)
	}
	eventually(t, "ibctl sees ib0 up", func() bool {
		return strings.Contains(e.ok("-n", e.nodes[0], "link", "show", "ib0"), "<BROADCAST,MULTICAST,UP,LOWER_UP>")
	})
	// Down in the namespace takes the IPv6 addresses there, as the
	// driver's down does: no refusal to log.
	e.ok("-n", e.nodes[0], "addr", "add", "fd00::1/64", "dev", "ib0")
	if out, code := e.in(0, "ip", "link", "set", "ib0", "down"); code != 0 {
		t.Fatalf("ip link set down: %s", out)
	}
	eventually(t, "ibctl sees ib0 down without fd00::1", func() bool {
		return !strings.Contains(e.ok("-n", e.nodes[0], "addr", "show", "dev", "ib0"), "fd00::1")
	})
	if log := e.ok("-n", e.nodes[0], "dmesg"); strings.Contains(log, "refused") {
		t.Errorf("dmesg has a refusal:\n%s", log)
	}
}

// ip link del in a namespace is the driver's dellink: a child goes, a
// parent stays and gets its netdev back; a rename is put back.
func TestNetnsDeleteAndRename(t *testing.T) {
	needNetns(t)
	e := newNetnsEnv(t, []bool{true}, `[{"pkey":"0xffff","all":"full"}]`)
	e.up(0, "ib0", "10.1.0.1/24")
	e.ok("-n", e.nodes[0], "link", "add", "link", "ib0", "name", "ib0.8001", "type", "ipoib", "pkey", "0x8001")
	e.ok("-n", e.nodes[0], "link", "add", "link", "ib0", "name", "ib0.8002", "type", "ipoib", "pkey", "0x8002")
	for _, args := range [][]string{{"link", "del", "ib0.8001"}, {"link", "del", "ib0"}, {"link", "set", "ib0.8002", "name", "other"}} {
		if out, code := e.in(0, append([]string{"ip"}, args...)...); code != 0 {
			t.Fatalf("ip %v: %s", args, out)
		}
	}
	eventually(t, "the driver deletes ib0.8001", func() bool {
		return !strings.Contains(e.ok("-n", e.nodes[0], "link", "show"), "ib0.8001")
	})
	eventually(t, "ib0 and ib0.8002 are back in the namespace", func() bool {
		out, _ := e.in(0, "ip", "-o", "addr", "show")
		l, _ := e.in(0, "ip", "-o", "link", "show")
		return strings.Contains(out, "inet 10.1.0.1/24") && strings.Contains(l, ": ib0.8002: ") && !strings.Contains(l, "other")
	})
	log := e.ok("-n", e.nodes[0], "dmesg")
	for _, want := range []string{
		"ib0: refused in " + e.ns(0) + ": ip link del: a parent interface stays (ipoib_del_child_link); its netdev is given back",
		"ib0.8002: refused in " + e.ns(0) + ": ip link set name other: the driver names its interfaces; put back",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("dmesg lacks %q:\n%s", want, log)
		}
	}
}

// The kernel netdev takes from the namespace's kernel what the IPoIB
// interface offloads, as its features say: a datagram-mode ib0 of a port
// with checksum offload and LSO takes IPv4 TSO (ipoib_set_dev_features:
// TSO, no TSO6); ethtool -K tso off, and connected mode (no checksum
// offload, ipoib_fix_features), leave the segmentation, and the
// checksum, to the namespace's kernel. The real ethtool 6.1 reads the
// TUN's features there.
func TestNetnsOffloadsFollowFeatures(t *testing.T) {
	needNetns(t, "ethtool")
	e := newNetnsEnv(t, []bool{true}, `[{"pkey":"0xffff","all":"full"}]`)
	features := func() map[string]string {
		out, code := e.in(0, "ethtool", "-k", "ib0")
		if code != 0 {
			t.Fatalf("ethtool -k ib0: %s", out)
		}
		m := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ": "); ok {
				m[k] = strings.TrimSuffix(v, " [fixed]")
			}
		}
		return m
	}
	for _, step := range []struct {
		name string
		cmd  []string
		want map[string]string
	}{
		{"datagram", nil, map[string]string{"tx-checksumming": "on", "tx-tcp-segmentation": "on", "tx-tcp6-segmentation": "off"}},
		{"tso off", []string{"ethtool", "-K", "ib0", "tso", "off"}, map[string]string{"tx-checksumming": "on", "tx-tcp-segmentation": "off"}},
		{"tso on", []string{"ethtool", "-K", "ib0", "tso", "on"}, map[string]string{"tx-tcp-segmentation": "on"}},
		{"connected", []string{"sys", "write", "class/net/ib0/mode", "connected"}, map[string]string{"tx-checksumming": "off", "tx-tcp-segmentation": "off"}},
	} {
		if step.cmd != nil {
			e.ok(append([]string{"-n", e.nodes[0]}, step.cmd...)...)
		}
		got := features()
		for k, v := range step.want {
			if got[k] != v {
				t.Errorf("%s: %s %q, want %q", step.name, k, got[k], v)
			}
		}
	}
}

// An address reaches the kernel netdev with the broadcast address it was
// added with, and none when it was given none, as ip and the kernel do
// (rtm_to_ifaddr sets ifa_broadcast only from IFA_BROADCAST).
func TestNetnsBroadcastAsGiven(t *testing.T) {
	needNetns(t)
	e := newNetnsEnv(t, []bool{true}, `[{"pkey":"0xffff","all":"full"}]`)
	e.ok("-n", e.nodes[0], "addr", "add", "10.9.0.1/24", "dev", "ib0")
	e.ok("-n", e.nodes[0], "addr", "add", "10.9.1.1/24", "brd", "+", "dev", "ib0")
	out, code := e.in(0, "ip", "-o", "-4", "addr", "show", "dev", "ib0")
	if code != 0 {
		t.Fatalf("ip addr show: %s", out)
	}
	for _, want := range []string{"inet 10.9.0.1/24 scope global ib0", "inet 10.9.1.1/24 brd 10.9.1.255 scope global ib0"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// And the other way: an address ip adds in the namespace reaches the
// driver with the broadcast ip gave it, and without one when none was
// given (IFA_BROADCAST, as iproute2 6.1's ipaddr_modify sends it).
func TestNetnsBroadcastFromKernel(t *testing.T) {
	needNetns(t)
	e := newNetnsEnv(t, []bool{true}, `[{"pkey":"0xffff","all":"full"}]`)
	for _, args := range [][]string{
		{"ip", "addr", "add", "10.9.2.1/24", "brd", "+", "dev", "ib0"},
		{"ip", "addr", "add", "10.9.3.1/24", "dev", "ib0"},
		{"ip", "addr", "add", "10.9.4.1/24", "broadcast", "10.9.4.7", "dev", "ib0"},
	} {
		if out, code := e.in(0, args...); code != 0 {
			t.Fatalf("%v: %s", args, out)
		}
	}
	want := []string{"inet 10.9.2.1/24 brd 10.9.2.255 scope global ib0", "inet 10.9.3.1/24 scope global ib0",
		"inet 10.9.4.1/24 brd 10.9.4.7 scope global ib0"}
	var got string
	eventually(t, "ibctl addr show lists the three addresses", func() bool {
		got = e.ok("-n", e.nodes[0], "addr", "show", "dev", "ib0")
		return strings.Contains(got, "10.9.2.1/24") && strings.Contains(got, "10.9.3.1/24") && strings.Contains(got, "10.9.4.1/24")
	})
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("ibctl addr show lacks %q:\n%s", w, got)
		}
	}
}

// A kernel netdev has its interface's ifindex (TUNSETIFINDEX), so that
// `ip link` in the namespace and `ibctl link show` number the parent and
// a child alike, as on one host: after a child between them went, after
// a driver restart makes every netdev again, and after a parent deleted
// in the namespace is given back.
func TestNetnsIfindexAsDriver(t *testing.T) {
	needNetns(t)
	e := newNetnsEnv(t, []bool{true}, `[{"pkey":"0xffff","all":"full"},{"pkey":"0x8001","all":"full"},{"pkey":"0x8002","all":"full"}]`)
	node := e.nodes[0]
	e.ok("-n", node, "sys", "write", "class/net/ib0/create_child", "0x8001")
	e.ok("-n", node, "sys", "write", "class/net/ib0/create_child", "0x8002")
	e.ok("-n", node, "sys", "write", "class/net/ib0/delete_child", "0x8001")
	same := func(when string) {
		t.Helper()
		for _, dev := range []string{"ib0", "ib0.8002"} {
			mine := strings.SplitN(e.ok("-n", node, "link", "show", "dev", dev), " ", 2)[0]
			var theirs string
			eventually(t, dev+" in the namespace", func() bool {
				out, code := e.in(0, "ip", "-o", "link", "show", "dev", dev)
				theirs = strings.SplitN(out, " ", 2)[0]
				return code == 0
			})
			if mine != theirs || !strings.HasSuffix(mine, ":") {
				t.Errorf("%s: %s: ibctl numbers it %q, the namespace %q", when, dev, mine, theirs)
			}
		}
	}
	same("after a child went")
	e.ok("driver", "stop")
	e.ok("driver", "start")
	same("after a restart")
	if out, code := e.in(0, "ip", "link", "del", "ib0"); code != 0 {
		t.Fatalf("ip link del ib0: %s", out)
	}
	same("after ip link del ib0")
}

// A namespace routes through another: a route with a gateway (`ip route
// add ... via`) in one namespace and forwarding in the router's. The
// kernel sends the datagram through the TUN, which shows no next hop, so
// the driver resolves the gateway from the namespace's main table, as
// the kernel's neighbour output would, and never the far address.
func TestNetnsRouteThroughGateway(t *testing.T) {
	needNetns(t, "ping")
	tag := fmt.Sprintf("t%d", os.Getpid()%100000)
	member := func(node string) string { return fmt.Sprintf(`{"node":"%s%s","port":1,"full":true}`, tag, node) }
	e := newNetnsEnv(t, []bool{true, true, true}, `[{"pkey":"0xffff","all":"full"},{"pkey":"0x8001","members":[`+
		member("b")+","+member("c")+`]}]`)
	e.up(0, "ib0", "10.1.0.1/24")
	e.up(1, "ib0", "10.1.0.2/24")
	e.ok("-n", e.nodes[2], "link", "set", "ib0", "up")
	for i := 1; i <= 2; i++ {
		e.ok("-n", e.nodes[i], "link", "add", "link", "ib0", "name", "ib0.8001", "type", "ipoib", "pkey", "0x8001")
		e.up(i, "ib0.8001", fmt.Sprintf("10.2.0.%d/24", i+1))
	}
	for _, c := range []struct {
		node int
		args []string
	}{
		{1, []string{"sysctl", "-qw", "net.ipv4.ip_forward=1"}},
		{0, []string{"ip", "route", "add", "10.2.0.0/24", "via", "10.1.0.2"}},
		{2, []string{"ip", "route", "add", "default", "via", "10.2.0.2"}},
	} {
		if out, code := e.in(c.node, c.args...); code != 0 {
			t.Fatalf("%s: %v: %s", e.ns(c.node), c.args, out)
		}
	}
	var out string
	var code int
	eventually(t, "ping through the router", func() bool {
		out, code = e.in(0, "ping", "-c", "1", "-W", "1", "10.2.0.3")
		return code == 0
	})
	if !strings.Contains(out, "ttl=63") {
		t.Errorf("the reply did not cross the router (ttl 63):\n%s", out)
	}
	neigh := e.ok("-n", e.nodes[0], "neigh", "show", "dev", "ib0")
	if !strings.Contains(neigh, "10.1.0.2 ") || strings.Contains(neigh, "10.2.0.3") {
		t.Errorf("%s's neighbours: want the gateway 10.1.0.2 and not 10.2.0.3:\n%s", e.nodes[0], neigh)
	}
	// The route gone, the far address is on its own again: no reply.
	if out, code := e.in(0, "ip", "route", "del", "10.2.0.0/24"); code != 0 {
		t.Fatalf("ip route del: %s", out)
	}
	if out, code := e.in(0, "ping", "-c", "1", "-W", "1", "10.2.0.3"); code == 0 {
		t.Errorf("ping without the route still answered:\n%s", out)
	}
}

// Policy routing in a namespace: a rule on the source sends the kernel's
// ping to table 100, whose route through the router is the only way to
// the far partition (the main table's gateway answers nobody). The
// driver sends it to the gateway the kernel chose, so the reply crosses
// the router (ttl 63) and the neighbour table holds that gateway alone;
// a change of table 100's route or of the rule is followed at once.
func TestNetnsPolicyRouting(t *testing.T) {
	needNetns(t, "ping")
	tag := fmt.Sprintf("t%d", os.Getpid()%100000)
	member := func(node string) string { return fmt.Sprintf(`{"node":"%s%s","port":1,"full":true}`, tag, node) }
	e := newNetnsEnv(t, []bool{true, true, true}, `[{"pkey":"0xffff","all":"full"},{"pkey":"0x8001","members":[`+
		member("b")+","+member("c")+`]}]`)
	e.ok("-n", e.nodes[2], "link", "set", "ib0", "up")
	for i := 1; i <= 2; i++ {
		e.ok("-n", e.nodes[i], "link", "add", "link", "ib0", "name", "ib0.8001", "type", "ipoib", "pkey", "0x8001")
	}
	for _, f := range []struct {
		ip, a, b, c, dead, far, net, fwd string
	}{
		{"-4", "10.1.0.", "10.1.0.2", "10.2.0.", "10.1.0.99", "10.2.0.3", "10.2.0.0/24", "net.ipv4.ip_forward=1"},
		{"-6", "fd01::", "fd01::2", "fd02::", "fd01::99", "fd02::3", "fd02::/64", "net.ipv6.conf.all.forwarding=1"},
	} {
		bits := "/24"
		if f.ip == "-6" {
			bits = "/64"
		}
		e.up(0, "ib0", f.a+"1"+bits)
		e.ok("-n", e.nodes[0], "addr", "add", f.a+"11"+bits, "dev", "ib0")
		e.up(1, "ib0", f.b+bits)
		e.up(1, "ib0.8001", f.c+"2"+bits)
		e.up(2, "ib0.8001", f.c+"3"+bits)
		for _, c := range []struct {
			node int
			args []string
		}{
			{1, []string{"sysctl", "-qw", f.fwd}},
			{0, []string{"ip", f.ip, "route", "add", f.net, "via", f.dead}},
			{0, []string{"ip", f.ip, "route", "add", f.net, "via", f.b, "dev", "ib0", "table", "100"}},
			{0, []string{"ip", f.ip, "rule", "add", "from", f.a + "11", "table", "100"}},
			{2, []string{"ip", f.ip, "route", "add", "default", "via", f.c + "2"}},
		} {
			if out, code := e.in(c.node, c.args...); code != 0 {
				t.Fatalf("%s: %v: %s", e.ns(c.node), c.args, out)
			}
		}
		ping := func() (string, int) { return e.in(0, "ping", f.ip, "-c", "1", "-W", "1", "-I", f.a+"11", f.far) }
		var out string
		var code int
		eventually(t, f.ip+": ping through the router", func() bool {
			out, code = ping()
			return code == 0
		})
		if !strings.Contains(out, "ttl=63") {
			t.Errorf("%s: the reply did not cross the router (ttl 63):\n%s", f.ip, out)
		}
		neigh := e.ok("-n", e.nodes[0], "neigh", "show", "dev", "ib0")
		if !strings.Contains(neigh, f.b+" ") || strings.Contains(neigh, f.far) || strings.Contains(neigh, f.dead) {
			t.Errorf("%s: %s's neighbours: want the gateway %s, not %s nor %s:\n%s", f.ip, e.nodes[0], f.b, f.far, f.dead, neigh)
		}
		// Table 100's route to the dead gateway, then back, then the
		// rule gone: the main table's dead gateway.
		for _, c := range []struct {
			args  []string
			reply bool
		}{
			{[]string{"ip", f.ip, "route", "replace", f.net, "via", f.dead, "dev", "ib0", "table", "100"}, false},
			{[]string{"ip", f.ip, "route", "replace", f.net, "via", f.b, "dev", "ib0", "table", "100"}, true},
			{[]string{"ip", f.ip, "rule", "del", "from", f.a + "11", "table", "100"}, false},
		} {
			if out, code := e.in(0, c.args...); code != 0 {
				t.Fatalf("%v: %s", c.args, out)
			}
			eventually(t, fmt.Sprintf("%v: reply %v", c.args, c.reply), func() bool {
				_, code := ping()
				return (code == 0) == c.reply
			})
		}
	}
}

// The kernel's ping to an on-link address nobody has hears what a real
// IPoIB host's neighbour layer says when it gives up after three
// solicitations (neigh_invalidate → arp_error_report,
// ndisc_error_report): iputils prints one "Destination Host Unreachable"
// (IPv4) or "Address unreachable" (IPv6) line per request it queued.
func TestNetnsUnresolvedNeighbour(t *testing.T) {
	needNetns(t, "ping")
	e := newNetnsEnv(t, []bool{true}, `[{"pkey":"0xffff","all":"full"}]`)
	e.up(0, "ib0", "10.1.0.1/24")
	e.ok("-n", e.nodes[0], "addr", "add", "fd00::1/64", "dev", "ib0")
	for _, c := range []struct{ dst, want string }{
		{"10.1.0.99", "From 10.1.0.1 icmp_seq=1 Destination Host Unreachable"},
		{"fd00::99", "From fd00::1 icmp_seq=1 Destination unreachable: Address unreachable"},
	} {
		out, code := e.in(0, "ping", "-c", "1", "-W", "5", c.dst)
		if code != 1 || !strings.Contains(out, c.want) || !strings.Contains(out, "+1 errors") {
			t.Errorf("ping %s: exit %d, want 1 with %q and +1 errors:\n%s", c.dst, code, c.want, out)
		}
	}
}

// Under exec, /sys/class/net is a class directory as the kernel's: each
// interface a symbolic link into /sys/devices/virtual/net, where the
// driver's directory is, beside lo's; the driver's files are reached
// through the link and at the device path alike.
func TestNetnsExecSysfsLinks(t *testing.T) {
	needNetns(t, "bash")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("exec needs /dev/fuse: %v", err)
	}
	e := newNetnsEnv(t, []bool{true}, `[{"pkey":"0xffff","all":"full"}]`)
	script := `set -e
readlink /sys/class/net/ib0 /sys/class/net/lo
[ -L /sys/class/net/ib0 ] && [ -d /sys/class/net/ib0/ ] && echo link-to-dir
cat /sys/class/net/ib0/mode /sys/devices/virtual/net/ib0/mode
echo 0x8001 > /sys/class/net/ib0/create_child
readlink /sys/class/net/ib0.8001
cat /sys/devices/virtual/net/ib0.8001/pkey
cat /sys/devices/virtual/net/lo/mtu
`
	r := e.run("", "-n", e.nodes[0], "exec", "--", "bash", "-c", script)
	want := "../../devices/virtual/net/ib0\n../../devices/virtual/net/lo\nlink-to-dir\ndatagram\ndatagram\n" +
		"../../devices/virtual/net/ib0.8001\n0x8001\n65536\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("%v\nwant exit 0 and stdout %q", r, want)
	}
}
