package driver

import (
	"encoding/json"
	"fmt"
	"github.com/ibctl/ibctl/sysfs"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ibctl/ibctl/driver/store"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// TestRestoreRefusesInvalidRecords edits a saved child the way damage or
// a hand edit could, and checks that the driver refuses to start with a
// message naming the record and the rule, instead of loading it.
func TestRestoreRefusesInvalidRecords(t *testing.T) {
	tests := []struct {
		name string
		edit map[string]any // fields of the child ib0.8001's record
		key  string         // save the record under this key instead
		want string
	}{
		{"name of the parent", map[string]any{"name": "ib0"}, "", `"ib0"): name already used by ifindex 2`},
		{"name of a sibling", map[string]any{"name": "nl0", "legacy": false}, "", `(saved device node0/dev/00000005 ("nl0"): name already used by ifindex 4`},
		{"invalid name", map[string]any{"name": "a/b"}, "", `"a/b"): invalid device name`},
		{"empty name", map[string]any{"name": ""}, "", `""): invalid device name`},
		{"long name", map[string]any{"name": "abcdefghijklmnop"}, "", `"abcdefghijklmnop"): invalid device name`},
		{"mtu", map[string]any{"mtu": 4294967295}, "", `"ib0.8001"): mtu 4294967295 above the datagram maximum 4092`},
		{"connected mtu", map[string]any{"mode": 1, "mtu": 65521}, "", `"ib0.8001"): mtu 65521 above the maximum 65520`},
		{"admin mtu", map[string]any{"admin_mtu": 71}, "", `"ib0.8001"): admin mtu 71 out of range 72-4092`},
		{"mode", map[string]any{"mode": 2}, "", `"ib0.8001"): invalid mode 2`},
		{"parent is a child", map[string]any{"parent": 5}, "", `"ib0.8001"): parent ifindex 5 is not a parent device`},
		{"no parent", map[string]any{"parent": 99}, "", `"ib0.8001"): parent ifindex 99 is not a parent device`},
		{"pkey", map[string]any{"pkey": 0x8000}, "", `"ib0.8001"): invalid P_Key 0x8000`},
		{"legacy pkey not its name's", map[string]any{"pkey": 0xffff}, "", `"ib0.8001"): P_Key 0xffff is not the one its name was written with`},
		{"legacy name not create_child's", map[string]any{"name": "ib0.80001"}, "", `"ib0.80001"): P_Key 0x8001 is not the one its name was written with`},
		{"ifindex of a parent", map[string]any{"index": 3}, "node0/dev/00000003", `(saved device node0/dev/00000003 ("ib0.8001"): ifindex 3 is ib1's`},
		{"key and index differ", nil, "node0/dev/00000042", `saved device node0/dev/00000042: holds ifindex 4`},
		{"tx queues", map[string]any{"num_tx_queues": 0}, "", `"ib0.8001"): invalid number of TX queues 0`},
		{"feature", map[string]any{"wanted": []string{"rx-nope"}}, "", `"ib0.8001"): unknown feature "rx-nope"`},
		{"address", map[string]any{"addrs": []string{"10.0.0.1"}}, "", `"ib0.8001"): address: netip.ParsePrefix("10.0.0.1"): no '/'`},
		{"name not a string", map[string]any{"name": 5}, "", `saved device node0/dev/00000004: device name: want a string or {"bytes": base64}, have 5`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir)
			_, n := newTestDriver(t, st)
			p := mustLink(t, n, "ib0")
			wantErrno(t, n.CreateChild("ib0", 0x8001), 0)
			wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "nl0", ParentIndex: p.Index, Kind: "ipoib", PKey: ptr(uint16(0x8002))}), 0)
			c := mustLink(t, n, "ib0.8001")
			key := devKey("node0", c.Index)
			raw, _ := st.Get(key)
			var rec map[string]any
			if err := json.Unmarshal(raw, &rec); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.edit {
				rec[k] = v
			}
			b, _ := json.Marshal(rec)
			var batch store.Batch
			if tc.key != "" {
				batch.Delete(key)
				key = tc.key
			}
			batch.Put(key, b)
			if err := st.Apply(batch); err != nil {
				t.Fatal(err)
			}
			st.Close()

			st = openStore(t, dir)
			defer st.Close()
			_, err := New(Options{Store: st})
			want := "restore node0: saved device " + key + " (" + tc.want
			if strings.HasPrefix(tc.want, "saved device") || strings.HasPrefix(tc.want, "(") {
				want = "restore node0: " + strings.TrimPrefix(tc.want, "(")
			}
			if err == nil || err.Error() != want {
				t.Fatalf("New = %v\nwant %s", err, want)
			}
		})
	}
}

// TestNonUTF8NamesSurviveRestart: the kernel takes any bytes in a name but
// '/', ':' and blanks; two names differing only in invalid UTF-8 must come
// back byte for byte, not both as U+FFFD.
func TestNonUTF8NamesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	_, n := newTestDriver(t, st)
	p := mustLink(t, n, "ib0")
	names := []string{"x\xfe", "x\xfd", "é\xff.1", "ok0"}
	for i, name := range names {
		wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: name, ParentIndex: p.Index, Kind: "ipoib", PKey: ptr(uint16(0x8001 + i))}), 0)
	}
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	_, n = newTestDriver(t, st)
	got := n.Devices()
	want := append([]string{"ib0", "ib1"}, names...)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("devices after restart = %q, want %q", got, want)
	}
}

// TestSaveFailureErrno: a full disk answers ENOSPC (other causes EIO), is
// logged with the store's reason, leaves the device list as it was, and the
// next change succeeds once there is space again.
func TestSaveFailureErrno(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		errno unix.Errno
		log   string
	}{
		{"disk full", syscall.ENOSPC, unix.ENOSPC, "no space left on device"},
		{"quota", syscall.EDQUOT, unix.EDQUOT, "disk quota exceeded"},
		{"i/o error", syscall.EIO, unix.EIO, "input/output error"},
		{"other", syscall.EBADF, unix.EIO, "bad file descriptor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := &store.FaultFS{}
			st, err := store.OpenOptions(dir, store.Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var mu sync.Mutex
			var logs []string
			d, err := New(Options{Store: st, Log: func(s string) { mu.Lock(); logs = append(logs, s); mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			n, _ := d.Node("node0")
			before := n.Devices()
			fs.Inject(store.Fault{Op: store.OpWrite, Name: "journal.log", Err: tc.err, Short: 3})
			wantErrno(t, n.CreateChild("ib0", 0x8001), tc.errno)
			if got := n.Devices(); !slices.Equal(got, before) {
				t.Errorf("devices after a failed save = %q, want %q", got, before)
			}
			want := fmt.Sprintf("node0 save state: store: append journal %s/journal.log: write %s/journal.log: %s", dir, dir, tc.log)
			mu.Lock()
			if !slices.Contains(logs, want) {
				t.Errorf("log %q lacks %q", logs, want)
			}
			mu.Unlock()
			fs.Clear()
			wantErrno(t, n.CreateChild("ib0", 0x8001), 0)
		})
	}
}

// TestParamsPerNode: each node has its own module parameters, as each
// host loads its own ib_ipoib. A write on one node leaves the other's as
// they were, and a restart gives each node its own saved values, both
// those sysfs shows and those its data path logs by.
func TestParamsPerNode(t *testing.T) {
	type write struct {
		node, name string
		value      int
	}
	tests := []struct {
		name   string
		writes []write
		want   map[string]map[string]int // node → parameter → value
	}{
		{"node1 only", []write{{"node1", "debug_level", 3}},
			map[string]map[string]int{"node0": {"debug_level": 0, "mcast_debug_level": 0, "data_debug_level": 0},
				"node1": {"debug_level": 3, "mcast_debug_level": 0, "data_debug_level": 0}}},
		{"node0 then node1", []write{{"node0", "mcast_debug_level", 1}, {"node1", "mcast_debug_level", 2}, {"node0", "debug_level", 1}},
			map[string]map[string]int{"node0": {"debug_level": 1, "mcast_debug_level": 1, "data_debug_level": 0},
				"node1": {"debug_level": 0, "mcast_debug_level": 2, "data_debug_level": 0}}},
		{"both, every parameter", []write{{"node0", "data_debug_level", 1}, {"node1", "debug_level", 2},
			{"node1", "data_debug_level", 3}, {"node0", "mcast_debug_level", 4}},
			map[string]map[string]int{"node0": {"debug_level": 0, "mcast_debug_level": 4, "data_debug_level": 1},
				"node1": {"debug_level": 2, "mcast_debug_level": 0, "data_debug_level": 3}}},
	}
	check := func(t *testing.T, d *Driver, when string, want map[string]map[string]int) {
		t.Helper()
		for node, params := range want {
			n, err := d.Node(node)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, p := range n.Params() {
				if _, ok := params[p.Name]; ok {
					got[p.Name] = p.Value
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(params) {
				t.Errorf("%s: %s parameters = %v, want %v", when, node, got, params)
			}
			host := map[string]int{"debug_level": int(n.host.Debug.Load()), "mcast_debug_level": int(n.host.McastDebug.Load()),
				"data_debug_level": int(n.host.DataDebug.Load())}
			if fmt.Sprint(host) != fmt.Sprint(params) {
				t.Errorf("%s: %s data path levels = %v, want %v", when, node, host, params)
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir)
			d, _ := newTestDriver(t, st)
			for _, w := range tt.writes {
				n, err := d.Node(w.node)
				if err != nil {
					t.Fatal(err)
				}
				wantErrno(t, n.SetParam(w.name, w.value), 0)
			}
			check(t, d, "before the restart", tt.want)
			st.Close()
			st = openStore(t, dir)
			defer st.Close()
			d, _ = newTestDriver(t, st)
			check(t, d, "after the restart", tt.want)
		})
	}
}

// TestTxQueueLenSurvivesRestart: a tx_queue_len write (net-sysfs.c
// tx_queue_len_store → dev_change_tx_queue_len) changes what netlink
// reports as IFLA_TXQLEN, for a parent and a child, 0 included, and the
// value survives a restart; untouched devices keep ipoib_setup_common's
// twice send_queue_size.
func TestTxQueueLenSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	_, n := newTestDriver(t, st)
	p := mustLink(t, n, "ib0")
	wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "c", ParentIndex: p.Index, Kind: "ipoib", PKey: ptr(uint16(0x8001))}), 0)
	wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "d", ParentIndex: p.Index, Kind: "ipoib", PKey: ptr(uint16(0x8002))}), 0)
	want := map[string]uint32{"ib0": 1000, "c": 0, "ib1": 256, "d": 256}
	for _, dev := range []string{"ib0", "c"} {
		if _, err := sysfs.New(n).Write("class/net/"+dev+"/tx_queue_len", []byte(fmt.Sprintf("%d\n", want[dev]))); err != nil {
			t.Fatalf("write %s: %v", dev, err)
		}
	}
	check := func(when string) {
		t.Helper()
		for dev, q := range want {
			if got := mustLink(t, n, dev).TxQLen; got != q {
				t.Errorf("%s: %s txqlen %d, want %d", when, dev, got, q)
			}
		}
	}
	check("before restart")
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	_, n = newTestDriver(t, st)
	check("after restart")
}

// TestStoreDictRecordSize: with StoreDict, the record of a child as
// created takes a fraction of its JSON in the store's memory, and of a
// child configured further still less than its JSON. The sizes are
// exact, so that a change of devRecord that the dictionary does not
// follow shows here.
func TestStoreDictRecordSize(t *testing.T) {
	tests := []struct {
		name      string
		create    func(n *Node, parent int32) error
		dev       string
		mem, json int
	}{
		{"create_child", func(n *Node, _ int32) error { return n.CreateChild("ib0", 0x0001) }, "ib0.0001", 41, 258},
		{"create_child 0x7ffe", func(n *Node, _ int32) error { return n.CreateChild("ib0", 0x7ffe) }, "ib0.7ffe", 41, 258},
		{"link add", func(n *Node, p int32) error {
			return n.NewLink(netlinkx.LinkRequest{Name: "nl0", ParentIndex: p, Kind: "ipoib", PKey: ptr(uint16(0x8002))})
		}, "nl0", 38, 239},
		{"link add up, connected", func(n *Node, p int32) error {
			return n.NewLink(netlinkx.LinkRequest{Name: "nl0", ParentIndex: p, Kind: "ipoib", PKey: ptr(uint16(0x8002)),
				Up: ptr(true), Mode: ptr(uint16(netlinkx.ModeConnected))})
		}, "nl0", 45, 264},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			_, n := newTestDriver(t, st)
			wantErrno(t, tc.create(n, mustLink(t, n, "ib0").Index), 0)
			key := devKey("node0", mustLink(t, n, tc.dev).Index)
			raw, _ := st.Get(key)
			mem, size, ok := st.Size(key)
			if mem != tc.mem || size != tc.json || !ok || size != len(raw) {
				t.Errorf("Size(%s) = %d, %d, %v, want %d, %d, true (%s)", key, mem, size, ok, tc.mem, tc.json, raw)
			}
		})
	}
}
