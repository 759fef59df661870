package netlinkx

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// isLong reports whether m asks for a request that runs for a while (a
// perf stream), during which the server watches for its client's hangup.
func isLong(m netlink.Message) bool {
	if m.Header.Type != wire.FamilyIbctl {
		return false
	}
	cmd, _, err := wire.ParseGenl(m.Data)
	return err == nil && cmd == wire.CmdPerf
}

// watchHangup returns a context that is cancelled when the peer of c
// hangs up, or the reading side of c is shut down (a stopping server),
// and a function that stops watching; it must be called before c is read
// again. A request the client sends meanwhile ends the watch without
// being consumed, and cancels the context when onRequest is set (the
// client's way to end a capture stream).
func watchHangup(c *net.UnixConn, onRequest bool) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := c.SyscallConn()
	if err != nil {
		return ctx, cancel
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var b [1]byte
		gone := false
		err := rc.Read(func(fd uintptr) bool {
			n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			switch {
			case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
				return false // nothing yet: wait until readable
			case err != nil || n == 0:
				gone = true // end of file or a broken connection
			default:
				gone = onRequest
			}
			return true
		})
		if gone || err != nil && !isTimeout(err) {
			cancel()
		}
	}()
	return ctx, func() {
		_ = c.SetReadDeadline(time.Now())
		<-done
		_ = c.SetReadDeadline(time.Time{})
		cancel()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
