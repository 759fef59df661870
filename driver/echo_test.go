package driver

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/ibctl/ibctl/driver/header"
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
