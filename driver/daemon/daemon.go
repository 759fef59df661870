// Package daemon runs the emulated driver as a service: it takes the state
// directory's lock, restores the driver from its store and serves the
// netlinkx protocol on a unix socket until asked to stop.
// It composes the driver with its front ends (backend.go: the protocol's
// nodes with their sysfs files). It may import the driver and what the
// driver is built from, netlinkx, sysfs and internal/privdir.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/store"
	"github.com/ibctl/ibctl/internal/privdir"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// ErrRunning is returned when another driver holds the state directory.
var ErrRunning = errors.New("another driver is running with this state directory")

// Options configure the service.
type Options struct {
	Socket   string
	StateDir string
	Topology *fabric.Topology
	Params   map[string]int
	// Recover starts from the intact part of a damaged journal, saving a
	// copy of it in the store directory (see store.Options.Recover).
	Recover bool
	// Netns gives every node a network namespace with its interfaces as
	// kernel netdevs (driver.Options.Netns).
	Netns bool
	// Log receives the driver's kernel-style messages (one line each).
	Log func(string)
	// Ready is called once the socket accepts connections.
	Ready func()
}

// Run serves until ctx ends, SIGTERM/SIGINT arrives or a client sends stop.
func Run(ctx context.Context, opts Options) error {
	if err := privdir.State(opts.StateDir); err != nil {
		return err
	}
	lock, err := privdir.OpenFile(filepath.Join(opts.StateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return ErrRunning
		}
		return fmt.Errorf("lock: %w", err)
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string) {}
	}
	st, err := store.OpenOptions(filepath.Join(opts.StateDir, "store"), store.Options{Recover: opts.Recover, Log: logf,
		Dict: driver.StoreDict()})
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := driver.New(driver.Options{Topology: opts.Topology, Store: st, Params: opts.Params, Log: opts.Log,
		KernelRelease: kernelRelease(), Netns: opts.Netns})
	if err != nil {
		return err
	}
	defer d.Close()
	d.SetStatus(netlinkx.Status{Socket: opts.Socket, StateDir: opts.StateDir})
	l, err := Listen(opts.Socket)
	if err != nil {
		return err
	}
	if err := lock.Truncate(0); err == nil {
		_, _ = lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	srv := netlinkx.NewServer(Backend(d))
	srv.Log = opts.Log
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	if opts.Ready != nil {
		opts.Ready()
	}
	// The driver's periodic work: the stale passive connection scan and
	// the neighbour garbage collection.
	reap := time.NewTicker(driver.StaleScanInterval)
	neigh := time.NewTicker(driver.NeighReapInterval)
	stopReap := make(chan struct{})
	defer func() { reap.Stop(); neigh.Stop(); close(stopReap) }()
	go func() {
		for {
			select {
			case <-reap.C:
				d.ReapStaleConnections()
			case <-neigh.C:
				d.ReapNeighbours()
			case <-stopReap:
				return
			}
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	select {
	case <-ctx.Done():
	case <-sig:
	case <-d.Done():
	case err := <-done:
		return err
	}
	os.Remove(opts.Socket)
	l.Close()
	srv.CloseConns()
	return <-done
}

// Listen creates the socket (mode 0600) in its private directory (see
// privdir.Socket), replacing a stale socket file. Callers hold the state
// lock, so no live driver owns it.
func Listen(path string) (*net.UnixListener, error) {
	if err := privdir.Socket(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("socket %s: exists and is not a socket", path)
		}
		os.Remove(path)
	}
	old := unix.Umask(0o177)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	return l, nil
}

// kernelRelease is the running kernel's release, which the ethtool core
// reports as the driver version.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return strings.TrimRight(string(u.Release[:]), "\x00")
}
