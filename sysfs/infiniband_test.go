package sysfs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// TestIBRead: every file of class/infiniband/<hca> in the kernel's format
// (drivers/infiniband/core/sysfs.c unless said otherwise).
func TestIBRead(t *testing.T) {
	const dev, p1, p2 = "class/infiniband/mlx5_0/", "class/infiniband/mlx5_0/ports/1/", "class/infiniband/mlx5_0/ports/2/"
	tests := []readCase{
		{path: dev + "node_type", want: "1: CA\n"},                               // node_type_show
		{path: dev + "node_guid", want: "0002:c903:0000:1000\n"},                 // node_guid_show
		{path: dev + "sys_image_guid", want: "0002:c903:0000:1003\n"},            // sys_image_guid_show
		{path: dev + "fw_ver", want: "12.28.2006\n"},                             // fw_ver_show
		{path: dev + "node_desc", want: "node0 mlx5_0\n"},                        // node_desc_show
		{path: dev + "hw_rev", want: "1b\n"},                                     // mlx5 hw_rev_show: "%x"
		{path: dev + "hca_type", want: "MT4115\n"},                               // mlx5 hca_type_show
		{path: dev + "board_id", want: "MT_2190110032\n"},                        // mlx5 board_id_show
		{path: p1 + "state", want: "4: ACTIVE\n"},                                // state_show
		{path: p2 + "state", want: "1: DOWN\n"},                                  // state_show
		{path: p1 + "phys_state", want: "5: LinkUp\n"},                           // phys_state_show
		{path: p2 + "phys_state", want: "3: Disabled\n"},                         // phys_state_show
		{path: p1 + "rate", want: "100 Gb/sec (4X EDR)\n"},                       // rate_show
		{path: p1 + "lid", want: "0x1\n"},                                        // lid_show
		{path: p2 + "lid", want: "0x1a\n"},                                       // lid_show
		{path: p2 + "sm_lid", want: "0x1\n"},                                     // sm_lid_show
		{path: p2 + "sm_sl", want: "3\n"},                                        // sm_sl_show
		{path: p1 + "sm_sl", want: "0\n"},                                        // sm_sl_show
		{path: p2 + "lid_mask_count", want: "2\n"},                               // lid_mask_count_show
		{path: p1 + "cap_mask", want: "0x2651e84a\n"},                            // cap_mask_show
		{path: p1 + "link_layer", want: "InfiniBand\n"},                          // link_layer_show
		{path: p1 + "gids/0", want: "fe80:0000:0000:0000:0002:c903:000b:3b51\n"}, // show_port_gid
		{path: p1 + "gids/7", want: "0000:0000:0000:0000:0000:0000:0000:0000\n"}, // show_port_gid: unused entry
		{path: p1 + "pkeys/0", want: "0xffff\n"},                                 // show_port_pkey
		{path: p1 + "pkeys/1", want: "0x8001\n"},                                 // show_port_pkey
		{path: p1 + "pkeys/3", want: "0x0000\n"},                                 // show_port_pkey: unused entry
		{path: p2 + "pkeys/0", want: "0x7fff\n"},                                 // show_port_pkey: limited member

		// Names the kernel does not have.
		{path: p1 + "gids/8", wantErr: unix.ENOENT},
		{path: p1 + "gids/01", wantErr: unix.ENOENT},
		{path: p1 + "gids/-1", wantErr: unix.ENOENT},
		{path: p1 + "gids/+1", wantErr: unix.ENOENT},
		{path: p1 + "pkeys/4", wantErr: unix.ENOENT},
		{path: p1 + "pkeys/x", wantErr: unix.ENOENT},
		{path: "class/infiniband/mlx5_0/ports/3/state", wantErr: unix.ENOENT},
		{path: "class/infiniband/mlx5_0/ports/01/state", wantErr: unix.ENOENT},
		{path: "class/infiniband/mlx5_1/node_type", wantErr: unix.ENOENT},
		{path: dev + "nope", wantErr: unix.ENOENT},
		{path: dev + "node_type/x", wantErr: unix.ENOTDIR},
		{path: "class/infiniband", wantErr: unix.EISDIR},
		{path: dev + "ports/1/gids", wantErr: unix.EISDIR},
	}
	checkReads(t, New(newIBFixture()), tests)
}

// TestIBRate: rate_show for every speed of enum ib_port_speed and width
// of enum ib_port_width: 0.1 Gb/s per lane times the lanes, ".5" for a
// half, an unknown speed as SDR and an unknown width EINVAL.
func TestIBRate(t *testing.T) {
	tests := []struct {
		width, speed int
		want         string
		wantErr      error
	}{
		{IBWidth1X, IBSpeedSDR, "2.5 Gb/sec (1X SDR)\n", nil},
		{IBWidth4X, IBSpeedSDR, "10 Gb/sec (4X SDR)\n", nil},
		{IBWidth12X, IBSpeedSDR, "30 Gb/sec (12X SDR)\n", nil},
		{IBWidth1X, IBSpeedDDR, "5 Gb/sec (1X DDR)\n", nil},
		{IBWidth4X, IBSpeedQDR, "40 Gb/sec (4X QDR)\n", nil},
		{IBWidth4X, IBSpeedFDR10, "40 Gb/sec (4X FDR10)\n", nil},
		{IBWidth1X, IBSpeedFDR, "14 Gb/sec (1X FDR)\n", nil},
		{IBWidth4X, IBSpeedFDR, "56 Gb/sec (4X FDR)\n", nil},
		{IBWidth8X, IBSpeedFDR, "112 Gb/sec (8X FDR)\n", nil},
		{IBWidth4X, IBSpeedEDR, "100 Gb/sec (4X EDR)\n", nil},
		{IBWidth12X, IBSpeedEDR, "300 Gb/sec (12X EDR)\n", nil},
		{IBWidth2X, IBSpeedHDR, "100 Gb/sec (2X HDR)\n", nil},
		{IBWidth4X, IBSpeedHDR, "200 Gb/sec (4X HDR)\n", nil},
		{IBWidth4X, IBSpeedNDR, "400 Gb/sec (4X NDR)\n", nil},
		{IBWidth8X, IBSpeedXDR, "1600 Gb/sec (8X XDR)\n", nil},
		{IBWidth4X, 0, "10 Gb/sec (4X SDR)\n", nil},
		{IBWidth4X, 3, "10 Gb/sec (4X SDR)\n", nil},
		{0, IBSpeedEDR, "", unix.EINVAL},
		{3, IBSpeedEDR, "", unix.EINVAL},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d-%d", tc.width, tc.speed), func(t *testing.T) {
			f := newIBFixture()
			f.devs[0].Ports[0].ActiveWidth, f.devs[0].Ports[0].ActiveSpeed = tc.width, tc.speed
			got, err := New(f).Read("class/infiniband/mlx5_0/ports/1/rate")
			checkErr(t, err, tc.wantErr)
			if string(got) != tc.want {
				t.Errorf("rate = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestIBStateNames: state_show's ib_port_state names (UNKNOWN beyond
// ACTIVE_DEFER), phys_state_to_str's (<unknown> for 0 and beyond 7) and
// node_type_string's (<unknown> beyond RDMA_NODE_UNSPECIFIED).
func TestIBStateNames(t *testing.T) {
	states := []string{"0: NOP\n", "1: DOWN\n", "2: INIT\n", "3: ARMED\n", "4: ACTIVE\n", "5: ACTIVE_DEFER\n", "6: UNKNOWN\n"}
	phys := []string{"0: <unknown>\n", "1: Sleep\n", "2: Polling\n", "3: Disabled\n", "4: PortConfigurationTraining\n",
		"5: LinkUp\n", "6: LinkErrorRecovery\n", "7: Phy Test\n", "8: <unknown>\n"}
	types := []string{"0: <unknown>\n", "1: CA\n", "2: switch\n", "3: router\n", "4: RNIC\n", "5: usNIC\n",
		"6: usNIC UDP\n", "7: unspecified\n", "8: <unknown>\n"}
	read := func(f *ibDriver, path string) string {
		t.Helper()
		b, err := New(f).Read("class/infiniband/mlx5_0/" + path)
		checkErr(t, err, nil)
		return string(b)
	}
	f := newIBFixture()
	for i, want := range states {
		f.devs[0].Ports[0].State = i
		if got := read(f, "ports/1/state"); got != want {
			t.Errorf("state %d = %q, want %q", i, got, want)
		}
	}
	for i, want := range phys {
		f.devs[0].Ports[0].PhysState = i
		if got := read(f, "ports/1/phys_state"); got != want {
			t.Errorf("phys_state %d = %q, want %q", i, got, want)
		}
	}
	for i, want := range types {
		f.devs[0].NodeType = uint8(i)
		if got := read(f, "node_type"); got != want {
			t.Errorf("node_type %d = %q, want %q", i, got, want)
		}
	}
}

// TestIBNodeDesc: node_desc_show's "%.64s": 64 bytes at most, a C
// string.
func TestIBNodeDesc(t *testing.T) {
	long := strings.Repeat("x", 64)
	tests := []struct{ desc, want string }{
		{"", "\n"},
		{long, long + "\n"},
		{long + "y", long + "\n"},
		{"ab\x00cd", "ab\n"},
		{"\x00ab", "\n"},
	}
	for _, tc := range tests {
		f := newIBFixture()
		f.devs[0].NodeDesc = tc.desc
		got, err := New(f).Read("class/infiniband/mlx5_0/node_desc")
		checkErr(t, err, nil)
		if string(got) != tc.want {
			t.Errorf("node_desc %q reads %q, want %q", tc.desc, got, tc.want)
		}
	}
}

// TestIBGUIDs: node_guid_show and show_port_gid print every group with
// its leading zeros.
func TestIBGUIDs(t *testing.T) {
	f := newIBFixture()
	f.devs[0].NodeGUID = 0x0123456789abcdef
	f.devs[0].Ports[0].GIDs[1] = [16]byte{0: 0x0a, 1: 0x0b, 14: 0xf0, 15: 0x01}
	tree := New(f)
	for path, want := range map[string]string{
		"node_guid":      "0123:4567:89ab:cdef\n",
		"ports/1/gids/1": "0a0b:0000:0000:0000:0000:0000:0000:f001\n",
	} {
		got, err := tree.Read("class/infiniband/mlx5_0/" + path)
		checkErr(t, err, nil)
		if string(got) != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
}

// TestIBWrite: every file is read-only but node_desc, so opening one for
// writing fails EACCES, even for root, as kernfs answers for mode 0444;
// node_desc is 0644 and its store fails as node_desc_store does for an
// HCA without modify_device. Nothing changes.
func TestIBWrite(t *testing.T) {
	f := newIBFixture()
	tree := New(f)
	var paths []string
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := tree.List(dir)
		checkErr(t, err, nil)
		for _, e := range entries {
			if e.Mode&netlinkx.SysDir != 0 {
				walk(dir + "/" + e.Name)
			} else {
				paths = append(paths, dir+"/"+e.Name)
			}
		}
	}
	walk("class/infiniband")
	if len(paths) != 8+2*(9+8+4) {
		t.Fatalf("%d files under class/infiniband: %v", len(paths), paths)
	}
	before := ibFake()
	for _, p := range paths {
		want := unix.EACCES
		if p == "class/infiniband/mlx5_0/node_desc" {
			want = unix.EOPNOTSUPP
		}
		n, err := tree.Write(p, []byte("1\n"))
		if n != 0 {
			t.Errorf("write %s accepted %d bytes", p, n)
		}
		checkErr(t, err, want)
	}
	if diff := cmp.Diff([]IBDevice{before}, f.devs); diff != "" {
		t.Errorf("devices changed (-want +got):\n%s", diff)
	}
}

// TestIBList: the directories of class/infiniband and their modes.
func TestIBList(t *testing.T) {
	dir := func(name string) netlinkx.SysEntry {
		return netlinkx.SysEntry{Name: name, Mode: netlinkx.SysDir | 0o755}
	}
	file := func(name string, mode uint32) netlinkx.SysEntry { return netlinkx.SysEntry{Name: name, Mode: mode} }
	ro := func(names ...string) []netlinkx.SysEntry {
		var out []netlinkx.SysEntry
		for _, n := range names {
			out = append(out, file(n, 0o444))
		}
		return out
	}
	tests := []struct {
		path    string
		want    []netlinkx.SysEntry
		wantErr error
	}{
		{path: "class", want: []netlinkx.SysEntry{dir("infiniband"), dir("net")}},
		{path: "class/infiniband", want: []netlinkx.SysEntry{dir("mlx5_0")}},
		{path: "class/infiniband/mlx5_0", want: []netlinkx.SysEntry{file("board_id", 0o444), file("fw_ver", 0o444),
			file("hca_type", 0o444), file("hw_rev", 0o444), file("node_desc", 0o644), file("node_guid", 0o444),
			file("node_type", 0o444), dir("ports"), file("sys_image_guid", 0o444)}},
		{path: "class/infiniband/mlx5_0/ports", want: []netlinkx.SysEntry{dir("1"), dir("2")}},
		{path: "class/infiniband/mlx5_0/ports/1", want: append(ro("cap_mask"), append([]netlinkx.SysEntry{dir("gids")},
			append(ro("lid", "lid_mask_count", "link_layer", "phys_state"), append([]netlinkx.SysEntry{dir("pkeys")},
				ro("rate", "sm_lid", "sm_sl", "state")...)...)...)...)},
		{path: "class/infiniband/mlx5_0/ports/1/gids", want: ro("0", "1", "2", "3", "4", "5", "6", "7")},
		{path: "class/infiniband/mlx5_0/ports/2/pkeys", want: ro("0", "1", "2", "3")},
		{path: "class/infiniband/mlx5_0/ports/3", wantErr: unix.ENOENT},
		{path: "class/infiniband/mlx5_0/node_type", wantErr: unix.ENOTDIR},
	}
	tree := New(newIBFixture())
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := tree.List(tc.path)
			checkErr(t, err, tc.wantErr)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("List(%q) (-want +got):\n%s", tc.path, diff)
			}
		})
	}
}

// TestIBTables: the gids and pkeys directories have as many entries as
// the port's tables, which may differ per port.
func TestIBTables(t *testing.T) {
	f := newIBFixture()
	f.devs[0].Ports[1].PKeys = make([]uint16, 128)
	f.devs[0].Ports[1].PKeys[127] = 0x8123
	tree := New(f)
	entries, err := tree.List("class/infiniband/mlx5_0/ports/2/pkeys")
	checkErr(t, err, nil)
	if len(entries) != 128 || entries[0].Name != "0" || entries[127].Name != "99" {
		t.Errorf("pkeys of 128: %d entries, %v … %v", len(entries), entries[0], entries[len(entries)-1])
	}
	got, err := tree.Read("class/infiniband/mlx5_0/ports/2/pkeys/127")
	checkErr(t, err, nil)
	if string(got) != "0x8123\n" {
		t.Errorf("pkeys/127 = %q", got)
	}
	_, err = tree.Read("class/infiniband/mlx5_0/ports/1/pkeys/127")
	checkErr(t, err, unix.ENOENT)
}

// TestIBWithoutDevices: a driver without RDMA devices has an empty
// class/infiniband, as ib_core without an HCA; a driver failing to
// describe its device fails the lookup with its errno.
func TestIBWithoutDevices(t *testing.T) {
	tree := New(newFixture())
	got, err := tree.List("class/infiniband")
	checkErr(t, err, nil)
	if len(got) != 0 {
		t.Errorf("class/infiniband of a driver without RDMA devices: %v", got)
	}
	_, err = tree.Read("class/infiniband/mlx5_0/node_type")
	checkErr(t, err, unix.ENOENT)

	f := newIBFixture()
	f.ibErr = fail("infiniband", unix.EIO)
	_, err = New(f).Read("class/infiniband/mlx5_0/node_type")
	checkErr(t, err, unix.EIO)
	_, err = New(f).List("class/infiniband/mlx5_0")
	checkErr(t, err, unix.EIO)
	f.ibErr = fail("infiniband", unix.ENOENT)
	_, err = New(f).Read("class/infiniband/mlx5_0/node_type")
	checkErr(t, err, unix.ENOENT)
}
