package ibctl

import (
	"syscall"
	"testing"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/store"
)

// TestDiskFull: when the state cannot be saved for want of space, every
// front end says "No space left on device" as the kernel's tools say it,
// nothing changes, and the same command succeeds once there is space.
func TestDiskFull(t *testing.T) {
	tests := []struct {
		line, stderr string
	}{
		{"sys write class/net/ib0/create_child 0x8001", "ibctl: write error: No space left on device\n"},
		{"sys write class/net/ib0/mode connected", "ibctl: write error: No space left on device\n"},
		{"link add link ib0 name c0 type ipoib", "ibctl: link add: No space left on device\n"},
		{"link set ib0 mtu 1500", "ibctl: link set ib0: No space left on device\n"},
		{"ethtool -K ib0 rx-gro off", "ibctl: ethtool -K ib0: No space left on device\n"},
		{"ethtool -C ib0 rx-frames 5", "ibctl: ethtool -C ib0: No space left on device\n"},
		{"addr add 10.0.0.1/24 dev ib0", "ibctl: addr add: No space left on device\n"},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			fs := &store.FaultFS{}
			st, err := store.OpenOptions(t.TempDir(), store.Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			e := newEnvWith(t, driver.Options{Store: st})
			before, _, _ := e.run("-d link show")
			beforeAddr, _, _ := e.run("addr show")
			fs.Inject(store.Fault{Op: store.OpWrite, Name: "journal.log", Err: syscall.ENOSPC})
			out, errs, status := e.run(tc.line)
			if out != "" || errs != tc.stderr || status != 1 {
				t.Errorf("%s: stdout %q, stderr %q, exit %d; want stderr %q, exit 1", tc.line, out, errs, status, tc.stderr)
			}
			if after, _, _ := e.run("-d link show"); after != before {
				t.Errorf("links changed by the failed command:\n%s\nwant\n%s", after, before)
			}
			if after, _, _ := e.run("addr show"); after != beforeAddr {
				t.Errorf("addresses changed by the failed command:\n%s\nwant\n%s", after, beforeAddr)
			}
			fs.Clear()
			e.ok(tc.line)
		})
	}
}
