package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// Dir is where named network namespaces are registered (iproute2's
// NETNS_RUN_DIR).
const Dir = "/run/netns"

// ErrNotOurs is the error of a namespace name that is registered and was
// not made by this driver: it is refused, never touched.
var ErrNotOurs = errors.New("exists and was not made by this driver")

// Namespace is a named network namespace.
type Namespace struct {
	Name string
	fd   int // an open handle on the namespace
}

// Path is where the namespace is registered.
func (ns *Namespace) Path() string { return filepath.Join(Dir, ns.Name) }

// Check reports what this machine lacks to give nodes namespaces and
// kernel netdevs: a one-line reason, nil when nothing is missing.
func Check() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces and TUN devices need CAP_SYS_ADMIN and CAP_NET_ADMIN)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return errors.New("/dev/net/tun is missing: this kernel has no TUN devices")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return errors.New("/proc/self/ns/net is missing: this kernel has no network namespaces")
	}
	return nil
}

// Exists reports whether a namespace of that name is registered.
func Exists(name string) bool {
	_, err := os.Lstat(filepath.Join(Dir, name))
	return err == nil
}

// Create makes a new network namespace and registers it under name, as
// `ip netns add` does, with its loopback up. A registered name is
// refused with ErrNotOurs unless reclaim is set, which removes it first
// (what an earlier run of this driver left behind).
func Create(name string, reclaim bool) (*Namespace, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if Exists(name) {
		if !reclaim {
			return nil, fmt.Errorf("network namespace %s: %w", name, ErrNotOurs)
		}
		if err := Remove(name); err != nil {
			return nil, err
		}
	}
	if err := shareDir(); err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", name, err)
	}
	path := filepath.Join(Dir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", name, err)
	}
	f.Close()
	if err := newNetns(path); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("network namespace %s: %w", name, err)
	}
	ns, err := Open(name)
	if err != nil {
		Remove(name)
		return nil, err
	}
	err = ns.loopbackUp()
	if err == nil {
		err = ns.acceptLocal()
	}
	if err != nil {
		ns.Close()
		Remove(name)
		return nil, err
	}
	return ns, nil
}

// acceptLocal lets IPv4 packets whose source is a local address in
// (net.ipv4.conf.all.accept_local): the driver's "fragmentation needed"
// comes from the sender's own address, as the kernel's IPoIB driver sends
// it to itself over loopback, but it enters through the TUN device, where
// such a source is otherwise a martian.
func (ns *Namespace) acceptLocal() error {
	return ns.Do(func() error {
		err := os.WriteFile("/proc/sys/net/ipv4/conf/all/accept_local", []byte("1\n"), 0)
		if err != nil {
			return fmt.Errorf("network namespace %s: accept_local: %w", ns.Name, err)
		}
		return nil
	})
}

// Open opens a registered namespace.
func Open(name string) (*Namespace, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	fd, err := unix.Open(filepath.Join(Dir, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", name, err)
	}
	if fd == 0 {
		// netlink.Config reads NetNS 0 as "the current namespace": a
		// handle that is fd 0 (standard input closed) would put the
		// namespace's sockets in the driver's own.
		nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("network namespace %s: %w", name, err)
		}
		fd = nfd
	}
	return &Namespace{Name: name, fd: fd}, nil
}

// FD is the handle on the namespace, valid until Close.
func (ns *Namespace) FD() int { return ns.fd }

// Close lets the handle go; the namespace stays registered.
func (ns *Namespace) Close() error { return unix.Close(ns.fd) }

// Remove unregisters a namespace, as `ip netns delete` does; it goes away
// with the last process or device that holds it.
func Remove(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	path := filepath.Join(Dir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("network namespace %s: unmount: %w", name, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network namespace %s: %w", name, err)
	}
	return nil
}

// validName refuses names that would leave Dir.
func validName(name string) error {
	if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
		return fmt.Errorf("network namespace %q: invalid name", name)
	}
	return nil
}

// shareDir makes Dir a shared mount point, as iproute2 does, so that a
// namespace registered later is seen by mount namespaces made before.
func shareDir() error {
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err = unix.Mount(Dir, Dir, "none", unix.MS_BIND|unix.MS_REC, ""); err == nil {
			err = unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
		}
	}
	if err != nil {
		return fmt.Errorf("make %s shared: %w", Dir, err)
	}
	return nil
}

// newNetns creates a network namespace on a thread of its own and binds
// it onto path.
func newNetns(path string) error {
	return onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		return nil
	}, func() error {
		if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", path, err)
		}
		return nil
	})
}

// Do runs fn on an OS thread inside the namespace (a socket or a device
// opened there stays there).
func (ns *Namespace) Do(fn func() error) error {
	return onThread(func() error {
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("network namespace %s: setns: %w", ns.Name, err)
		}
		return nil
	}, fn)
}

// onThread runs enter, which moves the calling thread to another network
// namespace, then fn, on a locked OS thread of their own. The thread is
// given back only if it returns to the process's namespace; otherwise it
// ends with its goroutine.
func onThread(enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			runtime.UnlockOSThread()
			return
		}
		defer unix.Close(orig)
		if err := enter(); err != nil {
			errc <- err
			runtime.UnlockOSThread()
			return
		}
		err = fn()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
