package sysfs_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver"
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
