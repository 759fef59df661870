package inet

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
)

// hwX is another address a peer may answer with.
var hwX = header.NewHWAddr(0, 0x00004a, netip.MustParseAddr("fe80::2:c903:c:3").As16())

// __neigh_update (net/core/neighbour.c) confirms a reachable entry at
// every ARP reply, and updates it only when its state or address
// changes: an answer again from the same address moves Confirmed only,
// one from another address (after the locktime) Updated too.
func TestNeighbourAnsweredAgain(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name    string
		hw      header.HWAddr
		updated bool
	}{
		{"same address", hwB, false},
		{"another address", hwX, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := resolvedPair(t, false, 2044)
			before := p.a.Neighbours(ifA)
			if len(before) != 1 {
				t.Fatalf("neighbours %+v", before)
			}
			p.clock.Advance(5 * s)
			p.na.DeliverPacket(tc.hw, arpPacket(header.ARPReply, tc.hw, pairAddr(false, 2), hwA, pairAddr(false, 1)))
			p.clock.Advance(s)
			want := before[0]
			want.HW = tc.hw
			want.Stats.Used += 6 * s
			want.Stats.Confirmed = s
			want.Stats.Updated += 6 * s
			if tc.updated {
				want.Stats.Updated = s
			}
			if got := p.a.Neighbours(ifA); len(got) != 1 || got[0] != want {
				t.Fatalf("neighbours %+v, want %+v", got, want)
			}
		})
	}
}

// neighNote is one call of the SetNeighNotify function.
type neighNote struct {
	addr    netip.Addr
	state   uint16
	hw      header.HWAddr
	deleted bool
}

func (n neighNote) String() string {
	return fmt.Sprintf("{%v %#x %v deleted %v}", n.addr, n.state, n.hw, n.deleted)
}

// The notifications of entry changes: an answer notifies when it
// changes the entry's state or address, not when it only confirms it
// (__neigh_update's notify, net/core/neighbour.c); a deleted entry
// notifies its fall to NUD_FAILED unless it had failed already (only
// an entry that was valid or resolving notifies), then its deletion
// (neigh_delete, neigh_cleanup_and_release's RTM_DELNEIGH).
func TestNeighNotify(t *testing.T) {
	peer, nobody := pairAddr(false, 2), pairAddr(false, 9)
	reply := func(p *pair, hw header.HWAddr, from netip.Addr) {
		p.na.DeliverPacket(hw, arpPacket(header.ARPReply, hw, from, hwA, pairAddr(false, 1)))
	}
	failed := func(t *testing.T) *pair { // a's entry for nobody failed
		p := newPair(t, false, 2044)
		p.la.peer = nil
		p.a.output(p.na, pairAddr(false, 1), nobody, []byte{0x45})
		p.clock.Advance(3 * time.Second)
		if st := state(p.a, ifA, nobody); st != nudFailed {
			t.Fatalf("state %#x, want failed", st)
		}
		return p
	}
	resolved := func(t *testing.T) *pair {
		p := resolvedPair(t, false, 2044)
		p.clock.Advance(5 * time.Second)
		return p
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) *pair
		act   func(p *pair)
		want  []neighNote
	}{
		{"answered again, same address", resolved, func(p *pair) { reply(p, hwB, peer) }, nil},
		{"answered with another address", resolved, func(p *pair) { reply(p, hwX, peer) },
			[]neighNote{{peer, nudReachable, hwX, false}}},
		{"failed, then answered", failed, func(p *pair) { reply(p, hwB, nobody) },
			[]neighNote{{nobody, nudReachable, hwB, false}}},
		{"deleted while reachable", resolved, func(p *pair) { p.a.DelNeighbour(ifA, peer) },
			[]neighNote{{peer, nudFailed, header.HWAddr{}, false}, {peer, nudFailed, header.HWAddr{}, true}}},
		{"deleted when failed", failed, func(p *pair) { p.a.DelNeighbour(ifA, nobody) },
			[]neighNote{{nobody, nudFailed, header.HWAddr{}, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.setup(t)
			var got []neighNote
			p.a.SetNeighNotify(func(index int32, n Neighbour, deleted bool) {
				if index != ifA {
					t.Errorf("notified for interface %d", index)
				}
				got = append(got, neighNote{n.Addr, n.State, n.HW, deleted})
			})
			tc.act(p)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("notified %v, want %v", got, tc.want)
			}
		})
	}
}
