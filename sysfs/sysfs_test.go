package sysfs

import (
	"errors"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// checkErr fails unless err is want (nil for success), carried as a
// *PathError whose Err is exactly the errno: sysfs drops the Driver's
// message, as the kernel has no extended ack for write(2).
func checkErr(t *testing.T, err error, want error) {
	t.Helper()
	if diff := cmp.Diff(want, err, cmpopts.EquateErrors()); diff != "" {
		t.Fatalf("error mismatch (-want +got):\n%s", diff)
	}
	if want == nil {
		return
	}
	var pe *PathError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *PathError", err, err)
	}
	if pe.Err != want {
		t.Fatalf("PathError.Err = %#v, want the bare errno %#v", pe.Err, want)
	}
}

// readCase is one read of a file of the tree: its contents, or the
// error the read fails with.
type readCase struct {
	path    string
	want    string
	wantErr error
}

// checkReads reads each case's file from tree.
func checkReads(t *testing.T, tree *Tree, tests []readCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := tree.Read(tc.path)
			checkErr(t, err, tc.wantErr)
			if string(got) != tc.want {
				t.Errorf("Read(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	tests := []readCase{
		// Generic net-sysfs files.
		{path: "class/net/ib0/mtu", want: "2044\n"},
		{path: "class/net/ib0/address", want: "80:00:00:4a:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51\n"},
		{path: "class/net/ib1/address", want: "00:00:00:4b:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51\n"},
		{path: "class/net/ib0/broadcast", want: "00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff\n"},
		{path: "class/net/ib0.8001/broadcast", want: "00:ff:ff:ff:ff:12:40:1b:80:01:00:00:00:00:00:00:ff:ff:ff:ff\n"},
		{path: "class/net/ib0/type", want: "32\n"},
		{path: "class/net/ib0/addr_len", want: "20\n"},
		{path: "class/net/ib0/ifindex", want: "2\n"},
		{path: "class/net/ib0.8001/ifindex", want: "4\n"},
		{path: "class/net/ib0/iflink", want: "2\n"},
		{path: "class/net/ib1/iflink", want: "3\n"},
		{path: "class/net/ib0.8001/iflink", want: "2\n"},
		{path: "class/net/ipoib0/iflink", want: "2\n"},
		{path: "class/net/ib0/dev_id", want: "0\n"},
		{path: "class/net/ib1/dev_id", want: "0x1\n"},
		{path: "class/net/ib0/dev_port", want: "0\n"},
		{path: "class/net/ib1/dev_port", want: "1\n"},
		{path: "class/net/ib0.8001/dev_id", want: "0\n"},
		{path: "class/net/ib0/operstate", want: "down\n"},
		{path: "class/net/ib1/operstate", want: "up\n"},
		{path: "class/net/ib0/carrier", wantErr: unix.EINVAL},
		{path: "class/net/ib1/carrier", want: "1\n"},
		{path: "class/net/ib0/flags", want: "0x1002\n"},
		{path: "class/net/ib1/flags", want: "0x1003\n"},
		{path: "class/net/ib0/tx_queue_len", want: "256\n"},

		// IPoIB files: parent, legacy child, netlink child.
		{path: "class/net/ib0/pkey", want: "0xffff\n"},
		{path: "class/net/ib0.8001/pkey", want: "0x8001\n"},
		{path: "class/net/ipoib0/pkey", wantErr: unix.ENOENT},
		{path: "class/net/ib0/mode", want: "datagram\n"},
		{path: "class/net/ib0.8001/mode", want: "datagram\n"},
		{path: "class/net/ipoib0/mode", wantErr: unix.ENOENT},
		{path: "class/net/ib0/umcast", want: "0\n"},
		{path: "class/net/ipoib0/umcast", wantErr: unix.ENOENT},
		{path: "class/net/ib0.8001/parent", want: "ib0\n"},
		{path: "class/net/ib0/parent", wantErr: unix.ENOENT},
		{path: "class/net/ipoib0/parent", wantErr: unix.ENOENT},
		{path: "class/net/ib0/create_child", wantErr: unix.EACCES},
		{path: "class/net/ib0/delete_child", wantErr: unix.EACCES},
		{path: "class/net/ib0.8001/create_child", wantErr: unix.ENOENT},
		{path: "class/net/ib0.8001/delete_child", wantErr: unix.ENOENT},
		{path: "class/net/ipoib0/create_child", wantErr: unix.ENOENT},

		// Path forms and lookup errors.
		{path: "/sys/class/net/ib0/pkey", want: "0xffff\n"},
		{path: "sys/class/net/ib0/pkey/", want: "0xffff\n"},
		{path: "/class/net/./ib0//pkey", want: "0xffff\n"},
		{path: "", wantErr: unix.EISDIR},
		{path: "/sys", wantErr: unix.EISDIR},
		{path: "class/net", wantErr: unix.EISDIR},
		{path: "class/net/ib0", wantErr: unix.EISDIR},
		{path: "class/net/ib9/mtu", wantErr: unix.ENOENT},
		{path: "class/net/ib0/nope", wantErr: unix.ENOENT},
		{path: "class/nope", wantErr: unix.ENOENT},
		{path: "class/net/ib0/mtu/x", wantErr: unix.ENOTDIR},
		{path: "class/net/ipoib0/pkey/x", wantErr: unix.ENOENT},

		// Module parameters.
		{path: "module/ib_ipoib/parameters/send_queue_size", want: "128\n"},
		{path: "module/ib_ipoib/parameters/debug_level", want: "0\n"},
		{path: "module/ib_ipoib/parameters/hidden", wantErr: unix.ENOENT},
		{path: "module/ib_ipoib/parameters/nope", wantErr: unix.ENOENT},
		{path: "module/ib_ipoib/parameters", wantErr: unix.EISDIR},
	}
	checkReads(t, New(newFixture()), tests)
}

func TestReadOperstateCarrier(t *testing.T) {
	tests := []struct {
		name          string
		up, carrier   bool
		oper          uint8
		wantOper      string
		wantOperErr   error
		wantCarrier   string
		wantCarrErr   error
		wantFlagsRead string
	}{
		{name: "down", oper: 6, wantOper: "down\n", wantCarrErr: unix.EINVAL, wantFlagsRead: "0x1002\n"},
		{name: "up no carrier", up: true, oper: 2, wantOper: "down\n", wantCarrier: "0\n", wantFlagsRead: "0x1003\n"},
		{name: "lowerlayerdown", up: true, oper: 3, wantOper: "lowerlayerdown\n", wantCarrier: "0\n", wantFlagsRead: "0x1003\n"},
		{name: "unknown", up: true, carrier: true, oper: 0, wantOper: "unknown\n", wantCarrier: "1\n", wantFlagsRead: "0x1003\n"},
		{name: "dormant", up: true, carrier: true, oper: 5, wantOper: "dormant\n", wantCarrier: "1\n", wantFlagsRead: "0x1003\n"},
		{name: "out of range", up: true, carrier: true, oper: 7, wantOperErr: unix.EINVAL, wantCarrier: "1\n", wantFlagsRead: "0x1003\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			d := f.find("ib0")
			d.up, d.carrier, d.oper = tc.up, tc.carrier, tc.oper
			tree := New(f)
			got, err := tree.Read("class/net/ib0/operstate")
			checkErr(t, err, tc.wantOperErr)
			if string(got) != tc.wantOper {
				t.Errorf("operstate = %q, want %q", got, tc.wantOper)
			}
			got, err = tree.Read("class/net/ib0/carrier")
			checkErr(t, err, tc.wantCarrErr)
			if string(got) != tc.wantCarrier {
				t.Errorf("carrier = %q, want %q", got, tc.wantCarrier)
			}
			got, err = tree.Read("class/net/ib0/flags")
			checkErr(t, err, nil)
			if string(got) != tc.wantFlagsRead {
				t.Errorf("flags = %q, want %q", got, tc.wantFlagsRead)
			}
		})
	}
}

// TestCreateChild writes one value to a fresh ib0 (pkey 0xffff).
func TestCreateChild(t *testing.T) {
	tests := []struct {
		data     string
		wantErr  error
		wantDev  string // created device
		wantPKey string
		noCall   bool // rejected before the Driver
	}{
		{data: "0x10000\n", wantErr: unix.EINVAL, noCall: true},
		{data: "-1\n", wantErr: unix.EINVAL, noCall: true},
		{data: "abc\n", wantErr: unix.EINVAL, noCall: true},
		{data: "0\n", wantErr: unix.EINVAL, noCall: true},
		{data: "\n", wantErr: unix.EINVAL, noCall: true},
		{data: "08001\n", wantErr: unix.EINVAL, noCall: true}, // octal 0, stops at '8'
		{data: "+1\n", wantErr: unix.EINVAL, noCall: true},
		{data: "0x8002abc\n", wantErr: unix.EINVAL, noCall: true}, // all hex: 0x8002abc > 0xffff
		{data: "0x\n", wantErr: unix.EINVAL, noCall: true},        // octal 0, stops at 'x'
		{data: "- 1\n", wantErr: unix.EINVAL, noCall: true},
		{data: "\x000x8001\n", wantErr: unix.EINVAL, noCall: true}, // the C string is empty
		{data: "-2147483648\n", wantErr: unix.EINVAL, noCall: true},
		{data: "0x8000\n", wantErr: unix.EINVAL},   // the Driver's P_Key rule
		{data: "0xffff\n", wantErr: unix.ENOTUNIQ}, // the parent's pkey
		{data: "0x8001\n", wantDev: "ib0.8001", wantPKey: "0x8001\n"},
		{data: "0x8001", wantDev: "ib0.8001", wantPKey: "0x8001\n"},
		{data: "0X8001\n", wantDev: "ib0.8001", wantPKey: "0x8001\n"},
		{data: "32769\n", wantDev: "ib0.8001", wantPKey: "0x8001\n"},
		{data: "0100001\n", wantDev: "ib0.8001", wantPKey: "0x8001\n"},
		{data: " \t0x8003\n", wantDev: "ib0.8003", wantPKey: "0x8003\n"},
		{data: "\xa00x8003\n", wantDev: "ib0.8003", wantPKey: "0x8003\n"}, // the kernel's isspace has NBSP
		{data: "0x8004 trailing text", wantDev: "ib0.8004", wantPKey: "0x8004\n"},
		{data: "0x8001\x00garbage", wantDev: "ib0.8001", wantPKey: "0x8001\n"},
		{data: "0x1\n", wantDev: "ib0.0001", wantPKey: "0x8001\n"},
		{data: "0x7fff\n", wantDev: "ib0.7fff", wantPKey: "0xffff\n"},
		{data: "4294967297\n", wantDev: "ib0.0001", wantPKey: "0x8001\n"},  // wraps to 1
		{data: "-4294934527\n", wantDev: "ib0.8001", wantPKey: "0x8001\n"}, // −0xffff7fff wraps to 0x8001
	}
	for _, tc := range tests {
		t.Run(tc.data, func(t *testing.T) {
			f := newFake()
			tree := New(f)
			before := snapshot(f)
			n, err := tree.Write("class/net/ib0/create_child", []byte(tc.data))
			checkErr(t, err, tc.wantErr)
			if tc.wantErr != nil {
				if n != 0 {
					t.Errorf("Write returned %d bytes with an error", n)
				}
				if diff := cmp.Diff(before, snapshot(f)); diff != "" {
					t.Errorf("state changed after a failed write (-before +after):\n%s", diff)
				}
				if tc.noCall && len(f.calls) != 0 {
					t.Errorf("Driver called: %v", f.calls)
				}
				return
			}
			if n != len(tc.data) {
				t.Errorf("Write = %d, want %d", n, len(tc.data))
			}
			got, err := tree.Read("class/net/" + tc.wantDev + "/pkey")
			checkErr(t, err, nil)
			if string(got) != tc.wantPKey {
				t.Errorf("%s/pkey = %q, want %q", tc.wantDev, got, tc.wantPKey)
			}
			got, _ = tree.Read("class/net/" + tc.wantDev + "/parent")
			if string(got) != "ib0\n" {
				t.Errorf("%s/parent = %q, want %q", tc.wantDev, got, "ib0\n")
			}
		})
	}
}

type step struct {
	path    string
	data    string
	wantN   int
	wantErr error
}

// runSteps writes each step in order and checks that a failed one leaves
// the Driver's state unchanged.
func runSteps(t *testing.T, f *fakeDriver, steps []step) {
	t.Helper()
	tree := New(f)
	for i, s := range steps {
		before := snapshot(f)
		n, err := tree.Write(s.path, []byte(s.data))
		if diff := cmp.Diff(s.wantErr, err, cmpopts.EquateErrors()); diff != "" {
			t.Fatalf("step %d: write %q to %s: error mismatch (-want +got):\n%s", i, s.data, s.path, diff)
		}
		if n != s.wantN {
			t.Fatalf("step %d: write %q to %s = %d, want %d", i, s.data, s.path, n, s.wantN)
		}
		if err != nil {
			if diff := cmp.Diff(before, snapshot(f)); diff != "" {
				t.Fatalf("step %d: state changed after a failed write (-before +after):\n%s", i, diff)
			}
		}
	}
}

func devices(d Driver) []string { return d.Devices() }

func TestCreateChildSequences(t *testing.T) {
	const cc = "class/net/ib0/create_child"
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"twice", []step{{cc, "0x8001\n", 7, nil}, {cc, "0x8001\n", 0, unix.ENOTUNIQ}}, []string{"ib0", "ib0.8001"}},
		{"short twice", []step{{cc, "0x1\n", 4, nil}, {cc, "0x1\n", 0, unix.EEXIST}}, []string{"ib0", "ib0.0001"}},
		{"short then full", []step{{cc, "0x1\n", 4, nil}, {cc, "0x8001\n", 0, unix.ENOTUNIQ}}, []string{"ib0", "ib0.0001"}},
		{"full then short", []step{{cc, "0x8001\n", 7, nil}, {cc, "0x1\n", 4, nil}}, []string{"ib0", "ib0.8001", "ib0.0001"}},
		{"7fff is unique", []step{{cc, "0x7fff\n", 7, nil}, {cc, "0xffff\n", 0, unix.ENOTUNIQ}}, []string{"ib0", "ib0.7fff"}},
		{"no grandchildren", []step{{cc, "0x8001\n", 7, nil}, {"class/net/ib0.8001/create_child", "0x8002\n", 0, unix.ENOENT}}, []string{"ib0", "ib0.8001"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			runSteps(t, f, tc.steps)
			if diff := cmp.Diff(tc.want, devices(f)); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeleteChild(t *testing.T) {
	const dc = "class/net/ib0/delete_child"
	tests := []struct {
		name  string
		steps []step
		want  []string
		calls int // Driver.DeleteChild calls
	}{
		{"missing", []step{{dc, "0x8002\n", 0, unix.ENODEV}}, []string{"ib0", "ib1", "ib0.8001", "ipoib0"}, 1},
		{"by stored pkey", []step{{dc, "0x8001\n", 7, nil}}, []string{"ib0", "ib1", "ipoib0"}, 1},
		{"decimal", []step{{dc, "32769", 5, nil}}, []string{"ib0", "ib1", "ipoib0"}, 1},
		{"twice", []step{{dc, "0x8001\n", 7, nil}, {dc, "0x8001\n", 0, unix.ENODEV}}, []string{"ib0", "ib1", "ipoib0"}, 2},
		{"netlink child never matches", []step{{dc, "0x8002\n", 0, unix.ENODEV}}, []string{"ib0", "ib1", "ib0.8001", "ipoib0"}, 1},
		{"zero parses", []step{{dc, "0x\n", 0, unix.ENODEV}, {dc, "0\n", 0, unix.ENODEV}}, []string{"ib0", "ib1", "ib0.8001", "ipoib0"}, 2},
		{"garbage", []step{{dc, "abc\n", 0, unix.EINVAL}, {dc, "\n", 0, unix.EINVAL}, {dc, "+0x8001\n", 0, unix.EINVAL}}, []string{"ib0", "ib1", "ib0.8001", "ipoib0"}, 0},
		{"range", []step{{dc, "-1\n", 0, unix.EINVAL}, {dc, "0x10000\n", 0, unix.EINVAL}, {dc, "0x18001\n", 0, unix.EINVAL}}, []string{"ib0", "ib1", "ib0.8001", "ipoib0"}, 0},
		{"on a child", []step{{"class/net/ib0.8001/delete_child", "0x8001\n", 0, unix.ENOENT}}, []string{"ib0", "ib1", "ib0.8001", "ipoib0"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			runSteps(t, f, tc.steps)
			if diff := cmp.Diff(tc.want, devices(f)); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
			if len(f.calls) != tc.calls {
				t.Errorf("Driver calls %v, want %d", f.calls, tc.calls)
			}
		})
	}
}

func TestDeleteShortChild(t *testing.T) {
	f := newFake()
	runSteps(t, f, []step{
		{"class/net/ib0/create_child", "0x1\n", 4, nil},
		{"class/net/ib0/delete_child", "0x1\n", 0, unix.ENODEV},
		{"class/net/ib0/delete_child", "0x0001\n", 0, unix.ENODEV},
		{"class/net/ib0/delete_child", "0x8001\n", 7, nil},
	})
	if diff := cmp.Diff([]string{"ib0"}, devices(f)); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
}

func TestMode(t *testing.T) {
	tests := []struct {
		dev      string
		data     string
		modeErr  error // the Driver's result
		wantErr  error
		wantMode string
		noCall   bool
	}{
		{dev: "ib0", data: "connected\n", wantMode: "connected\n"},
		{dev: "ib0", data: "datagram\n", wantMode: "datagram\n"},
		{dev: "ib0.8001", data: "connected\n", wantMode: "connected\n"},
		{dev: "ib0", data: "connected\n\x00junk", wantMode: "connected\n"}, // strcmp stops at NUL
		{dev: "ib0", data: "connected", wantErr: unix.EINVAL, wantMode: "datagram\n", noCall: true},
		{dev: "ib0", data: "Connected\n", wantErr: unix.EINVAL, wantMode: "datagram\n", noCall: true},
		{dev: "ib0", data: " connected\n", wantErr: unix.EINVAL, wantMode: "datagram\n", noCall: true},
		{dev: "ib0", data: "connected \n", wantErr: unix.EINVAL, wantMode: "datagram\n", noCall: true},
		{dev: "ib0", data: "connected\n\n", wantErr: unix.EINVAL, wantMode: "datagram\n", noCall: true},
		{dev: "ib0", data: "conn\n", wantErr: unix.EINVAL, wantMode: "datagram\n", noCall: true},
		{dev: "ib0", data: "1\n", wantErr: unix.EINVAL, wantMode: "datagram\n", noCall: true},
		{dev: "ib0", data: "\n", wantErr: unix.EINVAL, wantMode: "datagram\n", noCall: true},
		{dev: "ib1", data: "connected\n", wantErr: unix.EINVAL, wantMode: "datagram\n"}, // no 0x80 in the address
		{dev: "ib0", data: "connected\n", modeErr: fail("mode", unix.EBUSY), wantMode: "connected\n"},
		{dev: "ib0", data: "connected\n", modeErr: fail("mode", unix.EPERM), wantErr: unix.EPERM, wantMode: "connected\n"},
		{dev: "ipoib0", data: "connected\n", wantErr: unix.ENOENT, noCall: true},
	}
	for _, tc := range tests {
		t.Run(tc.dev+" "+tc.data, func(t *testing.T) {
			f := newFixture()
			f.modeErr = tc.modeErr
			tree := New(f)
			path := "class/net/" + tc.dev + "/mode"
			n, err := tree.Write(path, []byte(tc.data))
			checkErr(t, err, tc.wantErr)
			wantN := len(tc.data)
			if tc.wantErr != nil {
				wantN = 0
			}
			if n != wantN {
				t.Errorf("Write = %d, want %d", n, wantN)
			}
			if tc.noCall && len(f.calls) != 0 {
				t.Errorf("Driver called: %v", f.calls)
			}
			if tc.wantMode == "" {
				return
			}
			got, err := tree.Read(path)
			checkErr(t, err, nil)
			if string(got) != tc.wantMode {
				t.Errorf("mode = %q, want %q", got, tc.wantMode)
			}
		})
	}
}

func TestUmcast(t *testing.T) {
	tests := []struct {
		data   string
		before bool
		want   string
	}{
		{data: "1\n", want: "1\n"},
		{data: "foo\n", before: true, want: "0\n"},
		{data: "0x10\n", want: "1\n"},
		{data: "010\n", want: "1\n"},
		{data: "-1\n", before: true, want: "0\n"},                      // simple_strtoul: no sign → 0
		{data: " 1\n", before: true, want: "0\n"},                      // no white space skipping
		{data: "+1\n", before: true, want: "0\n"},                      // no sign
		{data: "0\n", before: true, want: "0\n"},                       //
		{data: "0x100000000\n", before: true, want: "0\n"},             // int conversion keeps the low 32 bits
		{data: "0x100000001\n", want: "1\n"},                           //
		{data: "0x80000000\n", before: true, want: "0\n"},              // negative as int
		{data: "4294967295\n", before: true, want: "0\n"},              // −1 as int
		{data: "0x7fffffff\n", want: "1\n"},                            //
		{data: "2junk", want: "1\n"},                                   // trailing text ignored
		{data: "0x\n", before: true, want: "0\n"},                      // octal 0
		{data: "\n", before: true, want: "0\n"},                        //
		{data: "1\x00", want: "1\n"},                                   //
		{data: "99999999999999999999999\n", before: true, want: "0\n"}, // modulo 2^64, then int: 0xf67fffff < 0
		{data: "1\n" + strings.Repeat(" ", 5000), want: "1\n"},         // more than a page
	}
	for _, tc := range tests {
		name := tc.data
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.find("ib0").umcast = tc.before
			tree := New(f)
			n, err := tree.Write("class/net/ib0/umcast", []byte(tc.data))
			checkErr(t, err, nil)
			if want := min(len(tc.data), 4096); n != want {
				t.Errorf("Write = %d, want %d", n, want)
			}
			got, err := tree.Read("class/net/ib0/umcast")
			checkErr(t, err, nil)
			if string(got) != tc.want {
				t.Errorf("umcast = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEmptyWrite: write(2) of zero bytes returns 0 without calling the
// store (sysfs_kf_write), after the open checks.
func TestEmptyWrite(t *testing.T) {
	tests := []struct {
		path    string
		wantErr error
	}{
		{path: "class/net/ib0/create_child"},
		{path: "class/net/ib0/delete_child"},
		{path: "class/net/ib0/mode"},
		{path: "class/net/ib0/umcast"},
		{path: "module/ib_ipoib/parameters/debug_level"},
		{path: "class/net/ib0/mtu"},
		{path: "class/net/ib9/mode", wantErr: unix.ENOENT},
		{path: "class/net", wantErr: unix.EISDIR},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			f := newFake()
			before := snapshot(f)
			n, err := New(f).Write(tc.path, nil)
			checkErr(t, err, tc.wantErr)
			if n != 0 || len(f.calls) != 0 {
				t.Errorf("Write = %d, Driver calls %v; want 0 and none", n, f.calls)
			}
			if diff := cmp.Diff(before, snapshot(f)); diff != "" {
				t.Errorf("state changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestWriteRejected covers open-time failures and read-only files: the
// Driver is never called and nothing changes.
func TestWriteRejected(t *testing.T) {
	tests := []struct {
		path    string
		wantErr error
	}{
		{"class/net/ib0/pkey", unix.EACCES},
		{"class/net/ib0/address", unix.EACCES},
		{"class/net/ib0/flags", unix.EACCES},
		{"class/net/ib0/operstate", unix.EACCES},
		{"class/net/ib0.8001/parent", unix.EACCES},
		{"module/ib_ipoib/parameters/send_queue_size", unix.EACCES},
		{"module/ib_ipoib/parameters/hidden", unix.ENOENT},
		{"class/net/ib0.8001/create_child", unix.ENOENT},
		{"class/net/ipoib0/umcast", unix.ENOENT},
		{"class/net/ib0/parent", unix.ENOENT},
		{"class/net/ib9/umcast", unix.ENOENT},
		{"nope", unix.ENOENT},
		{"", unix.EISDIR},
		{"class/net/ib0", unix.EISDIR},
		{"module/ib_ipoib/parameters", unix.EISDIR},
		{"class/net/ib0/umcast/x", unix.ENOTDIR},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			f := newFixture()
			before := snapshot(f)
			n, err := New(f).Write(tc.path, []byte("1\n"))
			checkErr(t, err, tc.wantErr)
			if n != 0 || len(f.calls) != 0 {
				t.Errorf("Write = %d, Driver calls %v; want 0 and none", n, f.calls)
			}
			if diff := cmp.Diff(before, snapshot(f)); diff != "" {
				t.Errorf("state changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestCarrierWrite: net-sysfs.c carrier_store answers EOPNOTSUPP before
// netdev_store parses anything when the device has no ndo_change_carrier,
// as IPoIB has none (checked against a veth, which has none either, in
// TestNetSysfsStoresMatchKernel): running or not, any value.
func TestCarrierWrite(t *testing.T) {
	tests := []struct {
		dev, data string
		wantErr   error
	}{
		{"ib1", "1\n", unix.EOPNOTSUPP},
		{"ib1", "+0\n", unix.EOPNOTSUPP},
		{"ib0", "1\n", unix.EOPNOTSUPP}, // not running
		{"ib1", "x\n", unix.EOPNOTSUPP},
		{"ib1", "-1\n", unix.EOPNOTSUPP},
		{"ib1", "1 \n", unix.EOPNOTSUPP},
		{"ib1", "99999999999999999999\n", unix.EOPNOTSUPP},
	}
	for _, tc := range tests {
		t.Run(tc.dev+" "+tc.data, func(t *testing.T) {
			f := newFixture()
			before := snapshot(f)
			n, err := New(f).Write("class/net/"+tc.dev+"/carrier", []byte(tc.data))
			checkErr(t, err, tc.wantErr)
			if n != 0 {
				t.Errorf("Write = %d, want 0", n)
			}
			if diff := cmp.Diff(before, snapshot(f)); diff != "" {
				t.Errorf("state changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestParams(t *testing.T) {
	const dl = "module/ib_ipoib/parameters/debug_level"
	tests := []struct {
		data    string
		wantErr error
		want    string
	}{
		{data: "5\n", want: "5\n"},
		{data: "5", want: "5\n"},
		{data: "+5\n", want: "5\n"},
		{data: "-5\n", want: "-5\n"},
		{data: "0x10\n", want: "16\n"},
		{data: "010\n", want: "8\n"},
		{data: "-0\n", want: "0\n"},
		{data: "2147483647\n", want: "2147483647\n"},
		{data: "-2147483648\n", want: "-2147483648\n"},
		{data: "-0x80000000\n", want: "-2147483648\n"},
		{data: "5\x00junk", want: "5\n"},
		{data: "abc\n", wantErr: unix.EINVAL},
		{data: "\n", wantErr: unix.EINVAL},
		{data: " 5\n", wantErr: unix.EINVAL},
		{data: "5 \n", wantErr: unix.EINVAL},
		{data: "5\n\n", wantErr: unix.EINVAL},
		{data: "5x\n", wantErr: unix.EINVAL},
		{data: "0x\n", wantErr: unix.EINVAL},
		{data: "08\n", wantErr: unix.EINVAL},
		{data: "+-5\n", wantErr: unix.EINVAL},
		{data: "-+5\n", wantErr: unix.EINVAL},
		{data: "++5\n", wantErr: unix.EINVAL},
		{data: "2147483648\n", wantErr: unix.ERANGE},
		{data: "-2147483649\n", wantErr: unix.ERANGE},
		{data: "99999999999999999999\n", wantErr: unix.ERANGE},
		{data: "99999999999999999999x\n", wantErr: unix.ERANGE}, // overflow is found before the garbage
	}
	for _, tc := range tests {
		t.Run(tc.data, func(t *testing.T) {
			f := newFake()
			tree := New(f)
			before := snapshot(f)
			n, err := tree.Write(dl, []byte(tc.data))
			checkErr(t, err, tc.wantErr)
			if tc.wantErr != nil {
				if n != 0 || len(f.calls) != 0 {
					t.Errorf("Write = %d, Driver calls %v; want 0 and none", n, f.calls)
				}
				if diff := cmp.Diff(before, snapshot(f)); diff != "" {
					t.Errorf("state changed (-before +after):\n%s", diff)
				}
				return
			}
			if n != len(tc.data) {
				t.Errorf("Write = %d, want %d", n, len(tc.data))
			}
			got, err := tree.Read(dl)
			checkErr(t, err, nil)
			if string(got) != tc.want {
				t.Errorf("debug_level = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestList(t *testing.T) {
	dir := func(name string) netlinkx.SysEntry {
		return netlinkx.SysEntry{Name: name, Mode: netlinkx.SysDir | 0o755}
	}
	file := func(name string, mode uint32) netlinkx.SysEntry { return netlinkx.SysEntry{Name: name, Mode: mode} }
	generic := []netlinkx.SysEntry{
		file("addr_len", 0o444), file("address", 0o444), file("broadcast", 0o444), file("carrier", 0o644),
		file("dev_id", 0o444), file("dev_port", 0o444), file("flags", 0o444), file("ifindex", 0o444),
		file("iflink", 0o444), file("mtu", 0o644), file("operstate", 0o444), file("tx_queue_len", 0o644),
		file("type", 0o444), dir("statistics"),
	}
	with := func(extra ...netlinkx.SysEntry) []netlinkx.SysEntry {
		return append(append([]netlinkx.SysEntry(nil), generic...), extra...)
	}
	sortEntries := cmpopts.SortSlices(func(a, b netlinkx.SysEntry) bool { return a.Name < b.Name })
	tests := []struct {
		path    string
		want    []netlinkx.SysEntry
		wantErr error
	}{
		{path: "", want: []netlinkx.SysEntry{dir("class"), dir("kernel"), dir("module")}},
		{path: "/sys/", want: []netlinkx.SysEntry{dir("class"), dir("kernel"), dir("module")}},
		{path: "class", want: []netlinkx.SysEntry{dir("infiniband"), dir("net")}},
		{path: "class/net", want: []netlinkx.SysEntry{dir("ib0"), dir("ib0.8001"), dir("ib1"), dir("ipoib0")}},
		{path: "class/net/ib0", want: with(file("create_child", 0o200), file("delete_child", 0o200),
			file("mode", 0o644), file("pkey", 0o444), file("umcast", 0o644))},
		{path: "class/net/ib0.8001", want: with(file("mode", 0o644), file("parent", 0o444),
			file("pkey", 0o444), file("umcast", 0o644))},
		{path: "class/net/ipoib0", want: with()},
		{path: "module", want: []netlinkx.SysEntry{dir("ib_ipoib")}},
		{path: "module/ib_ipoib", want: []netlinkx.SysEntry{dir("parameters")}},
		{path: "module/ib_ipoib/parameters", want: []netlinkx.SysEntry{
			file("cm_data_debug_level", 0o644), file("data_debug_level", 0o644), file("debug_level", 0o644),
			file("max_nonsrq_conn_qp", 0o444), file("mcast_debug_level", 0o644),
			file("recv_queue_size", 0o444), file("send_queue_size", 0o444)}},
		{path: "class/net/ib0/mtu", wantErr: unix.ENOTDIR},
		{path: "class/net/ib0/create_child", wantErr: unix.ENOTDIR},
		{path: "class/net/ipoib0/pkey", wantErr: unix.ENOENT},
		{path: "class/net/ib9", wantErr: unix.ENOENT},
		{path: "nope", wantErr: unix.ENOENT},
	}
	tree := New(newFixture())
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := tree.List(tc.path)
			checkErr(t, err, tc.wantErr)
			// The order is checked separately; the table lists entries
			// grouped for reading.
			if diff := cmp.Diff(tc.want, got, sortEntries); diff != "" {
				t.Errorf("List(%q) (-want +got):\n%s", tc.path, diff)
			}
			for i := 1; i < len(got); i++ {
				if got[i-1].Name >= got[i].Name {
					t.Errorf("List(%q) not sorted: %q before %q", tc.path, got[i-1].Name, got[i].Name)
				}
			}
		})
	}
}

// TestListFollowsDriver: directories are derived on every call.
func TestListFollowsDriver(t *testing.T) {
	f := newFake()
	tree := New(f)
	runSteps(t, f, []step{{"class/net/ib0/create_child", "0x8001\n", 7, nil}})
	got, err := tree.List("class/net")
	checkErr(t, err, nil)
	want := []netlinkx.SysEntry{{Name: "ib0", Mode: netlinkx.SysDir | 0o755}, {Name: "ib0.8001", Mode: netlinkx.SysDir | 0o755}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("after create (-want +got):\n%s", diff)
	}
	runSteps(t, f, []step{{"class/net/ib0/delete_child", "0x8001\n", 7, nil}})
	got, err = tree.List("class/net")
	checkErr(t, err, nil)
	if diff := cmp.Diff(want[:1], got); diff != "" {
		t.Fatalf("after delete (-want +got):\n%s", diff)
	}
	_, err = tree.Read("class/net/ib0.8001/pkey")
	checkErr(t, err, unix.ENOENT)
}

// TestDebugfs: kernel/debug/ipoib/<dev>_mcg and _path in ipoib_fs.c's
// formats; a parameter bound inside a path component ("{dev}_mcg").
func TestDebugfs(t *testing.T) {
	tree := New(newFixture())
	entries, err := tree.List("")
	checkErr(t, err, nil)
	if diff := cmp.Diff([]string{"class", "kernel", "module"}, names(entries)); diff != "" {
		t.Errorf("root (-want +got):\n%s", diff)
	}
	entries, err = tree.List("kernel/debug/ipoib")
	checkErr(t, err, nil)
	if diff := cmp.Diff([]string{"ib0.8001_mcg", "ib0.8001_path", "ib0_mcg", "ib0_path", "ib1_mcg", "ib1_path", "ipoib0_mcg", "ipoib0_path"}, names(entries)); diff != "" {
		t.Errorf("kernel/debug/ipoib (-want +got):\n%s", diff)
	}
	got, err := tree.Read("/sys/kernel/debug/ipoib/ib0_mcg")
	checkErr(t, err, nil)
	want := "GID: ff12:401b:ffff:0:0:0:ffff:ffff\n  created:     123456\n  queuelen:         0\n  complete:       yes\n  send_only:       no\n\n" +
		"GID: ff12:601b:ffff:0:0:0:0:1\n  created:     123999\n  queuelen:         3\n  complete:        no\n  send_only:      yes\n\n"
	if string(got) != want {
		t.Errorf("ib0_mcg = %q\nwant %q", got, want)
	}
	got, err = tree.Read("kernel/debug/ipoib/ib0_path")
	checkErr(t, err, nil)
	want = "GID: fe80:0:0:0:2:c903:b:3b51\n  complete:    yes\n  DLID:     0x0002\n  SL:            0\n  rate:       56.250 Gb/sec\n\n" +
		"GID: fe80:0:0:0:2:c903:b:3b52\n  complete:     no\n\n" +
		"GID: fe80:0:0:0:2:c903:b:3b53\n  complete:    yes\n  DLID:     0x0011\n  SL:            3\n  rate:       14.62 Gb/sec\n\n"
	if string(got) != want {
		t.Errorf("ib0_path = %q\nwant %q", got, want)
	}
	for _, p := range []string{"kernel/debug/ipoib/_mcg", "kernel/debug/ipoib/ib9_mcg", "kernel/debug/ipoib/ib0", "kernel/debug/ipoib/ib0_mcgx"} {
		_, err := tree.Read(p)
		checkErr(t, err, unix.ENOENT)
	}
	_, err = tree.Write("kernel/debug/ipoib/ib0_mcg", []byte("1\n"))
	checkErr(t, err, unix.EACCES)
}

func names(es []netlinkx.SysEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

func TestPathError(t *testing.T) {
	_, err := New(newFixture()).Write("/sys/class/net/ib0/create_child", []byte("0xffff\n"))
	var pe *PathError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *PathError", err)
	}
	want := &PathError{Op: "write", Path: "class/net/ib0/create_child", Err: unix.ENOTUNIQ}
	if diff := cmp.Diff(want, pe); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got, want := err.Error(), "write /sys/class/net/ib0/create_child: "+unix.ENOTUNIQ.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var errno unix.Errno
	if !errors.As(err, &errno) || errno != unix.ENOTUNIQ {
		t.Errorf("errors.As errno = %v, want ENOTUNIQ", errno)
	}
}

// brokenDriver fails Device with an errno other than ENODEV.
type brokenDriver struct{ *fakeDriver }

func (brokenDriver) Device(string) (Device, error) { return Device{}, fail("device", unix.EIO) }

func TestDriverLookupError(t *testing.T) {
	tree := New(brokenDriver{newFixture()})
	_, err := tree.Read("class/net/ib0/mtu")
	checkErr(t, err, unix.EIO)
	_, err = tree.List("class/net/ib0")
	checkErr(t, err, unix.EIO)
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"/", ""},
		{".", ""},
		{"sys", ""},
		{"/sys", ""},
		{"/sys/", ""},
		{"sys/", ""},
		{"//sys//", ""},
		{"/sys/class/net/ib0/mtu", "class/net/ib0/mtu"},
		{"sys/class/net/ib0/mtu", "class/net/ib0/mtu"},
		{"class/net/ib0/mtu", "class/net/ib0/mtu"},
		{"/class/net/ib0/mtu", "class/net/ib0/mtu"},
		{"class/net/ib0/mtu/", "class/net/ib0/mtu"},
		{"./class/./net//ib0/mtu", "class/net/ib0/mtu"},
		{"/sys/./class/net/", "class/net"},
		{"class/net/../net/ib0", "class/net/ib0"},
		{"/sys/..", ""},
		{"../class", "class"},
		{"/sys/../../class", "class"},
		{"sysfoo/x", "sysfoo/x"},
		{"/sysfoo", "sysfoo"},
		{"class/sys", "class/sys"},
		{"/sys/sys/class", "sys/class"},
	}
	for _, tc := range tests {
		if got := Clean(tc.in); got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMTUStore(t *testing.T) {
	tests := []struct {
		in      string
		wantErr error
		want    string
	}{
		{"1500\n", nil, "1500\n"},
		{"0x800\n", nil, "2048\n"},
		{"abc\n", unix.EINVAL, "2044\n"},
		{"-1\n", unix.EINVAL, "2044\n"},
		{"4294967295\n", unix.EINVAL, "2044\n"},
		{"71\n", unix.EINVAL, "2044\n"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			tree := New(newFake())
			n, err := tree.Write("class/net/ib0/mtu", []byte(tc.in))
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == nil && n != len(tc.in) {
				t.Errorf("Write = %d", n)
			}
			got, _ := tree.Read("class/net/ib0/mtu")
			if string(got) != tc.want {
				t.Errorf("mtu = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTxQueueLenStore checks the tx_queue_len file against net-sysfs.c:
// tx_queue_len_store is netdev_store (kstrtoul base 0: EINVAL, ERANGE past
// 64 bits) with dev_change_tx_queue_len, which refuses a value that does
// not fit an unsigned int with ERANGE; the show is fmt_dec.
func TestTxQueueLenStore(t *testing.T) {
	tests := []struct {
		in      string
		wantErr error
		want    string
	}{
		{"1000\n", nil, "1000\n"},
		{"0x10", nil, "16\n"},
		{"010\n", nil, "8\n"},
		{"+5\n", nil, "5\n"},
		{"0\n", nil, "0\n"},
		{"4294967295\n", nil, "-1\n"},
		{"4294967296\n", unix.ERANGE, "256\n"},
		{"18446744073709551616\n", unix.ERANGE, "256\n"},
		{"-1\n", unix.EINVAL, "256\n"},
		{"abc\n", unix.EINVAL, "256\n"},
		{"5 \n", unix.EINVAL, "256\n"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			tree := New(newFake())
			n, err := tree.Write("class/net/ib0/tx_queue_len", []byte(tc.in))
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == nil && n != len(tc.in) {
				t.Errorf("Write = %d", n)
			}
			got, _ := tree.Read("class/net/ib0/tx_queue_len")
			if string(got) != tc.want {
				t.Errorf("tx_queue_len = %q, want %q", got, tc.want)
			}
		})
	}
}

// netstatNames are net-sysfs.c's netstat_attrs (mainline; 6.18 lists the
// same), the files of class/net/<dev>/statistics.
var netstatNames = []string{"rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors",
	"rx_dropped", "tx_dropped", "multicast", "collisions", "rx_length_errors", "rx_over_errors",
	"rx_crc_errors", "rx_frame_errors", "rx_fifo_errors", "rx_missed_errors", "tx_aborted_errors",
	"tx_carrier_errors", "tx_fifo_errors", "tx_heartbeat_errors", "tx_window_errors", "rx_compressed",
	"tx_compressed", "rx_nohandler"}

// TestStatistics checks class/net/<dev>/statistics against net-sysfs.c's
// netstat_group: every netstat_attrs counter as a 0444 file that
// netstat_show prints with fmt_u64, and no write.
func TestStatistics(t *testing.T) {
	f := newFake()
	d := f.find("ib0")
	d.stats = netlinkx.Stats{RxPackets: 3, TxPackets: 4, RxBytes: 236, TxBytes: 1 << 40, RxErrors: 5, TxErrors: 6,
		RxDropped: 7, TxDropped: 8, Multicast: 9, Collisions: 10, RxOverErrors: 11, RxCRCErrors: 12,
		RxFrameErrors: 13, RxFIFOErrors: 14, RxMissedErrors: 15, TxAbortedErrors: 16, TxCarrierErrors: 17,
		TxFIFOErrors: 18, TxHeartbeatErrors: 19, TxWindowErrors: 20, RxNoHandler: 1<<64 - 1}
	want := map[string]string{"rx_packets": "3\n", "tx_packets": "4\n", "rx_bytes": "236\n",
		"tx_bytes": "1099511627776\n", "rx_errors": "5\n", "tx_errors": "6\n", "rx_dropped": "7\n",
		"tx_dropped": "8\n", "multicast": "9\n", "collisions": "10\n", "rx_length_errors": "0\n",
		"rx_over_errors": "11\n", "rx_crc_errors": "12\n", "rx_frame_errors": "13\n", "rx_fifo_errors": "14\n",
		"rx_missed_errors": "15\n", "tx_aborted_errors": "16\n", "tx_carrier_errors": "17\n",
		"tx_fifo_errors": "18\n", "tx_heartbeat_errors": "19\n", "tx_window_errors": "20\n",
		"rx_compressed": "0\n", "tx_compressed": "0\n", "rx_nohandler": "18446744073709551615\n"}
	tree := New(f)
	list, err := tree.List("class/net/ib0/statistics")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
		if e.Mode != 0o444 {
			t.Errorf("%s: mode %o, want 444", e.Name, e.Mode)
		}
	}
	wantNames := append([]string(nil), netstatNames...)
	sort.Strings(wantNames)
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("statistics (-want +got):\n%s", diff)
	}
	for _, name := range netstatNames {
		got, err := tree.Read("class/net/ib0/statistics/" + name)
		if err != nil || string(got) != want[name] {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want[name])
		}
		if _, err := tree.Write("class/net/ib0/statistics/"+name, []byte("0\n")); !errors.Is(err, unix.EACCES) {
			t.Errorf("write %s: %v, want EACCES", name, err)
		}
	}
}

// TestStatisticsNamesMatchThisKernel compares the statistics files with
// those of the running kernel's loopback device, so a kernel that adds or
// drops a counter shows here.
func TestStatisticsNamesMatchThisKernel(t *testing.T) {
	ents, err := os.ReadDir("/sys/class/net/lo/statistics")
	if err != nil {
		t.Skipf("no sysfs statistics of lo on this machine: %v", err)
	}
	var host []string
	for _, e := range ents {
		host = append(host, e.Name())
	}
	list, err := New(newFake()).List("class/net/ib0/statistics")
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, e := range list {
		ours = append(ours, e.Name)
	}
	if diff := cmp.Diff(host, ours); diff != "" {
		t.Errorf("statistics files (-this kernel +emulated):\n%s", diff)
	}
}

// TestResolveAllocs: resolving a path does not allocate for each file
// pattern it tries (a create_child write tried all 46 of them, each with a
// Device of its own), whichever pattern matches.
func TestResolveAllocs(t *testing.T) {
	tr := New(newFixture())
	patterns := len(compiledFiles())
	for _, path := range []string{
		"class/net/ib0/create_child",
		"class/net/ib0/mtu",
		"class/net/ib0.8001/pkey",
		"module/ib_ipoib/parameters/debug_level",
		"class/net/nosuch/mtu",
	} {
		segs := split(Clean(path))
		allocs := testing.AllocsPerRun(100, func() { _, _ = tr.resolve(tr.newCall(), segs) })
		if allocs >= float64(patterns) {
			t.Errorf("%s: %.0f allocations to resolve among %d patterns", path, allocs, patterns)
		}
	}
}
