package ibctl

import (
	"testing"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/fabric"
)

// TestEthtoolChannels: ethtool -l and -L as ethtool 6.1 prints and
// reports them (netlink/channels.c), on an enhanced port (ib0: mlx5i's
// get_channels and set_channels, combined channels up to one per CPU,
// ethnl_set_channels' checks) and on a classic one (ib1: ib_ipoib has no
// channel operations, so ethnl answers EOPNOTSUPP). A refused -L leaves
// the count as it was.
func TestEthtoolChannels(t *testing.T) {
	topo := fabric.DefaultTopology()
	topo.Nodes[0].Ports[0].IPoIB, topo.Nodes[0].Ports[0].Caps = fabric.IPoIBEnhanced, nil
	e := newEnvWith(t, driver.Options{Topology: topo})
	show := func(combined string) string {
		return "Channel parameters for ib0:\nPre-set maximums:\nRX:\t\tn/a\nTX:\t\tn/a\nOther:\t\tn/a\nCombined:\t2\n" +
			"Current hardware settings:\nRX:\t\tn/a\nTX:\t\tn/a\nOther:\t\tn/a\nCombined:\t" + combined + "\n"
	}
	for _, tt := range []struct {
		cmd, stdout, stderr string
		status              int
		combined            string
	}{
		{"ethtool -l ib0", show("2"), "", 0, "2"},
		{"ethtool -L ib0 combined 1", "", "", 0, "1"},
		{"ethtool -L ib0", "", "", 0, "1"},
		{"ethtool -L ib0 combined 1", "", "", 0, "1"},
		{"ethtool -L ib0 combined 3", "", "ibctl: ethtool -L ib0: Invalid argument (requested channel count exceeds maximum)\n", 1, "1"},
		{"ethtool -L ib0 rx 1 combined 2", "", "ibctl: ethtool -L ib0: Invalid argument (requested channel count exceeds maximum)\n", 1, "1"},
		{"ethtool -L ib0 combined 0", "", "ibctl: ethtool -L ib0: Invalid argument (requested channel counts would result in no RX or TX channel)\n", 1, "1"},
		{"ethtool -L ib0 combined 2", "", "", 0, "2"},
		{"ethtool -L ib0 foo 1", "", "ibctl: ethtool -L: unknown parameter 'foo'\n", 2, "2"},
		{"ethtool -l ib1", "", "ibctl: ethtool -l ib1: Operation not supported\n", 1, "2"},
		{"ethtool -L ib1 combined 1", "", "ibctl: ethtool -L ib1: Operation not supported\n", 1, "2"},
		{"-j ethtool -l ib0", "", "ibctl: ethtool -l: JSON output not available for this subcommand\n", 2, "2"},
	} {
		out, errs, st := e.run(tt.cmd)
		if out != tt.stdout || errs != tt.stderr || st != tt.status {
			t.Errorf("%s: %d %q %q, want %d %q %q", tt.cmd, st, out, errs, tt.status, tt.stdout, tt.stderr)
		}
		if out, _, _ := e.run("ethtool -l ib0"); out != show(tt.combined) {
			t.Errorf("after %s:\n%s", tt.cmd, out)
		}
	}
}
