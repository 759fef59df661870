package privdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nobody is the uid of another user's directories.
const nobody = 65534

// setup prepares the directory under test in a fresh parent and returns it.
type setup func(t *testing.T, parent string) string

func mkdir(mode os.FileMode, uid int) setup {
	return func(t *testing.T, parent string) string {
		d := filepath.Join(parent, "d")
		if err := os.Mkdir(d, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		if uid >= 0 {
			if err := os.Chown(d, uid, -1); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
}

func missing(t *testing.T, parent string) string { return filepath.Join(parent, "a", "d") }

func symlinkToOwn(t *testing.T, parent string) string {
	target := filepath.Join(parent, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o755); err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(parent, "d")
	if err := os.Symlink(target, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func regularFile(t *testing.T, parent string) string {
	d := filepath.Join(parent, "d")
	if err := os.WriteFile(d, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

// parentMode gives the parent mode and then runs s.
func parentMode(mode os.FileMode, s setup) setup {
	return func(t *testing.T, parent string) string {
		if err := os.Chmod(parent, mode); err != nil {
			t.Fatal(err)
		}
		return s(t, parent)
	}
}

type dirCase struct {
	name   string
	root   bool // needs root (chown to another uid)
	setup  setup
	reason string // "" when accepted; {parent} stands for the parent

	mode os.FileMode
}

func runCases(t *testing.T, what string, fn func(string) error, cases []dirCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 {
				t.Skip("needs root to create a directory owned by another uid")
			}
			parent := t.TempDir()
			dir := tc.setup(t, parent)
			err := fn(dir)
			if tc.reason != "" {
				want := fmt.Sprintf("%s %s: %s", what, dir, strings.ReplaceAll(tc.reason, "{parent}", parent))
				var pe *Error
				if err == nil || err.Error() != want || !errors.As(err, &pe) {
					t.Fatalf("err = %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			fi, err := os.Lstat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != os.ModeDir|tc.mode {
				t.Errorf("mode %v, want %v", fi.Mode(), os.ModeDir|tc.mode)
			}
		})
	}
}

func TestSocket(t *testing.T) {
	uid := os.Geteuid()
	runCases(t, "socket directory", Socket, []dirCase{
		{name: "Missing", setup: missing, mode: 0o700},
		{name: "Own0700", setup: mkdir(0o700, -1), mode: 0o700},
		{name: "Own0755", setup: mkdir(0o755, -1), reason: "mode 0755, not 0700"},
		{name: "Own0701", setup: mkdir(0o701, -1), reason: "mode 0701, not 0700"},
		{name: "Foreign0777", root: true, setup: mkdir(0o777, nobody), reason: fmt.Sprintf("owned by uid %d, not %d", nobody, uid)},
		{name: "Foreign0700", root: true, setup: mkdir(0o700, nobody), reason: fmt.Sprintf("owned by uid %d, not %d", nobody, uid)},
		{name: "Symlink", setup: symlinkToOwn, reason: "is a symlink"},
		{name: "File", setup: regularFile, reason: "not a directory"},
		{name: "ParentSticky", setup: parentMode(os.ModeSticky|0o777, mkdir(0o700, -1)), mode: 0o700},
		{name: "ParentWorldWritable", setup: parentMode(0o777, mkdir(0o700, -1)),
			reason: "parent {parent} is writable by group or others (mode 0777) and not sticky"},
	})
}

func TestState(t *testing.T) {
	uid := os.Geteuid()
	runCases(t, "state directory", State, []dirCase{
		{name: "Missing", setup: missing, mode: 0o700},
		{name: "Own0700", setup: mkdir(0o700, -1), mode: 0o700},
		{name: "Own0755", setup: mkdir(0o755, -1), mode: 0o700},
		{name: "Own0775", setup: mkdir(0o775, -1), reason: "writable by group or others (mode 0775)"},
		{name: "Own0757", setup: mkdir(0o757, -1), reason: "writable by group or others (mode 0757)"},
		{name: "Foreign0700", root: true, setup: mkdir(0o700, nobody), reason: fmt.Sprintf("owned by uid %d, not %d", nobody, uid)},
		{name: "Symlink", setup: symlinkToOwn, reason: "is a symlink"},
		{name: "File", setup: regularFile, reason: "not a directory"},
	})
}

// TestStateSymlinkTargetUntouched: a refused symlink's target keeps its
// mode.
func TestStateSymlinkTargetUntouched(t *testing.T) {
	parent := t.TempDir()
	dir := symlinkToOwn(t, parent)
	if err := State(dir); err == nil {
		t.Fatal("symlinked state directory accepted")
	}
	fi, err := os.Stat(filepath.Join(parent, "target"))
	if err != nil || fi.Mode() != os.ModeDir|0o755 {
		t.Errorf("target: %v, %v; want mode %v", fi.Mode(), err, os.ModeDir|0o755)
	}
}
