package netlinkx

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// pagerNode gives its links a page at a time and records where each page
// started; Links fails, so a dump built whole shows.
type pagerNode struct {
	*fakeNode
	mu     sync.Mutex
	starts []int32
}

func (p *pagerNode) Links() ([]Link, error) { return nil, withMsg(unix.EIO, "dump built whole") }

func (p *pagerNode) LinksFrom(index int32, max int) ([]Link, error) {
	p.mu.Lock()
	p.starts = append(p.starts, index)
	p.mu.Unlock()
	var out []Link
	for _, l := range p.links {
		if l.Index >= index && len(out) < max {
			out = append(out, l)
		}
	}
	return out, nil
}

type pagerBackend struct {
	*fakeBackend
	node *pagerNode
}

func (b pagerBackend) Node(string) (Node, error) { return b.node, nil }

// evenLinks are n links with ifindexes 2, 4, 6, ...
func evenLinks(n int) []Link {
	out := make([]Link, n)
	for i := range out {
		out[i] = testLink
		out[i].Index, out[i].Name = int32(2*i+2), fmt.Sprintf("ib0.%04x", i+1)
	}
	return out
}

// TestLinkDumpStreams: a node that pages its links is dumped a page at a
// time, each page starting after the last link of the one before, and
// the client gets every link in order.
func TestLinkDumpStreams(t *testing.T) {
	for _, tc := range []struct {
		n      int
		starts []int32
	}{
		{0, []int32{0}},
		{1, []int32{0}},
		{linkPage - 1, []int32{0}},
		{linkPage, []int32{0, 2*linkPage + 1}},
		{linkPage + 1, []int32{0, 2*linkPage + 1}},
		{3*linkPage + 5, []int32{0, 2*linkPage + 1, 4*linkPage + 1, 6*linkPage + 1}},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			p := &pagerNode{fakeNode: &fakeNode{links: evenLinks(tc.n)}}
			conn, _ := serveBackend(t, pagerBackend{&fakeBackend{}, p})
			got, err := NewClient(conn).Links()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(p.links, got, cmp.Comparer(func(a, b Link) bool { return cmp.Equal(wire.MarshalLink(a), wire.MarshalLink(b)) })); len(got) != len(p.links) || diff != "" {
				t.Fatalf("links (-want +got):\n%s", diff)
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			if !slices.Equal(p.starts, tc.starts) {
				t.Fatalf("pages started at %v, want %v", p.starts, tc.starts)
			}
		})
	}
}

// TestStreamedDumpKeepsOrder: the replies to the messages of one
// datagram come in their order when one of them is a streamed dump.
func TestStreamedDumpKeepsOrder(t *testing.T) {
	p := &pagerNode{fakeNode: &fakeNode{links: evenLinks(2 * linkPage)}}
	raw, _ := serveBackend(t, pagerBackend{&fakeBackend{}, p})
	get, _ := wire.MarshalMessage(netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Acknowledge, Sequence: 1},
		wire.MarshalLinkRequest(LinkRequest{Name: "ib0.0001"}))
	dump, _ := wire.MarshalMessage(netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Acknowledge | netlink.Dump, Sequence: 2},
		wire.Ifinfomsg{}.Marshal())
	get2, _ := wire.MarshalMessage(netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Acknowledge, Sequence: 3},
		wire.MarshalLinkRequest(LinkRequest{Name: "ib0.0002"}))
	if _, err := raw.Write(slices.Concat(get, dump, get2)); err != nil {
		t.Fatal(err)
	}
	var got []string
	buf := make([]byte, maxDatagram)
	for len(got) == 0 || got[len(got)-1] != "3 ack" {
		n, err := raw.Read(buf)
		if err != nil {
			t.Fatalf("read after %v: %v", got, err)
		}
		if n > packLimit {
			t.Fatalf("datagram of %d bytes, above %d", n, packLimit)
		}
		msgs, err := wire.ParseMessages(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			s := fmt.Sprint(m.Header.Sequence) + " "
			switch m.Header.Type {
			case netlink.Done:
				s += "done"
			case netlink.Error:
				s += "ack"
			default:
				l, err := wire.UnmarshalLink(m.Data)
				if err != nil {
					t.Fatal(err)
				}
				s += l.Name
			}
			got = append(got, s)
		}
	}
	want := []string{"1 ib0.0001", "1 ack"}
	for _, l := range p.links {
		want = append(want, "2 "+l.Name)
	}
	want = append(want, "2 done", "3 ib0.0002", "3 ack")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("replies (-want +got):\n%s", diff)
	}
}
