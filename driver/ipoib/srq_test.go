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

// The passive connections' SRQ has recv_queue_size (256) WRs of 65524
// bytes: only an interface that receives connections has it, from its
// first passive connection until its last is gone (the driver runs every
// node of the fabric, where the kernel allocates it with each interface
// in ipoib_cm_dev_init). Its WRs borrow their buffers when a message
// lands and give them back once it is delivered, so a connection costs
// the messages in flight, not the kernel's 16 MiB. The sending side's
// connections receive nothing and have no WRs. A connection after the
// SRQ was freed gets a new one and delivers.
func TestSRQBuffersOnlyWhileReceiving(t *testing.T) {
	tp := newTestPair(t, true)
	before := heapMiB()
	tp.connect()
	wrs := func(ep *Endpoint) int {
		ep.cm.mu.Lock()
		defer ep.cm.mu.Unlock()
		return len(ep.cm.bufs)
	}
	if n0, n1 := wrs(tp.n0.ep), wrs(tp.n1.ep); n0 != 0 || n1 != 256 {
		t.Fatalf("SRQ WRs: sender %d, receiver %d; want 0, 256", n0, n1)
	}
	if got := tp.n1.waitRx(1); got != 1 {
		t.Fatalf("node1 delivered %d packets, want 1", got)
	}
	// the connection's QPs and one lent buffer, not 256 of them
	if grown := heapMiB() - before; grown > 2 {
		t.Fatalf("heap grew by %.1f MiB with one connection, want at most 2", grown)
	}
	tp.n1.ep.cm.mu.Lock()
	srq := tp.n1.ep.cm.srq
	tp.n1.ep.cm.mu.Unlock()
	tp.advance(cmRxTimeout + 1)
	if n := tp.n1.ep.ReapStale(); n != 1 {
		t.Fatalf("reaped %d passive connections, want 1", n)
	}
	tp.Settle()
	if n := wrs(tp.n1.ep); n != 0 {
		t.Fatalf("receiver keeps %d SRQ WRs after its last connection", n)
	}
	if n := srq.Len(); n != 0 {
		t.Fatalf("the freed SRQ holds %d posted WRs, want none: it is destroyed", n)
	}
	// node0's connection was reaped by node1: it reconnects
	tp.advance(cmRxTimeout)
	tp.Settle()
	tp.send(1)
	tp.Settle()
	if n := wrs(tp.n1.ep); n != 256 {
		t.Fatalf("receiver has %d SRQ WRs after a new connection, want 256", n)
	}
	if got := tp.n1.waitRx(2); got != 2 {
		t.Fatalf("node1 delivered %d packets, want 2", got)
	}
}
