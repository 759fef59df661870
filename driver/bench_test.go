package driver

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// benchPair is two nodes' ib0 up with addresses, node0 resolved to node1.
func benchPair(b *testing.B, mode uint16, params map[string]int) (src, dst *ipoib.Endpoint, hw header.HWAddr) {
	b.Helper()
	d, err := New(Options{Params: params})
	if err != nil {
		b.Fatal(err)
	}
	n0, _ := d.Node("node0")
	n1, _ := d.Node("node1")
	for i, n := range []*Node{n0, n1} {
		if err := n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}); err != nil {
			b.Fatal(err)
		}
		if err := n.SetMode("ib0", mode); err != nil {
			b.Fatal(err)
		}
		l, _ := n.Link(0, "ib0")
		ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
		if err := n.AddAddr(netlinkx.Addr{Index: l.Index, Family: unix.AF_INET, PrefixLen: 24, Local: ip.AsSlice()}); err != nil {
			b.Fatal(err)
		}
	}
	if rep, err := n0.Ping(netlinkx.PingRequest{Dst: []byte{10, 0, 0, 2}, Size: 56, TimeoutMs: 10000}); err != nil || rep.Status != netlinkx.PingReplied {
		b.Fatalf("ping: %+v %v", rep, err)
	}
	d.mu.Lock()
	src, dst = n0.byName["ib0"].dp, n1.byName["ib0"].dp
	d.mu.Unlock()
	l1, _ := n1.Link(0, "ib0")
	copy(hw[:], l1.Address)
	return src, dst, hw
}

// udpPacket is an IPoIB packet carrying a UDP datagram of size bytes.
func udpPacket(size int) []byte {
	pkt := make([]byte, header.IPoIBHeaderLen+header.IPv4MinHeaderLen+8+size)
	header.IPoIB(pkt).Encode(header.EtherTypeIPv4)
	ip := pkt[header.IPoIBHeaderLen:]
	header.EncodeIPv4(ip, header.IPv4Fields{TotalLength: uint16(len(ip)), TTL: 64, Protocol: unix.IPPROTO_UDP,
		Src: [4]byte{10, 0, 0, 1}, Dst: [4]byte{10, 0, 0, 2}})
	binary.BigEndian.PutUint16(ip[header.IPv4MinHeaderLen+4:], uint16(8+size))
	return pkt
}

// stream sends b.N packets (sendAll) and reports packets/s, bytes/s and
// receive-CQ events per packet.
func stream(b *testing.B, src, dst *ipoib.Endpoint, hw header.HWAddr, pkt []byte) {
	ev0 := dst.RecvCQStats().Events
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	sendAll(b, src, dst, hw, pkt, b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(dst.RecvCQStats().Events-ev0)/float64(b.N), "events/pkt")
}

// sendAll sends n packets from src to dst, keeping at most half the
// receiver's ring in flight, and returns once dst has received them all.
// The receiver's counter is read only when the window looks full: read
// for every packet, its cache line would move from the poller's CPU to
// the sender's each time, a cost no real sender has.
func sendAll(b *testing.B, src, dst *ipoib.Endpoint, hw header.HWAddr, pkt []byte, n int) {
	window := uint64(dst.RecvQueueSize() / 2)
	rx0 := dst.Stats().RxPackets()
	var rx uint64 // packets received, as last read
	for i := uint64(0); i < uint64(n); i++ {
		for i-rx >= window {
			if rx = dst.Stats().RxPackets() - rx0; i-rx >= window {
				runtime.Gosched()
			}
		}
		if err := src.WritePacket(pkt, hw); err != nil {
			b.Fatal(err)
		}
	}
	for dst.Stats().RxPackets()-rx0 < uint64(n) {
		runtime.Gosched()
	}
}

// BenchmarkDatagram2044 streams 2044-byte IP packets over UD.
func BenchmarkDatagram2044(b *testing.B) {
	src, dst, hw := benchPair(b, netlinkx.ModeDatagram, nil)
	stream(b, src, dst, hw, udpPacket(2044-header.IPv4MinHeaderLen-8))
}

// BenchmarkConnected64K streams 64 KiB messages (65520-byte IP packets,
// the connected-mode MTU) over the RC connection, with the default
// recv_queue_size (256): the SRQ's buffers are 16 MiB, so the receive
// copy, the one copy the data path makes, writes memory that has left
// the CPU's caches.
func BenchmarkConnected64K(b *testing.B) {
	src, dst, hw := benchPair(b, netlinkx.ModeConnected, nil)
	stream(b, src, dst, hw, udpPacket(maxMTU-header.IPv4MinHeaderLen-8))
}

// BenchmarkConnected64KRecvQueue32 is BenchmarkConnected64K with
// recv_queue_size=32: 2 MiB of SRQ buffers, which stay in cache.
func BenchmarkConnected64KRecvQueue32(b *testing.B) {
	src, dst, hw := benchPair(b, netlinkx.ModeConnected, map[string]int{"recv_queue_size": 32})
	stream(b, src, dst, hw, udpPacket(maxMTU-header.IPv4MinHeaderLen-8))
}

// BenchmarkMemcpy64K is the baseline for BenchmarkConnected64K: one core
// copying 64 KiB between two buffers that stay in cache.
func BenchmarkMemcpy64K(b *testing.B) {
	memcpyRing(b, 1)
}

// BenchmarkMemcpy64KRing256 copies 64 KiB into each of 256 buffers in
// turn, as the receive copy fills the default SRQ: the floor for
// BenchmarkConnected64K.
func BenchmarkMemcpy64KRing256(b *testing.B) {
	memcpyRing(b, 256)
}

// memcpyRing copies a 64 KiB buffer into n 64 KiB buffers round robin.
func memcpyRing(b *testing.B, n int) {
	r := newCopyRing(n)
	b.SetBytes(65536)
	b.ReportAllocs()
	b.ResetTimer()
	r.copyN(b.N)
}

// copyRing is a 64 KiB source and the ring of 64 KiB buffers it is
// copied into in turn.
type copyRing struct {
	src  []byte
	dst  [][]byte
	next int
}

func newCopyRing(n int) *copyRing {
	r := &copyRing{src: make([]byte, 65536), dst: make([][]byte, n)}
	for i := range r.dst {
		r.dst[i] = make([]byte, 65536)
	}
	return r
}

// copyN makes the next n copies.
func (r *copyRing) copyN(n int) {
	for range n {
		copy(r.dst[r.next], r.src)
		if r.next++; r.next == len(r.dst) {
			r.next = 0
		}
	}
}

// BenchmarkConnected64KVsRing is the ring-floor row of the performance
// table as one figure: each op is a round of 2048 messages of
// BenchmarkConnected64K's stream followed by 2048 copies of
// BenchmarkMemcpy64KRing256's, so that both see the machine in the same
// state, and it reports the stream's throughput as a percentage of the
// copy's over all rounds (pct-of-floor; the target is 90 in every run),
// over the slowest tenth of rounds (p10-pct) and the copy's own ns per
// 64 KiB (floor-ns/msg).
func BenchmarkConnected64KVsRing(b *testing.B) {
	const msgs = 2048
	src, dst, hw := benchPair(b, netlinkx.ModeConnected, nil)
	pkt := udpPacket(maxMTU - header.IPv4MinHeaderLen - 8)
	ring := newCopyRing(256)
	var tStream, tCopy time.Duration
	pcts := make([]float64, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		sendAll(b, src, dst, hw, pkt, msgs)
		mid := time.Now()
		ring.copyN(msgs)
		end := time.Now()
		s, c := mid.Sub(start), end.Sub(mid)
		tStream, tCopy = tStream+s, tCopy+c
		pcts = append(pcts, 100*float64(c)/float64(s))
	}
	b.StopTimer()
	sort.Float64s(pcts)
	b.ReportMetric(100*float64(tCopy)/float64(tStream), "pct-of-floor")
	b.ReportMetric(pcts[len(pcts)/10], "p10-pct")
	b.ReportMetric(float64(tCopy.Nanoseconds())/float64(b.N*msgs), "floor-ns/msg")
}
