package driver

import (
	"syscall"
	"testing"

	"github.com/ibctl/ibctl/driver/store"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// TestCountersAllocatedOnFirstOpen: an interface (ib0.7fff, in the
// default partition)'s counters exist from
// its first open on. Before, it reads as zero everywhere they are read
// (the link's statistics and ethtool -S); after, the endpoint counts into
// them, also when the change that opened it was rolled back, and they
// are kept across endpoints.
func TestCountersAllocatedOnFirstOpen(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, n *Node, fs *store.FaultFS, dir string) *Node // returns the node to read
		allocated bool
		txPackets uint64 // ib0.7fff's
	}{
		{"created", func(t *testing.T, n *Node, _ *store.FaultFS, _ string) *Node { return n }, false, 0},
		{"restored", func(t *testing.T, n *Node, _ *store.FaultFS, dir string) *Node {
			n.d.st.Close()
			st := openStore(t, dir)
			t.Cleanup(func() { st.Close() })
			_, n = newTestDriver(t, st)
			return n
		}, false, 0},
		{"failed up", func(t *testing.T, n *Node, fs *store.FaultFS, _ string) *Node {
			fs.Inject(store.Fault{Op: store.OpWrite, Name: "journal.log", Err: syscall.ENOSPC})
			wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0.7fff", Up: ptr(true)}), unix.ENOSPC)
			fs.Clear()
			return n
		}, true, 0},
		{"up, ping, down, up", func(t *testing.T, n *Node, _ *store.FaultFS, _ string) *Node {
			n1, _ := n.d.Node("node1")
			for i, n := range []*Node{n, n1} {
				wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
				if i == 1 {
					wantErrno(t, n.CreateChild("ib0", 0x7fff), 0)
				}
				wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0.7fff", Up: ptr(true)}), 0)
				addAddr(t, n, "ib0.7fff", []string{"10.0.0.1/24", "10.0.0.2/24"}[i])
			}
			mustPing(t, n, [4]byte{10, 0, 0, 2}, 1)
			wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0.7fff", Up: ptr(false)}), 0)
			wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0.7fff", Up: ptr(true)}), 0)
			return n
		}, true, 2}, // the ARP request and the echo request
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, dir := &store.FaultFS{}, t.TempDir()
			st, err := store.OpenOptions(dir, store.Options{FS: fs, Dict: StoreDict()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			_, n := newTestDriver(t, st)
			wantErrno(t, n.CreateChild("ib0", 0x7fff), 0)
			n = tc.setup(t, n, fs, dir)
			l := mustLink(t, n, "ib0.7fff")
			if got := l.Stats.TxPackets; got != tc.txPackets {
				t.Errorf("tx_packets %d, want %d", got, tc.txPackets)
			}
			if tc.txPackets == 0 && l.Stats != (netlinkx.Stats{}) {
				t.Errorf("link statistics %+v, want zero", l.Stats)
			}
			stats, err := n.Stats("ib0.7fff")
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range stats {
				if want := map[string]uint64{"tx_packets": tc.txPackets}[s.Name]; s.Value != want && (s.Name == "tx_packets" || tc.txPackets == 0) {
					t.Errorf("ethtool -S %s = %d, want %d", s.Name, s.Value, want)
				}
			}
			nd := n.byName["ib0.7fff"]
			if got := nd.counters != nil; got != tc.allocated {
				t.Errorf("counters allocated %v, want %v", got, tc.allocated)
			}
			if nd.dp != nil && nd.dp.Stats() != nd.counters {
				t.Errorf("the endpoint counts into %p, the interface reads %p", nd.dp.Stats(), nd.counters)
			}
		})
	}
}
