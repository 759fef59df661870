package driver

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// perfPair is node0 and node1 with c1, a child of P_Key 0x8001 in mode,
// up and addressed 10.0.1.1 and 10.0.1.2, besides ib0 at 10.0.0.1 and
// 10.0.0.2.
func perfPair(t *testing.T, mode uint16) (*Driver, *Node, *Node) {
	t.Helper()
	d, n0 := newTestDriver(t, nil)
	n1, err := d.Node("node1")
	if err != nil {
		t.Fatal(err)
	}
	wantErrno(t, d.AddPartition(netlinkx.Partition{PKey: 0x8001, All: "full"}), 0)
	for i, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
		p := mustLink(t, n, "ib0")
		wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "c1", ParentIndex: p.Index, Kind: "ipoib", PKey: ptr(uint16(0x8001)), Up: ptr(true)}), 0)
		wantErrno(t, n.SetMode("c1", mode), 0)
		addAddr(t, n, "ib0", []string{"10.0.0.1/24", "10.0.0.2/24"}[i])
		addAddr(t, n, "c1", []string{"10.0.1.1/24", "10.0.1.2/24"}[i])
	}
	return d, n0, n1
}

// A perf stream counts its own datagrams only: a second stream to the
// same receiving interface at the same time is not received by it (each
// stream has its UDP port, as iperf3's servers do), so received never
// exceeds sent (two streams may overflow the UD receive ring together:
// some may be lost); the emulated link rate (4X EDR, 100000 Mb/s) comes
// beside the figures. In connected mode the two share a connection
// whose full send queue makes a stream wait, not fail.
func TestPerfCountsOwnDatagrams(t *testing.T) {
	for _, mode := range []uint16{netlinkx.ModeDatagram, netlinkx.ModeConnected} {
		_, n0, _ := perfPair(t, mode)
		type result struct {
			rep netlinkx.PerfReply
			err error
		}
		done := make(chan result, 2)
		for range 2 {
			go func() {
				rep, err := n0.PerfContext(context.Background(), netlinkx.PerfRequest{Dst: []byte{10, 0, 1, 2}, Size: 1000, DurationMs: 300})
				done <- result{rep, err}
			}()
		}
		for range 2 {
			r := <-done
			if r.err != nil {
				t.Fatalf("mode %d: %v", mode, r.err)
			}
			if r.rep.Sent == 0 || r.rep.Received == 0 || r.rep.Received > r.rep.Sent || r.rep.Bytes != r.rep.Received*(4+20+8+1000) ||
				r.rep.LinkMbps != 100000 || r.rep.Mode != mode {
				t.Errorf("mode %d: %+v", mode, r.rep)
			}
		}
	}
}

// A perf stream whose route or link goes away stops at once with
// ENETUNREACH, as a socket's sendmsg fails, instead of waiting out its
// time and reporting success.
func TestPerfStopsWhenRouteGoes(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode uint16
		cut  func(d *Driver, n0 *Node) error
	}{
		{"address deleted", netlinkx.ModeDatagram, func(_ *Driver, n0 *Node) error {
			l, err := n0.Link(0, "c1")
			if err != nil {
				return err
			}
			return n0.DelAddr(netlinkx.Addr{Index: l.Index, Family: unix.AF_INET, PrefixLen: 24, Local: []byte{10, 0, 1, 1}})
		}},
		{"interface down", netlinkx.ModeConnected, func(_ *Driver, n0 *Node) error {
			return n0.SetLink(netlinkx.LinkRequest{Name: "c1", Up: ptr(false)})
		}},
		{"partition deleted, datagram", netlinkx.ModeDatagram, func(d *Driver, _ *Node) error { return d.DelPartition(0x8001) }},
		{"partition deleted, connected", netlinkx.ModeConnected, func(d *Driver, _ *Node) error { return d.DelPartition(0x8001) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, n0, n1 := perfPair(t, tc.mode)
			done := make(chan error, 1)
			go func() {
				_, err := n0.PerfContext(context.Background(), netlinkx.PerfRequest{Dst: []byte{10, 0, 1, 2}, Size: 1000, DurationMs: 60000})
				done <- err
			}()
			// the stream runs once the receiver counts datagrams
			c1 := mustDev(t, n1, "c1")
			for {
				d.mu.Lock()
				rx := c1.counters.RxPackets()
				d.mu.Unlock()
				if rx > 100 {
					break
				}
				runtime.Gosched()
			}
			start := time.Now()
			if err := tc.cut(d, n0); err != nil {
				t.Fatal(err)
			}
			err := <-done
			var errno unix.Errno
			if !errors.As(err, &errno) || errno != unix.ENETUNREACH {
				t.Fatalf("perf ended with %v, want ENETUNREACH", err)
			}
			if took := time.Since(start); took > 30*time.Second {
				t.Fatalf("perf went on for %v after the cut", took)
			}
		})
	}
}
