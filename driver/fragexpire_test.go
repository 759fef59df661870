package driver

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx"
)

// A ping whose later fragments are lost gets the time exceeded once the
// peer's queue expires, from the peer.
func TestPingReassemblyTimeout(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		reasmTimeout := 30 * time.Second // ipfrag_time
		if v6 {
			reasmTimeout = 60 * time.Second // ip6frag_time
		}
		_, clk, tap, n0, _ := fragPair(t, v6)
		tap.losing.Store(true)
		type result struct {
			rep netlinkx.PingReply
			err error
		}
		done := make(chan result, 1)
		go func() {
			// ping waits longer than the peer's queue lives
			rep, err := n0.Ping(netlinkx.PingRequest{Dst: pairAddr(v6, 2).AsSlice(), Size: 4000, Ident: 3, Seq: 2, TimeoutMs: 120_000})
			done <- result{rep, err}
		}()
		// node1 queued the first fragment: its reassembly timer runs out
		// (the neighbour probes' 1 s timers and ping's deadline do not
		// count).
		for d := range clk.armed {
			if d == reasmTimeout {
				clk.Advance(d)
				break
			}
		}
		r := <-done
		want := netlinkx.PingReply{Status: netlinkx.PingReasmTimeout, Src: pairAddr(v6, 1).AsSlice(),
			From: pairAddr(v6, 2).AsSlice(), MTU: 2044}
		if r.err != nil || !cmp.Equal(r.rep, want) {
			t.Errorf("v6 %v: ping = %+v, %v; want %+v", v6, r.rep, r.err, want)
		}
	}
}
