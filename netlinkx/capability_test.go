package netlinkx

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// capNode is a fakeNode with every optional capability; it counts the
// calls each one gets.
type capNode struct {
	*fakeNode
	mu    sync.Mutex
	calls map[string]int
}

func (n *capNode) called(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls[name]++
}

func (n *capNode) count(name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls[name]
}

func (n *capNode) Addrs() ([]Addr, error)   { n.called("Addrs"); return nil, nil }
func (n *capNode) AddAddr(Addr) error       { n.called("AddAddr"); return nil }
func (n *capNode) DelAddr(Addr) error       { n.called("DelAddr"); return nil }
func (n *capNode) Neighs() ([]Neigh, error) { n.called("Neighs"); return nil, nil }
func (n *capNode) DelNeigh(Neigh) error     { n.called("DelNeigh"); return nil }
func (n *capNode) Maddrs() ([]Maddr, error) { n.called("Maddrs"); return nil, nil }
func (n *capNode) RouteGet([]byte) (Route, error) {
	n.called("RouteGet")
	return Route{}, nil
}
func (n *capNode) Ping(PingRequest) (PingReply, error) { n.called("Ping"); return PingReply{}, nil }
func (n *capNode) PerfContext(context.Context, PerfRequest) (PerfReply, error) {
	n.called("PerfContext")
	return PerfReply{}, nil
}
func (n *capNode) Log(uint64) ([]LogRecord, error) { n.called("Log"); return nil, nil }
func (n *capNode) ClearLog(uint64) error           { n.called("ClearLog"); return nil }
func (n *capNode) Deferred() Node                  { n.called("Deferred"); return n }

// capBackend serves a capNode and has a subnet manager.
type capBackend struct {
	fakeBackend
	n *capNode
}

func (b *capBackend) Node(string) (Node, error) { return b.n, nil }
func (b *capBackend) SMInfo() SMInfo            { b.n.called("SMInfo"); return SMInfo{} }

var (
	_ AddrNode    = (*capNode)(nil)
	_ MaddrNode   = (*capNode)(nil)
	_ RouteGetter = (*capNode)(nil)
	_ Pinger      = (*capNode)(nil)
	_ Perfer      = (*capNode)(nil)
	_ Logger      = (*capNode)(nil)
	_ LogClearer  = (*capNode)(nil)
	_ Deferrer    = (*capNode)(nil)
	_ SMInfoer    = (*capBackend)(nil)
)

// TestOptionalCapabilities: a command whose capability the backend lacks
// answers EOPNOTSUPP with the kernel-style message, and reaches the
// backend's method when it has the capability. A backend without Deferrer
// still runs batches, synced at each change.
func TestOptionalCapabilities(t *testing.T) {
	tests := []struct {
		name   string
		method string // the capability's method the command calls
		call   func(c *Client) error
		lack   string // the extended ack without the capability; "" for success
	}{
		{"ip address", "Addrs", func(c *Client) error { _, err := c.Addrs(); return err }, "this node has no IP stack"},
		{"ip address add", "AddAddr", func(c *Client) error {
			return c.AddAddr(Addr{Family: unix.AF_INET, Index: 2, PrefixLen: 24, Local: []byte{10, 0, 0, 1}})
		}, "this node has no IP stack"},
		{"ip neigh", "Neighs", func(c *Client) error { _, err := c.Neighs(); return err }, "this node has no IP stack"},
		{"ip maddr", "Maddrs", func(c *Client) error { _, err := c.Maddrs(); return err }, "this node keeps no multicast lists"},
		{"ip route get", "RouteGet", func(c *Client) error { _, err := c.RouteGet([]byte{10, 0, 0, 2}); return err }, "this node has no IP stack"},
		{"ping", "Ping", func(c *Client) error { _, err := c.Ping(PingRequest{Dst: []byte{10, 0, 0, 2}}); return err }, "this node has no IP stack"},
		{"perf", "PerfContext", func(c *Client) error { _, err := c.Perf(PerfRequest{Dst: []byte{10, 0, 0, 2}}); return err }, "this node has no IP stack"},
		{"dmesg", "Log", func(c *Client) error { _, err := c.Dmesg(0); return err }, "this node keeps no kernel log"},
		{"dmesg -c", "ClearLog", func(c *Client) error { return c.DmesgClear(7) }, "this node keeps no kernel log"},
		{"ip neigh flush", "DelNeigh", func(c *Client) error {
			return c.DelNeigh(Neigh{Index: 2, Family: unix.AF_INET, Dst: []byte{10, 0, 0, 2}})
		}, "this node has no IP stack"},
		{"sm show", "SMInfo", func(c *Client) error { _, err := c.SMInfo(); return err }, "no subnet manager"},
		{"batch", "Deferred", func(c *Client) error { return c.Batch(true) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			without, err := Pipe(&fakeBackend{node: &fakeNode{links: []Link{testLink}}})
			if err != nil {
				t.Fatal(err)
			}
			defer without.Close()
			err = tt.call(without)
			if tt.lack == "" {
				if err != nil {
					t.Errorf("without the capability: %v, want success", err)
				}
			} else if oe := (*netlink.OpError)(nil); !errors.As(err, &oe) || oe.Err != unix.EOPNOTSUPP || oe.Message != tt.lack {
				t.Errorf("without the capability: %v, want EOPNOTSUPP %q", err, tt.lack)
			}

			n := &capNode{fakeNode: &fakeNode{links: []Link{testLink}}, calls: map[string]int{}}
			with, err := Pipe(&capBackend{n: n})
			if err != nil {
				t.Fatal(err)
			}
			defer with.Close()
			if err := tt.call(with); err != nil {
				t.Errorf("with the capability: %v", err)
			}
			if got := n.count(tt.method); got != 1 {
				t.Errorf("with the capability: %s called %d times, want 1", tt.method, got)
			}
		})
	}
}
