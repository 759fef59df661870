package driver

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// echoRequest is an IPoIB packet carrying an echo request of 8 data bytes
// from src to dst; corrupt flips a data bit after the checksums are set.
func echoRequest(t *testing.T, src, dst netip.Addr, typ uint8, ident, seq uint16, corrupt bool) header.IPoIB {
	t.Helper()
	data := make([]byte, 8)
	var pkt []byte
	var n int
	if src.Is4() {
		pkt = make([]byte, header.IPoIBHeaderLen+header.IPv4MinHeaderLen+header.ICMPv4MinHeaderLen+len(data))
		header.IPoIB(pkt).Encode(header.EtherTypeIPv4)
		n = header.EncodeICMPv4Echo(pkt[header.IPoIBHeaderLen:], header.IPv4Fields{TTL: 64, Src: src.As4(), Dst: dst.As4()}, typ, ident, seq, data)
	} else {
		pkt = make([]byte, header.IPoIBHeaderLen+header.IPv6HeaderLen+header.ICMPv6MinHeaderLen+len(data))
		header.IPoIB(pkt).Encode(header.EtherTypeIPv6)
		n = header.EncodeICMPv6Echo(pkt[header.IPoIBHeaderLen:], header.IPv6Fields{HopLimit: 64, Src: src.As16(), Dst: dst.As16()}, typ, ident, seq, data)
	}
	if n == 0 {
		t.Fatal("encode")
	}
	if corrupt {
		pkt[len(pkt)-1] ^= 1
	}
	return header.IPoIB(pkt)
}

// An echo request arrives from a source whose neighbour entry another
// goroutine marks failed: the reply path reads the entry under the lock
// (run with -race).
func TestEchoRequestNeighbourRace(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		d, _, _, _, n1 := fragPair(t, v6)
		d.mu.Lock()
		dp1 := mustDev(t, n1, "ib0").dp
		d.mu.Unlock()
		peer := pairAddr(v6, 7)
		typ := header.ICMPv4Echo
		if v6 {
			typ = header.ICMPv6EchoRequest
		}
		pkt := echoRequest(t, peer, pairAddr(v6, 2), typ, 1, 1, false)
		n1.ip.mu.Lock()
		n1.ip.neigh[dp1.nd.index][peer] = &neighbour{state: nudFailed}
		n1.ip.mu.Unlock()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 200 {
				n1.ip.fail(dp1.nd.index, peer)
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				n1.ip.input(dp1, header.HWAddr{}, pkt)
			}
		}()
		wg.Wait()
	}
}

// Echo requests and replies whose ICMP checksum does not verify are
// dropped (icmp_rcv's csum_error, icmpv6_rcv's csum_error): a request
// gets no reply, a reply does not answer the ping.
func TestEchoBadChecksumDropped(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v6      bool
		corrupt bool
	}{
		{"v4 good", false, false},
		{"v4 corrupt", false, true},
		{"v6 good", true, false},
		{"v6 corrupt", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _, tap, _, n1 := fragPair(t, tc.v6)
			d.mu.Lock()
			dp1 := mustDev(t, n1, "ib0").dp
			d.mu.Unlock()
			peer, self := pairAddr(tc.v6, 1), pairAddr(tc.v6, 2)
			req, rep := header.ICMPv4Echo, header.ICMPv4EchoReply
			if tc.v6 {
				req, rep = header.ICMPv6EchoRequest, header.ICMPv6EchoReply
			}
			n1.ip.input(dp1, header.HWAddr{}, echoRequest(t, peer, self, req, 5, 6, tc.corrupt))
			want := 1
			if tc.corrupt {
				want = 0
			}
			if got := len(tap.takeSent1()); got != want {
				t.Errorf("request: %d replies sent, want %d", got, want)
			}

			ch := make(chan pingResult, 1)
			n1.ip.mu.Lock()
			n1.ip.pings[5<<16|7] = pendingPing{dst: peer, ch: ch}
			n1.ip.mu.Unlock()
			n1.ip.input(dp1, header.HWAddr{}, echoRequest(t, peer, self, rep, 5, 7, tc.corrupt))
			select {
			case r := <-ch:
				if tc.corrupt {
					t.Errorf("corrupt reply delivered: %+v", r)
				}
			default:
				if !tc.corrupt {
					t.Error("good reply not delivered")
				}
			}
		})
	}
}

// node0 pinged node1, then changed its address from ::1 to ::3: node1 has
// no neighbour entry for the new address, so its reply waits while it
// resolves the address (ARP, neighbour solicitation), and goes out when
// node0 answers.
func TestEchoReplyResolvesChangedSource(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		_, _, _, n0, n1 := fragPair(t, v6)
		fam, bits := uint8(unix.AF_INET), uint8(24)
		if v6 {
			fam, bits = unix.AF_INET6, 64
		}
		idx := mustLink(t, n0, "ib0").Index
		wantErrno(t, n0.DelAddr(netlinkx.Addr{Index: idx, Family: fam, PrefixLen: bits, Local: pairAddr(v6, 1).AsSlice()}), 0)
		wantErrno(t, n0.AddAddr(netlinkx.Addr{Index: idx, Family: fam, PrefixLen: bits, Local: pairAddr(v6, 3).AsSlice()}), 0)
		for seq := uint16(2); seq <= 3; seq++ {
			rep, err := n0.Ping(netlinkx.PingRequest{Dst: pairAddr(v6, 2).AsSlice(), Size: 56, Seq: seq, TimeoutMs: 5000})
			if err != nil || rep.Status != netlinkx.PingReplied || rep.Bytes != 64 || !cmp.Equal(rep.Src, pairAddr(v6, 3).AsSlice()) {
				t.Fatalf("v6 %v seq %d: %+v %v", v6, seq, rep, err)
			}
		}
		ns, _ := n1.Neighs()
		var got []string
		for _, n := range ns {
			ip, _ := netip.AddrFromSlice(n.Dst)
			if n.State == nudReachable && ip.Is4() != v6 {
				got = append(got, ip.String())
			}
		}
		if want := []string{pairAddr(v6, 1).String(), pairAddr(v6, 3).String()}; !cmp.Equal(got, want) {
			t.Errorf("v6 %v: node1's reachable neighbours %v, want %v", v6, got, want)
		}
	}
}

// A reply to a source nobody answers for waits for three solicitations a
// second apart and is dropped with the queue when the third goes
// unanswered (neigh_max_probes; NUD_FAILED).
func TestEchoReplyUnresolvedDropped(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		d, clk, tap, _, n1 := fragPair(t, v6)
		d.mu.Lock()
		dp1 := mustDev(t, n1, "ib0").dp
		d.mu.Unlock()
		typ := header.ICMPv4Echo
		if v6 {
			typ = header.ICMPv6EchoRequest
		}
		peer := pairAddr(v6, 9)
		state := func() uint16 {
			n1.ip.mu.Lock()
			defer n1.ip.mu.Unlock()
			e := n1.ip.neigh[dp1.nd.index][peer]
			return e.state
		}
		dropped := mustLink(t, n1, "ib0").Stats.TxDropped
		for seq := uint16(1); seq <= 2; seq++ {
			n1.ip.input(dp1, header.HWAddr{}, echoRequest(t, peer, pairAddr(v6, 2), typ, 1, seq, false))
		}
		for i, want := range []int{1, 1, 1, 0} { // solicitations at 0, 1 and 2 s; failed at 3 s
			if got := len(tap.takeSent1()); got != want || (i < 3 && state() != nudIncomplete) {
				t.Fatalf("v6 %v after %d s: %d sent, state %#x; want %d sent, incomplete", v6, i, got, state(), want)
			}
			clk.Advance(time.Second)
		}
		if st, d := state(), mustLink(t, n1, "ib0").Stats.TxDropped-dropped; st != nudFailed || d != 2 {
			t.Errorf("v6 %v: state %#x, %d dropped; want failed, 2", v6, st, d)
		}
	}
}

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
