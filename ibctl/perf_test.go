package ibctl

import (
	"regexp"
	"testing"
)

// TestPerfUsage checks perf's -t: anything but 0.001 … 3600 seconds (NaN
// included) is a usage error, and no stream runs.
func TestPerfUsage(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "-n node1 link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	e.addAddr("node1", "ib0", "10.0.0.2/24")
	tests := []struct{ cmd, stderr string }{
		{"perf -t NaN 10.0.0.2", "ibctl: perf: invalid time NaN (0.001 <= SEC <= 3600)\n"},
		{"perf -t nan 10.0.0.2", "ibctl: perf: invalid time NaN (0.001 <= SEC <= 3600)\n"},
		{"perf -t 0 10.0.0.2", "ibctl: perf: invalid time 0 (0.001 <= SEC <= 3600)\n"},
		{"perf -t 0.0004 10.0.0.2", "ibctl: perf: invalid time 0.0004 (0.001 <= SEC <= 3600)\n"},
		{"perf -t -1 10.0.0.2", "ibctl: perf: invalid time -1 (0.001 <= SEC <= 3600)\n"},
		{"perf -t 3601 10.0.0.2", "ibctl: perf: invalid time 3601 (0.001 <= SEC <= 3600)\n"},
		{"perf -t Inf 10.0.0.2", "ibctl: perf: invalid time +Inf (0.001 <= SEC <= 3600)\n"},
	}
	for _, tt := range tests {
		out, errs, st := e.run(tt.cmd)
		if out != "" || errs != tt.stderr || st != 2 {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want 2, \"\", %q", tt.cmd, st, out, errs, tt.stderr)
		}
	}
	if _, errs, st := e.run("perf -t 0.001 10.0.0.2"); st != 0 || errs != "" {
		t.Errorf("perf -t 0.001: status %d, stderr %q", st, errs)
	}
}

// perf prints the emulated link rate beside the measured throughput,
// which the emulation may exceed: the figure is not a link measurement.
func TestPerfLinkRate(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "-n node1 link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	e.addAddr("node1", "ib0", "10.0.0.2/24")
	for _, tc := range []struct{ cmd, want string }{
		{"perf -t 0.05 10.0.0.2", `(?m)^throughput [0-9]+\.[0-9]{3} Gb/s \(emulated link rate 100 Gb/s\), [0-9]+ packets/s$`},
		{"-j perf -t 0.05 10.0.0.2", `"gbps":[0-9.e+-]+,"link_gbps":100,"pps":`},
	} {
		out, errs, st := e.run(tc.cmd)
		if st != 0 || errs != "" || !regexp.MustCompile(tc.want).MatchString(out) {
			t.Errorf("%s: %d %q %q, want %s", tc.cmd, st, out, errs, tc.want)
		}
	}
}
