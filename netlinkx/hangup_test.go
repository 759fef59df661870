package netlinkx

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// perfNode runs perf streams that last until their context is done, or
// for DurationMs.
type perfNode struct {
	*fakeNode
	started chan struct{}
	ended   chan error
}

func (p *perfNode) PerfContext(ctx context.Context, r PerfRequest) (PerfReply, error) {
	p.started <- struct{}{}
	select {
	case <-ctx.Done():
		p.ended <- ctx.Err()
		return PerfReply{}, withMsg(unix.ECANCELED, "client went away")
	case <-time.After(time.Duration(r.DurationMs) * time.Millisecond):
		p.ended <- nil
		return PerfReply{Sent: 7, Received: 7}, nil
	}
}

type perfBackend struct {
	fakeBackend
	n *perfNode
}

func (b *perfBackend) Node(string) (Node, error) { return b.n, nil }

// perfPair serves a perfNode over a socketpair and returns the client's
// end, the server and the node.
func perfPair(t *testing.T) (*net.UnixConn, *Server, *perfNode) {
	t.Helper()
	n := &perfNode{fakeNode: &fakeNode{links: []Link{testLink}}, started: make(chan struct{}, 1), ended: make(chan error, 1)}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "t")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
	}
	srv := NewServer(&perfBackend{n: n})
	go srv.ServeConn(conns[1])
	t.Cleanup(func() { conns[0].Close() })
	return conns[0], srv, n
}

// TestPerfEndsWhenClientGoes starts an hour-long stream and ends its
// client (as a killed `ibctl perf`), or stops the server: the stream ends.
func TestPerfEndsWhenClientGoes(t *testing.T) {
	for _, how := range []string{"client closes", "server stops"} {
		t.Run(how, func(t *testing.T) {
			conn, srv, n := perfPair(t)
			c := NewClient(conn)
			errc := make(chan error, 1)
			go func() {
				_, err := c.Perf(PerfRequest{Dst: []byte{10, 0, 0, 2}, DurationMs: 3600 * 1000})
				errc <- err
			}()
			<-n.started
			if how == "client closes" {
				conn.Close()
			} else {
				srv.CloseConns()
			}
			select {
			case err := <-n.ended:
				if err != context.Canceled {
					t.Fatalf("stream ended with %v, want %v", err, context.Canceled)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("the stream goes on after the %s", how)
			}
			<-errc
		})
	}
}

// TestPerfWatchEndsWithRequest runs a stream to its end: its reply comes,
// and the connection serves the next request as before.
func TestPerfWatchEndsWithRequest(t *testing.T) {
	conn, _, n := perfPair(t)
	c := NewClient(conn)
	for i := 0; i < 3; i++ {
		rep, err := c.Perf(PerfRequest{Dst: []byte{10, 0, 0, 2}, DurationMs: 1})
		if err != nil || rep.Sent != 7 {
			t.Fatalf("perf %d: %+v, %v", i, rep, err)
		}
		<-n.started
		if err := <-n.ended; err != nil {
			t.Fatalf("perf %d ended with %v", i, err)
		}
		if _, err := c.Link("ib0"); err != nil {
			t.Fatalf("after perf %d: %v", i, err)
		}
	}
}
