package fabrictest_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/fabric/fabrictest"
	"golang.org/x/sys/unix"
)

// lidOnly is a frame that is not a *fabrictest.Frame.
type lidOnly uint16

func (l lidOnly) DestLID() uint16 { return uint16(l) }

// A Port queues a copy of each frame delivered to it, a foreign frame by
// its DLID only, and Read and Drain take them oldest first; Attach passes
// the fabric's refusal on and returns no Port.
func TestPort(t *testing.T) {
	f, err := fabric.New(fabric.DefaultTopology())
	if err != nil {
		t.Fatal(err)
	}
	if p, err := fabrictest.Attach(f, "node0", 3); p != nil || !errors.Is(err, unix.ENODEV) {
		t.Fatalf("Attach(node0/3) = %v, %v, want nil and ENODEV", p, err)
	}
	p, err := fabrictest.Attach(f, "node1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Ref(); got != (fabric.PortRef{Node: "node1", Port: 1}) {
		t.Fatalf("Ref = %v", got)
	}
	if fr, ok := p.Read(); ok || !reflect.DeepEqual(fr, fabrictest.Frame{}) {
		t.Fatalf("Read on an empty queue = %+v, %v", fr, ok)
	}
	payload := []byte("one")
	f.Send(fabric.PortRef{Node: "node0", Port: 1}, &fabrictest.Frame{DLID: 3, Payload: payload})
	payload[0] = 'X' // the queued copy is the Port's own
	f.Send(fabric.PortRef{Node: "node0", Port: 1}, lidOnly(3))
	f.Send(fabric.PortRef{Node: "node0", Port: 1}, &fabrictest.Frame{DLID: 3, Payload: []byte("three")})
	fr, ok := p.Read()
	if !ok || !reflect.DeepEqual(fr, fabrictest.Frame{DLID: 3, Payload: []byte("one")}) {
		t.Fatalf("Read = %+v, %v", fr, ok)
	}
	if got, want := p.Drain(), []fabrictest.Frame{{DLID: 3}, {DLID: 3, Payload: []byte("three")}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Drain = %+v, want %+v", got, want)
	}
	if got := p.Drain(); got != nil {
		t.Fatalf("Drain of an empty queue = %+v", got)
	}
}
