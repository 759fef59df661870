package ibctl

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestManSynopsisKeywords parses command lines with every keyword the
// parsers accept and checks that each keyword is in the man page's
// SYNOPSIS: on the line of its verb, or in a definition (STATE := ...).
func TestManSynopsisKeywords(t *testing.T) {
	tests := []struct {
		doc      *ManDoc
		verb     string // the synopsis line's start
		args     string
		parse    func([]string) error
		keywords string
	}{
		{manDocs()["ibctl link"], "ibctl link show", "dev ib0 up type ipoib", func(a []string) error { _, err := ParseLinkArgs("show", a); return err }, "dev up type"},
		{manDocs()["ibctl link"], "ibctl link add", "link ib0 name c1 mtu 2044 up type ipoib pkey 0x8001 mode connected umcast 1",
			func(a []string) error { _, err := ParseLinkArgs("add", a); return err }, "link name mtu up type ipoib pkey mode connected umcast"},
		{manDocs()["ibctl link"], "ibctl link add", "link ib0 type ipoib mode datagram", func(a []string) error { _, err := ParseLinkArgs("add", a); return err }, "datagram"},
		{manDocs()["ibctl link"], "ibctl link set", "dev ib0 down mtu 2044 type ipoib mode datagram umcast 0",
			func(a []string) error { _, err := ParseLinkArgs("set", a); return err }, "dev down mtu type ipoib mode datagram umcast"},
		{manDocs()["ibctl link"], "ibctl link set", "ib0 up type ipoib mode connected", func(a []string) error { _, err := ParseLinkArgs("set", a); return err }, "up connected"},
		{manDocs()["ibctl link"], "ibctl link delete", "dev ib0", func(a []string) error { _, err := ParseLinkArgs("delete", a); return err }, "dev"},
		{manDocs()["ibctl addr"], "ibctl addr add", "10.0.0.1/24 broadcast 10.0.0.255 label ib0:1 scope link dev ib0",
			func(a []string) error { _, err := ParseAddrArgs("add", a); return err }, "broadcast label scope link dev"},
		{manDocs()["ibctl addr"], "ibctl addr add", "10.0.0.1/24 brd + dev ib0", func(a []string) error { _, err := ParseAddrArgs("add", a); return err }, "brd dev"},
		{manDocs()["ibctl addr"], "ibctl addr del", "10.0.0.1/24 dev ib0", func(a []string) error { _, err := ParseAddrArgs("delete", a); return err }, "dev"},
		{manDocs()["ibctl addr"], "ibctl addr show", "dev ib0 up", func(a []string) error { _, err := parseAddrShowArgs(a); return err }, "dev up"},
		{manDocs()["ibctl addr"], "ibctl addr flush", "dev ib0 scope global to 10.0.0.0/8 label ib0* up",
			func(a []string) error { _, err := parseAddrFlushArgs(a, unix.AF_UNSPEC); return err }, "dev scope global to label up"},
		{manDocs()["ibctl addr"], "ibctl addr flush", "scope host scope site scope nowhere",
			func(a []string) error { _, err := parseAddrFlushArgs(a, unix.AF_UNSPEC); return err }, "host site nowhere"},
		{manDocs()["ibctl neigh"], "ibctl neigh show", "to 10.0.0.0/8 dev ib0 nud permanent nud noarp nud stale nud reachable nud none",
			func(a []string) error { _, err := ParseNeighArgs(a); return err }, "to dev nud permanent noarp stale reachable none"},
		{manDocs()["ibctl neigh"], "ibctl neigh flush", "dev ib0 nud incomplete nud delay nud probe nud failed nud all",
			func(a []string) error { _, err := parseNeighFilter(a, unix.AF_UNSPEC, true); return err }, "dev nud incomplete delay probe failed all"},
		{manDocs()["ibctl sm"], "ibctl sm partition add", "0x8002 mtu 4096 all full member node0/1:limited",
			func(a []string) error { _, err := parsePartition(a); return err }, "mtu all full member limited"},
		{manDocs()["ibctl ethtool"], "ibctl ethtool -C|--coalesce", "rx-usecs 16 rx-frames 32",
			func(a []string) error { _, _, err := parseCoalesceArgs(a); return err }, "rx-usecs rx-frames"},
		{manDocs()["ibctl ethtool"], "ibctl ethtool -G|--set-ring", "rx 512 tx 128",
			func(a []string) error { _, _, err := parseRingsArgs(a); return err }, "rx tx"},
	}
	for _, tt := range tests {
		if tt.doc == nil {
			t.Fatalf("%s: no page text registered", tt.verb)
		}
		if err := tt.parse(strings.Fields(tt.args)); err != nil {
			t.Errorf("%s %s: %v", tt.verb, tt.args, err)
			continue
		}
		words := map[string]bool{}
		found := false
		for _, l := range tt.doc.Synopsis {
			if !strings.HasPrefix(l, tt.verb+" ") && !strings.Contains(l, ":=") {
				continue
			}
			found = found || strings.HasPrefix(l, tt.verb+" ")
			for _, w := range strings.FieldsFunc(l, func(r rune) bool { return strings.ContainsRune(" []{}|", r) }) {
				for _, part := range strings.FieldsFunc(w, func(r rune) bool { return r == ':' || r == '/' }) {
					words[part] = true
				}
			}
		}
		if !found {
			t.Errorf("no SYNOPSIS line starts with %q", tt.verb)
		}
		for _, k := range strings.Fields(tt.keywords) {
			if !words[k] {
				t.Errorf("%s: keyword %q is parsed but not in the SYNOPSIS", tt.verb, k)
			}
		}
	}
}

// TestManExamplesRun runs, in order, the examples of the pages whose
// commands return at once, each page on a driver of its own: every one
// must succeed.
func TestManExamplesRun(t *testing.T) {
	for _, name := range []string{"link", "addr", "neigh", "maddr", "ethtool", "sys", "hca", "sm", "version"} {
		doc := manDocs()["ibctl "+name]
		t.Run(name, func(t *testing.T) {
			if doc == nil {
				t.Fatalf("ibctl %s: no page text registered", name)
			}
			e := newEnv(t)
			for _, ex := range doc.Examples {
				args, err := splitLine(ex.Tag)
				if err != nil || args[0] != "ibctl" {
					t.Fatalf("%q: not an ibctl command line (%v)", ex.Tag, err)
				}
				if out, errs, st := e.runArgs(args[1:]); st != 0 {
					t.Errorf("%s: status %d\n%s%s", ex.Tag, st, out, errs)
				}
			}
		})
	}
}
