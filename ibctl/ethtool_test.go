package ibctl

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEthtoolGolden(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	e.ok("ethtool -C ib0 rx-usecs 70 rx-frames 16", "ethtool -K ib0.7fff lro on")
	for _, tc := range []struct{ name, cmd string }{
		{"ethtool_k", "ethtool -k ib0"},
		{"ethtool_k_connected", "ethtool -k ib0.8001"},
		{"ethtool_k_lro", "ethtool -k ib0.7fff"},
		{"ethtool_c", "ethtool -c ib0"},
		{"ethtool_i", "ethtool -i ib0"},
		{"ethtool_S", "ethtool -S ib0"},
		{"ethtool_settings", "ethtool ib0"},
		{"ethtool_settings_down", "ethtool ib1"},
		{"ethtool_settings_nocarrier", "ethtool ib0.8001"},
	} {
		for _, j := range []string{"", "-j "} {
			out, errs, st := e.run(j + tc.cmd)
			if st != 0 || errs != "" {
				t.Fatalf("%s%s: %d %q", j, tc.cmd, st, errs)
			}
			name := tc.name
			if j != "" {
				name += "_json"
				var v any
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Errorf("%s: invalid JSON: %v", name, err)
				}
			}
			golden(t, name, out)
		}
	}
}

// TestEthtoolJSONMatchesText checks each -k JSON feature against its text line.
func TestEthtoolJSONMatchesText(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	for _, dev := range []string{"ib0", "ib0.8001"} {
		text, _, _ := e.run("ethtool -k " + dev)
		js, _, _ := e.run("-j ethtool -k " + dev)
		var v struct {
			Features map[string]struct{ Active, Fixed, Requested bool }
		}
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Features) != 60 {
			t.Errorf("%s: %d features in JSON", dev, len(v.Features))
		}
		for name, f := range v.Features {
			line := name + ": " + onOff(f.Active)
			switch {
			case f.Fixed:
				line += " [fixed]"
			case f.Requested != f.Active:
				line += " [requested " + onOff(f.Requested) + "]"
			}
			if !strings.Contains(text, line+"\n") && !strings.Contains(text, "\t"+line+"\n") && !legacyLine(text, name, line) {
				t.Errorf("%s: text lacks %q", dev, line)
			}
		}
	}
}

// legacyLine accepts a single-feature group printed under its long name.
func legacyLine(text, kernelName, line string) bool {
	for _, lf := range legacyFeatures {
		if lf.match(kernelName) {
			return strings.Contains(text, lf.long+strings.TrimPrefix(line, kernelName)+"\n")
		}
	}
	return false
}

func TestEthtoolFeatureChanges(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		cmd, stdout, stderr string
		status              int
	}{
		{"ethtool -K ib0 gro off", "", "", 0},
		{"ethtool -K ib0 rx-gro on tx-tcp-mangleid-segmentation on", "", "", 0},
		{"ethtool -K ib0 highdma off", "Actual changes:\nhighdma: on [requested off]\n", "ibctl: ethtool -K ib0: Could not change any device features\n", 1},
		{"ethtool -K ib0 tx off", "Actual changes:\ntx-checksum-ipv4: off\ntx-tcp-segmentation: off [not requested]\ntx-tcp-mangleid-segmentation: off [not requested]\n", "", 0},
		{"ethtool -K ib0 tx-checksum-ipv4 on tx-tcp-segmentation on", "Actual changes:\ntx-checksum-ipv4: on\ntx-tcp-segmentation: on\ntx-tcp-mangleid-segmentation: on [not requested]\n", "", 0},
		{"ethtool -K ib0 tx on", "Actual changes:\ntx-checksum-ip-generic: off [requested on]\ntx-checksum-ipv6: off [requested on]\ntx-checksum-fcoe-crc: off [requested on]\ntx-checksum-sctp: off [requested on]\n", "", 0},
		{"ethtool -K ib0 sg off", "Actual changes:\ntx-scatter-gather: on [requested off]\n", "", 0},
		{"ethtool -K ib0 vlan-challenged off", "", "ibctl: ethtool -K ib0: Invalid argument (attempt to change non-ethtool features)\n", 1},
		{"sys write class/net/ib0/mode connected", "", "", 0},
		{"ethtool -K ib0 lro on", "Actual changes:\nrx-lro: off [requested on]\n", "ibctl: ethtool -K ib0: Could not change any device features\n", 1},
		{"ethtool -K ib0 foo on", "", "ibctl: ethtool -K: unknown feature \"foo\"\n", 2},
		{"ethtool -K ib0 sg", "", "ibctl: ethtool -K: feature 'sg' is not followed by 'on' or 'off'\n", 2},
		{"ethtool -K ib9 gro off", "", "ibctl: ethtool -K ib9: No such device (Cannot find device \"ib9\")\n", 1},
		// ethtool 6.1 goes through ethtool-netlink: ethnl_set_coalesce_validate
		// (net/ethtool/coalesce.c) answers EINVAL with an extack message.
		{"ethtool -C ib0 tx-usecs 5", "", "ibctl: ethtool -C ib0: Invalid argument (cannot modify an unsupported parameter)\n", 1},
		{"ethtool -C ib0 rx-usecs 10 adaptive-rx on", "", "ibctl: ethtool -C ib0: Invalid argument (cannot modify an unsupported parameter)\n", 1},
		{"ethtool -C ib0 rx-usecs 70000", "", "ibctl: ethtool -C ib0: Invalid argument\n", 1},
		{"ethtool -C ib0 rx-frames 65536", "", "ibctl: ethtool -C ib0: Invalid argument\n", 1},
		{"ethtool -C ib0 foo 5", "", "ibctl: ethtool -C: unknown parameter 'foo'\n", 2},
		{"ethtool -C ib0 rx-usecs abc", "", "ibctl: ethtool -C: invalid value 'abc' for parameter 'rx-usecs'\n", 2},
		{"ethtool -C ib0 rx-usecs -1", "", "ibctl: ethtool -C: invalid value '-1' for parameter 'rx-usecs'\n", 2},
		{"ethtool -k ib0 extra", "", "ibctl: ethtool: unexpected argument \"extra\"\n", 2},
		{"ethtool -k -c ib0", "", "ibctl: ethtool: only one of -i, -k, -K, -c, -C, -g, -G, -l, -L, -S may be given\n", 2},
		{"ethtool -c ib9", "", "ibctl: ethtool -c ib9: No such device (Cannot find device \"ib9\")\n", 1},
		{"ethtool", "", "ibctl: ethtool: missing DEVNAME (try \"ibctl ethtool --help\")\n", 2},
	}
	for _, tt := range tests {
		out, errs, st := e.run(tt.cmd)
		if out != tt.stdout || errs != tt.stderr || st != tt.status {
			t.Errorf("%s:\n got %d stdout %q stderr %q\nwant %d stdout %q stderr %q", tt.cmd, st, out, errs, tt.status, tt.stdout, tt.stderr)
		}
	}
}

func TestEthtoolBadInputLeavesStateUnchanged(t *testing.T) {
	e := newEnv(t)
	e.ok("ethtool -C ib0 rx-frames 8")
	before := e.state()
	for _, cmd := range []string{"ethtool -C ib0 rx-usecs 70000", "ethtool -C ib0 rx-usecs 10 tx-usecs 5",
		"ethtool -C ib0 rx-frames 10 rx-usecs 65536", "ethtool -K ib0 gro off foo on", "ethtool -K ib0 highdma off"} {
		e.run(cmd)
		if after := e.state(); after != before {
			t.Fatalf("%s changed state", cmd)
		}
	}
}
