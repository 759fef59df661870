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

// TestEnhancedCoalesceGolden: ethtool -c as ethtool 6.1 prints
// mlx5e_ethtool_get_coalesce's reply on an enhanced port: adaptive
// moderation on both ways at net_dim's default profiles, rx and tx usecs
// and frames, CQE mode on for RX and absent (n/a) for TX, whose value is
// 0 and which mlx5i does not support; then after adaptive-rx off, which
// resets RX to mlx5e_get_def_rx_moderation's 3 usecs and 32 frames, with
// TX values that net_dim, still on for TX, leaves ignored.
func TestEnhancedCoalesceGolden(t *testing.T) {
	e := newEnhancedEnv(t)
	e.ok("link set ib0 up")
	for _, tc := range []struct{ name, before, cmd string }{
		{"ethtool_c_enhanced", "", "ethtool -c ib0"},
		{"ethtool_c_enhanced_json", "", "-j ethtool -c ib0"},
		{"ethtool_c_enhanced_after", "ethtool -C ib0 adaptive-rx off tx-usecs 20 tx-frames 64", "ethtool -c ib0"},
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

// TestEnhancedCoalesceErrors: ethtool -C's refusals on an enhanced port:
// ethnl_set_coalesce_validate's EINVAL for what mlx5i_ethtool_ops'
// supported_coalesce_params lacks, mlx5e_ethtool_set_coalesce's ERANGE
// above MLX5E_MAX_COAL_TIME (4095) and MLX5E_MAX_COAL_FRAMES (65535).
// None changes the parameters.
func TestEnhancedCoalesceErrors(t *testing.T) {
	e := newEnhancedEnv(t)
	e.ok("link set ib0 up")
	before, _, _ := e.run("ethtool -c ib0")
	for _, tt := range []struct {
		cmd, stderr string
		status      int
	}{
		{"ethtool -C ib0 rx-usecs-irq 5", "ibctl: ethtool -C ib0: Invalid argument (cannot modify an unsupported parameter)\n", 1},
		{"ethtool -C ib0 cqe-mode-rx off", "ibctl: ethtool -C ib0: Invalid argument (cannot modify an unsupported parameter)\n", 1},
		{"ethtool -C ib0 rx-usecs 4096", "ibctl: ethtool -C ib0: Numerical result out of range\n", 1},
		{"ethtool -C ib0 tx-frames 65536", "ibctl: ethtool -C ib0: Numerical result out of range\n", 1},
		{"ethtool -C ib0 adaptive-tx maybe", "ibctl: ethtool -C: invalid value 'maybe' for parameter 'adaptive-tx'\n", 2},
	} {
		out, errs, st := e.run(tt.cmd)
		if out != "" || errs != tt.stderr || st != tt.status {
			t.Errorf("%s: %d %q %q, want %d %q", tt.cmd, st, out, errs, tt.status, tt.stderr)
		}
		if after, _, _ := e.run("ethtool -c ib0"); after != before {
			t.Errorf("after %s:\n%s", tt.cmd, after)
		}
	}
}
