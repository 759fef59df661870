package driver

import (
	"slices"
	"syscall"
	"testing"

	"github.com/ibctl/ibctl/driver/store"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// TestDevList: devices come out in ifindex order whatever the order of
// adds and removes, a removal undone fills its hole, and removing what is
// not there changes nothing; get finds exactly the devices listed.
func TestDevList(t *testing.T) {
	type step struct {
		add   bool
		index int32
	}
	add := func(i int32) step { return step{true, i} }
	del := func(i int32) step { return step{false, i} }
	tests := []struct {
		name  string
		steps []step
		want  []int32
	}{
		{"empty", nil, []int32{}},
		{"ascending", []step{add(2), add(3), add(7)}, []int32{2, 3, 7}},
		{"out of order", []step{add(7), add(2), add(5), add(3)}, []int32{2, 3, 5, 7}},
		{"remove middle", []step{add(2), add(3), add(4), del(3)}, []int32{2, 4}},
		{"remove undone", []step{add(2), add(3), add(4), del(3), add(3)}, []int32{2, 3, 4}},
		{"remove all, add again", []step{add(2), add(3), del(2), del(3), add(4), add(3)}, []int32{3, 4}},
		{"remove twice", []step{add(2), add(3), del(3), del(3), add(5)}, []int32{2, 5}},
		{"remove absent", []step{add(2), del(9), del(1)}, []int32{2}},
		{"compacted then middle", []step{add(1), add(2), add(3), add(4), add(5), del(1), del(2), del(4), add(2), add(4)}, []int32{2, 3, 4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devs := map[int32]*Netdev{}
			var l devList
			for _, s := range tt.steps {
				nd := devs[s.index]
				if nd == nil {
					nd = &Netdev{index: s.index}
					devs[s.index] = nd
				}
				if s.add {
					l.add(nd)
				} else {
					l.remove(nd)
				}
			}
			got := []int32{}
			for _, nd := range l.list() {
				got = append(got, nd.index)
			}
			if !slices.Equal(got, tt.want) || l.len() != len(tt.want) {
				t.Errorf("list = %v (len %d), want %v", got, l.len(), tt.want)
			}
			var all []int32
			for nd := range l.all() {
				all = append(all, nd.index)
				if len(all) == 2 {
					break
				}
			}
			if w := tt.want[:min(2, len(tt.want))]; !slices.Equal(all, w) {
				t.Errorf("the first two of all = %v, want %v", all, w)
			}
			// get finds every device listed by its ifindex, and nothing
			// at any other (a hole included).
			for index := int32(0); index <= 10; index++ {
				var want *Netdev
				if slices.Contains(tt.want, index) {
					want = devs[index]
				}
				if got := l.get(index); got != want {
					t.Errorf("get(%d) = %v, want %v", index, got, want)
				}
			}
		})
	}
}

// TestDeleteChildSharedPKey: 0x0001 after 0x8001 is a second child with
// the stored P_Key 0x8001 (create_child checks the value as written);
// delete_child 0x8001 removes them in ifindex order, then finds none.
func TestDeleteChildSharedPKey(t *testing.T) {
	_, n := newTestDriver(t, nil)
	wantErrno(t, n.CreateChild("ib0", 0x8001), 0)
	wantErrno(t, n.CreateChild("ib0", 0x0001), 0)
	wantErrno(t, n.CreateChild("ib0", 0x8001), unix.ENOTUNIQ)
	for _, want := range [][]string{
		{"ib0", "ib1", "ib0.0001"},
		{"ib0", "ib1"},
	} {
		wantErrno(t, n.DeleteChild("ib0", 0x8001), 0)
		if got := n.Devices(); !slices.Equal(got, want) {
			t.Fatalf("devices = %q, want %q", got, want)
		}
	}
	wantErrno(t, n.DeleteChild("ib0", 0x8001), unix.ENODEV)
	wantErrno(t, n.CreateChild("ib0", 0x8001), 0)
}

// TestFailedDeleteKeepsChild: a delete_child whose save fails leaves the
// child where it was: listed in ifindex order, taken up and down with its
// parent, and found by the next delete_child.
func TestFailedDeleteKeepsChild(t *testing.T) {
	fs := &store.FaultFS{}
	st, err := store.OpenOptions(t.TempDir(), store.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, n := newTestDriver(t, st)
	for _, p := range []uint16{0x8001, 0x8002, 0x8003} {
		wantErrno(t, n.CreateChild("ib0", p), 0)
	}
	all := []string{"ib0", "ib1", "ib0.8001", "ib0.8002", "ib0.8003"}
	fs.Inject(store.Fault{Op: store.OpWrite, Name: "journal.log", Err: syscall.ENOSPC})
	wantErrno(t, n.DeleteChild("ib0", 0x8002), unix.ENOSPC)
	fs.Clear()
	if got := n.Devices(); !slices.Equal(got, all) {
		t.Fatalf("devices = %q, want %q", got, all)
	}
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	for _, name := range all[2:] {
		if l := mustLink(t, n, name); l.Flags&unix.IFF_UP == 0 {
			t.Errorf("%s not up with its parent", name)
		}
	}
	wantErrno(t, n.DeleteChild("ib0", 0x8002), 0)
	want := []string{"ib0", "ib1", "ib0.8001", "ib0.8003"}
	if got := n.Devices(); !slices.Equal(got, want) {
		t.Fatalf("devices = %q, want %q", got, want)
	}
}

// TestDefaultName: `link add` without a name gets the lowest N for
// which no device is "ipoib%d" of N, as __dev_alloc_name picks it:
// numbers freed by deletions come back first, and names that sscanf
// reads as a number but printf does not give back take none.
func TestDefaultName(t *testing.T) {
	type step struct {
		add  string // a name for link add; "-" for none
		del  string // else a device to delete
		want string // the device the unnamed add created
	}
	unnamed := func(want string) step { return step{add: "-", want: want} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"first", []step{unnamed("ipoib0"), unnamed("ipoib1")}},
		{"lowest after deletions", []step{unnamed("ipoib0"), unnamed("ipoib1"), unnamed("ipoib2"), unnamed("ipoib3"),
			{del: "ipoib2"}, {del: "ipoib1"}, unnamed("ipoib1"), unnamed("ipoib2"), unnamed("ipoib4")}},
		{"named takes its number", []step{{add: "ipoib0"}, {add: "ipoib2"}, unnamed("ipoib1"), unnamed("ipoib3")}},
		{"named deleted frees it", []step{{add: "ipoib0"}, unnamed("ipoib1"), {del: "ipoib0"}, unnamed("ipoib0")}},
		{"not printf's form", []step{{add: "ipoib00"}, {add: "ipoib+1"}, {add: "ipoib-0"}, {add: "ipoib01"}, {add: "ipoib0x"},
			unnamed("ipoib0"), unnamed("ipoib1")}},
		{"beyond one page", []step{{add: "ipoib32768"}, {add: "ipoib99999"}, unnamed("ipoib0")}},
		{"legacy and parents", []step{{add: "ib0.8001"}, {add: "ipoib"}, unnamed("ipoib0")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, n := newTestDriver(t, nil)
			ib0 := mustLink(t, n, "ib0").Index
			for _, s := range tt.steps {
				if s.del != "" {
					wantErrno(t, n.DelLink(0, s.del), 0)
					continue
				}
				before := n.Devices()
				name := s.add
				if name == "-" {
					name = ""
				}
				wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: name, ParentIndex: ib0, Kind: "ipoib"}), 0)
				if s.want == "" {
					continue
				}
				after := n.Devices()
				if got := after[len(after)-1]; len(after) != len(before)+1 || got != s.want {
					t.Fatalf("link add without a name made %q, want %q", got, s.want)
				}
			}
		})
	}
}

// TestDefaultNameExhausted: with ipoib0 to ipoib32767 all taken, a
// name can't be found in one page of bits: ENFILE, nothing created;
// deleting any of them makes that number the next.
func TestDefaultNameExhausted(t *testing.T) {
	_, n := newTestDriver(t, nil)
	ib0 := mustLink(t, n, "ib0").Index
	add := netlinkx.LinkRequest{ParentIndex: ib0, Kind: "ipoib"}
	for range maxIpoibNames {
		wantErrno(t, n.NewLink(add), 0)
	}
	before := len(n.Devices())
	wantErrno(t, n.NewLink(add), unix.ENFILE)
	if got := len(n.Devices()); got != before {
		t.Fatalf("%d devices after ENFILE, want %d", got, before)
	}
	wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "other", ParentIndex: ib0, Kind: "ipoib"}), 0)
	wantErrno(t, n.DelLink(0, "ipoib12345"), 0)
	wantErrno(t, n.NewLink(add), 0)
	mustLink(t, n, "ipoib12345")
}

// TestDefaultNameAfterRestart: the numbers of restored children are
// taken, the gaps between them free.
func TestDefaultNameAfterRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	_, n := newTestDriver(t, st)
	add := netlinkx.LinkRequest{ParentIndex: mustLink(t, n, "ib0").Index, Kind: "ipoib"}
	for range 3 {
		wantErrno(t, n.NewLink(add), 0)
	}
	wantErrno(t, n.DelLink(0, "ipoib1"), 0)
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	_, n = newTestDriver(t, st)
	for _, want := range []string{"ipoib1", "ipoib3"} {
		wantErrno(t, n.NewLink(add), 0)
		if got := n.Devices(); got[len(got)-1] != want {
			t.Fatalf("devices %q, want %s last", got, want)
		}
	}
}

// TestLinksFrom: pages of the link list start at an ifindex, whether a
// device has it or not, and skip deleted devices.
func TestLinksFrom(t *testing.T) {
	_, n := newTestDriver(t, nil)
	for p := uint16(0x8001); p <= 0x8006; p++ {
		wantErrno(t, n.CreateChild("ib0", p), 0) // ifindexes 4 to 9
	}
	wantErrno(t, n.DeleteChild("ib0", 0x8002), 0)
	wantErrno(t, n.DeleteChild("ib0", 0x8003), 0)
	for _, tc := range []struct {
		index int32
		max   int
		want  []string
	}{
		{0, 3, []string{"ib0", "ib1", "ib0.8001"}},
		{4, 2, []string{"ib0.8001", "ib0.8004"}},
		{5, 2, []string{"ib0.8004", "ib0.8005"}},
		{8, 10, []string{"ib0.8005", "ib0.8006"}},
		{10, 10, nil},
	} {
		links, err := n.LinksFrom(tc.index, tc.max)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range links {
			got = append(got, l.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("LinksFrom(%d, %d) = %q, want %q", tc.index, tc.max, got, tc.want)
		}
	}
}

// TestRestoreLegacyChildren: every set of sysfs children create_child
// accepts comes back after a restart, among them two storing one P_Key
// and one storing the parent's, and delete_child removes them in the
// same order as before.
func TestRestoreLegacyChildren(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pkeys []uint16 // written to create_child
		want  []string
		dels  []uint16 // written to delete_child after the restart
	}{
		{"full then limited", []uint16{0x8001, 0x0001}, []string{"ib0", "ib1", "ib0.8001", "ib0.0001"}, []uint16{0x8001, 0x8001}},
		{"parent's once stored", []uint16{0x7fff, 0x8002}, []string{"ib0", "ib1", "ib0.7fff", "ib0.8002"}, []uint16{0xffff, 0x8002}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir)
			_, n := newTestDriver(t, st)
			for _, p := range tc.pkeys {
				wantErrno(t, n.CreateChild("ib0", p), 0)
			}
			st.Close()
			st = openStore(t, dir)
			defer st.Close()
			_, n = newTestDriver(t, st)
			want := tc.want
			if got := n.Devices(); !slices.Equal(got, want) {
				t.Fatalf("devices after restart = %q, want %q", got, want)
			}
			for _, p := range tc.dels {
				wantErrno(t, n.DeleteChild("ib0", p), 0)
				want = slices.Delete(slices.Clone(want), 2, 3)
				if got := n.Devices(); !slices.Equal(got, want) {
					t.Fatalf("devices after delete_child 0x%04x = %q, want %q", p, got, want)
				}
			}
		})
	}
}

// TestLegacyIndex: the index finds the child of a parent and P_Key with
// the lowest ifindex, whatever the order of additions and removals
// (including a removal undone), and keeps nothing of a key once its
// children are gone.
func TestLegacyIndex(t *testing.T) {
	p := &Netdev{index: 2}
	dev := map[string]*Netdev{
		"a": {index: 10, parent: p, pkey: 0x8001},
		"b": {index: 11, parent: p, pkey: 0x8001},
		"c": {index: 12, parent: p, pkey: 0x8001},
		"d": {index: 13, parent: p, pkey: 0x8002},
	}
	type step struct {
		op, dev string // op "+" adds dev, "-" removes it
		want    string // then get of 0x8001; "" for none
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one", []step{{"+", "a", "a"}, {"-", "a", ""}}},
		{"first removed first", []step{{"+", "a", "a"}, {"+", "b", "a"}, {"-", "a", "b"}, {"-", "b", ""}}},
		{"second removed first", []step{{"+", "a", "a"}, {"+", "b", "a"}, {"-", "b", "a"}, {"-", "a", ""}}},
		{"removal undone", []step{{"+", "a", "a"}, {"+", "b", "a"}, {"-", "a", "b"}, {"+", "a", "a"}, {"-", "b", "a"}, {"-", "a", ""}}},
		{"three, middle out", []step{{"+", "a", "a"}, {"+", "b", "a"}, {"+", "c", "a"}, {"-", "b", "a"}, {"-", "a", "c"}, {"-", "c", ""}}},
		{"not a member", []step{{"+", "a", "a"}, {"-", "b", "a"}, {"-", "a", ""}, {"-", "a", ""}}},
		{"another key", []step{{"+", "d", ""}, {"+", "a", "a"}, {"-", "a", ""}, {"-", "d", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := legacyIndex{first: map[legacyKey]*Netdev{}}
			for i, s := range tc.steps {
				if s.op == "+" {
					x.add(dev[s.dev])
				} else {
					x.remove(dev[s.dev])
				}
				if got, want := x.get(p, 0x8001), dev[s.want]; got != want {
					t.Fatalf("step %d (%s%s): get = %v, want %s", i, s.op, s.dev, got, s.want)
				}
			}
			if len(x.first) != 0 || len(x.more) != 0 {
				t.Errorf("left behind: first %v, more %v", x.first, x.more)
			}
		})
	}
}
