package driver

import (
	"encoding/binary"
	"github.com/ibctl/ibctl/driver/ipoib"
	"net/netip"
	"runtime"
	"testing"

	"github.com/ibctl/ibctl/driver/header"
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

// stream sends b.N packets, keeping at most half the receiver's ring in
// flight, and reports packets/s, bytes/s and receive-CQ events per packet.
func stream(b *testing.B, src, dst *ipoib.Endpoint, hw header.HWAddr, pkt []byte) {
	window := uint64(dst.RecvQueueSize() / 2)
	rx0 := dst.Stats().RxPackets()
	ev0 := dst.RecvCQStats().Events
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for uint64(i)-(dst.Stats().RxPackets()-rx0) >= window {
			runtime.Gosched()
		}
		if err := src.WritePacket(pkt, hw); err != nil {
			b.Fatal(err)
		}
	}
	for dst.Stats().RxPackets()-rx0 < uint64(b.N) {
		runtime.Gosched()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(dst.RecvCQStats().Events-ev0)/float64(b.N), "events/pkt")
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
	src, dst := make([]byte, 65536), make([][]byte, n)
	for i := range dst {
		dst[i] = make([]byte, 65536)
	}
	b.SetBytes(65536)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(dst[i%n], src)
	}
}
