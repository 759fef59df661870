package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// sandboxEnv marks a test binary already running in its sandbox.
const sandboxEnv = "IBCTL_NETNS_TEST_SANDBOX"

// TestMain runs the package's tests, as root, in a network namespace and
// a mount namespace of their own, with a private /run/netns: what they
// make (and whatever a broken build of this package would do in the
// wrong namespace, as mutation testing makes it) stays there, and the
// host's links, routes and registered namespaces are never touched.
func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run()) // the root tests skip
	}
	if os.Getenv(sandboxEnv) == "" {
		os.Exit(runInSandbox())
	}
	if err := enterSandbox(); err != nil {
		fmt.Fprintln(os.Stderr, "netns tests: sandbox:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// runInSandbox runs this test binary again in new network and mount
// namespaces and returns its exit status.
func runInSandbox() int {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), sandboxEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "netns tests: sandbox:", err)
		return 1
	}
	return 0
}

// enterSandbox makes the new mount namespace private and gives it its
// own /run/netns.
func enterSandbox() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", Dir, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("tmpfs on %s: %w", Dir, err)
	}
	return nil
}

// TestSandboxed: the root tests do not run in the host's namespaces.
func TestSandboxed(t *testing.T) {
	needRoot(t)
	if os.Getenv(sandboxEnv) == "" {
		t.Fatal("root tests run outside their sandbox")
	}
	// The parent is the test binary that started this one, in the
	// namespaces the tests were run from.
	for _, ns := range []string{"net", "mnt"} {
		host, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", os.Getppid(), ns))
		if err != nil {
			t.Fatal(err)
		}
		self, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil || host == self {
			t.Fatalf("in the parent's %s namespace %s (%v)", ns, self, err)
		}
	}
}
