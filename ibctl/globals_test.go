package ibctl

import (
	"bytes"
	"strings"
	"testing"
)

// TestIPGlobals checks the options before the object: ip 6.1's names and
// abbreviations, matched in its order, become ibctl's flags; ibctl's own
// spellings are kept.
func TestIPGlobals(t *testing.T) {
	root := NewRootCmd(&Factory{IO: &IOStreams{}, Globals: &Globals{}})
	for _, tc := range []struct{ in, want, err string }{
		{in: "-s link show", want: "--stats link show"},
		{in: "-s -stat -statistics --s addr", want: "--stats --stats --stats --stats addr"},
		{in: "-d -details link", want: "--details --details link"},
		{in: "-o -oneline addr", want: "--oneline --oneline addr"},
		{in: "-br -brief link", want: "--brief --brief link"},
		{in: "-4 addr", want: "--family=inet addr"},
		{in: "-6 neigh", want: "--family=inet6 neigh"},
		{in: "-0 addr", want: "--family=link addr"},
		{in: "-f inet6 addr", want: "--family=inet6 addr"},
		{in: "-family link addr", want: "--family=link addr"},
		{in: "-j -p link", want: "--json --pretty link"},
		{in: "-json -pretty link", want: "--json --pretty link"},
		{in: "-n node1 link", want: "--node=node1 link"},
		{in: "-netns node1 link", want: "--node=node1 link"},
		{in: "-b file", want: "--batch=file"},
		{in: "-batch file -force", want: "--batch=file --force"},
		{in: "-force link show", want: "link show"},
		{in: "-V", want: "--version"},
		{in: "-Version", want: "--version"},
		{in: "-h", want: "--help"},
		{in: "-he", want: "--help"},
		{in: "-help link", want: "--help link"},
		{in: "-color=never link", want: "link"},
		{in: "-c -j link", want: "--json link"},
		{in: "-color=auto link", want: "link"}, // not a terminal
		{in: "-t monitor", want: "--timestamp monitor"},
		{in: "-ts -tshort monitor", want: "--tshort --tshort monitor"},
		// ibctl's own flags and shorthand groups
		{in: "--socket /s -jp link", want: "--socket /s -jp link"},
		{in: "--node node1 -nnode2 link", want: "--node node1 -nnode2 link"},
		{in: "-jn node1 link", want: "-jn node1 link"},
		{in: "--stats link", want: "--stats link"},
		{in: "--no-spawn link", want: "--no-spawn link"},
		// the object ends the options
		{in: "link -s show", want: "link -s show"},
		{in: "link show -x", want: "link show -x"},
		{in: "-- -x", want: "-- -x"},
		{in: "", want: ""},
		// refused
		{in: "-x link", err: `Option "-x" is unknown, try "ibctl -help".`},
		{in: "-v link", err: `Option "-v" is unknown, try "ibctl -help".`},
		{in: "-color=bogus link", err: `Option "-color=bogus" is unknown, try "ibctl -help".`},
		{in: "-c link", err: `Option "-color": ibctl prints no colours (-color=never is accepted)`},
		{in: "-color=always link", err: `Option "-color": ibctl prints no colours (-color=never is accepted)`},
		{in: "-r link", err: `Option "-r" (-resolve) is not supported`},
		{in: "-hu link", err: `Option "-hu" (-human) is not supported`},
		{in: "-l 3 link", err: `Option "-l" (-loops) is not supported`},
		{in: "-M link", err: `Option "-M" (-M) is not supported`},
		{in: "-N link", err: `Option "-N" (-Numeric) is not supported`},
		{in: "-a link", err: `Option "-a" (-all) is not supported`},
		{in: "-rc 1 link", err: `Option "-rc" (-rcvbuf) is not supported`},
		{in: "-b", err: `Option "-b": argument "batch file" is required`},
		{in: "-n", err: `Option "-n": argument "NAME" is required`},
		{in: "-f", err: `Option "-f": argument "family type" is required`},
		{in: "-f foo link", err: `Error: argument "foo" is wrong: invalid protocol family`},
		{in: "-f mpls link", err: `Error: family mpls is not supported`},
		{in: "-f help", err: `Option "-f": FAMILY := { inet | inet6 | link }`},
	} {
		got, err := ipGlobals(root, &bytes.Buffer{}, strings.Fields(tc.in))
		switch {
		case tc.err != "":
			if err == nil || err.Error() != tc.err || ExitStatus(err) != ExitUsage {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case strings.Join(got, " ") != tc.want:
			t.Errorf("%q: %q, want %q", tc.in, strings.Join(got, " "), tc.want)
		}
	}
}

// TestGlobalsBeforeObject runs command lines with ip's options before the
// object: each prints what the same option after the object (or its
// ibctl flag) prints, and a refused option changes nothing.
func TestGlobalsBeforeObject(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	for _, tc := range []struct{ line, same string }{
		{"-s link show ib0", "link show -s ib0"},
		{"-s -s link show ib0", "link show -s -s ib0"},
		{"-s link show -s ib0", "link show -s -s ib0"},
		{"-stat link show -s ib0", "link show -s -s ib0"},
		{"-d link show", "link show"},
		{"-details link show", "link show"},
		{"-br link", "--brief link show"},
		{"-brief link show", "link show --brief"},
		{"-o addr", "--oneline addr show"},
		{"-4 addr", "--family=inet addr show"},
		{"-f inet addr", "--family inet addr show"},
		{"-j -p -br addr", "--json --pretty --brief addr show"},
		{"-color=never link show ib1", "link show ib1"},
		{"-n node1 -br link", "--node=node1 --brief link"},
	} {
		got, errs, st := e.run(tc.line)
		want, _, _ := e.run(tc.same)
		if st != 0 || errs != "" || got != want || got == "" {
			t.Errorf("%s: %d %q\n%s\nwant what %s prints:\n%s", tc.line, st, errs, got, tc.same, want)
		}
	}
	// With -batch they apply to every line, as ip's do.
	for _, tc := range []struct{ line, script, same string }{
		{"-s -s -b -", "link show ib0\n", "link show -s -s ib0"},
		{"-br -4 -b -", "addr\nlink show ib0\n", "-br -4 addr"},
		{"-o -batch -", "addr show\n", "-o addr"},
	} {
		got, errs, st := e.run(tc.line, tc.script)
		want, _, _ := e.run(tc.same)
		if tc.line == "-br -4 -b -" {
			brLink, _, _ := e.run("-br link show ib0")
			want += brLink
		}
		if st != 0 || errs != "" || got != want || got == "" {
			t.Errorf("%s with %q: %d %q\n%s\nwant:\n%s", tc.line, tc.script, st, errs, got, want)
		}
	}
	before := e.state()
	for _, tc := range []struct{ line, stderr string }{
		{"-x link show", "ibctl: Option \"-x\" is unknown, try \"ibctl -help\".\n"},
		{"-c link set ib1 up", "ibctl: Option \"-color\": ibctl prints no colours (-color=never is accepted)\n"},
		{"-r link set ib1 up", "ibctl: Option \"-r\" (-resolve) is not supported\n"},
		{"-f mpls link set ib1 up", "ibctl: Error: family mpls is not supported\n"},
	} {
		out, errs, st := e.run(tc.line)
		if st != ExitUsage || out != "" || errs != tc.stderr {
			t.Errorf("%s: %d %q %q, want 2 %q", tc.line, st, out, errs, tc.stderr)
		}
	}
	if after := e.state(); after != before {
		t.Errorf("a refused option changed the state")
	}
}

// TestGlobalFormatsGolden records ip 6.1's brief, oneline, family and
// statistics formats of IPoIB links (20-byte addresses), text and JSON;
// TestGlobalFormatsMatchIP compares the generic ones with the real ip.
func TestGlobalFormatsGolden(t *testing.T) {
	e := newAddrEnv(t)
	e.ok("link add link ib1 name ib1.8002 type ipoib pkey 0x8002") // M-DOWN
	golden(t, "globals_link", e.transcript(
		"-br link", "-j -br link", "-br -s -d link show ib0",
		"-o link show ib0", "-o -s -s link show ib0.8001", "-j -o link show ib1"))
	golden(t, "globals_addr", e.transcript(
		"-br addr", "-j -br addr", "-br -6 addr", "-0 -br addr", "-j -0 -br addr show ib0",
		"-o addr", "-j -o addr", "-o -4 addr show dev ib0", "-0 -o addr show ib0",
		"-4 addr", "-j -4 addr", "-6 addr", "-j -6 addr", "-6 addr show ib0", "-6 -d addr", "-0 addr", "-j -0 addr",
		"-4 addr show ib1", "-j -4 addr show ib1",
		"-s addr show ib0", "-s -s addr show ib0.8001", "-j -s addr show ib0", "-o -s addr show ib0",
		"-d addr show ib0", "-j -d addr show ib0", "-4 -d addr show ib0.8001"))
	golden(t, "globals_neigh_route", e.transcript(
		"-4 neigh", "-6 neigh", "-0 neigh", "-o neigh show dev ib0 nud all", "-j -4 neigh",
		"-4 neigh show to fd00::/64",
		"-4 route get 10.0.0.2", "-o route get 10.0.0.1", "-j -o route get 10.0.0.1", "-6 route get 10.0.0.2", "-4 route get fd00::2", "-0 route get 10.0.0.2"))
	golden(t, "globals_maddr", e.transcript(
		"-o maddr show ib0", "-j -o maddr show ib0", "-4 maddr show", "-6 maddr show ib0", "-0 maddr show", "-j -0 maddr show ib0"))
}
