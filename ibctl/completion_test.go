package ibctl

import (
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestCompletion drives cobra's __complete as the shell scripts do: device
// names, feature names and sys paths come from the running driver.
func TestCompletion(t *testing.T) {
	e := newEnv(t)
	e.ok("link add link ib0 name ib0.8001 type ipoib pkey 0x8001")
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "link", "set", ""}, []string{"dev", "ib0", "ib1", "ib0.8001", ":4"}},
		{[]string{"__complete", "link", "add", "link", ""}, []string{"ib0", "ib1", "ib0.8001", ":4"}},
		{[]string{"__complete", "link", "set", "ib0", "type", "ipoib", "mode", ""}, []string{"datagram", "connected", ":4"}},
		{[]string{"__complete", "ethtool", "-K", "ib0", ""}, []string{"rx", "tx", "sg", "tso"}},
		{[]string{"__complete", "ethtool", ""}, []string{"ib0", "ib1", "ib0.8001"}},
		{[]string{"__complete", "sys", "read", "class/net/"}, []string{"class/net/ib0/", "class/net/ib0.8001/", "class/net/ib1/", ":6"}},
		{[]string{"__complete", "sys", "read", "/sys/class/net/ib0/p"}, []string{"/sys/class/net/ib0/pkey"}},
		{[]string{"__complete", "-n", ""}, []string{"node0", "node1"}},
		// ip's options before the object
		{[]string{"__complete", "-br", "-4", "addr", "show", ""}, []string{"dev", "up", "ib0", "ib0.8001"}},
		{[]string{"__complete", "-s", "-n", "node1", "link", "show", ""}, []string{"dev", "up", "type", "ib0", "ib1"}},
		{[]string{"__complete", "link", "show", "ib0", ""}, []string{"up", "type", ":4"}},
		{[]string{"__complete", "link", "show", "type", ""}, []string{"ipoib", ":4"}},
		{[]string{"__complete", "addr", "flush", "scope", ""}, []string{"global", "link", "host", ":4"}},
		{[]string{"__complete", "addr", "flush", ""}, []string{"dev", "scope", "to", "label", "ib0", ":4"}},
		{[]string{"__complete", "neigh", "flush", ""}, []string{"dev", "nud", "to", ":4"}},
		{[]string{"__complete", "-o", "li"}, []string{"link\tShow and change IPoIB links (ip link)"}},
	}
	for _, tt := range tests {
		out, errs, st := e.runArgs(tt.args)
		if st != 0 {
			t.Fatalf("%v: %d %s", tt.args, st, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		got := map[string]bool{}
		for _, l := range lines {
			got[l] = true
		}
		for _, w := range tt.want {
			if !got[w] {
				t.Errorf("%v: missing %q in %q", tt.args, w, lines)
			}
		}
	}
}

// fileArgs are the places where completion offers file names: options
// that name a file or directory, and exec's program.
var fileArgs = map[string]cobra.ShellCompDirective{
	"ibctl --batch":                 cobra.ShellCompDirectiveDefault,
	"ibctl --socket":                cobra.ShellCompDirectiveDefault,
	"ibctl --state-dir":             cobra.ShellCompDirectiveFilterDirs,
	"ibctl capture --write":         cobra.ShellCompDirectiveDefault,
	"ibctl driver start --topology": cobra.ShellCompDirectiveFilterFileExt,
	"ibctl exec":                    cobra.ShellCompDirectiveDefault,
}

// TestCompletionNoFiles completes the arguments of every command and the
// value of every option that takes one: none falls back to file names
// (the shells' default) but those of fileArgs.
func TestCompletionNoFiles(t *testing.T) {
	e := newEnv(t)
	root := NewRootCmd(NewFactory(nil))
	directive := func(args []string) cobra.ShellCompDirective {
		t.Helper()
		out, errs, st := e.runArgs(append([]string{"__complete"}, args...))
		if st != 0 {
			t.Fatalf("__complete %q: status %d: %s", args, st, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		d, err := strconv.Atoi(strings.TrimPrefix(lines[len(lines)-1], ":"))
		if err != nil {
			t.Fatalf("__complete %q: no directive in %q", args, out)
		}
		return cobra.ShellCompDirective(d)
	}
	check := func(what string, args []string) {
		t.Helper()
		got := directive(args)
		want, isFile := fileArgs[what]
		switch {
		case isFile && got != want:
			t.Errorf("%s: directive %d, want %d", what, got, want)
		case !isFile && got&cobra.ShellCompDirectiveNoFileComp == 0:
			t.Errorf("%s: directive %d lets the shell offer file names", what, got)
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		check(c.CommandPath(), append(append([]string{}, path...), ""))
		flags := c.LocalNonPersistentFlags()
		if !c.HasParent() {
			flags.AddFlagSet(c.PersistentFlags())
		}
		flags.VisitAll(func(fl *pflag.Flag) {
			if fl.NoOptDefVal == "" {
				check(c.CommandPath()+" --"+fl.Name, append(append([]string{}, path...), "--"+fl.Name, ""))
			}
		})
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}

// TestCompletionCandidates checks what devices, ports, nodes and keywords
// are offered where ping, perf, capture, hca and sm take them.
func TestCompletionCandidates(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		args string
		want string // candidates and the directive, one per line
	}{
		{"ping -I ", "ib0 ib1 :4"},
		{"ping -M ", "do dont want :4"},
		{"ping 10.0.0.1 ", ":4"},
		{"perf -I ", "ib0 ib1 :4"},
		{"route get ", ":4"},
		{"--family ", "inet inet6 link :4"},
		{"hca pkeys ", "1 2 :4"},
		{"hca pkeys 1 ", ":4"},
		{"capture -i ib0 ", "arp rarp ip ip6 icmp icmp6 host and or not :4"},
		{"capture -i ib0 host ", ":4"},
		{"capture --fabric -i ", "node0/1 node0/2 node1/1 node1/2 :4"},
		{"sm partition add ", ":4"},
		{"sm partition add 0x8002 ", "mtu all member :4"},
		{"sm partition add 0x8002 mtu ", "256 512 1024 2048 4096 :4"},
		{"sm partition add 0x8002 all ", "full limited :4"},
		{"sm partition add 0x8002 member ", "node0/1 node0/2 node1/1 node1/2 :4"},
		{"driver start --topology ", "json :8"},
		{"dmesg ", ":4"},
	}
	for _, tt := range tests {
		args := append([]string{"__complete"}, strings.Fields(tt.args)...)
		if strings.HasSuffix(tt.args, " ") {
			args = append(args, "")
		}
		out, errs, st := e.runArgs(args)
		if st != 0 {
			t.Fatalf("%q: status %d: %s", tt.args, st, errs)
		}
		if got := strings.Join(strings.Fields(out), " "); got != tt.want {
			t.Errorf("ibctl %s<TAB>: %q, want %q", tt.args, got, tt.want)
		}
	}
}
