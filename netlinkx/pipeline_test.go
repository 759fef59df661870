package netlinkx

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// errnoOfPending is the errno a request sent with Send failed with, 0
// when it succeeded.
func errnoOfPending(t *testing.T, p *Pending) unix.Errno {
	t.Helper()
	err := p.Wait()
	if err == nil {
		return 0
	}
	var e unix.Errno
	if !errors.As(err, &e) {
		t.Fatalf("error without an errno: %v", err)
	}
	return e
}

// TestBatchStop: in BatchStop mode the first request that fails makes the
// driver refuse every later one with ECANCELED without running it (a
// bind as well), until the mode is set again; in BatchOn mode every
// request runs. The requests are all sent before any reply is read.
func TestBatchStop(t *testing.T) {
	bad := uint16(0x8000) // the fake node refuses this P_Key
	add := func(name string) LinkRequest { return LinkRequest{Name: name, Kind: "ipoib"} }
	for _, tc := range []struct {
		name      string
		stop      bool
		reqs      []LinkRequest // NewLink requests; the one named "bad" fails
		bindAfter bool          // a Bind and a SysWrite follow them
		want      []unix.Errno  // each request's outcome, then the Bind's and the SysWrite's
		added     []string      // the links the node created
		resumed   []string      // created after Batch(true) and one more NewLink "z"
	}{
		{"stop: later requests refused", true,
			[]LinkRequest{add("a"), {Name: "bad", Kind: "ipoib", PKey: &bad}, add("b"), add("c")}, true,
			[]unix.Errno{0, unix.EINVAL, unix.ECANCELED, unix.ECANCELED, unix.ECANCELED, unix.ECANCELED},
			[]string{"a"}, []string{"a", "z"}},
		{"stop: first request fails", true,
			[]LinkRequest{{Name: "bad", Kind: "ipoib", PKey: &bad}, add("a")}, false,
			[]unix.Errno{unix.EINVAL, unix.ECANCELED},
			nil, []string{"z"}},
		{"stop: nothing fails", true,
			[]LinkRequest{add("a"), add("b")}, true,
			[]unix.Errno{0, 0, 0, 0},
			[]string{"a", "b"}, []string{"a", "b", "z"}},
		{"on: every request runs", false,
			[]LinkRequest{add("a"), {Name: "bad", Kind: "ipoib", PKey: &bad}, add("b"), add("c")}, true,
			[]unix.Errno{0, unix.EINVAL, 0, 0, 0, 0},
			[]string{"a", "b", "c"}, []string{"a", "b", "c", "z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, n := newPipe(t)
			if tc.stop {
				ok, err := c.BatchStop()
				if err != nil || !ok {
					t.Fatalf("BatchStop: %v, %v; want true, nil", ok, err)
				}
			} else if err := c.Batch(true); err != nil {
				t.Fatal(err)
			}
			var ps []*Pending
			for _, r := range tc.reqs {
				ps = append(ps, c.SendNewLink(r))
			}
			if tc.bindAfter {
				ae := netlink.NewAttributeEncoder()
				ae.String(wire.AttrNode, "node0")
				ps = append(ps, c.Send(wire.FamilyIbctl, 0, append(wire.GenlHeader(wire.CmdBind), wire.Encode(ae)...)))
				ps = append(ps, c.SendSysWrite("class/net/ib0/create_child", []byte("0x8001\n")))
			}
			var got []unix.Errno
			for _, p := range ps {
				got = append(got, errnoOfPending(t, p))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			names := func() []string {
				var out []string
				for _, r := range n.added {
					out = append(out, r.Name)
				}
				return out
			}
			if diff := cmp.Diff(tc.added, names()); diff != "" {
				t.Errorf("links created (-want +got):\n%s", diff)
			}
			if err := c.Batch(true); err != nil {
				t.Fatalf("Batch(true) after the requests: %v", err)
			}
			if err := c.NewLink(add("z")); err != nil {
				t.Fatalf("NewLink after Batch(true): %v", err)
			}
			if diff := cmp.Diff(tc.resumed, names()); diff != "" {
				t.Errorf("links created after Batch(true) (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSendManyAhead: far more requests than the socket buffers hold can be
// sent before any reply is read; Send reads the oldest replies when
// maxInFlight are in flight, so neither side waits for the other forever.
// Each outcome is its own request's, in order.
func TestSendManyAhead(t *testing.T) {
	c, n := newPipe(t)
	const count = 5000
	bad := uint16(0x8000)
	var ps []*Pending
	for i := range count {
		r := LinkRequest{Name: fmt.Sprintf("c%d", i), Kind: "ipoib"}
		if i%1000 == 999 {
			r.PKey = &bad
		}
		ps = append(ps, c.SendNewLink(r))
	}
	for i, p := range ps {
		want := unix.Errno(0)
		if i%1000 == 999 {
			want = unix.EINVAL
		}
		if got := errnoOfPending(t, p); got != want {
			t.Fatalf("request %d: errno %v, want %v", i, got, want)
		}
	}
	if len(n.added) != count-count/1000 || n.added[0].Name != "c0" || n.added[len(n.added)-1].Name != fmt.Sprintf("c%d", count-2) {
		t.Fatalf("%d links created, first %q, last %q", len(n.added), n.added[0].Name, n.added[len(n.added)-1].Name)
	}
	// A request with Execute after them is answered as usual.
	if _, err := c.Link("ib0"); err != nil {
		t.Fatalf("Link after the requests sent ahead: %v", err)
	}
}
