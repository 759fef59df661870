package driver

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// fabricSizes are the node counts of the fabric scaling benchmarks:
// ns/node and B/node stay flat across them when bring-up is linear.
var fabricSizes = []int{64, 512, 1024, 4096}

// nodeAddr is node i's address on ib0: 10.0.0.0/16 numbered from 1.
func nodeAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte((i + 1) >> 8), byte(i + 1)})
}

// largeFabric is a driver over the nodes shorthand's fabric of n nodes
// in the default partition, without a store.
func largeFabric(tb testing.TB, n int) *Driver {
	tb.Helper()
	d, err := New(Options{Topology: &fabric.Topology{Nodes: fabricNodes(tb, n),
		Partitions: []fabric.Partition{{PKey: "0xffff", MTU: 2048, All: "full"}}}})
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// fabricNodes is what `"nodes": n` reads as.
func fabricNodes(tb testing.TB, n int) fabric.NodeList {
	var l fabric.NodeList
	if err := l.UnmarshalJSON([]byte(fmt.Sprint(n))); err != nil {
		tb.Fatal(err)
	}
	return l
}

// bringDown sets every node's ib0 down again: its endpoint closes and
// its poller ends, so that the driver can go.
func bringDown(tb testing.TB, d *Driver) {
	tb.Helper()
	for _, name := range d.NodeNames() {
		n, _ := d.Node(name)
		if err := n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(false)}); err != nil {
			tb.Fatal(err)
		}
	}
}

// bringUp sets every node's ib0 up and gives it its address.
func bringUp(tb testing.TB, d *Driver) {
	tb.Helper()
	for i, name := range d.NodeNames() {
		n, err := d.Node(name)
		if err != nil {
			tb.Fatal(err)
		}
		if err := n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}); err != nil {
			tb.Fatal(err)
		}
		l, err := n.Link(0, "ib0")
		if err != nil {
			tb.Fatal(err)
		}
		if err := n.AddAddr(netlinkx.Addr{Index: l.Index, Family: unix.AF_INET, PrefixLen: 16, Local: nodeAddr(i).AsSlice()}); err != nil {
			tb.Fatal(err)
		}
	}
}

// heapInuse is the heap in use after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// cpuTime is the CPU time the process has used, user and system: the
// work done, whatever else the machine runs meanwhile.
func cpuTime(tb testing.TB) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cost is what bringing up a fabric took.
type cost struct {
	wall, cpu time.Duration
	heap      uint64
}

// bringUpCost builds an n-node fabric and brings up and addresses every
// ib0, and returns the time that took (the collection before it
// excluded) and the heap the driver holds afterwards; the driver is taken
// down again, untimed.
func bringUpCost(b *testing.B, n int) cost {
	b.StopTimer()
	before := heapInuse()
	b.StartTimer()
	start, cpu := time.Now(), cpuTime(b)
	d := largeFabric(b, n)
	bringUp(b, d)
	c := cost{wall: time.Since(start), cpu: cpuTime(b) - cpu}
	b.StopTimer()
	c.heap = heapInuse() - before
	bringDown(b, d)
	b.StartTimer()
	return c
}

// BenchmarkFabricBringUp builds a fabric of n nodes (driver, subnet
// manager, one netdev per port) and brings up and addresses every ib0,
// per op; it reports the time, the CPU time and the heap the driver
// holds afterwards per node.
func BenchmarkFabricBringUp(b *testing.B) {
	for _, size := range fabricSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			var sum cost
			for range b.N {
				c := bringUpCost(b, size)
				sum.wall, sum.cpu, sum.heap = sum.wall+c.wall, sum.cpu+c.cpu, sum.heap+c.heap
			}
			nodes := float64(b.N * size)
			b.ReportMetric(float64(sum.wall.Nanoseconds())/nodes, "ns/node")
			b.ReportMetric(float64(sum.cpu.Nanoseconds())/nodes, "cpu-ns/node")
			b.ReportMetric(float64(sum.heap)/nodes, "B/node")
		})
	}
}

// firstPing pings node1 from node0 with no neighbour entry for it: the
// ARP request goes to every member of the broadcast group, node1
// answers, the echo follows. The entry is deleted again afterwards
// (ip neigh del), untimed; the time of the ping is returned.
func firstPing(b *testing.B, d *Driver) time.Duration {
	n0, _ := d.Node("node0")
	l, err := n0.Link(0, "ib0")
	if err != nil {
		b.Fatal(err)
	}
	dst := nodeAddr(1).AsSlice()
	start := time.Now()
	if rep, err := n0.Ping(netlinkx.PingRequest{Dst: dst, Size: 56, TimeoutMs: 10000}); err != nil || rep.Status != netlinkx.PingReplied {
		b.Fatalf("ping: %+v %v", rep, err)
	}
	took := time.Since(start)
	b.StopTimer()
	if err := n0.DelNeigh(netlinkx.Neigh{Index: l.Index, Family: unix.AF_INET, Dst: dst}); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	return took
}

// BenchmarkFabricFirstPing is one first ping (firstPing) per op on a
// partition of n nodes, built once per size.
func BenchmarkFabricFirstPing(b *testing.B) {
	for _, size := range append([]int{2}, fabricSizes...) {
		d := largeFabric(b, size)
		bringUp(b, d)
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				firstPing(b, d)
			}
		})
		bringDown(b, d)
	}
}

// BenchmarkFabricRows measures the fabric rows of the performance table
// against baselines taken in the same run: bringing up and addressing
// every ib0 of 1024 nodes (s-1024, cpu-s-1024, KiB/node-1024; target 1 s
// and 128 KiB a node), with its CPU time per node as a ratio to a 64-node
// fabric's (x-node-vs-64: 1 when linear); and the first ping on a 512-node
// partition (ms-512; target 2 ms) as a ratio to one on a 2-node
// partition (x-ping-vs-2), each the mean of 20 (the entry deleted
// between them).
func BenchmarkFabricRows(b *testing.B) {
	const pingRounds = 20 // first pings per partition, their mean taken
	var up64, up1024 cost
	var ping2, ping512 time.Duration
	for range b.N {
		c := bringUpCost(b, 64)
		up64.wall, up64.cpu = up64.wall+c.wall, up64.cpu+c.cpu
		c = bringUpCost(b, 1024)
		up1024.wall, up1024.cpu, up1024.heap = up1024.wall+c.wall, up1024.cpu+c.cpu, up1024.heap+c.heap
		for _, size := range []int{2, 512} {
			b.StopTimer()
			d := largeFabric(b, size)
			bringUp(b, d)
			b.StartTimer()
			var t time.Duration
			for range pingRounds {
				t += firstPing(b, d)
			}
			if size == 2 {
				ping2 += t / pingRounds
			} else {
				ping512 += t / pingRounds
			}
			b.StopTimer()
			bringDown(b, d)
			b.StartTimer()
		}
	}
	n := float64(b.N)
	b.ReportMetric(up1024.wall.Seconds()/n, "s-1024")
	b.ReportMetric(up1024.cpu.Seconds()/n, "cpu-s-1024")
	b.ReportMetric(float64(up1024.heap)/1024/1024/n, "KiB/node-1024")
	b.ReportMetric((float64(up1024.cpu)/1024)/(float64(up64.cpu)/64), "x-node-vs-64")
	b.ReportMetric(float64(ping512.Microseconds())/1e3/n, "ms-512")
	b.ReportMetric(float64(ping512)/float64(ping2), "x-ping-vs-2")
}
