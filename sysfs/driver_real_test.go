package sysfs_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/ibctl/ibctl/sysfs"
	"golang.org/x/sys/unix"
)

// The create_child and delete_child sequences of the kernel's
// ipoib_vlan.c against the real driver, not the test fake: ENOTUNIQ for
// the parent's P_Key or one a sysfs child has (with or without the full
// bit), EEXIST when the name is taken, ENOENT for a child's create_child,
// ENODEV for a P_Key no sysfs child has.
func TestChildSequencesOnTheDriver(t *testing.T) {
	const cc, dc = "class/net/ib0/create_child", "class/net/ib0/delete_child"
	type step struct {
		path, data string
		err        unix.Errno
	}
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"twice", []step{{cc, "0x8001\n", 0}, {cc, "0x8001\n", unix.ENOTUNIQ}}, []string{"ib0", "ib1", "ib0.8001"}},
		{"the parent's", []step{{cc, "0xffff\n", unix.ENOTUNIQ}}, []string{"ib0", "ib1"}},
		{"short twice", []step{{cc, "0x1\n", 0}, {cc, "0x1\n", unix.EEXIST}}, []string{"ib0", "ib1", "ib0.0001"}},
		{"short then full", []step{{cc, "0x1\n", 0}, {cc, "0x8001\n", unix.ENOTUNIQ}}, []string{"ib0", "ib1", "ib0.0001"}},
		{"full then short", []step{{cc, "0x8001\n", 0}, {cc, "0x1\n", 0}}, []string{"ib0", "ib1", "ib0.8001", "ib0.0001"}},
		{"7fff is unique", []step{{cc, "0x7fff\n", 0}, {cc, "0xffff\n", unix.ENOTUNIQ}}, []string{"ib0", "ib1", "ib0.7fff"}},
		{"no grandchildren", []step{{cc, "0x8001\n", 0}, {"class/net/ib0.8001/create_child", "0x8002\n", unix.ENOENT}}, []string{"ib0", "ib1", "ib0.8001"}},
		{"delete missing", []step{{dc, "0x8002\n", unix.ENODEV}}, []string{"ib0", "ib1"}},
		{"delete twice", []step{{cc, "0x8001\n", 0}, {dc, "0x8001\n", 0}, {dc, "0x8001\n", unix.ENODEV}}, []string{"ib0", "ib1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := driver.New(driver.Options{})
			if err != nil {
				t.Fatal(err)
			}
			n, err := d.Node("")
			if err != nil {
				t.Fatal(err)
			}
			tree := sysfs.New(n)
			for i, s := range tc.steps {
				before := n.Devices()
				_, err := tree.Write(s.path, []byte(s.data))
				var got unix.Errno
				if err != nil && !errors.As(err, &got) {
					t.Fatalf("step %d: %v is no errno", i, err)
				}
				if got != s.err {
					t.Fatalf("step %d: write %q to %s: %v, want %v", i, s.data, s.path, err, s.err)
				}
				if s.err != 0 && !cmp.Equal(before, n.Devices()) {
					t.Fatalf("step %d: devices changed by a failed write: %v → %v", i, before, n.Devices())
				}
			}
			if diff := cmp.Diff(tc.want, n.Devices()); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIBFollowsTheFabric: class/infiniband is read live from the real
// driver's fabric: pkeys/N follow the subnet manager's partitions (added
// at the first free index, gone when deleted), state and phys_state the
// port going down and up, and cap_mask has IsSM on the SM's port only.
func TestIBFollowsTheFabric(t *testing.T) {
	const p1 = "class/infiniband/mlx5_0/ports/1/"
	d, err := driver.New(driver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Node("")
	if err != nil {
		t.Fatal(err)
	}
	tree := sysfs.New(n)
	check := func(step string, want map[string]string) {
		t.Helper()
		for path, w := range want {
			got, err := tree.Read(path)
			if err != nil || string(got) != w {
				t.Errorf("%s: %s = %q, %v; want %q", step, path, got, err, w)
			}
		}
	}
	check("start", map[string]string{
		p1 + "pkeys/0": "0xffff\n", p1 + "pkeys/1": "0x0000\n", p1 + "pkeys/127": "0x0000\n",
		p1 + "state": "4: ACTIVE\n", p1 + "phys_state": "5: LinkUp\n",
		p1 + "lid": "0x1\n", p1 + "sm_lid": "0x1\n", p1 + "cap_mask": "0x2651e84a\n",
		"class/infiniband/mlx5_0/ports/2/cap_mask": "0x2651e848\n",
		p1 + "gids/0": "fe80:0000:0000:0000:0002:c903:0000:1001\n", p1 + "gids/7": "0000:0000:0000:0000:0000:0000:0000:0000\n",
		p1 + "rate": "100 Gb/sec (4X EDR)\n",
	})
	if _, err := tree.Read(p1 + "pkeys/128"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("pkeys/128: %v, want ENOENT", err)
	}
	if _, err := tree.Read(p1 + "gids/8"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("gids/8: %v, want ENOENT", err)
	}
	err = d.AddPartition(netlinkx.Partition{PKey: 0x8001, MTU: 2048,
		Members: []netlinkx.PartitionMember{{Node: "node0", Port: 1, Full: false}}})
	if err != nil {
		t.Fatal(err)
	}
	check("partition added", map[string]string{p1 + "pkeys/0": "0xffff\n", p1 + "pkeys/1": "0x0001\n",
		"class/infiniband/mlx5_0/ports/2/pkeys/1": "0x0000\n"})
	if err := d.DelPartition(0x8001); err != nil {
		t.Fatal(err)
	}
	check("partition deleted", map[string]string{p1 + "pkeys/1": "0x0000\n"})
	if err := d.Fabric().SetPortState("node0", 1, fabric.StateDown); err != nil {
		t.Fatal(err)
	}
	check("port down", map[string]string{p1 + "state": "1: DOWN\n", p1 + "phys_state": "3: Disabled\n"})
	if err := d.Fabric().SetPortState("node0", 1, fabric.StateActive); err != nil {
		t.Fatal(err)
	}
	check("port up", map[string]string{p1 + "state": "4: ACTIVE\n", p1 + "phys_state": "5: LinkUp\n"})
}

// TestIBDeviceOfTheModel: the device's identity files are those of the
// node's HCA model and driver: mlx4's name, firmware format, GID table
// of 128 entries and hw_rev for a ConnectX-3.
func TestIBDeviceOfTheModel(t *testing.T) {
	topo := fabric.DefaultTopology()
	topo.Nodes[0].CAType, topo.Nodes[0].Firmware = "MT4099", ""
	topo.Nodes[0].Ports[0].Speed, topo.Nodes[0].Ports[1].Speed = "FDR", "FDR10"
	d, err := driver.New(driver.Options{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Node("node0")
	if err != nil {
		t.Fatal(err)
	}
	tree := sysfs.New(n)
	entries, err := tree.List("class/infiniband")
	if err != nil || len(entries) != 1 || entries[0].Name != "mlx4_0" {
		t.Fatalf("class/infiniband: %v, %v", entries, err)
	}
	const dev = "class/infiniband/mlx4_0/"
	for path, want := range map[string]string{
		dev + "hca_type": "MT4099\n", dev + "fw_ver": "2.42.5000\n", dev + "hw_rev": "1\n",
		dev + "board_id": "MT_1090120019\n", dev + "node_desc": "node0 mlx4_0\n", dev + "node_type": "1: CA\n",
		dev + "node_guid": "0002:c903:0000:1000\n", dev + "sys_image_guid": "0002:c903:0000:1003\n",
		dev + "ports/1/rate": "56 Gb/sec (4X FDR)\n", dev + "ports/2/rate": "40 Gb/sec (4X FDR10)\n",
		dev + "ports/2/lid": "0x2\n", dev + "ports/2/gids/0": "fe80:0000:0000:0000:0002:c903:0000:1002\n",
		dev + "ports/1/gids/127": "0000:0000:0000:0000:0000:0000:0000:0000\n",
	} {
		got, err := tree.Read(path)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := tree.Read("class/infiniband/mlx5_0/node_type"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("another HCA's name: %v, want ENOENT", err)
	}
}
