package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnhancedRestart: an enhanced port through the binary and across a
// driver restart. The port has mlx5's queues (mlx5_rdma_rn_get_params:
// 16 TX, 2 RX with two CPUs) and so qdisc mq, and its interrupt
// moderation as ethtool -C left it (mlx5e_ethtool_set_coalesce) is still
// there when the driver comes back from its state directory; the classic
// port beside it keeps one queue and pfifo_fast.
func TestEnhancedRestart(t *testing.T) {
	topo := filepath.Join(t.TempDir(), "topology.json")
	if err := os.WriteFile(topo, []byte(`{"nodes": [{"name": "a", "ca_type": "MT4119", "ports": [{"ipoib": "enhanced"}, {}]}],
		"partitions": [{"pkey": "0xffff", "ib_mtu": 2048, "all": "full"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.ok("driver", "start", "--topology", topo)
	e.ok("-n", "a", "link", "set", "ib0", "up")
	e.ok("-n", "a", "link", "set", "ib1", "up")
	e.ok("-n", "a", "ethtool", "-C", "ib0", "adaptive-tx", "off")
	e.ok("-n", "a", "ethtool", "-C", "ib0", "tx-usecs", "30")
	check := func(when string) {
		t.Helper()
		for _, tt := range []struct {
			args []string
			want []string
		}{
			{[]string{"link", "show", "ib0"}, []string{"qdisc mq ", "numtxqueues 16 numrxqueues 2 "}},
			{[]string{"link", "show", "ib1"}, []string{"qdisc pfifo_fast ", "numtxqueues 1 numrxqueues 1 "}},
			{[]string{"ethtool", "-c", "ib0"}, []string{"Adaptive RX: on  TX: off\n", "\nrx-usecs: 8\nrx-frames: 128\n",
				"\ntx-usecs: 30\ntx-frames: 32\n", "CQE mode RX: on  TX: n/a\n"}},
		} {
			out := e.ok(append([]string{"-n", "a"}, tt.args...)...)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s: %s lacks %q:\n%s", when, strings.Join(tt.args, " "), w, out)
				}
			}
		}
	}
	check("before the restart")
	e.ok("driver", "stop")
	e.ok("driver", "start")
	check("after the restart")
}
