package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
)

// nobody is the uid (and gid) of another user in these tests.
const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create files owned by another uid and to run a process as another user")
	}
}

// treeOf lists every path under root with its type, mode, owner and the
// content of regular files.
func treeOf(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v uid %d", p, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %q", b)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustDo(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSocketDirRefused: a socket directory of another user, one open to
// others or a symlink is refused with one line naming it and the reason,
// and no driver starts: neither one spawned by a command nor one started
// in the foreground.
func TestSocketDirRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		root    bool
		prepare func(t *testing.T, dir string)
		reason  string
	}{
		{"Foreign0777", true, func(t *testing.T, dir string) {
			mustDo(t, os.Chown(dir, nobody, nobody), os.Chmod(dir, 0o777))
		}, fmt.Sprintf("owned by uid %d, not %d", nobody, os.Geteuid())},
		{"Foreign0700", true, func(t *testing.T, dir string) {
			mustDo(t, os.Chown(dir, nobody, nobody))
		}, fmt.Sprintf("owned by uid %d, not %d", nobody, os.Geteuid())},
		{"Own0755", false, func(t *testing.T, dir string) {
			mustDo(t, os.Chmod(dir, 0o755))
		}, "mode 0755, not 0700"},
		{"Symlink", false, func(t *testing.T, dir string) {
			target := t.TempDir() // ours, mode 0700
			mustDo(t, os.Remove(dir), os.Symlink(target, dir))
		}, "is a symlink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root {
				needRoot(t)
			}
			e := newEnv(t)
			dir := filepath.Dir(e.sock)
			tc.prepare(t, dir)
			before := treeOf(t, dir+"/")
			for _, c := range []struct {
				args   []string
				stderr string
			}{
				{[]string{"link", "show"}, fmt.Sprintf("ibctl: socket directory %s: %s\n", dir, tc.reason)},
				{[]string{"driver", "start", "--foreground"}, fmt.Sprintf("ibctl: driver start: socket directory %s: %s\n", dir, tc.reason)},
			} {
				r := e.run("", c.args...)
				if r.code != 1 || r.stdout != "" || r.stderr != c.stderr {
					t.Errorf("got %v\nwant exit 1 and stderr %q", r, c.stderr)
				}
				if d := e.drivers(); len(d) != 0 {
					t.Errorf("ibctl %s: drivers running: %v", strings.Join(c.args, " "), d)
				}
			}
			if after := treeOf(t, dir+"/"); !slices.Equal(after, before) {
				t.Errorf("socket directory changed:\n%s\nwant:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
			}
		})
	}
}

// TestStateDirRefused: a symlinked state directory (or a symlink at a
// file or directory inside it), one of another user or one writable by
// others is refused with one line, and nothing is written through it.
func TestStateDirRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		root bool
		// prepare sets up the state directory and target, a directory
		// outside it that must stay untouched.
		prepare func(t *testing.T, state, target string)
		args    []string
		stderr  string // {state} stands for the state directory
	}{
		{"Symlink", false, func(t *testing.T, state, target string) {
			mustDo(t, os.Symlink(target, state))
		}, []string{"link", "show"}, "ibctl: state directory {state}: is a symlink\n"},
		{"SymlinkForeground", false, func(t *testing.T, state, target string) {
			mustDo(t, os.Symlink(target, state))
		}, []string{"driver", "start", "--foreground"}, "ibctl: driver start: state directory {state}: is a symlink\n"},
		{"Foreign", true, func(t *testing.T, state, target string) {
			mustDo(t, os.Mkdir(state, 0o700), os.Chown(state, nobody, nobody))
		}, []string{"link", "show"}, fmt.Sprintf("ibctl: state directory {state}: owned by uid %d, not %d\n", nobody, os.Geteuid())},
		{"Own0777", false, func(t *testing.T, state, target string) {
			mustDo(t, os.Mkdir(state, 0o777), os.Chmod(state, 0o777))
		}, []string{"link", "show"}, "ibctl: state directory {state}: writable by group or others (mode 0777)\n"},
		{"LockSymlink", false, func(t *testing.T, state, target string) {
			mustDo(t, os.Mkdir(state, 0o700), os.Symlink(filepath.Join(target, "f"), filepath.Join(state, "lock")))
		}, []string{"driver", "start", "--foreground"}, "ibctl: driver start: lock: open {state}/lock: is a symlink\n"},
		{"LogSymlink", false, func(t *testing.T, state, target string) {
			mustDo(t, os.Mkdir(state, 0o700), os.Symlink(filepath.Join(target, "f"), filepath.Join(state, "driver.log")))
		}, []string{"link", "show"}, "ibctl: driver: log: open {state}/driver.log: is a symlink\n"},
		{"StoreSymlink", false, func(t *testing.T, state, target string) {
			mustDo(t, os.Mkdir(state, 0o700), os.Symlink(target, filepath.Join(state, "store")))
		}, []string{"driver", "start", "--foreground"}, "ibctl: driver start: store: directory {state}/store: is a symlink\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root {
				needRoot(t)
			}
			e := newEnv(t)
			target := filepath.Join(t.TempDir(), "target")
			mustDo(t, os.Mkdir(target, 0o755), os.Chmod(target, 0o755),
				os.WriteFile(filepath.Join(target, "f"), []byte("keep\n"), 0o644))
			tc.prepare(t, e.state, target)
			before := treeOf(t, target)
			r := e.run("", tc.args...)
			want := strings.ReplaceAll(tc.stderr, "{state}", e.state)
			if r.code != 1 || r.stdout != "" || r.stderr != want {
				t.Errorf("got %v\nwant exit 1 and stderr %q", r, want)
			}
			if d := e.drivers(); len(d) != 0 {
				t.Errorf("drivers running: %v", d)
			}
			if after := treeOf(t, target); !slices.Equal(after, before) {
				t.Errorf("target changed:\n%s\nwant:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
			}
		})
	}
}

// TestPeerCredentials: a driver run by another user on the socket path is
// refused before any request reaches it, with one line naming the socket
// and the uid serving it.
func TestPeerCredentials(t *testing.T) {
	needRoot(t)
	// The other user's driver, with its own socket and state directories.
	base, err := os.MkdirTemp("", "ibp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	sockDir, state := filepath.Join(base, "s"), filepath.Join(base, "state")
	mustDo(t, os.Chmod(base, 0o755), os.Mkdir(sockDir, 0o700), os.Chown(sockDir, nobody, nobody),
		os.Mkdir(state, 0o700), os.Chown(state, nobody, nobody))
	sock := filepath.Join(sockDir, "s")
	ctx, cancel := context.WithCancel(context.Background())
	other := exec.CommandContext(ctx, ibctlBin, "driver", "start", "--foreground", "--socket", sock, "--state-dir", state)
	other.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	var otherOut bytes.Buffer
	other.Stdout, other.Stderr = &otherOut, &otherOut
	other.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	other.WaitDelay = 5 * time.Second
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = other.Wait()
	})
	// raw reaches the other driver without the peer check.
	raw := func() *netlinkx.Client {
		c, err := net.Dial("unixpacket", sock)
		if err != nil {
			return nil
		}
		return netlinkx.NewClient(c.(*net.UnixConn))
	}
	if !waitFor(20*time.Second, func() bool {
		c := raw()
		if c != nil {
			c.Close()
		}
		return c != nil
	}) {
		t.Fatalf("the other user's driver does not answer at %s:\n%s", sock, otherOut.String())
	}

	// Commands run as root with the other driver's socket.
	e := &env{t: t, sock: sock, state: filepath.Join(t.TempDir(), "state")}
	want := fmt.Sprintf("ibctl: socket %s: served by uid %d, not by root\n", sock, nobody)
	for _, args := range [][]string{
		{"sys", "write", "class/net/ib0/mode", "connected"},
		{"link", "show"},
		{"driver", "status"},
		{"driver", "stop"},
		{"driver", "start"},
	} {
		r := e.run("", args...)
		if r.code != 1 || r.stdout != "" || r.stderr != want {
			t.Errorf("got %v\nwant exit 1 and stderr %q", r, want)
		}
	}
	// Nothing reached it: ib0 is still in datagram mode and it runs on.
	c := raw()
	if c == nil {
		t.Fatal("the other user's driver stopped")
	}
	defer c.Close()
	if mode, err := c.SysRead("class/net/ib0/mode"); err != nil || string(mode) != "datagram\n" {
		t.Errorf("other driver's ib0 mode = %q, %v; want \"datagram\\n\"", mode, err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("stop the other driver: %v", err)
	}
}
