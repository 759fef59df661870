package ibctl

import (
	"testing"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/fabric"
)

// newEnhancedEnv is the default fabric with ib0 an enhanced IPoIB port
// (mlx5's) and ib1 a classic one.
func newEnhancedEnv(t *testing.T) *env {
	t.Helper()
	topo := fabric.DefaultTopology()
	topo.Nodes[0].Ports[0].IPoIB, topo.Nodes[0].Ports[0].Caps = fabric.IPoIBEnhanced, nil
	return newEnvWith(t, driver.Options{Topology: topo})
}

// TestEnhancedLinkShowGolden: ip link show as iproute2 6.1 prints an
// enhanced port (mlx5_rdma_rn_get_params: 16 TX queues, 2 RX queues, so
// qdisc mq) beside a classic one (alloc_netdev: one queue, pfifo_fast),
// before and after ethtool -L, which changes real_num_tx_queues only.
func TestEnhancedLinkShowGolden(t *testing.T) {
	e := newEnhancedEnv(t)
	e.ok("link set ib0 up", "link set ib1 up")
	for _, tc := range []struct{ name, before, cmd string }{
		{"link_show_enhanced", "", "link show"},
		{"link_show_enhanced_json", "", "-j link show ib0"},
		{"link_show_enhanced", "ethtool -L ib0 combined 1", "link show"},
	} {
		if tc.before != "" {
			e.ok(tc.before)
		}
		out, errs, st := e.run(tc.cmd)
		if st != 0 || errs != "" {
			t.Fatalf("%s: %d %q", tc.cmd, st, errs)
		}
		golden(t, tc.name, out)
	}
}
