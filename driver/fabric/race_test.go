package fabric_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/fabric/fabrictest"
	"golang.org/x/sys/unix"
)

// atomicEP counts deliveries from several goroutines and reads the frame
// (so the race detector sees the receiver touch it).
type atomicEP struct{ n atomic.Int64 }

func (e *atomicEP) Deliver(f fabric.Frame) {
	if tf, ok := f.(*fabrictest.Frame); ok && len(tf.Payload) > 0 {
		_ = tf.Payload[0]
	}
	e.n.Add(1)
}

// TestConcurrentChanges sends unicast and multicast between node0/1 and
// node1/1 while partitions, memberships, groups and the other ports' states
// change; the traffic between the two undisturbed ports must all arrive,
// and every event must be delivered once.
func TestConcurrentChanges(t *testing.T) {
	const sends, changes = 2000, 200
	f := newFabric(t, nil)
	eps := map[fabric.PortRef]*atomicEP{}
	for _, r := range all {
		eps[r] = &atomicEP{}
		wantErr(t, f.Attach(r.Node, r.Port, eps[r]), 0, "")
	}
	for _, r := range []fabric.PortRef{n0p1, n1p1} {
		if _, err := f.Join(r, fabric.JoinRequest{MGID: fabric.BroadcastMGID(0xffff), PKey: 0xffff, JoinState: fabric.FullMember}); err != nil {
			t.Fatal(err)
		}
	}
	var events atomic.Int64
	var order sync.Mutex
	lastKind := map[fabric.PortRef]fabric.EventKind{}
	cancel := f.Subscribe(func(e fabric.Event) {
		events.Add(1)
		if e.Kind == fabric.PortDown || e.Kind == fabric.PortActive {
			r := fabric.PortRef{Node: e.Node, Port: e.Port}
			order.Lock()
			if lastKind[r] == e.Kind {
				t.Errorf("%v twice in a row", e)
			}
			lastKind[r] = e.Kind
			order.Unlock()
		}
	})
	defer cancel()

	var wg sync.WaitGroup
	payload := []byte{1, 2, 3}
	wg.Go(func() {
		for range sends {
			f.Send(n0p1, &fabrictest.Frame{DLID: 3, Payload: payload})
		}
	})
	wg.Go(func() {
		for range sends {
			f.Send(n1p1, &fabrictest.Frame{DLID: 0xc000, Payload: payload})
		}
	})
	wg.Go(func() { // traffic on the ports that flap and change partitions
		for range sends {
			f.Send(n0p2, &fabrictest.Frame{DLID: 4, Payload: payload})
			f.Send(n1p2, &fabrictest.Frame{DLID: 0xc001, Payload: payload})
		}
	})
	wg.Go(func() {
		for range changes {
			if err := f.AddPartition(fabric.Partition{PKey: "0x8001", All: "full"}); err != nil {
				t.Error(err)
				return
			}
			if _, err := f.Join(n1p2, fabric.JoinRequest{MGID: fabric.BroadcastMGID(0x8001), PKey: 0x8001, JoinState: fabric.FullMember}); err != nil && !errors.Is(err, unix.ENETDOWN) {
				t.Error(err)
			}
			if err := f.SetMembership(0x8001, fabric.Member{Node: "node0", Port: 2}); err != nil {
				t.Error(err)
			}
			if err := f.DeletePartition(0x8001); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for range changes {
			_ = f.SetPortState("node1", 2, fabric.StateDown)
			_, _ = f.PathRecord(n0p1, gid(0x0002c90300002002), 0xffff)
			_ = f.SetPortState("node1", 2, fabric.StateActive)
			_ = f.Groups()
		}
	})
	wg.Wait()

	// node1/1 got every unicast frame and its own multicast copies; node0/1
	// every multicast frame.
	wantEqual(t, "node0/1 deliveries", eps[n0p1].n.Load(), int64(sends))
	wantEqual(t, "node1/1 deliveries", eps[n1p1].n.Load(), int64(2*sends))
	c0, _ := f.Counters("node0", 1)
	c1, _ := f.Counters("node1", 1)
	wantEqual(t, "node0/1 counters", c0, fabric.PortCounters{XmitPkts: sends, UnicastXmitPkts: sends, RcvPkts: sends, MulticastRcvPkts: sends})
	wantEqual(t, "node1/1 counters", c1, fabric.PortCounters{XmitPkts: sends, MulticastXmitPkts: sends,
		RcvPkts: 2 * sends, UnicastRcvPkts: sends, MulticastRcvPkts: sends})
	// Each round: add (4 PKeyChange), set membership (node0/2), delete (4),
	// port down and up (2).
	wantEqual(t, "events", events.Load(), int64(changes*(4+1+4+2)))
	// node1/2's sends were each forwarded or discarded, nothing else.
	c3, _ := f.Counters("node1", 2)
	wantEqual(t, "node1/2 sends accounted", c3.XmitPkts+c3.XmitDiscards, uint64(sends))
	wantEqual(t, "node1/2 link downs", c3.LinkDowned, uint64(changes))
}
