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
	const reasmTimeout = 30 * time.Second // ipfrag_time; ip6frag_time is 60 s
	for _, v6 := range []bool{false, true} {
		_, clk, tap, n0, _ := fragPair(t, v6)
		tap.losing.Store(true)
		type result struct {
			rep netlinkx.PingReply
			err error
		}
		done := make(chan result, 1)
		go func() {
			rep, err := n0.Ping(netlinkx.PingRequest{Dst: pairAddr(v6, 2).AsSlice(), Size: 4000, Ident: 3, Seq: 2, TimeoutMs: 60_000})
			done <- result{rep, err}
		}()
		// node1 queued the first fragment: its reassembly timer runs out
		// (the neighbour probes' 1 s timers armed before do not count).
		for d := range clk.armed {
			if d >= reasmTimeout {
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
