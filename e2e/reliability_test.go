package e2e

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fillUnread sends `link show` dump requests on c without reading a reply
// until the driver stops taking them: c's send buffer is full because the
// driver no longer reads, as it is blocked writing replies nobody reads
// (the requests still queued bring far more replies than the socket
// buffers hold). It returns how many requests it sent.
func fillUnread(t *testing.T, c *net.UnixConn) int {
	t.Helper()
	const (
		rtmGetlink = 18
		request    = 0x1
		dump       = 0x300
	)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; ; n++ {
		req := append(nlmsghdr(32, rtmGetlink, request|dump, uint32(n+1), 0), make([]byte, 16)...)
		var werr error
		// The descriptor is non-blocking: a full send buffer is EAGAIN.
		if err := rc.Write(func(fd uintptr) bool {
			_, werr = unix.Write(int(fd), req)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if errors.Is(werr, unix.EAGAIN) {
			return n
		}
		if werr != nil {
			t.Fatalf("request %d: %v", n+1, werr)
		}
	}
}

// TestStopWithNonReadingClient: a client that sends requests and never
// reads a reply does not keep `driver stop` or SIGTERM from stopping the
// driver promptly (the stopping driver drops replies its clients do not
// read), and the next command starts a new driver.
func TestStopWithNonReadingClient(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(e *env, pid int)
	}{
		{"DriverStop", func(e *env, pid int) {
			if r := e.run("", "driver", "stop"); r.code != 0 || r.stdout != "" || r.stderr != "" {
				e.t.Errorf("%v", r)
			}
		}},
		{"SIGTERM", func(e *env, pid int) {
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				e.t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.ok("link", "show")
			pid := e.driverPID()
			c, err := net.Dial("unixpacket", e.sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			n := fillUnread(t, c.(*net.UnixConn))
			start := time.Now()
			tc.stop(e, pid)
			if !waitGone(pid, 10*time.Second) {
				t.Fatalf("driver %d still running %v after stop (%d unread requests)", pid, time.Since(start).Round(time.Millisecond), n)
			}
			t.Logf("driver gone %v after stop with %d requests sent and no reply read", time.Since(start).Round(time.Millisecond), n)
			if r := e.run("", "link", "show"); r.code != 0 {
				t.Errorf("first command after stop: %v", r)
			}
			if got := e.driverPID(); got == pid {
				t.Errorf("driver pid %d after stop, want a new one", got)
			}
		})
	}
}
