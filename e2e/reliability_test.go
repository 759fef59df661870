package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
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

// TestAcceptOutOfFiles: a driver out of file descriptors backs off and
// keeps serving once descriptors are free again, logging the failure once.
func TestAcceptOutOfFiles(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd, _, _ := e.command(ctx, "", "driver", "start", "--foreground", "--socket", e.sock, "--state-dir", e.state)
	cmd.Stderr = nil
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var logged []string
	// next is the driver's next log line; false once it exited.
	next := func() (string, bool) {
		select {
		case l, ok := <-lines:
			if ok {
				logged = append(logged, l)
			}
			return l, ok
		case <-time.After(20 * time.Second):
			t.Fatalf("driver silent for 20s; its log:\n%s", strings.Join(logged, "\n"))
			return "", false
		}
	}
	pid := cmd.Process.Pid
	if !waitFor(20*time.Second, func() bool {
		c, err := net.Dial("unixpacket", e.sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("driver does not answer at %s", e.sock)
	}
	e.ok("link", "show")

	// Leave the driver two descriptors and connect more clients than that.
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var lim unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = uint64(len(fds) + 2)
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 6 {
		c, err := net.Dial("unixpacket", e.sock)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	const want = "accept: too many open files; retrying"
	for {
		l, ok := next()
		if !ok {
			t.Fatalf("driver exited; its log:\n%s", strings.Join(logged, "\n"))
		}
		if strings.HasSuffix(l, " "+want) {
			break
		}
	}
	// Free the descriptors: the driver serves new clients again.
	for _, c := range conns {
		c.Close()
	}
	for range 3 {
		e.ok("link", "show")
	}
	if got := e.driverPID(); got != pid {
		t.Errorf("driver pid %d, want %d", got, pid)
	}
	e.ok("driver", "stop")
	for {
		if _, ok := next(); !ok {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("driver: %v; its log:\n%s", err, strings.Join(logged, "\n"))
	}
	n := 0
	for _, l := range logged {
		if strings.Contains(l, "accept") {
			n++
		}
	}
	t.Logf("driver log:\n%s", strings.Join(logged, "\n"))
	if n != 1 {
		t.Errorf("%d lines about accept in the driver log, want 1:\n%s", n, strings.Join(logged, "\n"))
	}
}
