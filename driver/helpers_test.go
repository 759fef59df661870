package driver

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/clocktest"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
	"github.com/ibctl/ibctl/netlinkx"
)

// armClock is a test clock that reports the duration of every timer
// armed, so that a test knows when another goroutine (a receiving data
// path) armed one.
type armClock struct {
	*clocktest.Clock
	armed chan time.Duration
}

func newArmClock(t testing.TB) armClock {
	return armClock{clocktest.New(t), make(chan time.Duration, 16)}
}

func (c armClock) AfterFunc(d time.Duration, f func()) verbs.Timer {
	t := c.ManualClock.AfterFunc(d, f) // armed before it is reported
	select {
	case c.armed <- d:
	default:
	}
	return t
}

// wireTap records the IPoIB packets node1 sends and, while losing is set,
// loses node0's fragments with a non-zero offset.
type wireTap struct {
	losing atomic.Bool
	mu     sync.Mutex
	sent1  [][]byte
}

func (w *wireTap) frame(from fabric.PortRef, p *verbs.Packet) bool {
	if p.DestQPN == 1 || len(p.Payload) < header.IPoIBHeaderLen {
		return false // CM MADs
	}
	if from.Node == "node1" {
		w.mu.Lock()
		w.sent1 = append(w.sent1, append([]byte(nil), p.Payload...))
		w.mu.Unlock()
	}
	return from.Node == "node0" && w.losing.Load() && laterFragment(p.Payload)
}

func (w *wireTap) takeSent1() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.sent1
	w.sent1 = nil
	return out
}

// laterFragment reports whether an IPoIB packet is an IPv4 or IPv6
// fragment other than the first.
func laterFragment(pkt []byte) bool {
	switch p := header.IPoIB(pkt); p.Type() {
	case header.EtherTypeIPv4:
		ip := header.IPv4(p.Payload())
		return ip.Valid() && ip.FragmentOffset() != 0
	case header.EtherTypeIPv6:
		ip := header.IPv6(p.Payload())
		return ip.Valid() && ip.NextHeader() == header.ProtocolIPv6Fragment && header.IPv6Fragment(ip.Payload()).FragmentOffset() != 0
	}
	return false
}

// fragPair is node0 and node1 with ib0 up and addressed (10.0.0.1 and
// .2, or fd00::1 and ::2), neighbours known both ways, on a clock that
// moves only when advanced, node1's transmissions tapped.
func fragPair(t *testing.T, v6 bool) (*Driver, armClock, *wireTap, *Node, *Node) {
	t.Helper()
	clk, tap := newArmClock(t), &wireTap{}
	d, err := New(Options{Clock: clk, LoseFrame: tap.frame})
	if err != nil {
		t.Fatal(err)
	}
	clk.Watch(d)
	n0, _ := d.Node("node0")
	n1, _ := d.Node("node1")
	for i, n := range []*Node{n0, n1} {
		wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
		if v6 {
			addAddr6(t, n, "ib0", netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 15: byte(i + 1)}), 64).String())
		} else {
			addAddr(t, n, "ib0", netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 24).String())
		}
	}
	rep, err := n0.Ping(netlinkx.PingRequest{Dst: pairAddr(v6, 2).AsSlice(), Size: 56, Seq: 1, TimeoutMs: 5000})
	if err != nil || rep.Status != netlinkx.PingReplied {
		t.Fatalf("first ping: %+v %v", rep, err)
	}
	tap.takeSent1()
	return d, clk, tap, n0, n1
}

func pairAddr(v6 bool, host byte) netip.Addr {
	if v6 {
		return netip.AddrFrom16([16]byte{0xfd, 15: host})
	}
	return netip.AddrFrom4([4]byte{10, 0, 0, host})
}
