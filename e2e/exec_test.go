package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// execEnv starts a driver of two nodes named for this test process (no
// other run has namespaces of those names) and registers a network
// namespace for the first, as `driver start --netns` would; the second
// has none. The namespace is deleted at the end of the test.
func execEnv(t *testing.T) (e *env, node, other string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("exec needs root: it enters a network namespace and mounts sysfs and FUSE")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("exec needs /dev/fuse: %v", err)
	}
	for _, prog := range []string{"ip", "bash"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("no %s: %v", prog, err)
		}
	}
	node, other = fmt.Sprintf("x%da", os.Getpid()), fmt.Sprintf("x%db", os.Getpid())
	topo := filepath.Join(t.TempDir(), "topology.json")
	port := `{"width": "4X", "speed": "EDR", "ib_mtu": 4096}`
	if err := os.WriteFile(topo, []byte(fmt.Sprintf(`{"nodes": [{"name": %q, "ports": [%s]}, {"name": %q, "ports": [%s]}],
		"partitions": [{"pkey": "0xffff", "ib_mtu": 2048, "all": "full"}]}`, node, port, other, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	e = newEnv(t)
	e.ok("driver", "start", "--topology", topo)
	ns := "ibctl-" + node
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", ns, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
		}
	})
	return e, node, other
}

// TestExecScript runs a script on the node as an admin would: children
// created and deleted through /sys, the mode flipped, files read, and a
// bad value refused with bash's own message.
func TestExecScript(t *testing.T) {
	e, node, _ := execEnv(t)
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/ibctl-"+node, &st); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(script, []byte(`stat -L -c %i /proc/self/ns/net
ls /sys/class/net
readlink /sys/class/net/lo
echo 0x8001 > /sys/class/net/ib0/create_child
ls /sys/class/net
cat /sys/class/net/ib0.8001/pkey /sys/class/net/ib0.8001/parent
echo 0x8001 > /sys/class/net/ib0/delete_child
ls /sys/class/net
echo connected > /sys/class/net/ib0/mode
cat /sys/class/net/ib0/mode /sys/class/net/ib0/mtu
cat /sys/module/ib_ipoib/parameters/send_queue_size
ls /sys/kernel/debug/ipoib
echo 0x10000 > /sys/class/net/ib0/create_child
echo "status $?"
exit 3
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("", "-n", node, "exec", "--", "bash", script)
	want := fmt.Sprintf(`%d
ib0
lo
../../devices/virtual/net/lo
ib0
ib0.8001
lo
0x8001
ib0
ib0
lo
connected
65520
128
ib0_mcg
ib0_path
status 1
`, st.Ino)
	if r.code != 3 || r.stdout != want || r.stderr != script+": line 13: echo: write error: Invalid argument\n" {
		t.Errorf("%v\nwant exit 3, stdout:\n%s", r, want)
	}
	// The mounts were the script's alone: nothing of exec's is mounted
	// under the host's /sys. (Other packages' tests may hold FUSE
	// mounts of their own elsewhere meanwhile.)
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], "/sys") && strings.Contains(line, " fuse.ibctl ") {
			t.Errorf("exec left a mount on the host: %s", line)
		}
	}
	// What the script did is the driver's state.
	if got := e.ok("-n", node, "sys", "read", "class/net/ib0/mode"); got != "connected\n" {
		t.Errorf("mode after the script: %q", got)
	}
	if got := e.ok("-n", node, "sys", "ls", "class/net"); got != "ib0/\n" {
		t.Errorf("links after the script: %q", got)
	}
}

// TestExecStatus checks the exit status and message a shell would give,
// and that a node without a namespace is refused.
func TestExecStatus(t *testing.T) {
	e, node, other := execEnv(t)
	notExec := filepath.Join(t.TempDir(), "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{args: []string{"-n", node, "exec", "true"}},
		{args: []string{"-n", node, "exec", "--", "sh", "-c", "exit 7"}, code: 7},
		{args: []string{"-n", node, "exec", "--", "sh", "-c", "kill -TERM $$"}, code: 128 + 15},
		{args: []string{"exec", "-n", node, "ibctl-no-such-command"}, code: 127,
			stderr: "ibctl: exec: ibctl-no-such-command: command not found\n"},
		{args: []string{"-n", node, "exec", notExec}, code: 126,
			stderr: "ibctl: exec: " + notExec + ": Permission denied\n"},
		{args: []string{"-n", other, "exec", "true"}, code: 1,
			stderr: "ibctl: exec: network namespace ibctl-" + other + " not found: start the driver with --netns\n"},
		{args: []string{"exec"}, code: 2, stderr: "ibctl: exec: missing command\n"},
	}
	for _, tt := range tests {
		r := e.run("", tt.args...)
		if r.code != tt.code || r.stderr != tt.stderr || r.stdout != "" {
			t.Errorf("%v\nwant exit %d, stderr %q", r, tt.code, tt.stderr)
		}
	}
}

// TestExecSignal checks that SIGTERM sent to ibctl reaches the command,
// whose status is then exec's.
func TestExecSignal(t *testing.T) {
	e, node, _ := execEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd, _, errb := e.command(ctx, "", "-n", node, "exec", "--", "sh", "-c", `trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done`)
	cmd.Stdout = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if cmd.ProcessState.ExitCode() != 42 || errb.String() != "" {
		t.Errorf("exec after SIGTERM: %v, stderr %q; want exit status 42", err, strings.TrimSpace(errb.String()))
	}
}

// TestExecEtc checks that files of /etc/netns/ibctl-NODE are bound over
// those of /etc for the command, as ip netns exec binds them.
func TestExecEtc(t *testing.T) {
	e, node, _ := execEnv(t)
	dir := "/etc/netns/ibctl-" + node
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte("10.0.0.1 peer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No /etc/ibctl-absent to bind over: said, and the command runs.
	if err := os.WriteFile(filepath.Join(dir, "ibctl-absent"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("", "-n", node, "exec", "cat", "/etc/hosts")
	wantErr := "ibctl: exec: bind " + dir + "/ibctl-absent on /etc/ibctl-absent: No such file or directory\n"
	if r.code != 0 || r.stdout != "10.0.0.1 peer\n" || r.stderr != wantErr {
		t.Errorf("%v\nwant exit 0, stdout %q, stderr %q", r, "10.0.0.1 peer\n", wantErr)
	}
}

// TestExecInfiniBand reads the node's HCA where scripts and
// infiniband-diags look for it, /sys/class/infiniband, beside the
// kernel's classes and below /sys/class/net, which still links the
// interfaces; a P_Key the subnet manager adds shows at once, and a
// read-only file cannot be opened for writing.
func TestExecInfiniBand(t *testing.T) {
	e, node, _ := execEnv(t)
	e.ok("sm", "partition", "add", "0x8001", "member", node+"/1")
	const port = "/sys/class/infiniband/mlx5_0/ports/1"
	r := e.run("", "-n", node, "exec", "--", "bash", "-c", `ls /sys/class/infiniband
test -d /sys/class/tty && echo "tty passes through"
readlink /sys/class/net/ib0 /sys/class/net/lo
cat /sys/class/infiniband/mlx5_0/node_type /sys/class/infiniband/mlx5_0/node_guid
cd `+port+` && cat state phys_state rate lid sm_lid link_layer gids/0 pkeys/0 pkeys/1 pkeys/2
ls gids | wc -l; ls pkeys | wc -l
echo 2 > `+port+`/lid`)
	want := `mlx5_0
tty passes through
../../devices/virtual/net/ib0
../../devices/virtual/net/lo
1: CA
0002:c903:0000:1000
4: ACTIVE
5: LinkUp
100 Gb/sec (4X EDR)
0x1
0x1
InfiniBand
fe80:0000:0000:0000:0002:c903:0000:1001
0xffff
0x8001
0x0000
8
128
`
	wantErr := "bash: line 7: " + port + "/lid: Permission denied\n"
	if r.code != 1 || r.stdout != want || r.stderr != wantErr {
		t.Errorf("%v\nwant exit 1, stdout:\n%s\nstderr %q", r, want, wantErr)
	}
	if got := e.ok("-n", node, "sys", "read", port+"/lid"); got != "0x1\n" {
		t.Errorf("lid after the write: %q", got)
	}

	t.Run("ibstatus", func(t *testing.T) {
		if _, err := exec.LookPath("ibstatus"); err != nil {
			t.Skip("no ibstatus (infiniband-diags) installed")
		}
		r := e.run("", "-n", node, "exec", "ibstatus")
		want := `Infiniband device 'mlx5_0' port 1 status:
	default gid:	 fe80:0000:0000:0000:0002:c903:0000:1001
	base lid:	 0x1
	sm lid:		 0x1
	state:		 4: ACTIVE
	phys state:	 5: LinkUp
	rate:		 100 Gb/sec (4X EDR)
	link_layer:	 InfiniBand

`
		if r.code != 0 || r.stdout != want || r.stderr != "" {
			t.Errorf("%v\nwant:\n%s", r, want)
		}
	})
	t.Run("ibstat", func(t *testing.T) {
		if _, err := exec.LookPath("ibstat"); err != nil {
			t.Skip("no ibstat (infiniband-diags) installed")
		}
		r := e.run("", "-n", node, "exec", "ibstat")
		for _, line := range []string{"CA 'mlx5_0'", "\tCA type: MT4115", "\tFirmware version: 12.28.2006",
			"\tNode GUID: 0x0002c90300001000", "\t\tState: Active", "\t\tPhysical state: LinkUp", "\t\tRate: 100",
			"\t\tBase lid: 1", "\t\tSM lid: 1", "\t\tPort GUID: 0x0002c90300001001", "\t\tLink layer: InfiniBand"} {
			if !strings.Contains(r.stdout, line+"\n") {
				t.Errorf("ibstat has no line %q", line)
			}
		}
		// The real ibstat, reading the files, prints what hca show
		// prints from the driver's state.
		if want := e.ok("-n", node, "hca", "show"); r.code != 0 || r.stdout != want || r.stderr != "" {
			t.Errorf("%v\nwant hca show's:\n%s", r, want)
		}
	})
}
