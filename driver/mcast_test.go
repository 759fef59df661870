package driver

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/netlinkx"
)

// TestSecondInterfaceOnPKeyRemoved: a second interface on ib0's P_Key
// joins the broadcast group itself (ipoib_mcast_join per interface), so
// deleting it leaves node0's port in the group, as the SA keeps a port
// while any join on it stands (multicast.c), and a peer that never talked
// to node0 still resolves and reaches it.
func TestSecondInterfaceOnPKeyRemoved(t *testing.T) {
	d, _ := newClockedDriver(t)
	n0, n1 := pingPair(t, d, netlinkx.ModeDatagram)
	ib0 := mustLink(t, n0, "ib0")
	wantErrno(t, n0.NewLink(netlinkx.LinkRequest{Name: "cx", ParentIndex: ib0.Index, Kind: "ipoib", PKey: ptr(uint16(0xffff)), Up: ptr(true)}), 0)
	wantErrno(t, n0.DelLink(0, "cx"), 0)
	bff := fabric.BroadcastMGID(0xffff)
	var members []fabric.PortRef
	for _, g := range d.Fabric().Groups() {
		if g.MGID == bff {
			for _, m := range g.Members {
				members = append(members, m.Port)
			}
		}
	}
	want := []fabric.PortRef{{Node: "node0", Port: 1}, {Node: "node1", Port: 1}}
	if diff := cmp.Diff(want, members); diff != "" {
		t.Errorf("members of the 0xffff broadcast group (-want +got):\n%s", diff)
	}
	mustPing(t, n1, [4]byte{10, 0, 0, 1}, 1)
}
