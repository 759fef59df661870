package driver

import (
	"fmt"
	"testing"

	"github.com/ibctl/ibctl/driver/store"
	"github.com/ibctl/ibctl/netlinkx"
)

// scaleSizes are the child counts of the scaling benchmarks: ns/child
// stays flat across them when every step is linear. 32767 is every
// P_Key a parent can have children with.
var scaleSizes = []int{1024, 4096, 32767}

// childPKeys returns the P_Keys 0x0001 up to n, written to create_child:
// all 32767 are distinct children (0x7fff stores 0xffff, the parent's
// P_Key, which create_child checks only as written).
func childPKeys(n int) []uint16 {
	out := make([]uint16, n)
	for i := range out {
		out[i] = uint16(i + 1)
	}
	return out
}

// benchNode is node0 of a driver saving to a fresh store in a batch (the
// Deferred handle, as a -b batch gets).
func benchNode(b *testing.B) *Node {
	b.Helper()
	st, err := store.OpenOptions(b.TempDir(), store.Options{Dict: StoreDict()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	d, err := New(Options{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	n, _ := d.Node("node0")
	return n.Deferred()
}

// BenchmarkCreateChild writes n P_Keys to ib0's create_child and deletes
// them again through delete_child per op; only the creations are timed.
func BenchmarkCreateChild(b *testing.B) {
	for _, size := range scaleSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			n, pkeys := benchNode(b), childPKeys(size)
			b.ResetTimer()
			for range b.N {
				for _, p := range pkeys {
					if err := n.CreateChild("ib0", p); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				for _, p := range pkeys {
					if err := n.DeleteChild("ib0", p|0x8000); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/child")
		})
	}
}

// BenchmarkDeleteChild is BenchmarkCreateChild with the deletions timed.
func BenchmarkDeleteChild(b *testing.B) {
	for _, size := range scaleSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			n, pkeys := benchNode(b), childPKeys(size)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for _, p := range pkeys {
					if err := n.CreateChild("ib0", p); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				for _, p := range pkeys {
					if err := n.DeleteChild("ib0", p|0x8000); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/child")
		})
	}
}

// BenchmarkNewLinkDefaultName adds n children with `link add` without a
// name (ipoib0, ipoib1, ...) and deletes them per op; the additions are
// timed.
func BenchmarkNewLinkDefaultName(b *testing.B) {
	for _, size := range scaleSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			n := benchNode(b)
			ib0, err := n.Link(0, "ib0")
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				for range size {
					if err := n.NewLink(netlinkx.LinkRequest{ParentIndex: ib0.Index, Kind: "ipoib"}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				for i := range size {
					if err := n.DelLink(0, fmt.Sprintf("ipoib%d", i)); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/child")
		})
	}
}
