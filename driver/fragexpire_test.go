package driver

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx"
)

// A ping whose later fragments are lost gets the time exceeded once the
// peer's queue expires, from the peer.
func TestPingReassemblyTimeout(t *testing.T) {
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
		timeout := <-clk.armed // node1 queued the first fragment
		clk.Advance(timeout)
		r := <-done
		want := netlinkx.PingReply{Status: netlinkx.PingReasmTimeout, Src: pairAddr(v6, 1).AsSlice(),
			From: pairAddr(v6, 2).AsSlice(), MTU: 2044}
		if r.err != nil || !cmp.Equal(r.rep, want) {
			t.Errorf("v6 %v: ping = %+v, %v; want %+v", v6, r.rep, r.err, want)
		}
	}
}
