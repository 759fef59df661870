package sysfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary, started again inside a network
// namespace, write one sysfs file and report the errno and the file's
// content afterwards instead of running tests.
const helperEnv = "IBCTL_SYSFS_WRITE_HELPER"

// TestNetSysfsStoresMatchKernel writes the same values to files of a veth
// (down) in a network namespace the test creates and to the emulated
// files, and compares the errno and the value read back. The stores of
// net/core/net-sysfs.c (netdev_store's kstrtoul, tx_queue_len_store's
// ERANGE, change_mtu's int cast, carrier_store's missing ndo_change_carrier) are
// generic, so the running kernel is the reference; for mtu only the
// inputs whose outcome does not depend on the device's MTU range are
// compared. It needs root and iproute2's ip.
func TestNetSysfsStoresMatchKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating a network namespace needs root")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("iproute2's ip is not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("ibctl-sysfs-%d", os.Getpid())
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(ip, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", ns).Run() })
	run("-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1")

	// real writes data to the veth's tx_queue_len inside the namespace
	// (ip netns exec mounts that namespace's sysfs) and returns the errno
	// and the content after.
	real := func(file, data string) (unix.Errno, string) {
		cmd := exec.Command(ip, "netns", "exec", ns, self, "-test.run=^TestNetSysfsStoresMatchKernel$")
		cmd.Env = append(os.Environ(), helperEnv+"=/sys/class/net/v0/"+file, helperEnv+"_DATA="+data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helper: %v: %s", err, out)
		}
		var errno int
		var after string
		if _, err := fmt.Sscanf(string(out), "errno %d after %q", &errno, &after); err != nil {
			t.Fatalf("helper output %q: %v", out, err)
		}
		return unix.Errno(errno), after
	}
	type tc struct{ file, in string }
	var cases []tc
	for _, in := range []string{"1000\n", "0x10", "010\n", "+5\n", "0\n", "4294967295\n",
		"4294967296\n", "18446744073709551616\n", "-1\n", "abc\n", "5 \n", "7\n\n", "\n"} {
		cases = append(cases, tc{"tx_queue_len", in})
	}
	for _, in := range []string{"1500\n", "0x5dc", "abc\n", "-1\n", "2147483648\n", "4294967295\n",
		"18446744073709551616\n"} {
		cases = append(cases, tc{"mtu", in})
	}
	for _, in := range []string{"1\n", "0\n", "abc\n", "18446744073709551616\n"} {
		cases = append(cases, tc{"carrier", in})
	}
	for _, c := range cases {
		file, in := c.file, c.in
		tree := New(newFake())
		before, _ := tree.Read("class/net/ib0/" + file)
		_, err := tree.Write("class/net/ib0/"+file, []byte(in))
		var ours unix.Errno
		if err != nil && !errors.As(err, &ours) {
			t.Fatalf("%q: %v is no errno", in, err)
		}
		after, _ := tree.Read("class/net/ib0/" + file)
		kernelErrno, kernelAfter := real(file, in)
		if ours != kernelErrno {
			t.Errorf("write %q to %s: errno %d (%v), the kernel's %d (%v)", in, file, ours, ours, kernelErrno, kernelErrno)
		}
		// Both start from different values (256 here, 1000 for a veth):
		// compare the value written, or that nothing changed.
		if kernelErrno == 0 && string(after) != kernelAfter {
			t.Errorf("write %q to %s: reads %q, the kernel's %q", in, file, after, kernelAfter)
		}
		if kernelErrno != 0 && string(after) != string(before) {
			t.Errorf("write %q to %s failed but changed %q to %q", in, file, before, after)
		}
	}
}

// TestMain runs the write helper when started as one.
func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		var errno syscall.Errno
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err == nil {
			_, err = f.Write([]byte(os.Getenv(helperEnv + "_DATA")))
			f.Close()
		}
		if err != nil && !errors.As(err, &errno) {
			fmt.Println(err)
			os.Exit(1)
		}
		b, _ := os.ReadFile(path)
		fmt.Printf("errno %d after %q\n", int(errno), b)
		os.Exit(0)
	}
	os.Exit(m.Run())
}
