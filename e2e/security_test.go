package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// nobody is the uid (and gid) of another user in these tests.
const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create files owned by another uid")
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
