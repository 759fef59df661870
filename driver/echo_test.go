package driver

import (
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/netlinkx"
)

// A UD-only node pings a connected-mode node with 4000 data bytes: the
// first reply, sent whole at the 65520-byte interface MTU, is too big for
// the peer's UD MTU and lowers the path MTU to 2044; every later reply is
// fragmented to fit.
func TestEchoReplyLearnsPathMTU(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		topo := fabric.DefaultTopology()
		topo.Nodes[1].Ports[0].Caps = &fabric.Capabilities{Checksum: true}
		d, err := New(Options{Topology: topo})
		if err != nil {
			t.Fatal(err)
		}
		n0, _ := d.Node("node0")
		n1, _ := d.Node("node1")
		for _, n := range []*Node{n0, n1} {
			wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
		}
		wantErrno(t, n0.SetMode("ib0", netlinkx.ModeConnected), 0)
		if v6 {
			addAddr6(t, n0, "ib0", "fd00::1/64")
			addAddr6(t, n1, "ib0", "fd00::2/64")
		} else {
			addAddr(t, n0, "ib0", "10.0.0.1/24")
			addAddr(t, n1, "ib0", "10.0.0.2/24")
		}
		for seq, want := range []uint8{netlinkx.PingTimeout, netlinkx.PingReplied, netlinkx.PingReplied} {
			timeout := uint32(5000)
			if seq == 0 {
				timeout = 300 // the lost reply
			}
			rep, err := n1.Ping(netlinkx.PingRequest{Dst: pairAddr(v6, 1).AsSlice(), Size: 4000, Seq: uint16(seq + 1), TimeoutMs: timeout})
			if err != nil || rep.Status != want || (want == netlinkx.PingReplied && rep.Bytes != 4008) {
				t.Fatalf("v6 %v seq %d: %+v %v; want status %d", v6, seq+1, rep, err, want)
			}
		}
		if r, err := n0.RouteGet(pairAddr(v6, 2).AsSlice()); err != nil || r.MTU != 2044 {
			t.Errorf("v6 %v: node0's route to node1 %+v %v; want MTU 2044", v6, r, err)
		}
	}
}
