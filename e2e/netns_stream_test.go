package e2e

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// inNetns runs fn on a thread that is in the named namespace, for the
// sockets fn creates to be that namespace's.
func inNetns(t *testing.T, name string, fn func() error) error {
	t.Helper()
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + name)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", name, err)
	}
	ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// the thread stays locked, and goes when the goroutine ends
		t.Errorf("setns back: %v", err)
		return ferr
	}
	runtime.UnlockOSThread()
	return ferr
}

// A TCP stream of known bytes between two node namespaces arrives
// intact in both modes: the large packets the driver reads from a TUN
// travel in its read buffers, reused once their sends complete, and a
// buffer reused too early would corrupt the stream.
func TestNetnsStreamIntact(t *testing.T) {
	needNetns(t)
	const size = 48 << 20
	for _, c := range []struct {
		mode string
		mtu  int
	}{{"datagram", 2044}, {"connected", 65520}} {
		t.Run(c.mode, func(t *testing.T) {
			e := newNetnsEnv(t, []bool{true, true}, `[{"pkey":"0xffff","all":"full"}]`)
			for i := range e.nodes {
				e.ok("-n", e.nodes[i], "sys", "write", "class/net/ib0/mode", c.mode)
				e.ok("-n", e.nodes[i], "link", "set", "ib0", "mtu", fmt.Sprint(c.mtu))
				e.up(i, "ib0", fmt.Sprintf("10.1.0.%d/24", i+1))
			}
			var ln net.Listener
			if err := inNetns(t, e.ns(1), func() (err error) {
				ln, err = net.Listen("tcp4", "10.1.0.2:5302")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan [32]byte, 1)
			errc := make(chan error, 2)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					errc <- err
					return
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(2 * time.Minute))
				h := sha256.New()
				n, err := io.Copy(h, conn)
				if err != nil || n != size {
					errc <- fmt.Errorf("received %d bytes, want %d: %v", n, size, err)
					return
				}
				got <- [32]byte(h.Sum(nil))
			}()
			data := make([]byte, size)
			rnd := rand.NewChaCha8([32]byte{7})
			rnd.Read(data)
			want := sha256.Sum256(data)
			var conn net.Conn
			if err := inNetns(t, e.ns(0), func() (err error) {
				d := net.Dialer{Timeout: 10 * time.Second}
				conn, err = d.Dial("tcp4", "10.1.0.2:5302")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(2 * time.Minute))
			if _, err := conn.Write(data); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			select {
			case sum := <-got:
				if sum != want {
					t.Errorf("received sha256 %x, sent %x", sum, want)
				}
			case err := <-errc:
				t.Fatal(err)
			}
		})
	}
}
