package sysfsfuse

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/mdlayher/netlink"
)

// fake is a driver's sysfs tree: create_child adds a child, delete_child
// removes it, and any other value is refused with EINVAL as the driver's
// store refuses it, wrapped as the client wraps errnos.
type fake struct {
	mu     sync.Mutex
	dirs   map[string][]netlinkx.SysEntry
	files  map[string]string
	writes []string
	lists  map[string]int // SysList calls per path
}

func newFake() *fake {
	return &fake{
		dirs: map[string][]netlinkx.SysEntry{
			"class/net": {{Name: "ib0", Mode: netlinkx.SysDir | 0o755}},
			"class/net/ib0": {
				{Name: "create_child", Mode: 0o200},
				{Name: "mode", Mode: 0o644},
				{Name: "pkey", Mode: 0o444},
			},
		},
		files: map[string]string{"class/net/ib0/mode": "datagram\n", "class/net/ib0/pkey": "0xffff\n"},
	}
}

// written is what reached the driver's stores, in order.
func (f *fake) written() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes)
}

func driverErr(e syscall.Errno) error { return &netlink.OpError{Op: "receive", Err: e} }

func (f *fake) SysList(p string) ([]netlinkx.SysEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lists == nil {
		f.lists = map[string]int{}
	}
	f.lists[p]++
	if e, ok := f.dirs[p]; ok {
		return slices.Clone(e), nil
	}
	parent, name := path.Split(p)
	for _, e := range f.dirs[strings.TrimSuffix(parent, "/")] {
		if e.Name == name {
			return nil, driverErr(syscall.ENOTDIR)
		}
	}
	return nil, driverErr(syscall.ENOENT)
}

func (f *fake) SysRead(p string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.dirs[p]; ok {
		return nil, driverErr(syscall.EISDIR)
	}
	parent, name := path.Split(p)
	for _, e := range f.dirs[strings.TrimSuffix(parent, "/")] {
		if e.Name == name && e.Mode&0o444 == 0 {
			return nil, driverErr(syscall.EACCES)
		}
		if e.Name == name {
			return []byte(f.files[p]), nil
		}
	}
	return nil, driverErr(syscall.ENOENT)
}

func (f *fake) SysWrite(p string, data []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, p+"="+string(data))
	switch {
	case p == "class/net/ib0/create_child" && string(data) == "0x8001\n":
		f.dirs["class/net"] = append(f.dirs["class/net"], netlinkx.SysEntry{Name: "ib0.8001", Mode: netlinkx.SysDir | 0o755})
		f.dirs["class/net/ib0.8001"] = []netlinkx.SysEntry{{Name: "pkey", Mode: 0o444}}
		f.files["class/net/ib0.8001/pkey"] = "0x8001\n"
		return len(data), nil
	case p == "class/net/ib0/mode" && string(data) == "connected\n":
		f.files[p] = "connected\n"
		return len(data), nil
	}
	return 0, driverErr(syscall.EINVAL)
}

// mount serves b under prefix (passing through under, when not empty)
// on a fresh directory, unmounted at the end of the test.
func mount(t *testing.T, b Backend, o Options) string {
	t.Helper()
	dir := t.TempDir()
	mountAt(t, dir, b, o)
	return dir
}

// mountAt is mount on dir.
func mountAt(t *testing.T, dir string, b Backend, o Options) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting FUSE with mount(2) needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no FUSE device: %v", err)
	}
	srv, err := Mount(dir, b, o)
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("Unmount: %v", err)
		}
	})
}

// names lists dir as ls -p does.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.Type()&os.ModeSymlink != 0:
			n += "@"
		case e.IsDir():
			n += "/"
		}
		out = append(out, n)
	}
	return out
}

func TestReadAndList(t *testing.T) {
	dir := mount(t, newFake(), Options{Prefix: "class/net"})
	tests := []struct {
		path string
		want string
		err  error
	}{
		{"ib0/mode", "datagram\n", nil},
		{"ib0/pkey", "0xffff\n", nil},
		{"ib0/create_child", "", syscall.EACCES}, // write-only, as in kernfs
		{"ib0/absent", "", syscall.ENOENT},
		{"ib1/mode", "", syscall.ENOENT},
	}
	for _, tt := range tests {
		got, err := os.ReadFile(filepath.Join(dir, tt.path))
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) || string(got) != tt.want {
			t.Errorf("read %s = %q, %v; want %q, %v", tt.path, got, err, tt.want, tt.err)
		}
	}
	if diff := cmp.Diff([]string{"ib0/"}, names(t, dir)); diff != "" {
		t.Errorf("ls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"create_child", "mode", "pkey"}, names(t, filepath.Join(dir, "ib0"))); diff != "" {
		t.Errorf("ls ib0 (-want +got):\n%s", diff)
	}
	if st, err := os.Stat(filepath.Join(dir, "ib0/create_child")); err != nil || st.Mode() != 0o200 {
		t.Errorf("stat create_child = %v; want mode --w-------", err)
	}
}

func TestWrite(t *testing.T) {
	f := newFake()
	dir := mount(t, f, Options{Prefix: "class/net"})
	tests := []struct {
		path, data string
		err        error
	}{
		{"ib0/create_child", "0x8001\n", nil},
		{"ib0/create_child", "0x10000\n", syscall.EINVAL}, // the driver's errno
		{"ib0/mode", "connected\n", nil},
		{"ib0/pkey", "0x8002\n", syscall.EACCES}, // read-only: refused at open
		{"ib0/new", "1\n", syscall.EACCES},       // sysfs has no create
	}
	for _, tt := range tests {
		// As a shell's `echo DATA > FILE`: create, truncate, one write.
		fh, err := os.OpenFile(filepath.Join(dir, tt.path), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err == nil {
			_, err = fh.Write([]byte(tt.data))
			fh.Close()
		}
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("echo %q > %s: %v; want %v", tt.data, tt.path, err, tt.err)
		}
	}
	want := []string{"class/net/ib0/create_child=0x8001\n", "class/net/ib0/create_child=0x10000\n", "class/net/ib0/mode=connected\n"}
	if diff := cmp.Diff(want, f.written()); diff != "" {
		t.Errorf("writes reaching the driver (-want +got):\n%s", diff)
	}
	// Nothing is cached: the new child is listed and read at once.
	if diff := cmp.Diff([]string{"ib0/", "ib0.8001/"}, names(t, dir)); diff != "" {
		t.Errorf("ls after create_child (-want +got):\n%s", diff)
	}
	for p, want := range map[string]string{"ib0.8001/pkey": "0x8001\n", "ib0/mode": "connected\n"} {
		if got, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(got) != want {
			t.Errorf("read %s = %q, %v; want %q", p, got, err, want)
		}
	}
	for _, op := range []struct {
		name string
		err  error
		want error
	}{
		{"mkdir", os.Mkdir(filepath.Join(dir, "x"), 0o755), syscall.EPERM},
		{"rm", os.Remove(filepath.Join(dir, "ib0/mode")), syscall.EPERM},
	} {
		if !errors.Is(op.err, op.want) {
			t.Errorf("%s: %v; want %v", op.name, op.err, op.want)
		}
	}
}

// TestBashWriteError checks what a script sees: bash's own message for
// the driver's EINVAL, and exit status 1.
func TestBashWriteError(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := mount(t, newFake(), Options{Prefix: "class/net"})
	script := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(script, []byte("echo 0x8001 > "+dir+"/ib0/create_child || exit 9\necho bad > "+dir+"/ib0/create_child\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("bash: %v; want exit status 1", err)
	}
	if want := script + ": line 2: echo: write error: Invalid argument\n"; stderr.String() != want {
		t.Errorf("stderr = %q; want %q", stderr.String(), want)
	}
}

// TestPassThrough checks that entries of the real directory the driver
// lacks are shown as they are (lo as its symbolic link), and that the
// driver's entries hide real ones of the same name.
func TestPassThrough(t *testing.T) {
	real := t.TempDir()
	for _, l := range []struct{ name, target string }{
		{"lo", "../../devices/virtual/net/lo"},
		{"ib0", "../../devices/virtual/net/ib0"},
	} {
		if err := os.Symlink(l.target, filepath.Join(real, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(real, "bridge/parameters"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(real, "bridge/parameters/x"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := mount(t, newFake(), Options{Prefix: "class/net", Under: real})
	if diff := cmp.Diff([]string{"bridge/", "ib0/", "lo@"}, names(t, dir)); diff != "" {
		t.Errorf("ls (-want +got):\n%s", diff)
	}
	if got, err := os.Readlink(filepath.Join(dir, "lo")); err != nil || got != "../../devices/virtual/net/lo" {
		t.Errorf("readlink lo = %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "bridge/parameters/x")); err != nil || string(got) != "1\n" {
		t.Errorf("read bridge/parameters/x = %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "ib0/mode")); err != nil || string(got) != "datagram\n" {
		t.Errorf("read ib0/mode = %q, %v; want the driver's", got, err)
	}
}

// TestRereadFromStart checks what programs that poll sysfs rely on: a
// file kept open and read again from offset 0 shows the current value,
// as seq_file shows it again, not a cached page.
func TestRereadFromStart(t *testing.T) {
	f := newFake()
	dir := mount(t, f, Options{Prefix: "class/net"})
	fh, err := os.Open(filepath.Join(dir, "ib0/mode"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	buf := make([]byte, 64)
	for _, step := range []struct{ write, want string }{
		{"", "datagram\n"},
		{"connected\n", "connected\n"},
	} {
		if step.write != "" { // changed in the driver, not through the mount
			f.mu.Lock()
			f.files["class/net/ib0/mode"] = step.write
			f.mu.Unlock()
		}
		n, err := fh.ReadAt(buf, 0)
		if got := string(buf[:n]); got != step.want || (err != nil && err != io.EOF) {
			t.Errorf("pread at 0 = %q, %v; want %q", got, err, step.want)
		}
	}
}

// TestLookupListsNoParent checks that ls -l of a directory of 1024
// children (directories or files) lists that directory once, not once
// per child nor once per path walk through it.
func TestLookupListsNoParent(t *testing.T) {
	for _, tt := range []struct {
		name string
		dir  string // listed
		add  func(f *fake, name string)
	}{
		{"directories", "class/net", func(f *fake, name string) {
			f.dirs["class/net"] = append(f.dirs["class/net"], netlinkx.SysEntry{Name: name, Mode: netlinkx.SysDir | 0o755})
			f.dirs["class/net/"+name] = []netlinkx.SysEntry{{Name: "pkey", Mode: 0o444}}
		}},
		{"files", "class/net/ib0", func(f *fake, name string) {
			f.dirs["class/net/ib0"] = append(f.dirs["class/net/ib0"], netlinkx.SysEntry{Name: name, Mode: 0o444})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			for i := 1; i <= 1024; i++ {
				tt.add(f, fmt.Sprintf("ib0.%04x", i))
			}
			dir := filepath.Join(mount(t, f, Options{Prefix: "class/net"}), strings.TrimPrefix(tt.dir, "class/net"))
			got := names(t, dir)
			if len(got) < 1024 {
				t.Fatalf("ls: %d entries", len(got))
			}
			for _, n := range got {
				if _, err := os.Lstat(filepath.Join(dir, strings.TrimSuffix(n, "/"))); err != nil {
					t.Fatal(err)
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if n := f.lists[tt.dir]; n != 1 {
				t.Errorf("%s listed %d times; want 1", tt.dir, n)
			}
		})
	}
}

// With LinkTo, the backend's devices at the root are symbolic links, as
// in a sysfs class directory (/sys/class/net/ib0 ->
// ../../devices/virtual/net/ib0), beside the passed-through entries;
// followed into a mount of the same tree at the target, they reach the
// driver's files. Below the root nothing is a link.
func TestLinkTo(t *testing.T) {
	real := t.TempDir()
	if err := os.Symlink("../../devices/virtual/net/lo", filepath.Join(real, "lo")); err != nil {
		t.Fatal(err)
	}
	sys := t.TempDir()
	devices := filepath.Join(sys, "devices/virtual/net")
	class := filepath.Join(sys, "class/net")
	for _, d := range []string{devices, class} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := newFake()
	mountAt(t, devices, b, Options{Prefix: "class/net"})
	mountAt(t, class, b, Options{Prefix: "class/net", Under: real, LinkTo: "../../devices/virtual/net"})
	if diff := cmp.Diff([]string{"ib0@", "lo@"}, names(t, class)); diff != "" {
		t.Errorf("ls class/net (-want +got):\n%s", diff)
	}
	for name, want := range map[string]string{"ib0": "../../devices/virtual/net/ib0", "lo": "../../devices/virtual/net/lo"} {
		if got, err := os.Readlink(filepath.Join(class, name)); err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", name, got, err, want)
		}
	}
	if st, err := os.Lstat(filepath.Join(class, "ib0")); err != nil || st.Mode() != os.ModeSymlink|0o777 {
		t.Errorf("lstat ib0: %v, %v; want lrwxrwxrwx", st.Mode(), err)
	}
	if got, err := os.ReadFile(filepath.Join(class, "ib0/mode")); err != nil || string(got) != "datagram\n" {
		t.Errorf("read class/net/ib0/mode = %q, %v; want the driver's through the link", got, err)
	}
	if diff := cmp.Diff([]string{"create_child", "mode", "pkey"}, names(t, filepath.Join(class, "ib0"))); diff != "" {
		t.Errorf("ls class/net/ib0/ (-want +got):\n%s", diff)
	}
}
