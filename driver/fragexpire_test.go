package driver

import (
	"bytes"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
	"github.com/ibctl/ibctl/netlinkx"
)

// armClock is a ManualClock that reports the duration of every timer
// armed, so that a test knows when another goroutine (a receiving data
// path) armed one.
type armClock struct {
	*verbs.ManualClock
	armed chan time.Duration
}

func newArmClock() armClock {
	return armClock{verbs.NewManualClock(time.Unix(1_700_000_000, 0)), make(chan time.Duration, 16)}
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
	clk, tap := newArmClock(), &wireTap{}
	d, err := New(Options{Clock: clk, LoseFrame: tap.frame})
	if err != nil {
		t.Fatal(err)
	}
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

// echoFragments is an echo request of 4000 data bytes from node0 to node1,
// fragmented at the 2044-byte MTU as node0 sends it: IPv4 0+2024 and
// 2024+1984 bytes, IPv6 0+1992, 1992+1992 and 3984+24.
func echoFragments(t *testing.T, v6 bool) [][]byte {
	t.Helper()
	data := make([]byte, 4000)
	if v6 {
		ip := make([]byte, header.IPv6HeaderLen+header.ICMPv6MinHeaderLen+len(data))
		header.EncodeICMPv6Echo(ip, header.IPv6Fields{HopLimit: 64, Src: pairAddr(true, 1).As16(), Dst: pairAddr(true, 2).As16()},
			header.ICMPv6EchoRequest, 7, 9, data)
		frags, err := fragment6(header.IPv6(ip), 2044, 77)
		if err != nil {
			t.Fatal(err)
		}
		return frags
	}
	ip := make([]byte, header.IPv4MinHeaderLen+header.ICMPv4MinHeaderLen+len(data))
	header.EncodeICMPv4Echo(ip, header.IPv4Fields{TTL: 64, ID: 9, Src: pairAddr(false, 1).As4(), Dst: pairAddr(false, 2).As4()},
		header.ICMPv4Echo, 7, 9, data)
	return fragment4(header.IPv4(ip), 2044)
}

// queues is the number of reassembly queues of the family on the node.
func queues(n *Node, v6 bool) int {
	n.ip.mu.Lock()
	defer n.ip.mu.Unlock()
	if v6 {
		return len(n.ip.reasm6)
	}
	return len(n.ip.reasm)
}

// An incomplete queue expires exactly ipfrag_time (30 s) or ip6frag_time
// (60 s) after its first fragment came, its fragments freed; the ICMP time
// exceeded goes back only when the fragment with offset 0 had come, and
// only through an interface that is still up.
func TestReassemblyExpiry(t *testing.T) {
	tests := []struct {
		name     string
		v6       bool
		deliver  []int // which fragments reach node1
		down     bool  // node1's ib0 goes down before the expiry
		wantICMP bool
	}{
		{"IPv4 first fragment came", false, []int{0}, false, true},
		{"IPv4 only the last came", false, []int{1}, false, false},
		{"IPv4 interface down", false, []int{0}, true, false},
		{"IPv6 first and last came", true, []int{0, 2}, false, true},
		{"IPv6 middle and last came", true, []int{1, 2}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, clk, tap, _, n1 := fragPair(t, tc.v6)
			frags := echoFragments(t, tc.v6)
			d.mu.Lock()
			dp1 := mustDev(t, n1, "ib0").dp
			d.mu.Unlock()
			for _, i := range tc.deliver {
				n1.ip.input(dp1, header.HWAddr{}, header.IPoIB(frags[i]))
			}
			if got := queues(n1, tc.v6); got != 1 {
				t.Fatalf("%d queues after the fragments, want 1", got)
			}
			timeout := reasmTimeout
			if tc.v6 {
				timeout = reasm6Timeout
			}
			if got := <-clk.armed; got != timeout {
				t.Fatalf("timer armed for %v, want %v", got, timeout)
			}
			// the queue, to see it freed
			var frags4 []fragData
			var q6 *frag6Queue
			n1.ip.mu.Lock()
			for _, r := range n1.ip.reasm {
				frags4 = r.frags
				defer func() {
					n1.ip.mu.Lock()
					defer n1.ip.mu.Unlock()
					if r.frags != nil || r.hdr != nil {
						t.Errorf("expired IPv4 queue still holds %d fragments", len(r.frags))
					}
				}()
			}
			for _, q := range n1.ip.reasm6 {
				q6 = q
			}
			n1.ip.mu.Unlock()
			if len(frags4) == 0 && (q6 == nil || len(q6.frags) == 0) {
				t.Fatal("no fragments queued")
			}
			if q6 != nil {
				defer func() {
					n1.ip.mu.Lock()
					defer n1.ip.mu.Unlock()
					if q6.frags != nil || q6.runs != nil {
						t.Errorf("expired IPv6 queue still holds %d fragments", len(q6.frags))
					}
				}()
			}
			if tc.down {
				wantErrno(t, n1.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(false)}), 0)
			}
			clk.Advance(timeout - time.Nanosecond)
			if got, sent := queues(n1, tc.v6), tap.takeSent1(); got != 1 || len(sent) != 0 {
				t.Fatalf("a nanosecond early: %d queues, %d packets sent", got, len(sent))
			}
			clk.Advance(time.Nanosecond)
			if got := queues(n1, tc.v6); got != 0 {
				t.Fatalf("%d queues after %v", got, timeout)
			}
			sent := tap.takeSent1()
			if !tc.wantICMP {
				if len(sent) != 0 {
					t.Fatalf("sent % x", sent)
				}
				return
			}
			first := frags[0][header.IPoIBHeaderLen:]
			want := make([]byte, header.IPoIBHeaderLen+header.IPv6MinMTU)
			var n int
			if tc.v6 {
				header.IPoIB(want).Encode(header.EtherTypeIPv6)
				n = header.EncodeICMPv6Error(want[header.IPoIBHeaderLen:], pairAddr(true, 2).As16(), pairAddr(true, 1).As16(),
					header.ICMPv6TimeExceeded, header.ICMPv6ReassemblyTimeout, 0, first)
			} else {
				header.IPoIB(want).Encode(header.EtherTypeIPv4)
				n = header.EncodeICMPv4Error(want[header.IPoIBHeaderLen:], pairAddr(false, 2).As4(), pairAddr(false, 1).As4(),
					header.ICMPv4TimeExceeded, header.ICMPv4ReassemblyTimeout, 0, first, header.ICMPv4KernelMaxQuote)
			}
			want = want[:header.IPoIBHeaderLen+n]
			// 576 bytes (548 quoted) for IPv4, 1280 (1232 quoted) for IPv6
			if wantLen := map[bool]int{false: 580, true: 1284}[tc.v6]; len(want) != wantLen {
				t.Fatalf("expected packet is %d bytes, want %d", len(want), wantLen)
			}
			if len(sent) != 1 || !bytes.Equal(sent[0], want) {
				t.Fatalf("sent %d packets:\n% x\nwant\n% x", len(sent), sent, want)
			}
		})
	}
}

// A completed datagram stops its queue's timer: nothing expires later.
func TestReassemblyCompleteStopsTimer(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		d, clk, tap, _, n1 := fragPair(t, v6)
		frags := echoFragments(t, v6)
		d.mu.Lock()
		dp1 := mustDev(t, n1, "ib0").dp
		d.mu.Unlock()
		n1.ip.input(dp1, header.HWAddr{}, header.IPoIB(frags[0]))
		var timer verbs.Timer
		n1.ip.mu.Lock()
		for _, r := range n1.ip.reasm {
			timer = r.timer
		}
		for _, q := range n1.ip.reasm6 {
			timer = q.timer
		}
		n1.ip.mu.Unlock()
		for _, f := range frags[1:] {
			n1.ip.input(dp1, header.HWAddr{}, header.IPoIB(f))
		}
		// node1 answers the echo request
		if sent := tap.takeSent1(); len(sent) != len(frags) {
			t.Fatalf("v6 %v: node1 sent %d packets for the reply, want %d", v6, len(sent), len(frags))
		}
		if timer == nil || timer.Stop() || queues(n1, v6) != 0 {
			t.Fatalf("v6 %v: timer still armed or %d queues after completion", v6, queues(n1, v6))
		}
		clk.Advance(time.Hour)
		if sent := tap.takeSent1(); len(sent) != 0 {
			t.Fatalf("v6 %v: sent % x after completion", v6, sent)
		}
	}
}

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
