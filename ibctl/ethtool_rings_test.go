package ibctl

import "testing"

// TestEthtoolRingsGolden: `ethtool -g` as ethtool 6.1 prints
// ipoib_get_ring_param's values (netlink/rings.c rings_reply_cb), before
// and after `-G` rounds the sizes up (ipoib_set_ring_param); a child keeps
// its own sizes.
func TestEthtoolRingsGolden(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	for _, tc := range []struct{ name, cmd, before string }{
		{"ethtool_g", "ethtool -g ib0", ""},
		{"ethtool_g_after", "ethtool -g ib0", "ethtool -G ib0 rx 1000 tx 2"},
		{"ethtool_g_child", "ethtool -g ib0.8001", ""},
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

// TestEthtoolRingsErrors: -G's refusals with ethtool-netlink's errno and
// extack (ethnl_set_rings, ethnl_set_rings_validate in net/ethtool/rings.c)
// or the driver's bare EINVAL (ipoib_set_ring_param), ethtool's usage
// errors, and -g's lack of JSON in ethtool 6.1; none changes the sizes.
func TestEthtoolRingsErrors(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "ethtool -G ib0 rx 512 tx 64")
	before, _, _ := e.run("ethtool -g ib0")
	state := e.state()
	tests := []struct {
		cmd, stdout, stderr string
		status              int
	}{
		{"ethtool -G ib0 rx 512 tx 64", "", "", 0},
		{"ethtool -G ib0 rx 8193", "", "ibctl: ethtool -G ib0: Invalid argument (requested ring size exceeds maximum)\n", 1},
		{"ethtool -G ib0 tx 4294967295", "", "ibctl: ethtool -G ib0: Invalid argument (requested ring size exceeds maximum)\n", 1},
		{"ethtool -G ib0 rx-mini 1", "", "ibctl: ethtool -G ib0: Invalid argument (requested ring size exceeds maximum)\n", 1},
		{"ethtool -G ib0 rx-jumbo 16 rx 1024", "", "ibctl: ethtool -G ib0: Invalid argument (requested ring size exceeds maximum)\n", 1},
		{"ethtool -G ib0 rx 1", "", "ibctl: ethtool -G ib0: Invalid argument\n", 1},
		{"ethtool -G ib0 tx 0 rx 256", "", "ibctl: ethtool -G ib0: Invalid argument\n", 1},
		{"ethtool -G ib0 rx-buf-len 4096", "", "ibctl: ethtool -G ib0: Operation not supported (setting rx buf len not supported)\n", 1},
		{"ethtool -G ib0 cqe-size 64", "", "ibctl: ethtool -G ib0: Operation not supported (setting cqe size not supported)\n", 1},
		{"ethtool -G ib0 tx-push off", "", "ibctl: ethtool -G ib0: Operation not supported (setting tx push not supported)\n", 1},
		{"ethtool -G ib9 rx 256", "", "ibctl: ethtool -G ib9: No such device (Cannot find device \"ib9\")\n", 1},
		{"ethtool -G ib0", "", "ibctl: ethtool -G: no ring parameters given\n", 2},
		{"ethtool -G ib0 foo 1", "", "ibctl: ethtool -G: unknown parameter 'foo'\n", 2},
		{"ethtool -G ib0 rx", "", "ibctl: ethtool -G: parameter 'rx' needs a value\n", 2},
		{"ethtool -G ib0 rx abc", "", "ibctl: ethtool -G: invalid value 'abc' for parameter 'rx'\n", 2},
		{"ethtool -G ib0 rx -1", "", "ibctl: ethtool -G: invalid value '-1' for parameter 'rx'\n", 2},
		{"ethtool -G ib0 tx 4294967296", "", "ibctl: ethtool -G: invalid value '4294967296' for parameter 'tx'\n", 2},
		{"ethtool -G ib0 tx-push maybe", "", "ibctl: ethtool -G: invalid value 'maybe' for parameter 'tx-push'\n", 2},
		{"ethtool -g ib0 rx 1", "", "ibctl: ethtool: unexpected argument \"rx\"\n", 2},
		{"ethtool -g -G ib0 rx 1", "", "ibctl: ethtool: only one of -i, -k, -K, -c, -C, -g, -G, -l, -L, -S may be given\n", 2},
		{"-j ethtool -g ib0", "", "ibctl: ethtool -g: JSON output not available for this subcommand\n", 2},
		{"ethtool -g ib9", "", "ibctl: ethtool -g ib9: No such device (Cannot find device \"ib9\")\n", 1},
	}
	for _, tt := range tests {
		out, errs, st := e.run(tt.cmd)
		if out != tt.stdout || errs != tt.stderr || st != tt.status {
			t.Errorf("%s:\n got %d stdout %q stderr %q\nwant %d stdout %q stderr %q", tt.cmd, st, out, errs, tt.status, tt.stdout, tt.stderr)
		}
		if after, _, _ := e.run("ethtool -g ib0"); after != before {
			t.Errorf("%s changed the rings:\n%s", tt.cmd, after)
		}
		if s := e.state(); s != state {
			t.Errorf("%s changed the links", tt.cmd)
		}
	}
}
