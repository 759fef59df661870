package ipoib

import (
	"testing"

	"github.com/ibctl/ibctl/driver/header"
)

// gate is a dispatcher that holds the poller in each delivery until the
// test lets it go, or the test ends (done closed).
type gate struct {
	in, out, done chan struct{}
}

func (g *gate) DeliverPacket(header.HWAddr, header.IPoIB) {
	select {
	case g.in <- struct{}{}:
	case <-g.done:
		return
	}
	select {
	case <-g.out:
	case <-g.done:
	}
}

// An endpoint is busy while a completion waits for its poller or the
// poller handles one, and only then: the registry counts it, and the
// clock's quiesce waits for it (clocktest.DataPath's Busy).
func TestEndpointBusy(t *testing.T) {
	tp := newTestPair(t, false)
	g := &gate{in: make(chan struct{}), out: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { close(g.done) }) // before the endpoints close
	tp.n1.ep.Attach(g)
	reg := tp.n0.host.Endpoints
	if n := reg.Busy(); n != 0 {
		t.Fatalf("idle pair: %d busy", n)
	}
	tp.send(2)
	<-g.in // node1's poller holds the first datagram
	if !tp.n1.ep.busy() || tp.n0.ep.busy() || reg.Busy() != 1 {
		t.Fatalf("handling a datagram: node1 busy %v, node0 busy %v, registry %d", tp.n1.ep.busy(), tp.n0.ep.busy(), reg.Busy())
	}
	g.out <- struct{}{}
	<-g.in // the second
	if !tp.n1.ep.busy() {
		t.Fatal("node1 not busy with its second datagram")
	}
	g.out <- struct{}{}
	tp.clk.Quiesce()
	if reg.Busy() != 0 || tp.n1.ep.busy() {
		t.Fatalf("after Quiesce: registry %d, node1 busy %v", reg.Busy(), tp.n1.ep.busy())
	}
}
