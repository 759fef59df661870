package driver

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/sysfs"
)

// TestDevIDReadLogs: IPoIB's dev_id_show (ipoib_main.c) logs with
// netdev_info_once who reads dev_id on a device whose dev_port is not 0
// and equals its dev_id, a parent of port 2: once in the module's life,
// with netdev_info's prefix (the HCA's driver and PCI name). Port 1's
// parent (dev_port 0) and children (dev_port 0) never log; the file reads
// "%#x\n" every time.
func TestDevIDReadLogs(t *testing.T) {
	_, n := newTestDriver(t, nil)
	wantErrno(t, n.CreateChild("ib1", 0x8001), 0)
	tree := sysfs.New(n)
	_, seq := kernelLog(t, n, 0)
	for _, tt := range []struct {
		path, comm, want string
		log              []string
	}{
		{"class/net/ib0/dev_id", "cat", "0\n", nil},
		{"class/net/ib1.8001/dev_id", "cat", "0\n", nil},
		{"class/net/ib1/dev_id", "udevadm", "0x1\n", []string{`mlx5_core 0000:81:00.0 ib1: "udevadm" wants to know my dev_id. ` +
			`Should it look at dev_port instead? See Documentation/ABI/testing/sysfs-class-net for more info.`}},
		{"class/net/ib1/dev_id", "cat", "0x1\n", nil},
	} {
		b, err := tree.ReadAs(tt.path, tt.comm)
		if err != nil || string(b) != tt.want {
			t.Fatalf("%s: %q, %v; want %q", tt.path, b, err, tt.want)
		}
		var logs []string
		logs, seq = kernelLog(t, n, seq)
		if diff := cmp.Diff(tt.log, logs); diff != "" {
			t.Errorf("%s read by %s: kernel log (-want +got):\n%s", tt.path, tt.comm, diff)
		}
	}
}
