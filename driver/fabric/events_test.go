package fabric_test

import (
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
)

// Names of event kinds, port states and SA selectors; a value without a
// name prints its number.
func TestStrings(t *testing.T) {
	for _, tt := range []struct {
		v    interface{ String() string }
		want string
	}{
		{fabric.PKeyChange, "PKeyChange"},
		{fabric.SMReregister, "SMReregister"},
		{fabric.EventKind(0), "EventKind(0)"},
		{fabric.SMReregister + 1, "EventKind(6)"},
		{fabric.StateDown, "Down"},
		{fabric.StateActive, "Active"},
		{fabric.State(2), "State(2)"},
		{fabric.PhysLinkUp, "LinkUp"},
		{fabric.PhysState(4), "PhysState(4)"},
		{fabric.SelectGT, ">"},
		{fabric.SelectLargest, "largest"},
		{fabric.SelectLargest + 1, "Selector(4)"},
	} {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%T(%d).String() = %q, want %q", tt.v, tt.v, got, tt.want)
		}
	}
}

// The change hook runs once after each change that succeeds, after its
// events reached the subscribers, and not after a refused one or a query;
// SetChangeHook(nil) removes it.
func TestChangeHook(t *testing.T) {
	f := newFabric(t, nil)
	var log []string
	f.Subscribe(func(e fabric.Event) { log = append(log, e.String()) })
	f.SetChangeHook(func() { log = append(log, "hook") })
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"change with an event", func() { _ = f.SetPortState("node0", 2, fabric.StateDown) }, []string{"PortDown node0/2", "hook"}},
		{"change without events", func() { _ = f.Attach("node0", 1, &countEP{}) }, []string{"hook"}},
		{"refused change", func() { _ = f.Attach("node0", 1, &countEP{}) }, nil},
		{"query", func() { f.Groups(); f.PKeyTable("node0", 1) }, nil},
		{"hook removed", func() { f.SetChangeHook(nil); _ = f.Detach("node0", 1) }, nil},
	}
	for _, s := range steps {
		log = nil
		s.do()
		wantEqual(t, s.name, log, s.want)
	}
}

// A subscriber may join and leave multicast groups from its callback, as
// Subscribe allows: a change without events does not wait for the
// delivery it runs in.
func TestSubscriberJoins(t *testing.T) {
	f := newFabric(t, nil)
	bcast := fabric.BroadcastMGID(0xffff)
	f.Subscribe(func(e fabric.Event) {
		r := fabric.PortRef{Node: e.Node, Port: e.Port}
		if _, err := f.Join(r, fabric.JoinRequest{MGID: bcast, PKey: 0xffff, JoinState: fabric.FullMember}); err != nil {
			t.Errorf("join from %s: %v", r, err)
		}
		if e.Port == 2 {
			if err := f.Leave(r, 0, bcast, fabric.FullMember); err != nil {
				t.Errorf("leave from %s: %v", r, err)
			}
		}
	})
	f.Reregister()
	wantEqual(t, "receivers", f.MulticastMembers(0xc000), []fabric.PortRef{n0p1, n1p1})
}
