// Package privdir creates and checks the driver's private directories, as
// OpenSSH's agent and tmux guard their socket directories: the directory
// must be a real directory (not a symlink), owned by the effective user and
// closed to everyone else, or it is refused with the reason.
// It also knows where they are by default. It imports no package of this
// module.
package privdir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Error is a refused directory: "socket directory /tmp/ibctl-1000: owned
// by uid 0, not 1000".
type Error struct {
	What   string // "socket directory", "state directory"
	Path   string
	Reason string
	Err    error // the system error, when there is one
}

func (e *Error) Error() string { return e.What + " " + e.Path + ": " + e.Reason }

// Unwrap returns the system error behind the refusal, if any.
func (e *Error) Unwrap() error { return e.Err }

// Socket makes sure dir, the directory of the driver's socket, exists and
// is private: created with mode 0700 when missing, else a directory (not a
// symlink) owned by the effective user with mode exactly 0700. Its parent
// may be writable by others only when it is sticky (like /tmp).
func Socket(dir string) error {
	const what = "socket directory"
	created, err := makeDir(what, dir)
	if err != nil {
		return err
	}
	if err := checkParent(what, dir); err != nil {
		return err
	}
	return check(what, dir, func(perm fs.FileMode) string {
		if perm != 0o700 {
			return fmt.Sprintf("mode %04o, not 0700", perm)
		}
		return ""
	}, created, created)
}

// State makes sure dir, a state directory, exists and is private: created
// with mode 0700 when missing, else a directory (not a symlink) owned by
// the effective user and not writable by group or others. Its mode is then
// set to 0700 (through the opened directory, never through a symlink).
func State(dir string) error {
	return StateNamed("state directory", dir)
}

// StateNamed is State with what naming the directory in errors.
func StateNamed(what, dir string) error {
	created, err := makeDir(what, dir)
	if err != nil {
		return err
	}
	return check(what, dir, func(perm fs.FileMode) string {
		if perm&0o022 != 0 {
			return fmt.Sprintf("writable by group or others (mode %04o)", perm)
		}
		return ""
	}, created, true)
}

// makeDir creates dir with mode 0700 (whatever the umask) when it does
// not exist, and its missing parents; created says whether it did.
func makeDir(what, dir string) (created bool, err error) {
	if _, err := os.Lstat(dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return false, nil // check reports what is wrong with it
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return false, &Error{What: what, Path: dir, Reason: "create parent: " + reason(err), Err: err}
	}
	if err := unix.Mkdir(dir, 0o700); err != nil {
		if err == unix.EEXIST {
			return false, nil
		}
		return false, &Error{What: what, Path: dir, Reason: "create: " + reason(err), Err: err}
	}
	return true, nil
}

// check opens dir without following a symlink and checks the open
// directory: its type, owner and mode (bad returns why a mode is refused;
// the mode of a directory just created is not checked). With chmod the
// mode is then set to 0700.
func check(what, dir string, bad func(fs.FileMode) string, created, chmod bool) error {
	refuse := func(format string, args ...any) error {
		return &Error{What: what, Path: dir, Reason: fmt.Sprintf(format, args...)}
	}
	var lst unix.Stat_t
	if err := unix.Lstat(dir, &lst); err != nil {
		return &Error{What: what, Path: dir, Reason: reason(err), Err: err}
	}
	if lst.Mode&unix.S_IFMT == unix.S_IFLNK {
		return refuse("is a symlink")
	}
	if lst.Mode&unix.S_IFMT != unix.S_IFDIR {
		return refuse("not a directory")
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ELOOP {
			return refuse("is a symlink")
		}
		return &Error{What: what, Path: dir, Reason: reason(err), Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &Error{What: what, Path: dir, Reason: reason(err), Err: err}
	}
	if st.Dev != lst.Dev || st.Ino != lst.Ino {
		return refuse("replaced while being checked")
	}
	if euid := uint32(os.Geteuid()); st.Uid != euid {
		return refuse("owned by uid %d, not %d", st.Uid, euid)
	}
	if why := bad(fs.FileMode(st.Mode & 0o7777)); why != "" && !created {
		return refuse("%s", why)
	}
	if chmod && st.Mode&0o7777 != 0o700 {
		if err := unix.Fchmod(fd, 0o700); err != nil {
			return &Error{What: what, Path: dir, Reason: "chmod: " + reason(err), Err: err}
		}
	}
	return nil
}

// checkParent refuses a parent of dir that others may write to without the
// sticky bit: they could rename dir away and put their own in its place.
func checkParent(what, dir string) error {
	parent := filepath.Dir(dir)
	var st unix.Stat_t
	if err := unix.Stat(parent, &st); err != nil {
		return &Error{What: what, Path: dir, Reason: "parent " + parent + ": " + reason(err), Err: err}
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return &Error{What: what, Path: dir,
			Reason: fmt.Sprintf("parent %s is writable by group or others (mode %04o) and not sticky", parent, st.Mode&0o7777)}
	}
	return nil
}

// reason is the system error's text without the path os adds.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err.Error()
}

// ErrSymlink is the reason a file is refused by OpenFile.
var ErrSymlink = errors.New("is a symlink")

// OpenFile is os.OpenFile that never follows a symlink at name: a symlink
// there fails with ErrSymlink (in an *fs.PathError).
func OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag|unix.O_NOFOLLOW, perm)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Err == unix.ELOOP {
			return nil, &fs.PathError{Op: "open", Path: name, Err: ErrSymlink}
		}
		return nil, err
	}
	return f, nil
}

// ReadFile is os.ReadFile through OpenFile.
func ReadFile(name string) ([]byte, error) {
	f, err := OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// DefaultSocket is $IBCTL_SOCKET, else ibctl/ibctl.sock under
// $XDG_RUNTIME_DIR, /run/ibctl/ibctl.sock for root, or a per-user
// directory under the system temp dir.
func DefaultSocket() string {
	if s := os.Getenv("IBCTL_SOCKET"); s != "" {
		return s
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "ibctl", "ibctl.sock")
	}
	if os.Geteuid() == 0 {
		return "/run/ibctl/ibctl.sock"
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("ibctl-%d", os.Geteuid()), "ibctl.sock")
}

// DefaultStateDir is $IBCTL_STATE_DIR, else /var/lib/ibctl for root, else
// ibctl under $XDG_STATE_HOME (~/.local/state).
func DefaultStateDir() string {
	if s := os.Getenv("IBCTL_STATE_DIR"); s != "" {
		return s
	}
	if os.Geteuid() == 0 {
		return "/var/lib/ibctl"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "ibctl")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "ibctl")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("ibctl-%d", os.Geteuid()), "state")
}
