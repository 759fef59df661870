package netlinkx

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDialIsBlocking checks that Dial's connection is a blocking socket
// outside the network poller, and Clone's one of the poller.
func TestDialIsBlocking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bc, ok := c.conn.(*blockingConn)
	if !ok {
		t.Fatalf("Dial's connection is a %T, want *blockingConn", c.conn)
	}
	if fl, err := unix.FcntlInt(bc.f.Fd(), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Errorf("Dial's socket: flags %#x (%v), want blocking", fl, err)
	}
	n, err := c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, ok := n.conn.(*net.UnixConn); !ok {
		t.Errorf("Clone's connection is a %T, want *net.UnixConn", n.conn)
	}
}

// TestBlockingConnErrors checks that the blocking connection fails as
// the net package's does, error text and errno alike: a missing socket,
// one nobody listens on, a peer gone with a request unread (ECONNRESET)
// or gone cleanly (EOF), and a connection closed twice.
func TestBlockingConnErrors(t *testing.T) {
	dir := t.TempDir()
	refused := filepath.Join(dir, "refused")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: refused, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()

	// serve accepts one connection and closes it, after reading one
	// datagram when read is set.
	serve := func(t *testing.T, read bool) string {
		path := filepath.Join(t.TempDir(), "s")
		l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.AcceptUnix()
				if err != nil {
					return
				}
				if read {
					c.Read(make([]byte, 64))
				} else {
					// wait for the datagram, leave it unread
					rc, _ := c.SyscallConn()
					rc.Read(func(fd uintptr) bool {
						_, _, err := unix.Recvfrom(int(fd), make([]byte, 1), unix.MSG_PEEK|unix.MSG_DONTWAIT)
						return err != unix.EAGAIN
					})
				}
				c.Close()
			}
		}()
		return path
	}
	type conn = io.ReadWriteCloser
	tests := []struct {
		name  string
		path  func(t *testing.T) string
		do    func(c conn) error // after a successful dial
		errno error
	}{
		{name: "missing", path: func(*testing.T) string { return filepath.Join(dir, "missing") }, errno: unix.ENOENT},
		{name: "refused", path: func(*testing.T) string { return refused }, errno: unix.ECONNREFUSED},
		{name: "reset", path: func(t *testing.T) string { return serve(t, false) }, do: func(c conn) error {
			if _, err := c.Write([]byte("request")); err != nil {
				return err
			}
			_, err := c.Read(make([]byte, 64))
			return err
		}, errno: unix.ECONNRESET},
		{name: "eof", path: func(t *testing.T) string { return serve(t, true) }, do: func(c conn) error {
			if _, err := c.Write([]byte("request")); err != nil {
				return err
			}
			_, err := c.Read(make([]byte, 64))
			return err
		}, errno: io.EOF},
		{name: "closed twice", path: func(t *testing.T) string { return serve(t, true) }, do: func(c conn) error {
			c.Close()
			return c.Close()
		}, errno: net.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			var msgs [2]string
			for i, dial := range []func(string) (io.ReadWriteCloser, error){dialPolled, dialBlocking} {
				c, err := dial(path)
				if err == nil {
					if tt.do == nil {
						c.Close()
						t.Fatalf("dial %d succeeded", i)
					}
					err = tt.do(c)
					c.Close()
				}
				if !errors.Is(err, tt.errno) {
					t.Fatalf("dial %d: %v, want %v", i, err, tt.errno)
				}
				msgs[i] = err.Error()
			}
			if msgs[0] != msgs[1] {
				t.Errorf("blocking connection: %q, net's: %q", msgs[1], msgs[0])
			}
		})
	}
	_ = os.Remove(refused)
}
