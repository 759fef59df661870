package ibctl

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "ibctl utility, version unknown"},
		{"go run", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "ibctl utility, version (devel)"},
		{"a tagged module", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}}, true, "ibctl utility, version v0.3.0"},
		{"a git checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs", "git", "vcs.revision", "e22f4eb1c0ffee00112233445566778899aabbcc", "vcs.time", "2026-12-07T13:35:56Z", "vcs.modified", "false")},
			true, "ibctl utility, version (devel), revision e22f4eb1c0ff of 2026-12-07T13:35:56Z"},
		{"with changes", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "e22f4eb1c0ffee", "vcs.modified", "true")},
			true, "ibctl utility, version (devel), revision e22f4eb1c0ff, modified"},
	} {
		if got := versionLine(tc.info, tc.ok); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// -V, --version and version print the same line and exit 0.
func TestVersionSpellings(t *testing.T) {
	e := newEnv(t)
	var first string
	for _, argv := range []string{"-V", "--version", "version"} {
		out, errs, st := e.run(argv)
		if st != 0 || errs != "" || !strings.HasPrefix(out, "ibctl utility, version ") || strings.Count(out, "\n") != 1 {
			t.Errorf("%s: %d %q %q", argv, st, out, errs)
		}
		if first == "" {
			first = out
		} else if out != first {
			t.Errorf("%s: %q, -V printed %q", argv, out, first)
		}
	}
}

// Usage errors are one line that names what is missing, exit 2, and
// cobra's suggestions fold into that line.
func TestUsageErrorsOneLine(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ argv, stderr string }{
		{"ethtool", "ibctl: ethtool: missing DEVNAME (try \"ibctl ethtool --help\")\n"},
		{"sys read", "ibctl: sys read: missing PATH (try \"ibctl sys read --help\")\n"},
		{"sys write class/net/ib0/mode", "ibctl: sys write: missing VALUE (try \"ibctl sys write --help\")\n"},
		{"sys write", "ibctl: sys write: missing PATH and VALUE (try \"ibctl sys write --help\")\n"},
		{"sys read a b", "ibctl: sys read: unexpected argument \"b\"\n"},
		{"ping", "ibctl: ping: usage error: Destination address required\n"},
		{"perf", "ibctl: perf: missing DESTINATION (try \"ibctl perf --help\")\n"},
		{"completion", "ibctl: completion: missing SHELL (try \"ibctl completion --help\")\n"},
		{"route get", "ibctl: route get: missing ADDRESS (try \"ibctl route get --help\")\n"},
		{"sm partition del", "ibctl: sm partition del: missing PKEY (try \"ibctl sm partition del --help\")\n"},
		{"lnk show", "ibctl: unknown command \"lnk\" for \"ibctl\"; did you mean \"link\"?\n"},
		{"driver", "ibctl: driver: missing command (try \"ibctl driver --help\")\n"},
		{"sys", "ibctl: sys: missing command (try \"ibctl sys --help\")\n"},
		{"route bogus", "ibctl: route: unknown command \"bogus\" (try \"ibctl route --help\")\n"},
		{"hca bogus", "ibctl: hca: unknown command \"bogus\" (try \"ibctl hca --help\")\n"},
		{"sm partition bogus", "ibctl: sm partition: unknown command \"bogus\" (try \"ibctl sm partition --help\")\n"},
	} {
		out, errs, st := e.run(tc.argv)
		if st != 2 || out != "" || errs != tc.stderr {
			t.Errorf("%s: %d %q %q, want 2 %q", tc.argv, st, out, errs, tc.stderr)
		}
	}
}

// `ibctl link help`, which the `Try option "help"` errors point to, prints
// the object's help, as --help does.
func TestHelpVerb(t *testing.T) {
	e := newEnv(t)
	for _, obj := range []string{"link", "addr", "neigh"} {
		out, errs, st := e.run(obj + " help")
		long, _, _ := e.run(obj + " --help")
		long, _, _ = strings.Cut(long, "\nUsage:")
		if st != 0 || errs != "" || !strings.HasPrefix(out, long+"\nUsage:\n  ibctl "+obj+" [flags]") {
			t.Errorf("%s help: %d %q %q", obj, st, out, errs)
		}
	}
}

// hca, sm and sm partition without a verb show, as link, addr and neigh
// do (ip's objects list by default).
func TestDefaultVerbs(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ bare, verb string }{
		{"hca", "hca show"}, {"sm", "sm show"}, {"sm partition", "sm partition list"}, {"-j sm", "-j sm show"},
	} {
		got, errs, st := e.run(tc.bare)
		want, _, _ := e.run(tc.verb)
		if st != 0 || errs != "" || got != want || got == "" {
			t.Errorf("%s: %d %q %q, want what %s prints: %q", tc.bare, st, got, errs, tc.verb, want)
		}
	}
}
