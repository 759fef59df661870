package ipoib

import (
	"runtime"
	"testing"
)

// heapMiB is the live heap after a collection, in MiB.
func heapMiB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// The passive connections' SRQ holds recv_queue_size (256) buffers of
// 65524 bytes, 16 MiB: only an interface that receives connections has
// them, from its first passive connection until its last is gone (the
// driver runs every node of the fabric, where the kernel allocates them
// with each interface in ipoib_cm_dev_init). The sending side's
// connections receive nothing and hold no buffers. A connection after
// the buffers were freed gets new ones and delivers.
func TestSRQBuffersOnlyWhileReceiving(t *testing.T) {
	tp := newTestPair(t, true)
	tp.connect()
	bufs := func(ep *Endpoint) int {
		ep.cm.mu.Lock()
		defer ep.cm.mu.Unlock()
		return len(ep.cm.bufs)
	}
	if n0, n1 := bufs(tp.n0.ep), bufs(tp.n1.ep); n0 != 0 || n1 != 256 {
		t.Fatalf("SRQ buffers: sender %d, receiver %d; want 0, 256", n0, n1)
	}
	if got := tp.n1.waitRx(1); got != 1 {
		t.Fatalf("node1 delivered %d packets, want 1", got)
	}
	before := heapMiB()
	tp.clk.Advance(cmRxTimeout + 1)
	if n := tp.n1.ep.ReapStale(); n != 1 {
		t.Fatalf("reaped %d passive connections, want 1", n)
	}
	tp.settle()
	if n := bufs(tp.n1.ep); n != 0 {
		t.Fatalf("receiver keeps %d SRQ buffers after its last connection", n)
	}
	// the 16 MiB are garbage now (the poller may hold a batch of them
	// until its next wake-up: allow 1 MiB)
	if freed := before - heapMiB(); freed < 15 {
		t.Fatalf("heap shrank by %.1f MiB after the last passive connection, want 16", freed)
	}
	// node0's connection was reaped by node1: it reconnects
	tp.clk.Advance(cmRxTimeout)
	tp.settle()
	tp.send(1)
	tp.settle()
	if n := bufs(tp.n1.ep); n != 256 {
		t.Fatalf("receiver has %d SRQ buffers after a new connection, want 256", n)
	}
	if got := tp.n1.waitRx(2); got != 2 {
		t.Fatalf("node1 delivered %d packets, want 2", got)
	}
}
